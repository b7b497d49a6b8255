package gitledger

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/merkle"
)

// treeLedger is a ledger of n receipts with the hook's verified tree of its
// tip saved (as a push of the new branch through the hook leaves it), and
// no snapshot tag or other tiles. It returns the ledger, the same ledger as
// a hook opens it (caches cold), the chain and alice's signer.
func treeLedger(t *testing.T, n int) (*Ledger, *Ledger, []plumbing.Hash, *keys.Signer) {
	t.Helper()
	l, s, _ := newLedger(t, 0)
	if n > 1 {
		if _, err := Generate(l, s, "alice", n-1, GenerateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	tip, err := l.Tip()
	if err != nil {
		t.Fatal(err)
	}
	_, vt, err := l.VerifyUpdateTree(plumbing.ZeroHash, tip.Commit, nil, nil)
	if err != nil || vt == nil || vt.Size() != uint64(n) || !vt.Changed() {
		t.Fatalf("tree of a new branch: %v, %v", vt, err)
	}
	if err := l.SaveVerifiedTree(vt); err != nil {
		t.Fatal(err)
	}
	chain, err := l.Chain(tip.Commit)
	if err != nil {
		t.Fatal(err)
	}
	h, err := OpenGitDir(l.GitDir, "")
	if err != nil {
		t.Fatal(err)
	}
	return l, h, chain, s
}

// goodTag writes a correct snapshot tag of size, signed by s as alice,
// without writing any tiles.
func goodTag(t *testing.T, l *Ledger, s *keys.Signer, chain []plumbing.Hash, size uint64) plumbing.Hash {
	t.Helper()
	r, err := l.NewReaderAt(chain[len(chain)-1])
	if err != nil {
		t.Fatal(err)
	}
	leaves, err := LeafHashes(r, 0, size)
	if err != nil {
		t.Fatal(err)
	}
	return forgeTag(t, l, s, "alice", size, chain[size-1], merkle.Checkpoint{Origin: testLedgerID, Size: size, Root: merkle.RootOf(leaves)})
}

// TestVerifiedTreeChecksTags: with the hook's tree, a good tag of any size
// verifies reading a handful of objects (no walk to an older tag, no
// receipt read), and the tree is the one of every leaf.
func TestVerifiedTreeChecksTags(t *testing.T) {
	l, h, chain, s := treeLedger(t, 300)
	tip := chain[len(chain)-1]
	vt := h.LoadVerifiedTree(tip)
	if vt == nil {
		_, err := h.loadVerifiedTree(tip)
		t.Fatalf("stored tree not loaded: %v", err)
	}
	r, _ := l.NewReaderAt(tip)
	leaves, _ := LeafHashes(r, 0, 300)
	if root, err := vt.st.Root(300); err != nil || root != merkle.RootOf(leaves) {
		t.Fatalf("stored root %v, %v; want the root of every leaf", root, err)
	}
	for _, size := range []uint64{300, 299, 256, 1} {
		id := goodTag(t, l, s, chain, size)
		before := h.ObjectsRead()
		got, err := h.VerifySnapshotTagTree(tip, size, id, vt)
		reads := h.ObjectsRead() - before
		if err != nil || got != vt {
			t.Fatalf("good tag %d: %v (tree %p, want %p)", size, err, got, vt)
		}
		// The tag object; below the tip, the walk of first parents down to
		// the tag's commit and the trust state there (its commit, trees,
		// HEAD.json and keys/trust.json).
		if max := 1 + int(300-size) + 11*min(1, int(300-size)); reads > max {
			t.Fatalf("good tag %d: %d objects read, want at most %d", size, reads, max)
		}
		t.Logf("tag %d: %d objects read", size, reads)
	}
	// Without the tree, the same check reads every receipt (no tag tiles).
	os.RemoveAll(l.tileDir())
	before := h.ObjectsRead()
	if err := h.VerifySnapshotTag(tip, 300, goodTag(t, l, s, chain, 300)); err != nil {
		t.Fatal(err)
	}
	if reads := h.ObjectsRead() - before; reads < 300 {
		t.Fatalf("the path without the tree read %d objects: the tree's count above proves nothing", reads)
	}
}

// TestVerifiedTreeRefusesBadTags: every bad tag the tag path refuses is
// refused from the tree too, with the same message, and a good one passes
// both; a tree in memory whose hashes are wrong refuses no good tag.
func TestVerifiedTreeRefusesBadTags(t *testing.T) {
	mallory, _ := testKey(t, t.TempDir(), "mallory")
	l, h, chain, s := treeLedger(t, 6)
	tip := chain[5]
	vt := h.LoadVerifiedTree(tip)
	if vt == nil {
		t.Fatal("no stored tree")
	}
	r, _ := l.NewReaderAt(tip)
	leaves, _ := LeafHashes(r, 0, 6)
	good4 := goodTag(t, l, s, chain, 4)
	cases := []struct {
		name string
		size uint64
		id   func() plumbing.Hash
		want string
	}{
		{"moved tag", 3, func() plumbing.Hash { return good4 }, "the tag was moved or forged"},
		{"root mismatch inside", 4, func() plumbing.Hash {
			return forgeTag(t, l, s, "alice", 4, chain[3], merkle.Checkpoint{Origin: testLedgerID, Size: 4, Root: merkle.LeafHash([]byte("forged"))})
		}, "does not match the ledger's root"},
		{"root mismatch at the tip", 6, func() plumbing.Hash {
			return forgeTag(t, l, s, "alice", 6, chain[5], merkle.Checkpoint{Origin: testLedgerID, Size: 6, Root: merkle.RootOf(leaves[:5])})
		}, "does not match the ledger's root"},
		{"size beyond the ledger", 50, func() plumbing.Hash {
			return forgeTag(t, l, s, "alice", 50, chain[5], merkle.Checkpoint{Origin: testLedgerID, Size: 50, Root: merkle.LeafHash(nil)})
		}, "claims 50 receipts, but the ledger has 6"},
		{"untrusted signer", 4, func() plumbing.Hash {
			return forgeTag(t, l, mallory, "mallory", 4, chain[3], merkle.Checkpoint{Origin: testLedgerID, Size: 4, Root: merkle.RootOf(leaves[:4])})
		}, "key mallory is not trusted"},
		{"other ledger's checkpoint", 4, func() plumbing.Hash {
			return forgeTag(t, l, s, "alice", 4, chain[3], merkle.Checkpoint{Origin: "example.com/other", Size: 4, Root: merkle.RootOf(leaves[:4])})
		}, "checkpoint origin"},
		{"checkpoint of another size", 4, func() plumbing.Hash {
			return forgeTag(t, l, s, "alice", 4, chain[3], merkle.Checkpoint{Origin: testLedgerID, Size: 5, Root: merkle.RootOf(leaves[:5])})
		}, "checkpoint size 5 in tag of size 4"},
		{"not a tag", 4, func() plumbing.Hash { return chain[3] }, "snapshot vmc/merkle/4"},
	}
	// A tree of the tip whose hashes are not the ledger's (as a damaged
	// store that somehow checked out would be).
	fake := merkle.NewStoredTree("")
	for i := 0; i < 6; i++ {
		fake.Append(merkle.LeafHash([]byte{byte(i)}))
	}
	bad := &VerifiedTree{commit: tip, ledger: testLedgerID, st: fake}
	seen := map[string]string{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := tc.id()
			want := h.VerifySnapshotTag(tip, tc.size, id)
			if want == nil || !strings.Contains(want.Error(), tc.want) {
				t.Fatalf("the tag path says %v, want %q", want, tc.want)
			}
			for _, tree := range []*VerifiedTree{vt, bad, nil} {
				_, err := h.VerifySnapshotTagTree(tip, tc.size, id, tree)
				if err == nil || err.Error() != want.Error() {
					t.Fatalf("from tree %p: %v, the tag path says %q", tree, err, want)
				}
				var se *SnapshotError
				if errors.As(want, &se) && !errors.As(err, &se) {
					t.Fatalf("from tree %p: %T, want a SnapshotError", tree, err)
				}
			}
			if other, dup := seen[want.Error()]; dup {
				t.Fatalf("same error as %s", other)
			}
			seen[want.Error()] = tc.name
		})
	}
	for _, size := range []uint64{4, 6} {
		id := goodTag(t, l, s, chain, size)
		for _, tree := range []*VerifiedTree{vt, bad, nil} {
			got, err := h.VerifySnapshotTagTree(tip, size, id, tree)
			if err != nil {
				t.Fatalf("good tag %d from tree %p: %v", size, tree, err)
			}
			// From the bad tree, the tag path decided; a tag of every
			// receipt gives the tree whose root matched it.
			if tree == bad && size == 6 {
				if got == nil || got == bad || !got.Changed() {
					t.Fatalf("good tag at the tip after a bad tree: tree %v", got)
				}
				if root, _ := got.st.Root(6); root != merkle.RootOf(leaves) {
					t.Fatal("the tree kept after the fallback is not the ledger's")
				}
			}
		}
	}
}

