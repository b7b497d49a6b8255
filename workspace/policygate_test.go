package workspace

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/apply"
	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/policy"
	"github.com/vmc-git/vmc-git/provider"
	"github.com/vmc-git/vmc-git/receipt"
)

func fwRules(src string) []provider.FirewallRule {
	return []provider.FirewallRule{{Direction: "in", Protocol: "tcp", Port: "22", SourceIPs: []string{src}}}
}

// override writes kid's override of rules for the plan of m (signed with
// signer's key, which may not be kid's) into dir, as approve --override does.
func (w *world) override(m *MadePlan, kid string, as Identity, dir string, rules ...string) {
	w.t.Helper()
	f, err := plans.SignOverride(as.Signer, kid, m.Bytes, rules, "test")
	if err != nil {
		w.t.Fatal(err)
	}
	out := filepath.Join(dir, m.Plan.ID+plans.OverridesSuffix, kid+".json")
	os.MkdirAll(filepath.Dir(out), 0o755)
	if err := os.WriteFile(out, f, 0o644); err != nil {
		w.t.Fatal(err)
	}
}

// TestApplyPolicyGate: with no policy on main the receipt records none; a
// plan that passes records pass and the bundle's blake3; a plan whose end
// state opens SSH to the world is refused (recorded as refused, result
// denied, the rule and resource named, no provider call) unless an admin's
// override covers the rule; overrides by a non-admin, for another rule or
// for another plan do not count; verify chain accepts the ledger.
func TestApplyPolicyGate(t *testing.T) {
	w := newWorld(t, 1)
	ws := w.open()
	ctx := context.Background()
	alice, bob := w.ids["alice"], w.ids["bob"]
	receiptOf := func(seq uint64) *receipt.Receipt {
		t.Helper()
		r, err := ws.Ledger.NewReader()
		if err != nil {
			t.Fatal(err)
		}
		e, err := r.Receipt(seq)
		if err != nil {
			t.Fatal(err)
		}
		return e.Receipt
	}

	// No policy on main: result none.
	w.plan(ws, "fw-create", true, provider.Action{Op: provider.OpCreate, Kind: provider.KindFirewall, Name: "web", Rules: fwRules("10.0.0.0/8")})
	outs, errs, err := ws.ApplyPending(ctx, alice, w.applyReq())
	if err != nil || len(errs) != 0 || len(outs) != 1 {
		t.Fatalf("apply: %v %v %v", outs, errs, err)
	}
	if pol := receiptOf(outs[0].Seq).Apply.Policy; pol == nil || pol.Result != receipt.PolicyNone || pol.Blake3 != nil {
		t.Fatalf("no policy: %+v", pol)
	}

	// The default firewall rules on main.
	var fwRego policy.File
	for _, f := range policy.Defaults() {
		if f.Name == "policy/firewall.rego" {
			fwRego = f
		}
	}
	w.commitPolicy("firewall.rego", fwRego.Data)
	w.pinPolicy(ws)
	bundle, err := ws.LoadPolicy()
	if err != nil {
		t.Fatal(err)
	}
	sum := bundle.Blake3()

	// A plan that passes.
	w.plan(ws, "fw-label", true, provider.Action{Op: provider.OpLabel, Kind: provider.KindFirewall, Name: "web", Labels: map[string]string{"role": "web"}})
	if outs, errs, err = ws.ApplyPending(ctx, alice, w.applyReq()); err != nil || len(errs) != 0 || len(outs) != 1 {
		t.Fatalf("apply: %v %v %v", outs, errs, err)
	}
	if pol := receiptOf(outs[0].Seq).Apply.Policy; pol == nil || pol.Result != receipt.PolicyPass || *pol.Blake3 != sum {
		t.Fatalf("pass: %+v", pol)
	}

	// Five plans opening SSH to the world, made against the same state.
	open := provider.Action{Op: provider.OpSetRules, Kind: provider.KindFirewall, Name: "web", Rules: fwRules("0.0.0.0/0")}
	plansDir := filepath.Join(w.root, "plans")
	none := w.plan(ws, "open-a-none", false, open)
	byBob := w.plan(ws, "open-b-bob", false, open)
	w.override(byBob, "bob", bob, plansDir, "ssh-from-anywhere")
	otherRule := w.plan(ws, "open-c-rule", false, open)
	w.override(otherRule, "alice", alice, plansDir, "naming")
	otherPlan := w.plan(ws, "open-d-plan", false, open)
	w.override(none, "alice", alice, t.TempDir(), "ssh-from-anywhere") // made for plan a, copied to plan d:
	f, _ := plans.SignOverride(alice.Signer, "alice", none.Bytes, []string{"ssh-from-anywhere"}, "")
	os.MkdirAll(filepath.Join(plansDir, otherPlan.Plan.ID+plans.OverridesSuffix), 0o755)
	os.WriteFile(filepath.Join(plansDir, otherPlan.Plan.ID+plans.OverridesSuffix, "alice.json"), f, 0o644)
	good := w.plan(ws, "open-e-admin", false, open)
	w.override(good, "alice", alice, plansDir, "ssh-from-anywhere")

	// What plan_status shows, before the merge (from the work tree's branch).
	if err := CommitFiles(w.root, "alice", "open ssh", "plans"); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{"open-a-none": receipt.PolicyDenied, "open-b-bob": receipt.PolicyDenied, "open-e-admin": receipt.PolicyOverridden} {
		v, err := ws.PlanPolicy(ctx, "", id)
		if err != nil || v.Policy.Result != want {
			t.Fatalf("PlanPolicy %s: %+v %v, want %s", id, v, err, want)
		}
	}

	outs, errs, err = ws.ApplyPending(ctx, alice, w.applyReq())
	if err != nil || len(outs) != 1 || outs[0].Plan != "open-e-admin" || len(errs) != 4 {
		t.Fatalf("apply: %+v %v %v", outs, errs, err)
	}
	for i, want := range []string{
		"plan open-a-none denied by policy",
		"override bob not counted: override: key bob has roles [approver], needs admin",
		"plan open-c-rule denied by policy",
		"override alice not counted: override by alice is for plan open-a-none, not open-d-plan",
	} {
		var re *apply.RefusedError
		msg := errs[i].Error()
		if !errors.As(errs[i], &re) || !errors.Is(errs[i], errs[i]) || !strings.Contains(msg, want) ||
			!strings.Contains(msg, "[ssh-from-anywhere] firewall/web: inbound tcp port 22 is open to 0.0.0.0/0") ||
			!strings.Contains(msg, "vmc-git approve --override ssh-from-anywhere plans/") {
			t.Errorf("refusal %d: %v, want %q", i, errs[i], want)
			continue
		}
		pol := receiptOf(re.Seq).Apply.Policy
		if pol == nil || pol.Result != receipt.PolicyDenied || len(pol.Rules) != 1 || pol.Rules[0] != "ssh-from-anywhere" || *pol.Blake3 != sum {
			t.Errorf("refused receipt %d: %+v", re.Seq, pol)
		}
	}
	rc := receiptOf(outs[0].Seq)
	if pol := rc.Apply.Policy; pol == nil || pol.Result != receipt.PolicyOverridden || len(pol.Overrides) != 1 || pol.Overrides[0].KID != "alice" ||
		pol.Overrides[0].Reason != "test" || pol.Rules[0] != "ssh-from-anywhere" {
		t.Fatalf("overridden: %+v", pol)
	}
	// One provider call, the overridden plan's: the firewall is open now.
	prov, _ := ws.Provider()
	fw, err := prov.Resource(ctx, provider.KindFirewall, "web")
	if err != nil || len(fw.Rules) != 1 || fw.Rules[0].SourceIPs[0] != "0.0.0.0/0" {
		t.Fatalf("firewall %+v %v", fw, err)
	}
	if _, err := ws.Verify(VerifyOptions{Signatures: true}); err != nil {
		t.Fatalf("verify: %v", err)
	}

	// A plan that keeps the violation (it does not introduce it) passes;
	// one refused before any call leaves the provider alone.
	w.plan(ws, "fw-relabel", true, provider.Action{Op: provider.OpLabel, Kind: provider.KindFirewall, Name: "web", Labels: map[string]string{"role": "edge"}})
	if outs, errs, err = ws.ApplyPending(ctx, alice, w.applyReq()); err != nil || len(errs) != 0 || len(outs) != 1 {
		t.Fatalf("apply: %v %v %v", outs, errs, err)
	}
	if pol := receiptOf(outs[0].Seq).Apply.Policy; pol.Result != receipt.PolicyPass {
		t.Fatalf("a violation the plan does not introduce: %+v", pol)
	}
}

