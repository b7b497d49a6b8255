package workspace

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vmc-git/vmc-git/apply"
	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/policy"
	"github.com/vmc-git/vmc-git/receipt"
)

// Policy at apply.
//
// Before a plan's provider calls, apply evaluates the policy of the main
// branch (policy/*.rego at the revision the plans were read from) twice:
// over the provider's resources now and over the state the plan would
// leave (policy.AfterPlan). The plan is denied when the second has deny
// findings the first has not (the same resource and rule): a plan is not
// blocked by violations it does not introduce, such as a server an earlier
// override let through. A denial is lifted by admin overrides
// (plans/<id>.overrides/<kid>.json, see package plans) that together name
// every rule of those findings, each valid with the trust state at the
// ledger tip. Only the bundle the trust state pins judges (policypin.go):
// another bundle on main keeps every plan pending. The receipt records the
// outcome (receipt.Policy): none (no policy files, pinned none), pass,
// overridden (with the overrides), or, for a merged plan that is then
// retired as refused, denied. A policy that does not
// compile, or a provider that cannot be listed, stops the plan without a
// receipt: it is tried again by the next run.

// PolicyVerdict is the policy outcome for one plan as apply decides it.
type PolicyVerdict struct {
	// Policy is what the receipt records (result none, pass, overridden or
	// denied).
	Policy *receipt.Policy `json:"policy"`
	// Deny lists the deny findings the plan introduces (empty on pass).
	Deny []policy.Finding `json:"deny"`
	// Uncovered lists the rules of Deny no valid override names; the
	// plan is denied when it is not empty.
	Uncovered []string `json:"uncovered,omitempty"`
	// Overrides sorts the plan's override files (valid ones by kid,
	// invalid ones with the reason).
	Overrides plans.OverrideStatus `json:"overrides"`
	// End is the policy's result over the state the plan would leave
	// (every finding, introduced or not; nil without a policy): plan
	// status shows it without evaluating the policy a second time.
	End *policy.Result `json:"-"`
}

// Denied reports whether the plan may not be applied.
func (v *PolicyVerdict) Denied() bool { return v.Policy.Result == receipt.PolicyDenied }

// PlanPolicy is the policy outcome of plan id as apply would decide it
// now: the plan, its overrides and the policy read from revision rev (""
// for the main branch), the trust state at the ledger tip, the provider's
// resources now. For plan_status and plan review.
func (ws *Workspace) PlanPolicy(ctx context.Context, rev, id string) (*PolicyVerdict, error) {
	if rev == "" {
		rev = ws.MainRef()
	}
	if err := plans.ValidID(id); err != nil {
		return nil, usageErr(err)
	}
	b, err := ws.treeFile(rev, plans.Path(id), plans.MaxSize)
	if err != nil {
		return nil, notFoundErr(fmt.Errorf("plan %s on %s: %w", id, rev, err))
	}
	p, err := plans.Parse(b)
	if err != nil {
		return nil, invalidErr(err)
	}
	files, err := ws.treeOverrides(rev, id)
	if err != nil {
		return nil, err
	}
	tip, err := ws.Ledger.Tip()
	if err != nil {
		return nil, err
	}
	bundle, err := ws.gatePolicy(rev, tip.Trust)
	if err != nil {
		return nil, err
	}
	return ws.decidePolicy(ctx, bundle, p, b, files, tip.Trust, time.Now())
}

// gatePolicy loads the policy at rev for apply under trust state t: nil,
// nil for no policy (result none); a refused *PolicyPinError when rev's
// bundle is not the one t pins (policypin.go).
func (ws *Workspace) gatePolicy(rev string, t *keys.Trust) (*policy.Bundle, error) {
	p, err := ws.readPolicyAt(rev)
	if err != nil {
		return nil, err
	}
	return p.forPin(t.PolicyBundle)
}

