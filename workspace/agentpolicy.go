package workspace

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/receipt"
)

// PlanPolicyStatus is a plan's policy as plan status shows it (the CLI's
// plan status, the MCP server's plan_status and plan_create): for a plan
// not yet in the ledger, what apply would decide now (PlanPolicy's rule:
// the main branch's policy, the deny findings the plan introduces, the
// overrides that cover them) beside every finding over the state the plan
// would leave; for a plan in the ledger, what its apply receipt recorded
// (apply.policy).
type PlanPolicyStatus struct {
	// Result is apply's decision: receipt.PolicyNone (no policy files on
	// the main branch), PolicyPass, PolicyOverridden or PolicyDenied; ""
	// when it could not be decided (Error).
	Result string `json:"result"`
	// Recorded: the plan is in the ledger and Result is its receipt's.
	Recorded bool   `json:"recorded"`
	Blake3   string `json:"policy_blake3,omitempty"`
	// Rules are the rules of the deny findings the plan introduces.
	Rules []string `json:"rules,omitempty"`
	// Uncovered are the rules of Rules no valid override names (not
	// empty: denied).
	Uncovered []string `json:"uncovered,omitempty"`
	// Overrides are the kids of the overrides that count (recorded: the
	// receipt's); NotCounted the others, with why.
	Overrides  []string          `json:"overrides"`
	NotCounted map[string]string `json:"not_counted,omitempty"`
	// Deny and Warn are every finding over the state the plan would
	// leave, each "resource [rule] reason" (Deny includes violations the
	// plan does not introduce, which do not block it).
	Deny  []string `json:"deny"`
	Warn  []string `json:"warn"`
	Error string   `json:"error,omitempty"` // the policy could not be evaluated
}

// PlanPolicyOf is the policy status of plan p (exact bytes b) not yet in
// the ledger, with override files (kid -> bytes, as plans.LoadOverrides or
// the plan's tree give them). A policy that does not compile or cannot be
// evaluated is the status's Error, not an error.
func (ws *Workspace) PlanPolicyOf(ctx context.Context, p *plans.Plan, b []byte, overrides map[string][]byte) *PlanPolicyStatus {
	out := &PlanPolicyStatus{Overrides: []string{}, Deny: []string{}, Warn: []string{}}
	tip, err := ws.Ledger.Tip()
	if err != nil {
		out.Error = err.Error()
		return out
	}
	bundle, err := ws.gatePolicy(ws.MainRef(), tip.Trust)
	if err == nil && bundle == nil {
		out.Result = receipt.PolicyNone
		return out
	}
	if err != nil {
		out.Error = err.Error()
		return out
	}
	out.Blake3 = bundle.Blake3().String()
	v, err := ws.decidePolicy(ctx, bundle, p, b, overrides, tip.Trust, time.Now())
	if err != nil {
		out.Error = err.Error()
		return out
	}
	out.Result, out.Rules, out.Uncovered = v.Policy.Result, v.Policy.Rules, v.Uncovered
	for _, o := range v.Overrides.Valid {
		out.Overrides = append(out.Overrides, o.KID)
	}
	if len(v.Overrides.Invalid) > 0 {
		out.NotCounted = v.Overrides.Invalid
	}
	if v.End != nil {
		out.Deny, out.Warn = findingLines(out.Deny, v.End.Deny), findingLines(out.Warn, v.End.Warn)
	}
	return out
}

// PlanPolicyAt is PlanPolicyOf for a plan FindPlan found, whose state
// PlanState gave: the overrides are read from the plan's tree (bounded as
// the plan-tree rule bounds them); for an applied plan (retired ones too),
// its receipt's policy (nil when the receipt records none: a withdrawn
// plan, or a receipt written before policy at apply).
func (ws *Workspace) PlanPolicyAt(ctx context.Context, f *FoundPlan, st *AgentPlanState) *PlanPolicyStatus {
	if st.Applied {
		return RecordedPolicy(st.Policy)
	}
	files, err := ws.treeOverrides(f.Ref, f.Plan.ID)
	if err != nil {
		return &PlanPolicyStatus{Overrides: []string{}, Deny: []string{}, Warn: []string{}, Error: err.Error()}
	}
	return ws.PlanPolicyOf(ctx, f.Plan, f.Bytes, files)
}

// RecordedPolicy is the policy status an apply receipt recorded (nil for
// rec nil).
func RecordedPolicy(rec *receipt.Policy) *PlanPolicyStatus {
	if rec == nil {
		return nil
	}
	out := &PlanPolicyStatus{Recorded: true, Overrides: []string{}, Deny: []string{}, Warn: []string{}}
	out.Result, out.Rules = rec.Result, rec.Rules
	if rec.Blake3 != nil {
		out.Blake3 = rec.Blake3.String()
	}
	for _, o := range rec.Overrides {
		out.Overrides = append(out.Overrides, o.KID)
	}
	if rec.Result == receipt.PolicyDenied {
		out.Uncovered = receipt.Uncovered(rec.Rules, rec.Overrides)
	}
	return out
}

// Line is the status in one line: the result, then what it rests on
// (overrides, uncovered rules and the override command, overrides not
// counted, the error).
func (s *PlanPolicyStatus) Line(id string) string {
	if s.Error != "" {
		return "not decided: " + s.Error
	}
	line := s.Result
	if s.Recorded {
		line += " (recorded at apply)"
	}
	switch s.Result {
	case receipt.PolicyOverridden:
		line += " by " + strings.Join(s.Overrides, ", ") + " (" + strings.Join(s.Rules, ", ") + ")"
	case receipt.PolicyDenied:
		line += ": no admin override for " + strings.Join(s.Uncovered, ", ")
		if !s.Recorded {
			line += " (" + OverrideCommand(id, s.Uncovered) + ")"
		}
	}
	for _, kid := range slices.Sorted(mapKeys(s.NotCounted)) {
		line += "; override " + kid + " not counted: " + s.NotCounted[kid]
	}
	return line
}

// OverrideCommand is what an admin runs to override rules for plan id
// (HintDenied's command, with the rules and the plan filled in).
func OverrideCommand(id string, rules []string) string {
	cmd := "vmc-git approve"
	for _, r := range rules {
		cmd += " --override " + r
	}
	return cmd + " " + plans.Path(id) + ", then commit " + plans.Dir + "/" + id + plans.OverridesSuffix + "/ with the plan"
}

// PlanInFile is AgentPlanState.Where of a plan read from a file.
const PlanInFile = "file"

// PlanFileState is plan status FILE: the approvals and overrides beside the
// file (as Status and apply --plan read them), checked at the ledger tip;
// for a plan in the ledger, how its receipt retired it (applied, refused,
// withdrawn); and the policy status (PlanPolicyOf, or the receipt's). It
// does not check freshness.
func (ws *Workspace) PlanFileState(ctx context.Context, p *plans.Plan, b []byte, file string) (*AgentPlanState, *PlanPolicyStatus, error) {
	dir := filepath.Dir(file)
	sigs, err := plans.LoadApprovals(dir, p.ID)
	if err != nil {
		return nil, nil, err
	}
	st, err := ws.planState(ctx, &FoundPlan{Plan: p, Bytes: b, Approvals: sigs, Where: PlanInFile}, false)
	if err != nil {
		return nil, nil, err
	}
	if st.Applied {
		return st, RecordedPolicy(st.Policy), nil
	}
	files, err := plans.LoadOverrides(dir, p.ID)
	if err != nil {
		return nil, nil, err
	}
	return st, ws.PlanPolicyOf(ctx, p, b, files), nil
}
