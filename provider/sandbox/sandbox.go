// Package sandbox is a local HTTP server that speaks enough of the Hetzner
// Cloud API (under /v1) for vmc-git and hcloud-go to manage servers without a
// Hetzner account. Every request and response body is one of hcloud-go's
// schema types, so the real client talks to it unchanged:
//
//	sb, _ := sandbox.New(sandbox.Options{Token: "t", StatePath: "sandbox.json"})
//	url, _ := sb.Start("")          // http://127.0.0.1:PORT/v1
//	defer sb.Close()
//	client := hcloud.NewClient(hcloud.WithEndpoint(url), hcloud.WithToken("t"))
//
// # Endpoints
//
//	GET  /servers (name, label_selector, status, sort, page, per_page)
//	POST /servers          GET/PUT/DELETE /servers/{id}
//	POST /servers/{id}/actions/{poweron|poweroff|shutdown|reboot|reset|
//	                            rebuild|change_type|change_protection}
//	GET  /servers/{id}/actions   GET /servers/{id}/actions/{action_id}
//	GET  /servers/actions (id=…)   GET /servers/actions/{action_id}
//	GET  /actions (id=… required, status, page, per_page)   GET /actions/{id}
//	GET  /server_types[/{id}]  /images[/{id}]  /locations[/{id}]
//	POST /servers/{id}/actions/{attach_to_network|detach_from_network|change_alias_ips|enable_backup|
//	                            disable_backup|create_image|change_dns_ptr}
//	GET/POST /ssh_keys, /firewalls, /networks, /volumes, /primary_ips, /floating_ips
//	GET/PUT/DELETE /…/{id}   GET /…/{id}/actions   GET /…/actions/{action_id}
//	POST /firewalls/{id}/actions/{set_rules|apply_to_resources|remove_from_resources}
//	POST /networks/{id}/actions/{add_subnet|delete_subnet|add_route|delete_route|
//	                             change_protection}
//	POST /volumes/{id}/actions/{attach|detach|resize|change_protection}
//	POST /primary_ips/{id}/actions/{assign|unassign|change_dns_ptr|change_protection}
//	POST /floating_ips/{id}/actions/{assign|unassign|change_dns_ptr|change_protection}
//
// Constraints of the other kinds, with Hetzner's error codes: a volume and
// its server in one location (invalid_input), a volume attached once
// (volume_already_attached), deleted only when detached (locked), grown
// only (invalid_input), at most 16 per server (resource_limit_exceeded); a
// server in a network at most once (server_already_attached), only in a
// subnet of its network zone (no_subnet_available), private addresses
// unique (ip_not_available), subnets inside the network's range and not
// overlapping (invalid_input); a firewall of at most 50 rules (invalid_input)
// and at most 5 per server (resource_limit_exceeded), applied once
// (firewall_already_applied), removed once (firewall_already_removed), not
// removable from a server it reaches through a label selector
// (firewall_managed_by_label_selector), never on a server without a public
// interface (private_net_only_server), deleted only when applied nowhere
// (resource_in_use, as for a network with servers); a primary IP assigned
// to at most one server (primary_ip_assigned on create,
// primary_ip_already_assigned on assign), in the server's location
// (primary_ip_datacenter_mismatch), to a server without an address of its
// family (server_has_ipv4/6) that is off (server_not_stopped), deleted only
// when unassigned (primary_ip_assigned); a floating IP assigned in its
// network zone (invalid_input); delete protection (protected) on networks,
// volumes and IPs. Changes to these resources take effect when the request
// is served; their actions run for one action duration. A deleted server
// releases its volumes and IPs (primary IPs with auto_delete go with it).
// A server's own addresses are primary IPs (primary_ip-<id>, auto_delete).
//
// Lists are paginated like Hetzner's (per_page default 25, at most 50) with
// meta.pagination. Label selectors: k, !k, k=v, k==v, k!=v, k in (a,b),
// k notin (a,b), comma-joined.
//
// # Behaviour
//
// Errors use Hetzner's JSON error format: not_found (404), invalid_input
// (400, with details.fields), json_error (400), unauthorized (401, bearer
// token missing or wrong), protected (403), uniqueness_error (409),
// server_not_stopped (409), invalid_server_type (400), locked (423: the server
// has a running action) and, by injection ([Server.Inject]),
// rate_limit_exceeded (429), server_error (500) or a dropped connection.
//
// An action is "running" for Options.ActionDuration, its progress rising with
// time, then "success"; only then does it change the server. Server status
// follows: initializing → off (→ starting → running when started after
// create); starting/stopping/rebuilding/migrating/deleting while an action
// runs. change_type needs the server off. Actions are advanced lazily on each
// request, so running actions survive restarts and finish on time.
//
// # State
//
// With Options.StatePath, the state (servers, actions, ssh keys, firewalls,
// networks, volumes, primary and floating IPs, snapshots, id counters) is a JSON file written atomically (temporary file,
// fsync, rename, directory fsync) after every change and read at New. The
// catalogue is fixed, in hcloud-go's schema shapes: server types cx22…cx52,
// cpx11…cpx41, cax11, cax21 (arm), ccx13, with per-location offers and
// prices, and the retired cx11 (deprecated, available nowhere); images
// ubuntu-22.04, ubuntu-24.04, debian-12 (x86 and arm), rocky-9, alma-9,
// fedora-41 and the deprecated ubuntu-20.04 (listed only with
// include_deprecated=true); locations fsn1, nbg1, hel1, ash, hil, sin. Addresses come from the
// documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24,
// 2001:db8::/32).
package sandbox

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

