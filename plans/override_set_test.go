package plans_test

import (
	"strings"
	"testing"
	"time"

	"github.com/vmc-git/vmc-git/internal/canon"
	"github.com/vmc-git/vmc-git/keys"
	. "github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/provider"
)

// TestCheckOverrideSetForgeries: what a pusher without an admin key can put
// in plans/<id>.overrides/ passes the tree rule (it is not signed-checked
// there) but never counts at apply: an approver's or unknown key, a copied
// approval signature, another plan's signature, a signature over other rules. Only the admin's own file is
// valid.
func TestCheckOverrideSetForgeries(t *testing.T) {
	alice, alicePub := signer(t, "alice") // admin
	bob, bobPub := signer(t, "bob")       // approver only
	mallory, _ := signer(t, "mallory")    // not in trust
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	tr, err := keys.NewTrust([]keys.KeySpec{
		{KID: "alice", PublicKey: alicePub, Roles: []keys.Role{keys.RoleAdmin}},
		{KID: "bob", PublicKey: bobPub, Roles: []keys.Role{keys.RoleApprover}},
	}, keys.Policy{ApprovalsRequired: 1, AdminThreshold: 1}, at.Add(-time.Hour))
	if err != nil {
		t.Fatal(err) // (one key under two kids: NewTrust refuses it)
	}
	mk := func(id string) []byte {
		p := &Plan{V: 1, ID: id, Ledger: testLedger, CreatedAt: "2026-12-01T12:00:00Z", Summary: "s",
			Actions: []Step{{Action: provider.Action{Op: provider.OpReboot, Server: "web-1"}, Expect: Expect{Exists: true, ServerID: 1, Status: "running", ServerType: "cx22"}}}}
		b, err := p.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	pb, other := mk("p1"), mk("p2")
	sign := func(s *keys.Signer, kid string, plan []byte, rules ...string) []byte {
		b, err := SignOverride(s, kid, plan, rules, "")
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	good := sign(alice, "alice", pb, "r1")
	withSig := func(b []byte, sig []byte) []byte {
		var m map[string]any
		if err := canon.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		m["sig"] = string(sig)
		out, err := canon.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	approval, err := alice.Sign(keys.NamespacePlan, pb)
	if err != nil {
		t.Fatal(err)
	}
	otherRules := sign(alice, "alice", pb, "r2")
	var f map[string]any
	canon.Unmarshal(otherRules, &f)
	for _, x := range []struct {
		name  string
		files map[string][]byte
		kid   string
		want  string
	}{
		{"an approver's key", map[string][]byte{"bob": sign(bob, "bob", pb, "r1")}, "bob", "key bob has roles [approver], needs admin"},
		{"a key not in trust", map[string][]byte{"mallory": sign(mallory, "mallory", pb, "r1")}, "mallory", "key mallory is not trusted"},
		{"an approval signature copied in", map[string][]byte{"alice": withSig(good, approval)}, "alice", `namespace "vmc-plan", want "vmc-override"`},
		{"another plan's override", map[string][]byte{"alice": sign(alice, "alice", other, "r1")}, "alice", "is for plan p2, not p1"},
		{"a signature over other rules", map[string][]byte{"alice": withSig(good, []byte(f["sig"].(string)))}, "alice", "override by alice: signature: does not verify"},
	} {
		st := CheckOverrideSet(tr, testLedger, "p1", pb, x.files, at)
		if why := st.Invalid[x.kid]; !strings.Contains(why, x.want) {
			t.Errorf("%s: %q (valid %d), want %q", x.name, why, len(st.Valid), x.want)
		}
	}
	if st := CheckOverrideSet(tr, testLedger, "p1", pb, map[string][]byte{"alice": good}, at); len(st.Valid) != 1 || len(st.Invalid) != 0 {
		t.Fatalf("the admin's own override: %+v", st)
	}
	if st := CheckOverrideSet(tr, "example.com/other", "p1", pb, map[string][]byte{"alice": good}, at); len(st.Valid) != 0 {
		t.Fatalf("another ledger's override counted: %+v", st)
	}
}
