package mcpserver_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/mcpserver"
	"github.com/vmc-git/vmc-git/policy"
	"github.com/vmc-git/vmc-git/receipt"
	"github.com/vmc-git/vmc-git/workspace"
)

// setPolicy replaces policy/ on main with files (none: no policy),
// commits, and has alice (admin) pin the bundle as vmc-git policy pin does
// (a bundle that does not compile stays unpinned: pin refuses it).
func (f *fixture) setPolicy(files map[string]string) {
	f.t.Helper()
	if err := os.RemoveAll(filepath.Join(f.root, "policy")); err != nil {
		f.t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(f.root, "policy"), 0o755)
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(f.root, "policy", name), []byte(body), 0o644); err != nil {
			f.t.Fatal(err)
		}
	}
	run(f.t, f.root, "git", "add", "-A", "policy")
	run(f.t, f.root, "git", "commit", "-q", "-m", "policy", "--allow-empty")
	pin := exec.Command(vmcBin, "policy", "pin", "--key", key("alice"))
	pin.Dir = f.root
	if out, err := pin.CombinedOutput(); err != nil && !strings.Contains(string(out), "does not compile") {
		f.t.Fatalf("policy pin: %v\n%s", err, out)
	}
}

var blake3RE = regexp.MustCompile(`^[0-9a-f]{64}$`)

func (f *fixture) defaultPolicy() {
	f.t.Helper()
	defaults := map[string]string{}
	for _, pf := range policy.Defaults() {
		defaults[strings.TrimPrefix(pf.Name, policy.Dir+"/")] = string(pf.Data)
	}
	f.setPolicy(defaults)
}

// TestPolicyDenied: plan_create and plan_status return apply's decision
// with the main branch's policy: the default policy (what vmc-git init
// writes) denies a public server without a firewall; the result names the
// rules no override covers, keeps the findings, and next tells the human
// the override command.
func TestPolicyDenied(t *testing.T) {
	f := newFixture(t)
	f.defaultPolicy()
	var pc mcpserver.PlanCreateOutput
	f.ok("plan_create", createArgs("web-1-pol", "web-1"), &pc)
	p := pc.Policy
	if p == nil || p.Result != receipt.PolicyDenied || p.Recorded || p.Pass || !blake3RE.MatchString(p.BundleBlake3) || p.Error != "" ||
		!slices.Contains(p.Uncovered, "firewall-attached") || !slices.Equal(p.Uncovered, p.Rules) || len(p.Overrides) != 0 ||
		!contains(p.Deny, "server/web-1 [firewall-attached]") || !strings.HasPrefix(p.Line, "denied: no admin override for ") {
		t.Fatalf("plan_create policy (default): %+v", p)
	}
	var st mcpserver.PlanStatusOutput
	f.ok("plan_status", map[string]any{"id": "web-1-pol"}, &st)
	q := st.Policy
	if q == nil || q.Result != receipt.PolicyDenied || q.BundleBlake3 != p.BundleBlake3 || !slices.Equal(q.Deny, p.Deny) ||
		!slices.Equal(q.Uncovered, p.Uncovered) {
		t.Fatalf("plan_status policy (default): %+v", q)
	}
	want := workspace.OverrideCommand("web-1-pol", p.Uncovered)
	if !strings.Contains(want, "vmc-git approve --override firewall-attached") || !strings.Contains(st.Next, "`"+want+"`") ||
		!strings.Contains(st.Next, workspace.HintDenied) || !strings.HasPrefix(st.Next, "waiting for 1 approval(s)") {
		t.Fatalf("plan_status next (denied): %s", st.Next)
	}
}

