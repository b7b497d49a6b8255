package merkle

import (
	"errors"
	"fmt"
	"math/bits"
)

// Sentinel errors that callers may branch on with errors.Is. The returned
// errors wrap them with the sizes, indexes and hashes involved.
var (
	// ErrIndexOutOfRange: a leaf index is not below the tree size.
	ErrIndexOutOfRange = errors.New("index out of range")
	// ErrSizeOrder: a consistency proof was asked for with size1 > size2.
	ErrSizeOrder = errors.New("size1 greater than size2")
	// ErrEmptyTree: a proof involving a tree of size 0 was asked for.
	// Nothing can be proved about the empty tree.
	ErrEmptyTree = errors.New("empty tree")
	// ErrProofLength: a proof has the wrong number of hashes for its sizes.
	ErrProofLength = errors.New("wrong proof length")
	// ErrRootMismatch: a proof does not lead to the expected root.
	ErrRootMismatch = errors.New("root mismatch")
	// ErrTooFewLeaves: a proof or root was asked for beyond the given leaves.
	ErrTooFewLeaves = errors.New("too few leaves")
)

// RootOf returns the RFC 6962 Merkle tree hash of the given leaf hashes
// (EmptyRoot for none). It computes exactly len(leaves)-1 node hashes, keeps
// O(log n) hashes of state and does not modify leaves.
func RootOf(leaves []Hash) Hash {
	if len(leaves) == 0 {
		return EmptyRoot
	}
	// A stack of perfect-subtree roots, exactly like Range.Append, but on the
	// goroutine stack: 64 levels cover any slice length.
	var stack [64]Hash
	n := 0
	for i := range leaves {
		h := leaves[i]
		for c := uint(i); c&1 == 1; c >>= 1 {
			n--
			h = NodeHash(stack[n], h)
		}
		stack[n] = h
		n++
	}
	r := stack[n-1]
	for j := n - 2; j >= 0; j-- {
		r = NodeHash(stack[j], r)
	}
	return r
}

// split returns the largest power of two strictly less than n (n >= 2):
// the size of the left subtree of a tree with n leaves (RFC 6962 §2.1).
func split(n uint64) uint64 {
	return 1 << (bits.Len64(n-1) - 1)
}

// checkLeaves reports an error if fewer than size leaves are given.
func checkLeaves(leaves []Hash, size uint64) error {
	if uint64(len(leaves)) < size {
		return fmt.Errorf("%w: tree size %d, have %d leaf hashes", ErrTooFewLeaves, size, len(leaves))
	}
	return nil
}

// ProveInclusion returns the RFC 9162 inclusion proof (audit path) of leaf
// index in the tree made of leaves[:size], ordered from the leaf's sibling up
// to the child of the root. It needs 0 <= index < size <= len(leaves) and
// costs fewer than size node hashes.
func ProveInclusion(leaves []Hash, index, size uint64) ([]Hash, error) {
	if err := checkIndex(index, size); err != nil {
		return nil, err
	}
	if err := checkLeaves(leaves, size); err != nil {
		return nil, err
	}
	var dirs [64]bool
	n := inclusionPath(index, size, &dirs)
	proof := make([]Hash, n)
	lo, hi := uint64(0), size
	// Walk from the root down; the sibling met at depth d is proof[n-1-d].
	for d := 0; hi-lo > 1; d++ {
		k := split(hi - lo)
		if index < lo+k {
			proof[n-1-d] = RootOf(leaves[lo+k : hi])
			hi = lo + k
		} else {
			proof[n-1-d] = RootOf(leaves[lo : lo+k])
			lo += k
		}
	}
	return proof, nil
}

func checkIndex(index, size uint64) error {
	if size == 0 {
		return fmt.Errorf("leaf %d: %w: no leaf to prove", index, ErrEmptyTree)
	}
	if index >= size {
		return fmt.Errorf("leaf %d: %w: tree size is %d", index, ErrIndexOutOfRange, size)
	}
	return nil
}

// inclusionPath records, for the path from the root down to leaf index in a
// tree of size leaves, whether the sibling at each depth is on the right
// (dirs[d] == true). It returns the path length, which is the proof length.
func inclusionPath(index, size uint64, dirs *[64]bool) int {
	lo, hi := uint64(0), size
	d := 0
	for ; hi-lo > 1; d++ {
		k := split(hi - lo)
		if index < lo+k {
			dirs[d] = true
			hi = lo + k
		} else {
			dirs[d] = false
			lo += k
		}
	}
	return d
}

// VerifyInclusion checks that proof proves leaf is the leaf at index in the
// tree of the given size with the given root. The error says which check
// failed: the index, the proof length, or the recomputed root.
//
// The proof does not bind size by itself: take size and root from the same
// verified checkpoint.
func VerifyInclusion(leaf Hash, index, size uint64, proof []Hash, root Hash) error {
	if err := checkIndex(index, size); err != nil {
		return fmt.Errorf("inclusion proof: %w", err)
	}
	var dirs [64]bool
	n := inclusionPath(index, size, &dirs)
	if len(proof) != n {
		return fmt.Errorf("inclusion proof for leaf %d in tree size %d: %w: have %d hashes, want %d",
			index, size, ErrProofLength, len(proof), n)
	}
	r := leaf
	for i, p := range proof {
		if dirs[n-1-i] {
			r = NodeHash(r, p)
		} else {
			r = NodeHash(p, r)
		}
	}
	if r != root {
		return fmt.Errorf("inclusion proof for leaf %d in tree size %d: %w: computed %s, want %s",
			index, size, ErrRootMismatch, r, root)
	}
	return nil
}

