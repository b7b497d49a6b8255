package gitledger

// The pre-receive hook's verified tree.
//
// Every receipt reaches a server by a push through its pre-receive hook,
// which checks it (VerifyUpdate) before the ledger branch moves. The hook
// keeps the Merkle tree of the chain it verified last, so that a snapshot
// tag on it costs the tag object, its two signatures and O(log n) stored
// hashes, with no walk over commits and no receipt read: a
// VerifiedTree is the tree over receipts 0..Size-1 of the chain whose tip is
// Commit, as C2SP tiles in the same store as the snapshot tags' tiles
// (TileCacheDir), and HookTreeFile, written last and atomically (renamed
// over the old one; fsutil.ReplaceFile: a cache, checked as it is read, so
// written without waiting for the disk), records the chain it is for:
//
//	{"v":1,"ledger":"<id>","size":<n>,"commit":"<hex>","root":"<hex>"}
//
// What makes it trustworthy is who writes it: only the hook, in the
// server's git directory, which a pusher cannot write to, and only after
// the whole push passed every rule: the tree of a ledger update is hashed
// from the receipts VerifyUpdate checked (each one's bytes, as it read
// them), extending the stored tree of the old tip; the tree of a snapshot
// tag pushed on the tip without one (the first tag on a server, or after a
// push that went around the hook) is the one whose root matched that
// signed tag. A file anyone else can write (a client's .git) is never
// read this way: the client's pre-push hook does not use it.
//
// It is used only for the chain it records: LoadVerifiedTree(tip) takes it
// when its commit is tip, its size is tip's receipt count and its ledger
// tip's, the tiles check out against its root (merkle.OpenStoredTree), and
// its last leaf is the hash of the receipt at size-1 in tip's tree;
// anything else (no file, a file that does not parse, another commit, a
// rewritten ledger, damaged tiles) is no tree, and the hook checks tags as
// before (VerifySnapshotTag: from the previous tag's tiles). A tag whose
// root does not match the stored tree is checked that way too before it is
// refused, so a damaged store can cost time but never refuse a good tag;
// every other rule is checked the same way on both paths, with the same
// messages. What it cannot catch is a file and tiles rewritten together,
// consistently, by someone who can write the server's git directory (who
// could move its refs as well).
//
// Its size is that of the tiles (32 bytes a receipt, shared with the
// snapshot tags') plus a line. A push adds at most maxTreeAppend receipts
// to it in memory (a larger push leaves no tree; the first tag pushed on
// the tip then makes it again).

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vmc-git/vmc-git/internal/canon"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/internal/fsutil"
	"github.com/vmc-git/vmc-git/internal/gitobj"
	"github.com/vmc-git/vmc-git/merkle"
)

// HookTreeFile is the hook's record of its verified tree, relative to the
// git directory.
const HookTreeFile = TileCacheDir + "/hook-tree.json"

// hookTreeVersion is the "v" of HookTreeFile.
const hookTreeVersion = 1

// maxHookTreeFile bounds HookTreeFile (a line of about 200 bytes).
const maxHookTreeFile = 4 << 10

// maxTreeAppend bounds the leaves a VerifiedTree holds in memory beyond its
// stored tiles (64 bytes each): 16 MB.
const maxTreeAppend = 1 << 18

// hookTreeRecord is HookTreeFile's content.
type hookTreeRecord struct {
	V      int         `json:"v"`
	Ledger string      `json:"ledger"`
	Size   uint64      `json:"size"`
	Commit string      `json:"commit"`
	Root   merkle.Hash `json:"root"`
}

// VerifiedTree is the Merkle tree over the receipts of the ledger chain
// whose tip is Commit, as the pre-receive hook verified it (see above).
type VerifiedTree struct {
	commit plumbing.Hash
	ledger string
	st     *merkle.StoredTree
	dirty  bool // not saved yet
}

// Commit returns the tip of the chain the tree is for.
func (t *VerifiedTree) Commit() plumbing.Hash { return t.commit }

// Size returns the number of receipts in the tree.
func (t *VerifiedTree) Size() uint64 { return t.st.Size() }

// Changed reports whether the tree is not the stored one (SaveVerifiedTree
// has work to do).
func (t *VerifiedTree) Changed() bool { return t.dirty }

func (l *Ledger) hookTreePath() string {
	return filepath.Join(l.GitDir, filepath.FromSlash(HookTreeFile))
}

// LoadVerifiedTree returns the hook's stored tree when it is the tree of
// the chain whose tip is commit tip, else nil (see above; a cache: why it
// is not is loadVerifiedTree's error).
func (l *Ledger) LoadVerifiedTree(tip plumbing.Hash) *VerifiedTree {
	t, _ := l.loadVerifiedTree(tip)
	return t
}

