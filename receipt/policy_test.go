package receipt

import (
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/internal/digest"
)

// TestPolicyValidate: the shape rules of apply.policy, each refusal with
// its own message, and the valid forms round-tripping through Parse.
func TestPolicyValidate(t *testing.T) {
	sum := digest.Blake3([]byte("policy"))
	o := Override{KID: "alice", Rules: []string{"naming"}, Sig: "sig"}
	for _, tc := range []struct {
		name   string
		status string
		p      Policy
		want   string // "" when valid
	}{
		{"none", "", Policy{Result: PolicyNone}, ""},
		{"pass", "", Policy{Blake3: &sum, Result: PolicyPass}, ""},
		{"overridden", "", Policy{Blake3: &sum, Result: PolicyOverridden, Rules: []string{"naming"}, Overrides: []Override{o}}, ""},
		{"denied on a refused receipt", ApplyRefused, Policy{Blake3: &sum, Result: PolicyDenied, Rules: []string{"naming"}}, ""},
		{"none with a blake3", "", Policy{Blake3: &sum, Result: PolicyNone}, "result none has no blake3"},
		{"pass without a blake3", "", Policy{Result: PolicyPass}, "needs the policy blake3"},
		{"pass with rules", "", Policy{Blake3: &sum, Result: PolicyPass, Rules: []string{"naming"}}, "result pass has no rules"},
		{"an unknown result", "", Policy{Blake3: &sum, Result: "maybe"}, `result "maybe"`},
		{"denied on an applied receipt", "", Policy{Blake3: &sum, Result: PolicyDenied, Rules: []string{"naming"}}, "result denied only in a refused receipt"},
		{"pass on a refused receipt", ApplyRefused, Policy{Blake3: &sum, Result: PolicyPass}, "a refused receipt records only result denied"},
		{"on a withdrawn receipt", ApplyWithdrawn, Policy{Result: PolicyNone}, "a withdrawn plan was not evaluated"},
		{"overridden without overrides", "", Policy{Blake3: &sum, Result: PolicyOverridden, Rules: []string{"naming"}}, "needs 1 to 8 overrides"},
		{"overridden, a rule not covered", "", Policy{Blake3: &sum, Result: PolicyOverridden, Rules: []string{"labels", "naming"}, Overrides: []Override{o}}, "rules [labels] are not covered"},
		{"denied without rules", ApplyRefused, Policy{Blake3: &sum, Result: PolicyDenied}, "no rules"},
		{"rules unsorted", ApplyRefused, Policy{Blake3: &sum, Result: PolicyDenied, Rules: []string{"b", "a"}}, "sorted and distinct"},
		{"a bad rule name", ApplyRefused, Policy{Blake3: &sum, Result: PolicyDenied, Rules: []string{"a b"}}, "rule name"},
		{"overrides unsorted", "", Policy{Blake3: &sum, Result: PolicyOverridden, Rules: []string{"naming"}, Overrides: []Override{{KID: "bob", Rules: []string{"naming"}, Sig: "s"}, o}}, "sorted by kid"},
		{"an override without a signature", "", Policy{Blake3: &sum, Result: PolicyOverridden, Rules: []string{"naming"}, Overrides: []Override{{KID: "alice", Rules: []string{"naming"}}}}, "a signature of 1 to"},
		{"an override with a bad kid", "", Policy{Blake3: &sum, Result: PolicyOverridden, Rules: []string{"naming"}, Overrides: []Override{{KID: "Alice!", Rules: []string{"naming"}, Sig: "s"}}}, "override: "},
	} {
		err := tc.p.Validate(tc.status)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	// An apply receipt with the member encodes and parses back.
	r := Receipt{V: Version, Ledger: "example.com/l", Seq: 1, PrevBlake3: sum, Kind: KindApply, CreatedAt: "2026-12-01T12:00:00Z", KID: "ci", Summary: "apply p",
		Apply: &Apply{Plan: PlanRef{ID: "p", Path: PlanPath("p"), Approvals: []string{}},
			Actions: []ActionRecord{{Action: []byte(`{"op":"reboot"}`), Result: []byte(`{"status":"succeeded"}`)}},
			Policy:  &Policy{Blake3: &sum, Result: PolicyOverridden, Rules: []string{"naming"}, Overrides: []Override{o}}}}
	b, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(b)
	if err != nil || back.Apply.Policy == nil || back.Apply.Policy.Overrides[0].KID != "alice" || *back.Apply.Policy.Blake3 != sum {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	if !strings.Contains(string(b), `"policy":{"blake3":"`) {
		t.Fatalf("encoding: %s", b)
	}
}
