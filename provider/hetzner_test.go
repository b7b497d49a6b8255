package provider_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/vmc-git/vmc-git/internal/nettest"
	"github.com/vmc-git/vmc-git/provider"
	"github.com/vmc-git/vmc-git/provider/sandbox"
)

const testToken = "s3cr3t-T0KEN-do-not-leak-0123456789abcdef"

// env is a sandbox on loopback with a provider and a raw hcloud client
// talking to it.
type env struct {
	sb  *sandbox.Server
	url string
	p   *provider.Hetzner
	hc  *hcloud.Client
}

func newEnv(t *testing.T, opts sandbox.Options) *env {
	t.Helper()
	if opts.Token == "" {
		opts.Token = testToken
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
	return &env{sb: sb, url: url, p: newProvider(t, url, testToken), hc: hcloud.NewClient(
		hcloud.WithEndpoint(url), hcloud.WithToken(testToken),
		hcloud.WithPollOpts(hcloud.PollOpts{BackoffFunc: hcloud.ConstantBackoff(5 * time.Millisecond)}),
		hcloud.WithRetryOpts(hcloud.RetryOpts{BackoffFunc: hcloud.ConstantBackoff(time.Millisecond), MaxRetries: 3}),
	)}
}

func newProvider(t *testing.T, url, token string) *provider.Hetzner {
	t.Helper()
	p, err := provider.New(provider.Config{
		Token: provider.Secret(token), Endpoint: url,
		PollInterval: 5 * time.Millisecond, MaxRetries: 12,
		RetryBase: 2 * time.Millisecond, RetryMax: 40 * time.Millisecond,
		RequestTimeout: 5 * time.Second, Application: "vmc-git-test/0",
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func ptr[T any](v T) *T { return &v }

var extra = map[string]string{provider.LabelLedger: "github.com_acme_infra", provider.LabelPlan: "p-1"}

// apply runs a and fails the test unless it succeeds.
func (e *env) apply(t *testing.T, a provider.Action) provider.Result {
	t.Helper()
	res, err := e.p.Apply(context.Background(), a, extra)
	if err != nil {
		t.Fatalf("apply %s %s: %v", a.Op, a.Server, err)
	}
	if res.Status != provider.StatusSucceeded {
		t.Fatalf("apply %s %s: status %s: %s", a.Op, a.Server, res.Status, res.Error)
	}
	return res
}

func (e *env) create(t *testing.T, name string) provider.Result {
	t.Helper()
	return e.apply(t, provider.Action{Op: provider.OpCreate, Server: name, ServerType: "cx22", Image: "ubuntu-24.04"})
}

func TestApplyLifecycle(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	ctx := context.Background()
	key, _, err := e.hc.SSHKey.Create(ctx, hcloud.SSHKeyCreateOpts{Name: "ops",
		PublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGj0Ue3vJ3xV1dBvSxqJj0c1cCk2U0h3xDkqUtqQdP4C ops@example"})
	if err != nil {
		t.Fatal(err)
	}
	fw, _, err := e.hc.Firewall.Create(ctx, hcloud.FirewallCreateOpts{Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	_, ipnet, _ := net.ParseCIDR("10.0.0.0/16")
	_, subnet, _ := net.ParseCIDR("10.0.1.0/24")
	nw, _, err := e.hc.Network.Create(ctx, hcloud.NetworkCreateOpts{Name: "backend", IPRange: ipnet,
		Subnets: []hcloud.NetworkSubnet{{Type: hcloud.NetworkSubnetTypeCloud, IPRange: subnet, NetworkZone: hcloud.NetworkZoneEUCentral}}})
	if err != nil {
		t.Fatal(err)
	}

	res := e.apply(t, provider.Action{
		Op: provider.OpCreate, Server: "web-1", ServerType: "cx22", Image: "ubuntu-24.04", Location: "nbg1",
		Labels: map[string]string{"role": "web"}, SSHKeys: []string{"ops"}, Firewalls: []string{"web"},
		Networks: []string{"backend"}, UserData: "#cloud-config\n", PublicNet: &provider.PublicNet{IPv4: true, IPv6: true},
	})
	if len(res.ActionIDs) != 2 {
		t.Errorf("create: action ids %v, want create_server and start_server", res.ActionIDs)
	}
	o := res.Observed
	if o == nil || o.Status != "running" || o.ServerType != "cx22" || o.Image != "ubuntu-24.04" || o.Location != "nbg1" ||
		o.IPv4 == "" || o.IPv6 == "" || o.Labels["role"] != "web" || o.Labels[provider.LabelLedger] != extra[provider.LabelLedger] ||
		o.Labels[provider.LabelPlan] != "p-1" || o.Created.IsZero() {
		t.Fatalf("create: observed %+v", o)
	}
	hs, _, err := e.hc.Server.GetByID(ctx, o.ID)
	if err != nil || len(hs.PublicNet.Firewalls) != 1 || hs.PublicNet.Firewalls[0].Firewall.ID != fw.Firewall.ID ||
		len(hs.PrivateNet) != 1 || hs.PrivateNet[0].Network.ID != nw.ID {
		t.Fatalf("create: firewalls/networks not attached: %+v %v", hs, err)
	}
	_ = key

	step := func(a provider.Action, check func(*provider.Server) bool) {
		t.Helper()
		a.Server = "web-1"
		res := e.apply(t, a)
		if a.Op != provider.OpLabel && a.Op != provider.OpRename && len(res.ActionIDs) != 1 {
			t.Errorf("%s: action ids %v", a.Op, res.ActionIDs)
		}
		if !check(res.Observed) {
			t.Fatalf("%s: observed %+v", a.Op, res.Observed)
		}
	}
	step(provider.Action{Op: provider.OpPoweroff}, func(s *provider.Server) bool { return s.Status == "off" })
	step(provider.Action{Op: provider.OpResize, ServerType: "cx32", UpgradeDisk: true},
		func(s *provider.Server) bool { return s.ServerType == "cx32" && s.Status == "off" })
	step(provider.Action{Op: provider.OpPoweron}, func(s *provider.Server) bool { return s.Status == "running" })
	step(provider.Action{Op: provider.OpReboot}, func(s *provider.Server) bool { return s.Status == "running" })
	step(provider.Action{Op: provider.OpReset}, func(s *provider.Server) bool { return s.Status == "running" })
	step(provider.Action{Op: provider.OpShutdown}, func(s *provider.Server) bool { return s.Status == "off" })
	step(provider.Action{Op: provider.OpRebuild, Image: "debian-12"},
		func(s *provider.Server) bool { return s.Image == "debian-12" && s.Status == "running" })
	step(provider.Action{Op: provider.OpLabel, Labels: map[string]string{"role": "db", "tier": ""}}, func(s *provider.Server) bool {
		return len(s.Labels) == 4 && s.Labels["role"] == "db" && s.Labels["tier"] == "" && s.Labels[provider.LabelPlan] == "p-1"
	})
	step(provider.Action{Op: provider.OpProtect, Delete: ptr(true), Rebuild: ptr(true)},
		func(s *provider.Server) bool { return s.Protection.Delete && s.Protection.Rebuild })

	// Protected: refused, definitely.
	res, err = e.p.Apply(ctx, provider.Action{Op: provider.OpDelete, Server: "web-1"}, nil)
	var apiErr *provider.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != "protected" || res.Status != provider.StatusFailed || res.Error == "" {
		t.Fatalf("delete protected: %+v, %v", res, err)
	}
	step(provider.Action{Op: provider.OpProtect, Delete: ptr(false), Rebuild: ptr(false)},
		func(s *provider.Server) bool { return !s.Protection.Delete && !s.Protection.Rebuild })

	res = e.apply(t, provider.Action{Op: provider.OpRename, Server: "web-1", NewName: "web-2"})
	if res.Observed == nil || res.Observed.Name != "web-2" {
		t.Fatalf("rename: %+v", res.Observed)
	}
	if _, err := e.p.Server(ctx, "web-1"); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("old name after rename: %v", err)
	}
	res = e.apply(t, provider.Action{Op: provider.OpDelete, Server: "web-2"})
	if res.Observed != nil || len(res.ActionIDs) != 1 {
		t.Fatalf("delete: %+v", res)
	}
	if _, err := e.p.Server(ctx, "web-2"); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}

func TestApplyWaitsForSlowActions(t *testing.T) {
	e := newEnv(t, sandbox.Options{ActionDuration: 150 * time.Millisecond})
	res := e.create(t, "slow")
	if res.Observed.Status != "running" {
		t.Fatalf("create returned before start_server finished: %s", res.Observed.Status)
	}
	res = e.apply(t, provider.Action{Op: provider.OpPoweroff, Server: "slow"})
	if res.Observed.Status != "off" {
		t.Fatalf("poweroff returned before the action finished: %s", res.Observed.Status)
	}
	a, _, err := e.hc.Action.GetByID(context.Background(), res.ActionIDs[0])
	if err != nil || a.Status != hcloud.ActionStatusSuccess || a.Progress != 100 {
		t.Fatalf("action after Apply: %+v %v", a, err)
	}
}

func TestApplyCreateWithoutStart(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	res := e.apply(t, provider.Action{Op: provider.OpCreate, Server: "cold", ServerType: "cax11", Image: "debian-12",
		Location: "hel1", StartAfterCreate: ptr(false), PublicNet: &provider.PublicNet{IPv6: true}})
	o := res.Observed
	if len(res.ActionIDs) != 1 || o.Status != "off" || o.IPv4 != "" || o.IPv6 == "" || o.ServerType != "cax11" {
		t.Fatalf("create without start: %+v %+v", res, o)
	}
}

func TestApplyRetriesLocked(t *testing.T) {
	// The sandbox's clock stands still from the reboot until the second
	// action has been refused, so the reboot is still running then however
	// long the machine takes between the two requests.
	var frozen atomic.Pointer[time.Time]
	clock := func() time.Time {
		if f := frozen.Load(); f != nil {
			return *f
		}
		return time.Now()
	}
	e := newEnv(t, sandbox.Options{ActionDuration: 60 * time.Millisecond, Now: clock})
	e.create(t, "busy")
	ctx := context.Background()
	hs, _, err := e.hc.Server.GetByName(ctx, "busy")
	if err != nil {
		t.Fatal(err)
	}
	// Start an action behind vmc-git's back; the server is locked while it runs.
	now := time.Now()
	frozen.Store(&now)
	if _, _, err := e.hc.Server.Reboot(ctx, hs); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.hc.Server.Poweroff(ctx, hs); !hcloud.IsError(err, hcloud.ErrorCodeLocked) {
		t.Fatalf("second action while locked: %v, want locked", err)
	}
	frozen.Store(nil)
	res := e.apply(t, provider.Action{Op: provider.OpPoweroff, Server: "busy"})
	if res.Observed.Status != "off" {
		t.Fatalf("after locked retry: %+v", res.Observed)
	}
}

func TestApplyRetriesRateLimit(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	e.create(t, "rl")
	e.sb.Inject(sandbox.Fault{Method: "POST", Path: "/servers/", Code: "rate_limit_exceeded", Times: 3})
	e.sb.Inject(sandbox.Fault{Method: "GET", Path: "/servers", Code: "rate_limit_exceeded", Times: 2})
	e.apply(t, provider.Action{Op: provider.OpReboot, Server: "rl"})

	// Without end: refused for good, and Apply says so.
	e.sb.Inject(sandbox.Fault{Method: "POST", Path: "/servers/", Code: "rate_limit_exceeded", Times: -1})
	res, err := e.p.Apply(context.Background(), provider.Action{Op: provider.OpReboot, Server: "rl"}, nil)
	var apiErr *provider.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != "rate_limit_exceeded" || apiErr.StatusCode != 429 || res.Status != provider.StatusFailed {
		t.Fatalf("rate limited for good: %+v %v", res, err)
	}
	if !strings.Contains(err.Error(), "after 12 retries") {
		t.Errorf("error does not say it retried: %v", err)
	}
}

func TestApplyRejections(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	ctx := context.Background()
	e.create(t, "dup")
	var apiErr *provider.APIError

	res, err := e.p.Apply(ctx, provider.Action{Op: provider.OpCreate, Server: "dup", ServerType: "cx22", Image: "ubuntu-24.04"}, extra)
	if !errors.As(err, &apiErr) || apiErr.Code != "uniqueness_error" || res.Status != provider.StatusFailed {
		t.Fatalf("duplicate name: %+v %v", res, err)
	}
	res, err = e.p.Apply(ctx, provider.Action{Op: provider.OpCreate, Server: "x", ServerType: "cx999", Image: "ubuntu-24.04"}, extra)
	if !errors.As(err, &apiErr) || apiErr.Code != "invalid_input" || res.Status != provider.StatusFailed {
		t.Fatalf("unknown server type: %+v %v", res, err)
	}
	res, err = e.p.Apply(ctx, provider.Action{Op: provider.OpResize, Server: "dup", ServerType: "cx32"}, nil)
	if !errors.As(err, &apiErr) || apiErr.Code != "server_not_stopped" {
		t.Fatalf("resize running server: %+v %v", res, err)
	}
	res, err = e.p.Apply(ctx, provider.Action{Op: provider.OpPoweron, Server: "missing"}, nil)
	if !errors.Is(err, provider.ErrNotFound) || res.Status != provider.StatusFailed {
		t.Fatalf("missing server: %+v %v", res, err)
	}
	res, err = e.p.Apply(ctx, provider.Action{Op: provider.OpCreate, Server: "y", ServerType: "cx22", Image: "ubuntu-24.04", SSHKeys: []string{"nobody"}}, nil)
	if !errors.Is(err, provider.ErrNotFound) || !strings.Contains(err.Error(), `ssh key "nobody"`) {
		t.Fatalf("missing ssh key: %+v %v", res, err)
	}
	res, err = e.p.Apply(ctx, provider.Action{Op: provider.OpReboot, Server: "a/b"}, nil)
	if !errors.Is(err, provider.ErrInvalidAction) || res.Status != provider.StatusFailed {
		t.Fatalf("invalid action: %+v %v", res, err)
	}
	res, err = e.p.Apply(ctx, provider.Action{Op: provider.OpCreate, Server: "z", ServerType: "cx22", Image: "ubuntu-24.04"},
		map[string]string{provider.LabelLedger: "github.com/acme/infra"})
	if !errors.Is(err, provider.ErrInvalidAction) || !strings.Contains(err.Error(), "extra labels") {
		t.Fatalf("invalid extra label: %+v %v", res, err)
	}
	if _, err := e.p.Server(ctx, "z"); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("rejected create left a server: %v", err)
	}
}

func TestApplyUnknownOutcome(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	ctx := context.Background()

	// The connection drops after the sandbox carried the request out.
	e.sb.Inject(sandbox.Fault{Method: "POST", Path: "/servers", Drop: true})
	res, err := e.p.Apply(ctx, provider.Action{Op: provider.OpCreate, Server: "ghost", ServerType: "cx22", Image: "ubuntu-24.04"}, extra)
	if err != nil || res.Status != provider.StatusUnknown || res.Error == "" || len(res.ActionIDs) != 0 {
		t.Fatalf("dropped create: %+v %v", res, err)
	}
	if s, err := e.p.Server(ctx, "ghost"); err != nil || s.Labels[provider.LabelPlan] != "p-1" {
		t.Fatalf("the create did happen; reconciling must find it: %+v %v", s, err)
	}

	// A 500 on a change leaves the outcome unknown, with a clear message.
	e.sb.Inject(sandbox.Fault{Method: "POST", Path: "/servers/", Status: 500})
	res, err = e.p.Apply(ctx, provider.Action{Op: provider.OpPoweroff, Server: "ghost"}, nil)
	if err != nil || res.Status != provider.StatusUnknown || !strings.Contains(res.Error, "500") {
		t.Fatalf("500 on poweroff: %+v %v", res, err)
	}

	// Context ends while waiting: unknown, with the action ids to reconcile.
	// The context ends at the first poll of the actions, so the create
	// itself has answered however slow the machine is, and the actions
	// (an hour long) cannot have finished.
	slowSB, err := sandbox.New(sandbox.Options{Token: testToken, ActionDuration: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	slowSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/actions") {
			cancel()
		}
		slowSB.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(slowSrv.Close)
	slow := newProvider(t, slowSrv.URL+"/v1", testToken)
	res, err = slow.Apply(cctx, provider.Action{Op: provider.OpCreate, Server: "late", ServerType: "cx22", Image: "ubuntu-24.04"}, nil)
	if err != nil || res.Status != provider.StatusUnknown || len(res.ActionIDs) != 2 || !strings.Contains(res.Error, "waiting for actions") {
		t.Fatalf("canceled wait: %+v %v", res, err)
	}
}

func TestServerErrors(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	ctx := context.Background()
	e.sb.Inject(sandbox.Fault{Method: "GET", Path: "/servers", Status: 500, Code: "server_error", Message: "backend exploded"})
	_, err := e.p.Server(ctx, "x")
	if err == nil || !strings.Contains(err.Error(), "backend exploded (server_error)") || !strings.Contains(err.Error(), `get server "x"`) {
		t.Fatalf("500: %v", err)
	}
	e.sb.Inject(sandbox.Fault{Method: "GET", Path: "/servers", Status: 500})
	if _, err := e.p.Servers(ctx, ""); err == nil || !strings.Contains(err.Error(), "status code 500") {
		t.Fatalf("500 without body: %v", err)
	}
	if _, err := e.p.Servers(ctx, "env in (a"); err == nil || !strings.Contains(err.Error(), "invalid_input") {
		t.Fatalf("bad selector: %v", err)
	}
}

func TestTokenNeverLeaks(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	ctx := context.Background()
	wrong := newProvider(t, e.url, testToken+"-wrong")
	var errs []string
	_, err := wrong.Server(ctx, "x")
	if err == nil || !strings.Contains(err.Error(), "unauthorized") {
		t.Fatalf("wrong token: %v", err)
	}
	errs = append(errs, err.Error())
	res, err := wrong.Apply(ctx, provider.Action{Op: provider.OpCreate, Server: "x", ServerType: "cx22", Image: "ubuntu-24.04"}, nil)
	if err == nil {
		t.Fatal("create with wrong token succeeded")
	}
	errs = append(errs, err.Error(), res.Error)
	_, err = wrong.Servers(ctx, "")
	errs = append(errs, err.Error())

	// Unreachable endpoint: the error names the address, not the token.
	addr := nettest.RefusedAddr(t)
	_, err = newProvider(t, "http://"+addr+"/v1", testToken).Server(ctx, "x")
	errs = append(errs, err.Error())

	cfg := provider.Config{Token: testToken, Endpoint: e.url}
	j, _ := json.Marshal(cfg)
	errs = append(errs, fmt.Sprintf("%v %+v %#v %s %q %x", cfg, cfg, cfg, cfg.Token, cfg.Token, cfg.Token), string(j))
	for _, s := range errs {
		if strings.Contains(s, testToken) || strings.Contains(s, "s3cr3t") {
			t.Errorf("token leaked: %s", s)
		}
	}
}

func TestUnreachableEndpointFailsFast(t *testing.T) {
	ctx := context.Background()
	closed := nettest.RefusedAddr(t)
	p := newProvider(t, "http://"+closed+"/v1", testToken)
	_, err := p.Server(ctx, "x")
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("closed port: %v", err)
	}
	res, err := p.Apply(ctx, provider.Action{Op: provider.OpReboot, Server: "x"}, nil)
	if err == nil || res.Status != provider.StatusFailed {
		t.Fatalf("apply against closed port: %+v %v", res, err)
	}

	// A server that accepts and never answers: bounded by the request
	// timeout and the retry budget.
	hang, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hang.Close()
	go func() {
		for {
			c, err := hang.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	hp, err := provider.New(provider.Config{Token: testToken, Endpoint: "http://" + hang.Addr().String() + "/v1",
		RequestTimeout: 100 * time.Millisecond, MaxRetries: 1, RetryBase: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = hp.Server(ctx, "x")
	if err == nil || !strings.Contains(err.Error(), "no answer within 100ms") {
		t.Fatalf("hanging endpoint: %v", err)
	}
}

func TestServersPaginationAndSelectors(t *testing.T) {
	e := newEnv(t, sandbox.Options{ActionDuration: time.Millisecond})
	ctx := context.Background()
	const n = 57 // more than one page of 50
	for i := range n {
		labels := map[string]string{"env": "prod", "idx": fmt.Sprint(i)}
		if i%2 == 1 {
			labels["env"] = "dev"
		}
		if i%3 == 0 {
			labels["tier"] = "web"
		}
		_, _, err := e.hc.Server.Create(ctx, hcloud.ServerCreateOpts{Name: fmt.Sprintf("s%02d", i),
			ServerType: &hcloud.ServerType{Name: "cpx11"}, Image: &hcloud.Image{Name: "debian-12"},
			Labels: labels, StartAfterCreate: ptr(false)})
		if err != nil {
			t.Fatal(err)
		}
	}
	count := func(sel string) int {
		t.Helper()
		s, err := e.p.Servers(ctx, sel)
		if err != nil {
			t.Fatalf("selector %q: %v", sel, err)
		}
		for i := 1; i < len(s); i++ {
			if s[i-1].ID >= s[i].ID {
				t.Fatalf("selector %q: not ordered by id", sel)
			}
		}
		return len(s)
	}
	for _, c := range []struct {
		sel  string
		want int
	}{
		{"", n},
		{"env", n},
		{"!env", 0},
		{"tier", 19},
		{"!tier", n - 19},
		{"env=prod", 29},
		{"env==dev", 28},
		{"env!=prod", 28},
		{"env in (prod,dev)", n},
		{"env notin (prod)", 28},
		{"env=prod,tier=web", 10},
		{"env=prod, tier notin (web), idx in (0,2,4,6)", 2},
		{"tier!=web", n - 19},
	} {
		if got := count(c.sel); got != c.want {
			t.Errorf("selector %q: %d servers, want %d", c.sel, got, c.want)
		}
	}
}

func TestConfig(t *testing.T) {
	dir := t.TempDir()
	tf := filepath.Join(dir, "token")
	os.WriteFile(tf, []byte("  "+testToken+"\n"), 0o600)
	e := newEnv(t, sandbox.Options{})
	cfg := provider.ConfigFromEnv(func(k string) string {
		return map[string]string{provider.EnvTokenFile: tf, provider.EnvEndpoint: e.url}[k]
	})
	p, err := provider.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Servers(context.Background(), ""); err != nil {
		t.Fatalf("token from file: %v", err)
	}
	for _, c := range []struct {
		cfg  provider.Config
		want string
	}{
		{provider.Config{}, "no API token"},
		{provider.Config{TokenFile: filepath.Join(dir, "missing")}, "read token file"},
		{provider.Config{Token: "a b"}, "non-printable"},
		{provider.Config{Token: "t", Endpoint: "http://api.example.com/v1"}, "plain http is only allowed to a loopback"},
		{provider.Config{Token: "t", Endpoint: "ftp://x"}, "want an http(s) URL"},
	} {
		if _, err := provider.New(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v) = %v, want %q", c.cfg, err, c.want)
		}
	}
}
