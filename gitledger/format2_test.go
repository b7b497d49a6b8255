package gitledger

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vmc-git/vmc-git/receipt"
)

// TestFormats: a ledger keeps its genesis's format; both verify, with the
// receipts where receipt.PathIn says; a commit in the other format is
// refused.
func TestFormats(t *testing.T) {
	for _, f := range []int{receipt.Format1, receipt.Format2} {
		l, s, dir := newLedgerIn(t, f, 0)
		if _, err := Generate(l, s, "alice", 25, GenerateOptions{}); err != nil {
			t.Fatal(err)
		}
		appendManual(t, l, s, "alice", "appended")
		tip, err := l.Tip()
		if err != nil || tip.Head.V != f || tip.Head.Path != receipt.PathIn(f, 26) {
			t.Fatalf("format %d: tip head %+v, %v", f, tip.Head, err)
		}
		if _, err := l.Verify(VerifyOptions{Signatures: true}); err != nil {
			t.Fatalf("format %d: %v", f, err)
		}
		for _, seq := range []uint64{0, 9, 10, 26} {
			if out := run(t, dir, "git", "cat-file", "-t", "vmc/ledger:"+receipt.PathIn(f, seq)+receipt.SigSuffix); strings.TrimSpace(out) != "blob" {
				t.Fatalf("format %d: receipt %d .sig: %s", f, seq, out)
			}
		}
		// A commit that writes the other format on top: refused.
		other := receipt.Format2
		if f == receipt.Format2 {
			other = receipt.Format1
		}
		tip.Head.V = other
		_, err = l.appendOnce(tip, s, "alice", func(*Tip) (*Draft, error) {
			return &Draft{Receipt: receipt.Receipt{Kind: receipt.KindManual, Summary: "switch", Manual: &receipt.Manual{}}}, nil
		}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		_, err = l.Verify(VerifyOptions{Signatures: true})
		var ve *VerifyError
		if !errors.As(err, &ve) || ve.Seq != 27 || (ve.Rule != RuleTree && ve.Rule != RuleHead) {
			t.Fatalf("format %d then %d: %v", f, other, err)
		}
	}
	// An unknown format is refused by Init.
	l, s, _ := newLedgerIn(t, receipt.Format2, 0)
	l2, _ := Open(l.GitDir, "other")
	l2.Format = 3
	if _, err := l2.Init(testLedgerID, s, "alice", receipt.Genesis{}, time.Now()); err == nil {
		t.Fatal("format 3 accepted")
	}
}
