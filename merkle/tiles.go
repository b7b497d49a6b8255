package merkle

// Stored interior hashes (tiles).
//
// A StoredTree keeps every interior hash of the tree, so that its root,
// inclusion proofs and consistency proofs cost O(log N) hash reads instead
// of N hashes from the leaves. It is stored as C2SP tlog-tiles
// (https://c2sp.org/tlog-tiles), the layout Go's checksum database and
// Certificate Transparency logs serve, with tile height TileHeight = 8:
//
//	tile/<L>/<N>          a full tile: 256 hashes of 32 bytes, concatenated
//	tile/<L>/<N>.p/<W>    a partial tile of the tree's right edge: W < 256 hashes
//
// A tile at level L holds, left to right, the hashes of the tree's nodes at
// height 8L (level 0: the leaf hashes; level 1: the roots of 256-leaf
// subtrees; ...), hashes 256N .. 256N+W-1 of that height. <N> is written in
// groups of three decimal digits, each but the last prefixed with "x":
// 1234067 is x001/x234/067. The hash of tile/0/x001/234 is NodeHash of its
// 256 hashes, as in RFC 6962 (tlog.StoredHashIndex numbers the same hashes).
// Entry bundles (tile/entries/...) are not stored: the leaves are the
// receipts in git.
//
// Tiles are a cache, never trusted by themselves: OpenStoredTree takes the
// size and root of a signed checkpoint, and every tile read is checked
// against that root (tlog.TileHashReader) before a hash from it is used. A
// tile that does not check out makes the read fail; callers then rebuild
// from the leaves. Hashes appended after the opened size are kept in memory
// until Save writes the tiles of the new size.
//
// Costs: OpenStoredTree reads the O(log N) hashes on the tree's right edge;
// Append costs amortized one node hash and no reads; Root, ProveInclusion
// and ProveConsistency read O(log N) hashes (a few tiles); Save writes the
// tiles that changed, O(k/256 + log N) files for k appended leaves.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

// TileHeight is the tile height of the C2SP tlog-tiles layout: 2^8 = 256
// hashes per full tile.
const TileHeight = 8

// TileDir is the directory under a tile store's root that holds the hash
// tiles (C2SP: "<prefix>/tile/").
const TileDir = "tile"

// TilePath returns the C2SP tlog-tiles path of a tile, relative to the
// store's root: tile/<L>/<N>[.p/<W>].
func TilePath(t tlog.Tile) string {
	var groups []string
	n := t.N
	for {
		groups = append([]string{fmt.Sprintf("%03d", n%1000)}, groups...)
		n /= 1000
		if n == 0 {
			break
		}
	}
	for i := 0; i < len(groups)-1; i++ {
		groups[i] = "x" + groups[i]
	}
	p := TileDir + "/" + strconv.Itoa(t.L) + "/" + strings.Join(groups, "/")
	if t.W < 1<<TileHeight {
		p += ".p/" + strconv.Itoa(t.W)
	}
	return p
}

// tileFiles reads and writes tiles under dir. It implements tlog.TileReader:
// a partial tile of width W is served from the full tile or from a wider
// partial one (a tile's first W hashes never change as the tree grows).
type tileFiles struct {
	dir      string
	verified map[[2]int64]verifiedTile // by level and index: tiles tlog checked (SaveTiles)
}

type verifiedTile struct {
	tile tlog.Tile
	data []byte
}

// hash returns stored hash x from a tile already checked, if one holds it.
func (f *tileFiles) hash(x int64) (tlog.Hash, bool) {
	t := tlog.TileForIndex(TileHeight, x)
	vt, ok := f.verified[[2]int64{int64(t.L), t.N}]
	if !ok {
		return tlog.Hash{}, false
	}
	h, err := tlog.HashFromTile(vt.tile, vt.data, x)
	return h, err == nil
}

func (f *tileFiles) Height() int { return TileHeight }

