package merkle

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/vmc-git/vmc-git/internal/fsutil"
)

// Names of snapshot artifacts (DESIGN §6).
const (
	// TagPrefix starts the name of the signed annotated tag of a snapshot:
	// "vmc/merkle/<N>" on the ledger commit of seq N-1.
	TagPrefix = "vmc/merkle/"
	// SnapshotFilePrefix and SnapshotFileSuffix frame the snapshot file
	// name "merkle-<N>.json".
	SnapshotFilePrefix = "merkle-"
	SnapshotFileSuffix = ".json"
)

// TagName returns the snapshot tag name for a tree of size n.
func TagName(n uint64) string { return TagPrefix + strconv.FormatUint(n, 10) }

// MaxTagSizeDigits bounds the digits of a snapshot size: 20 digits hold
// every uint64.
const MaxTagSizeDigits = 20

// ParseTagName is the one parser of snapshot tag names, used by the hook,
// verify and every reader: name is "vmc/merkle/<N>" (or the full ref
// "refs/tags/vmc/merkle/<N>"), N in decimal with no sign and no leading
// zeros, 0 < N < 2^64. The caller checks N against the ledger's length.
func ParseTagName(name string) (uint64, error) {
	s, ok := strings.CutPrefix(strings.TrimPrefix(name, "refs/tags/"), TagPrefix)
	bad := func(why string) (uint64, error) {
		if len(name) > 80 {
			name = name[:80] + "…"
		}
		return 0, fmt.Errorf("snapshot tag name %q: %s (want %s<N>, N a decimal size > 0 without leading zeros)", name, why, TagPrefix)
	}
	switch {
	case !ok:
		return bad("not under " + TagPrefix)
	case s == "":
		return bad("no size")
	case len(s) > MaxTagSizeDigits:
		return bad("size too long")
	case strings.Trim(s, "0123456789") != "":
		return bad("size not decimal")
	case s[0] == '0':
		return bad("leading zero")
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return bad("size overflows 64 bits")
	}
	return n, nil
}

// SnapshotFileName returns "merkle-<n>.json".
func SnapshotFileName(n uint64) string {
	return SnapshotFilePrefix + strconv.FormatUint(n, 10) + SnapshotFileSuffix
}

// A Snapshot is the content of merkle-<N>.json: the root of the tree over
// receipts 0..N-1 and the signed checkpoint that commits to it.
type Snapshot struct {
	Algorithm  string `json:"algorithm"`   // always Algorithm
	Root       Hash   `json:"root"`        // tree root, hex
	LeafCount  uint64 `json:"leaf_count"`  // N
	HeadBlake3 string `json:"head_blake3"` // blake3 of receipt N-1, hex
	CreatedAt  string `json:"created_at"`  // RFC 3339 UTC
	KID        string `json:"kid"`         // key id of the checkpoint signer
	Checkpoint string `json:"checkpoint"`  // signed note text (SignCheckpoint output)
}

// Marshal returns the snapshot file bytes: indented JSON and a final newline.
func (s Snapshot) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// ParseSnapshot decodes a snapshot file strictly (unknown fields and
// trailing data are errors) and checks the algorithm. It does not verify the
// checkpoint; see Snapshot.Verify.
func ParseSnapshot(data []byte) (Snapshot, error) {
	var s Snapshot
	if err := decodeStrict(data, &s); err != nil {
		return Snapshot{}, fmt.Errorf("snapshot: %w", err)
	}
	if err := checkAlgorithm(s.Algorithm); err != nil {
		return Snapshot{}, fmt.Errorf("snapshot: %w", err)
	}
	return s, nil
}

