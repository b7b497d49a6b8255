package sandbox

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"maps"
	"net"
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
		srv := s.st.Servers[a.ServerID]
		if srv == nil {
			a.Status, a.ErrCode, a.ErrMsg = actionError, "not_found", "server no longer exists"
			continue
		}
		e := a.Effect
		if e.Delete {
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
	if srv.IPv4 != "" {
		out.PublicNet.IPv4 = schema.ServerPublicNetIPv4{ID: srv.ID*2 + 1, IP: srv.IPv4, DNSPtr: "static." + srv.IPv4 + ".clients.your-server.de"}
	}
	if srv.IPv6 != "" {
		out.PublicNet.IPv6 = schema.ServerPublicNetIPv6{ID: srv.ID * 2, IP: srv.IPv6, DNSPtr: []schema.ServerPublicNetIPv6DNSPtr{}}
	}
	for _, id := range srv.Firewalls {
		out.PublicNet.Firewalls = append(out.PublicNet.Firewalls, schema.ServerFirewall{ID: id, Status: "applied"})
	}
	for i, id := range srv.Networks {
		out.PrivateNet = append(out.PrivateNet, schema.ServerPrivateNet{
			Network: id, IP: fmt.Sprintf("10.0.%d.%d", i, 2+srv.ID%250), AliasIPs: []string{},
			MACAddress: fmt.Sprintf("86:00:00:%02x:%02x:%02x", byte(srv.ID>>16), byte(srv.ID>>8), byte(srv.ID)),
		})
	}
	return out
}

