package gitledger

import (
	"fmt"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/receipt"
)

// Size limits on what the ledger reads from git. Anyone who can push is
// assumed hostile, and a few kilobytes of zlib can inflate to gigabytes, so
// every object is bounded by its type's limit, checked from the object's
// header before it is inflated; files with a known format have tighter
// limits, checked before they are parsed. A ledger that vmc-git wrote never
// comes near them.
const (
	MaxCommitSize  = 64 << 10            // a ledger or main-branch commit (headers, SSH signature, message)
	MaxTagSize     = 64 << 10            // a snapshot tag (checkpoint note and SSH signature)
	MaxTreeSize    = 4 << 20             // one tree: a full 1000-receipt shard is about 120 KiB
	MaxBlobSize    = 4 << 20             // any blob not covered by a tighter limit
	MaxHeadSize    = receipt.MaxHeadSize // HEAD.json
	MaxReceiptSize = receipt.MaxSize     // one receipt file
	MaxSigSize     = 16 << 10            // an armored SSHSIG (.sig files, approvals)
	MaxTrustSize   = 1 << 20             // keys/allowed_signers, keys/trust.json
)

// TooLargeError is an object bigger than the limit for what it was read as.
type TooLargeError struct {
	Size, Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%d bytes, more than the limit of %d", e.Size, e.Limit)
}

func defaultLimit(t plumbing.ObjectType) int64 {
	switch t {
	case plumbing.CommitObject:
		return MaxCommitSize
	case plumbing.TagObject:
		return MaxTagSize
	case plumbing.TreeObject:
		return MaxTreeSize
	default:
		return MaxBlobSize
	}
}

// ReadBlobLimit reads a blob of at most limit bytes (the limit is checked
// before the blob is inflated).
func (l *Ledger) ReadBlobLimit(id plumbing.Hash, limit int64) ([]byte, error) {
	return l.objs.getLimit(id, plumbing.BlobObject, limit)
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
