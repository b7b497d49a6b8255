package workspace

import (
	"errors"
	"fmt"

	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/keys"
)

// Kind classifies a use case's refusal, so that a shell (the CLI, the MCP
// server) can pick its exit code or status without matching messages.
type Kind int

// Kinds of Error.
const (
	KindError    Kind = iota // anything else: I/O, provider, bad input
	KindUsage                // bad arguments: the request itself is wrong
	KindInvalid              // verification failed: a ledger, receipt, plan or signature is not valid
	KindRefused              // refused: stale or unapproved plan, lock held, lost race, existing ledger
	KindNotFound             // no repository, ledger, receipt, plan or key
)

// Error is a use case's error with its kind and hints: what the operator
// can do about it, in words (commands to run).
type Error struct {
	Kind  Kind
	Err   error
	Hints []string
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func kindErr(k Kind, err error, hints ...string) error {
	if err == nil {
		return nil
	}
	return &Error{k, err, hints}
}

func usageErr(err error, hints ...string) error    { return kindErr(KindUsage, err, hints...) }
func invalidErr(err error, hints ...string) error  { return kindErr(KindInvalid, err, hints...) }
func refusedErr(err error, hints ...string) error  { return kindErr(KindRefused, err, hints...) }
func notFoundErr(err error, hints ...string) error { return kindErr(KindNotFound, err, hints...) }
func usagef(format string, a ...any) error         { return usageErr(fmt.Errorf(format, a...)) }

// refusedIfConflict classifies an append's error: a lost race after
// retries, or a signer whose role does not allow the receipt.
func refusedIfConflict(err error) error {
	if errors.Is(err, gitledger.ErrConflict) {
		return refusedErr(err, "another writer keeps appending; try again")
	}
	var re *keys.RoleError
	if errors.As(err, &re) {
		return refusedErr(err, "vmc-git keys list shows who may sign what")
	}
	return err
}

// KindOf returns the Kind of err: that of the first *Error in its chain,
// else KindError.
func KindOf(err error) Kind {
	var we *Error
	if errors.As(err, &we) {
		return we.Kind
	}
	return KindError
}