// policyGate is apply's gate for plans read from revision rev: the policy
// at rev, read once per run and compiled once it is known to be the one
// the trust state pins, and each plan's overrides from dir (a plan file's
// directory) or, when dir is "", from rev's tree.
func (ws *Workspace) policyGate(rev, dir string) apply.Gate {
	var at *policyAt
	return func(ctx context.Context, p *plans.Plan, in apply.Input, tip *gitledger.Tip) (*receipt.Policy, error) {
		if at == nil {
			var err error
			if at, err = ws.readPolicyAt(rev); err != nil {
				return nil, err
			}
		}
		bundle, err := at.forPin(tip.Trust.PolicyBundle)
		if err != nil {
			return nil, err
		}
		if bundle == nil {
			return &receipt.Policy{Result: receipt.PolicyNone}, nil // no overrides to read
		}
		var files map[string][]byte
		if dir != "" {
			files, err = plans.LoadOverrides(dir, p.ID)
		} else {
			files, err = ws.treeOverrides(rev, p.ID)
		}
		if err != nil {
			return nil, err
		}
		v, err := ws.decidePolicy(ctx, bundle, p, in.Bytes, files, tip.Trust, time.Now())
		if err != nil {
			return nil, err
		}
		if v.Denied() {
			return nil, &apply.DeniedError{Plan: p.ID, Policy: v.Policy, Detail: deniedDetail(p.ID, v)}
		}
		return v.Policy, nil
	}
}

// decidePolicy evaluates bundle (nil: no policy) for plan p (bytes b) with
// override files (kid -> bytes) checked against t at time at.
func (ws *Workspace) decidePolicy(ctx context.Context, bundle *policy.Bundle, p *plans.Plan, b []byte, files map[string][]byte, t *keys.Trust, at time.Time) (*PolicyVerdict, error) {
	v := &PolicyVerdict{Deny: []policy.Finding{}, Overrides: plans.CheckOverrideSet(t, p.Ledger, p.ID, b, files, at)}
	if bundle == nil {
		v.Policy = &receipt.Policy{Result: receipt.PolicyNone}
		return v, nil
	}
	sum := bundle.Blake3()
	v.Policy = &receipt.Policy{Blake3: &sum, Result: receipt.PolicyPass}
	cur, err := ws.PolicyInput(ctx, "")
	if err != nil {
		return nil, err
	}
	end, err := policy.AfterPlan(cur, p)
	if err != nil {
		return nil, invalidErr(fmt.Errorf("policy: %w", err))
	}
	before, err := bundle.Eval(ctx, cur, policy.Limits{})
	if err != nil {
		return nil, invalidErr(err, "fix the policy on the main branch")
	}
	after, err := bundle.Eval(ctx, end, policy.Limits{})
	if err != nil {
		return nil, invalidErr(err, "fix the policy on the main branch")
	}
	v.End = after
	v.Deny = policy.Introduced(before.Deny, after.Deny)
	if len(v.Deny) == 0 {
		return v, nil
	}
	rules := denyRules(v.Deny)
	v.Policy.Rules = rules
	v.Uncovered = receipt.Uncovered(rules, v.Overrides.Valid)
	if len(v.Uncovered) == 0 && len(rules) <= receipt.MaxPolicyRules {
		v.Policy.Result, v.Policy.Overrides = receipt.PolicyOverridden, v.Overrides.Valid
		return v, nil
	}
	v.Policy.Result = receipt.PolicyDenied
	if len(rules) > receipt.MaxPolicyRules {
		v.Policy.Rules = rules[:receipt.MaxPolicyRules]
	}
	return v, nil
}

// unnamedRule stands in a receipt for a rule whose name an override
// cannot name (receipt.ValidRule).
const unnamedRule = "unnamed-rule"

