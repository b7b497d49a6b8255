// Package anchor holds the anchor statement of DESIGN section 6: what a
// ledger commits to an outside timestamping substrate (an RFC 3161 TSA,
// Ethereum calldata, a Bitcoin OP_RETURN output).
//
// A statement is canonical JSON (RFC 8785):
//
//	{"created_at":"2026-11-26T09:00:00Z","head_blake3":"<hex>","leaf_count":120,
//	 "ledger":"github.com/acme/infra","root":"<hex>","v":1}
//
// where root is the RFC 6962 root of the first leaf_count receipts (a
// snapshot, package merkle) and head_blake3 the blake3 of receipt
// leaf_count-1. It is signed with an operator key as an armored SSHSIG in
// namespace "vmc-anchor". Substrates commit to Digest, the SHA-256 of the
// statement's bytes.
//
// # The anchor receipt
//
// An anchor receipt (kind "anchor", package receipt) records one statement
// and its substrate proof. Its body is
//
//	{"proof":{…},"signature":"-----BEGIN SSH SIGNATURE-----\n…","statement":{…},"substrate":"rfc3161"}
//
// statement is the statement object itself (its canonical bytes, which a
// canonical receipt keeps byte for byte, are what the signature and the
// digest cover); signature is the armored SSHSIG, namespace vmc-anchor, by
// the key that signs the receipt; substrate names the package that checks
// proof: "rfc3161" (package anchor/rfc3161), "eth" (anchor/eth) or "btc"
// (anchor/btc). A statement covers receipts 0..leaf_count-1, so the anchor
// receipt that records it comes later: leaf_count <= its seq.
//
// A verifier (CheckBody; gitledger's verify and the pre-receive hook call
// it for every anchor receipt) checks, in this order: the body's shape; the
// statement (canonical, this ledger, leaf_count <= seq); its signature by the
// receipt's signer; root and head_blake3 equal to the ledger's own at
// leaf_count; and the substrate proof, offline, against Digest of the
// statement bytes. A substrate proof never needs the network to verify; with
// a node, LiveChecker adds what only the network knows (the block is on the
// best chain with K confirmations).
//
// # Substrates
//
// A substrate commits a 32-byte digest somewhere outside the ledger. Each
// sub-package implements Verifier (and registers a default one with
// Register from its init function, as image formats do, so a binary that
// imports the sub-package verifies its proofs) and provides an Anchorer that
// talks to its network. Eth and btc embed Payload (Tag followed by the
// digest) in a transaction.
//
// What an anchor proves: the statement, hence the ledger's first leaf_count
// receipts, existed before the substrate's time (the TSA's genTime, the
// block's time). It does not prove the ledger is complete or that nothing was
// written elsewhere; witnesses and the pinned genesis cover that.
package anchor

import (
	"crypto/sha256"
	"fmt"

	"golang.org/x/crypto/ssh"

	"github.com/vmc-git/vmc-git/internal/canon"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/merkle"
	"github.com/vmc-git/vmc-git/receipt"
)

// Version is the statement format version.
const Version = 1

// Statement is what an anchor commits to.
type Statement struct {
	V          int           `json:"v"`
	Ledger     string        `json:"ledger"`
	Root       merkle.Hash   `json:"root"`
	LeafCount  uint64        `json:"leaf_count"`
	HeadBlake3 digest.Digest `json:"head_blake3"`
	CreatedAt  string        `json:"created_at"`
}

// Validate checks the fields.
func (s *Statement) Validate() error {
	if s.V != Version {
		return fmt.Errorf("anchor statement: version %d, want %d", s.V, Version)
	}
	if err := receipt.ValidLedgerID(s.Ledger); err != nil {
		return fmt.Errorf("anchor statement: %w", err)
	}
	if s.LeafCount == 0 {
		return fmt.Errorf("anchor statement: leaf_count 0: an anchor covers at least the genesis")
	}
	if _, err := keys.ParseTime(s.CreatedAt); err != nil {
		return fmt.Errorf("anchor statement: created_at: %w", err)
	}
	return nil
}

// Encode returns the canonical bytes.
func (s *Statement) Encode() ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return canon.Marshal(s)
}

// Parse decodes canonical statement bytes strictly.
func Parse(b []byte) (*Statement, error) {
	var s Statement
	if err := canon.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("anchor statement: %w", err)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// Digest is what substrates commit to: SHA-256 of the statement bytes.
func Digest(b []byte) [32]byte { return sha256.Sum256(b) }

// Sign returns the armored SSHSIG (namespace vmc-anchor) of the statement.
func Sign(s *keys.Signer, stmt []byte) ([]byte, error) {
	if _, err := Parse(stmt); err != nil {
		return nil, err
	}
	return s.Sign(keys.NamespaceAnchor, stmt)
}

// Verify checks a statement's signature by pub and that it matches the
// snapshot (root and size) the verifier computed from the ledger.
func Verify(pub ssh.PublicKey, stmt, sig []byte, root merkle.Hash, size uint64) (*Statement, error) {
	st, err := Parse(stmt)
	if err != nil {
		return nil, err
	}
	if err := keys.Verify(pub, keys.NamespaceAnchor, stmt, sig); err != nil {
		return nil, fmt.Errorf("anchor statement: %w", err)
	}
	if st.LeafCount != size || st.Root != root {
		return nil, fmt.Errorf("anchor statement: commits to %d receipts with root %s, the ledger's root at that size is %s", st.LeafCount, st.Root, root)
	}
	return st, nil
}
