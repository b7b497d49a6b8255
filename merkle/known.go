package merkle

import "fmt"

// RollbackError says a ledger does not contain a checkpoint known to the
// verifier: it is shorter (a rollback, or newer entries withheld) or has
// another root at the checkpoint's size (a fork). Both sizes and roots are
// named; LedgerRootAtKnown is set only for a fork.
type RollbackError struct {
	Known             Checkpoint
	Source            string // where the known checkpoint came from (a tag, a file, a witness)
	LedgerSize        uint64
	LedgerRoot        Hash // the ledger's root at LedgerSize
	LedgerRootAtKnown Hash // the ledger's root at Known.Size (fork only)
}

func (e *RollbackError) Fork() bool { return e.LedgerSize >= e.Known.Size }

func (e *RollbackError) Error() string {
	if e.Fork() {
		return fmt.Sprintf("ledger forked from a known checkpoint: %s has size %d root %s, but this ledger's root at size %d is %s (ledger size %d, root %s)",
			e.Source, e.Known.Size, e.Known.Root, e.Known.Size, e.LedgerRootAtKnown, e.LedgerSize, e.LedgerRoot)
	}
	return fmt.Sprintf("ledger rolled back: it has %d receipts (root %s), but %s has size %d root %s: newer receipts are withheld or were removed",
		e.LedgerSize, e.LedgerRoot, e.Source, e.Known.Size, e.Known.Root)
}

// CheckContains checks that a ledger of size n, whose root at any size
// 1..n rootAt returns, contains the checkpoint known (origin checked by the
// caller): n >= known.Size and the root at known.Size is known.Root.
// Otherwise it returns a *RollbackError. A checkpoint of size 0 is
// contained in every ledger.
func CheckContains(known Checkpoint, source string, n uint64, rootAt func(size uint64) (Hash, error)) error {
	if known.Size == 0 {
		return nil
	}
	var root Hash
	if n > 0 {
		var err error
		if root, err = rootAt(n); err != nil {
			return err
		}
	} else {
		root = EmptyRoot
	}
	if n < known.Size {
		return &RollbackError{Known: known, Source: source, LedgerSize: n, LedgerRoot: root}
	}
	at, err := rootAt(known.Size)
	if err != nil {
		return err
	}
	if at != known.Root {
		return &RollbackError{Known: known, Source: source, LedgerSize: n, LedgerRoot: root, LedgerRootAtKnown: at}
	}
	return nil
}
