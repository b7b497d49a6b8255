package workspace

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/receipt"
)

func wantKind(t *testing.T, what string, err error, k Kind, msg string) {
	t.Helper()
	if err == nil || KindOf(err) != k || !strings.Contains(err.Error(), msg) {
		t.Fatalf("%s: %v (kind %v), want kind %v with %q", what, err, KindOf(err), k, msg)
	}
}

// TestTrustFlow: with admin_threshold 2 a trust change is proposed,
// co-signed by two admins and applied; every short cut is refused before
// anything is written.
func TestTrustFlow(t *testing.T) {
	w := newWorld(t, 2)
	ws := w.open()
	dave := w.key("dave")
	tc := TrustChange{Op: receipt.KeysTrust, Key: &keys.KeySpec{KID: "dave", PublicKey: keys.FormatPublicKey(dave.Signer.PublicKey()), Roles: []keys.Role{keys.RoleApprover}}}
	change := func() (TrustChange, error) { return tc, nil }

	_, err := ws.ChangeTrust(tc.Op, change, w.ids["alice"])
	wantKind(t, "one-step change", err, KindRefused, "trust changes need 2 admin signatures")

	ch, threshold, err := ws.ProposeTrust(tc)
	if err != nil || threshold != 2 || len(ch.Signatures) != 0 {
		t.Fatalf("propose: %+v %d %v", ch, threshold, err)
	}
	file := filepath.Join(t.TempDir(), "change.json")
	if err := WriteChange(file, ch, true); err != nil {
		t.Fatal(err)
	}
	if err := WriteChange(file, ch, true); err == nil {
		t.Fatal("a proposal file was overwritten")
	}
	// An unsigned proposal file reads back (the placeholder signature of
	// ValidateProposal); a corrupted one does not.
	if ch, err = ReadChange(file); err != nil {
		t.Fatalf("read unsigned proposal: %v", err)
	}
	broken := filepath.Join(t.TempDir(), "broken.json")
	b, _ := os.ReadFile(file)
	os.WriteFile(broken, append([]byte(" "), b...), 0o644)
	_, err = ReadChange(broken)
	wantKind(t, "non-canonical proposal", err, KindInvalid, broken)

	_, err = ws.CosignTrust(ch, w.ids["bob"])
	wantKind(t, "cosign by a non-admin", err, KindRefused, "your signature would not count")
	if _, err := ws.CosignTrust(ch, w.ids["alice"]); err != nil {
		t.Fatal(err)
	}
	head, _ := ws.Ledger.Tip()
	_, err = ws.ApplyTrust(ch, w.ids["alice"])
	wantKind(t, "one signature", err, KindRefused, "trust change refused: 1 admin signatures (alice), admin_threshold is 2")
	if after, _ := ws.Ledger.Tip(); after.Head.Seq != head.Head.Seq {
		t.Fatal("a refused trust change wrote a receipt")
	}
	if _, err := ws.CosignTrust(ch, w.ids["carol"]); err != nil {
		t.Fatal(err)
	}
	if _, err := ws.CosignTrust(ch, w.ids["carol"]); err != nil || len(ch.Signatures) != 2 {
		t.Fatalf("co-signing twice: %d signatures, %v", len(ch.Signatures), err)
	}
	wr, err := ws.ApplyTrust(ch, w.ids["carol"])
	if err != nil || wr.Receipt.Kind != receipt.KindKeys || wr.Receipt.Summary != "trust dave as approver [sandbox]" { // the test ledger is on the embedded sandbox
		t.Fatalf("apply: %+v %v", wr, err)
	}
	tip, _ := ws.Ledger.Tip()
	if k := tip.Trust.Key("dave"); k == nil || k.Status != keys.StatusActive {
		t.Fatalf("dave after the change: %+v", k)
	}

	// The same proposal again: its head has moved.
	_, err = ws.ApplyTrust(ch, w.ids["alice"])
	wantKind(t, "replayed proposal", err, KindRefused, "the proposal was made against trust state")
	_, err = ws.CosignTrust(ch, w.ids["alice"])
	wantKind(t, "cosign of a stale proposal", err, KindRefused, "the proposal was made against ledger "+testLedger)

	// Proposals that cannot apply.
	_, _, err = ws.ProposeTrust(TrustChange{Op: receipt.KeysRotate, KID: "zed", NewKey: "x"})
	wantKind(t, "rotate an unknown key", err, KindNotFound, "key zed is not trusted")
	_, _, err = ws.ProposeTrust(TrustChange{Op: receipt.KeysRotate, KID: "bob", NewKey: filepath.Join(w.keys, "missing.pub")})
	wantKind(t, "rotate to a missing key", err, KindUsage, "missing.pub")
	_, _, err = ws.ProposeTrust(tc)
	wantKind(t, "trust a key twice", err, KindRefused, "dave")
	_, _, err = ws.ProposeTrust(TrustChange{Op: receipt.KeysRevoke, KID: "bob", Reason: "bored"})
	wantKind(t, "revoke for no known reason", err, KindUsage, "revoke takes kid and reason (compromised or retired)")
}

// TestTrustOneStep: with admin_threshold 1 ChangeTrust proposes, signs and
// applies at once.
func TestTrustOneStep(t *testing.T) {
	w := newWorld(t, 1)
	ws := w.open()
	wr, err := ws.ChangeTrust(receipt.KeysRevoke, func() (TrustChange, error) {
		return TrustChange{Op: receipt.KeysRevoke, KID: "bob", Reason: receipt.ReasonRetired}, nil
	}, w.ids["alice"])
	if err != nil || wr.Receipt.Summary != "revoke bob (retired) [sandbox]" {
		t.Fatalf("revoke: %+v %v", wr, err)
	}
	tip, _ := ws.Ledger.Tip()
	if k := tip.Trust.Key("bob"); k == nil || k.Status != keys.StatusRevoked {
		t.Fatalf("bob after revoke: %+v", k)
	}
	if _, err := ws.Verify(VerifyOptions{Signatures: true}); err != nil {
		t.Fatal(err)
	}
}

// A policy change that names one threshold keeps the trust state's other.
func TestPolicyChangeKeepsTheOtherThreshold(t *testing.T) {
	w := newWorld(t, 2)
	ws := w.open()
	two := 2
	ch, _, err := ws.ProposeTrust(TrustChange{Op: receipt.KeysPolicy, ApprovalsRequired: &two})
	if err != nil {
		t.Fatal(err)
	}
	if p := ch.Proposal.Policy; p == nil || p.ApprovalsRequired != 2 || p.AdminThreshold != 2 {
		t.Fatalf("policy %+v, want approvals 2 and admin threshold 2 (unchanged)", p)
	}
	one := 1
	ch, _, err = ws.ProposeTrust(TrustChange{Op: receipt.KeysPolicy, AdminThreshold: &one})
	if err != nil {
		t.Fatal(err)
	}
	if p := ch.Proposal.Policy; p.ApprovalsRequired != 1 || p.AdminThreshold != 1 {
		t.Fatalf("policy %+v, want approvals 1 (unchanged) and admin threshold 1", p)
	}
	zero := 0
	_, _, err = ws.ProposeTrust(TrustChange{Op: receipt.KeysPolicy, ApprovalsRequired: &zero})
	if err == nil {
		t.Fatal("approvals_required 0 was proposed")
	}
}
