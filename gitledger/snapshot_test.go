package gitledger

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"golang.org/x/mod/sumdb/note"

	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/merkle"
)

// forgeTag writes a snapshot tag object signed by s as kid over any
// checkpoint and points refs/tags/vmc/merkle/<size> at it.
func forgeTag(t *testing.T, l *Ledger, s *keys.Signer, kid string, size uint64, object plumbing.Hash, cp merkle.Checkpoint) plumbing.Hash {
	t.Helper()
	ns, err := NoteSigner(s, kid)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := merkle.SignCheckpoint(cp, ns)
	if err != nil {
		t.Fatal(err)
	}
	ti := tagInfo{object: object, name: merkle.TagName(size), ident: Ident + " <" + kid + ">", when: time.Now().Unix(), message: string(signed)}
	sig, err := s.Sign(keys.NamespaceGit, ti.encode(false))
	if err != nil {
		t.Fatal(err)
	}
	ti.signature = string(sig)
	id, err := l.objs.Put(plumbing.TagObject, ti.encode(true))
	if err != nil {
		t.Fatal(err)
	}
	ref := SnapshotTagRef(size)
	old := plumbing.ZeroHash
	if r, err := l.repo.Storer.Reference(ref); err == nil {
		old = r.Hash()
	}
	if err := l.casRefName(ref, old, id); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestSnapshots(t *testing.T) {
	l, s, dir := newLedger(t, 4)
	res5, err := l.MakeSnapshot(s, "alice", 0, true, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if res5.LeafCount != 5 || res5.Incremental {
		t.Fatalf("first snapshot %+v", res5)
	}
	for i := 0; i < 3; i++ {
		appendManual(t, l, s, "alice", "more")
	}
	res8, err := l.MakeSnapshot(s, "alice", 0, true, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !res8.Incremental {
		t.Fatal("second snapshot did not use the saved compact range")
	}
	// Same root as a recomputation from scratch.
	r, _ := l.NewReader()
	leaves, err := LeafHashes(r, 0, 8)
	if err != nil {
		t.Fatal(err)
	}
	if res8.Root != merkle.RootOf(leaves) {
		t.Fatal("incremental root differs from the full recomputation")
	}
	rep, err := l.Verify(VerifyOptions{Signatures: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Snapshots != 2 {
		t.Fatalf("checked %d snapshots, want 2", rep.Snapshots)
	}
	// Stock git accepts the tags with the ledger's allowed signers.
	as := filepath.Join(t.TempDir(), "allowed_signers")
	os.WriteFile(as, []byte(run(t, dir, "git", "show", "vmc/ledger:keys/allowed_signers")), 0o644)
	for _, tag := range []string{"vmc/merkle/5", "vmc/merkle/8"} {
		out := run(t, dir, "git", "-c", "gpg.format=ssh", "-c", "gpg.ssh.allowedSignersFile="+as, "tag", "-v", tag)
		if !strings.Contains(out, `Good "git" signature for alice`) {
			t.Fatalf("git tag -v %s: %s", tag, out)
		}
	}
	// The checkpoint verifies with sumdb/note and the key list's verifier key.
	vk, err := merkle.VerifierKey("alice", s.Ed25519())
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vk)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open([]byte(res8.Checkpoint), note.VerifierList(v)); err != nil {
		t.Fatal(err)
	}
	// An inclusion proof checks offline against the signed checkpoint.
	proof, err := merkle.ProveInclusion(leaves, 3, 8)
	if err != nil {
		t.Fatal(err)
	}
	pj, _ := json.Marshal(merkle.InclusionProof{Algorithm: merkle.Algorithm, Index: 3, Size: 8, LeafHash: leaves[3], Hashes: proof, Root: res8.Root})
	rb, err := r.File(r.Path(3))
	if err != nil {
		t.Fatal(err)
	}
	if err := merkle.CheckOffline(pj, rb, []byte(res8.Checkpoint), note.VerifierList(v)); err != nil {
		t.Fatal(err)
	}
	// Tags are never rewritten.
	if _, err := l.MakeSnapshot(s, "alice", 8, true, time.Now()); err == nil || !strings.Contains(err.Error(), "never moved") {
		t.Fatalf("re-tagging size 8: %v", err)
	}
	if _, err := l.MakeSnapshot(s, "alice", 9, false, time.Now()); err == nil || !strings.Contains(err.Error(), "the ledger has 8") {
		t.Fatalf("snapshot beyond the ledger: %v", err)
	}
}

func TestSnapshotTampering(t *testing.T) {
	mallory, _ := testKey(t, t.TempDir(), "mallory")
	cases := []struct {
		name, want string
		tamper     func(t *testing.T, l *Ledger, s *keys.Signer, chain []plumbing.Hash, good map[uint64]plumbing.Hash)
	}{
		{"moved tag", "the tag was moved or forged", func(t *testing.T, l *Ledger, s *keys.Signer, chain []plumbing.Hash, good map[uint64]plumbing.Hash) {
			if err := l.casRefName(SnapshotTagRef(3), good[3], good[5]); err != nil {
				t.Fatal(err)
			}
		}},
		{"root mismatch", "does not match the ledger's root", func(t *testing.T, l *Ledger, s *keys.Signer, chain []plumbing.Hash, good map[uint64]plumbing.Hash) {
			forgeTag(t, l, s, "alice", 4, chain[3], merkle.Checkpoint{Origin: testLedgerID, Size: 4, Root: merkle.LeafHash([]byte("forged"))})
		}},
		{"size beyond the ledger", "claims 50 receipts, but the ledger has 6", func(t *testing.T, l *Ledger, s *keys.Signer, chain []plumbing.Hash, good map[uint64]plumbing.Hash) {
			forgeTag(t, l, s, "alice", 50, chain[5], merkle.Checkpoint{Origin: testLedgerID, Size: 50, Root: merkle.LeafHash(nil)})
		}},
		{"untrusted signer", "key mallory is not trusted", func(t *testing.T, l *Ledger, s *keys.Signer, chain []plumbing.Hash, good map[uint64]plumbing.Hash) {
			r, _ := l.NewReader()
			leaves, _ := LeafHashes(r, 0, 4)
			forgeTag(t, l, mallory, "mallory", 4, chain[3], merkle.Checkpoint{Origin: testLedgerID, Size: 4, Root: merkle.RootOf(leaves)})
		}},
		{"other ledger's checkpoint", "checkpoint origin", func(t *testing.T, l *Ledger, s *keys.Signer, chain []plumbing.Hash, good map[uint64]plumbing.Hash) {
			r, _ := l.NewReader()
			leaves, _ := LeafHashes(r, 0, 4)
			forgeTag(t, l, s, "alice", 4, chain[3], merkle.Checkpoint{Origin: "example.com/other", Size: 4, Root: merkle.RootOf(leaves)})
		}},
	}
	seen := map[string]string{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, s, _ := newLedger(t, 5)
			good := map[uint64]plumbing.Hash{}
			for _, n := range []uint64{3, 5} {
				res, err := l.MakeSnapshot(s, "alice", n, true, time.Now())
				if err != nil {
					t.Fatal(err)
				}
				good[n] = res.Tag
			}
			if _, err := l.Verify(VerifyOptions{}); err != nil {
				t.Fatalf("good ledger: %v", err)
			}
			tip, _ := l.Tip()
			chain, err := l.Chain(tip.Commit)
			if err != nil {
				t.Fatal(err)
			}
			tc.tamper(t, l, s, chain, good)
			_, err = l.Verify(VerifyOptions{Signatures: true})
			var se *SnapshotError
			if !errors.As(err, &se) {
				t.Fatalf("want a SnapshotError, got %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
			if other, dup := seen[err.Error()]; dup {
				t.Fatalf("same error as %s", other)
			}
			seen[err.Error()] = tc.name
		})
	}
}

// TestSnapshotStateIsVerified: a corrupted compact-range cache is not
// trusted; the next snapshot recomputes and is still right.
func TestSnapshotStateIsVerified(t *testing.T) {
	l, s, _ := newLedger(t, 6)
	if _, err := l.MakeSnapshot(s, "alice", 4, true, time.Now()); err != nil {
		t.Fatal(err)
	}
	st, err := merkle.LoadState(l.statePath())
	if err != nil {
		t.Fatal(err)
	}
	st.Range.Nodes[0] = merkle.LeafHash([]byte("corrupt"))
	if err := st.Save(l.statePath()); err != nil {
		t.Fatal(err)
	}
	res, err := l.MakeSnapshot(s, "alice", 7, true, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if res.Incremental {
		t.Fatal("a corrupted compact range was used")
	}
	if _, err := l.Verify(VerifyOptions{Signatures: true}); err != nil {
		t.Fatal(err)
	}
}
