package merkle

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestHashTextRoundTrip(t *testing.T) {
	for _, h := range []Hash{{}, EmptyRoot, LeafHash([]byte("x"))} {
		back, err := ParseHash(h.String())
		if err != nil || back != h {
			t.Fatalf("ParseHash(%s) = %s, %v", h, back, err)
		}
		b, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != `"`+h.String()+`"` {
			t.Fatalf("MarshalJSON = %s", b)
		}
		var j Hash
		if err := json.Unmarshal(b, &j); err != nil || j != h {
			t.Fatalf("UnmarshalJSON(%s) = %s, %v", b, j, err)
		}
	}
	good := EmptyRoot.String()
	for _, bad := range []string{"", good[:63], good + "0", strings.ToUpper(good), good[:63] + "g", " " + good[1:]} {
		if _, err := ParseHash(bad); err == nil {
			t.Errorf("ParseHash(%q) accepted", bad)
		}
	}
	// A failed decode leaves the target unchanged.
	h := EmptyRoot
	for _, bad := range []string{`"` + good[:62] + `"`, `42`, `null`, `"` + strings.ToUpper(good) + `"`} {
		if err := json.Unmarshal([]byte(bad), &h); err == nil && bad != "null" {
			t.Errorf("UnmarshalJSON(%s) accepted", bad)
		}
		if h != EmptyRoot {
			t.Fatalf("UnmarshalJSON(%s) modified the hash on error", bad)
		}
	}
}

// offlineFixture is a small ledger: receipts, a signed checkpoint and a proof.
type offlineFixture struct {
	receipts [][]byte
	leaves   []Hash
	key      testKey
	ckpt     Checkpoint
	signed   []byte
	index    uint64
	proof    InclusionProof
	file     []byte
}