// Options configure a sandbox.
type Options struct {
	// Token is the bearer token clients must send. Empty disables the check.
	Token string
	// StatePath is the state file; empty keeps the state in memory only.
	StatePath string
	// ActionDuration is how long every action runs; default 500ms.
	ActionDuration time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Faults are injected from the start, as by Inject.
	Faults []Fault
}

// Fault makes matching requests fail, for tests. A request matches when its
// method equals Method (any if empty) and its path below /v1 starts with
// Path (any if empty).
type Fault struct {
	Method string
	Path   string
	// Times is how many matching requests fail; 0 means 1, negative means
	// every one.
	Times int
	// Status and Code form the error response: Code in Hetzner's JSON error
	// format, or, if Code is empty, a plain-text body. Status defaults to 500
	// (429 for rate_limit_exceeded).
	Status  int
	Code    string
	Message string
	// Drop, instead of answering with an error, carries the request out and
	// then closes the connection without a response, as when a connection
	// breaks after the request was sent.
	Drop bool
}

// Server is a sandbox API server.
type Server struct {
	opts Options

	mu     sync.Mutex
	st     *state
	faults []Fault
	closed bool

	mux  *http.ServeMux
	http *http.Server
	ln   net.Listener
}

// New returns a sandbox, loading Options.StatePath if it exists.
func New(opts Options) (*Server, error) {
	if opts.ActionDuration <= 0 {
		opts.ActionDuration = 500 * time.Millisecond
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	st := newState()
	if opts.StatePath != "" {
		var err error
		if st, err = loadState(opts.StatePath); err != nil {
			return nil, err
		}
	}
	s := &Server{opts: opts, st: st}
	for _, f := range opts.Faults {
		if f.Times == 0 {
			f.Times = 1 // as Inject: 0 means once
		}
		s.faults = append(s.faults, f)
	}
	s.routes()
	return s, nil
}

// Inject adds a fault; see Fault.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Times == 0 {
		f.Times = 1
	}
	s.faults = append(s.faults, f)
}

