package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmc-git/vmc-git/apply/remoteref"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/provider"
	"github.com/vmc-git/vmc-git/state"
)

// planKind makes plan id with "plan KIND OP NAME ARGS...", approves (bob)
// and commits it.
func (r *repo) planKind(id string, args ...string) {
	r.t.Helper()
	r.must(append([]string{"plan"}, append(args, "--id", id, "--kid", "alice")...)...)
	r.approve(id, "bob")
	r.commit("plan " + id)
}

// TestResourcePlansCLI: plans for every kind from the command line with the
// hcloud CLI's flag names, applied, then `vmc-git state` shows what the
// ledger expects.
func TestResourcePlansCLI(t *testing.T) {
	r := newRepo(t, repoOpts{})
	r.planKind("fw", "firewall", "create", "fw-web", "--rule", "in tcp 443 0.0.0.0/0,::/0 https", "--rule", "in icmp 0.0.0.0/0", "--label", "tier=web")
	r.planKind("net", "network", "create", "backend", "--ip-range", "10.0.0.0/16", "--subnet", "10.0.1.0/24,eu-central")
	r.planKind("key", "ssh-key", "create", "ops", "--public-key", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ops")
	// The pull-request review renders every field of the new kinds.
	md := r.must("plan", "review", "--base", "HEAD~3", "--head", "HEAD", "--markdown")
	for _, want := range []string{"create firewall fw-web (2 rules: in tcp/443 from 0.0.0.0/0,::/0 (\"https\"); in icmp from 0.0.0.0/0; labels tier=web)",
		"direction=in protocol=tcp port=443 source_ips=[0.0.0.0/0, ::/0] description=https", "+ labels.tier: web",
		"create network backend (ip range 10.0.0.0/16; subnet cloud 10.0.1.0/24 in eu-central)", "+ ip_range: 10.0.0.0/16",
		"#### 1. ssh\\_key create `ops`", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ops"} {
		if !strings.Contains(md, want) {
			t.Errorf("review lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "empty name") {
		t.Errorf("review could not read the provider:\n%s", md)
	}
	r.must("apply", "--pending", "--key", key("alice"))
	r.planKind("web", "server", "create", "web-1", "--type", "cx22", "--image", "debian-12", "--location", "fsn1",
		"--firewall", "fw-web", "--network", "backend", "--ssh-key", "ops")
	r.must("apply", "--pending", "--key", key("alice"))
	// Plans that touch web-1 are applied one by one: each is made against
	// the ledger head, and a receipt that changed web-1 since makes it stale.
	for _, p := range [][]string{
		{"vol", "volume", "create", "data", "--size", "10", "--server", "web-1", "--automount"},
		{"ip", "ip", "floating", "create", "vip", "--type", "ipv4", "--server", "web-1"},
		{"rdns", "server", "set-rdns", "web-1", "--hostname", "web-1.example.com"},
		{"lbl", "server", "add-label", "web-1", "--label", "env=prod"},
	} {
		r.planKind(p[0], p[1:]...)
		r.must("apply", "--pending", "--key", key("alice"))
	}
	r.planKind("pip", "primary-ip", "create", "spare", "--type", "ipv6", "--location", "nbg1")
	r.planKind("sub", "network", "add-subnet", "backend", "--ip-range", "10.0.2.0/24", "--network-zone", "eu-central")
	r.must("apply", "--pending", "--key", key("alice"))
	r.noLeftovers()
	r.verify(11)

	var st state.State
	if err := json.Unmarshal([]byte(r.must("state", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	got := map[string]state.Entry{}
	for _, e := range st.Resources {
		got[e.Kind+" "+e.Name] = e
	}
	if len(got) != 7 {
		t.Fatalf("state has %d resources: %v", len(got), st.Resources)
	}
	web := got["server web-1"].Server
	if web == nil || web.RDNS != "web-1.example.com" || web.Labels["env"] != "prod" || web.Labels["vmc.plan"] != "lbl" ||
		len(web.Firewalls) != 1 || len(web.PrivateNet) != 1 {
		t.Fatalf("web-1 in the state: %+v", web)
	}
	if fw := got["firewall fw-web"].Other; fw == nil || len(fw.Rules) != 2 || fw.Labels["vmc.plan"] != "fw" || fw.Labels["tier"] != "web" {
		t.Fatalf("firewall in the state: %+v", fw)
	}
	if n := got["network backend"]; n.Plan != "sub" || len(n.Other.Subnets) != 2 {
		t.Fatalf("network in the state: %+v", n)
	}
	if v := got["volume data"].Other; v.Server != "web-1" || v.Size != 10 {
		t.Fatalf("volume in the state: %+v", v)
	}
	text := r.must("state")
	for _, want := range []string{"firewall     fw-web", "floating_ip  vip", "2 rules", "on server web-1"} {
		if !strings.Contains(text, want) {
			t.Errorf("state text lacks %q:\n%s", want, text)
		}
	}

	// Bad flags are usage errors and write nothing.
	for _, bad := range [][]string{
		{"plan", "firewall", "create", "fw-2", "--rule", "in tcp 0.0.0.0/0"},
		{"plan", "network", "create", "n2", "--ip-range", "10.0.0.1/16"},
		{"plan", "volume", "create", "v2", "--size", "5", "--location", "fsn1"},
		{"plan", "server", "set-rdns", "web-1"},
	} {
		if res := r.run(bad...); res.code != exitUsage {
			t.Errorf("%s: exit %d, want %d\n%s", strings.Join(bad, " "), res.code, exitUsage, res)
		}
	}
	// The dry run refuses what cannot start.
	if res := r.run("plan", "volume", "attach", "data", "--server", "nope"); res.code != exitRefused || !strings.Contains(res.err, "does not exist") {
		t.Errorf("attach to a missing server: %s", res)
	}
}

// TestProjectPlanFileCLI: a small project (network, firewall, two servers in
// the network behind the firewall, a volume) from one `plan file`, applied
// as one plan, then torn down by another.
func TestProjectPlanFileCLI(t *testing.T) {
	r := newRepo(t, repoOpts{})
	dir := t.TempDir()
	up := `[
 {"kind":"network","op":"create","name":"proj-net","ip_range":"10.20.0.0/16","subnets":[{"ip_range":"10.20.1.0/24","network_zone":"eu-central"}]},
 {"kind":"firewall","op":"create","name":"proj-fw","rules":[{"direction":"in","protocol":"tcp","port":"22","source_ips":["198.51.100.0/24"]}]},
 {"op":"create","server":"app-1","server_type":"cx22","image":"debian-12","location":"fsn1","networks":["proj-net"],"firewalls":["proj-fw"]},
 {"op":"create","server":"app-2","server_type":"cx22","image":"debian-12","location":"fsn1","networks":["proj-net"],"firewalls":["proj-fw"]},
 {"kind":"volume","op":"create","name":"proj-data","size":10,"server":"app-1","automount":true}
]`
	down := `[
 {"op":"delete","server":"app-1"},{"op":"delete","server":"app-2"},
 {"kind":"volume","op":"delete","name":"proj-data"},
 {"kind":"firewall","op":"delete","name":"proj-fw"},
 {"kind":"network","op":"delete","name":"proj-net"}
]`
	os.WriteFile(filepath.Join(dir, "up.json"), []byte(up), 0o644)
	os.WriteFile(filepath.Join(dir, "down.json"), []byte(down), 0o644)
	r.planKind("project-up", "file", filepath.Join(dir, "up.json"))
	r.must("apply", "--pending", "--key", key("alice"))
	rc := r.onlyReceipt("project-up")
	res := results(t, rc)
	if len(res) != 5 {
		t.Fatalf("%d results", len(res))
	}
	for i, x := range res {
		if x.Status != "succeeded" {
			t.Fatalf("action %d: %+v", i, x)
		}
	}
	if s := res[3].Observed; s == nil || s.Firewalls[0] != "proj-fw" || s.PrivateNet[0].Network != "proj-net" {
		t.Fatalf("app-2 observed: %+v", s)
	}
	if v := res[4].Resource; v == nil || v.Server != "app-1" {
		t.Fatalf("volume observed: %+v", v)
	}
	// Teardown made before the first apply would be stale; made now it is fresh.
	r.planKind("project-down", "file", filepath.Join(dir, "down.json"))
	r.must("apply", "--pending", "--key", key("alice"))
	for _, x := range results(t, r.onlyReceipt("project-down")) {
		if x.Status != "succeeded" {
			t.Fatalf("teardown: %+v", x)
		}
	}
	var st state.State
	if err := json.Unmarshal([]byte(r.must("state", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Resources) != 0 {
		t.Fatalf("state after teardown: %+v", st.Resources)
	}
	r.noLeftovers()
	r.verify(3)
}

// TestCrashResourcePlan kills apply (VMC_FAULT: exit 99) at each step of a
// plan that creates a firewall, a server behind it and a volume on the
// server; the next apply --pending finishes it with exactly one receipt and
// each resource created once.
func TestCrashResourcePlan(t *testing.T) {
	t.Parallel()
	plan := `[
 {"kind":"firewall","op":"create","name":"fw","rules":[{"direction":"in","protocol":"tcp","port":"443","source_ips":["0.0.0.0/0"]}]},
 {"op":"create","server":"app-1","server_type":"cx22","image":"debian-12","firewalls":["fw"]},
 {"kind":"volume","op":"create","name":"data","size":10,"server":"app-1"}
]`
	for _, step := range []string{"before-provider", "after-provider", "before-commit", "after-commit"} {
		t.Run(step, func(t *testing.T) {
			t.Parallel()
			r := newRepo(t, repoOpts{})
			f := filepath.Join(t.TempDir(), "plan.json")
			os.WriteFile(f, []byte(plan), 0o644)
			r.planKind("stack", "file", f)
			res := r.runEnv([]string{"VMC_FAULT=" + step}, "apply", "--pending", "--key", key("alice"))
			if res.code != 99 {
				t.Fatalf("crash run: %s", res)
			}
			if res := r.run("apply", "--pending", "--key", key("alice")); res.code != 0 {
				t.Fatalf("recovery run: %s", res)
			}
			rc := r.onlyReceipt("stack")
			if rc.Apply.Recovered != (step != "after-commit") {
				t.Errorf("recovered = %v", rc.Apply.Recovered)
			}
			for i, x := range results(t, rc) {
				if x.Status != "succeeded" {
					t.Errorf("action %d: %+v", i, x)
				}
			}
			var st state.State
			if err := json.Unmarshal([]byte(r.must("state", "--json")), &st); err != nil {
				t.Fatal(err)
			}
			if len(st.Resources) != 3 {
				t.Fatalf("state: %+v", st.Resources)
			}
			p, _ := r.sandboxState()
			for _, k := range []provider.Kind{provider.KindFirewall, provider.KindVolume} {
				if all, err := p.Resources(context.Background(), k, ""); err != nil || len(all) != 1 {
					t.Fatalf("%ss: %v %v", k, all, err)
				}
			}
			if ss := servers(t, p); len(ss) != 1 || len(ss[0].Firewalls) != 1 || len(ss[0].Volumes) != 1 {
				t.Fatalf("servers: %+v", ss)
			}
			r.verify(2)
			r.noLeftovers()
		})
	}
}

// TestResourcePlanPush: a resource plan applied with --push takes the remote
// lock of each resource (refs/vmc/locks/fw.<name>, …, accepted by the hook),
// is refused while another live run holds one, and leaves no lock behind.
func TestResourcePlanPush(t *testing.T) {
	t.Parallel()
	prov, _, seed, origin := pushSetup(t, 20*time.Millisecond)
	f := filepath.Join(t.TempDir(), "plan.json")
	os.WriteFile(f, []byte(`[
 {"kind":"firewall","op":"create","name":"pfw"},
 {"kind":"network","op":"create","name":"pnet","ip_range":"10.30.0.0/16","subnets":[{"ip_range":"10.30.1.0/24","network_zone":"eu-central"}]},
 {"op":"create","server":"p-1","server_type":"cx22","image":"debian-12","firewalls":["pfw"],"networks":["pnet"]}
]`), 0o644)
	seed.planKind("push-stack", "file", f)
	seed.git("push", "-q", "origin", "main", "vmc/ledger")

	// Another live run holds the firewall's lock.
	host, _ := os.Hostname()
	alice, err := keys.LoadFile(key("alice"))
	if err != nil {
		t.Fatal(err)
	}
	held, err := remoteref.Lock{Ledger: testLedgerID, Server: "fw.pfw", Plan: "other-plan", Holder: "alice", Host: host,
		PID: os.Getpid(), Time: time.Now(), Nonce: "00", KID: "alice"}.Encode(alice)
	if err != nil {
		t.Fatal(err)
	}
	blob := strings.TrimSpace(gitInStdin(t, seed.root, held, "hash-object", "-w", "--stdin"))
	seed.git("push", "-q", "origin", blob+":refs/vmc/locks/fw.pfw")
	b := machine(t, seed, origin)
	res := b.run("apply", "--pending", "--push", "--key", key("alice"), "--lock-wait", "1s")
	if res.code == 0 || !strings.Contains(res.err, "fw.pfw") {
		t.Fatalf("apply under a held remote firewall lock: %s", res)
	}
	if ss := servers(t, prov); len(ss) != 0 {
		t.Fatalf("the provider was called: %+v", ss)
	}
	seed.git("push", "-q", "origin", ":refs/vmc/locks/fw.pfw")
	out := b.must("apply", "--pending", "--push", "--key", key("alice"))
	if !strings.Contains(out, "applied plan push-stack: succeeded") {
		t.Fatalf("apply: %s", out)
	}
	if refs := strings.TrimSpace(gitIn(t, origin, "for-each-ref", "refs/vmc/locks/")); refs != "" {
		t.Errorf("lock refs left on origin: %s", refs)
	}
	if ss := servers(t, prov); len(ss) != 1 || ss[0].Firewalls[0] != "pfw" || ss[0].PrivateNet[0].Network != "pnet" {
		t.Fatalf("servers: %+v", ss)
	}
}