// denyRules returns the distinct rule names of fs, sorted.
func denyRules(fs []policy.Finding) []string {
	var out []string
	for _, f := range fs {
		r := f.Rule
		if receipt.ValidRule(r) != nil {
			r = unnamedRule
		}
		out = append(out, r)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// deniedDetail is the refusal's text: the policy, each finding the plan
// introduces with its rule and resource, the overrides that did not count,
// and what a human can do.
func deniedDetail(id string, v *PolicyVerdict) string {
	var b strings.Builder
	fmt.Fprintf(&b, "the state it would leave breaks deny rules no admin override covers (policy blake3 %s):", v.Policy.Blake3)
	for _, f := range v.Deny {
		r := f.Resource
		if r == "" {
			r = "-"
		}
		fmt.Fprintf(&b, " [%s] %s: %s;", f.Rule, r, f.Reason)
	}
	for _, kid := range slices.Sorted(mapKeys(v.Overrides.Invalid)) {
		fmt.Fprintf(&b, " override %s not counted: %s;", kid, v.Overrides.Invalid[kid])
	}
	var flags []string
	for _, r := range v.Uncovered {
		flags = append(flags, "--override "+r)
	}
	fmt.Fprintf(&b, " fix it in a new plan, or have an admin run vmc-git approve %s plans/%s.json and commit plans/%s%s/ with the plan before it is merged (a merged plan denied at apply is retired)",
		strings.Join(flags, " "), id, id, plans.OverridesSuffix)
	return b.String()
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// treeFile reads one blob of at most limit bytes at rev:path.
func (ws *Workspace) treeFile(rev, path string, limit int64) ([]byte, error) {
	out, err := gitCmd(ws.Ledger.GitDir, "cat-file", "-s", rev+":"+path)
	if err != nil {
		return nil, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
	if err != nil || n > limit {
		return nil, fmt.Errorf("%s: %s bytes, at most %d", path, strings.TrimSpace(out), limit)
	}
	b, err := gitCmd(ws.Ledger.GitDir, "cat-file", "blob", rev+":"+path)
	return []byte(b), err
}

// treeOverrides reads plans/<id>.overrides/*.json at rev, bounded as the
// plan-tree rule bounds them (at most receipt.MaxOverrides files of at most
// plans.MaxOverrideSize bytes); an entry of another name or type is an error.
func (ws *Workspace) treeOverrides(rev, id string) (map[string][]byte, error) {
	dir := plans.Dir + "/" + id + plans.OverridesSuffix + "/"
	out, err := gitCmd(ws.Ledger.GitDir, "ls-tree", "-l", "-z", rev, "--", dir)
	if err != nil {
		return nil, fmt.Errorf("read %s on %s: %w", dir, rev, err)
	}
	files := map[string][]byte{}
	for _, e := range strings.Split(out, "\x00") {
		if e == "" {
			continue
		}
		meta, name, _ := strings.Cut(e, "\t")
		f := strings.Fields(meta)
		kid, ok := strings.CutSuffix(strings.TrimPrefix(name, dir), ".json")
		if len(f) != 4 || f[0] != plans.ModeFile || f[1] != "blob" || !ok || keys.ValidKID(kid) != nil {
			return nil, invalidErr(fmt.Errorf("%s on %s: not an override file (<kid>.json)", name, rev))
		}
		if len(files) == receipt.MaxOverrides {
			return nil, invalidErr(fmt.Errorf("%s on %s: more than %d overrides", dir, rev, receipt.MaxOverrides))
		}
		if n, err := strconv.ParseInt(f[3], 10, 64); err != nil || n > plans.MaxOverrideSize {
			return nil, invalidErr(fmt.Errorf("%s on %s: %s bytes, at most %d", name, rev, f[3], plans.MaxOverrideSize))
		}
		b, err := gitCmd(ws.Ledger.GitDir, "cat-file", "blob", f[2])
		if err != nil {
			return nil, err
		}
		files[kid] = []byte(b)
	}
	return files, nil
}

// policyAtApply is plan review's line on what apply would decide for p
// (bytes b) with the policy at base and the overrides at head.
func (ws *Workspace) policyAtApply(ctx context.Context, base, head string, p *plans.Plan, b []byte, tip *gitledger.Tip) string {
	bundle, err := ws.gatePolicy(base, tip.Trust)
	var pe *PolicyPinError
	if errors.As(err, &pe) {
		return "not judged: " + err.Error()
	}
	if err != nil {
		return ""
	}
	files, err := ws.treeOverrides(head, p.ID)
	if err != nil {
		return receipt.PolicyDenied + ": " + err.Error()
	}
	v, err := ws.decidePolicy(ctx, bundle, p, b, files, tip.Trust, time.Now())
	if err != nil {
		return ""
	}
	line := v.Policy.Result
	var kids []string
	for _, o := range v.Policy.Overrides {
		kids = append(kids, o.KID)
	}
	switch v.Policy.Result {
	case receipt.PolicyOverridden:
		line += fmt.Sprintf(" by %s (%s)", strings.Join(kids, ", "), strings.Join(v.Policy.Rules, ", "))
	case receipt.PolicyDenied:
		var flags []string
		for _, r := range v.Uncovered {
			flags = append(flags, "--override "+r)
		}
		line += fmt.Sprintf(": no admin override for %s (an admin runs vmc-git approve %s plans/%s.json)", strings.Join(v.Uncovered, ", "), strings.Join(flags, " "), p.ID)
		for _, kid := range slices.Sorted(mapKeys(v.Overrides.Invalid)) {
			line += fmt.Sprintf("; override %s not counted: %s", kid, v.Overrides.Invalid[kid])
		}
	}
	return line
}
