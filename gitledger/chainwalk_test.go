package gitledger

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/receipt"
)

// withWalkStride makes verification walk chains in segments of n commits
// for the rest of a (not parallel) test.
func withWalkStride(t *testing.T, n uint64) {
	old := walkStride
	walkStride = n
	t.Cleanup(func() { walkStride = old })
}

// withWalkKeep makes the first walk keep at most n bytes of whole commits
// for the rest of a (not parallel) test.
func withWalkKeep(t *testing.T, n int) {
	old := walkKeepBytes
	walkKeepBytes = n
	t.Cleanup(func() { walkKeepBytes = old })
}

// TestTamperSegmentsNotKept runs every tamper case with the chain in
// segments of 2 and no commit kept by the first walk (every segment read
// again, as a chain longer than walkKeepBytes is), and with about three
// commits kept (the newest segment, the rest read again): the same rules
// and messages as when the whole chain is kept.
func TestTamperSegmentsNotKept(t *testing.T) {
	withWalkStride(t, 2)
	for _, keep := range []int{0, 2500} {
		t.Run(fmt.Sprint(keep), func(t *testing.T) {
			withWalkKeep(t, keep)
			runTamper(t, func(tc tamperCase) string { return tc.msg })
		})
	}
}

// TestTamperSegments runs every tamper case with the chain checked in
// segments of 2 commits (a real ledger's are 1024): the same rules and
// messages whatever segment a tamper falls in.
func TestTamperSegments(t *testing.T) {
	withWalkStride(t, 2)
	runTamper(t, func(tc tamperCase) string { return tc.msg })
}

// TestTamperSegmentsFormat2 is TestTamperSegments on a format-2 ledger.
func TestTamperSegmentsFormat2(t *testing.T) {
	withWalkStride(t, 3)
	TestTamperFormat2(t)
}

// TestChainWalk checks the segmented walk against the whole chain: length,
// root, every commit by seq, and Verify from any seq.
func TestChainWalk(t *testing.T) {
	l, _, _ := newLedger(t, 9) // 10 receipts
	tip, err := l.Tip()
	if err != nil {
		t.Fatal(err)
	}
	chain, err := l.Chain(tip.Commit)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		stride uint64
		keep   int
	}{{1, 8 << 20}, {3, 8 << 20}, {4, 8 << 20}, {10, 8 << 20}, {1024, 8 << 20}, {3, 0}, {3, 3000}, {4, 2500}, {1024, 0}} {
		stride := tc.stride
		t.Run(fmt.Sprint(stride, "/", tc.keep), func(t *testing.T) {
			withWalkStride(t, stride)
			withWalkKeep(t, tc.keep)
			w, err := l.walkChain(tip.Commit, true)
			if err != nil {
				t.Fatal(err)
			}
			if w.n != 10 || w.root != chain[0] {
				t.Fatalf("walk: %d commits from root %s, want 10 from %s", w.n, w.root, chain[0])
			}
			var all []string
			for j := len(w.marks) - 1; j >= 0; j-- {
				ids, raws, err := w.segment(j, true)
				if err != nil {
					t.Fatal(err)
				}
				for i, c := range ids {
					all = append(all, c.String())
					if raws[i] == nil {
						t.Fatalf("segment %d: no bytes for commit %s", j, c)
					}
				}
			}
			for seq, c := range chain {
				if got, err := w.at(uint64(seq)); err != nil || got != c {
					t.Fatalf("at(%d) = %s, %v; want %s", seq, got, err, c)
				}
				if all[seq] != c.String() {
					t.Fatalf("segments: commit %d is %s, want %s", seq, all[seq], c)
				}
			}
			if got := w.following(7, 1000); !slices.Equal(got, chain[7:]) {
				t.Fatalf("following(7) = %v, want %v", got, chain[7:])
			}
			if got := w.following(10, 1000); got != nil {
				t.Fatalf("following past the tip = %v", got)
			}
			for _, from := range []uint64{0, 1, 5, 9} {
				rep, err := l.Verify(VerifyOptions{Signatures: true, From: from})
				if err != nil {
					t.Fatalf("from %d: %v", from, err)
				}
				if rep.Checked != 10-from || rep.Receipts != 10 || rep.Commit != chain[9].String() {
					t.Fatalf("from %d: checked %d of %d up to %s", from, rep.Checked, rep.Receipts, rep.Commit)
				}
			}
		})
	}
}

