package sandbox

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

// Helpers shared by the resources other than servers, and SSH keys.

// resAction records an action on resources other than a server. Its change
// is made by the caller when the request is served; the action runs for one
// action duration and then succeeds, as Hetzner's do.
func (s *Server) resAction(command string, refs ...schema.ActionResourceReference) *action {
	now := s.now()
	a := &action{ID: s.st.NextActionID, Command: command, Status: actionRunning, Started: now,
		Due: now.Add(s.opts.ActionDuration), Resources: refs}
	s.st.NextActionID++
	s.st.Actions[a.ID] = a
	return a
}

// serverAct records an action on a server (it locks the server while it
// runs) whose change the caller made already, with more resources it
// concerns.
func (s *Server) serverAct(srv *server, command string, refs ...schema.ActionResourceReference) *action {
	a := s.startAction(srv, command, 1, effect{})
	a.Resources = refs
	return a
}

func ref(typ string, id int64) schema.ActionResourceReference {
	return schema.ActionResourceReference{ID: id, Type: typ}
}

// resLocked reports whether a running action concerns resource typ/id.
func (s *Server) resLocked(typ string, id int64) bool {
	for _, a := range s.st.Actions {
		if a.Status != actionRunning {
			continue
		}
		for _, r := range a.Resources {
			if r.Type == typ && r.ID == id {
				return true
			}
		}
	}
	return false
}

func (s *Server) nextID() int64 {
	id := s.st.NextOtherID
	s.st.NextOtherID++
	return id
}