// Verify opens the embedded checkpoint with the known verifiers and checks
// that it commits to the snapshot's leaf count and root.
func (s Snapshot) Verify(known note.Verifiers) (Checkpoint, error) {
	if err := checkAlgorithm(s.Algorithm); err != nil {
		return Checkpoint{}, fmt.Errorf("snapshot %d: %w", s.LeafCount, err)
	}
	c, _, err := OpenCheckpoint([]byte(s.Checkpoint), known)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("snapshot %d: %w", s.LeafCount, err)
	}
	if c.Size != s.LeafCount {
		return Checkpoint{}, fmt.Errorf("snapshot %d: checkpoint size %d differs from leaf_count", s.LeafCount, c.Size)
	}
	if c.Root != s.Root {
		return Checkpoint{}, fmt.Errorf("snapshot %d: checkpoint root %s differs from root %s", s.LeafCount, c.Root, s.Root)
	}
	return c, nil
}

func checkAlgorithm(alg string) error {
	if alg != Algorithm {
		return fmt.Errorf("algorithm %q, want %q", abbrev(alg), Algorithm)
	}
	return nil
}

// An InclusionProof is a self-contained proof file: leaf Index with hash
// LeafHash is in the tree of Size leaves with root Root.
type InclusionProof struct {
	Algorithm string `json:"algorithm"`
	Index     uint64 `json:"index"`
	Size      uint64 `json:"tree_size"`
	LeafHash  Hash   `json:"leaf_hash"`
	Hashes    []Hash `json:"hashes"`
	Root      Hash   `json:"root"`
}

// Verify checks the proof against its own root (VerifyInclusion).
func (p InclusionProof) Verify() error {
	if err := checkAlgorithm(p.Algorithm); err != nil {
		return fmt.Errorf("inclusion proof: %w", err)
	}
	return VerifyInclusion(p.LeafHash, p.Index, p.Size, p.Hashes, p.Root)
}

