package receipt

import (
	"encoding/json"
	"fmt"
	"regexp"

	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/keys"
)

// Apply is the body of an apply receipt: which plan was applied, from which
// main commit, with whose approvals, and what each action did.
type Apply struct {
	Plan      PlanRef         `json:"plan"`
	Actions   []ActionRecord  `json:"actions"`
	Forced    []string        `json:"forced_locks,omitempty"` // servers whose lock --force broke
	Recovered bool            `json:"recovered,omitempty"`    // written by reconciling an unfinished intent
	Extra     json.RawMessage `json:"extra,omitempty"`
	// Status is empty for a plan that was applied (each action's result
	// says how it went), else ApplyRefused or ApplyWithdrawn: the plan was
	// retired without any provider call, for Reason, and Actions is empty.
	// Either way the plan is in the ledger and never applied again.
	Status string `json:"status,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Policy is the policy outcome at apply (policy.go); absent in
	// receipts written before policy ran at apply.
	Policy *Policy `json:"policy,omitempty"`
}

// Apply statuses of a plan retired without a provider call.
const (
	// ApplyRefused: an applier found the merged plan stale, unapproved
	// past its deadline, or invalid. Signed by an applier; the approvals
	// listed are those that were valid (possibly fewer than required).
	ApplyRefused = "refused"
	// ApplyWithdrawn: an approver withdrew the merged, unapplied plan.
	// Signed by that approver; no approvals.
	ApplyWithdrawn = "withdrawn"
)

// MaxReason bounds a refusal's or withdrawal's reason, in bytes.
const MaxReason = 1000

// Retired reports whether the receipt retires its plan without applying it.
func (a *Apply) Retired() bool { return a.Status != "" }

// PlanRef identifies the exact plan bytes that were applied.
type PlanRef struct {
	ID        string        `json:"id"`
	Path      string        `json:"path"` // plans/<id>.json
	Blake3    digest.Digest `json:"blake3"`
	SHA256    digest.Digest `json:"sha256"`
	Commit    string        `json:"commit"` // main commit that carried the plan
	Approvals []string      `json:"approvals"`
}

// ActionRecord is one planned action and its outcome. Action and Result are
// the provider's own JSON forms.
type ActionRecord struct {
	Action json.RawMessage `json:"action"`
	Result json.RawMessage `json:"result"`
}

var commitRE = regexp.MustCompile(`^[0-9a-f]{40}$`)

// RolesOf lists which roles may sign r: Roles by kind, except that an
// approver withdraws a plan.
func RolesOf(r *Receipt) []keys.Role {
	if r.Kind == KindApply && r.Apply != nil && r.Apply.Status == ApplyWithdrawn {
		return []keys.Role{keys.RoleApprover}
	}
	return Roles[r.Kind]
}

// PlanPath returns plans/<id>.json.
func PlanPath(id string) string { return "plans/" + id + ".json" }

// Validate checks the shape of an apply body.
func (a *Apply) Validate() error {
	if err := ValidPlanID(a.Plan.ID); err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	if a.Plan.Path != PlanPath(a.Plan.ID) {
		return fmt.Errorf("apply: plan path %q, want %q", a.Plan.Path, PlanPath(a.Plan.ID))
	}
	if a.Plan.Commit != "" && !commitRE.MatchString(a.Plan.Commit) {
		return fmt.Errorf("apply: plan commit %q is not a commit id", a.Plan.Commit)
	}
	for i, k := range a.Plan.Approvals {
		if err := keys.ValidKID(k); err != nil {
			return fmt.Errorf("apply: approval %d: %w", i, err)
		}
		if i > 0 && a.Plan.Approvals[i-1] >= k {
			return fmt.Errorf("apply: approvals must be sorted and distinct")
		}
	}
	switch a.Status {
	case "":
		if a.Reason != "" {
			return fmt.Errorf("apply: a reason without a status")
		}
		if len(a.Actions) == 0 {
			return fmt.Errorf("apply: no actions")
		}
	case ApplyRefused, ApplyWithdrawn:
		if a.Reason == "" || len(a.Reason) > MaxReason {
			return fmt.Errorf("apply: a %s plan needs a reason of 1 to %d bytes", a.Status, MaxReason)
		}
		if len(a.Actions) != 0 || len(a.Forced) != 0 || a.Recovered {
			return fmt.Errorf("apply: a %s plan has no actions, forced locks or recovery", a.Status)
		}
		if a.Status == ApplyWithdrawn && len(a.Plan.Approvals) != 0 {
			return fmt.Errorf("apply: a withdrawn plan carries no approvals")
		}
	default:
		return fmt.Errorf("apply: status %q, want %q or %q (or none)", a.Status, ApplyRefused, ApplyWithdrawn)
	}
	if a.Policy != nil {
		if err := a.Policy.Validate(a.Status); err != nil {
			return err
		}
	}
	for i, ac := range a.Actions {
		if len(ac.Action) == 0 || len(ac.Result) == 0 {
			return fmt.Errorf("apply: action %d: action and result are required", i)
		}
	}
	return nil
}
