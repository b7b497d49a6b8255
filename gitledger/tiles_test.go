package gitledger

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/vmc-git/vmc-git/merkle"
)

// TestStoredHashesFromTags: a tag writes the tiles of its size; the next
// tag, proofs and the hook's check start from them, and agree with the
// computation from every leaf; a damaged cache only costs a rebuild.
func TestStoredHashesFromTags(t *testing.T) {
	l, s, _ := newLedger(t, 0)
	if _, err := Generate(l, s, "alice", 299, GenerateOptions{}); err != nil {
		t.Fatal(err) // 300 receipts: past one full tile
	}
	if _, err := l.MakeSnapshot(s, "alice", 0, true, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(l.tileDir(), "tile", "0", "000")); err != nil {
		t.Fatalf("no full tile after the snapshot tag: %v", err)
	}
	for i := 0; i < 5; i++ {
		appendManual(t, l, s, "alice", "more")
	}
	r, err := l.NewReader()
	if err != nil {
		t.Fatal(err)
	}
	leaves, err := LeafHashes(r, 0, 305)
	if err != nil {
		t.Fatal(err)
	}
	w := newBackWalk(l, r.Tip.Commit, r.Tip.Head.Seq)
	st, base, err := l.storedTree(r, w, 305, 306)
	if err != nil || base != 300 {
		t.Fatalf("stored tree: base %d, %v; want base 300", base, err)
	}
	for _, size := range []uint64{1, 299, 300, 305} {
		for _, idx := range []uint64{0, size - 1, size / 2} {
			got, err := st.ProveInclusion(idx, size)
			want, _ := merkle.ProveInclusion(leaves, idx, size)
			if err != nil || !slices.Equal(got, want) {
				t.Fatalf("inclusion %d/%d from tiles: %v", idx, size, err)
			}
		}
		if root, err := st.Root(size); err != nil || root != merkle.RootOf(leaves[:size]) {
			t.Fatalf("root %d from tiles: %v", size, err)
		}
	}
	// The new tag, checked as the hook does, from the tiles of 300.
	res, err := l.MakeSnapshot(s, "alice", 0, true, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := l.VerifySnapshotTag(r.Tip.Commit, 305, res.Tag); err != nil {
		t.Fatal(err)
	}
	// A forged root at 305 is refused with VerifyTag's message, tiles or not.
	forged := forgeTag(t, l, s, "alice", 305, r.Tip.Commit, merkle.Checkpoint{Origin: r.Tip.Head.Ledger, Size: 305, Root: leaves[0]})
	err = l.VerifySnapshotTag(r.Tip.Commit, 305, forged)
	var se *SnapshotError
	if !errors.As(err, &se) || se.Size != 305 {
		t.Fatalf("forged root: %v", err)
	}
	chain, _ := l.Chain(r.Tip.Commit)
	if want := l.VerifyTag(chain, 305, forged); want == nil || err.Error() != want.Error() {
		t.Fatalf("forged root: %q, VerifyTag says %q", err, want)
	}
	if err := l.casRefName(SnapshotTagRef(305), forged, res.Tag); err != nil {
		t.Fatal(err)
	}
	// Damaged tiles: the check falls back to every receipt and still passes.
	filepath.Walk(filepath.Join(l.tileDir(), "tile"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			b, _ := os.ReadFile(p)
			b[0] ^= 0xff
			os.WriteFile(p, b, 0o644)
		}
		return nil
	})
	if err := l.VerifySnapshotTag(r.Tip.Commit, 305, res.Tag); err != nil {
		t.Fatalf("with damaged tiles: %v", err)
	}
	if _, base, err := l.storedTree(r, w, 305, 306); err != nil || base != 305 {
		t.Fatalf("tiles rewritten after the fallback: base %d, %v", base, err)
	}
	// Too large a size.
	if err := l.VerifySnapshotTag(r.Tip.Commit, 306, res.Tag); err == nil {
		t.Fatal("a tag beyond the ledger verified")
	}
}
