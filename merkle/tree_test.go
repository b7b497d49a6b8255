package merkle

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func testLeaves(n int) []Hash {
	leaves := make([]Hash, n)
	for i := range leaves {
		leaves[i] = LeafHash(testData(i))
	}
	return leaves
}

// RFC 6962 §2.1 by its recursive definition, as an independent oracle.
func mth(leaves []Hash) Hash {
	switch len(leaves) {
	case 0:
		return EmptyRoot
	case 1:
		return leaves[0]
	}
	k := split(uint64(len(leaves)))
	return NodeHash(mth(leaves[:k]), mth(leaves[k:]))
}

func TestHashFunctions(t *testing.T) {
	// Known answers: SHA-256("") and the RFC 6962 hash of an empty leaf.
	if got, want := EmptyRoot.String(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"; got != want {
		t.Errorf("EmptyRoot = %s, want %s", got, want)
	}
	if got, want := LeafHash(nil).String(), "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"; got != want {
		t.Errorf("LeafHash(empty) = %s, want %s", got, want)
	}
	l, r := LeafHash([]byte("a")), LeafHash([]byte("b"))
	if NodeHash(l, r) == NodeHash(r, l) {
		t.Error("NodeHash is symmetric")
	}
	if LeafHash(append(l[:], r[:]...)) == NodeHash(l, r) {
		t.Error("leaf and node hashes are not domain-separated")
	}
}

func TestRootOfMatchesDefinition(t *testing.T) {
	leaves := testLeaves(600)
	for n := 0; n <= len(leaves); n++ {
		if got, want := RootOf(leaves[:n]), mth(leaves[:n]); got != want {
			t.Fatalf("size %d: RootOf = %s, definition = %s", n, got, want)
		}
	}
}

func TestRangeAppend(t *testing.T) {
	leaves := testLeaves(1100)
	var r Range
	if r.Root() != EmptyRoot {
		t.Fatal("empty range root is not EmptyRoot")
	}
	for n := 1; n <= len(leaves); n++ {
		r.Append(leaves[n-1])
		if err := r.Check(); err != nil {
			t.Fatalf("size %d: %v", n, err)
		}
		if got, want := r.Root(), RootOf(leaves[:n]); got != want {
			t.Fatalf("size %d: Range.Root = %s, RootOf = %s", n, got, want)
		}
		if n%97 == 0 || n < 70 {
			built := RangeOf(leaves[:n])
			if built.Size != r.Size || !equalHashes(built.Nodes, r.Nodes) {
				t.Fatalf("size %d: RangeOf = %+v, appended = %+v", n, built, r)
			}
		}
	}
	c := r.Clone()
	c.Append(leaves[0])
	if c.Size == r.Size || c.Root() == r.Root() {
		t.Fatal("Clone shares state with the original")
	}
}

func equalHashes(a, b []Hash) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRangeJSON(t *testing.T) {
	leaves := testLeaves(300)
	for _, n := range []int{0, 1, 2, 3, 7, 8, 255, 300} {
		r := RangeOf(leaves[:n])
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var back Range
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("size %d: %v\n%s", n, err, b)
		}
		if back.Size != r.Size || !equalHashes(back.Nodes, r.Nodes) || back.Root() != RootOf(leaves[:n]) {
			t.Fatalf("size %d: round trip changed the range: %s", n, b)
		}
		b2, _ := json.Marshal(back)
		if string(b2) != string(b) {
			t.Fatalf("size %d: re-encoding differs:\n%s\n%s", n, b, b2)
		}
	}
	h := LeafHash(nil).String()
	for _, bad := range []string{
		`{"size":3,"nodes":["` + h + `"]}`,                  // too few nodes
		`{"size":2,"nodes":["` + h + `","` + h + `"]}`,      // too many nodes
		`{"size":1,"nodes":["` + strings.ToUpper(h) + `"]}`, // upper-case hex
		`{"size":1,"nodes":["` + h + `"],"extra":1}`,        // unknown field
		`{"size":-1,"nodes":[]}`,
		`{"size":0,"nodes":[]} {}`,
	} {
		var r Range
		if err := json.Unmarshal([]byte(bad), &r); err == nil {
			t.Errorf("Unmarshal(%s) accepted", bad)
		}
	}
}

