package gitledger

// Stored Merkle hashes.
//
// The interior hashes of the snapshot tree are cached as C2SP tlog-tiles
// (merkle.StoredTree) under .git/vmc/tlog/ (TileCacheDir): tile/<L>/<N> and
// tile/<L>/<N>.p/<W>, holding the tree of the largest snapshot tag checked
// here. The cache is never trusted by itself: it is opened only through a
// snapshot tag vmc/merkle/<T> that verifies (tag SSHSIG and checkpoint note
// by a key trusted at receipt T-1, name, target commit, origin), with that
// tag's checkpoint root as the root every tile read is checked against. A
// new tag of size N > T then costs O(k + log n): the k = N-T receipts after
// T are hashed onto the tiles and the root at N compared with the new tag's
// checkpoint; tiles are written only for a size whose root matched its
// signed tag. `merkle prove` and `merkle consistency` read O(log n) hashes
// plus the receipts after the last tag. Without usable tiles (a fresh
// clone, a server's first tag, a damaged cache) the tree is rebuilt from
// every receipt, O(n), and saved when it matches a tag. On a server, the
// pre-receive hook also stores here the tree of the ledger it verified
// (hooktree.go), which it trusts for that chain alone.

import (
	"fmt"
	"path/filepath"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vmc-git/vmc-git/merkle"
)

// TileCacheDir is where the stored Merkle hashes live, relative to the git
// directory.
const TileCacheDir = "vmc/tlog"

func (l *Ledger) tileDir() string { return filepath.Join(l.GitDir, filepath.FromSlash(TileCacheDir)) }

// backWalk finds the commits of the receipts below a commit, walking first
// parents once and remembering them.
type backWalk struct {
	l       *Ledger
	top     uint64          // seq of commits[0]
	commits []plumbing.Hash // commits[i] holds receipt top-i
	// checked (newClientWalk): every commit walked must have exactly one
	// parent, as a ledger commit does; for a client's local ledger that
	// nobody verified (merkle prove, a new tag's tiles), which a merge
	// commit stops there.
	checked bool
}

// newClientWalk is newBackWalk for a chain not verified on the way: it
// refuses a commit without exactly one parent (reading it whole). The
// hook's walk (VerifySnapshotTag) and verify's read only the parent line,
// since each walks a chain it has just verified.
func newClientWalk(l *Ledger, tip plumbing.Hash, seq uint64) *backWalk {
	w := newBackWalk(l, tip, seq)
	w.checked = true
	return w
}

func newBackWalk(l *Ledger, tip plumbing.Hash, seq uint64) *backWalk {
	return &backWalk{l: l, top: seq, commits: []plumbing.Hash{tip}}
}

// at returns the commit of receipt seq.
func (w *backWalk) at(seq uint64) (plumbing.Hash, error) {
	if seq > w.top {
		return plumbing.ZeroHash, fmt.Errorf("receipt %d: the ledger ends at receipt %d", seq, w.top)
	}
	for uint64(len(w.commits)) <= w.top-seq {
		last := w.commits[len(w.commits)-1]
		if w.checked {
			c, err := w.l.parentOf(last) // exactly one parent
			if err != nil {
				return c, err
			}
			w.commits = append(w.commits, c)
			continue
		}
		// Only the parent line: the chain was verified (the hook's own
		// update check, verify), and a tag found this way is still checked
		// against its commit, trust state and root.
		c, ok, err := w.l.objs.FirstParent(last)
		if err != nil {
			return c, err
		}
		if !ok {
			return c, fmt.Errorf("commit %s: no parent, but receipt %d is below it", last, seq)
		}
		w.commits = append(w.commits, c)
	}
	return w.commits[w.top-seq], nil
}

// storedTree returns the Merkle tree over receipts 0..size-1 read from r
// (commits found with w): the tiles of the largest snapshot tag below limit
// and at most size that verifies, plus the receipts after it; or, without
// one, every receipt. base is the tag size it started from (0: rebuilt).
func (l *Ledger) storedTree(r *Reader, w *backWalk, size, limit uint64) (st *merkle.StoredTree, base uint64, err error) {
	sizes, err := l.SnapshotSizes()
	if err != nil {
		return nil, 0, err
	}
	for i := len(sizes) - 1; i >= 0; i-- {
		if t := sizes[i]; t <= size && t < limit {
			if ts, err := l.trustedTiles(r, w, t); err == nil {
				st, base = ts, t
			}
			break // only the newest tag below size: older tiles are its prefix
		}
	}
	if st == nil {
		st = merkle.NewStoredTree(l.tileDir())
	}
	for seq := base; seq < size; seq++ {
		b, err := r.File(r.Path(seq))
		if err != nil {
			return nil, 0, fmt.Errorf("receipt %d: %w", seq, err)
		}
		if err := st.Append(merkle.LeafHash(b)); err != nil {
			return nil, 0, err
		}
	}
	return st, base, nil
}

