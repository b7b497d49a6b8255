package gitledger

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vmc-git/vmc-git/internal/canon"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/receipt"
	"github.com/vmc-git/vmc-git/trust"
)

// TestPolicyPinHook: the policy pin (keys op policy_bundle) through a real
// git push into a bare origin with the pre-receive hook (and the client's
// pre-push hook). A pin co-signed by a non-admin, by an untrusted key, or
// with an admin's co-signature copied from a pin of another bundle is
// refused by the writer and, forged and pushed, by both hooks, each with its
// own message; an admin's pin is accepted. Under the pin, an apply receipt
// that records another bundle, or result none, is refused the same way; one
// that records the pinned bundle is accepted, and a fresh clone verifies.
func TestPolicyPinHook(t *testing.T) {
	f := newHookFixture(t)
	x, origin := f.clone(t)
	x.mustPush("origin", x.ref())
	alice := x.k.signer["alice"]
	pinned := digest.Blake3([]byte("the reviewed policy")).String()
	other := digest.Blake3([]byte("a pusher's policy")).String()

	// pin is a policy_bundle change of bundle at tip, co-signed by kids
	// (sigs overrides a kid's signature).
	pin := func(tip *Tip, bundle string, sigs map[string]string, kids ...string) *receipt.KeysChange {
		t.Helper()
		base, err := trust.StateDigest(tip.Trust)
		if err != nil {
			t.Fatal(err)
		}
		p := receipt.Proposal{V: receipt.Version, Ledger: tip.Head.Ledger, Base: base, Op: receipt.KeysPolicyBundle, PolicyBundle: bundle}
		msg, err := canon.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		ch := &receipt.KeysChange{Proposal: p}
		for _, kid := range kids {
			sig, err := x.k.signer[kid].Sign(keys.NamespaceKeys, msg)
			if err != nil {
				t.Fatal(err)
			}
			s := string(sig)
			if o, ok := sigs[kid]; ok {
				s = o
			}
			ch.Signatures = append(ch.Signatures, receipt.Cosig{KID: kid, Sig: s})
		}
		return ch
	}
	keysDraft := func(ch *receipt.KeysChange) func(*Tip) (*Draft, error) {
		return func(*Tip) (*Draft, error) {
			return &Draft{Receipt: receipt.Receipt{Kind: receipt.KindKeys, Summary: "pin policy bundle", Keys: ch}}, nil
		}
	}
	// forgeNext writes r (seq, prev, time, kid filled in) on top of the tip
	// as the writer would, signed by alice, with trust state after in
	// keys/ (nil: unchanged) and extra files, bypassing the writer's checks.
	forgeNext := func(r receipt.Receipt, after func(*keys.Trust, *receipt.Receipt) (*keys.Trust, error), extra map[string][]byte) {
		t.Helper()
		tip, err := x.l.Tip()
		if err != nil {
			t.Fatal(err)
		}
		r.V, r.Ledger, r.Seq, r.PrevBlake3, r.KID = receipt.Version, tip.Head.Ledger, tip.Head.Seq+1, tip.Head.Blake3, "alice"
		r.CreatedAt = keys.FormatTime(time.Now())
		body, err := r.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if extra == nil {
			extra = map[string][]byte{}
		}
		if after != nil {
			tr, err := after(tip.Trust, &r)
			if err != nil {
				t.Fatal(err)
			}
			tj, err := canon.Marshal(tr)
			if err != nil {
				t.Fatal(err)
			}
			extra[KeysDir+"/"+TrustFile] = tj
		}
		x.forge(tip.Commit.String(), body, "alice", extra)
	}
	refused := func(name, want string) {
		t.Helper()
		good := x.chain[len(x.chain)-1]
		if _, err := x.l.Verify(VerifyOptions{Signatures: true}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: verify: %v, want %q", name, err, want)
		}
		x.pushRefused(origin, x.ref(), want, "origin", x.ref())
		x.setTip(good)
	}

	tip, err := x.l.Tip()
	if err != nil {
		t.Fatal(err)
	}
	real := pin(tip, pinned, nil, "alice")
	copied := pin(tip, other, map[string]string{"alice": real.Signatures[0].Sig}, "alice")
	for _, tc := range []struct {
		name string
		ch   *receipt.KeysChange
		want string
	}{
		{"co-signed by an applier", pin(tip, pinned, nil, "carol"), "co-signature: key carol has roles [applier], needs admin"},
		{"co-signed by an untrusted key", pin(tip, pinned, nil, "mallory"), "co-signature: key mallory is not trusted"},
		{"an admin's co-signature copied from another pin", copied, "co-signature by alice: "},
	} {
		if _, err := x.l.Append(alice, "alice", keysDraft(tc.ch)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("writer, %s: %v, want %q", tc.name, err, tc.want)
		}
		forgeNext(receipt.Receipt{Kind: receipt.KindKeys, Summary: "pin policy bundle", Keys: tc.ch}, trust.ApplyKeysUnsigned, nil)
		refused(tc.name, tc.want)
	}

	// The admin's pin goes through.
	if _, err := x.l.Append(alice, "alice", keysDraft(real)); err != nil {
		t.Fatalf("the admin's pin: %v", err)
	}
	x.mustPush("origin", x.ref())
	x.chain = strings.Fields(x.git(nil, "rev-list", "--reverse", "--first-parent", x.ref()))
	if tip, err = x.l.Tip(); err != nil || tip.Trust.PolicyBundle != pinned {
		t.Fatalf("pinned: %v %v", tip.Trust.PolicyBundle, err)
	}

	// Apply receipts under the pin.
	pb := x.plan("web-9", "create web-9")
	approval, err := plans.Approve(x.k.signer["bob"], pb)
	if err != nil {
		t.Fatal(err)
	}
	var p plans.Plan
	if err := json.Unmarshal(pb, &p); err != nil {
		t.Fatal(err)
	}
	sums := digest.Of(pb)
	applyOf := func(pol *receipt.Policy) receipt.Receipt {
		return receipt.Receipt{Kind: receipt.KindApply, Summary: "apply " + p.ID, Apply: &receipt.Apply{
			Plan:    receipt.PlanRef{ID: p.ID, Path: plans.Path(p.ID), Blake3: sums.Blake3, SHA256: sums.SHA256, Approvals: []string{"bob"}},
			Actions: []receipt.ActionRecord{{Action: []byte(`{"op":"create"}`), Result: []byte(`{"status":"succeeded"}`)}},
			Policy:  pol,
		}}
	}
	planFiles := map[string][]byte{plans.Path(p.ID): pb, plans.ApprovalPath(p.ID, "bob"): approval}
	applyDraft := func(pol *receipt.Policy) func(*Tip) (*Draft, error) {
		return func(*Tip) (*Draft, error) {
			return &Draft{Receipt: applyOf(pol), Plan: &PlanCopy{Bytes: pb, Approvals: map[string][]byte{"bob": approval}}}, nil
		}
	}
	otherD, err := digest.Parse(other)
	if err != nil {
		t.Fatal(err)
	}
	pinnedD, err := digest.Parse(pinned)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		pol  *receipt.Policy
		want string
	}{
		{"another bundle than the pin", &receipt.Policy{Blake3: &otherD, Result: receipt.PolicyPass},
			"policy: result pass under policy bundle " + other + ", but the trust state pins " + pinned},
		{"result none under a pinned bundle", &receipt.Policy{Result: receipt.PolicyNone},
			"policy: result none, but the trust state pins policy bundle " + pinned},
	} {
		if _, err := x.l.Append(alice, "alice", applyDraft(tc.pol)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("writer, %s: %v, want %q", tc.name, err, tc.want)
		}
		forgeNext(applyOf(tc.pol), nil, planFiles)
		refused(tc.name, tc.want)
	}
	if _, err := x.l.Append(alice, "alice", applyDraft(&receipt.Policy{Blake3: &pinnedD, Result: receipt.PolicyPass})); err != nil {
		t.Fatalf("an apply under the pinned bundle: %v", err)
	}
	x.mustPush("origin", x.ref())
	if _, err := x.l.Verify(VerifyOptions{Signatures: true, Full: true}); err != nil {
		t.Fatalf("verify: %v", err)
	}
}
