package sandbox

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"

	"github.com/vmc-git/vmc-git/provider"
)

// Server statuses, as Hetzner names them.
const (
	statusInitializing = "initializing"
	statusOff          = "off"
	statusRunning      = "running"
	statusStarting     = "starting"
	statusStopping     = "stopping"
	statusRebuilding   = "rebuilding"
	statusMigrating    = "migrating"
	statusDeleting     = "deleting"
)

// Action statuses.
const (
	actionRunning = "running"
	actionSuccess = "success"
	actionError   = "error"
)

const maxUserData = 32 << 10

func (s *Server) now() time.Time { return s.opts.Now().UTC() }

// advance finishes every running action whose time has come, in order, and
// applies its effect.
func (s *Server) advance() {
	now := s.now()
	var due []*action
	for _, a := range s.st.Actions {
		if a.Status == actionRunning && !a.Due.After(now) {
			due = append(due, a)
		}
	}
	sort.Slice(due, func(i, j int) bool {
		if !due[i].Due.Equal(due[j].Due) {
			return due[i].Due.Before(due[j].Due)
		}
		return due[i].ID < due[j].ID
	})
	for _, a := range due {
		fin := a.Due
		a.Finished = &fin
		a.Status = actionSuccess
		if a.ServerID == 0 {
			continue // a change to another resource, made when it started
		}
		srv := s.st.Servers[a.ServerID]
		if srv == nil {
			a.Status, a.ErrCode, a.ErrMsg = actionError, "not_found", "server no longer exists"
			continue
		}
		e := a.Effect
		if e.Delete {
			s.releaseServer(srv.ID)
			delete(s.st.Servers, srv.ID)
			continue
		}
		if e.Status != "" {
			srv.Status = e.Status
		}
		if e.ServerType != "" {
			srv.ServerType = e.ServerType
			if e.UpgradeDisk {
				srv.PrimaryDisk = findServerType(schema.IDOrName{Name: e.ServerType}).Disk
			}
		}
		if e.ImageID != 0 {
			srv.ImageID = e.ImageID
		}
		if e.ProtDelete != nil {
			srv.ProtDelete = *e.ProtDelete
		}
		if e.ProtRebuild != nil {
			srv.ProtRebuild = *e.ProtRebuild
		}
	}
}

// locked reports whether server id has a running action.
func (s *Server) locked(id int64) bool {
	for _, a := range s.st.Actions {
		if a.ServerID == id && a.Status == actionRunning {
			return true
		}
	}
	return false
}

// startAction records a running action on srv that finishes after the
// given number of action durations.
func (s *Server) startAction(srv *server, command string, slots int, e effect) *action {
	now := s.now()
	a := &action{
		ID: s.st.NextActionID, Command: command, Status: actionRunning, Started: now,
		Due: now.Add(time.Duration(slots) * s.opts.ActionDuration), ServerID: srv.ID, Effect: e,
	}
	s.st.NextActionID++
	s.st.Actions[a.ID] = a
	return a
}

func (s *Server) actionSchema(a *action) schema.Action {
	out := schema.Action{
		ID: a.ID, Status: a.Status, Command: a.Command, Started: a.Started, Finished: a.Finished,
		Resources: []schema.ActionResourceReference{{ID: a.ServerID, Type: "server"}},
	}
	if a.ServerID == 0 {
		out.Resources = a.Resources
	}
	if len(a.Resources) > 0 && a.ServerID != 0 {
		out.Resources = append(out.Resources, a.Resources...)
	}
	switch a.Status {
	case actionRunning:
		total := a.Due.Sub(a.Started)
		if total > 0 {
			out.Progress = min(99, int(100*s.now().Sub(a.Started)/total))
		}
	default:
		out.Progress = 100
	}
	if a.ErrCode != "" {
		out.Error = &schema.ActionError{Code: a.ErrCode, Message: a.ErrMsg}
	}
	return out
}

