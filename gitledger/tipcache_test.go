package gitledger

import (
	"testing"

	"github.com/vmc-git/vmc-git/internal/trace"
	"github.com/vmc-git/vmc-git/keys"
)

// TestTipCache: Tip reads a commit's tip once and reuses it while the ref
// stays; a moved ref (an append, a reset by another git) is read again, and
// a reset back to a commit read lately is answered from memory with that
// commit's tip, never another's.
func TestTipCache(t *testing.T) {
	x := newScenario(t, now(), oneAdmin, func(x *scenario) []keys.KeySpec {
		return []keys.KeySpec{x.spec("alice", "alice", keys.RoleAdmin, keys.RoleApplier, keys.RoleApprover)}
	})
	reads := func(f func()) int64 {
		before := trace.Read()
		f()
		return trace.Read().Sub(before).TipReads
	}
	var t0, t1 *Tip
	if n := reads(func() { t0 = x.tip(); x.tip() }); n > 1 {
		t.Errorf("two Tip calls on one ref: %d reads, want at most 1", n)
	}
	x.mustAppend("alice", "alice", manual("one"))
	if n := reads(func() { t1 = x.tip(); x.tip() }); n != 1 {
		t.Errorf("Tip after an append: %d reads, want 1 (the ref moved)", n)
	}
	if t1.Head.Seq != 1 || t1.Commit == t0.Commit {
		t.Fatalf("tip after the append: seq %d at %s", t1.Head.Seq, t1.Commit)
	}
	run(t, x.dir, "git", "update-ref", x.l.Ref.String(), t0.Commit.String())
	var back *Tip
	if n := reads(func() { back = x.tip() }); n != 0 || back.Commit != t0.Commit || back.Head.Seq != 0 {
		t.Errorf("reset to genesis: %d reads, seq %d at %s; want 0 reads, seq 0 at %s", n, back.Head.Seq, back.Commit, t0.Commit)
	}
	// Another handle on the same repository has its own memory.
	l2, err := Open(x.dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if n := reads(func() { l2.Tip() }); n != 1 {
		t.Errorf("a new handle: %d reads, want 1", n)
	}
}