// Handler returns the API handler. It serves paths below /v1.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Start listens on addr (default "127.0.0.1:0"), which must be a loopback
// address, serves in the background and returns the API base URL
// ("http://127.0.0.1:PORT/v1").
func (s *Server) Start(addr string) (string, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("sandbox: listen address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", fmt.Errorf("sandbox: listen address %q: only loopback addresses are allowed", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("sandbox: %w", err)
	}
	s.ln = ln
	s.http = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go s.http.Serve(ln)
	return "http://" + ln.Addr().String() + "/v1", nil
}

// Close stops serving and writes the state file one last time. Later calls
// do nothing.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var err error
	if s.http != nil {
		err = s.http.Close() // handlers waiting for mu see a closed connection
	}
	if s.opts.StatePath != "" {
		err = errors.Join(err, s.st.save(s.opts.StatePath))
	}
	return err
}

// apiError is an error response.
type apiError struct {
	status  int
	code    string
	message string
	fields  map[string]string // invalid_input details: field -> message
}

func (e *apiError) Error() string { return e.message + " (" + e.code + ")" }

func errNotFound(what string) *apiError {
	return &apiError{http.StatusNotFound, "not_found", what + " not found", nil}
}

func errInvalid(field, msg string) *apiError {
	return &apiError{http.StatusBadRequest, "invalid_input", "invalid input in field '" + field + "'", map[string]string{field: msg}}
}

func errLocked() *apiError {
	return &apiError{http.StatusLocked, "locked", "server is locked: an action is running", nil}
}

func errProtected(what string) *apiError {
	return &apiError{http.StatusForbidden, "protected", what + " is protected", nil}
}

func errUnique(field string) *apiError {
	return &apiError{http.StatusConflict, "uniqueness_error", field + " is already used", map[string]string{field: "is already used"}}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic("sandbox: marshal response: " + err.Error())
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

func writeError(w http.ResponseWriter, e *apiError) {
	body := schema.ErrorResponse{Error: schema.Error{Code: e.code, Message: e.message}}
	if len(e.fields) > 0 {
		var d schema.ErrorDetailsInvalidInput
		for name, msg := range e.fields {
			d.Fields = append(d.Fields, struct {
				Name     string   `json:"name"`
				Messages []string `json:"messages"`
			}{name, []string{msg}})
		}
		body.Error.DetailsRaw, _ = json.Marshal(d)
	}
	writeJSON(w, e.status, body)
}

// decode reads a JSON request body strictly into v. An empty body decodes
// as {}.
func decode(r *http.Request, v any) *apiError {
	b, err := readAll(r)
	if err != nil {
		return &apiError{http.StatusBadRequest, "json_error", "cannot read request body", nil}
	}
	if len(bytes.TrimSpace(b)) == 0 {
		b = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &apiError{http.StatusBadRequest, "json_error", "invalid JSON: " + err.Error(), nil}
	}
	return nil
}

func readAll(r *http.Request) ([]byte, error) {
	var buf bytes.Buffer
	_, err := buf.ReadFrom(http.MaxBytesReader(nil, r.Body, 1<<20))
	return buf.Bytes(), err
}

// serveHTTP authenticates, applies faults and dispatches.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("RateLimit-Limit", "3600")
	w.Header().Set("RateLimit-Remaining", "3599")
	w.Header().Set("RateLimit-Reset", strconv.FormatInt(s.opts.Now().Add(time.Second).Unix(), 10))
	if s.opts.Token != "" {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(s.opts.Token)) != 1 {
			writeError(w, &apiError{http.StatusUnauthorized, "unauthorized", "unable to authenticate", nil})
			return
		}
	}
	f, hit := s.takeFault(r)
	if hit && !f.Drop {
		if f.Code == "" {
			http.Error(w, http.StatusText(f.Status), f.Status)
			return
		}
		writeError(w, &apiError{f.Status, f.Code, f.Message, nil})
		return
	}
	if hit && f.Drop {
		rec := &recorder{header: http.Header{}}
		s.mux.ServeHTTP(rec, r)
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler) // closes the connection without a response
	}
	s.mux.ServeHTTP(w, r)
}

