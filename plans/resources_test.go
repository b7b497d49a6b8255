package plans_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/provider"
)

// resourceActions has one action for every op of every other kind and for
// the server ops added with them, with the strings Describe must show.
func resourceActions() []struct {
	a    provider.Action
	show []string
} {
	k := func(kind provider.Kind, op provider.Op, name string, f func(*provider.Action)) provider.Action {
		a := provider.Action{Kind: kind, Op: op, Name: name}
		if f != nil {
			f(&a)
		}
		return a
	}
	rules := []provider.FirewallRule{{Direction: "in", Protocol: "tcp", Port: "8000-8100", SourceIPs: []string{"192.0.2.0/24"}, Description: "app"},
		{Direction: "out", Protocol: "udp", Port: "53", DestinationIPs: []string{"198.51.100.53/32"}}}
	return []struct {
		a    provider.Action
		show []string
	}{
		{k(provider.KindFirewall, provider.OpCreate, "fw", func(a *provider.Action) {
			a.Rules, a.Servers, a.LabelSelectors, a.Labels = rules, []string{"web-1"}, []string{"role=web"}, map[string]string{"t": "x"}
		}), []string{"firewall fw", "in tcp/8000-8100 from 192.0.2.0/24", `"app"`, "out udp/53 to 198.51.100.53/32", "server web-1", "label selector role=web", "t=x"}},
		{k(provider.KindFirewall, provider.OpSetRules, "fw1", func(a *provider.Action) { a.Rules = rules[:1] }), []string{"fw1", "1 rules", "in tcp/8000-8100"}},
		{k(provider.KindFirewall, provider.OpSetRules, "fw2", nil), []string{"fw2", "0 rules", "none"}},
		{k(provider.KindFirewall, provider.OpApplyTo, "fw3", func(a *provider.Action) { a.Servers = []string{"db-1"} }), []string{"apply firewall fw3 to server db-1"}},
		{k(provider.KindFirewall, provider.OpRemoveFrom, "fw4", func(a *provider.Action) { a.LabelSelectors = []string{"env!=prod"} }), []string{"remove firewall fw4 from label selector env!=prod"}},
		{k(provider.KindNetwork, provider.OpCreate, "net", func(a *provider.Action) {
			a.IPRange = "10.0.0.0/8"
			a.Subnets = []provider.Subnet{{IPRange: "10.1.0.0/16", NetworkZone: "us-east", Type: "server"}}
			a.Routes = []provider.Route{{Destination: "10.200.0.0/16", Gateway: "10.1.0.5"}}
		}), []string{"network net", "10.0.0.0/8", "server 10.1.0.0/16 in us-east", "route 10.200.0.0/16 via 10.1.0.5"}},
		{k(provider.KindNetwork, provider.OpAddSubnet, "net2", func(a *provider.Action) {
			a.Subnet = &provider.Subnet{IPRange: "10.2.0.0/16", NetworkZone: "eu-central"}
		}), []string{"add subnet cloud 10.2.0.0/16 in eu-central to network net2"}},
		{k(provider.KindNetwork, provider.OpDeleteSubnet, "net3", func(a *provider.Action) { a.IPRange = "10.3.0.0/16" }), []string{"10.3.0.0/16", "net3"}},
		{k(provider.KindNetwork, provider.OpAddRoute, "net4", func(a *provider.Action) { a.Route = &provider.Route{Destination: "0.0.0.0/0", Gateway: "10.0.0.2"} }), []string{"0.0.0.0/0 via 10.0.0.2", "net4"}},
		{k(provider.KindNetwork, provider.OpDeleteRoute, "net5", func(a *provider.Action) { a.Route = &provider.Route{Destination: "0.0.0.0/0", Gateway: "10.0.0.3"} }), []string{"10.0.0.3", "net5"}},
		{k(provider.KindNetwork, provider.OpProtect, "net6", func(a *provider.Action) { a.Delete = ptr(true) }), []string{"protect network net6 (delete=true)"}},
		{k(provider.KindVolume, provider.OpCreate, "vol", func(a *provider.Action) {
			a.Size, a.Server, a.Format, a.Automount = 50, "db-1", "xfs", ptr(true)
		}), []string{"volume vol", "50 GB", "xfs", "automount", "on server db-1"}},
		{k(provider.KindVolume, provider.OpCreate, "vol2", func(a *provider.Action) { a.Size, a.Location = 10, "hel1" }), []string{"in hel1"}},
		{k(provider.KindVolume, provider.OpAttach, "vol3", func(a *provider.Action) { a.Server = "db-2" }), []string{"attach volume vol3 to server db-2"}},
		{k(provider.KindVolume, provider.OpDetach, "vol4", nil), []string{"detach volume vol4"}},
		{k(provider.KindVolume, provider.OpResize, "vol5", func(a *provider.Action) { a.Size = 99 }), []string{"vol5 to 99 GB"}},
		{k(provider.KindSSHKey, provider.OpCreate, "key", func(a *provider.Action) {
			a.PublicKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@laptop"
		}), []string{"ssh_key key", "alice@laptop"}},
		{k(provider.KindPrimaryIP, provider.OpCreate, "pip", func(a *provider.Action) { a.Type, a.Location, a.AutoDelete = "ipv6", "fsn1", ptr(false) }), []string{"primary_ip pip", "ipv6", "auto_delete=false", "fsn1"}},
		{k(provider.KindPrimaryIP, provider.OpAssign, "pip2", func(a *provider.Action) { a.Server = "web-9" }), []string{"assign primary_ip pip2 to server web-9"}},
		{k(provider.KindPrimaryIP, provider.OpUnassign, "pip3", nil), []string{"unassign primary_ip pip3"}},
		{k(provider.KindPrimaryIP, provider.OpSetRDNS, "pip4", func(a *provider.Action) { a.IP, a.DNSPtr = "2001:db8::5", ptr("h.example.com") }), []string{"pip4", "2001:db8::5", "h.example.com"}},
		{k(provider.KindFloatingIP, provider.OpCreate, "fip", func(a *provider.Action) { a.Type, a.Server, a.Description = "ipv4", "web-1", "svc" }), []string{"floating_ip fip", `"svc"`, "on server web-1"}},
		{k(provider.KindFloatingIP, provider.OpSetRDNS, "fip2", func(a *provider.Action) { a.DNSPtr = ptr("") }), []string{"fip2", "the default"}},
		{k(provider.KindFloatingIP, provider.OpProtect, "fip3", func(a *provider.Action) { a.Delete = ptr(false) }), []string{"fip3 (delete=false)"}},
		{k(provider.KindFirewall, provider.OpLabel, "fw5", func(a *provider.Action) { a.Labels = map[string]string{"a": "b"} }), []string{"labels of firewall fw5 to a=b"}},
		{k(provider.KindSSHKey, provider.OpRename, "key2", func(a *provider.Action) { a.NewName = "key3" }), []string{"rename ssh_key key2 to key3"}},
		{k(provider.KindVolume, provider.OpDelete, "vol6", nil), []string{"delete volume vol6"}},
		{provider.Action{Op: provider.OpAttachNetwork, Server: "s1", Network: "net", IP: "10.0.0.9", AliasIPs: []string{"10.0.0.10"}}, []string{"s1", "net", "10.0.0.9", "10.0.0.10"}},
		{provider.Action{Op: provider.OpDetachNetwork, Server: "s2", Network: "net"}, []string{"detach server s2 from network net"}},
		{provider.Action{Op: provider.OpAttachFirewall, Server: "s3", Firewall: "fw"}, []string{"apply firewall fw to server s3"}},
		{provider.Action{Op: provider.OpDetachFirewall, Server: "s4", Firewall: "fw"}, []string{"remove firewall fw from server s4"}},
		{provider.Action{Op: provider.OpEnableBackup, Server: "s5"}, []string{"enable backups of server s5"}},
		{provider.Action{Op: provider.OpDisableBackup, Server: "s6"}, []string{"disable backups of server s6"}},
		{provider.Action{Op: provider.OpCreateImage, Server: "s7", Description: "pre-upgrade", Labels: map[string]string{"k": "v"}}, []string{"snapshot server s7", "pre-upgrade", "k=v"}},
		{provider.Action{Op: provider.OpSetRDNS, Server: "s8", DNSPtr: ptr("s8.example.com")}, []string{"s8", "public IPv4", "s8.example.com"}},
		{provider.Action{Op: provider.OpAddLabels, Server: "s9", Labels: map[string]string{"env": "prod"}}, []string{"add labels env=prod to server s9"}},
		{provider.Action{Op: provider.OpRemoveLabels, Server: "s10", LabelKeys: []string{"env", "tier"}}, []string{"remove labels env,tier from server s10"}},
	}
}

