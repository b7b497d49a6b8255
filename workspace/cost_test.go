package workspace

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/vmc-git/vmc-git/internal/trace"
)

// applyCosts measures, per plan, the ledger tip reads, plan parses and
// approval checks of applying n merged plans (ApplyPending), and of one
// plan file (ApplyPlan).
func applyCosts(t *testing.T, n int) (pending, single trace.Counts) {
	w := newWorld(t, 1)
	ws := w.open()
	for i := 0; i < n; i++ {
		w.plan(ws, fmt.Sprintf("web-%d-create", i), true, createAction(fmt.Sprintf("web-%d", i)))
	}
	before := trace.Read()
	outs, errs, err := ws.ApplyPending(context.Background(), w.ids["alice"], w.applyReq())
	if err != nil || len(errs) > 0 || len(outs) != n {
		t.Fatalf("apply: %d outcomes, %v %v", len(outs), errs, err)
	}
	pending = trace.Read().Sub(before)
	w.plan(ws, "one-create", true, createAction("one"))
	before = trace.Read()
	if _, perr, err := ws.ApplyPlan(context.Background(), w.ids["alice"], w.applyReq(), filepath.Join(w.root, "plans", "one-create.json")); err != nil || perr != nil {
		t.Fatalf("apply one: %v %v", perr, err)
	}
	single = trace.Read().Sub(before)
	return pending, single
}

// TestApplyCosts states what applying a plan costs in ledger tip reads,
// plan parses and approval checks (the counters of internal/trace).
func TestApplyCosts(t *testing.T) {
	const n = 3
	pending, single := applyCosts(t, n)
	t.Logf("apply --pending, %d plans: per plan %.1f tip reads, %.1f plan parses, %.1f approval checks (totals %+v)",
		n, float64(pending.TipReads)/n, float64(pending.PlanParses)/n, float64(pending.ApprovalChecks)/n, pending)
	t.Logf("apply --plan FILE: %d tip reads, %d plan parses, %d approval checks", single.TipReads, single.PlanParses, single.ApprovalChecks)
}

// TestApplyCostBounds: a plan is parsed once and its approvals checked once
// per apply; the tip is read at most four times (the precheck, the append,
// and the verification of the previous receipt: its commit and tip).
func TestApplyCostBounds(t *testing.T) {
	const n = 2
	pending, single := applyCosts(t, n)
	for what, c := range map[string]trace.Counts{"pending": {TipReads: pending.TipReads / n, PlanParses: pending.PlanParses / n, ApprovalChecks: pending.ApprovalChecks / n}, "single": single} {
		if c.PlanParses != 1 || c.ApprovalChecks != 1 || c.TipReads > 4 {
			t.Errorf("%s: per plan %+v, want 1 plan parse, 1 approval check, at most 4 tip reads", what, c)
		}
	}
	if pending.PlanParses%n != 0 || pending.ApprovalChecks%n != 0 {
		t.Errorf("pending totals %+v for %d plans", pending, n)
	}
}
