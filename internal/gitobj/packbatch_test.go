package gitobj

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

// packFiles lists objects/pack (temporary files included).
func packFiles(t *testing.T, objects string) []string {
	t.Helper()
	ms, _ := filepath.Glob(filepath.Join(objects, "pack", "*"))
	for i, m := range ms {
		ms[i] = filepath.Base(m)
	}
	return ms
}

// TestPackBatch: the objects of a pack batch are invisible (no file at all)
// until Flush, then stock git and go-git read each under its id from one
// pack and its index, which git verify-pack and fsck accept; an object
// already stored or put twice is written once; Abort leaves nothing; a used
// batch refuses more writes.
func TestPackBatch(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "r.git")
	run(t, "", "git", "init", "-q", "--bare", repo)
	objects := filepath.Join(repo, "objects")
	loose := strings.TrimSpace(run(t, repo, "sh", "-c", "printf loose | git hash-object -w --stdin"))
	s := &Store{ObjectsDir: objects}

	a := s.NewPackBatch()
	if _, err := a.Put(plumbing.BlobObject, []byte("aborted")); err != nil {
		t.Fatal(err)
	}
	a.Abort()
	if fs := packFiles(t, objects); len(fs) != 0 {
		t.Fatalf("an aborted batch left %v", fs)
	}
	if _, err := a.Put(plumbing.BlobObject, []byte("x")); err == nil {
		t.Fatal("an aborted batch accepted another object")
	}

	b := s.NewPackBatch()
	ids := map[string]plumbing.Hash{}
	for _, c := range []string{"one", "two", "one", "loose", strings.Repeat("big ", 5000)} {
		id, err := b.Put(plumbing.BlobObject, []byte(c))
		if err != nil {
			t.Fatal(err)
		}
		ids[c] = id
	}
	if ids["loose"].String() != loose {
		t.Fatalf("id of the loose blob %s, git says %s", ids["loose"], loose)
	}
	tree := EncodeTree([]TreeEntry{{Mode: ModeFile, Name: "one", ID: ids["one"]}, {Mode: ModeFile, Name: "two", ID: ids["two"]}})
	tid, err := b.Put(plumbing.TreeObject, tree)
	if err != nil {
		t.Fatal(err)
	}
	if b.Len() != 4 {
		t.Fatalf("batch writes %d objects, want 4 (one duplicate, one already stored)", b.Len())
	}
	if fs := packFiles(t, objects); len(fs) != 0 {
		t.Fatalf("%v on disk before Flush", fs)
	}
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	fs := packFiles(t, objects)
	if len(fs) != 2 || !strings.HasSuffix(fs[0], ".idx") || !strings.HasSuffix(fs[1], ".pack") || strings.TrimSuffix(fs[0], ".idx") != strings.TrimSuffix(fs[1], ".pack") {
		t.Fatalf("after Flush: %v, want one pack and its index and no temporary file", fs)
	}
	for _, f := range fs {
		if fi, err := os.Stat(filepath.Join(objects, "pack", f)); err != nil || fi.Mode().Perm() != 0o444 {
			t.Fatalf("%s: %v, %v; want mode 0444 as git writes packs", f, fi.Mode(), err)
		}
	}
	run(t, repo, "git", "verify-pack", filepath.Join(objects, "pack", fs[0]))
	run(t, repo, "git", "fsck", "--strict")
	for _, c := range []string{"one", "two", strings.Repeat("big ", 5000)} {
		if got := run(t, repo, "git", "cat-file", "blob", ids[c].String()); got != c {
			t.Fatalf("git reads %.20q for %s, want %.20q", got, ids[c], c)
		}
	}
	if got := run(t, repo, "git", "ls-tree", "--name-only", tid.String()); got != "one\ntwo\n" {
		t.Fatalf("git ls-tree: %q", got)
	}
	r, err := git.PlainOpen(repo)
	if err != nil {
		t.Fatal(err)
	}
	if bl, err := r.BlobObject(ids["two"]); err != nil || bl.Size != 3 {
		t.Fatalf("go-git reads the blob: %v, %v", bl, err)
	}
	s2 := &Store{ObjectsDir: objects, Read: r.Storer}
	if got, err := s2.Get(ids["one"], plumbing.BlobObject); err != nil || string(got) != "one" {
		t.Fatalf("Store reads %q, %v", got, err)
	}
	if _, err := b.Put(plumbing.BlobObject, []byte("three")); err == nil {
		t.Fatal("a flushed batch accepted another object")
	}
	if _, err := b.FlushStart(); err == nil {
		t.Fatal("a flushed batch flushed again")
	}
}