// TestResourcePlansRoundTripAndRender: a plan holding every resource op
// encodes, parses back to the same bytes, and renders every field.
func TestResourcePlansRoundTripAndRender(t *testing.T) {
	var steps []plans.Step
	for i, c := range resourceActions() {
		e := plans.Expect{Exists: true, ID: int64(100 + i), Config: "0123456789abcdef", Labels: map[string]string{"x": "y"}}
		if c.a.Kind == provider.KindServer {
			e = plans.Expect{Exists: true, ServerID: int64(100 + i), Status: "running", ServerType: "cx22"}
		}
		if c.a.Op == provider.OpCreate {
			e = plans.Expect{}
		}
		steps = append(steps, plans.Step{Action: c.a, Expect: e})
		if got := plans.Describe(c.a); !containsAll(got, c.show) {
			t.Errorf("describe %s: %q lacks one of %q", plans.OpLabel(c.a), got, c.show)
		}
	}
	p := &plans.Plan{V: plans.Version, ID: "everything", Ledger: "github.com/acme/infra", CreatedAt: "2026-11-26T09:00:00Z",
		Summary: "every op", LedgerHead: plans.LedgerRef{Seq: 1, Blake3: digest.Blake3([]byte("r1"))}, Actions: steps}
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	q, err := plans.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := q.Encode()
	if string(again) != string(b) {
		t.Fatal("round trip changed the bytes")
	}
	md := q.Markdown(b, nil, nil, nil)
	for _, want := range []string{"config 0123456789abcdef", "id 101"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	// Locks: every target, new name and attached resource, by kind.
	locks := q.Locks()
	for _, want := range []string{"fw.fw", "net.net", "vol.vol", "key.key", "key.key3", "pip.pip", "fip.fip", "web-1", "db-1", "db-2", "web-9", "s1"} {
		if !slices.Contains(locks, want) {
			t.Errorf("locks lack %s: %v", want, locks)
		}
	}
}

func containsAll(s string, subs []string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}

func TestResourcePlanRejects(t *testing.T) {
	head := plans.LedgerRef{Seq: 1, Blake3: digest.Blake3([]byte("r1"))}
	mk := func(steps ...plans.Step) *plans.Plan {
		return &plans.Plan{V: plans.Version, ID: "p", Ledger: "github.com/acme/infra", CreatedAt: "2026-11-26T09:00:00Z",
			Summary: "s", LedgerHead: head, Actions: steps}
	}
	del := provider.Action{Kind: provider.KindVolume, Op: provider.OpDelete, Name: "v"}
	ok := plans.Expect{Exists: true, ID: 7, Config: "0123456789abcdef"}
	cases := map[string]struct {
		p    *plans.Plan
		want string
	}{
		"target twice": {mk(plans.Step{Action: del, Expect: ok}, plans.Step{Action: del, Expect: ok}), "volume v appears again after action 0"},
		"server fields on a volume": {mk(plans.Step{Action: del, Expect: plans.Expect{Exists: true, ID: 7, Status: "running"}}),
			"name the volume's id"},
		"volume expect without id": {mk(plans.Step{Action: del, Expect: plans.Expect{Exists: true}}), "name the volume's id"},
		"absent with config": {mk(plans.Step{Action: provider.Action{Kind: provider.KindVolume, Op: provider.OpCreate, Name: "v", Size: 10, Location: "fsn1"},
			Expect: plans.Expect{Config: "x"}}), "exists:false"},
		"create expects existing": {mk(plans.Step{Action: provider.Action{Kind: provider.KindSSHKey, Op: provider.OpCreate, Name: "k",
			PublicKey: "ssh-ed25519 AAAA k"}, Expect: ok}), "create expects ssh_key k not to exist"},
		"id fields on a server": {mk(plans.Step{Action: provider.Action{Op: provider.OpEnableBackup, Server: "s"},
			Expect: plans.Expect{Exists: true, ServerID: 1, ID: 2}}), "name the server's id"},
		"plan id not a label value": {func() *plans.Plan {
			p := mk(plans.Step{Action: provider.Action{Op: provider.OpAddLabels, Server: "s", Labels: map[string]string{"a": "b"}},
				Expect: plans.Expect{Exists: true, ServerID: 1}})
			p.ID = strings.Repeat("p", 70)
			return p
		}(), "cannot be the value of label"},
	}
	for name, c := range cases {
		_, err := c.p.Encode()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}
