package gitledger

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vmc-git/vmc-git/receipt"
)

// clock returns a clock that starts at t0 and advances a second a call.
func clock(t0 time.Time) func() time.Time {
	n := 0
	return func() time.Time { n++; return t0.Add(time.Duration(n) * time.Second) }
}

func TestGenerateVerifies(t *testing.T) {
	l, s, dir := newLedger(t, 0)
	w, err := Generate(l, s, "alice", 300, GenerateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if w.Seq != 300 {
		t.Fatalf("last seq %d, want 300", w.Seq)
	}
	rep, err := l.Verify(VerifyOptions{Signatures: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Receipts != 301 || rep.Head.Seq != 300 || rep.Commit != w.Commit.String() {
		t.Fatalf("report %+v", rep)
	}
	run(t, dir, "git", "fsck", "--full", "--strict", "--no-dangling")
	// Everything but the genesis (appended: a small pack of its own) is in
	// the one pack: 8 objects a receipt.
	packs, _ := filepath.Glob(filepath.Join(dir, ".git", "objects", "pack", "pack-*.idx"))
	if len(packs) != 2 {
		t.Fatalf("%d packs", len(packs))
	}
	if a, b := fileSize(t, packs[0]), fileSize(t, packs[1]); a < b {
		packs[0] = packs[1]
	}
	if out := run(t, dir, "git", "verify-pack", "-v", packs[0]); !strings.Contains(out, "non delta: ") || !strings.Contains(out, "chain length = 1:") {
		t.Fatalf("verify-pack: no delta chains\n%s", out[max(0, len(out)-500):])
	}
	// The same tree layout as Append: every receipt and .sig, HEAD.json, keys/.
	names := strings.Fields(run(t, dir, "git", "ls-tree", "-r", "--name-only", "vmc/ledger"))
	if len(names) != 2*301+3 || names[0] != HeadFile || names[len(names)-1] != receipt.PathIn(receipt.DefaultFormat, 300)+receipt.SigSuffix {
		t.Fatalf("tree: %d names, first %s, last %s", len(names), names[0], names[len(names)-1])
	}
	// Appending on top of a generated ledger reads the pack.
	appendManual(t, l, s, "alice", "after generate")
	if _, err := l.Verify(VerifyOptions{Signatures: true}); err != nil {
		t.Fatal(err)
	}
}

// TestGenerateMatchesAppend: with the same clock, Generate writes the very
// commits Append does (Ed25519 signatures are deterministic), across a
// receipts/AAA/BBB shard boundary.
func TestGenerateMatchesAppend(t *testing.T) {
	if testing.Short() {
		t.Skip("1100 fsynced appends")
	}
	const n = 1100
	l1, s, dir1 := newLedger(t, 0)
	dir2 := t.TempDir()
	if err := os.CopyFS(dir2, os.DirFS(dir1)); err != nil {
		t.Fatal(err)
	}
	l2, err := Open(dir2, "")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().Add(time.Hour)

	w1, err := Generate(l1, s, "alice", n, GenerateOptions{Summary: "maintenance", Now: clock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	now := clock(t0)
	build := func(*Tip) (*Draft, error) {
		return &Draft{Receipt: receipt.Receipt{Kind: receipt.KindManual, Summary: "maintenance", Manual: &receipt.Manual{}}}, nil
	}
	var w2 *Written
	for i := 0; i < n; i++ {
		tip, err := l2.Tip()
		if err != nil {
			t.Fatal(err)
		}
		if w2, err = l2.appendOnce(tip, s, "alice", build, now()); err != nil {
			t.Fatal(err)
		}
	}
	if w1.Commit != w2.Commit {
		t.Fatalf("generated tip %s, appended tip %s", w1.Commit, w2.Commit)
	}
	for _, c := range []string{"vmc/ledger~0", "vmc/ledger~100", "vmc/ledger~" + strconv.Itoa(n-1)} {
		if a, b := run(t, dir1, "git", "rev-parse", c), run(t, dir2, "git", "rev-parse", c); a != b {
			t.Fatalf("%s: %s vs %s", c, a, b)
		}
	}
	if _, err := l1.Verify(VerifyOptions{Signatures: true}); err != nil {
		t.Fatal(err)
	}
	run(t, dir1, "git", "fsck", "--full", "--strict", "--no-dangling")
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