// TestPackBatchMerges: appends of one pack each, read back in between as a
// ledger does, leave O(log n) packs, not n: every MergeFanIn packs of one
// level are absorbed by the next batch and removed once it is durable.
// Every object stays readable by the Store, git and go-git all along, and
// git fsck finds the repository complete. Packs the Store did not write
// are never merged or removed.
func TestPackBatchMerges(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "r.git")
	run(t, "", "git", "init", "-q", "--bare", repo)
	objects := filepath.Join(repo, "objects")
	// A pack that git wrote.
	run(t, repo, "sh", "-c", "printf gits | git hash-object -w --stdin | git pack-objects -q objects/pack/pack >/dev/null && git prune-packed")
	gitsPack := packFiles(t, objects)
	s := &Store{ObjectsDir: objects}
	const n = MergeFanIn*MergeFanIn + 3*MergeFanIn + 5
	var all []plumbing.Hash
	var parent plumbing.Hash
	maxPacks := 0
	for i := 0; i < n; i++ {
		b := s.NewPackBatch()
		for j := 0; j < 3; j++ {
			id, err := b.Put(plumbing.BlobObject, []byte(fmt.Sprintf("object %d.%d", i, j)))
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, id)
		}
		tree := EncodeTree([]TreeEntry{{Mode: ModeFile, Name: "f", ID: all[len(all)-1]}})
		tid, err := b.Put(plumbing.TreeObject, tree)
		if err != nil {
			t.Fatal(err)
		}
		c := CommitInfo{Tree: tid, Parent: parent, Ident: "t <t@t.invalid>", When: 1700000000 + int64(i), Message: fmt.Sprintf("c%d\n", i)}
		if parent, err = b.Put(plumbing.CommitObject, c.Encode(false)); err != nil {
			t.Fatal(err)
		}
		if err := b.Flush(); err != nil {
			t.Fatal(err)
		}
		// Read back what this and earlier batches wrote, as the next
		// append reads its tip.
		for _, id := range []plumbing.Hash{parent, all[0], all[len(all)/2]} {
			if _, _, err := s.getAny(id); err != nil {
				t.Fatalf("after batch %d: %s: %v", i, id, err)
			}
		}
		maxPacks = max(maxPacks, len(packFiles(t, objects))/2)
	}
	// About MergeFanIn^2 + 3 MergeFanIn appends: a pack of level 2, a few
	// of levels 1 and 0 (and git's own), not hundreds.
	if got := len(packFiles(t, objects)) / 2; got > 1+MergeFanIn {
		t.Fatalf("%d packs after %d batches, want at most %d: %v", got, n, 1+MergeFanIn, packFiles(t, objects))
	}
	if maxPacks > 2*MergeFanIn+1 {
		t.Fatalf("up to %d packs at once, want at most %d", maxPacks, 2*MergeFanIn+1)
	}
	for _, g := range gitsPack {
		if !strings.Contains(strings.Join(packFiles(t, objects), " "), g) {
			t.Fatalf("git's pack %s was removed", g)
		}
	}
	run(t, repo, "git", "update-ref", "refs/heads/main", parent.String())
	run(t, repo, "git", "fsck", "--strict", "--no-dangling")
	if got := strings.Count(run(t, repo, "git", "rev-list", "main"), "\n"); got != n {
		t.Fatalf("git lists %d commits, want %d", got, n)
	}
	fresh := &Store{ObjectsDir: objects}
	for _, id := range all {
		if _, _, err := fresh.getAny(id); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
	r, err := git.PlainOpen(repo)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.BlobObject(all[0]); err != nil {
		t.Fatalf("go-git: %v", err)
	}
}

// TestPackBatchMergeSkipsBadPack: a pack due for merging that fails its
// index's CRC-32 (a byte flipped on disk) is not copied into the next
// batch's pack and not removed; the batch writes its own objects all the
// same, says which pack it left, and the other packs are merged.
func TestPackBatchMergeSkipsBadPack(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "r.git")
	run(t, "", "git", "init", "-q", "--bare", repo)
	objects := filepath.Join(repo, "objects")
	s := &Store{ObjectsDir: objects}
	for i := 0; i < MergeFanIn; i++ {
		b := s.NewPackBatch()
		_, err := b.Put(plumbing.BlobObject, []byte(fmt.Sprintf("blob %d, long enough to be worth compressing", i)))
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	bad := s.written[0].base + ".pack"
	data, err := os.ReadFile(bad)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-25] ^= 0xff // inside the one object's compressed bytes
	os.Chmod(bad, 0o644)
	if err := os.WriteFile(bad, data, 0o444); err != nil {
		t.Fatal(err)
	}
	b := s.NewPackBatch()
	own, err := b.Put(plumbing.BlobObject, []byte("the merging batch's own"))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(); err != nil {
		t.Fatalf("a bad pack due for merging failed the batch: %v", err)
	}
	if len(b.Skipped()) != 1 || !strings.Contains(b.Skipped()[0].Error(), "CRC mismatch") {
		t.Fatalf("skipped: %v, want the one bad pack's CRC mismatch", b.Skipped())
	}
	if _, err := os.Stat(bad); err != nil {
		t.Fatalf("the bad pack was removed: %v", err)
	}
	if got := len(packFiles(t, objects)) / 2; got != 2 {
		t.Fatalf("%d packs, want 2 (the bad one, and the merged one)", got)
	}
	fresh := &Store{ObjectsDir: objects}
	if got, err := fresh.Get(own, plumbing.BlobObject); err != nil || string(got) != "the merging batch's own" {
		t.Fatalf("own object: %q, %v", got, err)
	}
	if out, err := runErr(repo, "git", "verify-pack", strings.TrimSuffix(bad, ".pack")+".idx"); err == nil {
		t.Fatalf("git verify-pack accepts the flipped pack: %s", out)
	}
}
