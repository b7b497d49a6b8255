package gitobj

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

// looseFiles lists the files under objects/xx/ (temporary ones included).
func looseFiles(t *testing.T, objects string) []string {
	t.Helper()
	var out []string
	ms, _ := filepath.Glob(filepath.Join(objects, "??", "*"))
	for _, m := range ms {
		rel, _ := filepath.Rel(objects, m)
		out = append(out, rel)
	}
	return out
}

// TestBatch: objects of a batch are invisible (only temporary files) until
// Flush, then git reads each under its id; an object already packed or
// put twice is written once; Abort leaves nothing; a used batch refuses
// more writes.
func TestBatch(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "r.git")
	run(t, "", "git", "init", "-q", "--bare", repo)
	objects := filepath.Join(repo, "objects")
	// One object already in a pack.
	packed := strings.TrimSpace(run(t, repo, "sh", "-c", "printf packed | git hash-object -w --stdin"))
	run(t, repo, "sh", "-c", "echo "+packed+" | git pack-objects -q objects/pack/pack >/dev/null && git prune-packed")
	if fs := looseFiles(t, objects); len(fs) != 0 {
		t.Fatalf("loose after packing: %v", fs)
	}
	s := &Store{ObjectsDir: objects}

	b := s.NewBatch()
	ids := map[string]string{}
	for _, c := range []string{"one", "two", "one", "packed"} {
		id, err := b.Put(plumbing.BlobObject, []byte(c))
		if err != nil {
			t.Fatal(err)
		}
		ids[c] = id.String()
	}
	if ids["packed"] != packed {
		t.Fatalf("id of packed blob %s, git says %s", ids["packed"], packed)
	}
	if b.Len() != 2 {
		t.Fatalf("batch writes %d objects, want 2 (one duplicate, one packed)", b.Len())
	}
	for _, f := range looseFiles(t, objects) {
		if !strings.Contains(f, "tmp_obj_") {
			t.Fatalf("%s visible before Flush", f)
		}
	}
	if out, err := runErr(repo, "git", "cat-file", "-e", ids["one"]); err == nil {
		t.Fatalf("git sees the object before Flush: %s", out)
	}
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"one", "two"} {
		if got := run(t, repo, "git", "cat-file", "blob", ids[c]); got != c {
			t.Fatalf("git reads %q for %s, want %q", got, ids[c], c)
		}
	}
	fs := looseFiles(t, objects)
	if len(fs) != 2 {
		t.Fatalf("after Flush: %v, want the two objects and no temporary file", fs)
	}
	if _, err := b.Put(plumbing.BlobObject, []byte("three")); err == nil {
		t.Fatal("a flushed batch accepted another object")
	}
	if err := b.Flush(); err == nil {
		t.Fatal("a batch flushed twice")
	}

	a := s.NewBatch()
	if _, err := a.Put(plumbing.BlobObject, []byte("aborted")); err != nil {
		t.Fatal(err)
	}
	a.Abort()
	if got := looseFiles(t, objects); len(got) != 2 {
		t.Fatalf("after Abort: %v", got)
	}
	// An object already loose is not written again.
	c := s.NewBatch()
	if _, err := c.Put(plumbing.BlobObject, []byte("two")); err != nil || c.Len() != 0 {
		t.Fatalf("loose object written again: %d, %v", c.Len(), err)
	}
	c.Abort()
}

func runErr(dir, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestCASRefAfter: the ref moves to a batch's commit only after the
// batch's wait returned nil; an error from it leaves the ref and no lock.
func TestCASRefAfter(t *testing.T) {
	dir := t.TempDir()
	run(t, dir, "git", "init", "-q")
	repo, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	gitDir := filepath.Join(dir, ".git")
	s := &Store{ObjectsDir: filepath.Join(gitDir, "objects")}
	b := s.NewBatch()
	id, err := b.Put(plumbing.BlobObject, []byte("named by the ref"))
	if err != nil {
		t.Fatal(err)
	}
	wait, err := b.FlushStart()
	if err != nil {
		t.Fatal(err)
	}
	name := plumbing.ReferenceName("refs/vmc/test")
	lock := filepath.Join(gitDir, "refs", "vmc", "test.lock")
	called := false
	failing := func() error {
		called = true
		if _, err := os.Stat(lock); err != nil {
			t.Errorf("before called without the lock file: %v", err)
		}
		return errors.New("objects not durable")
	}
	if err := CASRefAfter(gitDir, repo.Storer, name, plumbing.ZeroHash, id, failing); err == nil || !called {
		t.Fatalf("failing before: err %v, called %v", err, called)
	}
	if _, err := repo.Storer.Reference(name); err == nil {
		t.Fatal("ref created although before failed")
	}
	if _, err := os.Stat(lock); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("lock file left: %v", err)
	}
	if err := CASRefAfter(gitDir, repo.Storer, name, plumbing.ZeroHash, id, wait); err != nil {
		t.Fatal(err)
	}
	if err := wait(); err != nil {
		t.Fatalf("wait again: %v", err)
	}
	if got := run(t, dir, "git", "cat-file", "blob", "refs/vmc/test"); got != "named by the ref" {
		t.Fatalf("git reads %q through the ref", got)
	}
}