// TestPolicyOverridden: an admin's override on the plan's branch naming
// every rule the plan breaks makes apply's decision overridden, an
// override file that does not verify is listed as not counted with why;
// applied, plan_status shows what the receipt recorded.
func TestPolicyOverridden(t *testing.T) {
	f := newFixture(t)
	f.defaultPolicy()
	var pc mcpserver.PlanCreateOutput
	f.ok("plan_create", createArgs("web-2-pol", "web-2"), &pc)
	rules := pc.Policy.Uncovered
	if len(rules) == 0 {
		t.Fatalf("plan_create policy: %+v", pc.Policy)
	}
	f.approveOnBranch("web-2-pol")
	// The human admin (alice) overrides all but the first rule: still denied, by that rule.
	run(t, f.root, "git", "switch", "-q", "plan/web-2-pol")
	partial := rules[1:]
	if len(partial) > 0 {
		args := []string{"approve", "plans/web-2-pol.json", "--key", key("alice")}
		for _, r := range partial {
			args = append(args, "--override", r)
		}
		run(t, f.root, vmcBin, args...)
		run(t, f.root, "git", "add", "plans")
		run(t, f.root, "git", "commit", "-q", "-m", "partial override")
		var st mcpserver.PlanStatusOutput
		f.ok("plan_status", map[string]any{"id": "web-2-pol"}, &st)
		if q := st.Policy; q.Result != receipt.PolicyDenied || !slices.Equal(q.Uncovered, rules[:1]) || !slices.Equal(q.Overrides, []string{"alice"}) {
			t.Fatalf("plan_status with a partial override: %+v", q)
		}
	}
	args := []string{"approve", "plans/web-2-pol.json", "--key", key("alice")}
	for _, r := range rules {
		args = append(args, "--override", r)
	}
	run(t, f.root, vmcBin, args...)
	// An override file carol (no admin) put there: not counted.
	if err := os.WriteFile(filepath.Join(f.root, "plans", "web-2-pol.overrides", "carol.json"), []byte(`{"v":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, f.root, "git", "add", "plans")
	run(t, f.root, "git", "commit", "-q", "-m", "override")
	run(t, f.root, "git", "switch", "-q", "main")
	var st mcpserver.PlanStatusOutput
	f.ok("plan_status", map[string]any{"id": "web-2-pol"}, &st)
	q := st.Policy
	if q == nil || q.Result != receipt.PolicyOverridden || q.Pass || len(q.Uncovered) != 0 || !slices.Equal(q.Rules, rules) ||
		!slices.Equal(q.Overrides, []string{"alice"}) || q.NotCounted["carol"] == "" || len(q.NotCounted) != 1 ||
		!strings.HasPrefix(q.Line, "overridden by alice (") || !strings.Contains(q.Line, "override carol not counted: ") ||
		strings.Contains(st.Next, "denies") || !strings.HasPrefix(st.Next, "approved but not merged") {
		t.Fatalf("plan_status overridden: %+v\n%s", q, st.Next)
	}
	f.merge("web-2-pol")
	var ap mcpserver.ApplyOutput
	f.ok("apply", map[string]any{"id": "web-2-pol"}, &ap)
	st = mcpserver.PlanStatusOutput{}
	f.ok("plan_status", map[string]any{"id": "web-2-pol"}, &st)
	q = st.Policy
	if !st.Applied || q == nil || !q.Recorded || q.Result != receipt.PolicyOverridden || !slices.Equal(q.Rules, rules) ||
		!slices.Equal(q.Overrides, []string{"alice"}) || q.BundleBlake3 != pc.Policy.BundleBlake3 || !strings.HasPrefix(q.Line, "overridden (recorded at apply) by alice") {
		t.Fatalf("plan_status after apply: %+v", q)
	}
	var rc mcpserver.ReceiptOutput
	f.ok("receipt_get", map[string]any{"seq": ap.Seq}, &rc)
	b, _ := json.Marshal(rc)
	if !strings.Contains(string(b), `"result":"overridden"`) {
		t.Fatalf("receipt: %s", b)
	}
}

// TestPolicyPassNone: a policy that only warns: pass, with the warning;
// applied, the receipt's pass; without policy files: none; a policy that
// does not compile: an error in the result, not a tool error.
func TestPolicyPassNone(t *testing.T) {
	f := newFixture(t)
	f.setPolicy(map[string]string{"size.rego": `package vmc.size

warn contains {"resource": sprintf("server/%s", [s.name]), "rule": "small", "reason": "small server"} if {
	some s in input.servers
	s.server_type == "cx22"
}
`})
	var pc mcpserver.PlanCreateOutput
	f.ok("plan_create", createArgs("web-2-pol", "web-2"), &pc)
	if q := pc.Policy; q == nil || q.Result != receipt.PolicyPass || !q.Pass || len(q.Deny) != 0 || len(q.Rules) != 0 ||
		!contains(q.Warn, "server/web-2 [small] small server") || !blake3RE.MatchString(q.BundleBlake3) || q.Line != "pass" {
		t.Fatalf("plan_create policy (warn only): %+v", q)
	}
	f.approveAndMerge("web-2-pol")
	var st mcpserver.PlanStatusOutput
	f.ok("plan_status", map[string]any{"id": "web-2-pol"}, &st)
	if q := st.Policy; q.Result != receipt.PolicyPass || q.Recorded || st.Next != "ready: call apply" {
		t.Fatalf("plan_status (pass): %+v %s", q, st.Next)
	}
	f.ok("apply", map[string]any{"id": "web-2-pol"}, nil)
	st = mcpserver.PlanStatusOutput{}
	f.ok("plan_status", map[string]any{"id": "web-2-pol"}, &st)
	if q := st.Policy; q == nil || !q.Recorded || q.Result != receipt.PolicyPass || q.BundleBlake3 != pc.Policy.BundleBlake3 {
		t.Fatalf("plan_status after apply (pass): %+v", q)
	}
	// A policy that does not compile: the result says so.
	f.setPolicy(map[string]string{"broken.rego": "package vmc.broken\n\ndeny contains {"})
	pc = mcpserver.PlanCreateOutput{}
	f.ok("plan_create", createArgs("web-3-pol", "web-3"), &pc)
	if q := pc.Policy; q == nil || q.Pass || q.Result != "" || q.Error == "" || !strings.HasPrefix(q.Line, "not decided: ") {
		t.Fatalf("plan_create policy (broken): %+v", q)
	}
	// No policy: none, applied: none recorded.
	f.setPolicy(nil)
	pc = mcpserver.PlanCreateOutput{}
	f.ok("plan_create", createArgs("web-4-pol", "web-4"), &pc)
	if q := pc.Policy; q == nil || q.Result != receipt.PolicyNone || q.BundleBlake3 != "" || q.Pass || len(q.Deny)+len(q.Warn) != 0 {
		t.Fatalf("plan_create without policy: %+v", q)
	}
	f.approveAndMerge("web-4-pol")
	f.ok("apply", map[string]any{"id": "web-4-pol"}, nil)
	st = mcpserver.PlanStatusOutput{}
	f.ok("plan_status", map[string]any{"id": "web-4-pol"}, &st)
	if q := st.Policy; q == nil || !q.Recorded || q.Result != receipt.PolicyNone {
		t.Fatalf("plan_status after apply (none): %+v", q)
	}
}

func contains(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}
