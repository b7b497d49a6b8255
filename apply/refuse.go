package apply

import (
	"errors"
	"fmt"
	"time"

	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/receipt"
)

// Refusals that retire a merged plan.
//
// A plan merged on main that can never be applied (stale, invalid, for
// another ledger, or still unapproved Options.UnapprovedDeadline after it
// was merged) would otherwise be tried, and refused, by every later run.
// ApplyPending records it once instead: an apply receipt with status
// "refused" and the reason, carrying the plan and its valid approvals, with
// no provider call. The plan is then in the ledger, so it is never tried
// again, and one bad plan never stops the others.

// RefusedError is a plan refused and recorded in the ledger as refused.
type RefusedError struct {
	Plan   string
	Seq    uint64 // the refused receipt
	Reason string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("plan %s refused and recorded as refused in receipt %d (it will not be tried again): %s", e.Plan, e.Seq, e.Reason)
}

// retire decides whether err, the refusal of merged plan pp, is permanent;
// if it is, it returns the reason to record.
func (a *Applier) retire(pp PendingPlan, err error) (string, bool) {
	var se *plans.StaleError
	switch {
	case pp.Err != nil && (pp.BadApprovals || pp.Input.Bytes == nil):
		return "", false // not the plan's fault, or no plan bytes to record
	case pp.Err != nil:
		return "invalid plan: " + pp.Err.Error(), true
	case errors.As(err, &se):
		return "stale: " + se.Error(), true
	case errors.Is(err, ErrDenied):
		return err.Error(), true
	case errors.Is(err, ErrOtherLedger):
		return "invalid plan: " + err.Error(), true
	case errors.Is(err, ErrNotApproved) && a.o.UnapprovedDeadline > 0 && pp.Added > 0 &&
		time.Since(time.Unix(pp.Added, 0)) > a.o.UnapprovedDeadline:
		return fmt.Sprintf("unapproved %s after it was merged: %v", a.o.UnapprovedDeadline, err), true
	}
	return "", false
}

// Refuse records merged plan pp as refused for reason: one apply receipt
// with status refused, no provider call. With a remote it is published (a
// lost race re-writes it on the new head). It returns the receipt's seq;
// ErrAlreadyApplied if the plan reached the ledger meanwhile.
func (a *Applier) Refuse(pp PendingPlan, reason string) (uint64, error) {
	return a.refuse(pp, reason, nil)
}

// refuse is Refuse, recording pol (a policy denial's outcome; nil: none).
func (a *Applier) refuse(pp PendingPlan, reason string, pol *receipt.Policy) (uint64, error) {
	if len(reason) > receipt.MaxReason {
		reason = reason[:receipt.MaxReason]
	}
	b := pp.Input.Bytes
	sums := digest.Of(b)
	for attempt := 0; attempt < 20; attempt++ {
		w, err := a.o.Ledger.Append(a.o.Signer, a.o.KID, func(tip *gitledger.Tip) (*gitledger.Draft, error) {
			if seq, ok, err := a.o.Ledger.ReaderAt(tip).AppliedSeq(pp.ID); err != nil {
				return nil, err
			} else if ok {
				return nil, fmt.Errorf("%w: plan %s reached the ledger at receipt %d meanwhile", ErrAlreadyApplied, pp.ID, seq)
			}
			st := plans.CheckApprovalSet(tip.Trust, b, pp.Input.Approvals, time.Now())
			summary := a.summary(fmt.Sprintf("apply %s: refused: %s", pp.ID, reason))
			return &gitledger.Draft{
				Receipt: receipt.Receipt{Kind: receipt.KindApply, Summary: summary, Apply: &receipt.Apply{
					Plan: receipt.PlanRef{ID: pp.ID, Path: plans.Path(pp.ID), Blake3: sums.Blake3, SHA256: sums.SHA256,
						Commit: pp.Commit, Approvals: st.Valid},
					Actions: []receipt.ActionRecord{}, Status: receipt.ApplyRefused, Reason: reason, Policy: pol,
				}},
				Plan: &gitledger.PlanCopy{Bytes: b, Approvals: pick(pp.Input.Approvals, st.Valid)},
			}, nil
		})
		if err != nil {
			return 0, err
		}
		if a.o.Remote == nil {
			return w.Seq, nil
		}
		err = a.o.Remote.Publish()
		if err == nil {
			return w.Seq, nil
		}
		if !errors.Is(err, ErrRaced) {
			return 0, err
		}
		// Lost the race: drop this one receipt (ours, just written) and
		// write it again on the remote's new head.
		mine := w.Commit
		if err := a.o.Remote.Sync(func(n int) bool {
			tip, err := a.o.Ledger.Tip()
			return err == nil && n == 1 && tip.Commit == mine
		}); err != nil {
			return 0, err
		}
		if err := a.o.Ledger.RewindVerified(); err != nil {
			return 0, err
		}
		if _, err := a.verifyLedger(nil); err != nil {
			return 0, err
		}
	}
	return 0, errors.New("the remote ledger keeps moving: try again")
}