// lookupServer returns the server named by the {id} path value.
func (s *Server) lookupServer(r *http.Request) (*server, *apiError) {
	id, aerr := pathID(r, "id", "server")
	if aerr != nil {
		return nil, aerr
	}
	srv := s.st.Servers[id]
	if srv == nil {
		return nil, errNotFound("server")
	}
	return srv, nil
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
	if len(req.Volumes) > 0 || req.PlacementGroup != 0 || req.Automount != nil {
		return 0, nil, errInvalid("volumes", "volumes, automount and placement groups are not supported by the sandbox")
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
	if pn := req.PublicNet; pn != nil {
		if pn.IPv4ID != 0 || pn.IPv6ID != 0 {
			return 0, nil, errInvalid("public_net", "primary IPs are not supported by the sandbox")
		}
		v4, v6 = pn.EnableIPv4, pn.EnableIPv6
		if !v4 && !v6 && len(req.Networks) == 0 {
			return 0, nil, errInvalid("public_net", "a server without public interfaces must be attached to a network")
		}
	}

	srv := &server{
		ID: s.st.NextServerID, Name: req.Name, Status: statusInitializing, Created: s.now().Truncate(time.Second),
		ServerType: st.Name, ImageID: im.ID, Location: loc.Name, Labels: map[string]string{},
		PrimaryDisk: st.Disk, SSHKeys: req.SSHKeys, Networks: req.Networks, Firewalls: fws,
	}
	s.st.NextServerID++
	if req.Labels != nil {
		maps.Copy(srv.Labels, *req.Labels)
	}
	ip4, ip6 := s.allocIP(srv.ID)
	if v4 {
		srv.IPv4 = ip4
	}
	if v6 {
		srv.IPv6 = ip6
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
	return paged(r, serverTypes, func(t schema.ServerType) string { return t.Name }, nil,
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
	return paged(r, images, func(i schema.Image) string { return *i.Name },
		func(i schema.Image) bool {
			return (len(arch) == 0 || slices.Contains(arch, i.Architecture)) &&
				(len(types) == 0 || slices.Contains(types, i.Type)) &&
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
	if im == nil {
		return 0, nil, errNotFound("image")
	}
	return http.StatusOK, schema.ImageGetResponse{Image: *im}, nil
}

func (s *Server) listLocations(r *http.Request) (int, any, *apiError) {
	return paged(r, locations, func(l schema.Location) string { return l.Name }, nil,
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

// paged filters items by the name query parameter and keep, paginates them
// and wraps the page with its meta.
func paged[T any](r *http.Request, items []T, name func(T) string, keep func(T) bool, wrap func([]T, schema.Meta) any) (int, any, *apiError) {
	q := r.URL.Query()
	var sel selector
	if ls := q.Get("label_selector"); ls != "" {
		var err error
		if sel, err = parseSelector(ls); err != nil {
			return 0, nil, errInvalid("label_selector", err.Error())
		}
	}
	var out []T
	for _, it := range items {
		if n := q.Get("name"); n != "" && name(it) != n {
			continue
		}
		if keep != nil && !keep(it) {
			continue
		}
		if len(sel) > 0 {
			if l, ok := any(it).(interface{ labels() map[string]string }); ok && !sel.matches(l.labels()) {
				continue
			}
		}
		out = append(out, it)
	}
	pg, aerr := paginate(r, len(out))
	if aerr != nil {
		return 0, nil, aerr
	}
	return http.StatusOK, wrap(nonNil(out[pg.from:pg.to]), pg.meta), nil
}

// Labelled schema views, so paged can apply label selectors.
type (
	sshKeyView   schema.SSHKey
	firewallView schema.Firewall
	networkView  schema.Network
)

func (v sshKeyView) labels() map[string]string   { return v.Labels }
func (v firewallView) labels() map[string]string { return v.Labels }
func (v networkView) labels() map[string]string  { return v.Labels }

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
	var all []sshKeyView
	for _, id := range sortedKeys(s.st.SSHKeys) {
		all = append(all, sshKeyView(s.sshKeySchema(s.st.SSHKeys[id])))
	}
	fp := r.URL.Query().Get("fingerprint")
	return paged(r, all, func(k sshKeyView) string { return k.Name },
		func(k sshKeyView) bool { return fp == "" || k.Fingerprint == fp },
		func(p []sshKeyView, m schema.Meta) any {
			keys := make([]schema.SSHKey, len(p))
			for i := range p {
				keys[i] = schema.SSHKey(p[i])
			}
			return struct {
				schema.SSHKeyListResponse
				Meta schema.Meta `json:"meta"`
			}{schema.SSHKeyListResponse{SSHKeys: keys}, m}
		})
}

func (s *Server) createSSHKey(r *http.Request) (int, any, *apiError) {
	var req schema.SSHKeyCreateRequest
	if aerr := decode(r, &req); aerr != nil {
		return 0, nil, aerr
	}
	if req.Name == "" {
		return 0, nil, errInvalid("name", "is required")
	}
	fields := strings.Fields(req.PublicKey)
	if len(fields) < 2 || !strings.HasPrefix(fields[0], "ssh-") && !strings.HasPrefix(fields[0], "ecdsa-") {
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
	k := &sshKey{ID: s.st.NextOtherID, Name: req.Name, PublicKey: req.PublicKey, Fingerprint: strings.Join(fp, ":"),
		Labels: map[string]string{}, Created: s.now().Truncate(time.Second)}
	if req.Labels != nil {
		maps.Copy(k.Labels, *req.Labels)
	}
	s.st.NextOtherID++
	s.st.SSHKeys[k.ID] = k
	return http.StatusCreated, schema.SSHKeyCreateResponse{SSHKey: s.sshKeySchema(k)}, nil
}

func (s *Server) getSSHKey(r *http.Request) (int, any, *apiError) {
	id, aerr := pathID(r, "id", "ssh key")
	if aerr != nil {
		return 0, nil, aerr
	}
	k := s.st.SSHKeys[id]
	if k == nil {
		return 0, nil, errNotFound("ssh key")
	}
	return http.StatusOK, schema.SSHKeyGetResponse{SSHKey: s.sshKeySchema(k)}, nil
}

func (s *Server) deleteSSHKey(r *http.Request) (int, any, *apiError) {
	id, aerr := pathID(r, "id", "ssh key")
	if aerr != nil {
		return 0, nil, aerr
	}
	if s.st.SSHKeys[id] == nil {
		return 0, nil, errNotFound("ssh key")
	}
	delete(s.st.SSHKeys, id)
	return http.StatusNoContent, nil, nil
}

func (s *Server) firewallSchema(f *firewall) schema.Firewall {
	out := schema.Firewall{ID: f.ID, Name: f.Name, Labels: nonNilMap(f.Labels), Created: f.Created,
		Rules: []schema.FirewallRule{}, AppliedTo: []schema.FirewallResource{}}
	for _, id := range sortedKeys(s.st.Servers) {
		if slices.Contains(s.st.Servers[id].Firewalls, f.ID) {
			out.AppliedTo = append(out.AppliedTo, schema.FirewallResource{Type: "server", Server: &schema.FirewallResourceServer{ID: id}})
		}
	}
	return out
}

func (s *Server) listFirewalls(r *http.Request) (int, any, *apiError) {
	var all []firewallView
	for _, id := range sortedKeys(s.st.Firewalls) {
		all = append(all, firewallView(s.firewallSchema(s.st.Firewalls[id])))
	}
	return paged(r, all, func(f firewallView) string { return f.Name }, nil,
		func(p []firewallView, m schema.Meta) any {
			fws := make([]schema.Firewall, len(p))
			for i := range p {
				fws[i] = schema.Firewall(p[i])
			}
			return struct {
				schema.FirewallListResponse
				Meta schema.Meta `json:"meta"`
			}{schema.FirewallListResponse{Firewalls: fws}, m}
		})
}

func (s *Server) createFirewall(r *http.Request) (int, any, *apiError) {
	var req schema.FirewallCreateRequest
	if aerr := decode(r, &req); aerr != nil {
		return 0, nil, aerr
	}
	if req.Name == "" {
		return 0, nil, errInvalid("name", "is required")
	}
	if len(req.Rules) > 0 || len(req.ApplyTo) > 0 {
		return 0, nil, errInvalid("rules", "rules and apply_to are not supported by the sandbox")
	}
	if aerr := checkLabels(req.Labels); aerr != nil {
		return 0, nil, aerr
	}
	for _, f := range s.st.Firewalls {
		if f.Name == req.Name {
			return 0, nil, errUnique("name")
		}
	}
	f := &firewall{ID: s.st.NextOtherID, Name: req.Name, Labels: map[string]string{}, Created: s.now().Truncate(time.Second)}
	if req.Labels != nil {
		maps.Copy(f.Labels, *req.Labels)
	}
	s.st.NextOtherID++
	s.st.Firewalls[f.ID] = f
	return http.StatusCreated, schema.FirewallCreateResponse{Firewall: s.firewallSchema(f), Actions: []schema.Action{}}, nil
}

func (s *Server) getFirewall(r *http.Request) (int, any, *apiError) {
	id, aerr := pathID(r, "id", "firewall")
	if aerr != nil {
		return 0, nil, aerr
	}
	f := s.st.Firewalls[id]
	if f == nil {
		return 0, nil, errNotFound("firewall")
	}
	return http.StatusOK, schema.FirewallGetResponse{Firewall: s.firewallSchema(f)}, nil
}

func (s *Server) networkSchema(n *network) schema.Network {
	out := schema.Network{ID: n.ID, Name: n.Name, Created: n.Created, IPRange: n.IPRange, Labels: nonNilMap(n.Labels),
		Subnets: []schema.NetworkSubnet{}, Routes: []schema.NetworkRoute{}, Servers: []int64{}, LoadBalancers: []int64{}}
	for _, id := range sortedKeys(s.st.Servers) {
		if slices.Contains(s.st.Servers[id].Networks, n.ID) {
			out.Servers = append(out.Servers, id)
		}
	}
	return out
}

func (s *Server) listNetworks(r *http.Request) (int, any, *apiError) {
	var all []networkView
	for _, id := range sortedKeys(s.st.Networks) {
		all = append(all, networkView(s.networkSchema(s.st.Networks[id])))
	}
	return paged(r, all, func(n networkView) string { return n.Name }, nil,
		func(p []networkView, m schema.Meta) any {
			nets := make([]schema.Network, len(p))
			for i := range p {
				nets[i] = schema.Network(p[i])
			}
			return struct {
				schema.NetworkListResponse
				Meta schema.Meta `json:"meta"`
			}{schema.NetworkListResponse{Networks: nets}, m}
		})
}

func (s *Server) createNetwork(r *http.Request) (int, any, *apiError) {
	var req schema.NetworkCreateRequest
	if aerr := decode(r, &req); aerr != nil {
		return 0, nil, aerr
	}
	if req.Name == "" {
		return 0, nil, errInvalid("name", "is required")
	}
	if _, n, err := net.ParseCIDR(req.IPRange); err != nil || n.IP.To4() == nil {
		return 0, nil, errInvalid("ip_range", "must be an IPv4 CIDR range")
	}
	if len(req.Subnets) > 0 || len(req.Routes) > 0 {
		return 0, nil, errInvalid("subnets", "subnets and routes are not supported by the sandbox")
	}
	if aerr := checkLabels(req.Labels); aerr != nil {
		return 0, nil, aerr
	}
	for _, n := range s.st.Networks {
		if n.Name == req.Name {
			return 0, nil, errUnique("name")
		}
	}
	n := &network{ID: s.st.NextOtherID, Name: req.Name, IPRange: req.IPRange, Labels: map[string]string{}, Created: s.now().Truncate(time.Second)}
	if req.Labels != nil {
		maps.Copy(n.Labels, *req.Labels)
	}
	s.st.NextOtherID++
	s.st.Networks[n.ID] = n
	return http.StatusCreated, schema.NetworkCreateResponse{Network: s.networkSchema(n)}, nil
}

func (s *Server) getNetwork(r *http.Request) (int, any, *apiError) {
	id, aerr := pathID(r, "id", "network")
	if aerr != nil {
		return 0, nil, aerr
	}
	n := s.st.Networks[id]
	if n == nil {
		return 0, nil, errNotFound("network")
	}
	return http.StatusOK, schema.NetworkGetResponse{Network: s.networkSchema(n)}, nil
}
