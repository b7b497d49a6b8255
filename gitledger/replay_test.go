package gitledger

import (
	"testing"

	"github.com/vmc-git/vmc-git/internal/canon"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/receipt"
)

// TestReplayedPlan: an apply receipt whose copied plan is another ledger's,
// or the same plan under a second id, is refused even with valid approvals.
func TestReplayedPlan(t *testing.T) {
	t.Parallel()
	specs := func(x *scenario) []keys.KeySpec {
		return []keys.KeySpec{x.spec("alice", "alice", keys.RoleAdmin, keys.RoleApplier), x.spec("bob", "bob", keys.RoleApprover)}
	}
	draft := func(x *scenario, id string, plan map[string]any) Draft {
		b, err := canon.Marshal(plan)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := x.key["bob"].Sign(keys.NamespacePlan, b)
		if err != nil {
			t.Fatal(err)
		}
		s := digest.Of(b)
		return Draft{Plan: &PlanCopy{Bytes: b, Approvals: map[string][]byte{"bob": sig}},
			Receipt: receipt.Receipt{Kind: receipt.KindApply, Summary: "apply " + id, Apply: &receipt.Apply{
				Plan:    receipt.PlanRef{ID: id, Path: receipt.PlanPath(id), Blake3: s.Blake3, SHA256: s.SHA256, Approvals: []string{"bob"}},
				Actions: []receipt.ActionRecord{{Action: []byte(`{"op":"reboot","server":"web-1"}`), Result: []byte(`{"status":"succeeded"}`)}}}}}
	}
	t.Run("another ledger's plan", func(t *testing.T) {
		x := newScenario(t, now(), oneAdmin, specs)
		x.forge("alice", "alice", draft(x, "p1", map[string]any{"id": "p1", "ledger": "example.com/other"}), nil)
		x.rejects(1, RulePlan, `receipt 1: plans/p1.json is plan "p1" of ledger "example.com/other": a replayed plan (want plan "p1" of "`+testLedgerID+`")`)
	})
	t.Run("one plan under a second id", func(t *testing.T) {
		x := newScenario(t, now(), oneAdmin, specs)
		plan := map[string]any{"id": "p1", "ledger": testLedgerID}
		x.forge("alice", "alice", draft(x, "p1", plan), nil)
		x.forge("alice", "alice", draft(x, "p2", plan), nil)
		x.rejects(2, RulePlan, `receipt 2: plans/p2.json is plan "p1" of ledger "`+testLedgerID+`": a replayed plan (want plan "p2" of "`+testLedgerID+`")`)
	})
}
