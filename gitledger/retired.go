package gitledger

import (
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/receipt"
)

// Retired plans (receipt.Apply.Status refused or withdrawn) are recorded
// like applied ones, the plan copied to plans/<id>.json so that it is never
// applied again, with two differences: the approvals copied (those that
// were valid, for a refusal; none, for a withdrawal) need not reach
// approvals_required, and a refused plan's bytes need not name this ledger
// or its file (an invalid plan is one reason to refuse it).

// checkApplyApprovals is CheckApprovals for an apply receipt r: a retired
// plan's listed approvals must each be valid, but may be fewer than
// required. The policy overrides r lists (receipt.CheckOverrides) must be
// signed by admins trusted in t at r's time, and its policy outcome must
// name the bundle t pins (receipt.CheckPolicyPin).
func checkApplyApprovals(t *keys.Trust, r *receipt.Receipt, plan []byte, sigs map[string][]byte) error {
	if err := receipt.CheckPolicyPin(t, r); err != nil {
		return err
	}
	if err := receipt.CheckOverrides(t, r); err != nil {
		return err
	}
	if r.Apply.Retired() {
		t = t.Clone()
		t.ApprovalsRequired = 0
	}
	return CheckApprovals(t, plan, sigs, r.Apply.Plan.Approvals, r.Time())
}

// checkApplyPlanNames is checkPlanNames, except for a refused plan.
func checkApplyPlanNames(r *receipt.Receipt, plan []byte) error {
	if r.Apply.Status == receipt.ApplyRefused {
		return nil
	}
	return checkPlanNames(plan, r.Apply.Plan.ID, r.Ledger)
}
