package plans_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/provider"
)

// TestDryRunRefusals: the dry run asks the provider (the sandbox, through
// hcloud-go) and refuses each action that would fail at apply with its own
// message, creating nothing.
func TestDryRunRefusals(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	// An existing running server, and a second one whose name is taken.
	w.apply(mustEncode(t, w, "db-1-create", create("db-1")))
	w.apply(mustEncode(t, w, "db-2-create", create("db-2")))
	arm := create("arm-1")
	arm.ServerType = "cax11"

	mk := func(a ...provider.Action) error {
		_, err := plans.Make(ctx, w.prov, plans.Request{Ledger: testLedger, Head: w.head(), Actions: a})
		return err
	}
	with := func(f func(a *provider.Action)) provider.Action {
		a := create("web-1")
		f(&a)
		return a
	}
	cases := []struct {
		name string
		acts []provider.Action
		want string
	}{
		{"unknown type", []provider.Action{with(func(a *provider.Action) { a.ServerType = "cx999" })}, "server type cx999 does not exist"},
		{"retired type", []provider.Action{with(func(a *provider.Action) { a.ServerType = "cx11" })}, "server type cx11 is retired"},
		{"unknown image", []provider.Action{with(func(a *provider.Action) { a.Image = "plan9-4" })}, "image plan9-4 does not exist"},
		{"retired image", []provider.Action{with(func(a *provider.Action) { a.Image = "ubuntu-20.04" })}, "image ubuntu-20.04 is retired"},
		{"unknown location", []provider.Action{with(func(a *provider.Action) { a.Location = "mars1" })}, "location mars1 does not exist"},
		{"type not at location", []provider.Action{with(func(a *provider.Action) { a.Location = "ash" })}, "server type cx22 is not offered at location ash (offered at: fsn1, nbg1, hel1)"},
		{"architecture mismatch", []provider.Action{func() provider.Action { a := arm; a.Image = "rocky-9"; return a }()}, "architecture mismatch: image rocky-9 exists for x86 only, server type cax11 is arm"},
		{"name taken", []provider.Action{create("db-1")}, "server db-1 already exists"},
		{"unknown ssh key", []provider.Action{with(func(a *provider.Action) { a.SSHKeys = []string{"nobody"} })}, "ssh key nobody does not exist"},
		{"unknown firewall", []provider.Action{with(func(a *provider.Action) { a.Firewalls = []string{"wall"} })}, "firewall wall does not exist"},
		{"unknown network", []provider.Action{with(func(a *provider.Action) { a.Networks = []string{"lan"} })}, "network lan does not exist"},
		{"rename to a taken name", []provider.Action{{Op: provider.OpRename, Server: "db-1", NewName: "db-2"}}, "server name db-2 is taken"},
		{"resize while running", []provider.Action{{Op: provider.OpResize, Server: "db-1", ServerType: "cx32"}}, "server db-1 is running: a resize needs it off; power it off first"},
		{"resize to the same type", []provider.Action{{Op: provider.OpResize, Server: "db-1", ServerType: "cx22"}}, "server db-1 is already of type cx22"},
		{"resize to another architecture", []provider.Action{{Op: provider.OpPoweroff, Server: "db-1"}, {Op: provider.OpResize, Server: "db-1", ServerType: "cax21"}},
			"architecture mismatch: server db-1 is x86 (cx22), server type cax21 is arm"},
		{"resize to an unknown type", []provider.Action{{Op: provider.OpResize, Server: "db-1", ServerType: "cx998"}}, "server type cx998 does not exist"},
		{"rebuild from an unknown image", []provider.Action{{Op: provider.OpRebuild, Server: "db-1", Image: "no-such"}}, "image no-such does not exist"},
		{"step after delete", []provider.Action{{Op: provider.OpDelete, Server: "db-1"}, {Op: provider.OpPoweron, Server: "db-1"}}, "server db-1 appears again after action 0 (delete)"},
	}
	seen := map[string]string{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := mk(c.acts...)
			if !errors.Is(err, plans.ErrDryRun) {
				t.Fatalf("err = %v, want a dry-run refusal", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %q, want it to say %q", err, c.want)
			}
			if other, dup := seen[err.Error()]; dup {
				t.Errorf("same message as case %q", other)
			}
			seen[err.Error()] = c.name
		})
	}
	if ss, _ := w.prov.Servers(ctx, ""); len(ss) != 2 {
		t.Fatalf("dry runs changed the servers: %d servers", len(ss))
	}

	// Accepted: the arm type with an image that exists for arm; a resize
	// planned after a poweroff of the same server, which the plan expects to
	// find off, and which applies.
	if err := mk(func() provider.Action { a := arm; a.Image = "debian-12"; return a }()); err != nil {
		t.Fatalf("arm create: %v", err)
	}
	// SSH keys, firewalls and networks that exist are accepted.
	hc := hcloud.NewClient(hcloud.WithEndpoint(w.url), hcloud.WithToken("test-token"))
	_, pub := signer(t, "ops")
	if _, _, err := hc.SSHKey.Create(ctx, hcloud.SSHKeyCreateOpts{Name: "ops", PublicKey: pub}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := hc.Firewall.Create(ctx, hcloud.FirewallCreateOpts{Name: "web"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := hc.Network.Create(ctx, hcloud.NetworkCreateOpts{Name: "lan", IPRange: &net.IPNet{IP: net.IPv4(10, 0, 0, 0), Mask: net.CIDRMask(16, 32)}}); err != nil {
		t.Fatal(err)
	}
	if err := mk(with(func(a *provider.Action) {
		a.SSHKeys, a.Firewalls, a.Networks = []string{"ops"}, []string{"web"}, []string{"lan"}
	})); err != nil {
		t.Fatalf("create with an existing ssh key, firewall and network: %v", err)
	}
	p, err := plans.Make(ctx, w.prov, plans.Request{ID: "db-1-grow", Ledger: testLedger, Head: w.head(), Actions: []provider.Action{
		{Op: provider.OpPoweroff, Server: "db-1"}, {Op: provider.OpResize, Server: "db-1", ServerType: "cx42", UpgradeDisk: true}, {Op: provider.OpPoweron, Server: "db-1"}}})
	if err != nil {
		t.Fatalf("poweroff, resize, poweron: %v", err)
	}
	if e := p.Actions[1].Expect; e.Status != "off" || e.ServerType != "cx22" {
		t.Fatalf("the resize expects %+v, want the server off and cx22", e)
	}
	if e := p.Actions[2].Expect; e.Status != "off" || e.ServerType != "cx42" {
		t.Fatalf("the poweron expects %+v, want the server off and cx42", e)
	}
	if err := w.checkFresh(p); err != nil {
		t.Fatalf("a fresh plan with several steps on one server: %v", err)
	}
	w.apply(encode(t, p))
	s, err := w.prov.Server(ctx, "db-1")
	if err != nil || s.ServerType != "cx42" || s.Status != "running" {
		t.Fatalf("after the plan: %+v, %v", s, err)
	}
	// The disk grew (upgrade_disk): going back down is refused.
	err = mk(provider.Action{Op: provider.OpPoweroff, Server: "db-1"}, provider.Action{Op: provider.OpResize, Server: "db-1", ServerType: "cx22"})
	if !errors.Is(err, plans.ErrDryRun) || !strings.Contains(err.Error(), "server db-1 has a 160 GB disk and server type cx22 a 40 GB one") ||
		!strings.Contains(err.Error(), "--keep-disk") {
		t.Fatalf("downgrade of a grown disk: %v", err)
	}
}

func mustEncode(t *testing.T, w *world, id string, a provider.Action) []byte {
	t.Helper()
	_, b := w.plan(id, a)
	return b
}