// TestVerifiedTreeStoreDamage: a hook-tree.json or tile that is garbage,
// tampered with or of another chain is not used (the tag is checked as
// without one, and still refused or accepted as it should be).
func TestVerifiedTreeStoreDamage(t *testing.T) {
	l, h, chain, s := treeLedger(t, 20)
	tip := chain[19]
	path := l.hookTreePath()
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rec hookTreeRecord
	if err := json.Unmarshal(good, &rec); err != nil || rec.Size != 20 || rec.Commit != tip.String() || rec.Ledger != testLedgerID {
		t.Fatalf("%s: %s (%v)", HookTreeFile, good, err)
	}
	edit := func(f func(*hookTreeRecord)) []byte {
		r := rec
		f(&r)
		b, _ := json.Marshal(r)
		return b
	}
	r, _ := l.NewReaderAt(tip)
	leaves, _ := LeafHashes(r, 0, 20)
	goodID := goodTag(t, l, s, chain, 20)
	badID := forgeTag(t, l, s, "alice", 20, tip, merkle.Checkpoint{Origin: testLedgerID, Size: 20, Root: leaves[3]})
	tiles := filepath.Join(l.tileDir(), "tile")
	cases := []struct {
		name   string
		damage func()
		want   string // in loadVerifiedTree's error
	}{
		{"garbage", func() { os.WriteFile(path, []byte("\x00\xffnot json"), 0o644) }, HookTreeFile},
		{"empty", func() { os.WriteFile(path, nil, 0o644) }, HookTreeFile},
		{"too large", func() { os.WriteFile(path, append(good, make([]byte, maxHookTreeFile)...), 0o644) }, "more than"},
		{"unknown field", func() {
			os.WriteFile(path, []byte(strings.Replace(string(good), `"v":1`, `"v":1,"trusted":true`, 1)), 0o644)
		}, "unknown field"},
		{"other version", func() { os.WriteFile(path, edit(func(r *hookTreeRecord) { r.V = 2 }), 0o644) }, "version 2"},
		{"size zero", func() { os.WriteFile(path, edit(func(r *hookTreeRecord) { r.Size = 0 }), 0o644) }, "size 0"},
		{"other commit", func() { os.WriteFile(path, edit(func(r *hookTreeRecord) { r.Commit = chain[18].String() }), 0o644) }, "not of " + tip.String()},
		{"bad commit id", func() { os.WriteFile(path, edit(func(r *hookTreeRecord) { r.Commit = "tip" }), 0o644) }, HookTreeFile},
		{"other size", func() { os.WriteFile(path, edit(func(r *hookTreeRecord) { r.Size = 19 }), 0o644) }, "19 receipts"},
		{"other ledger", func() { os.WriteFile(path, edit(func(r *hookTreeRecord) { r.Ledger = "example.com/other" }), 0o644) }, "example.com/other"},
		{"other root", func() { os.WriteFile(path, edit(func(r *hookTreeRecord) { r.Root = leaves[0] }), 0o644) }, "no stored tiles"},
		{"tampered tile", func() {
			filepath.Walk(tiles, func(p string, fi os.FileInfo, err error) error {
				if err == nil && !fi.IsDir() {
					b, _ := os.ReadFile(p)
					b[len(b)-1] ^= 1
					os.WriteFile(p, b, 0o644)
				}
				return nil
			})
		}, "no stored tiles"},
		{"tiles removed", func() { os.RemoveAll(tiles) }, "no stored tiles"},
		{"tree of another last receipt", func() {
			// A record and tiles consistent with each other, of leaves
			// whose last is not receipt 19's.
			st := merkle.NewStoredTree(l.tileDir())
			for _, x := range leaves[:19] {
				st.Append(x)
			}
			st.Append(leaves[0])
			root, _ := st.Root(20)
			os.RemoveAll(tiles)
			if err := st.Save(); err != nil {
				t.Fatal(err)
			}
			os.WriteFile(path, edit(func(r *hookTreeRecord) { r.Root = root }), 0o644)
		}, "leaf 19 is not the hash of receipt 19"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The good store back first.
			_, vt, err := l.VerifyUpdateTree(plumbing.ZeroHash, tip, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			os.RemoveAll(tiles)
			if err := l.SaveVerifiedTree(vt); err != nil {
				t.Fatal(err)
			}
			if h.LoadVerifiedTree(tip) == nil {
				t.Fatal("good store not loaded")
			}
			tc.damage()
			got, err := h.loadVerifiedTree(tip)
			if got != nil || err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("damaged store: tree %v, %v; want an error saying %q", got, err, tc.want)
			}
			if h.LoadVerifiedTree(tip) != nil {
				t.Fatal("LoadVerifiedTree took a damaged store")
			}
			if _, err := h.VerifySnapshotTagTree(tip, 20, badID, nil); err == nil || !strings.Contains(err.Error(), "does not match the ledger's root") {
				t.Fatalf("bad tag with a damaged store: %v", err)
			}
			if _, err := h.VerifySnapshotTagTree(tip, 20, goodID, nil); err != nil {
				t.Fatalf("good tag with a damaged store: %v", err)
			}
		})
	}
}

