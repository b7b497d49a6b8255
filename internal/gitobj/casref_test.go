package gitobj

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

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
	b := s.NewPackBatch()
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