// TestChainWalkReorderSegments: receipts reordered across a segment
// boundary are still named as coming later in the chain.
func TestChainWalkReorderSegments(t *testing.T) {
	withWalkStride(t, 2)
	k := newTamperKeys(t)
	x := newTamperLedger(t, k, testLedgerID, 8)
	// Drop receipt 3: receipts 4.. follow 2 directly.
	x.setTip(x.rechain(x.chain[2], x.tail(4)...))
	_, err := x.l.Verify(VerifyOptions{Signatures: true})
	var ve *VerifyError
	if !errors.As(err, &ve) || ve.Rule != RuleSeq || ve.Seq != 3 || !strings.Contains(err.Error(), "receipt 3 is missing (commit deleted)") {
		t.Fatalf("deleted receipt 3: %v", err)
	}
	// Swap receipts 3 and 4: 4 comes first, 3 later (in the next segment).
	x2 := newTamperLedger(t, k, testLedgerID, 8)
	ps := x2.tail(3)
	ps[0], ps[1] = ps[1], ps[0]
	x2.setTip(x2.rechain(x2.chain[2], ps...))
	_, err = x2.l.Verify(VerifyOptions{Signatures: true})
	if !errors.As(err, &ve) || ve.Rule != RuleSeq || ve.Seq != 3 || !strings.Contains(err.Error(), "receipt 3 comes later in the chain (commits reordered)") {
		t.Fatalf("swapped receipts 3 and 4: %v", err)
	}
}

// TestCompromiseInsideRun: one key signs a run of receipts; a compromise
// from a time in the middle of the run invalidates exactly those from
// then on (found by reading receipt times back, not kept one a receipt).
func TestCompromiseInsideRun(t *testing.T) {
	t0 := now().Add(-2 * time.Hour)
	x := newScenario(t, t0, oneAdmin, func(x *scenario) []keys.KeySpec {
		return []keys.KeySpec{x.spec("alice", "alice", keys.RoleAdmin, keys.RoleApplier, keys.RoleApprover),
			x.spec("carol", "carol", keys.RoleApplier)}
	})
	for i := 1; i <= 9; i++ { // receipts 1..9 by carol, 10 minutes apart
		d := manual(fmt.Sprintf("carol %d", i))
		d.Receipt.CreatedAt = keys.FormatTime(t0.Add(time.Duration(10*i) * time.Minute))
		x.mustAppend("carol", "carol", d)
	}
	from := keys.FormatTime(t0.Add(45 * time.Minute)) // after receipt 4, before 5
	p := x.proposal(receipt.KeysRevoke, "carol", nil)
	p.Reason, p.At = receipt.ReasonCompromised, from
	x.mustAppend("alice", "alice", keysDraft("revoke carol (compromised)", p, x.cosig("alice", "alice", p)))
	for _, stride := range []uint64{1024, 2} {
		withWalkStride(t, stride)
		rep, err := x.l.Verify(VerifyOptions{Signatures: true})
		if err != nil {
			t.Fatal(err)
		}
		var want []Invalidated
		for seq := uint64(5); seq <= 9; seq++ {
			want = append(want, Invalidated{Seq: seq, KID: "carol", RevokedBy: 10, Compromise: from})
		}
		if !slices.Equal(rep.Invalidated, want) {
			t.Fatalf("stride %d: invalidated %+v, want %+v", stride, rep.Invalidated, want)
		}
	}
}

// TestWalkKeepsCommits: a chain within walkKeepBytes is read once, the
// first walk's whole commits serving the check; without the budget every
// commit is read twice (its first bytes, then whole). Counted, not timed.
func TestWalkKeepsCommits(t *testing.T) {
	withWalkStride(t, 4)
	l, _, _ := newLedger(t, 9) // 10 receipts
	reads := func(keep int) int {
		withWalkKeep(t, keep)
		fresh, err := OpenGitDir(l.GitDir, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fresh.Verify(VerifyOptions{Signatures: true}); err != nil {
			t.Fatal(err)
		}
		return fresh.ObjectsRead()
	}
	kept, again := reads(8<<20), reads(0)
	if again-kept != 10 {
		t.Fatalf("verify read %d objects keeping the commits, %d reading them again: want 10 fewer", kept, again)
	}
}
