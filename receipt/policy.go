package receipt

import (
	"fmt"
	"regexp"

	"github.com/vmc-git/vmc-git/internal/canon"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/keys"
)

// Policy at apply: the optional apply.policy member.
//
// An applier evaluates the policy (policy/*.rego on the main branch) over
// the state a plan would leave before it calls the provider, and records
// the outcome in the apply receipt:
//
//	"policy": {"result": "none"}                      no policy files on main
//	"policy": {"blake3": "9f…", "result": "pass"}     no deny rule the plan introduces
//	"policy": {"blake3": "9f…", "result": "overridden", "rules": ["ssh-from-anywhere"],
//	           "overrides": [{"kid": "alice", "reason": "bastion", "rules": ["ssh-from-anywhere"],
//	                          "sig": "-----BEGIN SSH SIGNATURE-----\n…"}]}
//	"policy": {"blake3": "9f…", "result": "denied", "rules": ["naming"]}   (refused receipts only)
//
// blake3 is the policy bundle's digest (package policy, Bundle.Blake3);
// rules are the distinct names of the deny findings the plan introduces,
// sorted. An overridden receipt carries the admin overrides that cover every
// one of them: each an SSHSIG, namespace keys.NamespaceOverride, over the
// canonical override statement (OverrideStatement) that binds this
// ledger, the plan's id and blake3, the signer's kid, the rules and the
// reason. verify chain checks each signature with the trust state at the
// previous receipt, by a key with the admin role at the receipt's time,
// one per key, and that their rules cover the receipt's rules. Receipts
// without the member (written before policy ran at apply) verify as before.
//
// Where the trust state at the previous receipt pins a policy bundle
// (keys.Policy.PolicyBundle, set at genesis or by a keys receipt of op
// policy_bundle), the member must agree with the pin (CheckPolicyPin):
// result none only under the pin none, and any other result only with the
// pinned blake3. So a denial that retires a plan is always the pinned
// bundle's, and a policy pushed to the main branch without an admin's pin
// can neither judge nor lift the judging of a plan.

// Policy results.
const (
	PolicyNone       = "none"
	PolicyPass       = "pass"
	PolicyOverridden = "overridden"
	PolicyDenied     = "denied"
)

// Override bounds.
const (
	MaxPolicyRules = 32   // rules in one policy outcome or override
	MaxOverrides   = 8    // overrides of one plan
	MaxRuleName    = 128  // bytes of a rule name
	MaxSigText     = 4096 // bytes of an armored override signature
)

// OverrideVersion is the v of an override statement.
const OverrideVersion = 1

var ruleRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/:-]*$`)

// ValidRule checks a policy rule name as an override names it.
func ValidRule(r string) error {
	if len(r) > MaxRuleName || !ruleRE.MatchString(r) {
		return fmt.Errorf("rule name %q: want 1 to %d of A-Z a-z 0-9 . _ / : -", r, MaxRuleName)
	}
	return nil
}

// Policy is the policy outcome of an apply receipt.
type Policy struct {
	Blake3    *digest.Digest `json:"blake3,omitempty"`
	Result    string         `json:"result"`
	Rules     []string       `json:"rules,omitempty"`
	Overrides []Override     `json:"overrides,omitempty"`
}

// Override is one admin's signed override of policy rules for one plan.
type Override struct {
	KID    string   `json:"kid"`
	Reason string   `json:"reason,omitempty"`
	Rules  []string `json:"rules"`
	Sig    string   `json:"sig"` // armored SSHSIG over OverrideStatement
}

// OverrideStatement is what an override signs: canonical JSON
// {"kid","ledger","plan","plan_blake3","reason" (when not empty),"rules","v"}.
type OverrideStatement struct {
	V          int           `json:"v"`
	Ledger     string        `json:"ledger"`
	Plan       string        `json:"plan"`
	PlanBlake3 digest.Digest `json:"plan_blake3"`
	KID        string        `json:"kid"`
	Rules      []string      `json:"rules"`
	Reason     string        `json:"reason,omitempty"`
}

// Encode returns the statement's canonical bytes.
func (s OverrideStatement) Encode() ([]byte, error) {
	if err := checkRules(s.Rules, false); err != nil {
		return nil, err
	}
	return canon.Marshal(s)
}

// Statement is the statement o signs for plan (id, blake3) of ledger.
func (o Override) Statement(ledger, plan string, planBlake3 digest.Digest) OverrideStatement {
	return OverrideStatement{V: OverrideVersion, Ledger: ledger, Plan: plan, PlanBlake3: planBlake3, KID: o.KID, Rules: o.Rules, Reason: o.Reason}
}

// Validate checks an override's shape (not its signature).
func (o Override) Validate() error {
	if err := keys.ValidKID(o.KID); err != nil {
		return fmt.Errorf("override: %w", err)
	}
	if err := checkRules(o.Rules, false); err != nil {
		return fmt.Errorf("override by %s: %w", o.KID, err)
	}
	if len(o.Reason) > MaxReason {
		return fmt.Errorf("override by %s: reason longer than %d bytes", o.KID, MaxReason)
	}
	if o.Sig == "" || len(o.Sig) > MaxSigText {
		return fmt.Errorf("override by %s: a signature of 1 to %d bytes is required", o.KID, MaxSigText)
	}
	return nil
}

// checkRules: 1 to MaxPolicyRules valid names, sorted and distinct (none
// when empty is true).
func checkRules(rs []string, empty bool) error {
	if len(rs) == 0 && !empty {
		return fmt.Errorf("no rules")
	}
	if len(rs) > MaxPolicyRules {
		return fmt.Errorf("%d rules, at most %d", len(rs), MaxPolicyRules)
	}
	for i, r := range rs {
		if err := ValidRule(r); err != nil {
			return err
		}
		if i > 0 && rs[i-1] >= r {
			return fmt.Errorf("rules must be sorted and distinct")
		}
	}
	return nil
}

// Validate checks a policy outcome's shape in an apply receipt of status
// status: a refused receipt may only say denied, a withdrawn one nothing,
// and an overridden outcome's overrides cover its rules.
func (p *Policy) Validate(status string) error {
	fail := func(format string, a ...any) error { return fmt.Errorf("apply: policy: "+format, a...) }
	switch {
	case status == ApplyWithdrawn:
		return fail("a withdrawn plan was not evaluated")
	case status == ApplyRefused && p.Result != PolicyDenied:
		return fail("a refused receipt records only result %s", PolicyDenied)
	}
	switch p.Result {
	case PolicyNone:
		if p.Blake3 != nil || len(p.Rules) != 0 || len(p.Overrides) != 0 {
			return fail("result none has no blake3, rules or overrides")
		}
		return nil
	case PolicyPass:
		if len(p.Rules) != 0 || len(p.Overrides) != 0 {
			return fail("result pass has no rules or overrides")
		}
	case PolicyOverridden:
		if len(p.Overrides) == 0 || len(p.Overrides) > MaxOverrides {
			return fail("result overridden needs 1 to %d overrides", MaxOverrides)
		}
	case PolicyDenied:
		if status != ApplyRefused {
			return fail("result denied only in a refused receipt")
		}
		if len(p.Overrides) != 0 {
			return fail("result denied has no overrides")
		}
	default:
		return fail("result %q, want %s, %s, %s or %s", p.Result, PolicyNone, PolicyPass, PolicyOverridden, PolicyDenied)
	}
	if p.Blake3 == nil {
		return fail("result %s needs the policy blake3", p.Result)
	}
	if err := checkRules(p.Rules, p.Result == PolicyPass); err != nil {
		return fail("%v", err)
	}
	for i, o := range p.Overrides {
		if err := o.Validate(); err != nil {
			return fail("%v", err)
		}
		if i > 0 && p.Overrides[i-1].KID >= o.KID {
			return fail("overrides must be sorted by kid and distinct")
		}
	}
	if p.Result == PolicyOverridden {
		if un := Uncovered(p.Rules, p.Overrides); len(un) > 0 {
			return fail("rules %v are not covered by an override", un)
		}
	}
	return nil
}

// Uncovered returns the rules of want that no override in os names.
func Uncovered(want []string, os []Override) []string {
	have := map[string]bool{}
	for _, o := range os {
		for _, r := range o.Rules {
			have[r] = true
		}
	}
	var out []string
	for _, r := range want {
		if !have[r] {
			out = append(out, r)
		}
	}
	return out
}

// CheckPolicyPin checks an apply receipt's policy member against the
// policy bundle trust state t (the one at the previous receipt) pins: none
// with the pin none, the pinned blake3 otherwise. A receipt without the
// member, and any receipt under a trust state that pins nothing (ledgers
// made before pins), passes.
func CheckPolicyPin(t *keys.Trust, r *Receipt) error {
	if r.Apply == nil || r.Apply.Policy == nil || t.PolicyBundle == "" {
		return nil
	}
	p := r.Apply.Policy
	switch {
	case t.PolicyBundle == keys.PolicyBundleNone && p.Result != PolicyNone:
		return fmt.Errorf("policy: result %s, but the trust state pins no policy bundle (none)", p.Result)
	case t.PolicyBundle == keys.PolicyBundleNone:
		return nil
	case p.Result == PolicyNone:
		return fmt.Errorf("policy: result none, but the trust state pins policy bundle %s", t.PolicyBundle)
	case p.Blake3 == nil || p.Blake3.String() != t.PolicyBundle:
		return fmt.Errorf("policy: result %s under policy bundle %s, but the trust state pins %s", p.Result, p.Blake3, t.PolicyBundle)
	}
	return nil
}

// CheckOverrides checks the overrides an apply receipt lists (its policy
// member) with trust state t (the one at the previous receipt): each signed
// at the receipt's time by a distinct key with the admin role, over the
// statement for the receipt's ledger and plan. A receipt without overrides
// passes.
func CheckOverrides(t *keys.Trust, r *Receipt) error {
	if r.Apply == nil || r.Apply.Policy == nil {
		return nil
	}
	seen := map[string]string{}
	for _, o := range r.Apply.Policy.Overrides {
		stmt, err := o.Statement(r.Ledger, r.Apply.Plan.ID, r.Apply.Plan.Blake3).Encode()
		if err != nil {
			return err
		}
		if err := t.CheckOverride(o.KID, stmt, []byte(o.Sig), r.Time(), seen); err != nil {
			return fmt.Errorf("policy: %w", err)
		}
	}
	return nil
}
