package sandbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"

	"github.com/vmc-git/vmc-git/provider/sandbox"
)

const token = "sandbox-test-token"

func start(t *testing.T, opts sandbox.Options) (*sandbox.Server, string, *hcloud.Client) {
	t.Helper()
	if opts.Token == "" {
		opts.Token = token
	}
	if opts.ActionDuration == 0 {
		opts.ActionDuration = 20 * time.Millisecond
	}
	sb, err := sandbox.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	url, err := sb.Start("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	return sb, url, client(url, token)
}

func client(url, tok string) *hcloud.Client {
	return hcloud.NewClient(hcloud.WithEndpoint(url), hcloud.WithToken(tok),
		hcloud.WithPollOpts(hcloud.PollOpts{BackoffFunc: hcloud.ConstantBackoff(5 * time.Millisecond)}),
		hcloud.WithRetryOpts(hcloud.RetryOpts{BackoffFunc: hcloud.ConstantBackoff(time.Millisecond), MaxRetries: 3}))
}

func ptr[T any](v T) *T { return &v }

// clock is a sandbox clock a test can stop, so that an action it starts is
// still running at its next request however slow the machine is; running
// again, it is the wall clock.
type clock struct{ frozen atomic.Pointer[time.Time] }

func (c *clock) Now() time.Time {
	if f := c.frozen.Load(); f != nil {
		return *f
	}
	return time.Now()
}

func (c *clock) stop() { now := time.Now(); c.frozen.Store(&now) }
func (c *clock) run()  { c.frozen.Store(nil) }

func must[T any](t *testing.T) func(v T, _ *hcloud.Response, err error) T {
	return func(v T, _ *hcloud.Response, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func wait(t *testing.T, c *hcloud.Client, actions ...*hcloud.Action) {
	t.Helper()
	if err := c.Action.WaitFor(context.Background(), actions...); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, c *hcloud.Client, id int64) *hcloud.Server {
	t.Helper()
	s := must[*hcloud.Server](t)(c.Server.GetByID(context.Background(), id))
	if s == nil {
		t.Fatalf("server %d not found", id)
	}
	return s
}

// TestHcloudClient drives every endpoint with the real hcloud-go client.
func TestHcloudClient(t *testing.T) {
	var clk clock
	_, _, c := start(t, sandbox.Options{Now: clk.Now})
	ctx := context.Background()

	// Catalogue.
	st := must[*hcloud.ServerType](t)(c.ServerType.GetByName(ctx, "cx22"))
	if st == nil || st.Cores != 2 || st.Architecture != hcloud.ArchitectureX86 {
		t.Fatalf("server type cx22: %+v", st)
	}
	if got := must[*hcloud.ServerType](t)(c.ServerType.GetByID(ctx, st.ID)); got.Name != "cx22" {
		t.Fatalf("server type by id: %+v", got)
	}
	types, err := c.ServerType.All(ctx)
	if err != nil || len(types) < 10 {
		t.Fatalf("server types: %d %v", len(types), err)
	}
	arm := must[*hcloud.Image](t)(c.Image.GetByNameAndArchitecture(ctx, "ubuntu-24.04", hcloud.ArchitectureARM))
	if arm == nil || arm.Architecture != hcloud.ArchitectureARM {
		t.Fatalf("arm image: %+v", arm)
	}
	if got := must[*hcloud.Image](t)(c.Image.GetByID(ctx, arm.ID)); got.Name != "ubuntu-24.04" {
		t.Fatalf("image by id: %+v", got)
	}
	for _, name := range []string{"fsn1", "nbg1", "hel1", "ash"} {
		if l := must[*hcloud.Location](t)(c.Location.GetByName(ctx, name)); l == nil || l.Name != name {
			t.Fatalf("location %s: %+v", name, l)
		}
	}
	if l := must[*hcloud.Location](t)(c.Location.GetByName(ctx, "mars1")); l != nil {
		t.Fatalf("unknown location found: %+v", l)
	}

	// Resources create refers to.
	key := must[*hcloud.SSHKey](t)(c.SSHKey.Create(ctx, hcloud.SSHKeyCreateOpts{Name: "ops",
		PublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGj0Ue3vJ3xV1dBvSxqJj0c1cCk2U0h3xDkqUtqQdP4C ops@example",
		Labels:    map[string]string{"team": "ops"}}))
	if key.Fingerprint == "" || strings.Count(key.Fingerprint, ":") != 15 {
		t.Fatalf("ssh key fingerprint: %q", key.Fingerprint)
	}
	if k := must[*hcloud.SSHKey](t)(c.SSHKey.GetByName(ctx, "ops")); k == nil || k.ID != key.ID {
		t.Fatalf("ssh key by name: %+v", k)
	}
	if k := must[*hcloud.SSHKey](t)(c.SSHKey.GetByFingerprint(ctx, key.Fingerprint)); k == nil || k.ID != key.ID {
		t.Fatalf("ssh key by fingerprint: %+v", k)
	}
	if keys, err := c.SSHKey.AllWithOpts(ctx, hcloud.SSHKeyListOpts{ListOpts: hcloud.ListOpts{LabelSelector: "team=dev"}}); err != nil || len(keys) != 0 {
		t.Fatalf("ssh keys by selector: %v %v", keys, err)
	}
	fw := must[hcloud.FirewallCreateResult](t)(c.Firewall.Create(ctx, hcloud.FirewallCreateOpts{Name: "web"}))
	if f := must[*hcloud.Firewall](t)(c.Firewall.GetByName(ctx, "web")); f == nil || f.ID != fw.Firewall.ID {
		t.Fatalf("firewall by name: %+v", f)
	}
	_, ipnet, _ := net.ParseCIDR("10.0.0.0/16")
	_, subnet, _ := net.ParseCIDR("10.0.1.0/24")
	nw := must[*hcloud.Network](t)(c.Network.Create(ctx, hcloud.NetworkCreateOpts{Name: "backend", IPRange: ipnet,
		Subnets: []hcloud.NetworkSubnet{{Type: hcloud.NetworkSubnetTypeCloud, IPRange: subnet, NetworkZone: hcloud.NetworkZoneEUCentral}}}))
	if n := must[*hcloud.Network](t)(c.Network.GetByName(ctx, "backend")); n == nil || n.ID != nw.ID {
		t.Fatalf("network by name: %+v", n)
	}

	// Create: server initializing, then starting, then running.
	res := must[hcloud.ServerCreateResult](t)(c.Server.Create(ctx, hcloud.ServerCreateOpts{
		Name: "web-1", ServerType: &hcloud.ServerType{Name: "cax11"}, Image: &hcloud.Image{Name: "ubuntu-24.04"},
		Location: &hcloud.Location{Name: "hel1"}, SSHKeys: []*hcloud.SSHKey{key}, Labels: map[string]string{"role": "web"},
		Firewalls: []*hcloud.ServerCreateFirewall{{Firewall: *fw.Firewall}}, Networks: []*hcloud.Network{nw},
	}))
	if res.Server.Status != hcloud.ServerStatusInitializing || res.Action.Command != "create_server" ||
		res.Action.Status != hcloud.ActionStatusRunning || len(res.NextActions) != 1 || res.NextActions[0].Command != "start_server" ||
		res.RootPassword != "" || res.Server.Image.ID != arm.ID || !res.Server.Locked {
		t.Fatalf("create: %+v %+v %+v", res.Server, res.Action, res.NextActions)
	}
	id := res.Server.ID
	progress := -1
	if err := c.Action.WaitForFunc(ctx, func(a *hcloud.Action) error {
		if a.Status == hcloud.ActionStatusRunning && (a.Progress < 0 || a.Progress > 99) {
			return fmt.Errorf("running action with progress %d", a.Progress)
		}
		progress = max(progress, a.Progress)
		return nil
	}, append([]*hcloud.Action{res.Action}, res.NextActions...)...); err != nil {
		t.Fatal(err)
	}
	s := get(t, c, id)
	if s.Status != hcloud.ServerStatusRunning || s.Locked || progress != 100 || s.PublicNet.IPv4.IP == nil ||
		s.PublicNet.IPv6.Network == nil || s.Location.Name != "hel1" || s.ServerType.Name != "cax11" {
		t.Fatalf("after create: %+v (progress %d)", s, progress)
	}
	if byName := must[*hcloud.Server](t)(c.Server.GetByName(ctx, "web-1")); byName == nil || byName.ID != id {
		t.Fatalf("server by name: %+v", byName)
	}
	if byName := must[*hcloud.Server](t)(c.Server.Get(ctx, "web-1")); byName == nil || byName.ID != id {
		t.Fatalf("server get: %+v", byName)
	}

	// Every server action, through the server and action endpoints.
	for _, step := range []struct {
		name string
		do   func() (*hcloud.Action, *hcloud.Response, error)
		want func(*hcloud.Server) bool
	}{
		{"poweroff", func() (*hcloud.Action, *hcloud.Response, error) { return c.Server.Poweroff(ctx, s) },
			func(s *hcloud.Server) bool { return s.Status == hcloud.ServerStatusOff }},
		{"change_type", func() (*hcloud.Action, *hcloud.Response, error) {
			return c.Server.ChangeType(ctx, s, hcloud.ServerChangeTypeOpts{ServerType: &hcloud.ServerType{Name: "cax21"}, UpgradeDisk: true})
		}, func(s *hcloud.Server) bool { return s.ServerType.Name == "cax21" && s.PrimaryDiskSize == 80 }},
		{"poweron", func() (*hcloud.Action, *hcloud.Response, error) { return c.Server.Poweron(ctx, s) },
			func(s *hcloud.Server) bool { return s.Status == hcloud.ServerStatusRunning }},
		{"reboot", func() (*hcloud.Action, *hcloud.Response, error) { return c.Server.Reboot(ctx, s) },
			func(s *hcloud.Server) bool { return s.Status == hcloud.ServerStatusRunning }},
		{"reset", func() (*hcloud.Action, *hcloud.Response, error) { return c.Server.Reset(ctx, s) },
			func(s *hcloud.Server) bool { return s.Status == hcloud.ServerStatusRunning }},
		{"shutdown", func() (*hcloud.Action, *hcloud.Response, error) { return c.Server.Shutdown(ctx, s) },
			func(s *hcloud.Server) bool { return s.Status == hcloud.ServerStatusOff }},
		{"rebuild", func() (*hcloud.Action, *hcloud.Response, error) {
			r, resp, err := c.Server.RebuildWithResult(ctx, s, hcloud.ServerRebuildOpts{Image: &hcloud.Image{Name: "debian-12"}})
			return r.Action, resp, err
		}, func(s *hcloud.Server) bool {
			return s.Image.Name == "debian-12" && s.Status == hcloud.ServerStatusRunning
		}},
		{"change_protection", func() (*hcloud.Action, *hcloud.Response, error) {
			return c.Server.ChangeProtection(ctx, s, hcloud.ServerChangeProtectionOpts{Delete: ptr(true), Rebuild: ptr(true)})
		}, func(s *hcloud.Server) bool { return s.Protection.Delete && s.Protection.Rebuild }},
	} {
		a, _, err := step.do()
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if a.Status != hcloud.ActionStatusRunning || len(a.Resources) != 1 || a.Resources[0].ID != id {
			t.Fatalf("%s: action %+v", step.name, a)
		}
		wait(t, c, a)
		if got := must[*hcloud.Action](t)(c.Server.Action.GetByID(ctx, a.ID)); got == nil || got.Status != hcloud.ActionStatusSuccess {
			t.Fatalf("%s: /servers/{id}/actions/{id}: %+v", step.name, got)
		}
		if got := must[*hcloud.Action](t)(c.Action.GetByID(ctx, a.ID)); got == nil || got.Finished.IsZero() {
			t.Fatalf("%s: /actions/{id}: %+v", step.name, got)
		}
		if s = get(t, c, id); !step.want(s) {
			t.Fatalf("%s: server after: %+v", step.name, s)
		}
	}
	all, err := c.Server.Action.AllFor(ctx, s, hcloud.ActionListOpts{})
	if err != nil || len(all) != 10 {
		t.Fatalf("server actions: %d %v", len(all), err)
	}

	// Update name and labels.
	s = must[*hcloud.Server](t)(c.Server.Update(ctx, s, hcloud.ServerUpdateOpts{Name: "web-2", Labels: map[string]string{"a": "b"}}))
	if s.Name != "web-2" || len(s.Labels) != 1 || s.Labels["a"] != "b" {
		t.Fatalf("update: %+v", s)
	}

	// Delete: protected first, then deleting, then gone.
	if _, _, err := c.Server.DeleteWithResult(ctx, s); !hcloud.IsError(err, hcloud.ErrorCodeProtected) {
		t.Fatalf("delete protected: %v", err)
	}
	wait(t, c, must[*hcloud.Action](t)(c.Server.ChangeProtection(ctx, s, hcloud.ServerChangeProtectionOpts{Delete: ptr(false), Rebuild: ptr(false)})))
	clk.stop()
	del := must[*hcloud.ServerDeleteResult](t)(c.Server.DeleteWithResult(ctx, s))
	if got := get(t, c, id); got.Status != hcloud.ServerStatusDeleting {
		t.Fatalf("deleting: %s", got.Status)
	}
	clk.run()
	wait(t, c, del.Action)
	if got := must[*hcloud.Server](t)(c.Server.GetByID(ctx, id)); got != nil {
		t.Fatalf("deleted server still there: %+v", got)
	}
	if got := must[*hcloud.Action](t)(c.Action.GetByID(ctx, del.Action.ID)); got == nil || got.Command != "delete_server" {
		t.Fatalf("delete action after delete: %+v", got)
	}
}

func TestErrorCodes(t *testing.T) {
	// The clock stands still from the create until the server has been
	// found locked by it.
	var clk clock
	clk.stop()
	sb, url, c := start(t, sandbox.Options{ActionDuration: 200 * time.Millisecond, Now: clk.Now})
	ctx := context.Background()
	create := func(name, typ string) (hcloud.ServerCreateResult, error) {
		r, _, err := c.Server.Create(ctx, hcloud.ServerCreateOpts{Name: name, ServerType: &hcloud.ServerType{Name: typ},
			Image: &hcloud.Image{Name: "ubuntu-24.04"}, StartAfterCreate: ptr(false)})
		return r, err
	}
	res, err := create("a", "cx22")
	if err != nil {
		t.Fatal(err)
	}
	if res.RootPassword == "" || len(res.NextActions) != 0 {
		t.Fatalf("create without ssh keys and start: %+v", res)
	}
	s := res.Server

	check := func(name string, err error, code hcloud.ErrorCode, status int) {
		t.Helper()
		var e hcloud.Error
		if !hcloud.IsError(err, code) {
			t.Fatalf("%s: %v, want %s", name, err, code)
		}
		e = err.(hcloud.Error)
		if e.Response().StatusCode != status {
			t.Fatalf("%s: HTTP %d, want %d", name, e.Response().StatusCode, status)
		}
	}
	_, err = create("a", "cx22")
	check("duplicate name", err, hcloud.ErrorCodeUniquenessError, 409)
	_, err = create("b", "cx999")
	check("unknown type", err, hcloud.ErrorCodeInvalidInput, 400)
	if d, ok := err.(hcloud.Error).Details.(hcloud.ErrorDetailsInvalidInput); !ok || d.Fields[0].Name != "server_type" {
		t.Fatalf("invalid_input details: %#v", err.(hcloud.Error).Details)
	}
	_, err = create("bad_name", "cx22")
	check("bad name", err, hcloud.ErrorCodeInvalidInput, 400)
	_, _, err = c.Server.Poweron(ctx, &hcloud.Server{ID: 999})
	check("missing server", err, hcloud.ErrorCodeNotFound, 404)
	_, _, err = c.Server.Poweron(ctx, s) // create_server still running
	check("locked", err, hcloud.ErrorCodeLocked, 423)
	clk.run()
	wait(t, c, res.Action)
	wait(t, c, must[*hcloud.Action](t)(c.Server.Poweron(ctx, s)))
	_, _, err = c.Server.ChangeType(ctx, s, hcloud.ServerChangeTypeOpts{ServerType: &hcloud.ServerType{Name: "cx32"}})
	check("change type while running", err, hcloud.ErrorCodeServerNotStopped, 409)
	_, _, err = c.Server.Update(ctx, s, hcloud.ServerUpdateOpts{Labels: map[string]string{"bad key": "v"}})
	check("bad label", err, hcloud.ErrorCodeInvalidInput, 400)
	if _, err := c.Server.AllWithOpts(ctx, hcloud.ServerListOpts{ListOpts: hcloud.ListOpts{LabelSelector: "a in (b"}}); !hcloud.IsError(err, hcloud.ErrorCodeInvalidInput) {
		t.Fatalf("bad selector: %v", err)
	}

	// Unauthorized: missing and wrong token.
	_, _, err = client(url, "wrong").Server.GetByID(ctx, s.ID)
	check("wrong token", err, hcloud.ErrorCodeUnauthorized, 401)
	_, _, err = client(url, "").Server.GetByID(ctx, s.ID)
	check("no token", err, hcloud.ErrorCodeUnauthorized, 401)

	// Injected faults.
	sb.Inject(sandbox.Fault{Path: "/servers", Code: "rate_limit_exceeded", Times: 2})
	if _, _, err := c.Server.GetByID(ctx, s.ID); err != nil {
		t.Fatalf("hcloud-go should retry rate_limit_exceeded: %v", err)
	}
	sb.Inject(sandbox.Fault{Path: "/servers", Code: "rate_limit_exceeded", Times: 4}) // 1 + 3 retries
	_, _, err = c.Server.GetByID(ctx, s.ID)
	check("rate limited", err, hcloud.ErrorCodeRateLimitExceeded, 429)
	sb2, _, c2 := start(t, sandbox.Options{})
	sb2.Inject(sandbox.Fault{Method: "GET", Code: "server_error", Message: "boom"})
	_, _, err = c2.Server.GetByID(ctx, 1)
	check("500", err, hcloud.ErrorCodeServerError, 500)
	sb2.Inject(sandbox.Fault{Method: "GET", Status: 500})
	if _, _, err = c2.Server.GetByID(ctx, 1); err == nil || !strings.Contains(err.Error(), "500") {
		t.Fatalf("plain 500: %v", err)
	}

	// Raw HTTP: bad JSON, unknown fields, unknown endpoint.
	for _, r := range []struct{ method, path, body, code string }{
		{"POST", "/servers", "{", "json_error"},
		{"POST", "/servers", `{"name":"x","server_type":"cx22","image":"debian-12","colour":"red"}`, "json_error"},
		{"GET", "/load_balancers", "", "not_found"},
		{"POST", fmt.Sprintf("/servers/%d/actions/launch_missiles", s.ID), "", "not_found"},
		{"GET", "/actions", "", "invalid_input"},
		{"GET", "/servers?per_page=0", "", "invalid_input"},
	} {
		req, _ := http.NewRequest(r.method, url+r.path, strings.NewReader(r.body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body schema.ErrorResponse
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if body.Error.Code != r.code || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: %d %+v, want %s", r.method, r.path, resp.StatusCode, body, r.code)
		}
	}
}

func TestPagination(t *testing.T) {
	_, url, c := start(t, sandbox.Options{ActionDuration: time.Millisecond})
	ctx := context.Background()
	for i := range 7 {
		if _, _, err := c.Server.Create(ctx, hcloud.ServerCreateOpts{Name: fmt.Sprintf("p%d", i),
			ServerType: &hcloud.ServerType{Name: "cx22"}, Image: &hcloud.Image{Name: "debian-12"}}); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	for page := 1; ; page++ {
		servers, resp, err := c.Server.List(ctx, hcloud.ServerListOpts{ListOpts: hcloud.ListOpts{Page: page, PerPage: 3}})
		if err != nil {
			t.Fatal(err)
		}
		p := resp.Meta.Pagination
		if p == nil || p.Page != page || p.PerPage != 3 || p.LastPage != 3 || p.TotalEntries != 7 {
			t.Fatalf("page %d meta: %+v", page, p)
		}
		for _, s := range servers {
			names = append(names, s.Name)
		}
		if p.NextPage == 0 {
			if page != 3 || len(servers) != 1 || p.PreviousPage != 2 {
				t.Fatalf("last page: %d items, meta %+v", len(servers), p)
			}
			break
		}
	}
	if strings.Join(names, ",") != "p0,p1,p2,p3,p4,p5,p6" {
		t.Fatalf("pages: %v", names)
	}
	all, err := c.Server.AllWithOpts(ctx, hcloud.ServerListOpts{ListOpts: hcloud.ListOpts{PerPage: 2}})
	if err != nil || len(all) != 7 {
		t.Fatalf("all: %d %v", len(all), err)
	}
	// per_page above 50 is capped; a page past the end is empty.
	req, _ := http.NewRequest("GET", url+"/servers?per_page=500&page=9", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		schema.ServerListResponse
		schema.MetaResponse
	}
	json.NewDecoder(resp.Body).Decode(&body)
	if len(body.Servers) != 0 || body.Meta.Pagination.PerPage != 50 || body.Meta.Pagination.LastPage != 1 {
		t.Fatalf("capped/empty page: %+v %+v", body.Servers, body.Meta.Pagination)
	}
}

func TestPersistence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	ctx := context.Background()
	opts := sandbox.Options{Token: token, StatePath: path, ActionDuration: 300 * time.Millisecond}

	sb, url, c := start(t, opts)
	res := must[hcloud.ServerCreateResult](t)(c.Server.Create(ctx, hcloud.ServerCreateOpts{Name: "keep",
		ServerType: &hcloud.ServerType{Name: "cx22"}, Image: &hcloud.Image{Name: "debian-12"},
		Labels: map[string]string{"env": "prod"}, StartAfterCreate: ptr(false)}))
	must[*hcloud.SSHKey](t)(c.SSHKey.Create(ctx, hcloud.SSHKeyCreateOpts{Name: "k",
		PublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGj0Ue3vJ3xV1dBvSxqJj0c1cCk2U0h3xDkqUtqQdP4C"}))
	_ = url
	// The state file is written before the response: it is complete JSON now.
	b, err := os.ReadFile(path)
	if err != nil || !json.Valid(b) || !bytes.Contains(b, []byte(`"keep"`)) {
		t.Fatalf("state file after create: %v %s", err, b)
	}
	if err := sb.Close(); err != nil {
		t.Fatal(err)
	}

	// Restart while create_server is still running: it finishes on time.
	sb2, _, c2 := start(t, opts)
	defer sb2.Close()
	s := must[*hcloud.Server](t)(c2.Server.GetByName(ctx, "keep"))
	if s == nil || s.ID != res.Server.ID || s.Labels["env"] != "prod" || s.Created.IsZero() {
		t.Fatalf("server after restart: %+v", s)
	}
	wait(t, c2, res.Action)
	if s = get(t, c2, s.ID); s.Status != hcloud.ServerStatusOff {
		t.Fatalf("status after restart and wait: %s", s.Status)
	}
	if k := must[*hcloud.SSHKey](t)(c2.SSHKey.GetByName(ctx, "k")); k == nil {
		t.Fatal("ssh key lost across restart")
	}
	// Ids continue; names stay unique.
	res2 := must[hcloud.ServerCreateResult](t)(c2.Server.Create(ctx, hcloud.ServerCreateOpts{Name: "next",
		ServerType: &hcloud.ServerType{Name: "cx22"}, Image: &hcloud.Image{Name: "debian-12"}}))
	if res2.Server.ID <= res.Server.ID || res2.Action.ID <= res.Action.ID {
		t.Fatalf("ids reused after restart: %d/%d vs %d/%d", res2.Server.ID, res2.Action.ID, res.Server.ID, res.Action.ID)
	}
	if _, _, err := c2.Server.Create(ctx, hcloud.ServerCreateOpts{Name: "keep",
		ServerType: &hcloud.ServerType{Name: "cx22"}, Image: &hcloud.Image{Name: "debian-12"}}); !hcloud.IsError(err, hcloud.ErrorCodeUniquenessError) {
		t.Fatalf("duplicate after restart: %v", err)
	}
	// No temporary files are left behind.
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("state dir: %v", entries)
	}
	// A corrupt state file is refused, not silently replaced.
	os.WriteFile(path, []byte("{"), 0o600)
	if _, err := sandbox.New(opts); err == nil {
		t.Fatal("corrupt state file accepted")
	}
}

func TestDropFault(t *testing.T) {
	sb, _, c := start(t, sandbox.Options{})
	ctx := context.Background()
	sb.Inject(sandbox.Fault{Method: "POST", Path: "/servers", Drop: true})
	_, _, err := c.Server.Create(ctx, hcloud.ServerCreateOpts{Name: "d", ServerType: &hcloud.ServerType{Name: "cx22"}, Image: &hcloud.Image{Name: "debian-12"}})
	if err == nil || !(strings.Contains(err.Error(), "EOF") || strings.Contains(err.Error(), "reset")) {
		t.Fatalf("dropped connection: %v", err)
	}
	if s := must[*hcloud.Server](t)(c.Server.GetByName(ctx, "d")); s == nil {
		t.Fatal("dropped request was not carried out")
	}
}

func TestStartLoopbackOnly(t *testing.T) {
	sb, err := sandbox.New(sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:0", "example.com:0"} {
		if _, err := sb.Start(addr); err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("Start(%q) = %v, want loopback refusal", addr, err)
		}
	}
}

func TestHandlerWithoutListener(t *testing.T) {
	sb, err := sandbox.New(sandbox.Options{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{h: http.Header{}}
	req, _ := http.NewRequest("GET", "/v1/locations?name=fsn1", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	sb.Handler().ServeHTTP(rec, req)
	var body schema.LocationListResponse
	if err := json.Unmarshal(rec.body.Bytes(), &body); err != nil || len(body.Locations) != 1 || body.Locations[0].City != "Falkenstein" {
		t.Fatalf("locations: %d %s %v", rec.code, rec.body.String(), err)
	}
}

type recorder struct {
	h    http.Header
	code int
	body bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.h }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(c int)           { r.code = c }

var _ io.Writer = (*recorder)(nil)
