package apply

import (
	"fmt"

	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/receipt"
)

// WithdrawnError refuses a plan an approver withdrew (vmc-git plan
// withdraw): its apply receipt has status withdrawn. The plan is in the
// ledger, so the error is also ErrAlreadyApplied (what ApplyPending and a
// lost race branch on), with a message of its own.
type WithdrawnError struct {
	Plan   string
	Seq    uint64 // the withdrawal receipt
	KID    string // the approver who withdrew it
	Reason string
}

func (e *WithdrawnError) Error() string {
	return fmt.Sprintf("plan %s was withdrawn by %s in receipt %d (%s): a withdrawn plan never applies", e.Plan, e.KID, e.Seq, e.Reason)
}

// Unwrap makes a withdrawn plan ErrAlreadyApplied.
func (e *WithdrawnError) Unwrap() error { return ErrAlreadyApplied }

// AppliedError is the refusal of plan id, which r's ledger holds in
// receipt seq (see gitledger.Reader.AppliedSeq): a *WithdrawnError if that
// receipt withdrew it, else ErrAlreadyApplied naming the receipt.
func AppliedError(r *gitledger.Reader, id string, seq uint64) error {
	if e, err := r.Receipt(seq); err == nil && e.Receipt.Kind == receipt.KindApply && e.Receipt.Apply != nil &&
		e.Receipt.Apply.Plan.ID == id && e.Receipt.Apply.Status == receipt.ApplyWithdrawn {
		return &WithdrawnError{Plan: id, Seq: seq, KID: e.Receipt.KID, Reason: e.Receipt.Apply.Reason}
	}
	return fmt.Errorf("%w: plan %s is in the ledger (receipt %d); a plan applies at most once", ErrAlreadyApplied, id, seq)
}
