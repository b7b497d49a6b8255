package merkle

import (
	"encoding/json"
	"fmt"
	"math/bits"
)

// A Range is a compact range: the state needed to extend a tree leaf by leaf
// and compute its root without the earlier leaves. Nodes holds the roots of
// the perfect subtrees on the tree's right edge, left to right, one per set
// bit of Size from the highest (so len(Nodes) == popcount(Size)).
//
// The zero Range is the empty tree. JSON form: {"size":N,"nodes":["hex",...]}.
type Range struct {
	Size  uint64 `json:"size"`
	Nodes []Hash `json:"nodes"`
}

// RangeOf returns the compact range of the tree made of leaves. It costs
// len(leaves) - popcount(len(leaves)) node hashes.
func RangeOf(leaves []Hash) Range {
	r := Range{Size: uint64(len(leaves))}
	lo := uint64(0)
	for b := bits.Len64(r.Size); b > 0; b-- {
		k := uint64(1) << (b - 1)
		if r.Size&k != 0 {
			r.Nodes = append(r.Nodes, RootOf(leaves[lo:lo+k]))
			lo += k
		}
	}
	return r
}

// Check reports whether r is well formed: len(Nodes) == popcount(Size).
// Append and Root need a well-formed range; UnmarshalJSON and LoadState
// only return well-formed ones.
func (r *Range) Check() error {
	if want := bits.OnesCount64(r.Size); len(r.Nodes) != want {
		return fmt.Errorf("compact range of size %d: have %d nodes, want %d", r.Size, len(r.Nodes), want)
	}
	return nil
}

// Append adds a leaf hash to the right of the range. Amortized it costs one
// node hash per leaf (at most log2(Size) for a single call).
// r must be well formed (see Check); Append panics otherwise.
func (r *Range) Append(leaf Hash) {
	if r.Size == ^uint64(0) {
		panic("merkle: compact range is full")
	}
	h := leaf
	for s := r.Size; s&1 == 1; s >>= 1 {
		last := len(r.Nodes) - 1
		h = NodeHash(r.Nodes[last], h)
		r.Nodes = r.Nodes[:last]
	}
	r.Nodes = append(r.Nodes, h)
	r.Size++
}

// Root returns the tree hash of the range: EmptyRoot for size 0, otherwise
// the right-to-left fold of Nodes (len(Nodes)-1 node hashes).
// r must be well formed (see Check).
func (r *Range) Root() Hash {
	if len(r.Nodes) == 0 {
		return EmptyRoot
	}
	h := r.Nodes[len(r.Nodes)-1]
	for i := len(r.Nodes) - 2; i >= 0; i-- {
		h = NodeHash(r.Nodes[i], h)
	}
	return h
}

// Clone returns a deep copy of r, so that appending to one does not change
// the other.
func (r *Range) Clone() Range {
	return Range{Size: r.Size, Nodes: append([]Hash(nil), r.Nodes...)}
}

// MarshalJSON encodes r; an empty range has "nodes":[] rather than null.
func (r Range) MarshalJSON() ([]byte, error) {
	nodes := r.Nodes
	if nodes == nil {
		nodes = []Hash{}
	}
	type plain Range
	return json.Marshal(plain{Size: r.Size, Nodes: nodes})
}

// UnmarshalJSON decodes r and checks that it is well formed. On error r is
// left unchanged.
func (r *Range) UnmarshalJSON(data []byte) error {
	type plain Range
	var tmp plain
	if err := decodeStrict(data, &tmp); err != nil {
		return fmt.Errorf("compact range: %w", err)
	}
	rr := Range(tmp)
	if len(rr.Nodes) == 0 {
		rr.Nodes = nil
	}
	if err := rr.Check(); err != nil {
		return err
	}
	*r = rr
	return nil
}
