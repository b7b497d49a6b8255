package provider_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/vmc-git/vmc-git/provider"
	"github.com/vmc-git/vmc-git/provider/sandbox"
)

// refuse runs a and requires the provider to refuse it with the API's code.
func (e *env) refuse(t *testing.T, a provider.Action, code string) {
	t.Helper()
	res, err := e.p.Apply(context.Background(), a, extra)
	var apiErr *provider.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != code {
		t.Fatalf("%s %s: got %v (status %s), want API error %s", provider.OpName(a.Kind, a.Op), a.Target().Name, err, res.Status, code)
	}
	if res.Status != provider.StatusFailed {
		t.Fatalf("status %s, want failed", res.Status)
	}
}

func (e *env) resource(t *testing.T, k provider.Kind, name string) *provider.Resource {
	t.Helper()
	r, err := e.p.Resource(context.Background(), k, name)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (e *env) server(t *testing.T, name string) *provider.Server {
	t.Helper()
	s, err := e.p.Server(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func res(k provider.Kind, op provider.Op, name string) provider.Action {
	return provider.Action{Kind: k, Op: op, Name: name}
}

var webRules = []provider.FirewallRule{
	{Direction: "in", Protocol: "tcp", Port: "443", SourceIPs: []string{"0.0.0.0/0", "::/0"}, Description: "https"},
	{Direction: "in", Protocol: "icmp", SourceIPs: []string{"0.0.0.0/0"}},
}

func TestFirewalls(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	e.create(t, "web-1")
	e.create(t, "web-2")

	a := res(provider.KindFirewall, provider.OpCreate, "fw-web")
	a.Rules, a.Labels, a.Servers = webRules, map[string]string{"tier": "web"}, []string{"web-1"}
	r := e.apply(t, a).Resource
	if r == nil || r.Kind != provider.KindFirewall || len(r.Rules) != 2 || r.Rules[0].Port != "443" ||
		!slices.Equal(r.Servers, []string{"web-1"}) || r.Labels[provider.LabelPlan] != "p-1" || r.Labels["tier"] != "web" {
		t.Fatalf("observed firewall: %+v", r)
	}
	if !slices.Equal(e.server(t, "web-1").Firewalls, []string{"fw-web"}) {
		t.Fatalf("web-1 firewalls: %v", e.server(t, "web-1").Firewalls)
	}
	e.refuse(t, a, "uniqueness_error")

	// Rules: replace, then the API's limit through the real client.
	set := res(provider.KindFirewall, provider.OpSetRules, "fw-web")
	set.Rules = []provider.FirewallRule{{Direction: "out", Protocol: "udp", Port: "53", DestinationIPs: []string{"192.0.2.53/32"}}}
	if r := e.apply(t, set).Resource; len(r.Rules) != 1 || r.Rules[0].Direction != "out" || r.Rules[0].DestinationIPs[0] != "192.0.2.53/32" {
		t.Fatalf("after set_rules: %+v", r.Rules)
	}
	if r := e.apply(t, res(provider.KindFirewall, provider.OpSetRules, "fw-web")).Resource; len(r.Rules) != 0 {
		t.Fatalf("set_rules without rules: %+v", r.Rules)
	}
	ctx := context.Background()
	fw, _, _ := e.hc.Firewall.GetByName(ctx, "fw-web")
	_, any4, _ := net.ParseCIDR("0.0.0.0/0")
	var many []hcloud.FirewallRule
	for i := range provider.MaxFirewallRules + 1 {
		port := fmt.Sprint(1000 + i)
		many = append(many, hcloud.FirewallRule{Direction: "in", Protocol: "tcp", Port: &port, SourceIPs: []net.IPNet{*any4}})
	}
	if _, _, err := e.hc.Firewall.SetRules(ctx, fw, hcloud.FirewallSetRulesOpts{Rules: many}); !hcloud.IsError(err, hcloud.ErrorCodeInvalidInput) {
		t.Fatalf("51 rules: %v, want invalid_input", err)
	}
	if _, _, err := e.hc.Firewall.SetRules(ctx, fw, hcloud.FirewallSetRulesOpts{Rules: many[:50]}); err != nil {
		t.Fatalf("50 rules: %v", err)
	}
	tooMany := set
	tooMany.Rules = make([]provider.FirewallRule, provider.MaxFirewallRules+1)
	if _, err := e.p.Apply(ctx, tooMany, extra); !errors.Is(err, provider.ErrInvalidAction) {
		t.Fatalf("validate 51 rules: %v", err)
	}

	// Apply to servers and label selectors; remove.
	apply := res(provider.KindFirewall, provider.OpApplyTo, "fw-web")
	apply.Servers = []string{"web-1"}
	e.refuse(t, apply, "firewall_already_applied")
	apply.Servers, apply.LabelSelectors = []string{"web-2"}, []string{"role=db"}
	r = e.apply(t, apply).Resource
	if !slices.Equal(r.Servers, []string{"web-1", "web-2"}) || !slices.Equal(r.LabelSelectors, []string{"role=db"}) {
		t.Fatalf("after apply_to: %+v", r)
	}
	db := e.apply(t, provider.Action{Op: provider.OpCreate, Server: "db-1", ServerType: "cx22", Image: "debian-12", Labels: map[string]string{"role": "db"}})
	if !slices.Equal(db.Observed.Firewalls, []string{"fw-web"}) {
		t.Fatalf("db-1 gets the firewall through its label: %v", db.Observed.Firewalls)
	}
	rm := res(provider.KindFirewall, provider.OpRemoveFrom, "fw-web")
	rm.Servers = []string{"db-1"}
	e.refuse(t, rm, "firewall_managed_by_label_selector")
	rm.Servers = []string{"web-2"}
	e.apply(t, rm)
	e.refuse(t, rm, "firewall_already_removed")
	// Server ops: attach_firewall and detach_firewall.
	e.apply(t, provider.Action{Op: provider.OpAttachFirewall, Server: "web-2", Firewall: "fw-web"})
	e.refuse(t, provider.Action{Op: provider.OpAttachFirewall, Server: "web-2", Firewall: "fw-web"}, "firewall_already_applied")
	if _, err := e.p.Apply(ctx, provider.Action{Op: provider.OpAttachFirewall, Server: "web-2", Firewall: "nope"}, extra); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("attach a missing firewall: %v", err)
	}
	e.apply(t, provider.Action{Op: provider.OpDetachFirewall, Server: "web-2", Firewall: "fw-web"})

	// A private-only server cannot get a firewall.
	nw := res(provider.KindNetwork, provider.OpCreate, "net")
	nw.IPRange, nw.Subnets = "10.0.0.0/16", []provider.Subnet{{IPRange: "10.0.1.0/24", NetworkZone: "eu-central"}}
	e.apply(t, nw)
	e.apply(t, provider.Action{Op: provider.OpCreate, Server: "priv-1", ServerType: "cx22", Image: "debian-12",
		PublicNet: &provider.PublicNet{}, Networks: []string{"net"}})
	e.refuse(t, provider.Action{Op: provider.OpAttachFirewall, Server: "priv-1", Firewall: "fw-web"}, "private_net_only_server")

	// Delete: refused while in use; labels and rename first.
	e.refuse(t, res(provider.KindFirewall, provider.OpDelete, "fw-web"), "resource_in_use")
	lbl := res(provider.KindFirewall, provider.OpLabel, "fw-web")
	lbl.Labels = map[string]string{"tier": "edge"}
	if r := e.apply(t, lbl).Resource; r.Labels["tier"] != "edge" || r.Labels[provider.LabelLedger] == "" {
		t.Fatalf("label keeps vmc labels: %v", r.Labels)
	}
	ren := res(provider.KindFirewall, provider.OpRename, "fw-web")
	ren.NewName = "fw-edge"
	if r := e.apply(t, ren).Resource; r.Name != "fw-edge" {
		t.Fatalf("rename: %+v", r)
	}
	rm = res(provider.KindFirewall, provider.OpRemoveFrom, "fw-edge")
	rm.Servers, rm.LabelSelectors = []string{"web-1"}, []string{"role=db"}
	e.apply(t, rm)
	if r := e.apply(t, res(provider.KindFirewall, provider.OpDelete, "fw-edge")); r.Resource != nil {
		t.Fatalf("observed after delete: %+v", r.Resource)
	}
	if _, err := e.p.Resource(ctx, provider.KindFirewall, "fw-edge"); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}

func TestNetworks(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	ctx := context.Background()
	a := res(provider.KindNetwork, provider.OpCreate, "backend")
	a.IPRange = "10.1.0.0/16"
	a.Subnets = []provider.Subnet{{IPRange: "10.1.1.0/24", NetworkZone: "eu-central"}}
	a.Routes = []provider.Route{{Destination: "10.100.0.0/16", Gateway: "10.1.1.10"}}
	r := e.apply(t, a).Resource
	if r.IPRange != "10.1.0.0/16" || len(r.Subnets) != 1 || r.Subnets[0].Type != "cloud" || len(r.Routes) != 1 {
		t.Fatalf("observed network: %+v", r)
	}
	sub := res(provider.KindNetwork, provider.OpAddSubnet, "backend")
	sub.Subnet = &provider.Subnet{IPRange: "10.1.1.128/25", NetworkZone: "eu-central"}
	e.refuse(t, sub, "invalid_input") // overlaps 10.1.1.0/24
	sub.Subnet = &provider.Subnet{IPRange: "10.2.0.0/24", NetworkZone: "eu-central"}
	e.refuse(t, sub, "invalid_input") // outside the network
	sub.Subnet = &provider.Subnet{IPRange: "10.1.2.0/24", NetworkZone: "us-east"}
	e.apply(t, sub)
	rt := res(provider.KindNetwork, provider.OpAddRoute, "backend")
	rt.Route = &provider.Route{Destination: "10.200.0.0/16", Gateway: "10.1.1.11"}
	e.apply(t, rt)
	rt.Op = provider.OpDeleteRoute
	if r := e.apply(t, rt).Resource; len(r.Routes) != 1 {
		t.Fatalf("routes after delete_route: %+v", r.Routes)
	}

	b2 := res(provider.KindNetwork, provider.OpCreate, "backend2")
	b2.IPRange, b2.Subnets = "10.9.0.0/16", []provider.Subnet{{IPRange: "10.9.0.0/24", NetworkZone: "eu-central"}}
	e.apply(t, b2)
	// Servers: attach with an IP and alias IPs; at most once; IPs unique.
	e.create(t, "app-1")
	e.create(t, "app-2")
	at := provider.Action{Op: provider.OpAttachNetwork, Server: "app-1", Network: "backend", IP: "10.1.1.5", AliasIPs: []string{"10.1.1.6"}}
	s := e.apply(t, at).Observed
	if len(s.PrivateNet) != 1 || s.PrivateNet[0].Network != "backend" || s.PrivateNet[0].IP != "10.1.1.5" || s.PrivateNet[0].AliasIPs[0] != "10.1.1.6" {
		t.Fatalf("private net: %+v", s.PrivateNet)
	}
	if r := e.apply(t, provider.Action{Op: provider.OpAttachNetwork, Server: "app-1", Network: "backend2"}); r.Resource == nil || !slices.Equal(r.Resource.Servers, []string{"app-1"}) {
		t.Fatalf("attach_network observes the network too: %+v", r.Resource)
	}
	e.refuse(t, at, "server_already_attached")
	at2 := provider.Action{Op: provider.OpAttachNetwork, Server: "app-2", Network: "backend", IP: "10.1.1.6"}
	e.refuse(t, at2, "ip_not_available")
	at2.IP = ""
	if s := e.apply(t, at2).Observed; s.PrivateNet[0].IP != "10.1.1.2" {
		t.Fatalf("first free address: %+v", s.PrivateNet)
	}
	if r := e.resource(t, provider.KindNetwork, "backend"); !slices.Equal(r.Servers, []string{"app-1", "app-2"}) {
		t.Fatalf("network servers: %v", r.Servers)
	}
	// A network without a subnet in the server's zone.
	other := res(provider.KindNetwork, provider.OpCreate, "empty")
	other.IPRange = "172.16.0.0/12"
	e.apply(t, other)
	e.refuse(t, provider.Action{Op: provider.OpAttachNetwork, Server: "app-1", Network: "empty"}, "no_subnet_available")

	// Protection, delete while in use, detach.
	e.refuse(t, res(provider.KindNetwork, provider.OpDelete, "backend"), "resource_in_use")
	pr := res(provider.KindNetwork, provider.OpProtect, "backend")
	pr.Delete = ptr(true)
	if r := e.apply(t, pr).Resource; !r.ProtectDelete {
		t.Fatal("network not protected")
	}
	e.apply(t, provider.Action{Op: provider.OpDetachNetwork, Server: "app-1", Network: "backend"})
	e.refuse(t, provider.Action{Op: provider.OpDetachNetwork, Server: "app-1", Network: "backend"}, "server_not_attached_to_network")
	e.apply(t, provider.Action{Op: provider.OpDetachNetwork, Server: "app-2", Network: "backend"})
	e.refuse(t, res(provider.KindNetwork, provider.OpDelete, "backend"), "protected")
	pr.Delete = ptr(false)
	e.apply(t, pr)
	ds := res(provider.KindNetwork, provider.OpDeleteSubnet, "backend")
	ds.IPRange = "10.1.2.0/24"
	if r := e.apply(t, ds).Resource; len(r.Subnets) != 1 {
		t.Fatalf("subnets after delete_subnet: %+v", r.Subnets)
	}
	e.apply(t, res(provider.KindNetwork, provider.OpDelete, "backend"))
	if _, err := e.p.Resource(ctx, provider.KindNetwork, "backend"); !errors.Is(err, provider.ErrNotFound) {
		t.Fatal(err)
	}
}

func TestVolumes(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	e.create(t, "db-1") // fsn1
	e.apply(t, provider.Action{Op: provider.OpCreate, Server: "db-2", ServerType: "cx22", Image: "debian-12", Location: "hel1"})

	a := res(provider.KindVolume, provider.OpCreate, "data")
	a.Size, a.Server, a.Format, a.Automount = 20, "db-1", "ext4", ptr(true)
	r := e.apply(t, a).Resource
	if r.Size != 20 || r.Server != "db-1" || r.Location != "fsn1" || r.Format != "ext4" || r.LinuxDevice == "" {
		t.Fatalf("observed volume: %+v", r)
	}
	if v := e.server(t, "db-1").Volumes; !slices.Equal(v, []string{"data"}) {
		t.Fatalf("db-1 volumes: %v", v)
	}
	loose := res(provider.KindVolume, provider.OpCreate, "loose")
	loose.Size, loose.Location = 10, "fsn1"
	e.apply(t, loose)
	att := res(provider.KindVolume, provider.OpAttach, "loose")
	att.Server = "db-2"
	e.refuse(t, att, "invalid_input") // another location
	att.Server = "db-1"
	if r := e.apply(t, att); r.Observed == nil || !slices.Equal(r.Observed.Volumes, []string{"data", "loose"}) {
		t.Fatalf("attach observes the server too: %+v", r.Observed)
	}
	e.refuse(t, att, "volume_already_attached")

	rs := res(provider.KindVolume, provider.OpResize, "data")
	rs.Size = 40
	if r := e.apply(t, rs).Resource; r.Size != 40 {
		t.Fatalf("resize: %+v", r)
	}
	rs.Size = 30
	e.refuse(t, rs, "invalid_input") // volumes only grow

	e.refuse(t, res(provider.KindVolume, provider.OpDelete, "data"), "locked") // attached
	if r := e.apply(t, res(provider.KindVolume, provider.OpDetach, "data")); r.Observed == nil || !slices.Equal(r.Observed.Volumes, []string{"loose"}) {
		t.Fatalf("detach observes the server it left: %+v", r.Observed)
	}
	pr := res(provider.KindVolume, provider.OpProtect, "data")
	pr.Delete = ptr(true)
	e.apply(t, pr)
	e.refuse(t, res(provider.KindVolume, provider.OpDelete, "data"), "protected")
	pr.Delete = ptr(false)
	e.apply(t, pr)
	e.apply(t, res(provider.KindVolume, provider.OpDelete, "data"))

	// Deleting the server detaches its volumes.
	e.apply(t, provider.Action{Op: provider.OpDelete, Server: "db-1"})
	if r := e.resource(t, provider.KindVolume, "loose"); r.Server != "" {
		t.Fatalf("volume still attached to a deleted server: %+v", r)
	}
	// The hcloud CLI sends an empty volumes list on server create; a real
	// volume list attaches them.
	ctx := context.Background()
	v, _, _ := e.hc.Volume.GetByName(ctx, "loose")
	cr, _, err := e.hc.Server.Create(ctx, hcloud.ServerCreateOpts{Name: "db-3", ServerType: &hcloud.ServerType{Name: "cx22"},
		Image: &hcloud.Image{Name: "debian-12"}, Location: &hcloud.Location{Name: "fsn1"}, Volumes: []*hcloud.Volume{v}})
	if err != nil {
		t.Fatal(err)
	}
	if len(cr.Server.Volumes) != 1 || cr.Server.Volumes[0].ID != v.ID {
		t.Fatalf("server created with a volume: %+v", cr.Server.Volumes)
	}
}

func TestSSHKeys(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	const pub = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ops@example"
	a := res(provider.KindSSHKey, provider.OpCreate, "ops")
	a.PublicKey = pub
	r := e.apply(t, a).Resource
	if r.Fingerprint == "" || r.PublicKey != pub || r.Labels[provider.LabelPlan] != "p-1" {
		t.Fatalf("observed key: %+v", r)
	}
	e.refuse(t, a, "uniqueness_error")
	a.Name = "ops-2"
	e.refuse(t, a, "uniqueness_error") // same key
	l := res(provider.KindSSHKey, provider.OpLabel, "ops")
	l.Labels = map[string]string{"team": "infra"}
	e.apply(t, l)
	ren := res(provider.KindSSHKey, provider.OpRename, "ops")
	ren.NewName = "infra"
	if r := e.apply(t, ren).Resource; r.Name != "infra" || r.Labels["team"] != "infra" {
		t.Fatalf("after rename: %+v", r)
	}
	keys, err := e.p.Resources(context.Background(), provider.KindSSHKey, "team=infra")
	if err != nil || len(keys) != 1 {
		t.Fatalf("select keys: %v %v", keys, err)
	}
	e.apply(t, res(provider.KindSSHKey, provider.OpDelete, "infra"))
	if _, err := e.p.Apply(context.Background(), res(provider.KindSSHKey, provider.OpDelete, "infra"), extra); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
}

func TestPrimaryIPs(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	a := res(provider.KindPrimaryIP, provider.OpCreate, "ip-web")
	a.Type, a.Location = "ipv4", "fsn1"
	r := e.apply(t, a).Resource
	if r.IP == "" || r.Server != "" || r.Type != "ipv4" {
		t.Fatalf("observed primary IP: %+v", r)
	}
	ctx := context.Background()
	pip, _, _ := e.hc.PrimaryIP.GetByName(ctx, "ip-web")
	// A server created on the primary IP.
	cr, _, err := e.hc.Server.Create(ctx, hcloud.ServerCreateOpts{Name: "web-1", ServerType: &hcloud.ServerType{Name: "cx22"},
		Image: &hcloud.Image{Name: "debian-12"}, Location: &hcloud.Location{Name: "fsn1"},
		PublicNet: &hcloud.ServerCreatePublicNet{EnableIPv4: true, IPv4: pip}})
	if err != nil {
		t.Fatal(err)
	}
	if cr.Server.PublicNet.IPv4.IP.String() != r.IP {
		t.Fatalf("server ipv4 %s, primary IP %s", cr.Server.PublicNet.IPv4.IP, r.IP)
	}
	e.hc.Action.WaitFor(ctx, append(cr.NextActions, cr.Action)...)
	// At most one server.
	_, _, err = e.hc.Server.Create(ctx, hcloud.ServerCreateOpts{Name: "web-2", ServerType: &hcloud.ServerType{Name: "cx22"},
		Image: &hcloud.Image{Name: "debian-12"}, Location: &hcloud.Location{Name: "fsn1"},
		PublicNet: &hcloud.ServerCreatePublicNet{EnableIPv4: true, IPv4: pip}})
	if !hcloud.IsError(err, hcloud.ErrorCodePrimaryIPAssigned) {
		t.Fatalf("second server on the same primary IP: %v", err)
	}
	e.apply(t, provider.Action{Op: provider.OpCreate, Server: "web-3", ServerType: "cx22", Image: "debian-12", StartAfterCreate: ptr(false),
		PublicNet: &provider.PublicNet{IPv6: true}})
	// A server's own addresses are primary IPs that go with it.
	own := func() []provider.Resource {
		all, err := e.p.Resources(ctx, provider.KindPrimaryIP, "")
		if err != nil {
			t.Fatal(err)
		}
		var out []provider.Resource
		for _, r := range all {
			if strings.HasPrefix(r.Name, "primary_ip-") {
				out = append(out, r)
			}
		}
		return out
	}
	if o := own(); len(o) != 1 || o[0].Server != "web-3" || o[0].Type != "ipv6" || !o[0].AutoDelete { // web-1 has no IPv6
		t.Fatalf("own primary IPs: %+v", o)
	}
	as := res(provider.KindPrimaryIP, provider.OpAssign, "ip-web")
	as.Server = "web-3"
	e.refuse(t, as, "primary_ip_already_assigned")
	e.refuse(t, res(provider.KindPrimaryIP, provider.OpDelete, "ip-web"), "primary_ip_assigned")
	e.refuse(t, res(provider.KindPrimaryIP, provider.OpUnassign, "ip-web"), "server_not_stopped")
	e.apply(t, provider.Action{Op: provider.OpPoweroff, Server: "web-1"})
	e.apply(t, res(provider.KindPrimaryIP, provider.OpUnassign, "ip-web"))
	if s := e.server(t, "web-1"); s.IPv4 != "" {
		t.Fatalf("web-1 keeps %s", s.IPv4)
	}
	if r := e.apply(t, as).Resource; r.Server != "web-3" {
		t.Fatalf("assigned to %q", r.Server)
	}
	if s := e.server(t, "web-3"); s.IPv4 != r.IP {
		t.Fatalf("web-3 ipv4 %q", s.IPv4)
	}
	// A server that has an IPv4 cannot take another.
	b := res(provider.KindPrimaryIP, provider.OpCreate, "ip-b")
	b.Type, b.Location = "ipv4", "fsn1"
	e.apply(t, b)
	bs := res(provider.KindPrimaryIP, provider.OpAssign, "ip-b")
	bs.Server = "web-3"
	e.refuse(t, bs, "server_has_ipv4")
	b2 := res(provider.KindPrimaryIP, provider.OpCreate, "ip-hel")
	b2.Type, b2.Location = "ipv4", "hel1"
	e.apply(t, b2)
	bs = res(provider.KindPrimaryIP, provider.OpAssign, "ip-hel")
	bs.Server = "web-1"
	e.refuse(t, bs, "primary_ip_datacenter_mismatch")

	rd := res(provider.KindPrimaryIP, provider.OpSetRDNS, "ip-web")
	rd.DNSPtr = ptr("web.example.com")
	if r := e.apply(t, rd).Resource; r.DNSPtr[r.IP] != "web.example.com" {
		t.Fatalf("rdns: %+v", r.DNSPtr)
	}
	pr := res(provider.KindPrimaryIP, provider.OpProtect, "ip-b")
	pr.Delete = ptr(true)
	e.apply(t, pr)
	e.refuse(t, res(provider.KindPrimaryIP, provider.OpDelete, "ip-b"), "protected")
	pr.Delete = ptr(false)
	e.apply(t, pr)
	e.apply(t, res(provider.KindPrimaryIP, provider.OpDelete, "ip-b"))
	e.apply(t, provider.Action{Op: provider.OpDelete, Server: "web-3"})
	if o := own(); len(o) != 0 {
		t.Fatalf("own primary IPs after deleting web-3: %+v", o)
	}
	if r := e.resource(t, provider.KindPrimaryIP, "ip-web"); r.Server != "" {
		t.Fatalf("ip-web still assigned to a deleted server: %+v", r)
	}
}

func TestFloatingIPs(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	e.create(t, "web-1")
	e.create(t, "web-2")
	a := res(provider.KindFloatingIP, provider.OpCreate, "vip")
	a.Type, a.Server, a.Description = "ipv4", "web-1", "service address"
	r := e.apply(t, a).Resource
	if r.Server != "web-1" || r.Location != "fsn1" || r.Description != "service address" {
		t.Fatalf("observed floating IP: %+v", r)
	}
	as := res(provider.KindFloatingIP, provider.OpAssign, "vip")
	as.Server = "web-2"
	if r := e.apply(t, as).Resource; r.Server != "web-2" {
		t.Fatalf("reassigned to %q", r.Server)
	}
	e.apply(t, provider.Action{Op: provider.OpCreate, Server: "us-1", ServerType: "cpx11", Image: "debian-12", Location: "ash"})
	as.Server = "us-1"
	e.refuse(t, as, "invalid_input")
	rd := res(provider.KindFloatingIP, provider.OpSetRDNS, "vip")
	rd.DNSPtr = ptr("vip.example.com")
	e.apply(t, rd)
	rd.IP = "192.0.2.1"
	e.refuse(t, rd, "invalid_input")
	e.apply(t, res(provider.KindFloatingIP, provider.OpUnassign, "vip"))
	v6 := res(provider.KindFloatingIP, provider.OpCreate, "vip6")
	v6.Type, v6.Location = "ipv6", "nbg1"
	if r := e.apply(t, v6).Resource; !strings.HasSuffix(r.IP, "/64") {
		t.Fatalf("ipv6 floating IP: %q", r.IP)
	}
	pr := res(provider.KindFloatingIP, provider.OpProtect, "vip")
	pr.Delete = ptr(true)
	e.apply(t, pr)
	e.refuse(t, res(provider.KindFloatingIP, provider.OpDelete, "vip"), "protected")
	all, err := e.p.Resources(context.Background(), provider.KindFloatingIP, "")
	if err != nil || len(all) != 2 {
		t.Fatalf("list: %v %v", all, err)
	}
}

func TestServerExtras(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	e.apply(t, provider.Action{Op: provider.OpCreate, Server: "web-1", ServerType: "cx22", Image: "debian-12", Labels: map[string]string{"a": "1", "b": "2"}})
	if s := e.apply(t, provider.Action{Op: provider.OpEnableBackup, Server: "web-1"}).Observed; !s.Backups {
		t.Fatal("backups not enabled")
	}
	if s := e.apply(t, provider.Action{Op: provider.OpDisableBackup, Server: "web-1"}).Observed; s.Backups {
		t.Fatal("backups not disabled")
	}
	s := e.apply(t, provider.Action{Op: provider.OpSetRDNS, Server: "web-1", DNSPtr: ptr("web-1.example.com")}).Observed
	if s.RDNS != "web-1.example.com" {
		t.Fatalf("rdns %q", s.RDNS)
	}
	s = e.apply(t, provider.Action{Op: provider.OpSetRDNS, Server: "web-1", DNSPtr: ptr("")}).Observed
	if !strings.HasPrefix(s.RDNS, "static.") {
		t.Fatalf("reset rdns %q", s.RDNS)
	}
	e.refuse(t, provider.Action{Op: provider.OpSetRDNS, Server: "web-1", IP: "192.0.2.250", DNSPtr: ptr("x.example.com")}, "invalid_input")

	s = e.apply(t, provider.Action{Op: provider.OpAddLabels, Server: "web-1", Labels: map[string]string{"c": "3", "a": "9"}}).Observed
	if s.Labels["a"] != "9" || s.Labels["b"] != "2" || s.Labels["c"] != "3" {
		t.Fatalf("add_labels: %v", s.Labels)
	}
	s = e.apply(t, provider.Action{Op: provider.OpRemoveLabels, Server: "web-1", LabelKeys: []string{"a", "zz"}}).Observed
	if _, ok := s.Labels["a"]; ok || s.Labels["b"] != "2" || s.Labels[provider.LabelPlan] != "p-1" {
		t.Fatalf("remove_labels: %v", s.Labels)
	}
	if _, err := e.p.Apply(context.Background(), provider.Action{Op: provider.OpRemoveLabels, Server: "web-1", LabelKeys: []string{provider.LabelPlan}}, extra); !errors.Is(err, provider.ErrInvalidAction) {
		t.Fatalf("remove a reserved label: %v", err)
	}

	img := e.apply(t, provider.Action{Op: provider.OpCreateImage, Server: "web-1", Description: "before upgrade"})
	if img.ImageID == 0 {
		t.Fatal("no image id")
	}
	im, _, err := e.hc.Image.GetByID(context.Background(), img.ImageID)
	if err != nil || im == nil || im.Type != hcloud.ImageTypeSnapshot || im.Description != "before upgrade" ||
		im.Labels[provider.LabelPlan] != "p-1" || im.Status != hcloud.ImageStatusAvailable {
		t.Fatalf("snapshot: %+v %v", im, err)
	}
	snaps, err := e.hc.Image.AllWithOpts(context.Background(), hcloud.ImageListOpts{Type: []hcloud.ImageType{hcloud.ImageTypeSnapshot}})
	if err != nil || len(snaps) != 1 {
		t.Fatalf("snapshots: %v %v", snaps, err)
	}
}

func TestValidateResourceActions(t *testing.T) {
	bad := map[string]provider.Action{
		"unknown kind":          {Kind: "router", Op: provider.OpCreate, Name: "r"},
		"server op on firewall": {Kind: provider.KindFirewall, Op: provider.OpPoweron, Name: "f"},
		"no name":               {Kind: provider.KindFirewall, Op: provider.OpDelete},
		"name on server op":     {Op: provider.OpEnableBackup, Server: "s", Name: "x"},
		"bad port":              {Kind: provider.KindFirewall, Op: provider.OpSetRules, Name: "f", Rules: []provider.FirewallRule{{Direction: "in", Protocol: "tcp", Port: "0", SourceIPs: []string{"0.0.0.0/0"}}}},
		"icmp with port":        {Kind: provider.KindFirewall, Op: provider.OpSetRules, Name: "f", Rules: []provider.FirewallRule{{Direction: "in", Protocol: "icmp", Port: "1", SourceIPs: []string{"0.0.0.0/0"}}}},
		"in without sources":    {Kind: provider.KindFirewall, Op: provider.OpSetRules, Name: "f", Rules: []provider.FirewallRule{{Direction: "in", Protocol: "gre"}}},
		"non-canonical cidr":    {Kind: provider.KindNetwork, Op: provider.OpCreate, Name: "n", IPRange: "10.0.0.1/16"},
		"subnet outside":        {Kind: provider.KindNetwork, Op: provider.OpCreate, Name: "n", IPRange: "10.0.0.0/16", Subnets: []provider.Subnet{{IPRange: "10.1.0.0/24", NetworkZone: "eu-central"}}},
		"volume both":           {Kind: provider.KindVolume, Op: provider.OpCreate, Name: "v", Size: 10, Location: "fsn1", Server: "s"},
		"volume too small":      {Kind: provider.KindVolume, Op: provider.OpCreate, Name: "v", Size: 5, Location: "fsn1"},
		"automount no server":   {Kind: provider.KindVolume, Op: provider.OpCreate, Name: "v", Size: 10, Location: "fsn1", Automount: ptr(true)},
		"ip type":               {Kind: provider.KindPrimaryIP, Op: provider.OpCreate, Name: "p", Type: "ipv5", Location: "fsn1"},
		"bad key":               {Kind: provider.KindSSHKey, Op: provider.OpCreate, Name: "k", PublicKey: "not a key"},
		"long name":             {Kind: provider.KindVolume, Op: provider.OpDelete, Name: strings.Repeat("v", provider.MaxResourceNameLen+1)},
		"apply to nothing":      {Kind: provider.KindFirewall, Op: provider.OpApplyTo, Name: "f"},
		"rdns without ptr":      {Op: provider.OpSetRDNS, Server: "s"},
		"bad ptr":               {Op: provider.OpSetRDNS, Server: "s", DNSPtr: ptr("-x.example.com")},
	}
	for name, a := range bad {
		if err := a.Validate(); !errors.Is(err, provider.ErrInvalidAction) {
			t.Errorf("%s: %v, want invalid action", name, err)
		}
	}
	// Round trip of a full action through ParseAction.
	a := provider.Action{Kind: provider.KindFirewall, Op: provider.OpCreate, Name: "fw", Rules: webRules, Servers: []string{"web-1"}}
	b := fmt.Sprintf(`{"kind":"firewall","name":"fw","op":"create","rules":[{"description":"https","direction":"in","port":"443","protocol":"tcp","source_ips":["0.0.0.0/0","::/0"]},{"direction":"in","protocol":"icmp","source_ips":["0.0.0.0/0"]}],"servers":["web-1"]}`)
	got, err := provider.ParseAction([]byte(b))
	if err != nil || got.Name != a.Name || len(got.Rules) != 2 {
		t.Fatalf("parse: %+v %v", got, err)
	}
	if refs := a.Refs(); len(refs) != 2 || refs[0].Lock() != "fw.fw" || refs[1].Lock() != "web-1" {
		t.Fatalf("refs: %+v", refs)
	}
}

// TestResourcesPagesAndUnknown: lists across pages with selectors, and a
// create whose answer is lost is reported unknown, not failed.
func TestResourcesPagesAndUnknown(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	ctx := context.Background()
	for i := range 55 {
		a := res(provider.KindNetwork, provider.OpCreate, fmt.Sprintf("n%02d", i))
		a.IPRange, a.Labels = "10.0.0.0/16", map[string]string{"odd": fmt.Sprint(i%2 == 1)}
		e.apply(t, a)
	}
	all, err := e.p.Resources(ctx, provider.KindNetwork, "")
	if err != nil || len(all) != 55 || all[0].Name != "n00" || all[54].Name != "n54" {
		t.Fatalf("55 networks over two pages: %d %v", len(all), err)
	}
	odd, err := e.p.Resources(ctx, provider.KindNetwork, "odd=true,vmc.plan")
	if err != nil || len(odd) != 27 {
		t.Fatalf("odd networks: %d %v", len(odd), err)
	}
	if _, err := e.p.Resources(ctx, provider.KindNetwork, "odd in (true"); err == nil {
		t.Fatal("bad selector accepted")
	}

	e.sb.Inject(sandbox.Fault{Method: "POST", Path: "/volumes", Drop: true})
	a := res(provider.KindVolume, provider.OpCreate, "lost")
	a.Size, a.Location = 10, "fsn1"
	r, err := e.p.Apply(ctx, a, extra)
	if err != nil || r.Status != provider.StatusUnknown {
		t.Fatalf("dropped create: %+v %v", r, err)
	}
	if v := e.resource(t, provider.KindVolume, "lost"); v.Labels[provider.LabelPlan] != "p-1" {
		t.Fatalf("the volume was created and carries the plan: %+v", v)
	}
	e.sb.Inject(sandbox.Fault{Method: "POST", Path: "/firewalls", Code: "server_error"})
	fw := res(provider.KindFirewall, provider.OpCreate, "fw")
	if r, err := e.p.Apply(ctx, fw, extra); err != nil || r.Status != provider.StatusUnknown {
		t.Fatalf("5xx create: %+v %v", r, err)
	}
	e.sb.Inject(sandbox.Fault{Method: "POST", Path: "/firewalls", Code: "rate_limit_exceeded", Times: 2})
	if r := e.apply(t, fw); r.Resource == nil {
		t.Fatal("create after rate limits")
	}
}

// TestLabelRenameDeleteEveryKind: label (replace, keeping vmc labels),
// rename and delete on every kind, and not_found for a missing target.
func TestLabelRenameDeleteEveryKind(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	ctx := context.Background()
	creates := map[provider.Kind]func(*provider.Action){
		provider.KindFirewall: func(a *provider.Action) {},
		provider.KindNetwork:  func(a *provider.Action) { a.IPRange = "10.0.0.0/16" },
		provider.KindVolume:   func(a *provider.Action) { a.Size, a.Location = 10, "nbg1" },
		provider.KindSSHKey: func(a *provider.Action) {
			a.PublicKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl k"
		},
		provider.KindPrimaryIP:  func(a *provider.Action) { a.Type, a.Location = "ipv4", "nbg1" },
		provider.KindFloatingIP: func(a *provider.Action) { a.Type, a.Location = "ipv6", "nbg1" },
	}
	for _, k := range provider.Kinds {
		a := res(k, provider.OpCreate, "one")
		a.Labels = map[string]string{"a": "1"}
		creates[k](&a)
		e.apply(t, a)
		l := res(k, provider.OpLabel, "one")
		l.Labels = map[string]string{"b": "2"}
		r := e.apply(t, l).Resource
		if r.Labels["b"] != "2" || r.Labels["a"] != "" || r.Labels[provider.LabelLedger] == "" {
			t.Fatalf("%s labels: %v", k, r.Labels)
		}
		rn := res(k, provider.OpRename, "one")
		rn.NewName = "two"
		if r := e.apply(t, rn).Resource; r == nil || r.Name != "two" {
			t.Fatalf("%s rename: %+v", k, r)
		}
		if _, err := e.p.Apply(ctx, res(k, provider.OpDelete, "one"), extra); !errors.Is(err, provider.ErrNotFound) {
			t.Fatalf("%s delete under the old name: %v", k, err)
		}
		e.apply(t, res(k, provider.OpDelete, "two"))
		if left, _ := e.p.Resources(ctx, k, "a,!a"); len(left) != 0 {
			t.Fatalf("%s: impossible selector matched %v", k, left)
		}
	}
}

// TestResultErrorOnlyOnFailure: a succeeded result carries no error text or
// code; a failed action's result carries the action's error code.
func TestResultErrorOnlyOnFailure(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	r := e.create(t, "web-1")
	if r.Error != "" || r.Code != "" {
		t.Fatalf("succeeded result with error %q code %q", r.Error, r.Code)
	}
	a := res(provider.KindNetwork, provider.OpCreate, "n")
	a.IPRange = "10.0.0.0/16"
	if r := e.apply(t, a); r.Error != "" || r.Code != "" {
		t.Fatalf("succeeded resource result with error %q code %q", r.Error, r.Code)
	}
	r2, err := e.p.Apply(context.Background(), res(provider.KindNetwork, provider.OpCreate, "n2"), extra)
	if err == nil || r2.Code != "" && r2.Status != provider.StatusFailed {
		t.Fatalf("invalid action: %+v %v", r2, err)
	}
	dup, err := e.p.Apply(context.Background(), a, extra)
	if err == nil || dup.Code != "uniqueness_error" || dup.Error == "" {
		t.Fatalf("refused create: %+v %v", dup, err)
	}
}