// TestProofsAllSizes generates and verifies every inclusion and consistency
// proof for sizes up to 70 against the recursive definition.
func TestProofsAllSizes(t *testing.T) {
	leaves := testLeaves(70)
	for size := uint64(1); size <= uint64(len(leaves)); size++ {
		root := mth(leaves[:size])
		for i := uint64(0); i < size; i++ {
			p, err := ProveInclusion(leaves, i, size)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyInclusion(leaves[i], i, size, p, root); err != nil {
				t.Fatal(err)
			}
		}
		for s1 := uint64(1); s1 <= size; s1++ {
			p, err := ProveConsistency(leaves, s1, size)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyConsistency(s1, size, mth(leaves[:s1]), root, p); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestProveErrors(t *testing.T) {
	leaves := testLeaves(10)
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"index = size", func() error { _, err := ProveInclusion(leaves, 10, 10); return err }(), ErrIndexOutOfRange},
		{"size 0", func() error { _, err := ProveInclusion(leaves, 0, 0); return err }(), ErrEmptyTree},
		{"size > leaves", func() error { _, err := ProveInclusion(leaves, 0, 11); return err }(), ErrTooFewLeaves},
		{"size1 > size2", func() error { _, err := ProveConsistency(leaves, 5, 4); return err }(), ErrSizeOrder},
		{"size1 = 0", func() error { _, err := ProveConsistency(leaves, 0, 4); return err }(), ErrEmptyTree},
		{"size2 > leaves", func() error { _, err := ProveConsistency(leaves, 1, 11); return err }(), ErrTooFewLeaves},
	} {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, tc.err, tc.want)
		}
	}
}

// probe is one corrupted proof and the error class it must produce.
type probe struct {
	name string
	err  error
	want error
}

// checkProbes checks that each probe fails with its error class and that
// the messages of the different classes are distinct.
func checkProbes(t *testing.T, probes []probe) {
	t.Helper()
	byClass := map[string]string{}
	for _, p := range probes {
		if p.err == nil {
			t.Errorf("%s: accepted", p.name)
			continue
		}
		if !errors.Is(p.err, p.want) {
			t.Errorf("%s: err = %v, want %v", p.name, p.err, p.want)
		}
		if msg := p.err.Error(); msg != strings.ToLower(msg[:1])+msg[1:] {
			t.Errorf("%s: error not lower-case: %q", p.name, msg)
		}
		byClass[p.want.Error()] = p.err.Error()
	}
	seen := map[string]string{}
	for class, msg := range byClass {
		if other, ok := seen[msg]; ok {
			t.Errorf("classes %q and %q give the same message %q", class, other, msg)
		}
		seen[msg] = class
	}
}

func flipBit(hs []Hash, i, bit int) []Hash {
	out := append([]Hash(nil), hs...)
	out[i][bit/8] ^= 1 << (bit % 8)
	return out
}

func TestInclusionNegative(t *testing.T) {
	leaves := testLeaves(21)
	const size, index = 21, 13
	root := RootOf(leaves[:size])
	proof, err := ProveInclusion(leaves, index, size)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyInclusion(leaves[index], index, size, proof, root); err != nil {
		t.Fatal(err)
	}
	var probes []probe
	// Every bit of every proof hash, of the leaf and of the root.
	for i := range proof {
		for bit := 0; bit < 8*HashSize; bit++ {
			probes = append(probes, probe{"flipped proof bit", VerifyInclusion(leaves[index], index, size, flipBit(proof, i, bit), root), ErrRootMismatch})
		}
	}
	for bit := 0; bit < 8*HashSize; bit++ {
		leaf := flipBit([]Hash{leaves[index]}, 0, bit)[0]
		r := flipBit([]Hash{root}, 0, bit)[0]
		probes = append(probes,
			probe{"flipped leaf bit", VerifyInclusion(leaf, index, size, proof, root), ErrRootMismatch},
			probe{"flipped root bit", VerifyInclusion(leaves[index], index, size, proof, r), ErrRootMismatch})
	}
	// Reordered hashes.
	for i := 0; i+1 < len(proof); i++ {
		sw := append([]Hash(nil), proof...)
		sw[i], sw[i+1] = sw[i+1], sw[i]
		probes = append(probes, probe{"swapped hashes", VerifyInclusion(leaves[index], index, size, sw, root), ErrRootMismatch})
	}
	probes = append(probes,
		probe{"truncated", VerifyInclusion(leaves[index], index, size, proof[:len(proof)-1], root), ErrProofLength},
		probe{"empty", VerifyInclusion(leaves[index], index, size, nil, root), ErrProofLength},
		probe{"extended", VerifyInclusion(leaves[index], index, size, append(append([]Hash(nil), proof...), root), root), ErrProofLength},
		probe{"index+1", VerifyInclusion(leaves[index], index+1, size, proof, root), ErrRootMismatch},
		probe{"index-1", VerifyInclusion(leaves[index], index-1, size, proof, root), ErrRootMismatch},
		probe{"index = size", VerifyInclusion(leaves[index], size, size, proof, root), ErrIndexOutOfRange},
		probe{"index huge", VerifyInclusion(leaves[index], ^uint64(0), size, proof, root), ErrIndexOutOfRange},
		probe{"size 0", VerifyInclusion(leaves[index], 0, 0, nil, root), ErrEmptyTree},
		probe{"size 16", VerifyInclusion(leaves[index], index, 16, proof, root), ErrProofLength},
		probe{"size 14 (same length)", VerifyInclusion(leaves[index], index, 14, proof[:3], root), ErrRootMismatch},
		probe{"size*2", VerifyInclusion(leaves[index], index, 2*size, proof, root), ErrProofLength},
		probe{"other leaf", VerifyInclusion(leaves[index-1], index, size, proof, root), ErrRootMismatch},
	)
	checkProbes(t, probes)
}

