package gitledger

import (
	"errors"
	"testing"
)

// TestRewindVerified: an applier drops its own unpushed receipt (already
// verified and remembered) to write it again on a newer head. Without the
// rewind, verification would call that a rewritten history; with it, the
// remembered head moves back to where the branch meets it.
func TestRewindVerified(t *testing.T) {
	l, s, _ := newLedger(t, 3)
	if _, err := l.Verify(VerifyOptions{Signatures: true, Remember: true}); err != nil {
		t.Fatal(err)
	}
	tip, err := l.Tip()
	if err != nil {
		t.Fatal(err)
	}
	base, err := l.CommitOf(tip, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.casRef(tip.Commit, base); err != nil { // drop receipt 3
		t.Fatal(err)
	}
	appendManual(t, l, s, "alice", "another writer's receipt 3")
	appendManual(t, l, s, "alice", "ours again, as receipt 4")
	_, err = l.Verify(VerifyOptions{Signatures: true, Remember: true})
	var ve *VerifyError
	if !errors.As(err, &ve) || ve.Rule != RuleFork {
		t.Fatalf("without the rewind: %v, want a fork", err)
	}
	if err := l.RewindVerified(); err != nil {
		t.Fatal(err)
	}
	v, err := l.LoadVerified()
	if err != nil || v == nil || v.Seq != 2 || v.Commit != base.String() {
		t.Fatalf("remembered %+v %v, want receipt 2 at %s", v, err, base)
	}
	if _, err := l.Verify(VerifyOptions{Signatures: true, Remember: true}); err != nil {
		t.Fatal(err)
	}
	// On the branch already: nothing changes.
	if err := l.RewindVerified(); err != nil {
		t.Fatal(err)
	}
	if v2, _ := l.LoadVerified(); v2 == nil || v2.Seq != 4 {
		t.Fatalf("remembered %+v, want receipt 4", v2)
	}
}