func (l *Ledger) loadVerifiedTree(tip plumbing.Hash) (*VerifiedTree, error) {
	f, err := os.Open(l.hookTreePath())
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, maxHookTreeFile+1))
	f.Close()
	if err != nil {
		return nil, err
	}
	if len(b) > maxHookTreeFile {
		return nil, fmt.Errorf("%s: more than %d bytes", HookTreeFile, maxHookTreeFile)
	}
	var rec hookTreeRecord
	if err := canon.DecodeStrict(b, &rec); err != nil {
		return nil, fmt.Errorf("%s: %w", HookTreeFile, err)
	}
	if rec.V != hookTreeVersion || rec.Size == 0 {
		return nil, fmt.Errorf("%s: version %d, size %d", HookTreeFile, rec.V, rec.Size)
	}
	c, err := gitobj.ParseHash(rec.Commit)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", HookTreeFile, err)
	}
	if c != tip {
		return nil, fmt.Errorf("%s: the tree of commit %s, not of %s", HookTreeFile, c, tip)
	}
	r, err := l.NewReaderAt(tip)
	if err != nil {
		return nil, err
	}
	if r.Tip.Head.Seq+1 != rec.Size || r.Tip.Head.Ledger != rec.Ledger {
		return nil, fmt.Errorf("%s: %d receipts of ledger %q, but commit %s has %d of %q", HookTreeFile, rec.Size, rec.Ledger, tip, r.Tip.Head.Seq+1, r.Tip.Head.Ledger)
	}
	st, err := merkle.OpenStoredTree(l.tileDir(), rec.Size, rec.Root)
	if err != nil {
		return nil, err
	}
	last, err := st.LeafAt(rec.Size - 1)
	if err != nil {
		return nil, err
	}
	rb, err := r.File(r.Path(rec.Size - 1))
	if err != nil {
		return nil, err
	}
	if merkle.LeafHash(rb) != last {
		return nil, fmt.Errorf("%s: leaf %d is not the hash of receipt %d", HookTreeFile, rec.Size-1, rec.Size-1)
	}
	return &VerifiedTree{commit: tip, ledger: rec.Ledger, st: st}, nil
}

// SaveVerifiedTree stores t as the hook's verified tree: its tiles, then
// HookTreeFile. The hook calls it once a push passed every rule.
func (l *Ledger) SaveVerifiedTree(t *VerifiedTree) error {
	if !t.dirty {
		return nil
	}
	root, err := t.st.Root(t.st.Size())
	if err != nil {
		return err
	}
	b, err := json.Marshal(hookTreeRecord{V: hookTreeVersion, Ledger: t.ledger, Size: t.st.Size(), Commit: t.commit.String(), Root: root})
	if err != nil {
		return err
	}
	if err := t.st.Save(); err != nil {
		return err
	}
	if err := fsutil.ReplaceFile(l.hookTreePath(), append(b, '\n'), 0o600); err != nil {
		return err
	}
	t.dirty = false
	return nil
}

// VerifyUpdateTree is VerifyUpdate for the pre-receive hook, which also
// hashes the new receipts onto vt, the hook's tree of old
// (LoadVerifiedTree(old); nil: none), and returns the tree of new: from
// genesis when old is zero, nil when there is no tree of old (or the push
// has more than maxTreeAppend receipts). vt is used up.
func (l *Ledger) VerifyUpdateTree(old, new plumbing.Hash, pin *digest.Digest, vt *VerifiedTree) (*Report, *VerifiedTree, error) {
	var st *merkle.StoredTree
	switch {
	case old.IsZero():
		st = merkle.NewStoredTree(l.tileDir())
	case vt != nil && vt.commit == old:
		st = vt.st
	}
	var leafErr error
	added := 0
	var leaf func(uint64, []byte)
	if st != nil {
		leaf = func(seq uint64, b []byte) {
			if leafErr != nil {
				return
			}
			if added++; added > maxTreeAppend {
				leafErr = errors.New("too many receipts to hold")
				return
			}
			if seq != st.Size() {
				leafErr = fmt.Errorf("receipt %d after a tree of %d", seq, st.Size())
				return
			}
			leafErr = st.Append(merkle.LeafHash(b))
		}
	}
	rep, err := l.verifyUpdate(old, new, pin, leaf)
	if err != nil {
		return nil, nil, err
	}
	if st == nil || leafErr != nil || st.Size() != rep.Receipts {
		return rep, nil, nil
	}
	return rep, &VerifiedTree{commit: new, ledger: rep.Ledger, st: st, dirty: true}, nil
}

// VerifySnapshotTagTree is VerifySnapshotTag for the pre-receive hook, with
// vt its tree of the ledger whose tip is commit tip (nil: none). With vt,
// the root comes from its stored hashes, O(log n); without it, or when the
// tag's root does not match it, the tag is checked by VerifySnapshotTag's
// path, which gives the verdict. Every other rule, and every message, is
// VerifySnapshotTag's. It returns the tree the hook keeps for tip: vt, or,
// after that path verified a tag of every receipt, the tree whose root
// matched the tag (to be saved), or nil.
func (l *Ledger) VerifySnapshotTagTree(tip plumbing.Hash, size uint64, id plumbing.Hash, vt *VerifiedTree) (*VerifiedTree, error) {
	r, err := l.NewReaderAt(tip)
	if err != nil {
		return vt, err
	}
	n := r.Tip.Head.Seq + 1
	if size == 0 || size > n {
		return vt, &SnapshotError{size, fmt.Errorf("claims %d receipts, but the ledger has %d", size, n)}
	}
	w := newBackWalk(l, tip, n-1)
	if vt != nil && vt.commit == tip && vt.st.Size() == n && vt.ledger == r.Tip.Head.Ledger {
		at, err := w.at(size - 1)
		if err != nil {
			return vt, err
		}
		asked := false
		_, err = l.verifyTagAt(r, at, size, id, func() (merkle.Hash, error) {
			asked = true
			return vt.st.Root(size)
		})
		if err == nil || !asked {
			return vt, err
		}
		vt = nil // its root is not the tag's: the other path decides
	}
	_, st, err := l.verifyNewTagTree(r, w, size, id)
	if err != nil {
		return vt, err
	}
	if size == n {
		return &VerifiedTree{commit: tip, ledger: r.Tip.Head.Ledger, st: st, dirty: true}, nil
	}
	// Tiles for the next tag, saved as VerifySnapshotTag saves them.
	_ = st.Save()
	return vt, nil
}
