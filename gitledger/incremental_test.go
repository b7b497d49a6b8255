package gitledger

import (
	"os"
	"strings"
	"testing"
)

// reads verifies l (with signatures, remembering the head) and returns the
// report and the number of objects it read, in a handle opened for it (as
// by a vmc-git verify process: no tip remembered from l's appends).
func readsOfVerify(t *testing.T, l *Ledger, opt VerifyOptions) (*Report, int) {
	t.Helper()
	l, err := OpenGitDir(l.GitDir, strings.TrimPrefix(l.Ref.String(), "refs/heads/"))
	if err != nil {
		t.Fatal(err)
	}
	before := l.objs.Reads()
	rep, err := l.Verify(opt)
	if err != nil {
		t.Fatal(err)
	}
	return rep, l.objs.Reads() - before
}

// TestVerifyAfterKReadsOK: after a verified head, verify chain reads O(k)
// objects for k new receipts (counted), the same on a short and a ten times
// longer ledger, and says where it started; --full walks everything.
func TestVerifyAfterKReadsOK(t *testing.T) {
	opt := VerifyOptions{Signatures: true, Remember: true}
	reads := map[int]map[int]int{} // n -> k -> objects read
	for _, n := range []int{40, 400} {
		l, s, _ := newLedger(t, 0)
		if _, err := Generate(l, s, "alice", n-1, GenerateOptions{}); err != nil {
			t.Fatal(err)
		}
		rep, full := readsOfVerify(t, l, opt)
		if rep.Incremental || rep.Checked != uint64(n) {
			t.Fatalf("first verification: %+v", rep)
		}
		if full < 5*n {
			t.Fatalf("n=%d: the full walk read only %d objects", n, full)
		}
		reads[n] = map[int]int{}
		done := 0
		for _, k := range []int{0, 1, 10} {
			base := n + done // the last run remembered receipt base-1
			for i := 0; i < k; i++ {
				appendManual(t, l, s, "alice", "more")
			}
			done += k
			rep, got := readsOfVerify(t, l, opt)
			if !rep.Incremental || rep.From != uint64(base) || rep.Checked != uint64(k) || rep.Receipts != uint64(n+done) {
				t.Fatalf("n=%d k=%d: %+v", n, k, rep)
			}
			if rep.Remembered == nil || rep.Remembered.Seq != uint64(base-1) {
				t.Fatalf("n=%d k=%d: remembered %+v", n, k, rep.Remembered)
			}
			reads[n][k] = got
		}
		// --full checks everything again.
		rep, got := readsOfVerify(t, l, VerifyOptions{Signatures: true, Remember: true, Full: true})
		if rep.Incremental || rep.Checked != rep.Receipts || got < full {
			t.Fatalf("--full: %+v after %d reads", rep, got)
		}
	}
	for _, k := range []int{0, 1, 10} {
		if reads[40][k] != reads[400][k] {
			t.Errorf("k=%d: %d objects read on 40 receipts, %d on 400: not O(k)", k, reads[40][k], reads[400][k])
		}
	}
	// Per receipt a constant: the commit, its trees on the receipt's path,
	// HEAD.json, the receipt and its signature (and the walk back).
	per := reads[400][10] - reads[400][0]
	if per > 10*12 || reads[400][0] > 20 {
		t.Errorf("k=10 reads %d objects more than k=0 (%d): more than 12 per receipt", per, reads[400][0])
	}
	t.Logf("objects read: %v", reads)
}

// TestIncrementalFallsBack: the incremental start is never taken on trust
// where the record cannot vouch for what it skips.
func TestIncrementalFallsBack(t *testing.T) {
	opt := VerifyOptions{Signatures: true, Remember: true}
	l, s, _ := newLedger(t, 3)
	if _, err := l.Verify(opt); err != nil {
		t.Fatal(err)
	}
	appendManual(t, l, s, "alice", "more")
	// A record of an older version (no genesis blake3): the full walk.
	v, err := l.LoadVerified()
	if err != nil || v == nil || v.Genesis == nil {
		t.Fatalf("record %+v, %v", v, err)
	}
	old := *v
	v.Genesis = nil
	if err := l.saveVerified(*v); err != nil {
		t.Fatal(err)
	}
	if rep, err := l.Verify(opt); err != nil || rep.Incremental || rep.Checked != 5 {
		t.Fatalf("old record: %+v, %v", rep, err)
	}
	// Another pinned genesis than the recorded one: the full walk, and its error.
	if err := l.saveVerified(old); err != nil {
		t.Fatal(err)
	}
	pin := old.Blake3
	if _, err := l.Verify(VerifyOptions{Signatures: true, Remember: true, Genesis: &pin}); err == nil {
		t.Fatal("a wrong genesis pin passed")
	}
	// A remembered head that the branch does not extend: the fork error.
	if err := l.saveVerified(old); err != nil {
		t.Fatal(err)
	}
	tip, _ := l.Tip()
	bad := old
	bad.Commit = tip.Commit.String() // not the commit of receipt old.Seq
	if err := l.saveVerified(bad); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Verify(opt); err == nil {
		t.Fatal("a record naming another commit passed")
	}
	os.Remove(l.verifiedPath())
	if rep, err := l.Verify(opt); err != nil || rep.Incremental {
		t.Fatalf("no record: %+v, %v", rep, err)
	}
}