// TestApplyPlanPolicy: apply of a plan file reads the overrides beside it;
// a denied plan file is not retired (it is not merged).
func TestApplyPlanPolicy(t *testing.T) {
	w := newWorld(t, 1)
	ws := w.open()
	ctx := context.Background()
	alice := w.ids["alice"]
	w.commitPolicy("ssh.rego", []byte(`package vmc.ssh

deny contains {"resource": sprintf("firewall/%s", [f.name]), "rule": "no-world", "reason": "open to the world"} if {
	some f in input.firewalls
	some r in f.rules
	"0.0.0.0/0" in r.source_ips
}
`))
	w.pinPolicy(ws)
	m := w.plan(ws, "fw-open", false, provider.Action{Op: provider.OpCreate, Kind: provider.KindFirewall, Name: "web", Rules: fwRules("0.0.0.0/0")})
	_, perr, err := ws.ApplyPlan(ctx, alice, w.applyReq(), m.Path)
	if err != nil || !errors.Is(perr, apply.ErrDenied) || !strings.Contains(perr.Error(), "[no-world] firewall/web: open to the world") {
		t.Fatalf("denied: %v %v", perr, err)
	}
	if applied, _ := ws.Applied("fw-open"); applied {
		t.Fatal("a plan file denied at apply was recorded")
	}
	if _, err := ws.Provider(); err == nil {
		if _, err := ws.prov.Resource(ctx, provider.KindFirewall, "web"); !errors.Is(err, provider.ErrNotFound) {
			t.Fatalf("the provider was called: %v", err)
		}
	}
	if _, err := ApproveOverride(ws, m.Path, m.Plan, m.Bytes, w.ids["bob"], []string{"no-world"}, ""); KindOf(err) != KindRefused {
		t.Fatalf("override by an approver: %v", err)
	}
	if _, err := ApproveOverride(ws, m.Path, m.Plan, m.Bytes, alice, []string{"no world"}, ""); KindOf(err) != KindUsage {
		t.Fatalf("a bad rule name: %v", err)
	}
	if _, err := ApproveOverride(ws, m.Path, m.Plan, m.Bytes, alice, []string{"no-world"}, "ticket 42"); err != nil {
		t.Fatal(err)
	}
	o, perr, err := ws.ApplyPlan(ctx, alice, w.applyReq(), m.Path)
	if err != nil || perr != nil || o.Status != provider.StatusSucceeded {
		t.Fatalf("overridden: %+v %v %v", o, perr, err)
	}
}
