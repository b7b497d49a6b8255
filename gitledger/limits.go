package gitledger

import (
	"fmt"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vmc-git/vmc-git/internal/gitobj"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/receipt"
)

// Size limits on what the ledger reads from git: every object is bounded
// by its type's limit (gitobj.MaxCommitSize and the others) before it is
// inflated, and each file of the ledger tree by its own limit, checked
// before it is parsed. A ledger that vmc-git wrote never comes near them.
const (
	MaxCommitSize  = gitobj.MaxCommitSize
	MaxTagSize     = gitobj.MaxTagSize
	MaxTreeSize    = gitobj.MaxTreeSize
	MaxBlobSize    = gitobj.MaxBlobSize
	MaxHeadSize    = receipt.MaxHeadSize // HEAD.json
	MaxReceiptSize = receipt.MaxSize     // one receipt file
	MaxSigSize     = 16 << 10            // an armored SSHSIG (.sig files; approvals: plans.MaxApprovalSize, the same)
	MaxTrustSize   = 1 << 20             // keys/allowed_signers, keys/trust.json
)

// TooLargeError is an object bigger than the limit for what it was read as.
type TooLargeError = gitobj.TooLargeError

// ReadBlobLimit reads a blob of at most limit bytes (the limit is checked
// before the blob is inflated).
func (l *Ledger) ReadBlobLimit(id plumbing.Hash, limit int64) ([]byte, error) {
	return l.objs.GetLimit(id, plumbing.BlobObject, limit)
}

// MaxClockSkew is how far ahead of the clock of whoever checks (the
// writer, the hook, a verifier) a receipt may be dated. A receipt dated
// further ahead would pin the ledger clock: every later receipt must be
// dated at or after it.
const MaxClockSkew = 5 * time.Minute

// FutureError is a receipt dated more than MaxClockSkew ahead of the clock.
type FutureError struct {
	Seq       uint64
	CreatedAt string
	Now       time.Time
}

func (e *FutureError) Error() string {
	return fmt.Sprintf("receipt %d is dated %s, more than %s ahead of this clock", e.Seq, e.CreatedAt, MaxClockSkew)
}

// CheckNotFuture returns a *FutureError if the tip's receipt is dated more
// than MaxClockSkew after now. Receipt times never decrease along the
// chain, so the tip's time bounds every receipt's.
func CheckNotFuture(h receipt.Head, now time.Time) error {
	t, err := keys.ParseTime(h.CreatedAt)
	if err != nil {
		return err
	}
	if t.After(now.Add(MaxClockSkew)) {
		return &FutureError{Seq: h.Seq, CreatedAt: h.CreatedAt, Now: now}
	}
	return nil
}

// CommitParents returns a commit's parents (any commit, e.g. on the main
// branch), reading it within MaxCommitSize.
func (l *Ledger) CommitParents(c plumbing.Hash) ([]plumbing.Hash, error) {
	return l.parents(c)
}
