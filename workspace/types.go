package workspace

import (
	"errors"

	"github.com/vmc-git/vmc-git/gitledger"
)

// Values of package gitledger that use cases take and return, named here
// so that a shell formats them with no other import: the workspace is its
// one door to the ledger.
type (
	Report         = gitledger.Report         // Verify's result
	VerifyOptions  = gitledger.VerifyOptions  // what Verify checks
	VerifyError    = gitledger.VerifyError    // a broken ledger rule: receipt, rule, commit
	Written        = gitledger.Written        // a receipt Record or ApplyTrust wrote
	SnapshotResult = gitledger.SnapshotResult // what Snapshot made
	Entry          = gitledger.Entry          // one receipt, its bytes and signature
)

// DefaultBranch is the ledger branch unless configured otherwise.
const DefaultBranch = gitledger.DefaultBranch

// ErrNoLedger says the repository has no ledger branch.
var ErrNoLedger = gitledger.ErrNoLedger

// IsInvalid reports whether err says that verification failed: a broken
// ledger rule (*VerifyError), a snapshot that does not check, or a snapshot
// tag of the wrong name.
func IsInvalid(err error) bool {
	var ve *gitledger.VerifyError
	var se *gitledger.SnapshotError
	var te *gitledger.TagNameError
	return errors.As(err, &ve) || errors.As(err, &se) || errors.As(err, &te)
}