// Marshal returns the proof file bytes: indented JSON and a final newline.
// An empty proof is written as "hashes": [].
func (p InclusionProof) Marshal() ([]byte, error) {
	if p.Hashes == nil {
		p.Hashes = []Hash{}
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// ParseInclusionProof decodes a proof file strictly (unknown fields, trailing
// data, malformed hashes and a wrong algorithm are errors). It does not
// verify the proof.
func ParseInclusionProof(data []byte) (InclusionProof, error) {
	var p InclusionProof
	if err := decodeStrict(data, &p); err != nil {
		return InclusionProof{}, fmt.Errorf("inclusion proof file: %w", err)
	}
	if err := checkAlgorithm(p.Algorithm); err != nil {
		return InclusionProof{}, fmt.Errorf("inclusion proof file: %w", err)
	}
	if len(p.Hashes) == 0 {
		p.Hashes = nil
	}
	return p, nil
}

// A ConsistencyProof is a self-contained proof file: the tree of Size1
// leaves with root Root1 is a prefix of the tree of Size2 leaves with Root2.
type ConsistencyProof struct {
	Algorithm string `json:"algorithm"`
	Size1     uint64 `json:"size1"`
	Size2     uint64 `json:"size2"`
	Root1     Hash   `json:"root1"`
	Root2     Hash   `json:"root2"`
	Hashes    []Hash `json:"hashes"`
}

// Verify checks the proof against its own roots (VerifyConsistency).
func (p ConsistencyProof) Verify() error {
	if err := checkAlgorithm(p.Algorithm); err != nil {
		return fmt.Errorf("consistency proof: %w", err)
	}
	return VerifyConsistency(p.Size1, p.Size2, p.Root1, p.Root2, p.Hashes)
}

// Marshal returns the proof file bytes: indented JSON and a final newline.
func (p ConsistencyProof) Marshal() ([]byte, error) {
	if p.Hashes == nil {
		p.Hashes = []Hash{}
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// ParseConsistencyProof decodes a proof file strictly, like
// ParseInclusionProof. It does not verify the proof.
func ParseConsistencyProof(data []byte) (ConsistencyProof, error) {
	var p ConsistencyProof
	if err := decodeStrict(data, &p); err != nil {
		return ConsistencyProof{}, fmt.Errorf("consistency proof file: %w", err)
	}
	if err := checkAlgorithm(p.Algorithm); err != nil {
		return ConsistencyProof{}, fmt.Errorf("consistency proof file: %w", err)
	}
	if len(p.Hashes) == 0 {
		p.Hashes = nil
	}
	return p, nil
}

// CheckOffline checks an inclusion proof file with nothing but the receipt
// bytes, a signed checkpoint and the trusted checkpoint keys. In order, it
// checks that: the proof file parses; SHA-256(0x00 || receipt) equals the
// proof's leaf_hash; the checkpoint is signed by a known key and parses; the
// checkpoint size equals the proof's tree_size; the proof's root equals the
// checkpoint root; and the proof leads from the leaf to that root. The first
// failure is returned. The caller checks the checkpoint origin.
func CheckOffline(proofJSON, receipt, signedCheckpoint []byte, known note.Verifiers) error {
	p, err := ParseInclusionProof(proofJSON)
	if err != nil {
		return fmt.Errorf("offline check: %w", err)
	}
	if h := LeafHash(receipt); h != p.LeafHash {
		return fmt.Errorf("offline check: receipt does not match the proof: receipt leaf hash %s, proof leaf_hash %s", h, p.LeafHash)
	}
	c, _, err := OpenCheckpoint(signedCheckpoint, known)
	if err != nil {
		return fmt.Errorf("offline check: %w", err)
	}
	if c.Size != p.Size {
		return fmt.Errorf("offline check: checkpoint size %d differs from proof tree_size %d", c.Size, p.Size)
	}
	if c.Root != p.Root {
		return fmt.Errorf("offline check: proof root %s differs from checkpoint root %s", p.Root, c.Root)
	}
	if err := VerifyInclusion(p.LeafHash, p.Index, p.Size, p.Hashes, c.Root); err != nil {
		return fmt.Errorf("offline check: %w", err)
	}
	return nil
}

// CheckConsistencyOffline checks a consistency proof file against two signed
// checkpoints (old and new) and the trusted keys: both checkpoints verify,
// have the same origin, their sizes and roots equal the proof's, and the
// proof verifies.
func CheckConsistencyOffline(proofJSON, signedCheckpoint1, signedCheckpoint2 []byte, known note.Verifiers) error {
	p, err := ParseConsistencyProof(proofJSON)
	if err != nil {
		return fmt.Errorf("offline check: %w", err)
	}
	c1, _, err := OpenCheckpoint(signedCheckpoint1, known)
	if err != nil {
		return fmt.Errorf("offline check: old %w", err)
	}
	c2, _, err := OpenCheckpoint(signedCheckpoint2, known)
	if err != nil {
		return fmt.Errorf("offline check: new %w", err)
	}
	if c1.Origin != c2.Origin {
		return fmt.Errorf("offline check: checkpoint origins differ: %q and %q", c1.Origin, c2.Origin)
	}
	if c1.Size != p.Size1 || c2.Size != p.Size2 {
		return fmt.Errorf("offline check: checkpoint sizes %d and %d differ from proof sizes %d and %d", c1.Size, c2.Size, p.Size1, p.Size2)
	}
	if c1.Root != p.Root1 || c2.Root != p.Root2 {
		return fmt.Errorf("offline check: proof roots %s, %s differ from checkpoint roots %s, %s", p.Root1, p.Root2, c1.Root, c2.Root)
	}
	if err := VerifyConsistency(c1.Size, c2.Size, c1.Root, c2.Root, p.Hashes); err != nil {
		return fmt.Errorf("offline check: %w", err)
	}
	return nil
}

// StateVersion is the version of the state cache file format.
const StateVersion = 1

// A State is a local cache that lets the next snapshot be computed from the
// previous one in O(k) for k new receipts instead of O(N): the compact range
// of the first Range.Size leaves, the last of those leaf hashes and the
// blake3 of that receipt.
//
// The cache is untrusted. Before using it the ledger MUST:
//  1. call Check with the leaf hash and blake3 of the receipt at
//     seq Range.Size-1 read from the verified chain (this proves the cache
//     belongs to this chain and this length), and
//  2. call CheckRoot with the verified checkpoint of the snapshot of size
//     Range.Size (this proves the Nodes themselves: a wrong node changes the
//     root). If no snapshot of that size exists, it must recompute the range
//     from the receipts (RangeOf) instead of trusting it.
//
// Check alone is not enough: it pins the last leaf, not the other nodes.
// If either check fails, discard the file and rebuild.
type State struct {
	Range      Range
	LastLeaf   Hash
	HeadBlake3 string
}

// stateFile is the on-disk form of State.
type stateFile struct {
	V          int    `json:"v"`
	Algorithm  string `json:"algorithm"`
	Range      Range  `json:"range"`
	LastLeaf   Hash   `json:"last_leaf"`
	HeadBlake3 string `json:"head_blake3"`
}

// Advance appends the leaf hash of the next receipt, whose blake3 is headBlake3.
func (s *State) Advance(leaf Hash, headBlake3 string) {
	s.Range.Append(leaf)
	s.LastLeaf = leaf
	s.HeadBlake3 = headBlake3
}

// Check verifies the state's own shape and that it ends at the given
// receipt: leaf must be the leaf hash, and headBlake3 the blake3, of the
// receipt at seq Range.Size-1 as read from the verified chain.
func (s State) Check(leaf Hash, headBlake3 string) error {
	if err := s.Range.Check(); err != nil {
		return fmt.Errorf("merkle state: %w", err)
	}
	if s.Range.Size == 0 {
		return errors.New("merkle state: empty range, nothing to check against")
	}
	if s.LastLeaf != leaf {
		return fmt.Errorf("merkle state at size %d: last leaf %s, receipt %d has leaf hash %s", s.Range.Size, s.LastLeaf, s.Range.Size-1, leaf)
	}
	if s.HeadBlake3 != headBlake3 {
		return fmt.Errorf("merkle state at size %d: head_blake3 %s, receipt %d has blake3 %s", s.Range.Size, s.HeadBlake3, s.Range.Size-1, headBlake3)
	}
	return nil
}

// CheckRoot verifies that the state's range has the size and root of c, a
// checkpoint the caller has already verified.
func (s State) CheckRoot(c Checkpoint) error {
	if err := s.Range.Check(); err != nil {
		return fmt.Errorf("merkle state: %w", err)
	}
	if s.Range.Size != c.Size {
		return fmt.Errorf("merkle state: size %d, checkpoint size %d", s.Range.Size, c.Size)
	}
	if r := s.Range.Root(); r != c.Root {
		return fmt.Errorf("merkle state at size %d: root %s, checkpoint root %s", s.Range.Size, r, c.Root)
	}
	return nil
}

// MarshalJSON encodes the state file form
// {"v":1,"algorithm":...,"range":...,"last_leaf":...,"head_blake3":...}.
func (s State) MarshalJSON() ([]byte, error) {
	return json.Marshal(stateFile{V: StateVersion, Algorithm: Algorithm, Range: s.Range, LastLeaf: s.LastLeaf, HeadBlake3: s.HeadBlake3})
}

// UnmarshalJSON decodes the state file form strictly and checks version,
// algorithm and range shape. On error s is left unchanged.
func (s *State) UnmarshalJSON(data []byte) error {
	var f stateFile
	if err := decodeStrict(data, &f); err != nil {
		return fmt.Errorf("merkle state: %w", err)
	}
	if f.V != StateVersion {
		return fmt.Errorf("merkle state: version %d, want %d", f.V, StateVersion)
	}
	if err := checkAlgorithm(f.Algorithm); err != nil {
		return fmt.Errorf("merkle state: %w", err)
	}
	*s = State{Range: f.Range, LastLeaf: f.LastLeaf, HeadBlake3: f.HeadBlake3}
	return nil
}

// LoadState reads a state file written by Save. The result is well formed
// but not yet trusted; see State.
func LoadState(path string) (State, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return State{}, fmt.Errorf("merkle state: %w", err)
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		return State{}, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// Save writes the state to path atomically: a temporary file in the same
// directory is written, fsynced and renamed over path, and the directory is
// fsynced. When Save returns nil the new state is durable; on error the old
// file (if any) is intact.
func (s State) Save(path string) error {
	data, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("merkle state: %w", err)
	}
	if err := fsutil.WriteFileAtomic(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("merkle state: %w", err)
	}
	return nil
}
