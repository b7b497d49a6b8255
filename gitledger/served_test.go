package gitledger

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestVerifyServedPack: a ledger as a server's maintenance leaves it (README
// "Serving a large ledger": git repack -a -d -f with hook install's serving
// config, then git gc) has a bitmap, a commit-graph, and commits, receipts
// and signatures stored as deltas against their neighbours, which neither
// Append nor Generate writes. Verify reads it, and appends on top of it.
func TestVerifyServedPack(t *testing.T) {
	l, s, dir := newLedger(t, 0)
	if _, err := Generate(l, s, "alice", 300, GenerateOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg := []string{"-c", "repack.writeBitmaps=true", "-c", "gc.writeCommitGraph=true"}
	run(t, dir, "git", append(cfg, "repack", "-a", "-d", "-f", "-q")...)
	run(t, dir, "git", append(cfg, "gc", "-q")...)
	if bm, _ := filepath.Glob(filepath.Join(dir, ".git", "objects", "pack", "*.bitmap")); len(bm) != 1 {
		t.Fatalf("%d bitmaps after repack and gc", len(bm))
	}
	deltas := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(run(t, dir, "git", "cat-file", "--batch-all-objects", "--batch-check=%(objecttype) %(deltabase)")), "\n") {
		if typ, base, ok := strings.Cut(line, " "); ok && strings.Trim(base, "0") != "" {
			deltas[typ]++
		}
	}
	if deltas["commit"] == 0 || deltas["blob"] == 0 || deltas["tree"] == 0 {
		t.Fatalf("deltas by type after git repack -f: %v; want commits, blobs and trees among them", deltas)
	}
	l2, err := Open(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := l2.Verify(VerifyOptions{Signatures: true, Full: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Receipts != 301 || rep.Head.Seq != 300 {
		t.Fatalf("report %+v", rep)
	}
	w := appendManual(t, l2, s, "alice", "after the server's gc")
	rep, err = l2.Verify(VerifyOptions{Signatures: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Head.Seq != w.Seq {
		t.Fatalf("verified head %d, want %d", rep.Head.Seq, w.Seq)
	}
}
