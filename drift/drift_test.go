package drift

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/provider"
	"github.com/vmc-git/vmc-git/receipt"
	"github.com/vmc-git/vmc-git/state"
)

const ledger = "github.com/acme/infra"

var ours = map[string]string{provider.LabelLedger: provider.LabelValue(ledger), provider.LabelPlan: "p1", "role": "x"}

func srv(id int64, name, typ string) *provider.Server {
	return &provider.Server{ID: id, Name: name, Status: "running", ServerType: typ, Image: "ubuntu-24.04", Location: "fsn1",
		Labels: clone(ours)}
}

func clone(l map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range l {
		out[k] = v
	}
	return out
}

func create(name string) provider.Action {
	return provider.Action{Op: provider.OpCreate, Server: name, ServerType: "cx22", Image: "ubuntu-24.04"}
}

func applied(plan string, steps ...any) *receipt.Receipt {
	ap := &receipt.Apply{Plan: receipt.PlanRef{ID: plan}}
	for i := 0; i < len(steps); i += 2 {
		a, _ := json.Marshal(steps[i])
		r, _ := json.Marshal(steps[i+1])
		ap.Actions = append(ap.Actions, receipt.ActionRecord{Action: a, Result: r})
	}
	return &receipt.Receipt{Kind: receipt.KindApply, Apply: ap}
}

