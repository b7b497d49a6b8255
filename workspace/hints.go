package workspace

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/vmc-git/vmc-git/apply"
	"github.com/vmc-git/vmc-git/internal/lock"
	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/provider"
)

// What a human runs after apply did not apply a plan: the one mapping from
// apply's refusals to a Kind and a hint, for every shell (the CLI's exit
// code and "hint:" lines, the MCP server's tool errors).
//
//	refusal                                  kind         hint
//	apply.ErrLedgerInvalid                   KindInvalid  HintLedgerInvalid
//	*apply.RefusedError (recorded refused)   KindRefused  HintRetired
//	*apply.WithdrawnError                    KindRefused  HintWithdrawn
//	*apply.DeniedError (policy, apply FILE)  KindRefused  HintDenied
//	*plans.StaleError                        KindRefused  HintStale
//	*lock.HeldError                          KindRefused  HintLocked
//	apply.ErrNotApproved                     KindRefused  the approve command
//	apply.ErrAlreadyApplied, ErrOtherLedger  KindRefused  none
//
// With several plans' errors the first row that matches any of them gives
// the hint; the kind is KindInvalid if the ledger does not verify, else
// KindRefused if any plan was refused.

// Hints of apply's refusals.
const (
	HintLedgerInvalid = "vmc-git verify chain --sig names the broken rule; nothing was applied"
	HintRetired       = "a refused plan is retired for good: make a new plan against the current state (vmc-git plan server ...)"
	HintWithdrawn     = "a withdrawn plan is retired for good: if it is still wanted, make a new plan (vmc-git plan server ...)"
	HintStale         = "make a new plan against the current state (vmc-git plan server ...)"
	HintLocked        = "wait for it, or break it with --force (recorded in the receipt)"
	HintDenied        = "change the plan, or have an admin override the rules named above (vmc-git approve --override RULE plans/<id>.json) and commit the override"
)

// ApproveHint is the hint for an unapproved plan: the approve command for
// plan id ("" for any plan file).
func ApproveHint(id string) string {
	if id == "" {
		return "approvers sign with: vmc-git approve FILE"
	}
	return "approvers sign with: vmc-git approve " + plans.Path(id) + ", then commit the approval and merge it into the main branch"
}

// ApplyError joins the per-plan errors of ApplyPending, ApplyPlan or
// ApplyMerged into one *Error with the kind and hint the table above gives;
// planID names the plan in the approve hint ("" for any). Errors that are
// no refusal keep the kind and hints of an *Error among them (KindError
// without one). nil for no errors.
func ApplyError(errs []error, planID string) error {
	err := errors.Join(errs...)
	if err == nil {
		return nil
	}
	kind := KindError
	for _, e := range errs {
		if errors.Is(e, apply.ErrLedgerInvalid) {
			return invalidErr(err, HintLedgerInvalid)
		}
		if isRefusal(e) {
			kind = KindRefused
		}
	}
	var re *apply.RefusedError
	var we *apply.WithdrawnError
	var se *plans.StaleError
	var he *lock.HeldError
	var de *apply.DeniedError
	switch {
	case errors.As(err, &re):
		return kindErr(kind, err, HintRetired)
	case errors.As(err, &de):
		return kindErr(kind, err, HintDenied)
	case errors.As(err, &we):
		return kindErr(kind, err, HintWithdrawn)
	case errors.As(err, &se):
		return kindErr(kind, err, HintStale)
	case errors.As(err, &he):
		return kindErr(kind, err, HintLocked)
	case errors.Is(err, apply.ErrNotApproved):
		return kindErr(kind, err, ApproveHint(planID))
	}
	var wse *Error
	if kind == KindError && errors.As(err, &wse) {
		return err
	}
	return kindErr(kind, err)
}

// isRefusal reports whether err is a plan's refusal (exit code 4 in the
// CLI), not a failure.
func isRefusal(err error) bool {
	var re *apply.RefusedError
	var se *plans.StaleError
	var he *lock.HeldError
	return errors.Is(err, apply.ErrAlreadyApplied) || errors.Is(err, apply.ErrNotApproved) || errors.Is(err, apply.ErrOtherLedger) || errors.Is(err, apply.ErrDenied) ||
		errors.As(err, &se) || errors.As(err, &he) || errors.As(err, &re)
}

// OutcomeError is the error of an apply whose receipt says it did not
// succeed (failed or unknown): the plan, its status and receipt, and each
// action that did not succeed with the provider's code and message, one per
// line. nil when it succeeded.
func OutcomeError(o *apply.Outcome) error {
	if o.Status == provider.StatusSucceeded {
		return nil
	}
	var b strings.Builder
	for i, rec := range o.Actions {
		var a provider.Action
		var r provider.Result
		if json.Unmarshal(rec.Action, &a) != nil || json.Unmarshal(rec.Result, &r) != nil || r.Status == provider.StatusSucceeded {
			continue
		}
		code := ""
		if r.Code != "" {
			code = " [" + r.Code + "]"
		}
		fmt.Fprintf(&b, "\n  action %d (%s %s): %s%s: %s", i+1, a.Op, a.Server, r.Status, code, r.Error)
	}
	return kindErr(KindError, fmt.Errorf("plan %s: %s (recorded in receipt %d)%s", o.Plan, o.Status, o.Seq, b.String()))
}
