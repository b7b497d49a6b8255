package mcpserver_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/mcpserver"
	"github.com/vmc-git/vmc-git/policy"
)

// setPolicy replaces policy/ on main with files (none: no policy) and
// commits.
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
}

var blake3RE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// TestPolicyResult: plan_create and plan_status return the main branch's
// policy over the state the plan would leave: the default policy (what
// vmc-git init writes) denies a public server without a firewall; another policy warns;
// one that does not compile is an error in the result, not a tool error;
// without policy files there is no policy field.
func TestPolicyResult(t *testing.T) {
	f := newFixture(t)
	defaults := map[string]string{}
	for _, pf := range policy.Defaults() {
		defaults[strings.TrimPrefix(pf.Name, policy.Dir+"/")] = string(pf.Data)
	}
	f.setPolicy(defaults)
	var pc mcpserver.PlanCreateOutput
	f.ok("plan_create", createArgs("web-1-pol", "web-1"), &pc)
	if pc.Policy == nil {
		t.Fatal("plan_create: no policy")
	}
	p := *pc.Policy
	pc = mcpserver.PlanCreateOutput{}
	if !blake3RE.MatchString(p.BundleBlake3) || p.Pass || p.Error != "" || !contains(p.Deny, "server/web-1 [firewall-attached]") {
		t.Fatalf("plan_create policy (default): %+v", p)
	}
	var st mcpserver.PlanStatusOutput
	f.ok("plan_status", map[string]any{"id": "web-1-pol"}, &st)
	if st.Policy == nil || st.Policy.BundleBlake3 != p.BundleBlake3 || strings.Join(st.Policy.Deny, "\n") != strings.Join(p.Deny, "\n") ||
		!strings.Contains(st.Next, "the policy denies it") {
		t.Fatalf("plan_status policy (default): %+v", st)
	}
	// A policy that only warns: pass, with the warning, another bundle.
	f.setPolicy(map[string]string{"size.rego": `package vmc.size

warn contains {"resource": sprintf("server/%s", [s.name]), "rule": "small", "reason": "small server"} if {
	some s in input.servers
	s.server_type == "cx22"
}
`})
	f.ok("plan_create", createArgs("web-2-pol", "web-2"), &pc)
	if q := pc.Policy; q == nil || !q.Pass || len(q.Deny) != 0 || !contains(q.Warn, "server/web-2 [small] small server") || q.BundleBlake3 == p.BundleBlake3 {
		t.Fatalf("plan_create policy (warn only): %+v", q)
	}
	// A policy that does not compile: the result says so.
	f.setPolicy(map[string]string{"broken.rego": "package vmc.broken\n\ndeny contains {"})
	pc = mcpserver.PlanCreateOutput{}
	f.ok("plan_create", createArgs("web-3-pol", "web-3"), &pc)
	if q := pc.Policy; q == nil || q.Pass || q.Error == "" {
		t.Fatalf("plan_create policy (broken): %+v", q)
	}
	// No policy: no field.
	f.setPolicy(nil)
	r := f.call("plan_create", createArgs("web-4-pol", "web-4"))
	b, _ := json.Marshal(r.StructuredContent)
	if r.IsError || strings.Contains(string(b), `"policy"`) {
		t.Fatalf("plan_create without policy: %s %s", text(r), b)
	}
	st = mcpserver.PlanStatusOutput{}
	f.ok("plan_status", map[string]any{"id": "web-4-pol"}, &st)
	if st.Policy != nil {
		t.Fatalf("plan_status without policy: %+v", st.Policy)
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
