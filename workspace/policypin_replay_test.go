package workspace

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/receipt"
)

// TestPolicyPinForgedReceipts: pin receipts written past the writer's
// checks (gitledger Append, as a forger's own tool would) are refused by
// the ledger's verification, each with its message, and nothing is
// written: an old pin replayed after a newer one, a pin proposed for
// another ledger, one co-signed by another ledger's admin of the same kid,
// and one written by a trusted key that did not co-sign it.
func TestPolicyPinForgedReceipts(t *testing.T) {
	w := newWorld(t, 1)
	ws := w.open()
	other := newWorld(t, 1) // another ledger, its own alice
	pinOf := func(s string) string { return digest.Blake3([]byte(s)).String() }
	propose := func(bundle string) *receipt.KeysChange {
		t.Helper()
		ch, _, err := ws.ProposeTrust(TrustChange{Op: receipt.KeysPolicyBundle, PolicyBundle: bundle})
		if err != nil {
			t.Fatal(err)
		}
		return ch
	}
	signed := func(ch *receipt.KeysChange, id Identity) *receipt.KeysChange {
		t.Helper()
		if err := cosign(ch, id); err != nil {
			t.Fatal(err)
		}
		return ch
	}
	old := signed(propose(pinOf("b")), w.ids["alice"])
	if _, err := ws.ApplyTrust(old, w.ids["alice"]); err != nil {
		t.Fatal(err)
	}
	if _, err := ws.ApplyTrust(signed(propose(pinOf("c")), w.ids["alice"]), w.ids["alice"]); err != nil {
		t.Fatal(err)
	}
	wrongLedger := propose(pinOf("d"))
	wrongLedger.Proposal.Ledger = "example.com/acme/other"
	for _, c := range []struct {
		name string
		ch   *receipt.KeysChange
		by   Identity
		want string
	}{
		{"an old pin replayed", old, w.ids["alice"], "trust change proposed against trust state "},
		{"another ledger", signed(wrongLedger, w.ids["alice"]), w.ids["alice"], `trust change proposed for ledger "example.com/acme/other", not "` + testLedger + `"`},
		{"another ledger's alice", signed(propose(pinOf("e")), other.ids["alice"]), w.ids["alice"], "co-signature by alice: signature: made by key SHA256:"},
		{"written by a key that did not co-sign", signed(propose(pinOf("f")), w.ids["alice"]), w.ids["bob"], "receipt signer bob did not co-sign the trust change"},
	} {
		before, _ := ws.Ledger.Tip()
		_, err := ws.Ledger.Append(c.by.Signer, c.by.KID, func(*gitledger.Tip) (*gitledger.Draft, error) {
			return &gitledger.Draft{Receipt: receipt.Receipt{Kind: receipt.KindKeys, Summary: "pin", Keys: c.ch}}, nil
		})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
		after, _ := ws.Ledger.Tip()
		if after.Commit != before.Commit || after.Trust.PolicyBundle != pinOf("c") {
			t.Errorf("%s: written, the pin is %s", c.name, after.Trust.PolicyBundle)
		}
	}
}

// TestPolicyPinReplay: with admin_threshold 2 (alice and carol), a pin
// both co-signed, then undone by another change both co-signed, is not
// applied a second time by alice alone from the old proposal (the trust
// state is back where the first was proposed).
func TestPolicyPinReplay(t *testing.T) {
	w := newWorld(t, 2)
	ws := w.open()
	both := func(tc TrustChange) *receipt.KeysChange {
		t.Helper()
		ch, _, err := ws.ProposeTrust(tc)
		if err != nil {
			t.Fatal(err)
		}
		for _, kid := range []string{"alice", "carol"} {
			if _, err := ws.CosignTrust(ch, w.ids[kid]); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := ws.ApplyTrust(ch, w.ids["alice"]); err != nil {
			t.Fatal(err)
		}
		return ch
	}
	w.commitPolicy("p.rego", []byte(denyAllSrc))
	tc, _, err := ws.PolicyPinChange("")
	if err != nil {
		t.Fatal(err)
	}
	first := both(tc)
	saved, _ := json.Marshal(first)
	w.git("rm", "-q", "-r", "policy")
	w.git("commit", "-q", "-m", "no policy")
	if tc, _, err = ws.PolicyPinChange(""); err != nil {
		t.Fatal(err)
	}
	both(tc)

	var replay receipt.KeysChange
	json.Unmarshal(saved, &replay)
	if _, err := ws.ApplyTrust(&replay, w.ids["alice"]); err == nil {
		tip, _ := ws.Ledger.Tip()
		t.Fatalf("alice alone replayed the co-signed pin: the trust state pins %s again", tip.Trust.PolicyBundle)
	}
}