func (f *tileFiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		b, err := f.read(t)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

func (f *tileFiles) read(t tlog.Tile) ([]byte, error) {
	want := t.W * tlog.HashSize
	full := t
	full.W = 1 << TileHeight
	if b, err := os.ReadFile(filepath.Join(f.dir, filepath.FromSlash(TilePath(full)))); err == nil {
		if len(b) != (1<<TileHeight)*tlog.HashSize {
			return nil, fmt.Errorf("tile %s: %d bytes, want %d", TilePath(full), len(b), (1<<TileHeight)*tlog.HashSize)
		}
		return b[:want], nil
	}
	// The narrowest partial tile at least W wide.
	pdir := filepath.Join(f.dir, filepath.FromSlash(TilePath(full))+".p")
	ents, err := os.ReadDir(pdir)
	if err != nil {
		return nil, fmt.Errorf("tile %s: not stored", TilePath(t))
	}
	best := 0
	for _, e := range ents {
		w, err := strconv.Atoi(e.Name())
		if err != nil || w < t.W || w >= 1<<TileHeight {
			continue
		}
		if best == 0 || w < best {
			best = w
		}
	}
	if best == 0 {
		return nil, fmt.Errorf("tile %s: not stored", TilePath(t))
	}
	b, err := os.ReadFile(filepath.Join(pdir, strconv.Itoa(best)))
	if err != nil {
		return nil, err
	}
	if len(b) != best*tlog.HashSize {
		return nil, fmt.Errorf("tile %s.p/%d: %d bytes, want %d", TilePath(full), best, len(b), best*tlog.HashSize)
	}
	return b[:want], nil
}

// SaveTiles is called by tlog with tiles it checked against the root: they
// are kept, so later reads of their hashes need no file read or check.
// (StoredTree.Save writes tiles to disk.)
func (f *tileFiles) SaveTiles(tiles []tlog.Tile, data [][]byte) {
	if f.verified == nil {
		f.verified = map[[2]int64]verifiedTile{}
	}
	for i, t := range tiles {
		k := [2]int64{int64(t.L), t.N}
		if old, ok := f.verified[k]; !ok || old.tile.W < t.W {
			f.verified[k] = verifiedTile{t, data[i]}
		}
	}
}

// write stores one tile atomically (temporary file and rename) and removes
// the narrower partial tiles it replaces.
func (f *tileFiles) write(t tlog.Tile, data []byte) error {
	p := filepath.Join(f.dir, filepath.FromSlash(TilePath(t)))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tile-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	full := t
	full.W = 1 << TileHeight
	pdir := filepath.Join(f.dir, filepath.FromSlash(TilePath(full))+".p")
	if t.W == full.W {
		os.RemoveAll(pdir)
		return nil
	}
	ents, _ := os.ReadDir(pdir)
	for _, e := range ents {
		if w, err := strconv.Atoi(e.Name()); err == nil && w < t.W {
			os.Remove(filepath.Join(pdir, e.Name()))
		}
	}
	return nil
}

// StoredTree is a Merkle tree with its interior hashes: those of a tile
// store checked against a trusted root, plus hashes appended in memory. It
// is not safe for concurrent use.
type StoredTree struct {
	files    *tileFiles // dir "": no store
	base     int64      // tree size the tiles were opened at
	baseRoot tlog.Hash
	tiles    tlog.HashReader // checked reads of hashes below StoredHashCount(base)
	edge     map[int64]tlog.Hash
	extra    []tlog.Hash // stored hashes from StoredHashCount(base) on
	size     int64
}

// NewStoredTree returns an empty tree whose tiles Save writes under dir
// ("" for none).
func NewStoredTree(dir string) *StoredTree {
	return &StoredTree{files: &tileFiles{dir: dir}, edge: map[int64]tlog.Hash{}}
}

// ErrNoTiles is returned by OpenStoredTree when the store does not hold
// tiles that check out against the given root.
var ErrNoTiles = errors.New("no stored tiles for this tree")

// OpenStoredTree opens the tiles under dir as the tree of size leaves with
// the given root, which the caller takes from a checkpoint it verified.
// It reads and checks the hashes on the tree's right edge (what Append
// needs); a missing or inconsistent tile gives an error wrapping ErrNoTiles.
func OpenStoredTree(dir string, size uint64, root Hash) (*StoredTree, error) {
	if size == 0 {
		return nil, fmt.Errorf("open stored tree: %w", ErrEmptyTree)
	}
	t := NewStoredTree(dir)
	t.base, t.size, t.baseRoot = int64(size), int64(size), tlog.Hash(root)
	t.tiles = tlog.TileHashReader(tlog.Tree{N: t.base, Hash: t.baseRoot}, t.files)
	var idx []int64
	for _, x := range rightEdge(t.base) {
		idx = append(idx, x)
	}
	hs, err := t.tiles.ReadHashes(idx)
	if err != nil {
		return nil, fmt.Errorf("tiles of tree size %d: %w: %v", size, ErrNoTiles, err)
	}
	for i, x := range idx {
		t.edge[x] = hs[i]
	}
	return t, nil
}

// rightEdge returns the stored-hash indexes of the roots of the perfect
// subtrees that make up a tree of n leaves (its compact range), left to
// right.
func rightEdge(n int64) []int64 {
	var out []int64
	var start int64
	for level := 62; level >= 0; level-- {
		if n&(1<<uint(level)) != 0 {
			out = append(out, tlog.StoredHashIndex(level, start>>uint(level)))
			start += 1 << uint(level)
		}
	}
	return out
}

// Size returns the number of leaves.
func (t *StoredTree) Size() uint64 { return uint64(t.size) }

// ReadHashes implements tlog.HashReader over the tiles and the appended
// hashes.
func (t *StoredTree) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	limit := tlog.StoredHashCount(t.base)
	var fromTiles []int64
	var at []int
	for i, x := range indexes {
		switch {
		case x >= limit:
			j := x - limit
			if j >= int64(len(t.extra)) {
				return nil, fmt.Errorf("stored hash %d: beyond the tree of size %d", x, t.size)
			}
			out[i] = t.extra[j]
		default:
			if h, ok := t.edge[x]; ok {
				out[i] = h
				continue
			}
			if h, ok := t.files.hash(x); ok {
				out[i] = h
				continue
			}
			if t.tiles == nil {
				return nil, fmt.Errorf("stored hash %d: no tiles", x)
			}
			fromTiles = append(fromTiles, x)
			at = append(at, i)
		}
	}
	if len(fromTiles) > 0 {
		hs, err := t.tiles.ReadHashes(fromTiles)
		if err != nil {
			return nil, fmt.Errorf("tiles of tree size %d: %w: %v", t.base, ErrNoTiles, err)
		}
		for k, i := range at {
			out[i] = hs[k]
		}
	}
	return out, nil
}