// ProveConsistency returns the RFC 9162 consistency proof that the tree of
// leaves[:size1] is a prefix of the tree of leaves[:size2]. It needs
// 1 <= size1 <= size2 <= len(leaves) and costs fewer than size2 node hashes.
// For size1 == size2 the proof is empty.
func ProveConsistency(leaves []Hash, size1, size2 uint64) ([]Hash, error) {
	if err := checkSizes(size1, size2); err != nil {
		return nil, err
	}
	if err := checkLeaves(leaves, size2); err != nil {
		return nil, err
	}
	n := consistencyProofLen(size1, size2)
	proof := make([]Hash, n)
	// RFC 9162 §2.1.4.1 SUBPROOF, unrolled: walk down from the root of
	// [lo, hi); the hash appended at depth d is proof[n-1-d].
	lo, hi, m := uint64(0), size2, size1
	complete := true
	d := 0
	for m != hi-lo {
		k := split(hi - lo)
		if m <= k {
			proof[n-1-d] = RootOf(leaves[lo+k : hi])
			hi = lo + k
		} else {
			proof[n-1-d] = RootOf(leaves[lo : lo+k])
			lo += k
			m -= k
			complete = false
		}
		d++
	}
	if !complete {
		proof[0] = RootOf(leaves[lo:hi])
	}
	return proof, nil
}

func checkSizes(size1, size2 uint64) error {
	if size1 > size2 {
		return fmt.Errorf("consistency proof from size %d to %d: %w", size1, size2, ErrSizeOrder)
	}
	if size1 == 0 {
		return fmt.Errorf("consistency proof from size 0 to %d: %w: every tree extends the empty tree, there is nothing to prove", size2, ErrEmptyTree)
	}
	return nil
}

// consistencyProofLen returns the number of hashes in the consistency proof
// between sizes 1 <= size1 <= size2.
func consistencyProofLen(size1, size2 uint64) int {
	n := 0
	m, sz := size1, size2
	complete := true
	for m != sz {
		k := split(sz)
		if m <= k {
			sz = k
		} else {
			m -= k
			sz -= k
			complete = false
		}
		n++
	}
	if !complete {
		n++
	}
	return n
}

// VerifyConsistency checks that proof proves the tree of size1 leaves with
// root1 is a prefix of the tree of size2 leaves with root2 (RFC 9162
// §2.1.4.2). size1 must be at least 1: a consistency proof from the empty
// tree is meaningless and always rejected. For size1 == size2 the proof must
// be empty and the roots equal.
func VerifyConsistency(size1, size2 uint64, root1, root2 Hash, proof []Hash) error {
	if err := checkSizes(size1, size2); err != nil {
		return err
	}
	want := consistencyProofLen(size1, size2)
	if len(proof) != want {
		return fmt.Errorf("consistency proof from size %d to %d: %w: have %d hashes, want %d",
			size1, size2, ErrProofLength, len(proof), want)
	}
	if size1 == size2 {
		if root1 != root2 {
			return fmt.Errorf("consistency proof from size %d to %d: %w: equal sizes but root1 %s differs from root2 %s",
				size1, size2, ErrRootMismatch, root1, root2)
		}
		return nil
	}
	// RFC 9162 §2.1.4.2. If size1 is a power of two, the old root is itself
	// the first node of the path and is not sent.
	path := proof
	if size1&(size1-1) == 0 {
		path = make([]Hash, 0, len(proof)+1)
		path = append(path, root1)
		path = append(path, proof...)
	}
	fn, sn := size1-1, size2-1
	for fn&1 == 1 {
		fn >>= 1
		sn >>= 1
	}
	fr, sr := path[0], path[0]
	for _, c := range path[1:] {
		if sn == 0 {
			// Unreachable after the length check; kept as a guard.
			return fmt.Errorf("consistency proof from size %d to %d: %w: proof too long", size1, size2, ErrProofLength)
		}
		if fn&1 == 1 || fn == sn {
			fr = NodeHash(c, fr)
			sr = NodeHash(c, sr)
			for fn&1 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			sr = NodeHash(sr, c)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 {
		return fmt.Errorf("consistency proof from size %d to %d: %w: proof too short", size1, size2, ErrProofLength)
	}
	if fr != root1 {
		return fmt.Errorf("consistency proof from size %d to %d: %w: computed root1 %s, want %s",
			size1, size2, ErrRootMismatch, fr, root1)
	}
	if sr != root2 {
		return fmt.Errorf("consistency proof from size %d to %d: %w: computed root2 %s, want %s",
			size1, size2, ErrRootMismatch, sr, root2)
	}
	return nil
}
