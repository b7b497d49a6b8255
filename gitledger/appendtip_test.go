package gitledger

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/internal/trace"
)

// TestAppendKeepsTip: an Append starts from the tip the previous Append of
// the same Ledger made, without reading it back, while the ref still names
// it; once another writer moved the ref it reads the new tip; the chain
// verifies either way and every object is loose, complete and fsynced into
// place (no temporary file is left behind).
func TestAppendKeepsTip(t *testing.T) {
	l, s, dir := newLedger(t, 1)
	before := trace.Read()
	appendManual(t, l, s, "alice", "second")
	if got := trace.Read().Sub(before).TipReads; got != 0 {
		t.Fatalf("append after an append read the tip %d times, want 0", got)
	}
	other, err := Open(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	appendManual(t, other, s, "alice", "by another writer")
	before = trace.Read()
	w := appendManual(t, l, s, "alice", "after the other writer")
	if got := trace.Read().Sub(before).TipReads; got != 1 {
		t.Fatalf("append after the ref moved read the tip %d times, want 1", got)
	}
	if w.Seq != 4 {
		t.Fatalf("seq %d, want 4 (on top of the other writer's receipt)", w.Seq)
	}
	if _, err := l.Verify(VerifyOptions{Signatures: true}); err != nil {
		t.Fatal(err)
	}
	run(t, dir, "git", "fsck", "--strict", "--no-dangling")
	if tmps, _ := filepath.Glob(filepath.Join(dir, ".git", "objects", "??", "tmp_obj_*")); len(tmps) != 0 {
		t.Fatalf("temporary object files left: %s", strings.Join(tmps, " "))
	}
}
