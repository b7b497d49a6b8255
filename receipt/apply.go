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
}

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
	if len(a.Actions) == 0 {
		return fmt.Errorf("apply: no actions")
	}
	for i, ac := range a.Actions {
		if len(ac.Action) == 0 || len(ac.Result) == 0 {
			return fmt.Errorf("apply: action %d: action and result are required", i)
		}
	}
	return nil
}
