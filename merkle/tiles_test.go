package merkle

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

func TestTilePath(t *testing.T) {
	for _, c := range []struct {
		tile tlog.Tile
		want string
	}{
		{tlog.Tile{H: 8, L: 0, N: 0, W: 256}, "tile/0/000"},
		{tlog.Tile{H: 8, L: 0, N: 1234067, W: 256}, "tile/0/x001/x234/067"},
		{tlog.Tile{H: 8, L: 1, N: 5, W: 7}, "tile/1/005.p/7"},
		{tlog.Tile{H: 8, L: 2, N: 1000, W: 256}, "tile/2/x001/000"},
	} {
		if got := TilePath(c.tile); got != c.want {
			t.Errorf("TilePath(%v) = %q, want %q", c.tile, got, c.want)
		}
	}
}

func tileLeaves(n int) []Hash {
	out := make([]Hash, n)
	for i := range out {
		out[i] = LeafHash([]byte("leaf " + strconv.Itoa(i)))
	}
	return out
}

// TestStoredTreeMatchesLeaves grows a stored tree in steps, saving and
// reopening its tiles at each step, and checks roots and every kind of
// proof against the functions over the leaf hashes.
func TestStoredTreeMatchesLeaves(t *testing.T) {
	dir := t.TempDir()
	leaves := tileLeaves(70000)
	var st *StoredTree
	prev := uint64(0)
	for _, size := range []uint64{1, 2, 3, 255, 256, 257, 1000, 65535, 65536, 65537, 70000} {
		if prev == 0 {
			st = NewStoredTree(dir)
		} else {
			var err error
			if st, err = OpenStoredTree(dir, prev, RootOf(leaves[:prev])); err != nil {
				t.Fatalf("open at %d: %v", prev, err)
			}
		}
		for _, l := range leaves[prev:size] {
			if err := st.Append(l); err != nil {
				t.Fatal(err)
			}
		}
		root, err := st.Root(size)
		if err != nil || root != RootOf(leaves[:size]) {
			t.Fatalf("root at %d: %v, %v", size, root, err)
		}
		if err := st.Save(); err != nil {
			t.Fatal(err)
		}
		re, err := OpenStoredTree(dir, size, root)
		if err != nil {
			t.Fatalf("reopen at %d: %v", size, err)
		}
		for _, idx := range []uint64{0, size / 2, size - 1} {
			got, err := re.ProveInclusion(idx, size)
			want, _ := ProveInclusion(leaves, idx, size)
			if err != nil || !slices.Equal(got, want) {
				t.Fatalf("inclusion %d in %d: %v", idx, size, err)
			}
			if err := VerifyInclusion(leaves[idx], idx, size, got, root); err != nil {
				t.Fatal(err)
			}
		}
		for _, s1 := range []uint64{1, prev, size / 3, size} {
			if s1 == 0 {
				continue
			}
			got, err := re.ProveConsistency(s1, size)
			want, _ := ProveConsistency(leaves, s1, size)
			if err != nil || !slices.Equal(got, want) {
				t.Fatalf("consistency %d -> %d: %v", s1, size, err)
			}
		}
		prev = size
	}
}

// TestStoredTreeRefusesBadTiles: tiles are only used after checking them
// against the trusted root.
func TestStoredTreeRefusesBadTiles(t *testing.T) {
	dir := t.TempDir()
	leaves := tileLeaves(1000)
	st := NewStoredTree(dir)
	for _, l := range leaves {
		st.Append(l)
	}
	if err := st.Save(); err != nil {
		t.Fatal(err)
	}
	root := RootOf(leaves)
	// A wrong root: nothing checks out.
	if _, err := OpenStoredTree(dir, 1000, RootOf(leaves[:999])); !errors.Is(err, ErrNoTiles) {
		t.Fatalf("wrong root: %v, want ErrNoTiles", err)
	}
	// A flipped byte in a full tile in the middle: the proof read fails.
	p := filepath.Join(dir, "tile", "0", "001")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[40] ^= 1
	os.WriteFile(p, b, 0o644)
	re, err := OpenStoredTree(dir, 1000, root)
	if err != nil {
		t.Fatal(err) // the right edge does not use tile 0/001
	}
	if _, err := re.ProveInclusion(300, 1000); !errors.Is(err, ErrNoTiles) {
		t.Fatalf("flipped tile: %v, want ErrNoTiles", err)
	}
	// A missing tile.
	os.Remove(filepath.Join(dir, "tile", "0", "003.p", "232"))
	if _, err := OpenStoredTree(dir, 1000, root); !errors.Is(err, ErrNoTiles) {
		t.Fatalf("missing tile: %v, want ErrNoTiles", err)
	}
}