// Append adds the next leaf hash.
func (t *StoredTree) Append(leaf Hash) error {
	hs, err := tlog.StoredHashesForRecordHash(t.size, tlog.Hash(leaf), t)
	if err != nil {
		return err
	}
	t.extra = append(t.extra, hs...)
	t.size++
	return nil
}

// Root returns the root of the tree of the first size leaves (size <= Size()).
func (t *StoredTree) Root(size uint64) (Hash, error) {
	if size == 0 {
		return EmptyRoot, nil
	}
	if size > t.Size() {
		return Hash{}, fmt.Errorf("root of %d leaves: %w (the tree has %d)", size, ErrTooFewLeaves, t.size)
	}
	if int64(size) == t.base {
		return Hash(t.baseRoot), nil
	}
	h, err := tlog.TreeHash(int64(size), t)
	return Hash(h), err
}

// LeafAt returns leaf hash index.
func (t *StoredTree) LeafAt(index uint64) (Hash, error) {
	if index >= t.Size() {
		return Hash{}, fmt.Errorf("leaf %d: %w", index, ErrIndexOutOfRange)
	}
	hs, err := t.ReadHashes([]int64{tlog.StoredHashIndex(0, int64(index))})
	if err != nil {
		return Hash{}, err
	}
	return Hash(hs[0]), nil
}

// ProveInclusion returns the inclusion proof of leaf index in the tree of
// the first size leaves, as ProveInclusion over the leaf hashes would.
func (t *StoredTree) ProveInclusion(index, size uint64) ([]Hash, error) {
	if err := checkIndex(index, size); err != nil {
		return nil, err
	}
	if size > t.Size() {
		return nil, fmt.Errorf("inclusion proof in a tree of %d leaves: %w (the tree has %d)", size, ErrTooFewLeaves, t.size)
	}
	p, err := tlog.ProveRecord(int64(size), int64(index), t)
	if err != nil {
		return nil, err
	}
	return fromTlog(p), nil
}

// ProveConsistency returns the consistency proof from the tree of size1
// leaves to the tree of size2 leaves, as ProveConsistency over the leaf
// hashes would.
func (t *StoredTree) ProveConsistency(size1, size2 uint64) ([]Hash, error) {
	if err := checkSizes(size1, size2); err != nil {
		return nil, err
	}
	if size2 > t.Size() {
		return nil, fmt.Errorf("consistency proof to a tree of %d leaves: %w (the tree has %d)", size2, ErrTooFewLeaves, t.size)
	}
	if size1 == size2 {
		return []Hash{}, nil
	}
	p, err := tlog.ProveTree(int64(size2), int64(size1), t)
	if err != nil {
		return nil, err
	}
	return fromTlog(p), nil
}

func fromTlog[T ~[]tlog.Hash](p T) []Hash {
	out := make([]Hash, len(p))
	for i, h := range p {
		out[i] = Hash(h)
	}
	return out
}

// Save writes the tiles of the tree at its current size. Callers save only
// a tree whose root they have checked against a signed checkpoint; a
// reader checks the tiles against its own trusted root anyway.
func (t *StoredTree) Save() error {
	if t.files.dir == "" {
		return errors.New("save tiles: no tile directory")
	}
	for _, tile := range tlog.NewTiles(TileHeight, t.base, t.size) {
		data, err := tlog.ReadTileData(tile, t)
		if err != nil {
			return fmt.Errorf("save tile %s: %w", TilePath(tile), err)
		}
		if err := t.files.write(tile, data); err != nil {
			return fmt.Errorf("save tile %s: %w", TilePath(tile), err)
		}
	}
	return nil
}
