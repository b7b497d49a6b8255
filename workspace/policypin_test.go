package workspace

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/policy"
	"github.com/vmc-git/vmc-git/receipt"
)

// commitPolicy writes policy/<name> with src and commits it to main as
// alice.
func (w *world) commitPolicy(name string, src []byte) {
	w.t.Helper()
	if err := os.MkdirAll(filepath.Join(w.root, "policy"), 0o755); err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(w.root, "policy", name), src, 0o644); err != nil {
		w.t.Fatal(err)
	}
	if err := CommitFiles(w.root, "alice", "policy", "policy"); err != nil {
		w.t.Fatal(err)
	}
}

// pinPolicy has alice (admin) pin the main branch's policy, as vmc-git
// policy pin does.
func (w *world) pinPolicy(ws *Workspace) {
	w.t.Helper()
	if _, err := ws.ChangeTrust(receipt.KeysPolicyBundle, func() (TrustChange, error) {
		tc, _, err := ws.PolicyPinChange("")
		return tc, err
	}, w.ids["alice"]); err != nil {
		w.t.Fatalf("pin the policy: %v", err)
	}
}

// TestPolicyPinGate: what apply's gate (and plan status, through
// PlanPolicy) decides for each pin and policy on main, each refusal a
// *PolicyPinError with its own message; and PolicyPinChange refuses a
// bundle that does not compile and one pinned already.
func TestPolicyPinGate(t *testing.T) {
	w := newWorld(t, 1)
	ws := w.open()
	ctx := context.Background()
	w.plan(ws, "web-1-create", true, createAction("web-1"))
	decide := func() (*PolicyVerdict, error) { return ws.PlanPolicy(ctx, "", "web-1-create") }
	if v, err := decide(); err != nil || v.Policy.Result != receipt.PolicyNone {
		t.Fatalf("pinned none, no policy: %+v %v", v, err)
	}
	write := func(src string) string {
		t.Helper()
		os.MkdirAll(filepath.Join(w.root, "policy"), 0o755)
		os.WriteFile(filepath.Join(w.root, "policy", "p.rego"), []byte(src), 0o644)
		if err := CommitFiles(w.root, "alice", "policy", "policy"); err != nil {
			t.Fatal(err)
		}
		files, err := ws.policyFiles(ws.MainRef())
		if err != nil {
			t.Fatal(err)
		}
		return policy.Digest(files).String()
	}
	refused := func(name string, want ...string) {
		t.Helper()
		v, err := decide()
		var pe *PolicyPinError
		if !errors.As(err, &pe) || KindOf(err) != KindRefused {
			t.Fatalf("%s: %+v %v, want a refused *PolicyPinError", name, v, err)
		}
		for _, w := range append(want, "the plan stays pending, nothing was applied") {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v, want %q", name, err, w)
			}
		}
	}
	warn := write("package vmc.w\n\nwarn contains \"w\" if true\n")
	refused("pinned none, a policy on main", "the policy bundle on refs/heads/main is "+warn+" (1 files), but the trust state pins no policy (none)")

	broken := write("package vmc.b\n\ndeny contains {\n")
	if _, _, err := ws.PolicyPinChange(""); KindOf(err) != KindInvalid || !strings.Contains(err.Error(), "policy pin: the bundle "+broken+" on refs/heads/main does not compile, so it is not pinned") {
		t.Fatalf("pin of a broken bundle: %v", err)
	}
	write("package vmc.w\n\nwarn contains \"w\" if true\n")
	w.pinPolicy(ws)
	if _, _, err := ws.PolicyPinChange(""); KindOf(err) != KindRefused || !strings.Contains(err.Error(), "is pinned already") {
		t.Fatalf("pin again: %v", err)
	}
	if v, err := decide(); err != nil || v.Policy.Result != receipt.PolicyPass || v.Policy.Blake3.String() != warn {
		t.Fatalf("pinned bundle: %+v %v", v, err)
	}
	denyAll := write("package vmc.d\n\ndeny contains \"no\" if true\n")
	refused("a deny-all policy", "the policy bundle on refs/heads/main is "+denyAll+" (1 files), but that is not the pinned bundle "+warn)
	w.git("rm", "-q", "-r", "policy")
	w.git("commit", "-q", "-m", "no policy")
	refused("the policy removed", "refs/heads/main has no policy/*.rego, but the trust state pins policy bundle "+warn+": removing the policy on the main branch does not lift it")

	// A ledger made before pins: nothing is judged until an admin pins.
	at := &policyAt{rev: "refs/heads/main", bundle: keys.PolicyBundleNone}
	if _, err := at.forPin(""); err == nil || !strings.Contains(err.Error(), "the trust state pins no policy bundle (a ledger made before policy was pinned)") {
		t.Fatalf("unpinned ledger: %v", err)
	}
}
