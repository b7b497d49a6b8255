package btc

import "github.com/btcsuite/btcd/chaincfg/chainhash"

// FoldBranch exposes foldBranch to the tests.
func FoldBranch(id chainhash.Hash, idx uint32, branch []string) chainhash.Hash {
	h, _ := foldBranch(id, idx, branch)
	return h
}
