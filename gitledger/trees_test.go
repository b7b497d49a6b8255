package gitledger

import (
	"bytes"
	"testing"

	"github.com/vmc-git/vmc-git/internal/gitobj"
)

// TestLedgerTreesRoundTrip: the trees a real ledger writes parse strictly
// and re-encode to the same bytes (they were FuzzParseTree's seeds before
// the tree codec moved to internal/gitobj).
func TestLedgerTreesRoundTrip(t *testing.T) {
	l, _, _ := newLedger(t, 2)
	tip, err := l.Tip()
	if err != nil {
		t.Fatal(err)
	}
	for name, raw := range map[string][]byte{
		"root":     gitobj.EncodeTree(tip.trees.root),
		"receipts": gitobj.EncodeTree(tip.trees.receipts),
		"aaa":      tip.trees.aaaRaw,
		"bbb":      tip.trees.bbbRaw,
	} {
		es, err := gitobj.ParseTree(raw)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if again := gitobj.EncodeTree(es); !bytes.Equal(again, raw) {
			t.Fatalf("%s: re-encodes differently", name)
		}
	}
}
