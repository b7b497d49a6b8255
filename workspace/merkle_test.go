package workspace

import (
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/merkle"
	"github.com/vmc-git/vmc-git/witness"
)

// merkleWorld is a ledger of 4 receipts (genesis and three records).
func merkleWorld(t *testing.T) (*world, *Workspace) {
	w := newWorld(t, 1)
	ws := w.open()
	for _, s := range []string{"one", "two", "three"} {
		if _, err := ws.Record(w.ids["alice"], "rebooted "+s, nil); err != nil {
			t.Fatal(err)
		}
	}
	return w, ws
}

func TestProofsFromTheLedger(t *testing.T) {
	_, ws := merkleWorld(t)
	p, err := ws.ProveInclusion(2, 0)
	if err != nil {
		t.Fatal(err)
	}
	if p.Size != 4 || p.Index != 2 || p.Verify() != nil {
		t.Fatalf("inclusion proof %+v: %v", p, p.Verify())
	}
	e, err := ws.Receipt(2)
	if err != nil {
		t.Fatal(err)
	}
	if p.LeafHash != merkle.LeafHash(e.Bytes) {
		t.Error("the proof's leaf is not receipt 2's bytes")
	}
	c, err := ws.ProveConsistency(2, 4)
	if err != nil {
		t.Fatal(err)
	}
	if c.Root2 != p.Root || c.Verify() != nil {
		t.Fatalf("consistency proof %+v does not match the tree: %v", c, c.Verify())
	}

	_, err = ws.ProveInclusion(3, 3)
	wantKind(t, "", err, KindNotFound, "receipt 3 is not in a tree of 3 receipts")
	_, err = ws.ProveInclusion(0, 9)
	wantKind(t, "", err, KindNotFound, "tree of 9 receipts: the ledger has 4")
	_, err = ws.ProveConsistency(3, 2)
	wantKind(t, "", err, KindUsage, "want 0 < N1 <= N2")
	_, err = ws.ProveConsistency(0, 2)
	wantKind(t, "", err, KindUsage, "want 0 < N1 <= N2")
	_, err = ws.ProveConsistency(1, 5)
	wantKind(t, "", err, KindNotFound, "the ledger has 4")
}

func TestCheckProofOffline(t *testing.T) {
	w, ws := merkleWorld(t)
	snap, err := ws.Snapshot(w.ids["alice"], 0, false)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ws.ProveInclusion(1, 0)
	if err != nil {
		t.Fatal(err)
	}
	proof, _ := p.Marshal()
	e, err := ws.Receipt(1)
	if err != nil {
		t.Fatal(err)
	}
	snapJSON, _ := snap.Snapshot.Marshal()
	pub := filepath.Join(w.keys, "alice.pub")
	ok := ProofCheck{Proof: proof, Receipt: e.Bytes, Checkpoint: snapJSON, Key: pub}
	res, err := CheckProof(ok)
	if err != nil {
		t.Fatal(err)
	}
	if res.Seq != 1 || res.Size != 4 || res.Ledger != testLedger || res.Origin != testLedger || res.Root != snap.Root || len(res.Cosigned) != 0 {
		t.Fatalf("CheckProof = %+v", res)
	}
	// The note text works as well as the snapshot file.
	note := ok
	note.Checkpoint = []byte(snap.Checkpoint)
	if _, err := CheckProof(note); err != nil {
		t.Fatalf("checkpoint as note text: %v", err)
	}

	other, err := ws.Receipt(2)
	if err != nil {
		t.Fatal(err)
	}
	bob := filepath.Join(w.keys, "bob.pub")
	wkey, _ := witnessKey(t)
	zero := 0
	for _, c := range []struct {
		name string
		edit func(*ProofCheck)
		kind Kind
		msg  string
	}{
		{"bad snapshot", func(r *ProofCheck) { r.Checkpoint = []byte(`{"algorithm":1}`) }, KindInvalid, ""},
		{"no key file", func(r *ProofCheck) { r.Key = filepath.Join(w.keys, "nobody.pub") }, KindUsage, "no such file"},
		{"no kid", func(r *ProofCheck) { r.Key = keyLineWithoutComment(t, pub) }, KindUsage, "--key: give --kid NAME"},
		{"wrong signer", func(r *ProofCheck) { r.Key = bob }, KindInvalid, ""},
		{"other receipt", func(r *ProofCheck) { r.Receipt = other.Bytes }, KindInvalid, ""},
		{"other origin", func(r *ProofCheck) { r.Origin = "example.com/other/infra" }, KindInvalid, `want "example.com/other/infra" (--origin)`},
		{"bad witness key", func(r *ProofCheck) { r.WitnessKeys = []string{"nonsense"} }, KindUsage, "--witness: "},
		{"not cosigned", func(r *ProofCheck) { r.WitnessKeys = []string{wkey} }, KindInvalid, "checkpoint: "},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := ok
			c.edit(&r)
			_, err := CheckProof(r)
			wantKind(t, "", err, c.kind, c.msg)
		})
	}
	// A witness key with threshold 0 asks for nothing.
	r := ok
	r.WitnessKeys, r.WitnessThreshold = []string{wkey}, &zero
	if _, err := CheckProof(r); err != nil {
		t.Fatalf("threshold 0: %v", err)
	}
}

// witnessKey makes a witness cosignature verifier key.
func witnessKey(t *testing.T) (string, witness.Witness) {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := witness.VerifierKey("witness.example/w1", pub)
	if err != nil {
		t.Fatal(err)
	}
	name, pub, err := witness.ParseVerifierKey(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return vkey, witness.Witness{Name: name, Key: pub}
}

// keyLineWithoutComment is the public key line of file, without its comment.
func keyLineWithoutComment(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	pub, _, err := keys.ParsePublicKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return keys.FormatPublicKey(pub)
}

func TestPublishSnapshotWithoutPush(t *testing.T) {
	w, ws := merkleWorld(t)
	_, err := ws.PublishSnapshot(context.Background(), w.ids["alice"], SnapshotRequest{Push: Push{On: true}, Witness: &witness.Client{}})
	wantKind(t, "", err, KindUsage, "--push publishes the tag: give --tag too")
	res, err := ws.PublishSnapshot(context.Background(), w.ids["alice"], SnapshotRequest{Size: 3, Tag: true, Witness: &witness.Client{}})
	if err != nil {
		t.Fatal(err)
	}
	if res.LeafCount != 3 || res.TagName != merkle.TagName(3) || res.Pushed || len(res.Anchors) != 0 {
		t.Fatalf("PublishSnapshot = %+v", res)
	}
	if got := strings.TrimSpace(w.git("tag", "-l", "vmc/merkle/*")); got != "vmc/merkle/3" {
		t.Fatalf("tags %q, want vmc/merkle/3", got)
	}
	res, err = ws.PublishSnapshot(context.Background(), w.ids["alice"], SnapshotRequest{Witness: &witness.Client{}})
	if err != nil || res.TagName != "" || res.LeafCount != 4 {
		t.Fatalf("untagged snapshot = %+v, %v", res, err)
	}
}
