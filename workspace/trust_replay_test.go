package workspace

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/internal/config"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/receipt"
	"github.com/vmc-git/vmc-git/trust"
	"github.com/vmc-git/vmc-git/witness"
)

// TestTrustReplayEveryOp: with admin_threshold 2 (alice and carol), a
// trust change of every keys op, co-signed by both and applied, is not
// applied a second time from its saved proposal by one admin after a later
// trust change: not through ApplyTrust, and not through a forger's own
// writer (gitledger Append, past the workspace's checks), which the
// ledger's verification refuses, naming the op. Where the later change
// undoes the first (thresholds, provider, pins, witnesses), the trust
// state is the one the proposal was made for in everything but changed_seq:
// the test checks that, so it is changed_seq alone that refuses the replay.
func TestTrustReplayEveryOp(t *testing.T) {
	w := newWorld(t, 2)
	ws := w.open()
	both := func(t *testing.T, what string, tc TrustChange) (saved []byte, changedBefore uint64) {
		t.Helper()
		tip, err := ws.Ledger.Tip()
		if err != nil {
			t.Fatal(err)
		}
		ch, _, err := ws.ProposeTrust(tc)
		if err != nil {
			t.Fatalf("%s: propose: %v", what, err)
		}
		for _, kid := range []string{"alice", "carol"} {
			if _, err := ws.CosignTrust(ch, w.ids[kid]); err != nil {
				t.Fatalf("%s: cosign %s: %v", what, kid, err)
			}
		}
		saved, _ = json.Marshal(ch)
		if _, err := ws.ApplyTrust(ch, w.ids["alice"]); err != nil {
			t.Fatalf("%s: apply: %v", what, err)
		}
		return saved, tip.Trust.Changed()
	}
	n := func(i int) *int { return &i }
	wit := func(name string) *keys.WitnessSpec {
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		vk, err := witness.VerifierKey(name, pub)
		if err != nil {
			t.Fatal(err)
		}
		return &keys.WitnessSpec{Name: name, Key: vk, URL: "https://" + name}
	}
	keyOf := func(kid string, roles ...keys.Role) *keys.KeySpec {
		s := spec(w.key(kid), roles...)
		return &s
	}
	w1 := wit("w.example/1")
	pinOf := func(s string) string { return digest.Blake3([]byte(s)).String() }
	bob2 := w.key("bob2")

	for _, c := range []struct {
		op      string
		setup   []TrustChange // applied first
		first   TrustChange   // the change replayed
		then    []TrustChange // later changes, before the replay
		undoing bool          // then puts the trust state back but for changed_seq
	}{
		{op: receipt.KeysPolicy,
			first: TrustChange{Op: receipt.KeysPolicy, ApprovalsRequired: n(2)},
			then:  []TrustChange{{Op: receipt.KeysPolicy, ApprovalsRequired: n(1)}}, undoing: true},
		{op: receipt.KeysProvider,
			first: TrustChange{Op: receipt.KeysProvider, Provider: config.ProviderHetzner},
			then:  []TrustChange{{Op: receipt.KeysProvider, Provider: config.ProviderSandbox}}, undoing: true},
		{op: receipt.KeysPolicyBundle,
			first: TrustChange{Op: receipt.KeysPolicyBundle, PolicyBundle: pinOf("b")},
			then:  []TrustChange{{Op: receipt.KeysPolicyBundle, PolicyBundle: keys.PolicyBundleNone}}, undoing: true},
		{op: receipt.KeysAddWitness,
			first: TrustChange{Op: receipt.KeysAddWitness, Witness: w1},
			then:  []TrustChange{{Op: receipt.KeysRemoveWitness, WitnessName: w1.Name}}, undoing: true},
		{op: receipt.KeysRemoveWitness,
			setup: []TrustChange{{Op: receipt.KeysAddWitness, Witness: w1}},
			first: TrustChange{Op: receipt.KeysRemoveWitness, WitnessName: w1.Name},
			then:  []TrustChange{{Op: receipt.KeysAddWitness, Witness: w1}}, undoing: true},
		{op: receipt.KeysWitnessThreshold, // w1 is a witness again (the case before)
			first: TrustChange{Op: receipt.KeysWitnessThreshold, WitnessThreshold: n(1)},
			then:  []TrustChange{{Op: receipt.KeysWitnessThreshold, WitnessThreshold: n(0)}}, undoing: true},
		{op: receipt.KeysRoles,
			first: TrustChange{Op: receipt.KeysRoles, KID: "bob", Roles: []keys.Role{keys.RoleApplier, keys.RoleApprover}},
			then:  []TrustChange{{Op: receipt.KeysRoles, KID: "bob", Roles: []keys.Role{keys.RoleApprover}}}},
		{op: receipt.KeysTrust,
			first: TrustChange{Op: receipt.KeysTrust, Key: keyOf("dave", keys.RoleApprover)},
			then:  []TrustChange{{Op: receipt.KeysRevoke, KID: "dave", Reason: receipt.ReasonRetired}}},
		{op: receipt.KeysRevoke,
			setup: []TrustChange{{Op: receipt.KeysTrust, Key: keyOf("erin", keys.RoleApprover)}},
			first: TrustChange{Op: receipt.KeysRevoke, KID: "erin", Reason: receipt.ReasonCompromised},
			then:  []TrustChange{{Op: receipt.KeysPolicy, ApprovalsRequired: n(2)}, {Op: receipt.KeysPolicy, ApprovalsRequired: n(1)}}},
		{op: receipt.KeysRotate,
			first: TrustChange{Op: receipt.KeysRotate, KID: "bob", NewKey: keys.FormatPublicKey(bob2.Signer.PublicKey())},
			then:  []TrustChange{{Op: receipt.KeysPolicy, ApprovalsRequired: n(2)}}},
	} {
		t.Run(c.op, func(t *testing.T) {
			for _, tc := range c.setup {
				both(t, c.op+" setup", tc)
			}
			saved, changedBefore := both(t, c.op, c.first)
			for _, tc := range c.then {
				both(t, c.op+" later", tc)
			}
			var first receipt.KeysChange
			if err := json.Unmarshal(saved, &first); err != nil {
				t.Fatal(err)
			}
			before, err := ws.Ledger.Tip()
			if err != nil {
				t.Fatal(err)
			}
			if c.undoing {
				// The state is back where the proposal was made, but for
				// changed_seq: without it the replay would apply.
				back := before.Trust.Clone()
				back.MarkChanged(changedBefore)
				if d, err := trust.StateDigest(back); err != nil || d != first.Proposal.Base {
					t.Fatalf("the later change did not put the trust state back (%v): %s, proposed against %s", err, d, first.Proposal.Base)
				}
			}

			replay := first
			_, err = ws.ApplyTrust(&replay, w.ids["alice"])
			wantKind(t, c.op+" replayed through ApplyTrust", err, KindRefused, "keys op "+c.op+": the proposal was made against trust state "+first.Proposal.Base.String())

			_, err = ws.Ledger.Append(w.ids["alice"].Signer, "alice", func(*gitledger.Tip) (*gitledger.Draft, error) {
				return &gitledger.Draft{Receipt: receipt.Receipt{Kind: receipt.KindKeys, Summary: "replay", Keys: &replay}}, nil
			})
			want := "keys op " + c.op + ": trust change proposed against trust state " + first.Proposal.Base.String() + ", but the trust state is now "
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s replayed past the workspace: %v, want %q", c.op, err, want)
			}
			after, _ := ws.Ledger.Tip()
			if after.Commit != before.Commit {
				t.Fatalf("%s: the replay wrote receipt %d", c.op, after.Head.Seq)
			}
		})
	}
}

