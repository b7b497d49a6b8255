package receipt

import (
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/keys"
)

// TestPolicyBundleOp: the shape of a keys receipt of op policy_bundle, and
// CheckPolicyPin's rule for apply receipts, each refusal with its message.
func TestPolicyBundleOp(t *testing.T) {
	pin := digest.Blake3([]byte("policy")).String()
	change := func(p Proposal) *KeysChange {
		p.V, p.Ledger, p.Op = Version, "example.com/l", KeysPolicyBundle
		return &KeysChange{Proposal: p, Signatures: []Cosig{{KID: "alice", Sig: "x"}}}
	}
	for _, tc := range []struct {
		name string
		ch   *KeysChange
		want string
	}{
		{"a blake3", change(Proposal{PolicyBundle: pin}), ""},
		{"none", change(Proposal{PolicyBundle: keys.PolicyBundleNone}), ""},
		{"empty", change(Proposal{}), `invalid policy bundle pin ""`},
		{"upper-case hex", change(Proposal{PolicyBundle: strings.ToUpper(pin)}), "invalid policy bundle pin"},
		{"short", change(Proposal{PolicyBundle: pin[:63]}), "invalid policy bundle pin"},
		{"with a kid", change(Proposal{PolicyBundle: pin, KID: "bob"}), "policy_bundle takes policy_bundle only"},
		{"with thresholds", change(Proposal{PolicyBundle: pin, Policy: &keys.Policy{ApprovalsRequired: 1, AdminThreshold: 1}}), "takes no policy or roles"},
		{"on another op", &KeysChange{Proposal: Proposal{V: Version, Ledger: "example.com/l", Op: KeysProvider, Provider: "hetzner", PolicyBundle: pin},
			Signatures: []Cosig{{KID: "alice", Sig: "x"}}}, "only op policy_bundle takes policy_bundle"},
		{"smuggled in op policy", &KeysChange{Proposal: Proposal{V: Version, Ledger: "example.com/l", Op: KeysPolicy,
			Policy: &keys.Policy{ApprovalsRequired: 1, AdminThreshold: 1, PolicyBundle: pin}}, Signatures: []Cosig{{KID: "alice", Sig: "x"}}},
			"the policy bundle changes with op policy_bundle"},
	} {
		err := tc.ch.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}

	d := digest.Blake3([]byte("policy"))
	other := digest.Blake3([]byte("other"))
	apply := func(p *Policy) *Receipt { return &Receipt{Kind: KindApply, Apply: &Apply{Policy: p}} }
	trustPinning := func(pin string) *keys.Trust { return &keys.Trust{Policy: keys.Policy{PolicyBundle: pin}} }
	for _, tc := range []struct {
		name string
		pin  string
		p    *Policy
		want string
	}{
		{"pinned bundle", pin, &Policy{Blake3: &d, Result: PolicyPass}, ""},
		{"pinned bundle, denied", pin, &Policy{Blake3: &d, Result: PolicyDenied, Rules: []string{"r"}}, ""},
		{"no member", pin, nil, ""},
		{"unpinned ledger", "", &Policy{Blake3: &other, Result: PolicyPass}, ""},
		{"none under none", keys.PolicyBundleNone, &Policy{Result: PolicyNone}, ""},
		{"another bundle", pin, &Policy{Blake3: &other, Result: PolicyPass}, "policy: result pass under policy bundle " + other.String() + ", but the trust state pins " + pin},
		{"another bundle's denial", pin, &Policy{Blake3: &other, Result: PolicyDenied, Rules: []string{"r"}}, "policy: result denied under policy bundle " + other.String()},
		{"none under a pin", pin, &Policy{Result: PolicyNone}, "policy: result none, but the trust state pins policy bundle " + pin},
		{"a bundle under none", keys.PolicyBundleNone, &Policy{Blake3: &d, Result: PolicyPass}, "policy: result pass, but the trust state pins no policy bundle (none)"},
	} {
		err := CheckPolicyPin(trustPinning(tc.pin), apply(tc.p))
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