// TestVerifyUpdateTree: a verified update extends the tree of its old tip
// (and only that tree) with the new receipts; without one, or when the
// update is refused, there is no tree.
func TestVerifyUpdateTree(t *testing.T) {
	l, s, _ := newLedger(t, 4)
	tip0, _ := l.Tip()
	_, vt0, err := l.VerifyUpdateTree(plumbing.ZeroHash, tip0.Commit, nil, nil)
	if err != nil || vt0 == nil || vt0.Size() != 5 {
		t.Fatalf("from genesis: %v, %v", vt0, err)
	}
	if err := l.SaveVerifiedTree(vt0); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		appendManual(t, l, s, "alice", "more")
	}
	tip1, _ := l.Tip()
	r, _ := l.NewReaderAt(tip1.Commit)
	leaves, _ := LeafHashes(r, 0, 8)
	// No tree of old, or the tree of another commit: none of new.
	if _, vt, err := l.VerifyUpdateTree(tip0.Commit, tip1.Commit, nil, nil); err != nil || vt != nil {
		t.Fatalf("without the tree of old: %v, %v", vt, err)
	}
	other := l.LoadVerifiedTree(tip0.Commit)
	other.commit = tip1.Commit
	if _, vt, err := l.VerifyUpdateTree(tip0.Commit, tip1.Commit, nil, other); err != nil || vt != nil {
		t.Fatalf("with another commit's tree: %v, %v", vt, err)
	}
	// A refused update: its error, no tree.
	if _, vt, err := l.VerifyUpdateTree(tip1.Commit, tip0.Commit, nil, l.LoadVerifiedTree(tip0.Commit)); err == nil || vt != nil || !errors.Is(err, ErrNotFastForward) {
		t.Fatalf("a rollback: %v, %v", vt, err)
	}
	vt, rep := (*VerifiedTree)(nil), (*Report)(nil)
	if rep, vt, err = l.VerifyUpdateTree(tip0.Commit, tip1.Commit, nil, l.LoadVerifiedTree(tip0.Commit)); err != nil || vt == nil {
		t.Fatalf("extending the tree of old: %v, %v", vt, err)
	}
	if rep.Checked != 3 || vt.Size() != 8 || vt.Commit() != tip1.Commit || !vt.Changed() {
		t.Fatalf("extended tree: %d receipts of %s (checked %d)", vt.Size(), vt.Commit(), rep.Checked)
	}
	if root, err := vt.st.Root(8); err != nil || root != merkle.RootOf(leaves) {
		t.Fatalf("extended root: %v", err)
	}
	// Not saved: the store still holds the old tip's tree.
	if l.LoadVerifiedTree(tip1.Commit) != nil || l.LoadVerifiedTree(tip0.Commit) == nil {
		t.Fatal("the tree was stored before SaveVerifiedTree")
	}
	if err := l.SaveVerifiedTree(vt); err != nil {
		t.Fatal(err)
	}
	got := l.LoadVerifiedTree(tip1.Commit)
	if got == nil || got.Size() != 8 || got.Changed() {
		t.Fatal("saved tree not loaded")
	}
	if root, _ := got.st.Root(8); root != merkle.RootOf(leaves) {
		t.Fatal("saved root differs")
	}
}

