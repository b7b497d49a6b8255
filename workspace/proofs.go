package workspace

import (
	"fmt"

	"github.com/vmc-git/vmc-git/merkle"
)

// MerkleTree returns the Merkle tree of the first size receipts (0: all)
// and that size, with its interior hashes: from the stored hashes of the
// newest verified snapshot tag at most size plus the receipts after it
// (gitledger.Ledger.MerkleTree), so its proofs cost O(log n + k).
func (ws *Workspace) MerkleTree(size uint64) (*merkle.StoredTree, uint64, error) {
	r, err := ws.Ledger.NewReader()
	if err != nil {
		return nil, 0, err
	}
	n := r.Tip.Head.Seq + 1
	if size == 0 {
		size = n
	}
	if size > n {
		return nil, 0, notFoundErr(fmt.Errorf("tree of %d receipts: the ledger has %d", size, n))
	}
	t, err := ws.Ledger.MerkleTree(r, size)
	return t, size, err
}