func newOfflineFixture(t *testing.T) offlineFixture {
	f := offlineFixture{key: newTestKey(t, testOrigin), index: 9}
	for i := range 23 {
		f.receipts = append(f.receipts, testData(i))
		f.leaves = append(f.leaves, LeafHash(testData(i)))
	}
	size := uint64(len(f.leaves))
	f.ckpt = Checkpoint{Origin: testOrigin, Size: size, Root: RootOf(f.leaves)}
	var err error
	if f.signed, err = SignCheckpoint(f.ckpt, f.key.signer); err != nil {
		t.Fatal(err)
	}
	hs, err := ProveInclusion(f.leaves, f.index, size)
	if err != nil {
		t.Fatal(err)
	}
	f.proof = InclusionProof{Algorithm: Algorithm, Index: f.index, Size: size, LeafHash: f.leaves[f.index], Hashes: hs, Root: f.ckpt.Root}
	if f.file, err = f.proof.Marshal(); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestProofFilesRoundTrip(t *testing.T) {
	f := newOfflineFixture(t)
	p, err := ParseInclusionProof(f.file)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p, f.proof) {
		t.Fatalf("inclusion round trip: %+v != %+v", p, f.proof)
	}
	if err := p.Verify(); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(f.file, &m)
	for _, k := range []string{"algorithm", "index", "tree_size", "leaf_hash", "hashes", "root"} {
		if _, ok := m[k]; !ok {
			t.Errorf("inclusion proof file lacks %q: %s", k, f.file)
		}
	}

	hs, err := ProveConsistency(f.leaves, 5, 23)
	if err != nil {
		t.Fatal(err)
	}
	cp := ConsistencyProof{Algorithm: Algorithm, Size1: 5, Size2: 23, Root1: RootOf(f.leaves[:5]), Root2: f.ckpt.Root, Hashes: hs}
	b, err := cp.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseConsistencyProof(b)
	if err != nil || !reflect.DeepEqual(back, cp) {
		t.Fatalf("consistency round trip: %+v, %v", back, err)
	}
	if err := back.Verify(); err != nil {
		t.Fatal(err)
	}
	m = nil
	json.Unmarshal(b, &m)
	for _, k := range []string{"algorithm", "size1", "size2", "root1", "root2", "hashes"} {
		if _, ok := m[k]; !ok {
			t.Errorf("consistency proof file lacks %q: %s", k, b)
		}
	}

	// An empty proof is written as [] and reads back as nil.
	eq := ConsistencyProof{Algorithm: Algorithm, Size1: 3, Size2: 3, Root1: EmptyRoot, Root2: EmptyRoot}
	b, _ = eq.Marshal()
	if !bytes.Contains(b, []byte(`"hashes": []`)) {
		t.Errorf("empty proof not written as []: %s", b)
	}
	if back, err := ParseConsistencyProof(b); err != nil || !reflect.DeepEqual(back, eq) {
		t.Errorf("empty consistency proof round trip: %+v, %v", back, err)
	}

	for name, bad := range map[string]string{
		"unknown field":   strings.Replace(string(f.file), `"index"`, `"indexx"`, 1),
		"wrong algorithm": strings.Replace(string(f.file), Algorithm, "rfc6962-sha512", 1),
		"trailing data":   string(f.file) + "{}",
		"bad hash":        strings.Replace(string(f.file), f.proof.Root.String(), f.proof.Root.String()[:60], 1),
		"not json":        "index: 9",
	} {
		if _, err := ParseInclusionProof([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestCheckOffline(t *testing.T) {
	f := newOfflineFixture(t)
	if err := CheckOffline(f.file, f.receipts[f.index], f.signed, f.key.verifiers()); err != nil {
		t.Fatal(err)
	}
}

func TestCheckOfflineNegative(t *testing.T) {
	f := newOfflineFixture(t)
	other := newTestKey(t, testOrigin)
	receipt := f.receipts[f.index]
	withProof := func(edit func(p *InclusionProof)) []byte {
		p := f.proof
		p.Hashes = append([]Hash(nil), p.Hashes...)
		edit(&p)
		b, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	sign := func(c Checkpoint, k testKey) []byte {
		b, err := SignCheckpoint(c, k.signer)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	smaller := Checkpoint{Origin: testOrigin, Size: 22, Root: RootOf(f.leaves[:22])}
	wrongRoot := f.ckpt
	wrongRoot.Root = EmptyRoot

	cases := []struct {
		name                 string
		proof, receipt, ckpt []byte
		want                 string
	}{
		{"malformed proof file", f.file[:len(f.file)/2], receipt, f.signed, "inclusion proof file:"},
		{"other receipt", f.file, f.receipts[f.index+1], f.signed, "receipt does not match the proof"},
		{"receipt with extra byte", f.file, append(append([]byte(nil), receipt...), ' '), f.signed, "receipt does not match the proof"},
		{"checkpoint by other key", f.file, receipt, sign(f.ckpt, other), "no signature by a known key"},
		{"checkpoint tampered", f.file, receipt, bytes.Replace(f.signed, []byte("\n23\n"), []byte("\n24\n"), 1), "invalid signature"},
		{"checkpoint size mismatch", f.file, receipt, sign(smaller, f.key), "checkpoint size 22 differs from proof tree_size 23"},
		{"checkpoint root mismatch", f.file, receipt, sign(wrongRoot, f.key), "differs from checkpoint root"},
		{"proof hash flipped", withProof(func(p *InclusionProof) { p.Hashes[1][0] ^= 1 }), receipt, f.signed, "inclusion proof for leaf 9 in tree size 23: root mismatch"},
		{"proof truncated", withProof(func(p *InclusionProof) { p.Hashes = p.Hashes[1:] }), receipt, f.signed, "wrong proof length"},
		{"proof extended", withProof(func(p *InclusionProof) { p.Hashes = append(p.Hashes, EmptyRoot) }), receipt, f.signed, "wrong proof length"},
		{"wrong index", withProof(func(p *InclusionProof) { p.Index = 8 }), receipt, f.signed, "inclusion proof for leaf 8 in tree size 23: root mismatch"},
		{"index out of range", withProof(func(p *InclusionProof) { p.Index = 23 }), receipt, f.signed, "index out of range"},
	}
	seen := map[string]string{}
	for _, tc := range cases {
		err := CheckOffline(tc.proof, tc.receipt, tc.ckpt, f.key.verifiers())
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %q, want it to contain %q", tc.name, err, tc.want)
		}
		if prev, ok := seen[err.Error()]; ok && prev != tc.want {
			t.Errorf("%s: same error as a %q case: %q", tc.name, prev, err)
		}
		seen[err.Error()] = tc.want
	}
}

func TestCheckConsistencyOffline(t *testing.T) {
	f := newOfflineFixture(t)
	c1 := Checkpoint{Origin: testOrigin, Size: 6, Root: RootOf(f.leaves[:6])}
	s1, _ := SignCheckpoint(c1, f.key.signer)
	hs, _ := ProveConsistency(f.leaves, 6, 23)
	p := ConsistencyProof{Algorithm: Algorithm, Size1: 6, Size2: 23, Root1: c1.Root, Root2: f.ckpt.Root, Hashes: hs}
	b, _ := p.Marshal()
	if err := CheckConsistencyOffline(b, s1, f.signed, f.key.verifiers()); err != nil {
		t.Fatal(err)
	}
	if err := CheckConsistencyOffline(b, f.signed, s1, f.key.verifiers()); err == nil || !strings.Contains(err.Error(), "sizes") {
		t.Errorf("swapped checkpoints: %v", err)
	}
	c1.Origin = "github.com/evil/fork"
	s1x, _ := SignCheckpoint(c1, f.key.signer)
	if err := CheckConsistencyOffline(b, s1x, f.signed, f.key.verifiers()); err == nil || !strings.Contains(err.Error(), "origins differ") {
		t.Errorf("cross-origin: %v", err)
	}
	p.Hashes[0][3] ^= 0x80
	b, _ = p.Marshal()
	if err := CheckConsistencyOffline(b, s1, f.signed, f.key.verifiers()); !errors.Is(err, ErrRootMismatch) {
		t.Errorf("flipped proof: %v", err)
	}
}

func TestSnapshot(t *testing.T) {
	f := newOfflineFixture(t)
	s := Snapshot{
		Algorithm: Algorithm, Root: f.ckpt.Root, LeafCount: f.ckpt.Size,
		HeadBlake3: strings.Repeat("ab", 32), CreatedAt: "2025-01-02T03:04:05Z",
		KID: "ops@acme", Checkpoint: string(f.signed),
	}
	b, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	for _, k := range []string{"algorithm", "root", "leaf_count", "head_blake3", "created_at", "kid", "checkpoint"} {
		if _, ok := m[k]; !ok {
			t.Errorf("snapshot lacks %q", k)
		}
	}
	if len(m) != 7 {
		t.Errorf("snapshot has %d fields, want 7: %s", len(m), b)
	}
	back, err := ParseSnapshot(b)
	if err != nil || back != s {
		t.Fatalf("round trip: %+v, %v", back, err)
	}
	if c, err := back.Verify(f.key.verifiers()); err != nil || c != f.ckpt {
		t.Fatalf("Verify: %+v, %v", c, err)
	}
	bad := s
	bad.LeafCount++
	if _, err := bad.Verify(f.key.verifiers()); err == nil || !strings.Contains(err.Error(), "differs from leaf_count") {
		t.Errorf("leaf count mismatch: %v", err)
	}
	bad = s
	bad.Root = EmptyRoot
	if _, err := bad.Verify(f.key.verifiers()); err == nil || !strings.Contains(err.Error(), "differs from root") {
		t.Errorf("root mismatch: %v", err)
	}
	if SnapshotFileName(23) != "merkle-23.json" || TagName(23) != "vmc/merkle/23" {
		t.Errorf("names: %s %s", SnapshotFileName(23), TagName(23))
	}
}

func TestStateSaveLoad(t *testing.T) {
	leaves := testLeaves(1001)
	dir := t.TempDir()
	path := filepath.Join(dir, "merkle-state.json")
	var s State
	blake := func(i int) string {
		return strings.Repeat("0", 60) + strings.Repeat(string("0123456789abcdef"[i%16]), 4)
	}
	for i := range 1000 {
		s.Advance(leaves[i], blake(i))
	}
	if err := s.Save(path); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(path); err != nil { // overwrite
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("Save left temporary files: %v", entries)
	}
	got, err := LoadState(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Range.Size != 1000 || !equalHashes(got.Range.Nodes, s.Range.Nodes) || got.LastLeaf != s.LastLeaf || got.HeadBlake3 != s.HeadBlake3 {
		t.Fatalf("round trip changed the state: %+v", got)
	}
	if err := got.Check(leaves[999], blake(999)); err != nil {
		t.Fatal(err)
	}
	ckpt := Checkpoint{Origin: testOrigin, Size: 1000, Root: RootOf(leaves[:1000])}
	if err := got.CheckRoot(ckpt); err != nil {
		t.Fatal(err)
	}
	// Incremental: one more leaf gives the full root.
	got.Advance(leaves[1000], blake(1000))
	if got.Range.Root() != RootOf(leaves) {
		t.Fatal("incremental root differs from full root")
	}

	// The verification contract.
	if err := s.Check(leaves[998], blake(999)); err == nil || !strings.Contains(err.Error(), "last leaf") {
		t.Errorf("wrong last leaf: %v", err)
	}
	if err := s.Check(leaves[999], blake(998)); err == nil || !strings.Contains(err.Error(), "head_blake3") {
		t.Errorf("wrong blake3: %v", err)
	}
	forged := State{Range: s.Range.Clone(), LastLeaf: s.LastLeaf, HeadBlake3: s.HeadBlake3}
	forged.Range.Nodes[0][0] ^= 1
	if err := forged.Check(leaves[999], blake(999)); err != nil {
		t.Errorf("Check looks only at the last leaf, yet failed: %v", err)
	}
	if err := forged.CheckRoot(ckpt); err == nil || !strings.Contains(err.Error(), "checkpoint root") {
		t.Errorf("forged node not caught by CheckRoot: %v", err)
	}
	if err := s.CheckRoot(Checkpoint{Origin: testOrigin, Size: 999, Root: ckpt.Root}); err == nil || !strings.Contains(err.Error(), "checkpoint size") {
		t.Errorf("size mismatch: %v", err)
	}

	// Corrupt files are rejected.
	data, _ := os.ReadFile(path)
	for name, bad := range map[string]string{
		"truncated":     string(data[:len(data)/2]),
		"version":       strings.Replace(string(data), `"v":1`, `"v":2`, 1),
		"algorithm":     strings.Replace(string(data), Algorithm, "sha1", 1),
		"range shape":   strings.Replace(string(data), `"size":1000`, `"size":1001`, 1),
		"unknown field": strings.Replace(string(data), `"v":1`, `"v":1,"x":0`, 1),
	} {
		p := filepath.Join(dir, "bad.json")
		os.WriteFile(p, []byte(bad), 0o644)
		if _, err := LoadState(p); err == nil {
			t.Errorf("%s: LoadState accepted %s", name, bad)
		}
	}
	if _, err := LoadState(filepath.Join(dir, "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestParseTagName: the one snapshot tag-name parser takes only decimal
// sizes without leading zeros that fit 64 bits (18446744073709551619 once
// wrapped around to 3).
func TestParseTagName(t *testing.T) {
	for in, want := range map[string]uint64{"vmc/merkle/1": 1, "refs/tags/vmc/merkle/120": 120,
		"vmc/merkle/18446744073709551615": 18446744073709551615} {
		if n, err := ParseTagName(in); err != nil || n != want {
			t.Errorf("%s: %d %v", in, n, err)
		}
	}
	for in, why := range map[string]string{
		"refs/tags/vmc/merkle/18446744073709551619": "overflows", "vmc/merkle/": "no size", "vmc/merkle/0120": "leading zero",
		"vmc/merkle/0": "leading zero", "vmc/merkle/-1": "not decimal", "vmc/merkle/1e3": "not decimal", "vmc/merkle/ 1": "not decimal",
		"vmc/merkle/123456789012345678901": "too long", "vmc/other/1": "not under", "vmc/merkle/1/2": "not decimal",
	} {
		if _, err := ParseTagName(in); err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("%q: %v, want %q", in, err, why)
		}
	}
}

func FuzzParseTagName(f *testing.F) {
	f.Add("vmc/merkle/42")
	f.Add("refs/tags/vmc/merkle/18446744073709551619")
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseTagName(s)
		if err != nil {
			return
		}
		if n == 0 || TagName(n) != strings.TrimPrefix(s, "refs/tags/") {
			t.Fatalf("%q parsed as %d", s, n)
		}
	})
}