// TestTrustReplayHeadBased: a proposal in the older form, based on the
// ledger head's blake3 rather than the trust state, applies once, right
// after that head, and its replay is refused.
func TestTrustReplayHeadBased(t *testing.T) {
	w := newWorld(t, 2)
	ws := w.open()
	tip, _ := ws.Ledger.Tip()
	ch, _, err := ws.ProposeTrust(TrustChange{Op: receipt.KeysProvider, Provider: config.ProviderHetzner})
	if err != nil {
		t.Fatal(err)
	}
	ch.Proposal.Base = tip.Head.Blake3
	for _, kid := range []string{"alice", "carol"} {
		if err := cosign(ch, w.ids[kid]); err != nil {
			t.Fatal(err)
		}
	}
	saved, _ := json.Marshal(ch)
	if _, err := ws.ApplyTrust(ch, w.ids["alice"]); err != nil {
		t.Fatalf("head-based proposal: %v", err)
	}
	back, _, err := ws.ProposeTrust(TrustChange{Op: receipt.KeysProvider, Provider: config.ProviderSandbox})
	if err != nil {
		t.Fatal(err)
	}
	for _, kid := range []string{"alice", "carol"} {
		if err := cosign(back, w.ids[kid]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ws.ApplyTrust(back, w.ids["carol"]); err != nil {
		t.Fatal(err)
	}
	var replay receipt.KeysChange
	json.Unmarshal(saved, &replay)
	_, err = ws.ApplyTrust(&replay, w.ids["alice"])
	wantKind(t, "head-based replay", err, KindRefused, "keys op provider: the proposal was made against trust state "+tip.Head.Blake3.String())
	before, _ := ws.Ledger.Tip()
	_, err = ws.Ledger.Append(w.ids["alice"].Signer, "alice", func(*gitledger.Tip) (*gitledger.Draft, error) {
		return &gitledger.Draft{Receipt: receipt.Receipt{Kind: receipt.KindKeys, Summary: "replay", Keys: &replay}}, nil
	})
	if want := "keys op provider: trust change proposed against trust state " + tip.Head.Blake3.String(); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("head-based replay past the workspace: %v, want %q", err, want)
	}
	if after, _ := ws.Ledger.Tip(); after.Commit != before.Commit || after.Trust.Provider != config.ProviderSandbox {
		t.Fatalf("the replay wrote: provider %s", after.Trust.Provider)
	}
}