// replay replays receipts 1.. (0 is a genesis).
func replay(t *testing.T, rs ...*receipt.Receipt) *state.State {
	t.Helper()
	st, err := state.Replay(ledger, uint64(len(rs)), func(seq uint64) (*receipt.Receipt, error) {
		if seq == 0 {
			return &receipt.Receipt{Kind: receipt.KindGenesis}, nil
		}
		return rs[seq-1], nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func keys(fs []Finding) string {
	var got []string
	for _, f := range fs {
		got = append(got, fmt.Sprintf("%s %s %s %s->%s", f.Kind, f.Resource, f.Field, f.Expected, f.Actual))
	}
	return strings.Join(got, "|")
}

var ok = provider.StatusSucceeded

func TestCompareServers(t *testing.T) {
	st := replay(t,
		applied("p1", create("a-1"), provider.Result{Status: ok, Observed: srv(1, "a-1", "cx22")},
			create("b-1"), provider.Result{Status: ok, Observed: srv(2, "b-1", "cx22")}),
		&receipt.Receipt{Kind: receipt.KindManual, Manual: &receipt.Manual{}},
		applied("p2", provider.Action{Op: provider.OpRename, Server: "b-1", NewName: "c-1"}, provider.Result{Status: ok, Observed: srv(2, "c-1", "cx22")}),
		applied("p3", create("d-1"), provider.Result{Status: ok, Observed: srv(4, "d-1", "cx22")},
			provider.Action{Op: provider.OpDelete, Server: "d-1"}, provider.Result{Status: ok}),
		// An unknown outcome the applier could not read back: the last known state stays.
		applied("p4", provider.Action{Op: provider.OpResize, Server: "a-1", ServerType: "cx32"}, provider.Result{Status: provider.StatusUnknown}),
	)
	w := World{Servers: []provider.Server{*srv(1, "a-1", "cx22"), *srv(2, "c-1", "cx22")}}
	if fs := Compare(st, w); len(fs) != 0 {
		t.Errorf("no drift expected: %+v", fs)
	}
	a := srv(9, "a-1", "cx22") // recreated by hand under the same name
	a.Protection.Delete = true
	a.Image = "debian-12"
	c := srv(2, "c-1", "cx22")
	c.Labels = nil
	foreign := srv(8, "other-1", "cx22")
	foreign.Labels[provider.LabelLedger] = "github.com_acme_other"
	w = World{Servers: []provider.Server{*a, *c, *srv(7, "z-1", "cx22"), *foreign}}
	fs := Compare(st, w)
	want := "changed server/a-1 id 1->9|changed server/a-1 image ubuntu-24.04->debian-12|changed server/a-1 protection.delete false->true|" +
		"changed server/c-1 labels role=x,vmc.ledger=github.com_acme_infra,vmc.plan=p1->|unmanaged server/z-1  ->id 7, cx22"
	if got := keys(fs); got != want {
		t.Errorf("findings\n%s\nwant\n%s", got, want)
	}
	if fs := Compare(st, World{}); len(fs) != 2 || fs[0].Kind != Missing || fs[1].Resource != "server/c-1" || fs[1].ResourceKind != "server" || fs[1].Name != "c-1" {
		t.Errorf("all missing: %+v", fs)
	}
	fx := PlanFix(st, w, fs)
	// a-1's last action had an unknown outcome: nothing planned; c-1
	// relabelled; z-1 deleted.
	var acts []string
	for _, a := range fx.Actions {
		if err := a.Validate(); err != nil {
			t.Fatalf("planned action %+v: %v", a, err)
		}
		acts = append(acts, string(a.Op)+" "+a.Target().Name)
	}
	if got := strings.Join(acts, ", "); got != "delete z-1, label c-1" {
		t.Errorf("actions %s", got)
	}
	if len(fx.Deferred) != 3 || fx.Deferred[0].Resource != "server/a-1" || !strings.Contains(fx.Deferred[0].Reason, "outcome of the last action on it is unknown") {
		t.Errorf("deferred %+v", fx.Deferred)
	}
}

func fwRule(port string) provider.FirewallRule {
	return provider.FirewallRule{Direction: "in", Protocol: "tcp", Port: port, SourceIPs: []string{"10.0.0.0/8"}}
}

// TestCompareResources: rules, membership from whichever side was observed
// last, attribution.
func TestCompareResources(t *testing.T) {
	web := srv(1, "web-1", "cx22")
	db := srv(2, "db-1", "cx22")
	fw := &provider.Resource{Kind: provider.KindFirewall, ID: 10, Name: "fw", Labels: clone(ours), Rules: []provider.FirewallRule{fwRule("443")}, Servers: []string{"web-1"}}
	net := &provider.Resource{Kind: provider.KindNetwork, ID: 11, Name: "net", Labels: clone(ours), IPRange: "10.0.0.0/16"}
	vol := &provider.Resource{Kind: provider.KindVolume, ID: 12, Name: "data", Labels: clone(ours), Size: 10, Location: "fsn1"}
	dbInNet := *db
	dbInNet.PrivateNet = []provider.PrivateNet{{Network: "net", IP: "10.0.1.2"}}
	dbInNet.Volumes = []string{"data"}
	webFw := *web
	webFw.Firewalls = []string{"fw"}
	st := replay(t,
		applied("p1", create("web-1"), provider.Result{Status: ok, Observed: web},
			create("db-1"), provider.Result{Status: ok, Observed: db},
			// The firewall was observed with web-1 in it; web-1's own entry is older.
			provider.Action{Kind: provider.KindFirewall, Op: provider.OpCreate, Name: "fw"}, provider.Result{Status: ok, Resource: fw},
			// The network is observed empty, then db-1 joins through a server create... observed on db-1 only.
			provider.Action{Kind: provider.KindNetwork, Op: provider.OpCreate, Name: "net", IPRange: "10.0.0.0/16"}, provider.Result{Status: ok, Resource: net},
			provider.Action{Kind: provider.KindVolume, Op: provider.OpCreate, Name: "data", Size: 10, Location: "fsn1"}, provider.Result{Status: ok, Resource: vol}),
		applied("p2", provider.Action{Op: provider.OpReboot, Server: "db-1"}, provider.Result{Status: ok, Observed: &dbInNet}),
	)
	netNow := *net
	netNow.Servers = []string{"db-1"}
	volNow := *vol
	volNow.Server = "db-1"
	autoIP := provider.Resource{Kind: provider.KindPrimaryIP, ID: 20, Name: "primary_ip-20", Server: "web-1", Type: "ipv4", AutoDelete: true}
	w := World{Servers: []provider.Server{webFw, dbInNet}, Resources: map[provider.Kind][]provider.Resource{
		provider.KindFirewall: {*fw}, provider.KindNetwork: {netNow}, provider.KindVolume: {volNow}, provider.KindPrimaryIP: {autoIP}}}
	if fs := Compare(st, w); len(fs) != 0 {
		t.Fatalf("no drift expected: %s", keys(fs))
	}
	counts := Counts(st, w)
	if counts["server"] != (Count{2, 2}) || counts["firewall"] != (Count{1, 1}) || counts["primary_ip"] != (Count{0, 1}) {
		t.Errorf("counts %+v", counts)
	}

	// Behind vmc-git's back: port 22 opened, db-1 added to the firewall,
	// db-1 out of the network, the volume detached, a floating IP made.
	fwNow := *fw
	fwNow.Rules = append([]provider.FirewallRule{fwRule("443")}, provider.FirewallRule{Direction: "in", Protocol: "tcp", Port: "22", SourceIPs: []string{"0.0.0.0/0"}})
	fwNow.Servers = []string{"db-1", "web-1"}
	netNow.Servers = nil
	volNow.Server = ""
	dbNow := *db
	fip := provider.Resource{Kind: provider.KindFloatingIP, ID: 30, Name: "vip", Type: "ipv4"}
	w = World{Servers: []provider.Server{webFw, dbNow}, Resources: map[provider.Kind][]provider.Resource{
		provider.KindFirewall: {fwNow}, provider.KindNetwork: {netNow}, provider.KindVolume: {volNow}, provider.KindFloatingIP: {fip}}}
	fs := Compare(st, w)
	want := "changed firewall/fw rules in tcp 443 from 10.0.0.0/8->in tcp 443 from 10.0.0.0/8; in tcp 22 from 0.0.0.0/0|" +
		"changed firewall/fw servers web-1->db-1,web-1|" +
		"unmanaged floating_ip/vip  ->id 30|" +
		"changed network/net servers db-1->|" +
		"changed volume/data server db-1->"
	if got := keys(fs); got != want {
		t.Fatalf("findings\n%s\nwant\n%s", got, want)
	}
	fx := PlanFix(st, w, fs)
	var acts []string
	for _, a := range fx.Actions {
		if err := a.Validate(); err != nil {
			t.Fatalf("planned action %+v: %v", a, err)
		}
		b, _ := json.Marshal(a)
		acts = append(acts, string(b))
	}
	wantActs := []string{
		`{"op":"delete","kind":"floating_ip","name":"vip"}`,
		`{"op":"set_rules","kind":"firewall","name":"fw","rules":[{"direction":"in","protocol":"tcp","port":"443","source_ips":["10.0.0.0/8"]}]}`,
		`{"op":"attach","kind":"volume","name":"data","server":"db-1"}`,
		`{"op":"detach_firewall","server":"db-1","firewall":"fw"}`,
		`{"op":"attach_network","server":"db-1","network":"net","ip":"10.0.1.2"}`,
	}
	if got := strings.Join(acts, "\n"); got != strings.Join(wantActs, "\n") {
		t.Fatalf("actions\n%s\nwant\n%s", got, strings.Join(wantActs, "\n"))
	}
	if len(fx.Deferred) != 0 {
		t.Errorf("deferred %+v", fx.Deferred)
	}

	// Deleted by hand: the firewall and db-1. The fix recreates the
	// firewall with web-1, then db-1 in the network and with its volume.
	w = World{Servers: []provider.Server{*web}, Resources: map[provider.Kind][]provider.Resource{
		provider.KindFirewall: {}, provider.KindNetwork: {*net}, provider.KindVolume: {*vol}}}
	fs = Compare(st, w)
	want = "missing server/db-1  id 2, cx22->|missing firewall/fw  id 10->|changed network/net servers db-1->|changed volume/data server db-1->"
	if got := keys(fs); got != want {
		t.Fatalf("findings\n%s\nwant\n%s", got, want)
	}
	acts = nil
	for _, a := range PlanFix(st, w, fs).Actions {
		b, _ := json.Marshal(a)
		acts = append(acts, string(b))
	}
	wantActs = []string{
		`{"op":"create","kind":"firewall","name":"fw","labels":{"role":"x"},"rules":[{"direction":"in","protocol":"tcp","port":"443","source_ips":["10.0.0.0/8"]}],"servers":["web-1"]}`,
		`{"op":"create","server":"db-1","server_type":"cx22","image":"ubuntu-24.04","location":"fsn1","labels":{"role":"x"},"networks":["net"]}`,
		`{"op":"attach","kind":"volume","name":"data","server":"db-1"}`,
	}
	if got := strings.Join(acts, "\n"); got != strings.Join(wantActs, "\n") {
		t.Fatalf("actions\n%s\nwant\n%s", got, strings.Join(wantActs, "\n"))
	}
}

// TestPlanFixServer: a resize needs the server off; the status comes back.
func TestPlanFixServer(t *testing.T) {
	st := replay(t, applied("p1", create("web-1"), provider.Result{Status: ok, Observed: srv(1, "web-1", "cx22")}))
	now := srv(1, "web-1", "cx32")
	now.Labels["role"] = "hacked"
	now.Protection.Delete = true
	fs := Compare(st, World{Servers: []provider.Server{*now}})
	fx := PlanFix(st, World{Servers: []provider.Server{*now}}, fs)
	var acts []string
	for _, a := range fx.Actions {
		acts = append(acts, string(a.Op))
	}
	if got := strings.Join(acts, ","); got != "poweroff,resize,label,protect,poweron" {
		t.Fatalf("actions %s (%s)", got, keys(fs))
	}
	now.Status = "off"
	fs = Compare(st, World{Servers: []provider.Server{*now}})
	acts = nil
	for _, a := range PlanFix(st, World{Servers: []provider.Server{*now}}, fs).Actions {
		acts = append(acts, string(a.Op))
	}
	if got := strings.Join(acts, ","); got != "resize,label,protect,poweron" {
		t.Fatalf("actions when off %s", got)
	}
	// Only an operator label added, none expected: remove_labels.
	st = replay(t, applied("p1", create("web-1"), provider.Result{Status: ok,
		Observed: &provider.Server{ID: 1, Name: "web-1", Status: "running", Labels: map[string]string{provider.LabelLedger: "x"}}}))
	now = &provider.Server{ID: 1, Name: "web-1", Status: "running", Labels: map[string]string{provider.LabelLedger: "x", "extra": "1"}}
	fx = PlanFix(st, World{Servers: []provider.Server{*now}}, Compare(st, World{Servers: []provider.Server{*now}}))
	if len(fx.Actions) != 1 || fx.Actions[0].Op != provider.OpRemoveLabels || fx.Actions[0].LabelKeys[0] != "extra" {
		t.Fatalf("actions %+v", fx.Actions)
	}
}

// TestRenamedAndUnknown: a rename behind vmc-git's back is one finding
// (field name) with the memberships kept, planned as a rename back; a
// resource an unknown outcome may have created is not unmanaged.
func TestRenamedAndUnknown(t *testing.T) {
	web := srv(1, "web-1", "cx22")
	web.Firewalls = []string{"fw"}
	fw := &provider.Resource{Kind: provider.KindFirewall, ID: 10, Name: "fw", Servers: []string{"web-1"}}
	st := replay(t,
		applied("p1", provider.Action{Kind: provider.KindFirewall, Op: provider.OpCreate, Name: "fw"}, provider.Result{Status: ok, Resource: fw},
			create("web-1"), provider.Result{Status: ok, Observed: web}),
		applied("p2", create("db-1"), provider.Result{Status: provider.StatusUnknown}),
	)
	moved := *web
	moved.Name = "www-1"
	fwNow := *fw
	fwNow.Name, fwNow.Servers = "fw-2", []string{"www-1"}
	db := srv(2, "db-1", "cx22")
	w := World{Servers: []provider.Server{moved, *db}, Resources: map[provider.Kind][]provider.Resource{provider.KindFirewall: {fwNow}}}
	fs := Compare(st, w)
	want := "changed server/db-1 outcome unknown (receipt 2, plan p2, create)->id 2|changed server/web-1 name web-1->www-1|changed firewall/fw name fw->fw-2"
	if got := keys(fs); got != want {
		t.Fatalf("findings\n%s\nwant\n%s", got, want)
	}
	fx := PlanFix(st, w, fs)
	var acts []string
	for _, a := range fx.Actions {
		if err := a.Validate(); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(a)
		acts = append(acts, string(b))
	}
	wantActs := `{"op":"rename","server":"www-1","new_name":"web-1"}` + "\n" + `{"op":"rename","kind":"firewall","name":"fw-2","new_name":"fw"}`
	if got := strings.Join(acts, "\n"); got != wantActs {
		t.Fatalf("actions\n%s\nwant\n%s", got, wantActs)
	}
	if len(fx.Deferred) != 1 || fx.Deferred[0].Name != "db-1" || !strings.Contains(fx.Deferred[0].Reason, "unknown") {
		t.Fatalf("deferred %+v", fx.Deferred)
	}
}

// TestPlanFixNetwork: a subnet removed and a route added by hand: one
// action per network per plan: the route first (findings are sorted by
// field), the subnet deferred to the next plan.
func TestPlanFixNetwork(t *testing.T) {
	net := &provider.Resource{Kind: provider.KindNetwork, ID: 5, Name: "net", IPRange: "10.0.0.0/16",
		Subnets: []provider.Subnet{{Type: "cloud", IPRange: "10.0.1.0/24", NetworkZone: "eu-central"}}}
	st := replay(t, applied("p1", provider.Action{Kind: provider.KindNetwork, Op: provider.OpCreate, Name: "net", IPRange: "10.0.0.0/16"},
		provider.Result{Status: ok, Resource: net}))
	now := *net
	now.Subnets = nil
	now.Routes = []provider.Route{{Destination: "10.100.0.0/24", Gateway: "10.0.1.1"}}
	w := World{Resources: map[provider.Kind][]provider.Resource{provider.KindNetwork: {now}}}
	fs := Compare(st, w)
	if got := keys(fs); got != "changed network/net routes ->10.100.0.0/24 via 10.0.1.1|changed network/net subnets cloud 10.0.1.0/24 eu-central->" {
		t.Fatalf("findings %s", got)
	}
	fx := PlanFix(st, w, fs)
	if len(fx.Actions) != 1 || fx.Actions[0].Op != provider.OpDeleteRoute || fx.Actions[0].Validate() != nil {
		t.Fatalf("actions %+v", fx.Actions)
	}
	if len(fx.Deferred) != 1 || fx.Deferred[0].Field != FieldSubnets || !strings.Contains(fx.Deferred[0].Reason, "one action per resource") {
		t.Fatalf("deferred %+v", fx.Deferred)
	}
	// Once the route is gone, the subnet comes back.
	now.Routes = nil
	w = World{Resources: map[provider.Kind][]provider.Resource{provider.KindNetwork: {now}}}
	fx = PlanFix(st, w, Compare(st, w))
	if len(fx.Actions) != 1 || fx.Actions[0].Op != provider.OpAddSubnet || fx.Actions[0].Subnet.IPRange != "10.0.1.0/24" || fx.Actions[0].Validate() != nil {
		t.Fatalf("actions %+v", fx.Actions)
	}
}
