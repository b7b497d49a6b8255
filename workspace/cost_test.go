package workspace

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/vmc-git/vmc-git/apply"
	"github.com/vmc-git/vmc-git/internal/trace"
)

// applyCosts measures the ledger tip reads, plan parses and approval checks
// of applying n merged plans (ApplyPending) and then of one plan file
// (ApplyPlan), each in a workspace opened for it, as one vmc-git process
// opens it: Open's own tip read is counted.
func applyCosts(t *testing.T, n int) (pending, single trace.Counts) {
	w := newWorld(t, 1)
	ws := w.open()
	for i := 0; i < n; i++ {
		w.plan(ws, fmt.Sprintf("web-%d-create", i), true, createAction(fmt.Sprintf("web-%d", i)))
	}
	ws.Close() // one sandbox at a time
	before := trace.Read()
	ws = w.open()
	outs, errs, err := ws.ApplyPending(context.Background(), w.ids["alice"], w.applyReq())
	if err != nil || len(errs) > 0 || len(outs) != n {
		t.Fatalf("apply: %d outcomes, %v %v", len(outs), errs, err)
	}
	pending = trace.Read().Sub(before)
	w.plan(ws, "one-create", true, createAction("one"))
	ws.Close()
	before = trace.Read()
	ws = w.open()
	if _, perr, err := ws.ApplyPlan(context.Background(), w.ids["alice"], w.applyReq(), filepath.Join(w.root, "plans", "one-create.json")); err != nil || perr != nil {
		t.Fatalf("apply one: %v %v", perr, err)
	}
	single = trace.Read().Sub(before)
	ws.Close()
	return pending, single
}

// recoveryCosts measures the recovery of one plan whose apply crashed
// (a real child process) after its provider call, by ApplyPending in a
// workspace opened for it.
func recoveryCosts(t *testing.T) trace.Counts {
	w := newWorld(t, 1)
	ws := w.open()
	w.plan(ws, "web-1-create", true, createAction("web-1"))
	ws.Close()
	w.crash(apply.StepAfterProvider)
	before := trace.Read()
	ws = w.open()
	defer ws.Close()
	outs, errs, err := ws.ApplyPending(context.Background(), w.ids["alice"], w.applyReq())
	if err != nil || len(errs) > 0 || len(outs) != 1 || !outs[0].Recovered {
		t.Fatalf("recovery: %+v %v %v", outs, errs, err)
	}
	return trace.Read().Sub(before)
}

// TestApplyCosts states what applying a plan costs in ledger tip reads,
// plan parses, approval checks and intent reads (the counters of
// internal/trace).
func TestApplyCosts(t *testing.T) {
	const n = 3
	pending, single := applyCosts(t, n)
	t.Logf("apply --pending, %d plans: per plan %.1f tip reads, %.1f plan parses, %.1f approval checks (totals %+v)",
		n, float64(pending.TipReads)/n, float64(pending.PlanParses)/n, float64(pending.ApprovalChecks)/n, pending)
	t.Logf("apply --plan FILE: %d tip reads, %d plan parses, %d approval checks", single.TipReads, single.PlanParses, single.ApprovalChecks)
	rec := recoveryCosts(t)
	t.Logf("recovery of one crashed apply: %d intent reads, %d tip reads, %d plan parses, %d approval checks",
		rec.IntentReads, rec.TipReads, rec.PlanParses, rec.ApprovalChecks)
}

// TestApplyCostBounds: in a batch, each plan costs exactly one tip read
// (the tip its predecessor's receipt made: the ref moved), one plan parse
// and one approval check. The ledger gitledger.Ledger.Tip reads is
// remembered by commit, so the precheck, the verification from the last
// verified head, and the append reuse it. A process adds at most one more
// tip read (Open's); one plan file costs at most two (Open's, and the
// verified head's when the ledger moved since the last verification).
// Recovery reads the intent journal once.
func TestApplyCostBounds(t *testing.T) {
	p1, single := applyCosts(t, 1)
	p3, _ := applyCosts(t, 3)
	per := trace.Counts{TipReads: (p3.TipReads - p1.TipReads) / 2, PlanParses: (p3.PlanParses - p1.PlanParses) / 2,
		ApprovalChecks: (p3.ApprovalChecks - p1.ApprovalChecks) / 2}
	if per.TipReads != 1 || per.PlanParses != 1 || per.ApprovalChecks != 1 || (p3.TipReads-p1.TipReads)%2 != 0 {
		t.Errorf("per plan in a batch %+v (1 plan %+v, 3 plans %+v): want 1 tip read, 1 plan parse, 1 approval check", per, p1, p3)
	}
	if p1.TipReads > 2 || p1.PlanParses != 1 || p1.ApprovalChecks != 1 {
		t.Errorf("a batch of one plan: %+v, want at most 2 tip reads (Open's and the plan's), 1 plan parse, 1 approval check", p1)
	}
	if single.TipReads > 2 || single.PlanParses != 1 || single.ApprovalChecks != 1 {
		t.Errorf("one plan file: %+v, want at most 2 tip reads, 1 plan parse, 1 approval check", single)
	}
	if rec := recoveryCosts(t); rec.IntentReads != 1 || rec.PlanParses != 1 || rec.ApprovalChecks != 1 {
		t.Errorf("recovery: %+v, want 1 intent read, 1 plan parse, 1 approval check", rec)
	}
}
