package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/receipt"
	"github.com/vmc-git/vmc-git/workspace"
)

// planStatusJSON is plan status --json.
type planStatusJSON struct {
	Applied   bool   `json:"applied"`
	Approved  bool   `json:"approved"`
	Withdrawn bool   `json:"withdrawn"`
	Outcome   string `json:"outcome"`
	Receipt   uint64 `json:"receipt"`
	By        string `json:"by"`
	Policy    *struct {
		Result     string            `json:"result"`
		Recorded   bool              `json:"recorded"`
		Uncovered  []string          `json:"uncovered"`
		Overrides  []string          `json:"overrides"`
		NotCounted map[string]string `json:"not_counted"`
		Deny       []string          `json:"deny"`
	} `json:"policy"`
}

func (r *repo) planStatusJSON(id string) planStatusJSON {
	r.t.Helper()
	var st planStatusJSON
	out := r.must("plan", "status", r.planFile(id), "--json")
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		r.t.Fatalf("plan status --json: %v\n%s", err, out)
	}
	return st
}

// TestPlanStatusPolicy: plan status prints apply's policy decision: a plan
// the default policy denies says so with the admin's override command and
// is not "ready to apply"; with the admin's override it is overridden and
// ready; applied, the receipt's outcome.
func TestPlanStatusPolicy(t *testing.T) {
	t.Parallel()
	r := newRepo(t, repoOpts{policy: true})
	r.planApproved("web-1-create", "create", "web-1", "--type", "cx22", "--image", "ubuntu-24.04", "--label", "role=web", "--label", "env=dev")
	out := r.must("plan", "status", r.planFile("web-1-create"))
	for _, want := range []string{"plan web-1-create: 1 of 1 approvals (bob)",
		"  policy: denied: no admin override for firewall-attached, private-network (vmc-git approve --override firewall-attached --override private-network plans/web-1-create.json",
		"  denied by policy: " + workspace.HintDenied} {
		if !strings.Contains(out, want) {
			t.Fatalf("plan status of a denied plan does not say %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "ready to apply") {
		t.Fatalf("plan status of a denied plan says ready:\n%s", out)
	}
	st := r.planStatusJSON("web-1-create")
	if p := st.Policy; !st.Approved || p == nil || p.Result != receipt.PolicyDenied || p.Recorded ||
		strings.Join(p.Uncovered, ",") != "firewall-attached,private-network" || len(p.Deny) < 2 {
		t.Fatalf("plan status --json (denied): %+v %+v", st, st.Policy)
	}
	r.must("approve", "--override", "firewall-attached", "--override", "private-network", r.planFile("web-1-create"), "--key", key("alice"))
	r.commit("override")
	out = r.must("plan", "status", r.planFile("web-1-create"))
	if !strings.Contains(out, "  policy: overridden by alice (firewall-attached, private-network)\n") || !strings.Contains(out, "  ready to apply\n") {
		t.Fatalf("plan status of an overridden plan:\n%s", out)
	}
	r.must("apply", "--pending", "--key", key("carol"))
	out = r.must("plan", "status", r.planFile("web-1-create"))
	if !strings.Contains(out, "  policy: overridden (recorded at apply) by alice (firewall-attached, private-network)\n") ||
		!strings.Contains(out, "  applied: yes (in the ledger, receipt ") {
		t.Fatalf("plan status of an applied plan:\n%s", out)
	}
	if st := r.planStatusJSON("web-1-create"); !st.Applied || st.Outcome != workspace.OutcomeApplied || st.Policy == nil ||
		!st.Policy.Recorded || st.Policy.Result != receipt.PolicyOverridden {
		t.Fatalf("plan status --json (applied): %+v %+v", st, st.Policy)
	}
}

// TestPlanStatusWithdrawn: a withdrawn plan is reported as withdrawn (by
// whom, why, in which receipt), never as applied.
func TestPlanStatusWithdrawn(t *testing.T) {
	t.Parallel()
	r := newRepo(t, repoOpts{})
	r.planApproved("web-2-create", "create", "web-2", "--type", "cx22", "--image", "ubuntu-24.04")
	if out := r.must("plan", "status", r.planFile("web-2-create")); !strings.Contains(out, "  policy: none\n") || !strings.Contains(out, "  ready to apply\n") {
		t.Fatalf("plan status before withdraw:\n%s", out)
	}
	r.must("plan", "withdraw", "web-2-create", "--reason", "not needed", "--key", key("bob"))
	out := r.must("plan", "status", r.planFile("web-2-create"))
	if !strings.Contains(out, "  withdrawn by bob in receipt 1 (not needed): it never applies\n") || strings.Contains(out, "applied: yes") ||
		strings.Contains(out, "policy:") {
		t.Fatalf("plan status of a withdrawn plan:\n%s", out)
	}
	st := r.planStatusJSON("web-2-create")
	if !st.Withdrawn || st.Outcome != receipt.ApplyWithdrawn || st.Receipt != 1 || st.By != "bob" || st.Policy != nil {
		t.Fatalf("plan status --json (withdrawn): %+v", st)
	}
}
