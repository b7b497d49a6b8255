package workspace

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/vmc-git/vmc-git/apply"
	"github.com/vmc-git/vmc-git/internal/lock"
	"github.com/vmc-git/vmc-git/plans"
)

// TestApplyError: each refusal gets its kind and hint; with several plans'
// errors the ledger's invalidity wins, then the table's order.
func TestApplyError(t *testing.T) {
	stale := &plans.StaleError{Plan: "web-1-a", Diffs: []string{"server web-1 changed"}}
	held := &lock.HeldError{Info: lock.Info{Server: "web-1"}}
	retired := &apply.RefusedError{Plan: "web-1-a", Seq: 4, Reason: "stale"}
	withdrawn := &apply.WithdrawnError{Plan: "web-1-a", Seq: 5, KID: "bob", Reason: "not needed"}
	denied := &apply.DeniedError{Plan: "web-1-a", Detail: "ssh-from-anywhere on firewall/fw-web"}
	unapproved := fmt.Errorf("%w: plan web-1-a has 0 of 1 required approvals", apply.ErrNotApproved)
	replayed := fmt.Errorf("%w: plan web-1-a is in the ledger (receipt 3)", apply.ErrAlreadyApplied)
	other := fmt.Errorf("%w: plan web-1-a is for ledger x", apply.ErrOtherLedger)
	failed := errors.New("plan web-1-a: provider: 500")
	notMerged := refusedErr(errors.New("plan web-1-a is not merged"), "merge it")
	cases := []struct {
		name string
		errs []error
		id   string
		kind Kind
		hint []string
	}{
		{"invalid", []error{stale, fmt.Errorf("x: %w", apply.ErrLedgerInvalid)}, "", KindInvalid, []string{HintLedgerInvalid}},
		{"retired", []error{stale, retired}, "", KindRefused, []string{HintRetired}},
		{"withdrawn", []error{withdrawn}, "", KindRefused, []string{HintWithdrawn}},
		{"denied", []error{held, denied}, "", KindRefused, []string{HintDenied}},
		{"stale", []error{held, stale}, "", KindRefused, []string{HintStale}},
		{"held", []error{held}, "", KindRefused, []string{HintLocked}},
		{"unapproved", []error{unapproved}, "", KindRefused, []string{"approvers sign with: vmc-git approve FILE"}},
		{"unapproved id", []error{unapproved}, "web-1-a", KindRefused, []string{ApproveHint("web-1-a")}},
		{"replayed", []error{replayed}, "", KindRefused, nil},
		{"other ledger", []error{other, failed}, "", KindRefused, nil},
		{"failed", []error{failed}, "", KindError, nil},
		{"not merged", []error{notMerged}, "web-1-a", KindRefused, []string{"merge it"}},
	}
	for _, c := range cases {
		err := ApplyError(c.errs, c.id)
		var we *Error
		if !errors.As(err, &we) || we.Kind != c.kind || !slices.Equal(we.Hints, c.hint) {
			t.Errorf("%s: got %#v", c.name, we)
			continue
		}
		for _, e := range c.errs {
			if !errors.Is(err, e) {
				t.Errorf("%s: %v lost", c.name, e)
			}
		}
	}
	if ApplyError(nil, "") != nil {
		t.Error("no errors: want nil")
	}
	if !errors.Is(withdrawn, apply.ErrAlreadyApplied) {
		t.Error("a withdrawn plan is in the ledger: ErrAlreadyApplied")
	}
	if ApproveHint("web-1-a") != "approvers sign with: vmc-git approve plans/web-1-a.json, then commit the approval and merge it into the main branch" {
		t.Error(ApproveHint("web-1-a"))
	}
}