// listPaged filters items by the name query parameter, keep and the label
// selector (labels nil: the items have no labels, and the selector is only
// checked), reverses them for sort=…:desc, paginates them and wraps the
// page with its meta.
func listPaged[T any](r *http.Request, items []T, name func(T) string, labels func(T) map[string]string, keep func(T) bool, wrap func([]T, schema.Meta) any) (int, any, *apiError) {
	q := r.URL.Query()
	sel, err := parseSelector(q.Get("label_selector"))
	if err != nil {
		return 0, nil, errInvalid("label_selector", err.Error())
	}
	var out []T
	for _, it := range items {
		if n := q.Get("name"); n != "" && name(it) != n {
			continue
		}
		if keep != nil && !keep(it) {
			continue
		}
		if labels != nil && !sel.matches(labels(it)) {
			continue
		}
		out = append(out, it)
	}
	if strings.HasSuffix(q.Get("sort"), ":desc") {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	pg, aerr := paginate(r, len(out))
	if aerr != nil {
		return 0, nil, aerr
	}
	return http.StatusOK, wrap(nonNil(out[pg.from:pg.to]), pg.meta), nil
}

// named is what the state types of the kinds other than servers share:
// an id and a unique name.
type named interface {
	key() (id int64, name string)
}

func (k *sshKey) key() (int64, string)     { return k.ID, k.Name }
func (f *firewall) key() (int64, string)   { return f.ID, f.Name }
func (n *network) key() (int64, string)    { return n.ID, n.Name }
func (v *volume) key() (int64, string)     { return v.ID, v.Name }
func (p *primaryIP) key() (int64, string)  { return p.ID, p.Name }
func (f *floatingIP) key() (int64, string) { return f.ID, f.Name }

// lookup returns the resource of m named by the {id} path value; what
// names its kind in errors ("firewall").
func lookup[T any](r *http.Request, m map[int64]*T, what string) (*T, *apiError) {
	id, aerr := pathID(r, "id", what)
	if aerr != nil {
		return nil, aerr
	}
	x := m[id]
	if x == nil {
		return nil, errNotFound(what)
	}
	return x, nil
}

// nameInUse reports whether a resource of m other than the one with id
// except (0: none, ids start above it) has name.
func nameInUse[T named](m map[int64]T, name string, except int64) bool {
	for _, o := range m {
		if id, n := o.key(); n == name && id != except {
			return true
		}
	}
	return false
}

// checkUpdate checks an update's new name (nil: unchanged; else valid and
// no other resource of m's) and then its labels, in the API's order.
func checkUpdate[T named](m map[int64]T, id int64, name *string, labels *map[string]string) *apiError {
	if name != nil {
		if aerr := checkName(*name); aerr != nil {
			return aerr
		}
		if nameInUse(m, *name, id) {
			return errUnique("name")
		}
	}
	return checkLabels(labels)
}

// optName is an update's name field that is empty when unchanged.
func optName(name string) *string {
	if name == "" {
		return nil
	}
	return &name
}

// setLabels replaces *dst with a copy of labels, after checking them.
func setLabels(dst *map[string]string, labels *map[string]string) *apiError {
	if labels == nil {
		return nil
	}
	if aerr := checkLabels(labels); aerr != nil {
		return aerr
	}
	*dst = map[string]string{}
	maps.Copy(*dst, *labels)
	return nil
}

func labelsOf(l *map[string]string) map[string]string {
	out := map[string]string{}
	if l != nil {
		maps.Copy(out, *l)
	}
	return out
}

// checkName checks a resource name (any non-empty string of at most 128
// printable characters, as Hetzner allows for these kinds).
func checkName(name string) *apiError {
	if name == "" {
		return errInvalid("name", "is required")
	}
	if len(name) > 128 {
		return errInvalid("name", "must be at most 128 characters")
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < ' ' || c == 0x7f {
			return errInvalid("name", "must not contain control characters")
		}
	}
	return nil
}

func errInUse(what string) *apiError {
	return &apiError{http.StatusConflict, "resource_in_use", what + " is still in use", nil}
}

func errCode(status int, code, msg string) *apiError { return &apiError{status, code, msg, nil} }

func (s *Server) created() time.Time { return s.now().Truncate(time.Second) }

// SSH keys.

func (s *Server) sshKeySchema(k *sshKey) schema.SSHKey {
	return schema.SSHKey{ID: k.ID, Name: k.Name, Fingerprint: k.Fingerprint, PublicKey: k.PublicKey, Labels: nonNilMap(k.Labels), Created: k.Created}
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return maps.Clone(m)
}

func (s *Server) listSSHKeys(r *http.Request) (int, any, *apiError) {
	var all []schema.SSHKey
	for _, id := range sortedKeys(s.st.SSHKeys) {
		all = append(all, s.sshKeySchema(s.st.SSHKeys[id]))
	}
	fp := r.URL.Query().Get("fingerprint")
	return listPaged(r, all, func(k schema.SSHKey) string { return k.Name }, func(k schema.SSHKey) map[string]string { return k.Labels },
		func(k schema.SSHKey) bool { return fp == "" || k.Fingerprint == fp },
		func(p []schema.SSHKey, m schema.Meta) any {
			return struct {
				schema.SSHKeyListResponse
				Meta schema.Meta `json:"meta"`
			}{schema.SSHKeyListResponse{SSHKeys: p}, m}
		})
}

func (s *Server) createSSHKey(r *http.Request) (int, any, *apiError) {
	var req schema.SSHKeyCreateRequest
	if aerr := decode(r, &req); aerr != nil {
		return 0, nil, aerr
	}
	if aerr := checkName(req.Name); aerr != nil {
		return 0, nil, aerr
	}
	fields := strings.Fields(req.PublicKey)
	if len(fields) < 2 || !strings.HasPrefix(fields[0], "ssh-") && !strings.HasPrefix(fields[0], "ecdsa-") && !strings.HasPrefix(fields[0], "sk-") {
		return 0, nil, errInvalid("public_key", "must be an OpenSSH public key")
	}
	blob, err := base64.StdEncoding.DecodeString(fields[1])
	if err != nil {
		return 0, nil, errInvalid("public_key", "must be an OpenSSH public key")
	}
	sum := md5.Sum(blob)
	var fp []string
	for _, b := range sum {
		fp = append(fp, hex.EncodeToString([]byte{b}))
	}
	if aerr := checkLabels(req.Labels); aerr != nil {
		return 0, nil, aerr
	}
	for _, k := range s.st.SSHKeys {
		if k.Name == req.Name {
			return 0, nil, errUnique("name")
		}
		if k.Fingerprint == strings.Join(fp, ":") {
			return 0, nil, errUnique("public_key")
		}
	}
	k := &sshKey{ID: s.nextID(), Name: req.Name, PublicKey: req.PublicKey, Fingerprint: strings.Join(fp, ":"),
		Labels: labelsOf(req.Labels), Created: s.created()}
	s.st.SSHKeys[k.ID] = k
	return http.StatusCreated, schema.SSHKeyCreateResponse{SSHKey: s.sshKeySchema(k)}, nil
}

func (s *Server) lookupSSHKey(r *http.Request) (*sshKey, *apiError) {
	return lookup(r, s.st.SSHKeys, "ssh key")
}

func (s *Server) getSSHKey(r *http.Request) (int, any, *apiError) {
	k, aerr := s.lookupSSHKey(r)
	if aerr != nil {
		return 0, nil, aerr
	}
	return http.StatusOK, schema.SSHKeyGetResponse{SSHKey: s.sshKeySchema(k)}, nil
}

func (s *Server) updateSSHKey(r *http.Request) (int, any, *apiError) {
	k, aerr := s.lookupSSHKey(r)
	if aerr != nil {
		return 0, nil, aerr
	}
	var req schema.SSHKeyUpdateRequest
	if aerr := decode(r, &req); aerr != nil {
		return 0, nil, aerr
	}
	if aerr := checkUpdate(s.st.SSHKeys, k.ID, optName(req.Name), req.Labels); aerr != nil {
		return 0, nil, aerr
	}
	if req.Name != "" {
		k.Name = req.Name
	}
	setLabels(&k.Labels, req.Labels)
	return http.StatusOK, schema.SSHKeyUpdateResponse{SSHKey: s.sshKeySchema(k)}, nil
}

func (s *Server) deleteSSHKey(r *http.Request) (int, any, *apiError) {
	k, aerr := s.lookupSSHKey(r)
	if aerr != nil {
		return 0, nil, aerr
	}
	delete(s.st.SSHKeys, k.ID)
	return http.StatusNoContent, nil, nil
}
