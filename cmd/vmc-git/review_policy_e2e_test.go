package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReviewPolicyChangeCLI: plan review of a pull request that edits the
// pinned default policy says so in text, --json and GitHub's outputs (a
// warning annotation on the file, policy_change=true), names the file and
// the pin that no longer matches and what an admin runs; exit 0 (not a
// broken rule). A pull request without a policy change has none.
func TestReviewPolicyChangeCLI(t *testing.T) {
	t.Parallel()
	r := newRepo(t, repoOpts{policy: true})
	r.git("checkout", "-q", "-b", "pr")
	if out := r.must("plan", "review", "--base", "main"); strings.Contains(out, "POLICY CHANGE") || !strings.Contains(out, "no plans added") {
		t.Fatalf("no change:\n%s", out)
	}
	var pinned struct {
		Pinned string `json:"pinned"`
		Bundle string `json:"bundle"`
	}
	r.commitPolicy("naming.rego", "package vmc.naming\n")

	out := r.must("plan", "review", "--base", "main")
	for _, want := range []string{
		"POLICY CHANGE: this pull request changes policy/ (M policy/naming.rego): the bundle after merge is ",
		"(keys/trust.json policy_bundle), which no longer matches: once merged, apply judges no plan with it",
		"  after merging, an admin reviews the policy (vmc-git policy status) and pins it: vmc-git policy pin --key KEY",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text does not say %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "no plans added") {
		t.Errorf("text says nothing happened:\n%s", out)
	}

	var js struct {
		OK           bool `json:"ok"`
		PolicyChange *struct {
			Files []struct {
				Status string `json:"status"`
				File   string `json:"file"`
			} `json:"files"`
			Pinned     string `json:"pinned"`
			Bundle     string `json:"bundle"`
			MatchesPin *bool  `json:"matches_pin"`
			Message    string `json:"message"`
			Hint       string `json:"hint"`
		} `json:"policy_change"`
	}
	res := r.run("plan", "review", "--base", "main", "--json")
	if err := json.Unmarshal([]byte(res.out), &js); err != nil || res.code != 0 {
		t.Fatalf("--json: %v\n%s", err, res)
	}
	pc := js.PolicyChange
	if !js.OK || pc == nil || len(pc.Files) != 1 || pc.Files[0].Status != "M" || pc.Files[0].File != "policy/naming.rego" ||
		len(pc.Pinned) != 64 || len(pc.Bundle) != 64 || pc.Pinned == pc.Bundle || pc.MatchesPin == nil || *pc.MatchesPin ||
		!strings.Contains(pc.Message, "but the trust state pins "+pc.Pinned) || !strings.Contains(pc.Hint, "vmc-git policy pin") {
		t.Fatalf("--json policy_change: %s", res.out)
	}
	// The pin and bundle the review names are policy status's for the head.
	st := r.run("policy", "status", "--rev", "HEAD", "--json")
	if err := json.Unmarshal([]byte(st.out), &pinned); err != nil || st.code != exitRefused || pinned.Pinned != pc.Pinned || pinned.Bundle != pc.Bundle {
		t.Errorf("review names pin %s and bundle %s; policy status: %v\n%s", pc.Pinned, pc.Bundle, err, st)
	}

	ghOut := filepath.Join(t.TempDir(), "out")
	res = r.runEnv([]string{"GITHUB_ACTIONS=true", "GITHUB_OUTPUT=" + ghOut}, "plan", "review", "--base", "main", "--markdown")
	b, _ := os.ReadFile(ghOut)
	if res.code != 0 || !strings.Contains(string(b), "policy_change=true\n") || !strings.Contains(res.out, "::warning file=policy/naming.rego::this pull request changes policy/") ||
		!strings.Contains(res.out, ":warning: **policy change**: this pull request changes policy/ (M policy/naming.rego)") {
		t.Fatalf("GitHub outputs:\n%s\n%s", b, res)
	}
}
