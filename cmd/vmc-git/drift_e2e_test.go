package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmc-git/vmc-git/drift"
	"github.com/vmc-git/vmc-git/internal/github"
	"github.com/vmc-git/vmc-git/internal/github/githubtest"
	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/policy"
	"github.com/vmc-git/vmc-git/provider"
	"github.com/vmc-git/vmc-git/provider/sandbox"
	"github.com/vmc-git/vmc-git/receipt"
	"github.com/vmc-git/vmc-git/state"
	"github.com/vmc-git/vmc-git/workspace"
)

func driftJSON(t *testing.T, res result) workspace.DriftReport {
	t.Helper()
	var rep workspace.DriftReport
	if err := json.Unmarshal([]byte(res.out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, res)
	}
	return rep
}

func findingKeys(fs []drift.Finding) string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Kind+" "+f.Resource+" "+f.Field)
	}
	return strings.Join(out, "; ")
}

// TestDrift: changes made behind vmc-git's back through the sandbox's API
// (a server deleted, resized, relabelled, a server created by hand) show as
// drift, exit 6 (exitDrift), and attest.
func TestDrift(t *testing.T) {
	t.Parallel()
	sb, err := sandbox.New(sandbox.Options{Token: sandboxToken, ActionDuration: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	prov, url := serve(t, sb)
	r := newRepo(t, repoOpts{env: hetznerEnv(url)})
	for _, n := range []string{"web-1", "web-2", "db-1"} {
		r.planApproved(n+"-create", "create", n, "--type", "cx22", "--image", "ubuntu-24.04", "--label", "role=x")
	}
	r.must("apply", "--pending", "--key", key("alice"))
	if out := r.must("drift"); !strings.Contains(out, "no drift") || !strings.Contains(out, "3 servers expected, 3 at the provider") {
		t.Fatalf("drift after apply: %s", out)
	}

	ctx := context.Background()
	for _, a := range []provider.Action{
		{Op: provider.OpDelete, Server: "web-2"},
		{Op: provider.OpPoweroff, Server: "web-1"},
		{Op: provider.OpResize, Server: "web-1", ServerType: "cx32"},
		{Op: provider.OpLabel, Server: "db-1", Labels: map[string]string{"role": "hacked"}},
		{Op: provider.OpCreate, Server: "rogue-1", ServerType: "cx22", Image: "debian-12"},
	} {
		if res, err := prov.Apply(ctx, a, nil); err != nil || res.Status != provider.StatusSucceeded {
			t.Fatalf("%s %s behind vmc-git's back: %v %+v", a.Op, a.Server, err, res)
		}
	}
	res := r.run("drift", "--json")
	if res.code != exitDrift {
		t.Fatalf("drift must exit %d (exitDrift): %s", exitDrift, res)
	}
	rep := driftJSON(t, res)
	// Sorted by resource, then kind and field.
	want := "changed server/db-1 labels; unmanaged server/rogue-1 ; changed server/web-1 server_type; changed server/web-1 status; missing server/web-2 "
	if got := findingKeys(rep.Findings); got != want {
		t.Fatalf("findings %s\nwant     %s", got, want)
	}

	res = r.run("drift", "--attest", "--key", key("alice"), "--json")
	rep = driftJSON(t, res)
	if res.code != exitDrift || rep.Attestation == nil || rep.Attestation.Seq != 4 {
		t.Fatalf("drift --attest: %s", res)
	}
	r.verify(5)
	rc, err := receipt.Parse([]byte(r.git("show", "refs/heads/vmc/ledger:"+rep.Attestation.Path)))
	if err != nil {
		t.Fatal(err)
	}
	st, err := policy.ParseStatement(rc.Attestation)
	if err != nil || st.PredicateType != drift.PredicateType {
		t.Fatalf("statement %v %+v", err, st)
	}
	var subs []string
	for _, s := range st.Subject {
		if strings.HasPrefix(s.Name, "server/") {
			subs = append(subs, s.Name)
		}
	}
	slices.Sort(subs)
	if strings.Join(subs, " ") != "server/db-1 server/rogue-1 server/web-1" {
		t.Fatalf("server subjects %v", subs)
	}
	if n := len(st.Predicate.AsMap()["result"].(map[string]any)["findings"].([]any)); n != 5 {
		t.Errorf("attested %d findings", n)
	}
}

// behindBack runs actions on the provider directly, as someone with the
// Hetzner token would (through the sandbox's HTTP API, no vmc.* labels).
func behindBack(t *testing.T, prov provider.Provider, acts ...provider.Action) {
	t.Helper()
	for _, a := range acts {
		if res, err := prov.Apply(context.Background(), a, nil); err != nil || res.Status != provider.StatusSucceeded {
			t.Fatalf("%s %s behind vmc-git's back: %v %+v", a.Op, a.Target(), err, res)
		}
	}
}

// TestDriftPlanFixAndAdopt: a firewall, a network and three servers are
// applied; behind vmc-git's back a server is deleted, one resized, one
// relabelled, a firewall rule opened, the firewall applied to another
// server, a server taken out of the network and a server created by hand.
// drift reports each with kind, field, expected and actual; --plan-fix
// writes one plan that, approved and applied as any plan, brings drift to
// zero. Then --adopt takes new changes into the ledger with a manual
// receipt, and drift is zero again. --report-issue opens the GitHub issue
// on the first drift, updates the same one on the second and closes it when
// drift is gone.
func TestDriftPlanFixAndAdopt(t *testing.T) {
	t.Parallel()
	sb, err := sandbox.New(sandbox.Options{Token: sandboxToken, ActionDuration: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	prov, url := serve(t, sb)
	gh := githubtest.New("ghs_drift-token", github.DefaultAuthor)
	defer gh.Close()
	r := newRepo(t, repoOpts{env: append(hetznerEnv(url), "GITHUB_TOKEN=ghs_drift-token", "GITHUB_REPOSITORY=acme/infra", "GITHUB_API_URL="+gh.URL())})

	up := `[{"kind":"network","op":"create","name":"net","ip_range":"10.0.0.0/16","subnets":[{"ip_range":"10.0.1.0/24","network_zone":"eu-central"}]},
	 {"kind":"firewall","op":"create","name":"fw-web","rules":[{"direction":"in","protocol":"tcp","port":"443","source_ips":["0.0.0.0/0"]}]},
	 {"op":"create","server":"web-1","server_type":"cx22","image":"ubuntu-24.04","location":"fsn1","labels":{"role":"web"},"firewalls":["fw-web"],"networks":["net"]},
	 {"op":"create","server":"web-2","server_type":"cx22","image":"ubuntu-24.04","location":"fsn1","labels":{"role":"web"},"firewalls":["fw-web"]},
	 {"op":"create","server":"db-1","server_type":"cx22","image":"ubuntu-24.04","location":"fsn1","labels":{"role":"db"},"networks":["net"]}]`
	upFile := filepath.Join(t.TempDir(), "up.json")
	if err := os.WriteFile(upFile, []byte(up), 0o644); err != nil {
		t.Fatal(err)
	}
	r.must("plan", "file", upFile, "--id", "up", "--kid", "alice")
	r.approve("up", "bob")
	r.commit("plan up")
	r.must("apply", "--pending", "--key", key("alice"))
	out := r.must("drift", "--report-issue")
	if !strings.Contains(out, "no drift") || !strings.Contains(out, "(3 servers expected, 3 at the provider)") || len(gh.Issues("acme/infra")) != 0 {
		t.Fatalf("drift after apply: %s", out)
	}

	behindBack(t, prov,
		provider.Action{Op: provider.OpDelete, Server: "web-2"},
		provider.Action{Op: provider.OpPoweroff, Server: "web-1"},
		provider.Action{Op: provider.OpResize, Server: "web-1", ServerType: "cx32"},
		provider.Action{Op: provider.OpLabel, Server: "db-1", Labels: map[string]string{"role": "hacked"}},
		provider.Action{Kind: provider.KindFirewall, Op: provider.OpSetRules, Name: "fw-web", Rules: []provider.FirewallRule{
			{Direction: "in", Protocol: "tcp", Port: "443", SourceIPs: []string{"0.0.0.0/0"}},
			{Direction: "in", Protocol: "tcp", Port: "22", SourceIPs: []string{"0.0.0.0/0"}}}},
		provider.Action{Op: provider.OpAttachFirewall, Server: "db-1", Firewall: "fw-web"},
		provider.Action{Op: provider.OpDetachNetwork, Server: "web-1", Network: "net"},
		provider.Action{Op: provider.OpCreate, Server: "rogue-1", ServerType: "cx22", Image: "debian-12"},
	)
	res := r.run("drift", "--json", "--report-issue")
	if res.code != exitDrift {
		t.Fatalf("drift must exit %d (exitDrift): %s", exitDrift, res)
	}
	var rep struct {
		workspace.DriftReport
		Issue *workspace.DriftIssue `json:"issue"`
	}
	if err := json.Unmarshal([]byte(res.out), &rep); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range rep.Findings {
		got = append(got, strings.TrimSpace(fmt.Sprintf("%s %s %s %s %s: %s -> %s", f.Kind, f.ResourceKind, f.Name, f.Resource, f.Field, f.Expected, f.Actual)))
	}
	want := []string{
		"changed server db-1 server/db-1 labels: role=db,vmc.ledger=example.com_test_infra,vmc.plan=up -> role=hacked,vmc.ledger=example.com_test_infra,vmc.plan=up",
		"unmanaged server rogue-1 server/rogue-1 : ->",
		"changed server web-1 server/web-1 server_type: cx22 -> cx32",
		"changed server web-1 server/web-1 status: running -> off",
		"missing server web-2 server/web-2 : ->",
		"changed firewall fw-web firewall/fw-web rules: in tcp 443 from 0.0.0.0/0 -> in tcp 443 from 0.0.0.0/0; in tcp 22 from 0.0.0.0/0",
		"changed firewall fw-web firewall/fw-web servers: web-1,web-2 -> db-1,web-1",
		"changed network net network/net servers: db-1,web-1 -> db-1",
	}
	for i := range got {
		if i < len(want) && strings.HasPrefix(want[i], "unmanaged") || i < len(want) && strings.HasPrefix(want[i], "missing") {
			got[i] = got[i][:strings.Index(got[i], ":")+1] + " ->" // ids vary
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if rep.V != workspace.DriftVersion || rep.Kinds["firewall"] != (drift.Count{Expected: 1, Actual: 1}) || rep.Kinds["server"] != (drift.Count{Expected: 3, Actual: 3}) {
		t.Fatalf("report header: v %d, kinds %+v", rep.V, rep.Kinds)
	}
	issues := gh.Issues("acme/infra")
	if rep.Issue == nil || rep.Issue.Action != "opened" || len(issues) != 1 || !strings.Contains(issues[0].Body, "| changed | `firewall/fw-web` | rules |") {
		t.Fatalf("issue: %+v %+v", rep.Issue, issues)
	}
	if strings.Contains(res.out+res.err, "ghs_drift-token") {
		t.Fatal("the GitHub token was printed")
	}

	// --plan-fix writes the plan; a second drift run updates the same issue.
	res = r.run("drift", "--plan-fix", "--id", "drift-fix-1", "--kid", "alice", "--report-issue")
	if res.code != exitDrift || !strings.Contains(res.out, "fix plan drift-fix-1: 8 action(s)") || !strings.Contains(res.out, "GitHub issue acme/infra#1 updated") {
		t.Fatalf("drift --plan-fix: %s", res)
	}
	if n := len(gh.Issues("acme/infra")); n != 1 {
		t.Fatalf("%d issues after the second drift run, want 1", n)
	}
	show := r.must("plan", "show", r.planFile("drift-fix-1"), "--json")
	var ps struct {
		Plan plans.Plan `json:"plan"`
	}
	if err := json.Unmarshal([]byte(show), &ps); err != nil {
		t.Fatal(err)
	}
	var acts []string
	for _, s := range ps.Plan.Actions {
		acts = append(acts, string(s.Action.Op)+" "+s.Action.Target().String())
	}
	wantActs := "delete server rogue-1, create server web-2, label server db-1, resize server web-1, poweron server web-1, " +
		"set_rules firewall fw-web, detach_firewall server db-1, attach_network server web-1"
	if strings.Join(acts, ", ") != wantActs {
		t.Fatalf("fix plan actions:\n%s\nwant:\n%s", strings.Join(acts, ", "), wantActs)
	}
	r.approve("drift-fix-1", "bob")
	r.commit("plan drift-fix-1")
	r.must("apply", "--pending", "--key", key("alice"))
	out = r.must("drift", "--report-issue")
	if !strings.Contains(out, "no drift") || !strings.Contains(out, "GitHub issue acme/infra#1 closed") {
		t.Fatalf("drift after the fix: %s", out)
	}
	if is := gh.Issues("acme/infra")[0]; is.State != "closed" || len(gh.Comments("acme/infra#1")) != 1 {
		t.Fatalf("issue after the fix: %+v", is)
	}
	var fw *provider.Resource
	if fw, err = prov.Resource(context.Background(), provider.KindFirewall, "fw-web"); err != nil || len(fw.Rules) != 1 || fw.Rules[0].Port != "443" {
		t.Fatalf("firewall after the fix: %+v %v", fw, err)
	}

	// --adopt: the ledger takes the provider's state instead.
	behindBack(t, prov,
		provider.Action{Op: provider.OpLabel, Server: "web-1", Labels: map[string]string{"role": "web", "owner": "ops"}},
		provider.Action{Op: provider.OpCreate, Server: "legacy-1", ServerType: "cx22", Image: "debian-12"},
	)
	res = r.run("drift", "--adopt", "--key", key("alice"), "--json")
	if res.code != exitDrift {
		t.Fatalf("drift --adopt: %s", res)
	}
	if err := json.Unmarshal([]byte(res.out), &rep); err != nil || rep.Adopted == nil || len(rep.Findings) != 2 {
		t.Fatalf("drift --adopt: %v %s", err, res)
	}
	rc, err := receipt.Parse([]byte(r.git("show", "refs/heads/vmc/ledger:"+rep.Adopted.Path)))
	if err != nil || rc.Kind != receipt.KindManual || !strings.HasPrefix(rc.Summary, "drift adopt: ") {
		t.Fatalf("adopt receipt: %v %+v", err, rc)
	}
	if a, err := state.ParseAdopt(rc.Manual.Details); err != nil || len(a.Resources) != 2 || a.Resources[0].Name != "legacy-1" {
		t.Fatalf("adopt record: %v %+v", err, a)
	}
	if out := r.must("drift"); !strings.Contains(out, "no drift") || !strings.Contains(out, "(4 servers expected, 4 at the provider)") {
		t.Fatalf("drift after adopt: %s", out)
	}
	checkError(t, r.run("drift", "--plan-fix", "--adopt", "--key", key("alice")), exitUsage, "--plan-fix or --adopt, not both")
	r.verify(4) // genesis, up, drift-fix-1, the adopt receipt
}

// TestDriftRefusals: bad flags and a fix plan that cannot be written fail
// with their own messages and change nothing: no plan file, no receipt, no
// GitHub request; a drift no plan can fix is listed, with no plan.
func TestDriftRefusals(t *testing.T) {
	t.Parallel()
	sb, err := sandbox.New(sandbox.Options{Token: sandboxToken, ActionDuration: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	prov, url := serve(t, sb)
	gh := githubtest.New("ghs_secret-token", github.DefaultAuthor)
	defer gh.Close()
	r := newRepo(t, repoOpts{env: hetznerEnv(url)})
	r.planApproved("web-1-create", "create", "web-1", "--type", "cx22", "--image", "ubuntu-24.04")
	r.must("apply", "--pending", "--key", key("alice"))
	// Recreated by hand under the same name: no plan can fix that.
	behindBack(t, prov, provider.Action{Op: provider.OpDelete, Server: "web-1"},
		provider.Action{Op: provider.OpCreate, Server: "web-1", ServerType: "cx22", Image: "ubuntu-24.04"})
	head := r.ledgerHead()

	checkError(t, r.run("drift", "--push"), exitUsage, "give --attest or --adopt too")
	checkError(t, r.run("drift", "--plan-fix", "--id", "Bad/ID"), exitUsage, "invalid plan id")
	checkError(t, r.run("drift", "--adopt"), exitUsage, "no signing key")
	checkError(t, r.runEnv([]string{"GITHUB_REPOSITORY=acme/infra"}, "drift", "--report-issue"), exitUsage, "GITHUB_TOKEN")
	res := r.runEnv([]string{"GITHUB_TOKEN=ghs_secret-token", "GITHUB_REPOSITORY=acme/infra", "GITHUB_API_URL=http://example.com"}, "drift", "--report-issue")
	checkError(t, res, exitUsage, "plain http only to a loopback address")
	if strings.Contains(res.out+res.err, "ghs_secret-token") {
		t.Fatal("the token was printed")
	}
	res = r.runEnv([]string{"GITHUB_TOKEN=wrong", "GITHUB_REPOSITORY=acme/infra", "GITHUB_API_URL=" + gh.URL()}, "drift", "--report-issue")
	checkError(t, res, exitError, "Bad credentials")
	if len(gh.Issues("acme/infra")) != 0 {
		t.Fatal("an issue was opened with a bad token")
	}

	res = r.run("drift", "--plan-fix", "--json")
	rep := driftJSON(t, res)
	if res.code != exitDrift || rep.Fix == nil || rep.Fix.Plan != nil || len(rep.Fix.Deferred) != 2 || !strings.Contains(rep.Fix.Deferred[0].Reason, "recreated by hand") {
		t.Fatalf("drift --plan-fix with nothing to plan: %s", res)
	}
	// A fix plan whose file exists is refused before the attestation.
	behindBack(t, prov, provider.Action{Op: provider.OpCreate, Server: "rogue-1", ServerType: "cx22", Image: "debian-12"})
	if err := os.WriteFile(r.planFile("drift-fix-taken"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	checkError(t, r.run("drift", "--plan-fix", "--id", "drift-fix-taken", "--attest", "--key", key("alice")), exitRefused, "plans are immutable")
	if r.ledgerHead() != head {
		t.Fatal("a refused drift run wrote a receipt")
	}
	if ents, _ := os.ReadDir(filepath.Join(r.root, "plans")); len(ents) != 3 { // web-1-create, its approvals, drift-fix-taken
		t.Fatalf("plans/ after the refusals: %v", ents)
	}
}

// TestDriftOtherKinds: behind vmc-git's back a firewall is deleted, a
// network relabelled, a volume detached, a floating IP unassigned, an SSH
// key renamed and a firewall made and applied to the ledger's server; the
// fix plan recreates, relabels, re-attaches, re-assigns, renames back,
// detaches and deletes, and drift is zero once it is applied.
func TestDriftOtherKinds(t *testing.T) {
	t.Parallel()
	sb, err := sandbox.New(sandbox.Options{Token: sandboxToken, ActionDuration: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	prov, url := serve(t, sb)
	r := newRepo(t, repoOpts{env: hetznerEnv(url)})
	pub, err := os.ReadFile(key("alice") + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	pubJSON, _ := json.Marshal(strings.TrimSpace(string(pub)))
	up := `[{"kind":"network","op":"create","name":"net","ip_range":"10.0.0.0/16","labels":{"role":"backend"},"subnets":[{"ip_range":"10.0.1.0/24","network_zone":"eu-central"}]},
	 {"kind":"firewall","op":"create","name":"fw","rules":[{"direction":"in","protocol":"tcp","port":"80","source_ips":["10.0.0.0/8"]}]},
	 {"kind":"ssh_key","op":"create","name":"ops","public_key":` + string(pubJSON) + `},
	 {"op":"create","server":"app-1","server_type":"cx22","image":"ubuntu-24.04","location":"fsn1","labels":{"role":"app"},"firewalls":["fw"],"networks":["net"],"ssh_keys":["ops"]},
	 {"kind":"volume","op":"create","name":"data","size":10,"server":"app-1"},
	 {"kind":"floating_ip","op":"create","name":"vip","type":"ipv4","server":"app-1","labels":{"role":"vip"}}]`
	upFile := filepath.Join(t.TempDir(), "up.json")
	if err := os.WriteFile(upFile, []byte(up), 0o644); err != nil {
		t.Fatal(err)
	}
	r.must("plan", "file", upFile, "--id", "up", "--kid", "alice")
	r.approve("up", "bob")
	r.commit("plan up")
	r.must("apply", "--pending", "--key", key("alice"))
	if out := r.must("drift"); !strings.Contains(out, "no drift") {
		t.Fatalf("drift after apply: %s", out)
	}
	behindBack(t, prov,
		provider.Action{Op: provider.OpDetachFirewall, Server: "app-1", Firewall: "fw"},
		provider.Action{Kind: provider.KindFirewall, Op: provider.OpDelete, Name: "fw"},
		provider.Action{Kind: provider.KindNetwork, Op: provider.OpLabel, Name: "net", Labels: map[string]string{"role": "hacked"}},
		provider.Action{Kind: provider.KindVolume, Op: provider.OpDetach, Name: "data"},
		provider.Action{Kind: provider.KindFloatingIP, Op: provider.OpUnassign, Name: "vip"},
		provider.Action{Kind: provider.KindSSHKey, Op: provider.OpRename, Name: "ops", NewName: "ops-2"},
		provider.Action{Kind: provider.KindFirewall, Op: provider.OpCreate, Name: "fw-rogue", Servers: []string{"app-1"},
			Rules: []provider.FirewallRule{{Direction: "in", Protocol: "tcp", Port: "22", SourceIPs: []string{"0.0.0.0/0"}}}},
	)
	res := r.run("drift", "--plan-fix", "--id", "fix-kinds", "--kid", "alice", "--json")
	rep := driftJSON(t, res)
	if res.code != exitDrift {
		t.Fatalf("drift: %s", res)
	}
	want := "missing firewall/fw ; unmanaged firewall/fw-rogue ; changed floating_ip/vip server; changed network/net labels; changed ssh_key/ops name; changed volume/data server"
	if got := findingKeys(rep.Findings); got != want {
		t.Fatalf("findings %s\nwant     %s", got, want)
	}
	if rep.Fix == nil || rep.Fix.Plan == nil || rep.Fix.Plan.Actions != 7 || len(rep.Fix.Deferred) != 0 {
		t.Fatalf("fix: %s", res)
	}
	r.approve("fix-kinds", "bob")
	r.commit("plan fix-kinds")
	r.must("apply", "--pending", "--key", key("alice"))
	if out := r.must("drift"); !strings.Contains(out, "no drift") {
		t.Fatalf("drift after the fix: %s", out)
	}
	r.verify(3)
}
