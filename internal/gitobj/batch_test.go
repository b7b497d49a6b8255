package gitobj

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

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