// trustedTiles opens the tiles of snapshot tag size after verifying the tag
// against the ledger; the tiles are checked against its root.
func (l *Ledger) trustedTiles(r *Reader, w *backWalk, size uint64) (*merkle.StoredTree, error) {
	tag, err := l.readSnapshotTag(size)
	if err != nil {
		return nil, err
	}
	at, err := w.at(size - 1)
	if err != nil {
		return nil, err
	}
	root, err := l.verifyTagAt(r, at, size, tag.id, func() (merkle.Hash, error) { return tag.checkpoint.Root, nil })
	if err != nil {
		return nil, err
	}
	return merkle.OpenStoredTree(l.tileDir(), size, root)
}

// verifyNewTag checks snapshot tag id of size against the ledger read by r,
// computing the root from the stored hashes of an older verified tag, and
// saves the tiles of size when it verifies.
func (l *Ledger) verifyNewTag(r *Reader, w *backWalk, size uint64, id plumbing.Hash) (merkle.Hash, error) {
	root, st, err := l.verifyNewTagTree(r, w, size, id)
	if err == nil && st != nil {
		// A cache: failing to write it costs the next check time, not
		// correctness, so the verification stands.
		_ = st.Save()
	}
	return root, err
}

// verifyNewTagTree is verifyNewTag without saving: it also returns the tree
// of size, whose root matched the tag (storedTree starts from a tag below
// size, so it always holds hashes the tiles of size lack).
func (l *Ledger) verifyNewTagTree(r *Reader, w *backWalk, size uint64, id plumbing.Hash) (merkle.Hash, *merkle.StoredTree, error) {
	at, err := w.at(size - 1)
	if err != nil {
		return merkle.Hash{}, nil, err
	}
	var st *merkle.StoredTree
	root, err := l.verifyTagAt(r, at, size, id, func() (merkle.Hash, error) {
		var err error
		if st, _, err = l.storedTree(r, w, size, size); err != nil {
			return merkle.Hash{}, err
		}
		return st.Root(size)
	})
	if err != nil {
		return root, nil, err
	}
	return root, st, nil
}

// VerifySnapshotTag checks the snapshot tag object id, claimed size, against
// the ledger whose tip is commit tip, with the same rules and messages as
// VerifyTag, but in O(k + log n): from the stored hashes of the newest
// older snapshot tag that verifies (k = receipts between the two), O(n)
// only when there is none. The pre-receive hook uses it.
func (l *Ledger) VerifySnapshotTag(tip plumbing.Hash, size uint64, id plumbing.Hash) error {
	r, err := l.NewReaderAt(tip)
	if err != nil {
		return err
	}
	n := r.Tip.Head.Seq + 1
	if size == 0 || size > n {
		return &SnapshotError{size, fmt.Errorf("claims %d receipts, but the ledger has %d", size, n)}
	}
	_, err = l.verifyNewTag(r, newBackWalk(l, tip, n-1), size, id)
	return err
}

// MerkleTree returns the Merkle tree over the first size receipts of r's
// ledger (size <= r.Tip.Head.Seq+1), with its interior hashes: from the
// stored hashes of the newest snapshot tag at most size that verifies, plus
// the receipts after it, so proofs cost O(log n + k).
func (l *Ledger) MerkleTree(r *Reader, size uint64) (*merkle.StoredTree, error) {
	n := r.Tip.Head.Seq + 1
	if size == 0 || size > n {
		return nil, fmt.Errorf("tree of %d receipts: the ledger has %d", size, n)
	}
	st, _, err := l.storedTree(r, newClientWalk(l, r.Tip.Commit, n-1), size, size+1)
	return st, err
}

// cacheTiles saves the stored hashes of the tree of size receipts after
// the signed tag of that size was made with root (MakeSnapshot), so that
// proofs and the next tag start from it. A cache: errors are dropped.
func (l *Ledger) cacheTiles(r *Reader, size uint64, root merkle.Hash) {
	st, base, err := l.storedTree(r, newClientWalk(l, r.Tip.Commit, r.Tip.Head.Seq), size, size)
	if err != nil || base == size {
		return
	}
	if got, err := st.Root(size); err == nil && got == root {
		_ = st.Save()
	}
}