// TestInclusionSizeBinding documents an RFC 6962 property: a proof does not
// bind the tree size by itself. Leaf 13's path is the same in every tree of
// 17..32 leaves, so the proof for size 21 also "verifies" for size 20 with
// the root of size 21. Only a signed checkpoint, which binds size and root
// together, rules this out; CheckOffline compares the two sizes for that
// reason (TestCheckOfflineNegative covers it).
func TestInclusionSizeBinding(t *testing.T) {
	leaves := testLeaves(21)
	root := RootOf(leaves)
	proof, err := ProveInclusion(leaves, 13, 21)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyInclusion(leaves[13], 13, 20, proof, root); err != nil {
		t.Fatalf("expected the RFC 6962 verifier to accept (size is bound by the checkpoint, not the proof): %v", err)
	}
}

func TestConsistencyNegative(t *testing.T) {
	leaves := testLeaves(37)
	const size1, size2 = 11, 37
	root1, root2 := RootOf(leaves[:size1]), RootOf(leaves[:size2])
	proof, err := ProveConsistency(leaves, size1, size2)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyConsistency(size1, size2, root1, root2, proof); err != nil {
		t.Fatal(err)
	}
	var probes []probe
	for i := range proof {
		for bit := 0; bit < 8*HashSize; bit++ {
			probes = append(probes, probe{"flipped proof bit", VerifyConsistency(size1, size2, root1, root2, flipBit(proof, i, bit)), ErrRootMismatch})
		}
	}
	for bit := 0; bit < 8*HashSize; bit += 7 {
		r1 := flipBit([]Hash{root1}, 0, bit)[0]
		r2 := flipBit([]Hash{root2}, 0, bit)[0]
		probes = append(probes,
			probe{"flipped root1 bit", VerifyConsistency(size1, size2, r1, root2, proof), ErrRootMismatch},
			probe{"flipped root2 bit", VerifyConsistency(size1, size2, root1, r2, proof), ErrRootMismatch})
	}
	probes = append(probes,
		probe{"truncated", VerifyConsistency(size1, size2, root1, root2, proof[:len(proof)-1]), ErrProofLength},
		probe{"extended", VerifyConsistency(size1, size2, root1, root2, append(append([]Hash(nil), proof...), root1)), ErrProofLength},
		probe{"swapped roots", VerifyConsistency(size1, size2, root2, root1, proof), ErrRootMismatch},
		probe{"size1 > size2", VerifyConsistency(size2, size1, root2, root1, proof), ErrSizeOrder},
		probe{"size1 = 0", VerifyConsistency(0, size2, EmptyRoot, root2, nil), ErrEmptyTree},
		probe{"size1+1", VerifyConsistency(size1+1, size2, root1, root2, proof), ErrProofLength},
		probe{"size1-2 (same length)", VerifyConsistency(size1-2, size2, root1, root2, proof), ErrRootMismatch},
		probe{"size2 = 32", VerifyConsistency(size1, 32, root1, root2, proof), ErrProofLength},
		probe{"equal sizes, proof not empty", VerifyConsistency(size1, size1, root1, root1, proof), ErrProofLength},
		probe{"equal sizes, roots differ", VerifyConsistency(size2, size2, root1, root2, nil), ErrRootMismatch},
	)
	checkProbes(t, probes)
	// Root1 and root2 mismatches are told apart.
	e1 := VerifyConsistency(size1, size2, root2, root2, proof)
	e2 := VerifyConsistency(size1, size2, root1, root1, proof)
	if e1 == nil || e2 == nil || !strings.Contains(e1.Error(), "root1") || !strings.Contains(e2.Error(), "root2") {
		t.Errorf("root1/root2 mismatch errors do not say which root: %v / %v", e1, e2)
	}
}
