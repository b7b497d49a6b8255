package gitobj

import (
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
)

// Size limits on what is read from git. Anyone who can push is assumed
// hostile, and a few kilobytes of zlib can inflate to gigabytes, so Get
// bounds every object by its type's limit, checked from the object's
// header (loose, packed, or the delta's target size) before it is inflated;
// GetLimit takes a tighter limit for a file with a known format.
const (
	MaxCommitSize = 64 << 10 // a commit (headers, SSH signature, message)
	MaxTagSize    = 64 << 10 // a tag (a checkpoint note and an SSH signature)
	MaxTreeSize   = 4 << 20  // one tree: a full 1000-receipt ledger shard is about 120 KiB
	MaxBlobSize   = 4 << 20  // any blob not covered by a tighter limit
)

// TooLargeError is an object bigger than the limit for what it was read as.
type TooLargeError struct {
	Size, Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%d bytes, more than the limit of %d", e.Size, e.Limit)
}

// DefaultLimit is the size limit Get applies to an object of type t.
func DefaultLimit(t plumbing.ObjectType) int64 {
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