// TestHookTreeThroughPush: through git pushes into an origin with the
// installed hook, the push of the ledger branch leaves the hook's tree of
// its tip there and the next push extends it; a tag is checked from it (a
// forged one refused with the tag path's message); a push refused as a
// whole leaves the tree as it was; a damaged tree file costs time, and the
// next tag on the tip makes a good one.
func TestHookTreeThroughPush(t *testing.T) {
	f := newHookFixture(t)
	x, origin := f.clone(t)
	ref := x.ref()
	treeIs := func(size uint64, commit string) {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(origin, filepath.FromSlash(HookTreeFile)))
		if err != nil {
			t.Fatal(err)
		}
		var rec hookTreeRecord
		if err := json.Unmarshal(b, &rec); err != nil || rec.Size != size || rec.Commit != commit || rec.Ledger != testLedgerID {
			t.Fatalf("origin's %s: %s (%v); want %d receipts up to %s", HookTreeFile, b, err, size, commit)
		}
	}
	tagTip := func() {
		t.Helper()
		f.runVmc(t, x.dir, "merkle", "receipts", "--tag", "--key", x.k.path["alice"], "--kid", "alice", "--out", filepath.Join(t.TempDir(), "merkle.json"))
	}
	alice := x.k.signer["alice"]
	x.mustPush("origin", ref+":"+ref)
	treeIs(5, x.chain[4])
	appendManual(t, x.l, alice, "alice", "six")
	w := appendManual(t, x.l, alice, "alice", "seven")
	x.mustPush("origin", ref+":"+ref)
	treeIs(7, w.Commit.String())

	tag5 := SnapshotTagRef(5).String()
	x.forgeSnapshotTag(5, merkle.LeafHash([]byte("forged")))
	x.pushRefused(origin, tag5, "does not match the ledger's root", "origin", tag5)
	// The ledger and a bad ref in one push: refused as a whole (the ledger
	// update itself passed), the tree stays that of the origin's tip.
	w8 := appendManual(t, x.l, alice, "alice", "eight")
	x.git(nil, "tag", "-d", merkle.TagName(5))
	x.git(nil, "update-ref", "refs/tags/vmc/ledger", x.chain[0])
	x.pushRefused(origin, "refs/tags/vmc/ledger", "is reserved", "origin", ref+":"+ref, "refs/tags/vmc/ledger")
	if got := revAt(origin, ref); got != w.Commit.String() {
		t.Fatalf("origin's ledger moved to %s in a refused push", got)
	}
	treeIs(7, w.Commit.String())
	x.git(nil, "update-ref", "-d", "refs/tags/vmc/ledger")
	// The ledger and a good tag of its tip in one push.
	tagTip()
	x.mustPush("origin", ref+":"+ref, SnapshotTagRef(8).String())
	treeIs(8, w8.Commit.String())

	// A damaged tree file: the next push cannot extend it, and the tag of
	// the tip after it is checked from tag 8's tiles, then makes the tree.
	os.WriteFile(filepath.Join(origin, filepath.FromSlash(HookTreeFile)), []byte("{garbage"), 0o644)
	w9 := appendManual(t, x.l, alice, "alice", "nine")
	x.mustPush("origin", ref+":"+ref)
	if b, _ := os.ReadFile(filepath.Join(origin, filepath.FromSlash(HookTreeFile))); string(b) != "{garbage" {
		t.Fatalf("a push without a tree of its old tip wrote one: %s", b)
	}
	tagTip()
	x.mustPush("origin", SnapshotTagRef(9).String())
	treeIs(9, w9.Commit.String())
	// The clients' pre-push hook ran the same checks on every push, and
	// kept no tree: only the server's hook writes one.
	if _, err := os.Stat(filepath.Join(x.l.GitDir, filepath.FromSlash(HookTreeFile))); !os.IsNotExist(err) {
		t.Fatalf("the client's pre-push hook wrote %s: %v", HookTreeFile, err)
	}
}
