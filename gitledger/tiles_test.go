package gitledger

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vmc-git/vmc-git/internal/gitobj"
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

// TestStoredTreeLeavesAlongside: the receipts after the base tag (or the
// upper half, without one) read in a second goroutine give the tree and
// the errors of reading them all in one: the same roots; a receipt that
// cannot be read fails with the same message, and of two such the lower
// one is reported.
func TestStoredTreeLeavesAlongside(t *testing.T) {
	defer func(m uint64) { minLeafReads = m }(minLeafReads)
	l, s, _ := newLedger(t, 0)
	for i := 0; i < 39; i++ {
		appendManual(t, l, s, "alice", "loose") // loose objects, one file each
	}
	if _, err := l.MakeSnapshot(s, "alice", 20, true, time.Now()); err != nil {
		t.Fatal(err)
	}
	r, err := l.NewReader()
	if err != nil {
		t.Fatal(err)
	}
	leaves, err := LeafHashes(r, 0, 40)
	if err != nil {
		t.Fatal(err)
	}
	tree := func(min uint64, limit uint64) (merkle.Hash, uint64, error) {
		minLeafReads = min
		rr, _ := l.NewReaderAt(r.Tip.Commit)
		st, base, err := l.storedTree(rr, newBackWalk(l, r.Tip.Commit, r.Tip.Head.Seq), 40, limit)
		if err != nil {
			return merkle.Hash{}, base, err
		}
		root, err := st.Root(40)
		return root, base, err
	}
	for _, c := range []struct {
		min, limit, base uint64
	}{{1, 41, 20}, {1 << 30, 41, 20}, {1, 20, 0}, {1 << 30, 20, 0}} {
		root, base, err := tree(c.min, c.limit)
		if err != nil || base != c.base || root != merkle.RootOf(leaves) {
			t.Fatalf("min %d, tags below %d: base %d, %v; want base %d and the root of every leaf", c.min, c.limit, base, err, c.base)
		}
	}
	// Receipt 30 loses its blob, then also receipt 15 (below the tag: read
	// only without it, by this goroutine, while the other fails at 30).
	drop := func(seq uint64) {
		rc, err := r.Receipt(seq)
		if err != nil {
			t.Fatal(err)
		}
		id := gitobj.HashObject(plumbing.BlobObject, rc.Bytes).String()
		if err := os.Remove(filepath.Join(l.GitDir, "objects", id[:2], id[2:])); err != nil {
			t.Fatal(err)
		}
	}
	for _, step := range []struct {
		drop uint64
		want map[uint64]string // by limit
	}{
		{30, map[uint64]string{41: "receipt 30: ", 20: "receipt 30: "}},
		{15, map[uint64]string{41: "receipt 30: ", 20: "receipt 15: "}},
	} {
		drop(step.drop)
		for limit, want := range step.want {
			_, _, alone := tree(1<<30, limit)
			_, _, along := tree(1, limit)
			if alone == nil || along == nil || alone.Error() != along.Error() || !strings.HasPrefix(along.Error(), want) {
				t.Fatalf("tags below %d: read alongside %v, alone %v; want both %q...", limit, along, alone, want)
			}
		}
	}
}
