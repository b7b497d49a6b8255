package gitledger

import (
	"strings"
	"testing"
	"time"

	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/provider"
	"github.com/vmc-git/vmc-git/receipt"
)

// TestPolicyOverrides: an apply receipt whose policy member lists an admin's
// override verifies; the writer refuses, and verify chain rejects, each with
// its own message, a receipt whose override is signed by a non-admin, over
// another statement, or does not cover its rules.
// A receipt without the member (older receipts) verifies as before.
func TestPolicyOverrides(t *testing.T) {
	k := newTamperKeys(t)
	const id = "example.com/policy/infra"
	x := newTamperLedger(t, k, id, 3)
	tip, err := x.l.Tip()
	if err != nil {
		t.Fatal(err)
	}
	plan := &plans.Plan{V: 1, ID: "fw-open", Ledger: id, CreatedAt: keys.FormatTime(time.Now()), Summary: "open ssh",
		LedgerHead: plans.LedgerRef{Seq: tip.Head.Seq, Blake3: tip.Head.Blake3},
		Actions: []plans.Step{{Action: provider.Action{Op: provider.OpSetRules, Kind: provider.KindFirewall, Name: "web",
			Rules: []provider.FirewallRule{{Direction: "in", Protocol: "tcp", Port: "22", SourceIPs: []string{"0.0.0.0/0"}}}},
			Expect: plans.Expect{Exists: true, ID: 7}}}}
	pb, err := plan.Encode()
	if err != nil {
		t.Fatal(err)
	}
	approval, err := plans.Approve(k.signer["bob"], pb)
	if err != nil {
		t.Fatal(err)
	}
	override := func(kid string, rules ...string) receipt.Override {
		f, err := plans.SignOverride(k.signer[kid], kid, pb, rules, "bastion")
		if err != nil {
			t.Fatal(err)
		}
		o, err := plans.ParseOverride(f)
		if err != nil {
			t.Fatal(err)
		}
		return o.Override()
	}
	sum := digest.Of(pb)
	pol := digest.Blake3([]byte("policy"))
	draft := func(p *receipt.Policy) func(*Tip) (*Draft, error) {
		return func(*Tip) (*Draft, error) {
			return &Draft{Receipt: receipt.Receipt{Kind: receipt.KindApply, Summary: "apply fw-open", Apply: &receipt.Apply{
				Plan:    receipt.PlanRef{ID: plan.ID, Path: plans.Path(plan.ID), Blake3: sum.Blake3, SHA256: sum.SHA256, Approvals: []string{"bob"}},
				Actions: []receipt.ActionRecord{{Action: []byte(`{"op":"set_rules"}`), Result: []byte(`{"status":"succeeded"}`)}},
				Policy:  p,
			}}, Plan: &PlanCopy{Bytes: pb, Approvals: map[string][]byte{"bob": approval}}}, nil
		}
	}
	overridden := func(os ...receipt.Override) *receipt.Policy {
		return &receipt.Policy{Blake3: &pol, Result: receipt.PolicyOverridden, Rules: []string{"ssh-from-anywhere"}, Overrides: os}
	}
	other := override("alice", "naming") // a valid signature over another statement
	otherSig := override("alice", "ssh-from-anywhere")
	otherSig.Sig = other.Sig
	bobs := override("bob", "ssh-from-anywhere")
	for _, tc := range []struct {
		name string
		p    *receipt.Policy
		want string
	}{
		{"signed by a non-admin", overridden(bobs), "override: key bob has roles [approver], needs admin"},
		{"signature over another statement", overridden(otherSig), "override by alice: "},
		{"rules not covered", overridden(other), "not covered by an override"},
	} {
		if _, err := x.l.Append(k.signer["alice"], "alice", draft(tc.p)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("writer, %s: %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := x.l.Verify(VerifyOptions{Signatures: true}); err != nil {
		t.Fatalf("the refused writes left the ledger invalid: %v", err)
	}
	good := overridden(override("alice", "ssh-from-anywhere"))
	if _, err := x.l.Append(k.signer["alice"], "alice", draft(good)); err != nil {
		t.Fatalf("an admin's override: %v", err)
	}
	x.chain = strings.Fields(x.git(nil, "rev-list", "--reverse", "--first-parent", x.ref()))
	if _, err := x.l.Verify(VerifyOptions{Signatures: true}); err != nil {
		t.Fatalf("verify: %v", err)
	}
	// The same receipt forged with a bad override: verify chain rejects it.
	for _, tc := range []struct {
		name string
		o    receipt.Override
		want string
	}{
		{"the admin's override, forged again (a control)", good.Overrides[0], ""},
		{"signed by a non-admin", bobs, "override: key bob has roles [approver], needs admin"},
		{"signature over another statement", otherSig, "override by alice: "},
	} {
		y := x.clone(t)
		_, r := y.receiptAt(4)
		r.Apply.Policy.Overrides = []receipt.Override{tc.o}
		b, err := r.Encode()
		if err != nil {
			t.Fatal(err)
		}
		y.forge(y.chain[3], b, "alice", map[string][]byte{plans.Path(plan.ID): pb, plans.ApprovalPath(plan.ID, "bob"): approval})
		_, err = y.l.Verify(VerifyOptions{Signatures: true, Full: true})
		if tc.want == "" {
			if err != nil {
				t.Errorf("verify, %s: %v", tc.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "receipt 4") {
			t.Errorf("verify, %s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
