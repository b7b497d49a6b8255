// Package merkle implements the vmc-git Merkle tree over ledger receipts
// (DESIGN §6): RFC 6962 / RFC 9162 SHA-256 trees, compact ranges for
// incremental roots, inclusion and consistency proofs, C2SP tlog-checkpoints
// signed as golang.org/x/mod/sumdb/note notes, and the snapshot, proof and
// state files built on them. It never prints, prompts or exits.
//
// # Tree
//
// Algorithm name "rfc6962-sha256" (Algorithm). Leaf i is the exact bytes of
// the receipt with seq = i; a tree of size N covers seq 0..N-1.
//
//	LeafHash(d)    = SHA-256(0x00 || d)          (LeafPrefix)
//	NodeHash(l, r) = SHA-256(0x01 || l || r)     (NodePrefix)
//	MTH({})        = SHA-256("")                 (EmptyRoot)
//	MTH(D[0:1])    = LeafHash(d0)
//	MTH(D[0:n])    = NodeHash(MTH(D[0:k]), MTH(D[k:n])), k = largest power of 2 < n
//
// A Hash is 32 bytes; its text and JSON form is 64 lower-case hex digits
// (upper case is rejected, so each hash has one spelling). Checkpoints carry
// the root in standard base64 instead, as C2SP requires.
//
// RootOf computes a root from leaf hashes with exactly N-1 node hashes and
// O(log N) memory. A Range (compact range) holds the roots of the perfect
// subtrees on the right edge of a tree, left to right (one per set bit of
// the size); Append adds a leaf in amortized one node hash, Root folds the
// nodes right to left. Snapshot N+k is therefore computed from the state at
// snapshot N in O(k + log N).
//
// # Proofs
//
// ProveInclusion / VerifyInclusion and ProveConsistency / VerifyConsistency
// produce and check RFC 9162 §2.1.3 and §2.1.4 proofs, hash for hash equal
// to golang.org/x/mod/sumdb/tlog's ProveRecord and ProveTree (the tests
// check this for every size up to 300 and sampled sizes up to 10^6).
// Generators take the leaf hashes as a []Hash and cost fewer than N node
// hashes and O(log N) extra memory. Proof hashes are ordered from the
// leaf's level up to the level below the root.
//
// Rules: an inclusion proof needs 0 <= index < size; a consistency proof
// needs 1 <= size1 <= size2 (a proof from the empty tree proves nothing and
// is always rejected, as in tlog); for size1 == size2 the proof is empty and
// the roots must be equal. A proof does not bind the tree size by itself
// (leaf 13 has the same path in every tree of 17..32 leaves), so callers
// must take size and root from the same signed checkpoint; CheckOffline
// does. Failures wrap ErrIndexOutOfRange, ErrEmptyTree, ErrSizeOrder,
// ErrProofLength, ErrRootMismatch or ErrTooFewLeaves, with the sizes and
// hashes in the message.
//
// # Stored hashes
//
// StoredTree keeps every interior hash in the C2SP tlog-tiles layout
// (tile/<L>/<N>[.p/<W>], height 8, see tiles.go), read through
// golang.org/x/mod/sumdb/tlog and checked against a trusted root before any
// hash is used; roots and proofs then cost O(log N) hash reads, and
// appending k leaves to a tree opened at size N costs O(k + log N).
//
// # Checkpoints
//
// A snapshot's checkpoint is a C2SP tlog-checkpoint: exactly
//
//	<origin>\n<size>\n<base64 root>\n
//
// with origin = the ledger id, size in canonical decimal and the root in
// canonical padded standard base64. vmc-git writes no extension lines and
// ParseCheckpoint rejects them, as it rejects any text that would not
// re-marshal to the same bytes. SignCheckpoint wraps it in a signed note
// (text, blank line, "— <name> <base64(keyhash || sig)>" lines);
// OpenCheckpoint verifies and parses one. NewNoteSigner makes a note.Signer
// from an Ed25519 public key and a signing function (an ssh-agent key),
// key hash = first 4 bytes big-endian of SHA-256(name || "\n" || 0x01 ||
// pub); VerifierKey gives the matching "<name>+<hash>+<base64 key>" string.
// A snapshot note may carry several signatures: the signer's as <kid> and,
// under a witness policy, again as <origin> plus witness cosignatures
// (package witness); OpenCheckpoint ignores the ones it has no key for.
// CheckContains checks that a ledger contains a checkpoint known from
// elsewhere and returns a *RollbackError (both sizes and roots) if not.
//
// # Files
//
// The snapshot of size N is the signed tag "vmc/merkle/<N>" (TagName) on
// the ledger commit of seq N-1, whose message is the signed checkpoint, plus
// the file "merkle-<N>.json" (SnapshotFileName):
//
//	{"algorithm": "rfc6962-sha256", "root": "<hex>", "leaf_count": N,
//	 "head_blake3": "<hex blake3 of receipt N-1>", "created_at": "<RFC 3339 UTC>",
//	 "kid": "<signer kid>", "checkpoint": "<signed note text>"}
//
// Proof files, checkable offline with only the proof, the receipt bytes and
// a signed checkpoint (CheckOffline, CheckConsistencyOffline):
//
//	{"algorithm", "index", "tree_size", "leaf_hash", "hashes", "root"}   InclusionProof
//	{"algorithm", "size1", "size2", "root1", "root2", "hashes"}          ConsistencyProof
//
// All parsers are strict: unknown fields, trailing data, malformed hashes
// and another algorithm are errors.
//
// The state cache ({"v":1, "algorithm", "range": {"size", "nodes"},
// "last_leaf", "head_blake3"}) is written atomically by State.Save (temp
// file, fsync, rename, fsync of the directory). It is untrusted: see State
// for the checks the ledger must make before using it.
//
// # Example
//
// Three receipts r0, r1, r2 give leaves L0..L2 = LeafHash(ri) and
// root = NodeHash(NodeHash(L0, L1), L2). The compact range at size 3 is
// [NodeHash(L0, L1), L2]. The inclusion proof of leaf 2 is
// [NodeHash(L0, L1)]; the consistency proof from size 2 to 3 is [L2].
// The runnable Example shows the same with real bytes.
package merkle