func (s *Server) takeFault(r *http.Request) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	path := strings.TrimPrefix(r.URL.Path, "/v1")
	for i, f := range s.faults {
		if (f.Method == "" || f.Method == r.Method) && strings.HasPrefix(path, f.Path) {
			if f.Times > 0 {
				s.faults[i].Times--
				if s.faults[i].Times == 0 {
					s.faults = append(s.faults[:i], s.faults[i+1:]...)
				}
			}
			if f.Status == 0 {
				f.Status = http.StatusInternalServerError
				if f.Code == "rate_limit_exceeded" {
					f.Status = http.StatusTooManyRequests
				}
			}
			if f.Message == "" {
				f.Message = "injected fault"
			}
			return f, true
		}
	}
	return Fault{}, false
}

// recorder swallows a response (used by Fault.Drop).
type recorder struct {
	header http.Header
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *recorder) WriteHeader(int)             {}

// handler is an endpoint: it runs with the state locked and actions
// advanced, and returns a status and body or an error. mutates says whether
// the state must be saved afterwards.
type handler func(r *http.Request) (int, any, *apiError)

func (s *Server) handle(mutates bool, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.advance()
		status, body, aerr := h(r)
		if aerr != nil {
			writeError(w, aerr)
			return
		}
		if mutates && s.opts.StatePath != "" {
			if err := s.st.save(s.opts.StatePath); err != nil {
				writeError(w, &apiError{http.StatusInternalServerError, "server_error", "sandbox could not save its state", nil})
				return
			}
		}
		if body == nil {
			w.WriteHeader(status)
			return
		}
		writeJSON(w, status, body)
	}
}

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /v1/servers", s.handle(false, s.listServers))
	m.HandleFunc("POST /v1/servers", s.handle(true, s.createServer))
	m.HandleFunc("GET /v1/servers/{id}", s.handle(false, s.getServer))
	m.HandleFunc("PUT /v1/servers/{id}", s.handle(true, s.updateServer))
	m.HandleFunc("DELETE /v1/servers/{id}", s.handle(true, s.deleteServer))
	m.HandleFunc("POST /v1/servers/{id}/actions/{cmd}", s.handle(true, s.serverAction))
	m.HandleFunc("GET /v1/servers/actions", s.handle(false, s.listActions))
	// GET /servers/actions/{aid} and GET /servers/{id}/actions overlap as
	// patterns, so one route dispatches both.
	m.HandleFunc("GET /v1/servers/{id}/{sub}", s.handle(false, s.serverSub))
	m.HandleFunc("GET /v1/servers/{id}/actions/{aid}", s.handle(false, s.getServerAction))
	m.HandleFunc("GET /v1/actions", s.handle(false, s.listActions))
	m.HandleFunc("GET /v1/actions/{id}", s.handle(false, s.getAction))
	m.HandleFunc("GET /v1/server_types", s.handle(false, s.listServerTypes))
	m.HandleFunc("GET /v1/server_types/{id}", s.handle(false, s.getServerType))
	m.HandleFunc("GET /v1/images", s.handle(false, s.listImages))
	m.HandleFunc("GET /v1/images/{id}", s.handle(false, s.getImage))
	m.HandleFunc("PUT /v1/images/{id}", s.handle(true, s.updateImage))
	m.HandleFunc("DELETE /v1/images/{id}", s.handle(true, s.deleteImage))
	m.HandleFunc("GET /v1/locations", s.handle(false, s.listLocations))
	m.HandleFunc("GET /v1/locations/{id}", s.handle(false, s.getLocation))
	m.HandleFunc("GET /v1/ssh_keys", s.handle(false, s.listSSHKeys))
	m.HandleFunc("POST /v1/ssh_keys", s.handle(true, s.createSSHKey))
	m.HandleFunc("GET /v1/ssh_keys/{id}", s.handle(false, s.getSSHKey))
	m.HandleFunc("PUT /v1/ssh_keys/{id}", s.handle(true, s.updateSSHKey))
	m.HandleFunc("DELETE /v1/ssh_keys/{id}", s.handle(true, s.deleteSSHKey))
	s.resourceRoutes(m, "firewalls", "firewall", s.listFirewalls, s.createFirewall, s.getFirewall, s.updateFirewall, s.deleteFirewall, s.firewallAction)
	s.resourceRoutes(m, "networks", "network", s.listNetworks, s.createNetwork, s.getNetwork, s.updateNetwork, s.deleteNetwork, s.networkAction)
	s.resourceRoutes(m, "volumes", "volume", s.listVolumes, s.createVolume, s.getVolume, s.updateVolume, s.deleteVolume, s.volumeAction)
	s.resourceRoutes(m, "primary_ips", "primary_ip", s.listPrimaryIPs, s.createPrimaryIP, s.getPrimaryIP, s.updatePrimaryIP, s.deletePrimaryIP, s.primaryIPAction)
	s.resourceRoutes(m, "floating_ips", "floating_ip", s.listFloatingIPs, s.createFloatingIP, s.getFloatingIP, s.updateFloatingIP, s.deleteFloatingIP, s.floatingIPAction)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{http.StatusNotFound, "not_found", "no such endpoint: " + r.Method + " " + r.URL.Path, nil})
	})
	s.mux = m
}

