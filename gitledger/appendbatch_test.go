package gitledger

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestAppendObjectsInPlace: appends by two writers on one repository (each
// receipt's objects written as one small pack, gitobj.PackBatch) chain on
// each other, the chain verifies, git fsck finds every object complete
// under its name, no loose object and no temporary file is left behind.
func TestAppendObjectsInPlace(t *testing.T) {
	l, s, dir := newLedger(t, 1)
	appendManual(t, l, s, "alice", "second")
	other, err := Open(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	appendManual(t, other, s, "alice", "by another writer")
	w := appendManual(t, l, s, "alice", "after the other writer")
	if w.Seq != 4 {
		t.Fatalf("seq %d, want 4 (on top of the other writer's receipt)", w.Seq)
	}
	if _, err := l.Verify(VerifyOptions{Signatures: true}); err != nil {
		t.Fatal(err)
	}
	run(t, dir, "git", "fsck", "--strict", "--no-dangling")
	if loose, _ := filepath.Glob(filepath.Join(dir, ".git", "objects", "??", "*")); len(loose) != 0 {
		t.Fatalf("loose or temporary object files: %s", strings.Join(loose, " "))
	}
	if tmps, _ := filepath.Glob(filepath.Join(dir, ".git", "objects", "pack", "tmp_*")); len(tmps) != 0 {
		t.Fatalf("temporary pack files left: %s", strings.Join(tmps, " "))
	}
}
