package keys

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vmc-git/vmc-git/witness"
)

func witnessSpec(t *testing.T, name string) WitnessSpec {
	t.Helper()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	vk, err := witness.VerifierKey(name, pub)
	if err != nil {
		t.Fatal(err)
	}
	return WitnessSpec{Name: name, Key: vk, URL: "https://" + name}
}

func TestWitnessPolicy(t *testing.T) {
	_, pub, _ := Generate("alice")
	spec := KeySpec{KID: "alice", PublicKey: strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(string(pub)), "alice")), Roles: []Role{RoleAdmin, RoleApplier, RoleApprover}}
	w1, w2 := witnessSpec(t, "w.example/1"), witnessSpec(t, "w.example/2")
	now := time.Now()
	base := Policy{ApprovalsRequired: 1, AdminThreshold: 1}

	p := base
	p.Witnesses, p.WitnessThreshold = []WitnessSpec{w1}, 2
	if _, err := NewTrust([]KeySpec{spec}, p, now); err == nil || !strings.Contains(err.Error(), "witness_threshold 2 but only 1 witnesses") {
		t.Fatalf("genesis quorum above witnesses: %v", err)
	}
	p.Witnesses, p.WitnessThreshold = []WitnessSpec{w1, w1}, 1
	if _, err := NewTrust([]KeySpec{spec}, p, now); err == nil || !strings.Contains(err.Error(), "named twice") {
		t.Fatalf("duplicate witness: %v", err)
	}
	same := w1
	same.Name = "w.example/other"
	same.Key = strings.Replace(w1.Key, "w.example/1", "w.example/other", 1)
	if _, err := same.Witness(); err == nil {
		t.Fatal("a vkey whose id no longer matches accepted")
	}
	bad := w1
	bad.Name = "w.example/9"
	if _, err := bad.Witness(); err == nil || !strings.Contains(err.Error(), "its key is named w.example/1") {
		t.Fatalf("name mismatch: %v", err)
	}

	p.Witnesses, p.WitnessThreshold = []WitnessSpec{w1}, 1
	tr, err := NewTrust([]KeySpec{spec}, p, now)
	if err != nil {
		t.Fatal(err)
	}
	c := tr.Clone()
	if err := c.AddWitness(w2); err != nil {
		t.Fatal(err)
	}
	if len(tr.Witnesses) != 1 || len(c.Witnesses) != 2 {
		t.Fatalf("clone shares witnesses: %d %d", len(tr.Witnesses), len(c.Witnesses))
	}
	if err := c.RemoveWitness("w.example/3"); err == nil {
		t.Fatal("removed an unknown witness")
	}
	if err := c.RemoveWitness("w.example/1"); err != nil || len(tr.Witnesses) != 1 || c.Witnesses[0].Name != "w.example/2" {
		t.Fatalf("remove: %v %+v", err, c.Witnesses)
	}
	// The trust state's JSON (keys/trust.json) keeps the policy.
	b, err := json.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	var back Trust
	if err := back.UnmarshalJSON(b); err != nil {
		t.Fatal(err)
	}
	ws, n, err := back.WitnessPolicy()
	if err != nil || n != 1 || len(ws) != 1 || ws[0].Name != "w.example/1" {
		t.Fatalf("round trip: %v %d %+v", err, n, ws)
	}
	// Without witnesses the JSON is what it was before witnesses existed.
	plain, _ := NewTrust([]KeySpec{spec}, base, now)
	pb, _ := json.Marshal(plain)
	if strings.Contains(string(pb), "witness") {
		t.Fatalf("trust JSON without witnesses mentions them: %s", pb)
	}
}

// TestTrustChangedSeq: the seq of the change that made a trust state is in
// its JSON (changed_seq), survives a clone and a round trip, and is absent
// at genesis (0), so two states with the same keys and policy made by
// different receipts differ.
func TestTrustChangedSeq(t *testing.T) {
	_, pub, _ := Generate("alice")
	spec := KeySpec{KID: "alice", PublicKey: strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(string(pub)), "alice")), Roles: []Role{RoleAdmin, RoleApplier, RoleApprover}}
	tr, err := NewTrust([]KeySpec{spec}, Policy{ApprovalsRequired: 1, AdminThreshold: 1}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	g, _ := json.Marshal(tr)
	if strings.Contains(string(g), "changed_seq") {
		t.Fatalf("genesis trust JSON has changed_seq: %s", g)
	}
	c := tr.Clone()
	c.MarkChanged(7)
	if tr.Changed() != 0 || c.Clone().Changed() != 7 {
		t.Fatalf("changed: %d %d", tr.Changed(), c.Clone().Changed())
	}
	b, _ := json.Marshal(c)
	if string(b) == string(g) || !strings.Contains(string(b), `"changed_seq":7`) {
		t.Fatalf("changed state's JSON: %s", b)
	}
	var back Trust
	if err := back.UnmarshalJSON(b); err != nil || back.Changed() != 7 {
		t.Fatalf("round trip: %v %d", err, back.Changed())
	}
}