// resourceRoutes serves a resource collection: list, create, get, update,
// delete, POST /{id}/actions/{cmd}, and its actions (GET /{id}/actions,
// GET /actions/{id}) as for servers.
func (s *Server) resourceRoutes(m *http.ServeMux, coll, typ string, list, create, get, update, del, act handler) {
	m.HandleFunc("GET /v1/"+coll, s.handle(false, list))
	m.HandleFunc("POST /v1/"+coll, s.handle(true, create))
	m.HandleFunc("GET /v1/"+coll+"/{id}", s.handle(false, get))
	m.HandleFunc("PUT /v1/"+coll+"/{id}", s.handle(true, update))
	m.HandleFunc("DELETE /v1/"+coll+"/{id}", s.handle(true, del))
	m.HandleFunc("POST /v1/"+coll+"/{id}/actions/{cmd}", s.handle(true, act))
	m.HandleFunc("GET /v1/"+coll+"/{id}/{sub}", s.handle(false, func(r *http.Request) (int, any, *apiError) {
		switch {
		case r.PathValue("id") == "actions":
			r.SetPathValue("id", r.PathValue("sub"))
			return s.getAction(r)
		case r.PathValue("sub") == "actions":
			id, aerr := pathID(r, "id", typ)
			if aerr != nil {
				return 0, nil, aerr
			}
			return s.listActionsFiltered(r, func(a *action) bool {
				for _, rr := range a.Resources {
					if rr.Type == typ && rr.ID == id {
						return true
					}
				}
				return false
			})
		}
		return 0, nil, &apiError{http.StatusNotFound, "not_found", "no such endpoint: " + r.Method + " " + r.URL.Path, nil}
	}))
}

// pathID parses the path value name as an id.
func pathID(r *http.Request, name, what string) (int64, *apiError) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, errNotFound(what)
	}
	return id, nil
}

// page is the result of paginating a list.
type page struct {
	from, to int
	meta     schema.Meta
}

// paginate applies page and per_page to a list of n items.
func paginate(r *http.Request, n int) (page, *apiError) {
	q := r.URL.Query()
	num, per := 1, 25
	if v := q.Get("page"); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 1 {
			return page{}, errInvalid("page", "must be a positive integer")
		}
		num = p
	}
	if v := q.Get("per_page"); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 1 {
			return page{}, errInvalid("per_page", "must be a positive integer")
		}
		per = min(p, 50)
	}
	last := max(1, (n+per-1)/per)
	pg := page{from: min(n, (num-1)*per), to: min(n, num*per)}
	mp := &schema.MetaPagination{Page: num, PerPage: per, LastPage: last, TotalEntries: n}
	if num > 1 {
		mp.PreviousPage = num - 1
	}
	if num < last {
		mp.NextPage = num + 1
	}
	pg.meta.Pagination = mp
	return pg, nil
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }
