package apply

import (
	"context"
	"errors"
	"fmt"

	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/receipt"
)

// A Gate decides, once per plan, whether policy lets the plan be applied:
// Apply calls it after the plan's approvals and freshness are checked at
// tip, under the plan's locks, before the intent is written and the
// provider called. It returns the policy outcome the receipt records
// (receipt.Policy), or an error. A *DeniedError retires a merged plan
// (ApplyPending records it as refused, with the error's outcome); any
// other error leaves the plan pending for the next run.
type Gate func(ctx context.Context, p *plans.Plan, in Input, tip *gitledger.Tip) (*receipt.Policy, error)

// ErrDenied is a plan whose end state breaks a deny rule of the policy
// that no admin override covers.
var ErrDenied = errors.New("denied by policy")

// DeniedError is a plan denied by policy: Policy is the outcome (result
// denied) its refused receipt records, Detail names the rules, resources
// and what to do.
type DeniedError struct {
	Plan   string
	Policy *receipt.Policy
	Detail string
}

func (e *DeniedError) Error() string {
	return fmt.Sprintf("plan %s %v: %s", e.Plan, ErrDenied, e.Detail)
}

func (e *DeniedError) Unwrap() error { return ErrDenied }

// gate runs Options.Gate (nil: no policy outcome is recorded).
func (a *Applier) gate(ctx context.Context, p *plans.Plan, in Input, tip *gitledger.Tip) (*receipt.Policy, error) {
	if a.o.Gate == nil {
		return nil, nil
	}
	return a.o.Gate(ctx, p, in, tip)
}

// deniedPolicy is the outcome a refusal for err records (nil unless err is
// a policy denial).
func deniedPolicy(err error) *receipt.Policy {
	var de *DeniedError
	if errors.As(err, &de) {
		return de.Policy
	}
	return nil
}