func (s *Server) serverSchema(srv *server) schema.Server {
	st := findServerType(schema.IDOrName{Name: srv.ServerType})
	loc := findLocation(srv.Location)
	out := schema.Server{
		ID: srv.ID, Name: srv.Name, Status: srv.Status, Created: srv.Created,
		ServerType: *st, Location: *loc, IncludedTraffic: 20 << 40,
		Protection: schema.ServerProtection{Delete: srv.ProtDelete, Rebuild: srv.ProtRebuild},
		Labels:     maps.Clone(srv.Labels), Volumes: []int64{}, LoadBalancers: []int64{},
		PrimaryDiskSize: srv.PrimaryDisk, Locked: s.locked(srv.ID), PrivateNet: []schema.ServerPrivateNet{},
	}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	if im := imageByID(srv.ImageID); im != nil {
		c := *im
		out.Image = &c
	}
	out.PublicNet.FloatingIPs = []int64{}
	out.PublicNet.Firewalls = []schema.ServerFirewall{}
	s.serverSchemaExt(srv, &out)
	return out
}

// lookupServer returns the server named by the {id} path value.
func (s *Server) lookupServer(r *http.Request) (*server, *apiError) {
	return lookup(r, s.st.Servers, "server")
}

func (s *Server) listServers(r *http.Request) (int, any, *apiError) {
	q := r.URL.Query()
	sel, err := parseSelector(q.Get("label_selector"))
	if err != nil {
		return 0, nil, errInvalid("label_selector", err.Error())
	}
	statuses := q["status"]
	var out []schema.Server
	for _, id := range sortedKeys(s.st.Servers) {
		srv := s.st.Servers[id]
		if name := q.Get("name"); name != "" && srv.Name != name {
			continue
		}
		if len(statuses) > 0 && !slices.Contains(statuses, srv.Status) {
			continue
		}
		if !sel.matches(srv.Labels) {
			continue
		}
		out = append(out, s.serverSchema(srv))
	}
	if slices.Contains(q["sort"], "id:desc") {
		slices.Reverse(out)
	}
	pg, aerr := paginate(r, len(out))
	if aerr != nil {
		return 0, nil, aerr
	}
	return http.StatusOK, struct {
		schema.ServerListResponse
		Meta schema.Meta `json:"meta"`
	}{schema.ServerListResponse{Servers: nonNil(out[pg.from:pg.to])}, pg.meta}, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (s *Server) getServer(r *http.Request) (int, any, *apiError) {
	srv, aerr := s.lookupServer(r)
	if aerr != nil {
		return 0, nil, aerr
	}
	return http.StatusOK, schema.ServerGetResponse{Server: s.serverSchema(srv)}, nil
}

// checkHostname applies Hetzner's server name rule: a valid RFC 1123 host
// name of at most 63 characters.
func checkHostname(name string) *apiError {
	if name == "" {
		return errInvalid("name", "is required")
	}
	if len(name) > 63 {
		return errInvalid("name", "must be at most 63 characters")
	}
	for part := range strings.SplitSeq(name, ".") {
		if part == "" || part[0] == '-' || part[len(part)-1] == '-' {
			return errInvalid("name", "must be a valid hostname")
		}
		for i := 0; i < len(part); i++ {
			c := part[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return errInvalid("name", "must be a valid hostname")
			}
		}
	}
	return nil
}

func (s *Server) nameTaken(name string, except int64) bool {
	for _, srv := range s.st.Servers {
		if srv.Name == name && srv.ID != except {
			return true
		}
	}
	return false
}

func checkLabels(labels *map[string]string) *apiError {
	if labels == nil {
		return nil
	}
	if err := provider.CheckLabels(*labels); err != nil {
		return errInvalid("labels", err.Error())
	}
	return nil
}

// allocIP returns the next addresses from the documentation ranges.
func (s *Server) allocIP(id int64) (string, string) {
	n := s.st.NextIP
	s.st.NextIP++
	nets := []string{"203.0.113", "198.51.100", "192.0.2"}
	v4 := fmt.Sprintf("%s.%d", nets[(n/253)%3], 1+n%253)
	v6 := fmt.Sprintf("2001:db8:%x:%x::/64", uint16(id>>16), uint16(id))
	return v4, v6
}

func (s *Server) createServer(r *http.Request) (int, any, *apiError) {
	var req schema.ServerCreateRequest
	if aerr := decode(r, &req); aerr != nil {
		return 0, nil, aerr
	}
	if aerr := checkHostname(req.Name); aerr != nil {
		return 0, nil, aerr
	}
	if s.nameTaken(req.Name, 0) {
		return 0, nil, errUnique("name")
	}
	st := findServerType(req.ServerType)
	if st == nil {
		return 0, nil, errInvalid("server_type", "server type not found")
	}
	im := findImage(req.Image, st.Architecture)
	if im == nil {
		return 0, nil, errInvalid("image", "image not found for architecture "+st.Architecture)
	}
	if im.Architecture != st.Architecture {
		return 0, nil, errInvalid("image", "image architecture does not match server type")
	}
	locName := req.Location
	if locName == "" {
		locName = defaultLocation
		if !slices.ContainsFunc(st.Locations, func(l schema.ServerTypeLocation) bool { return l.Name == locName }) {
			locName = st.Locations[0].Name
		}
	}
	loc := findLocation(locName)
	if loc == nil {
		return 0, nil, errInvalid("location", "location not found")
	}
	if !slices.ContainsFunc(st.Locations, func(l schema.ServerTypeLocation) bool { return l.Name == loc.Name && l.Available }) {
		return 0, nil, &apiError{http.StatusPreconditionFailed, "resource_unavailable", "server type " + st.Name + " is not available in " + loc.Name, nil}
	}
	if aerr := checkLabels(req.Labels); aerr != nil {
		return 0, nil, aerr
	}
	if len(req.UserData) > maxUserData {
		return 0, nil, errInvalid("user_data", "must be at most 32 KiB")
	}
	if req.PlacementGroup != 0 {
		return 0, nil, errInvalid("placement_group", "placement groups are not supported by the sandbox")
	}
	for _, id := range req.Volumes {
		v := s.st.Volumes[id]
		if v == nil {
			return 0, nil, errInvalid("volumes", fmt.Sprintf("volume %d not found", id))
		}
		if v.Server != 0 {
			return 0, nil, errCode(http.StatusConflict, "volume_already_attached", fmt.Sprintf("volume %d is already attached", id))
		}
		if v.Location != loc.Name {
			return 0, nil, errInvalid("volumes", fmt.Sprintf("volume %d is in %s, the server in %s", id, v.Location, loc.Name))
		}
	}
	for _, id := range req.SSHKeys {
		if s.st.SSHKeys[id] == nil {
			return 0, nil, errInvalid("ssh_keys", fmt.Sprintf("ssh key %d not found", id))
		}
	}
	for _, id := range req.Networks {
		if s.st.Networks[id] == nil {
			return 0, nil, errInvalid("networks", fmt.Sprintf("network %d not found", id))
		}
	}
	var fws []int64
	for _, f := range req.Firewalls {
		if s.st.Firewalls[f.Firewall] == nil {
			return 0, nil, errInvalid("firewalls", fmt.Sprintf("firewall %d not found", f.Firewall))
		}
		fws = append(fws, f.Firewall)
	}
	v4, v6 := true, true
	var pips []*primaryIP
	if pn := req.PublicNet; pn != nil {
		for _, pid := range []int64{pn.IPv4ID, pn.IPv6ID} {
			if pid == 0 {
				continue
			}
			p := s.st.PrimaryIPs[pid]
			if p == nil {
				return 0, nil, errInvalid("public_net", fmt.Sprintf("primary IP %d not found", pid))
			}
			if p.Assignee != 0 {
				return 0, nil, errCode(http.StatusConflict, "primary_ip_assigned", fmt.Sprintf("primary IP %d is already assigned to a server", pid))
			}
			if p.Location != loc.Name {
				return 0, nil, errCode(http.StatusUnprocessableEntity, "primary_ip_datacenter_mismatch", fmt.Sprintf("primary IP %d is in %s", pid, p.Location))
			}
			if (pid == pn.IPv4ID) != (p.Type == "ipv4") {
				return 0, nil, errCode(http.StatusUnprocessableEntity, "primary_ip_version_mismatch", fmt.Sprintf("primary IP %d is %s", pid, p.Type))
			}
			pips = append(pips, p)
		}
		v4, v6 = pn.EnableIPv4 || pn.IPv4ID != 0, pn.EnableIPv6 || pn.IPv6ID != 0
		if !v4 && !v6 && len(req.Networks) == 0 {
			return 0, nil, errInvalid("public_net", "a server without public interfaces must be attached to a network")
		}
	}

	srv := &server{
		ID: s.st.NextServerID, Name: req.Name, Status: statusInitializing, Created: s.now().Truncate(time.Second),
		ServerType: st.Name, ImageID: im.ID, Location: loc.Name, Labels: map[string]string{},
		PrimaryDisk: st.Disk, SSHKeys: req.SSHKeys, Firewalls: fws,
	}
	for _, id := range req.Networks {
		if aerr := s.attach(srv, s.st.Networks[id], "", nil); aerr != nil {
			return 0, nil, aerr
		}
	}
	s.st.NextServerID++
	if req.Labels != nil {
		maps.Copy(srv.Labels, *req.Labels)
	}
	ip4, ip6 := s.allocIP(srv.ID)
	for _, p := range pips {
		s.assignPrimary(p, srv)
	}
	// As at Hetzner, a server's own addresses are primary IPs, deleted with
	// it (auto_delete).
	for _, a := range []struct {
		on       bool
		typ, ip  string
		assigned string
	}{{v4, "ipv4", ip4, srv.IPv4}, {v6, "ipv6", ip6, srv.IPv6}} {
		if !a.on || a.assigned != "" {
			continue
		}
		id := s.nextID()
		p := &primaryIP{ID: id, Name: "primary_ip-" + itoa(id), Type: a.typ, IP: a.ip, Location: loc.Name,
			AutoDelete: true, Labels: map[string]string{}, Created: srv.Created}
		s.st.PrimaryIPs[id] = p
		s.assignPrimary(p, srv)
	}
	for _, id := range req.Volumes {
		s.st.Volumes[id].Server = srv.ID
	}
	s.st.Servers[srv.ID] = srv

	start := req.StartAfterCreate == nil || *req.StartAfterCreate
	resp := schema.ServerCreateResponse{NextActions: []schema.Action{}}
	if start {
		create := s.startAction(srv, "create_server", 1, effect{Status: statusStarting})
		next := s.startAction(srv, "start_server", 2, effect{Status: statusRunning})
		resp.Action = s.actionSchema(create)
		resp.NextActions = append(resp.NextActions, s.actionSchema(next))
	} else {
		resp.Action = s.actionSchema(s.startAction(srv, "create_server", 1, effect{Status: statusOff}))
	}
	if len(req.SSHKeys) == 0 {
		b := make([]byte, 12)
		rand.Read(b)
		pw := base64.RawURLEncoding.EncodeToString(b)
		resp.RootPassword = &pw
	}
	resp.Server = s.serverSchema(srv)
	return http.StatusCreated, resp, nil
}

func (s *Server) updateServer(r *http.Request) (int, any, *apiError) {
	srv, aerr := s.lookupServer(r)
	if aerr != nil {
		return 0, nil, aerr
	}
	var req schema.ServerUpdateRequest
	if aerr := decode(r, &req); aerr != nil {
		return 0, nil, aerr
	}
	if req.Name != "" {
		if aerr := checkHostname(req.Name); aerr != nil {
			return 0, nil, aerr
		}
		if s.nameTaken(req.Name, srv.ID) {
			return 0, nil, errUnique("name")
		}
	}
	if aerr := checkLabels(req.Labels); aerr != nil {
		return 0, nil, aerr
	}
	if req.Name != "" {
		srv.Name = req.Name
	}
	if req.Labels != nil {
		srv.Labels = maps.Clone(*req.Labels)
		if srv.Labels == nil {
			srv.Labels = map[string]string{}
		}
	}
	return http.StatusOK, schema.ServerUpdateResponse{Server: s.serverSchema(srv)}, nil
}

func (s *Server) deleteServer(r *http.Request) (int, any, *apiError) {
	srv, aerr := s.lookupServer(r)
	if aerr != nil {
		return 0, nil, aerr
	}
	if srv.ProtDelete {
		return 0, nil, errProtected("server")
	}
	if s.locked(srv.ID) {
		return 0, nil, errLocked()
	}
	srv.Status = statusDeleting
	a := s.startAction(srv, "delete_server", 1, effect{Delete: true})
	return http.StatusOK, schema.ServerDeleteResponse{Action: s.actionSchema(a)}, nil
}

func (s *Server) serverAction(r *http.Request) (int, any, *apiError) {
	srv, aerr := s.lookupServer(r)
	if aerr != nil {
		return 0, nil, aerr
	}
	cmd := r.PathValue("cmd")
	if status, body, aerr, ok := s.serverActionExt(srv, cmd, r); ok {
		return status, body, aerr
	}
	type result struct {
		Action schema.Action `json:"action"`
	}
	// Each command decodes its own request type so unknown fields are
	// refused, then checks preconditions, then starts its action.
	var (
		during  string
		command string
		e       effect
	)
	switch cmd {
	case "poweron", "poweroff", "shutdown", "reboot", "reset":
		var req struct{} // the Server*Request types of these commands are empty
		if aerr := decode(r, &req); aerr != nil {
			return 0, nil, aerr
		}
		switch cmd {
		case "poweron":
			during, command, e = statusStarting, "start_server", effect{Status: statusRunning}
		case "poweroff":
			during, command, e = statusStopping, "stop_server", effect{Status: statusOff}
		case "shutdown":
			during, command, e = statusStopping, "shutdown_server", effect{Status: statusOff}
		case "reboot":
			during, command, e = srv.Status, "reboot_server", effect{Status: statusRunning}
		case "reset":
			during, command, e = srv.Status, "reset_server", effect{Status: statusRunning}
		}
	case "rebuild":
		var req schema.ServerActionRebuildRequest
		if aerr := decode(r, &req); aerr != nil {
			return 0, nil, aerr
		}
		st := findServerType(schema.IDOrName{Name: srv.ServerType})
		im := findImage(req.Image, st.Architecture)
		if im == nil || im.Architecture != st.Architecture {
			return 0, nil, errInvalid("image", "image not found for architecture "+st.Architecture)
		}
		if srv.ProtRebuild {
			return 0, nil, errProtected("server")
		}
		during, command, e = statusRebuilding, "rebuild_server", effect{Status: statusRunning, ImageID: im.ID}
	case "change_type":
		var req schema.ServerActionChangeTypeRequest
		if aerr := decode(r, &req); aerr != nil {
			return 0, nil, aerr
		}
		cur := findServerType(schema.IDOrName{Name: srv.ServerType})
		st := findServerType(req.ServerType)
		if st == nil {
			return 0, nil, errInvalid("server_type", "server type not found")
		}
		if st.Architecture != cur.Architecture {
			return 0, nil, &apiError{http.StatusBadRequest, "invalid_server_type", "server type " + st.Name + " has another architecture", nil}
		}
		if st.Disk < srv.PrimaryDisk {
			return 0, nil, &apiError{http.StatusBadRequest, "invalid_server_type", fmt.Sprintf("server type %s has a %d GB disk, the server's disk is %d GB", st.Name, st.Disk, srv.PrimaryDisk), nil}
		}
		if srv.Status != statusOff {
			if s.locked(srv.ID) {
				return 0, nil, errLocked()
			}
			return 0, nil, &apiError{http.StatusConflict, "server_not_stopped", "server must be stopped to change its type", nil}
		}
		during, command, e = statusMigrating, "change_server_type", effect{Status: statusOff, ServerType: st.Name, UpgradeDisk: req.UpgradeDisk}
	case "change_protection":
		var req schema.ServerActionChangeProtectionRequest
		if aerr := decode(r, &req); aerr != nil {
			return 0, nil, aerr
		}
		if req.Delete == nil && req.Rebuild == nil {
			return 0, nil, errInvalid("delete", "one of delete and rebuild is required")
		}
		during, command, e = srv.Status, "change_protection", effect{ProtDelete: req.Delete, ProtRebuild: req.Rebuild}
	default:
		return 0, nil, errNotFound("server action " + cmd)
	}
	if s.locked(srv.ID) {
		return 0, nil, errLocked()
	}
	srv.Status = during
	a := s.startAction(srv, command, 1, e)
	return http.StatusCreated, result{Action: s.actionSchema(a)}, nil
}

// listActionsFiltered filters, orders by id and paginates actions.
func (s *Server) listActionsFiltered(r *http.Request, keep func(*action) bool) (int, any, *apiError) {
	q := r.URL.Query()
	var out []schema.Action
	for _, id := range sortedKeys(s.st.Actions) {
		a := s.st.Actions[id]
		if st := q["status"]; len(st) > 0 && !slices.Contains(st, a.Status) {
			continue
		}
		if keep(a) {
			out = append(out, s.actionSchema(a))
		}
	}
	pg, aerr := paginate(r, len(out))
	if aerr != nil {
		return 0, nil, aerr
	}
	return http.StatusOK, struct {
		schema.ActionListResponse
		Meta schema.Meta `json:"meta"`
	}{schema.ActionListResponse{Actions: nonNil(out[pg.from:pg.to])}, pg.meta}, nil
}

func (s *Server) listActions(r *http.Request) (int, any, *apiError) {
	var ids []int64
	for _, v := range r.URL.Query()["id"] {
		var id int64
		if _, err := fmt.Sscan(v, &id); err != nil {
			return 0, nil, errInvalid("id", "must be an integer")
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return 0, nil, errInvalid("id", "at least one id is required")
	}
	return s.listActionsFiltered(r, func(a *action) bool { return slices.Contains(ids, a.ID) })
}

func (s *Server) getAction(r *http.Request) (int, any, *apiError) {
	id, aerr := pathID(r, "id", "action")
	if aerr != nil {
		return 0, nil, aerr
	}
	a := s.st.Actions[id]
	if a == nil {
		return 0, nil, errNotFound("action")
	}
	return http.StatusOK, schema.ActionGetResponse{Action: s.actionSchema(a)}, nil
}

// serverSub serves GET /servers/actions/{aid} and GET /servers/{id}/actions.
func (s *Server) serverSub(r *http.Request) (int, any, *apiError) {
	switch {
	case r.PathValue("id") == "actions":
		r.SetPathValue("id", r.PathValue("sub"))
		return s.getAction(r)
	case r.PathValue("sub") == "actions":
		return s.listServerActions(r)
	}
	return 0, nil, &apiError{http.StatusNotFound, "not_found", "no such endpoint: " + r.Method + " " + r.URL.Path, nil}
}

func (s *Server) listServerActions(r *http.Request) (int, any, *apiError) {
	srv, aerr := s.lookupServer(r)
	if aerr != nil {
		return 0, nil, aerr
	}
	return s.listActionsFiltered(r, func(a *action) bool { return a.ServerID == srv.ID })
}

func (s *Server) getServerAction(r *http.Request) (int, any, *apiError) {
	srv, aerr := s.lookupServer(r)
	if aerr != nil {
		return 0, nil, aerr
	}
	id, aerr := pathID(r, "aid", "action")
	if aerr != nil {
		return 0, nil, aerr
	}
	a := s.st.Actions[id]
	if a == nil || a.ServerID != srv.ID {
		return 0, nil, errNotFound("action")
	}
	return http.StatusOK, schema.ActionGetResponse{Action: s.actionSchema(a)}, nil
}

func (s *Server) listServerTypes(r *http.Request) (int, any, *apiError) {
	return listPaged(r, serverTypes, func(t schema.ServerType) string { return t.Name }, nil, nil,
		func(p []schema.ServerType, m schema.Meta) any {
			return struct {
				schema.ServerTypeListResponse
				Meta schema.Meta `json:"meta"`
			}{schema.ServerTypeListResponse{ServerTypes: p}, m}
		})
}

func (s *Server) getServerType(r *http.Request) (int, any, *apiError) {
	id, aerr := pathID(r, "id", "server type")
	if aerr != nil {
		return 0, nil, aerr
	}
	st := findServerType(schema.IDOrName{ID: id})
	if st == nil {
		return 0, nil, errNotFound("server type")
	}
	return http.StatusOK, schema.ServerTypeGetResponse{ServerType: *st}, nil
}

func (s *Server) listImages(r *http.Request) (int, any, *apiError) {
	q := r.URL.Query()
	arch := q["architecture"]
	types := q["type"]
	all := append([]schema.Image{}, images...)
	for _, id := range sortedKeys(s.st.Images) {
		all = append(all, s.snapshotSchema(s.st.Images[id]))
	}
	sel, err := parseSelector(q.Get("label_selector"))
	if err != nil {
		return 0, nil, errInvalid("label_selector", err.Error())
	}
	return listPaged(r, all, func(i schema.Image) string {
		if i.Name == nil {
			return ""
		}
		return *i.Name
	}, nil,
		func(i schema.Image) bool {
			return (len(arch) == 0 || slices.Contains(arch, i.Architecture)) &&
				(len(types) == 0 || slices.Contains(types, i.Type)) && sel.matches(i.Labels) &&
				(i.Deprecation == nil || q.Get("include_deprecated") == "true")
		},
		func(p []schema.Image, m schema.Meta) any {
			return struct {
				schema.ImageListResponse
				Meta schema.Meta `json:"meta"`
			}{schema.ImageListResponse{Images: p}, m}
		})
}

func (s *Server) getImage(r *http.Request) (int, any, *apiError) {
	id, aerr := pathID(r, "id", "image")
	if aerr != nil {
		return 0, nil, aerr
	}
	im := imageByID(id)
	if sn := s.st.Images[id]; im == nil && sn != nil {
		v := s.snapshotSchema(sn)
		im = &v
	}
	if im == nil {
		return 0, nil, errNotFound("image")
	}
	return http.StatusOK, schema.ImageGetResponse{Image: *im}, nil
}

func (s *Server) listLocations(r *http.Request) (int, any, *apiError) {
	return listPaged(r, locations, func(l schema.Location) string { return l.Name }, nil, nil,
		func(p []schema.Location, m schema.Meta) any {
			return struct {
				schema.LocationListResponse
				Meta schema.Meta `json:"meta"`
			}{schema.LocationListResponse{Locations: p}, m}
		})
}

func (s *Server) getLocation(r *http.Request) (int, any, *apiError) {
	id, aerr := pathID(r, "id", "location")
	if aerr != nil {
		return 0, nil, aerr
	}
	loc := findLocation(itoa(id))
	if loc == nil {
		return 0, nil, errNotFound("location")
	}
	return http.StatusOK, schema.LocationGetResponse{Location: *loc}, nil
}
