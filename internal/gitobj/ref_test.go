package gitobj

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

// TestCASRef: a ref moves only from the value the writer saw, while no other
// writer holds git's lock, and real git reads the result.
func TestCASRef(t *testing.T) {
	dir := t.TempDir()
	run(t, dir, "git", "init", "-q")
	a := plumbing.NewHash(strings.TrimSpace(run(t, dir, "sh", "-c", "echo a | git hash-object -w --stdin")))
	b := plumbing.NewHash(strings.TrimSpace(run(t, dir, "sh", "-c", "echo b | git hash-object -w --stdin")))
	repo, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	gitDir := filepath.Join(dir, ".git")
	name := plumbing.ReferenceName("refs/vmc/test")
	if err := CASRef(gitDir, repo.Storer, name, plumbing.ZeroHash, a); err != nil {
		t.Fatalf("create: %v", err)
	}
	if err := CASRef(gitDir, repo.Storer, name, plumbing.ZeroHash, b); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("create again: %v", err)
	}
	if err := CASRef(gitDir, repo.Storer, name, b, a); !errors.Is(err, ErrRaced) {
		t.Fatalf("from a stale value: %v, want ErrRaced", err)
	}
	lock := filepath.Join(gitDir, "refs", "vmc", "test.lock")
	os.WriteFile(lock, nil, 0o644)
	if err := CASRef(gitDir, repo.Storer, name, a, b); !errors.Is(err, ErrRaced) {
		t.Fatalf("with the lock held: %v, want ErrRaced", err)
	}
	os.Remove(lock)
	if err := CASRef(gitDir, repo.Storer, name, a, b); err != nil {
		t.Fatalf("move: %v", err)
	}
	if got := strings.TrimSpace(run(t, dir, "git", "rev-parse", "refs/vmc/test")); got != b.String() {
		t.Fatalf("git sees %s, want %s", got, b)
	}
	if _, err := os.Stat(lock); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("lock file left: %v", err)
	}
}
