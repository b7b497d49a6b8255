package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/merkle"
)

// TestIncrementalVerifyAndStoredProofs: the second verify chain checks only
// the new receipts and says from where; --full checks all; merkle prove and
// consistency, served from the stored hashes of the snapshot tag, give
// proofs that verify-proof accepts offline.
func TestIncrementalVerifyAndStoredProofs(t *testing.T) {
	r := newRepo(t, repoOpts{})
	for i := 0; i < 3; i++ {
		r.must("record", "--summary", "maintenance", "--key", key("alice"))
	}
	if out := r.must("verify", "chain", "--sig"); !strings.Contains(out, "checked 4 from seq 0") || strings.Contains(out, "from: the verified head") {
		t.Fatalf("first verify: %s", out)
	}
	snapDir := t.TempDir()
	snap4 := filepath.Join(snapDir, "merkle-4.json")
	r.must("merkle", "receipts", "--tag", "--key", key("alice"), "--out", snap4)
	if _, err := os.Stat(filepath.Join(r.root, ".git", "vmc", "tlog", "tile", "0", "000.p", "4")); err != nil {
		t.Fatalf("no stored hashes after the tag: %v", err)
	}
	r.must("record", "--summary", "one more", "--key", key("alice"))
	r.must("record", "--summary", "and another", "--key", key("alice"))
	out := r.must("verify", "chain", "--sig")
	if !strings.Contains(out, "checked 2 from seq 4") || !strings.Contains(out, "from: the verified head remembered in .git/vmc (receipt 3,") {
		t.Fatalf("incremental verify: %s", out)
	}
	if out := r.must("verify", "chain", "--sig", "--full"); !strings.Contains(out, "checked 6 from seq 0") {
		t.Fatalf("verify --full: %s", out)
	}
	// Inclusion in the tagged tree, checked offline.
	proof := filepath.Join(snapDir, "proof.json")
	os.WriteFile(proof, []byte(r.must("merkle", "prove", "2", "--size", "4")), 0o644)
	rc := filepath.Join(snapDir, "r2.json")
	os.WriteFile(rc, []byte(r.git("show", "refs/heads/vmc/ledger:receipts/000/00/00/0/000000002.json")), 0o644)
	if out := r.must("merkle", "verify-proof", proof, "--receipt", rc, "--checkpoint", snap4, "--key", key("alice")+".pub", "--kid", "alice"); !strings.HasPrefix(out, "ok: ") {
		t.Fatalf("verify-proof: %s", out)
	}
	// A proof in the tree of all 6 (tiles of 4 plus two receipts) and a
	// consistency proof 4 -> 6 against the next snapshot.
	snap6 := filepath.Join(snapDir, "merkle-6.json")
	r.must("merkle", "receipts", "--tag", "--key", key("alice"), "--out", snap6)
	os.WriteFile(proof, []byte(r.must("merkle", "prove", "5")), 0o644)
	os.WriteFile(rc, []byte(r.git("show", "refs/heads/vmc/ledger:receipts/000/00/00/0/000000005.json")), 0o644)
	if out := r.must("merkle", "verify-proof", proof, "--receipt", rc, "--checkpoint", snap6, "--key", key("alice")+".pub", "--kid", "alice"); !strings.HasPrefix(out, "ok: ") {
		t.Fatalf("verify-proof of 5 in 6: %s", out)
	}
	cons := r.must("merkle", "consistency", "4", "6")
	cp, err := merkle.ParseConsistencyProof([]byte(cons))
	if err != nil || cp.Size1 != 4 || cp.Size2 != 6 || cp.Verify() != nil {
		t.Fatalf("consistency: %v: %s", err, cons)
	}
	for _, c := range []struct {
		file string
		root merkle.Hash
	}{{snap4, cp.Root1}, {snap6, cp.Root2}} {
		b, _ := os.ReadFile(c.file)
		s, err := merkle.ParseSnapshot(b)
		if err != nil || s.Root != c.root {
			t.Fatalf("consistency root differs from %s: %v", c.file, err)
		}
	}
	// The new tag is checked from the stored hashes of 4 by verify.
	if out := r.must("verify", "chain", "--sig"); !strings.Contains(out, "checked 0 from seq 6") {
		t.Fatalf("verify after the second tag: %s", out)
	}
}
