package merkle

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// tlogTree is a golang.org/x/mod/sumdb/tlog tree kept in memory: the
// reference implementation the interop tests compare against.
type tlogTree struct {
	stored []tlog.Hash
	n      int64
}

func (tt *tlogTree) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(tt.stored)) {
			return nil, fmt.Errorf("tlog test tree: index %d out of range", x)
		}
		out[i] = tt.stored[x]
	}
	return out, nil
}

func (tt *tlogTree) add(t testing.TB, data []byte) {
	hs, err := tlog.StoredHashes(tt.n, data, tt)
	if err != nil {
		t.Fatal(err)
	}
	tt.stored = append(tt.stored, hs...)
	tt.n++
}

// testData returns the bytes of test leaf i.
func testData(i int) []byte {
	return fmt.Appendf(nil, `{"kind":"apply","seq":%d,"v":1}`, i)
}

// buildTrees returns this package's leaf hashes and a tlog tree over the
// same n records.
func buildTrees(t testing.TB, n int) ([]Hash, *tlogTree) {
	leaves := make([]Hash, n)
	tt := &tlogTree{stored: make([]tlog.Hash, 0, 2*n)}
	for i := range n {
		d := testData(i)
		leaves[i] = LeafHash(d)
		tt.add(t, d)
	}
	return leaves, tt
}

func toTlog(hs []Hash) []tlog.Hash {
	out := make([]tlog.Hash, len(hs))
	for i, h := range hs {
		out[i] = tlog.Hash(h)
	}
	return out
}

func checkInteropRoot(t *testing.T, leaves []Hash, tt *tlogTree, size int) Hash {
	t.Helper()
	want, err := tlog.TreeHash(int64(size), tt)
	if err != nil {
		t.Fatal(err)
	}
	got := RootOf(leaves[:size])
	if got != Hash(want) {
		t.Fatalf("size %d: RootOf = %s, tlog.TreeHash = %s", size, got, Hash(want))
	}
	return got
}

func checkInteropInclusion(t *testing.T, leaves []Hash, tt *tlogTree, index, size int, root Hash) {
	t.Helper()
	got, err := ProveInclusion(leaves, uint64(index), uint64(size))
	if err != nil {
		t.Fatalf("ProveInclusion(%d, %d): %v", index, size, err)
	}
	want, err := tlog.ProveRecord(int64(size), int64(index), tt)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(toTlog(got)) != fmt.Sprint([]tlog.Hash(want)) {
		t.Fatalf("inclusion %d in %d: proof differs from tlog.ProveRecord:\n got %v\nwant %v", index, size, got, want)
	}
	if err := VerifyInclusion(leaves[index], uint64(index), uint64(size), got, root); err != nil {
		t.Fatal(err)
	}
	if err := tlog.CheckRecord(want, int64(size), tlog.Hash(root), int64(index), tlog.Hash(leaves[index])); err != nil {
		t.Fatalf("tlog.CheckRecord rejects: %v", err)
	}
}

func checkInteropConsistency(t *testing.T, leaves []Hash, tt *tlogTree, size1, size2 int, root1, root2 Hash) {
	t.Helper()
	got, err := ProveConsistency(leaves, uint64(size1), uint64(size2))
	if err != nil {
		t.Fatalf("ProveConsistency(%d, %d): %v", size1, size2, err)
	}
	want, err := tlog.ProveTree(int64(size2), int64(size1), tt)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(toTlog(got)) != fmt.Sprint([]tlog.Hash(want)) {
		t.Fatalf("consistency %d -> %d: proof differs from tlog.ProveTree:\n got %v\nwant %v", size1, size2, got, want)
	}
	if err := VerifyConsistency(uint64(size1), uint64(size2), root1, root2, got); err != nil {
		t.Fatal(err)
	}
	if err := tlog.CheckTree(want, int64(size2), tlog.Hash(root2), int64(size1), tlog.Hash(root1)); err != nil {
		t.Fatalf("tlog.CheckTree rejects: %v", err)
	}
}

// TestInteropTlogSmall compares roots, every inclusion proof and every
// consistency proof with golang.org/x/mod/sumdb/tlog for all sizes 1..300.
func TestInteropTlogSmall(t *testing.T) {
	const max = 300
	leaves, tt := buildTrees(t, max)
	for i := range leaves {
		if want := tlog.RecordHash(testData(i)); leaves[i] != Hash(want) {
			t.Fatalf("leaf %d: LeafHash = %s, tlog.RecordHash = %s", i, leaves[i], Hash(want))
		}
	}
	roots := make([]Hash, max+1)
	for size := 1; size <= max; size++ {
		roots[size] = checkInteropRoot(t, leaves, tt, size)
	}
	for size := 1; size <= max; size++ {
		for index := 0; index < size; index++ {
			checkInteropInclusion(t, leaves, tt, index, size, roots[size])
		}
	}
	for size2 := 1; size2 <= max; size2++ {
		for size1 := 1; size1 <= size2; size1++ {
			checkInteropConsistency(t, leaves, tt, size1, size2, roots[size1], roots[size2])
		}
	}
}

// TestInteropTlogLarge does the same for random sizes up to 10^6 (10^5 with
// -short), sampling indexes and size pairs.
func TestInteropTlogLarge(t *testing.T) {
	max := 1_000_000
	if testing.Short() {
		max = 100_000
	}
	leaves, tt := buildTrees(t, max)
	rng := rand.New(rand.NewPCG(6962, 9162))
	sizes := []int{max, max - 1, 1 << 16, 1<<16 + 1, 1<<17 - 1}
	for range 3 {
		sizes = append(sizes, 1+rng.IntN(max))
	}
	for _, size := range sizes {
		if size > max {
			continue
		}
		root := checkInteropRoot(t, leaves, tt, size)
		for _, index := range []int{0, size - 1, size / 2, rng.IntN(size)} {
			checkInteropInclusion(t, leaves, tt, index, size, root)
		}
		for _, size1 := range []int{1, size, size - 1, 1 + rng.IntN(size)} {
			if size1 < 1 {
				continue
			}
			root1 := checkInteropRoot(t, leaves, tt, size1)
			checkInteropConsistency(t, leaves, tt, size1, size, root1, root)
		}
	}
}
