package plans

import (
	"fmt"
	"strings"

	"github.com/vmc-git/vmc-git/provider"
	"github.com/vmc-git/vmc-git/receipt"
)

// MaxComment is GitHub's limit on a pull-request comment, in characters.
const MaxComment = 65536

// Review is the result of reviewing the plans a pull request adds.
type Review struct {
	Plans      []PlanReview `json:"plans"`
	Violations []Violation  `json:"violations"` // rules the pull request breaks
	// PolicyChange is set when the pull request changes policy/: not a
	// broken rule, but apply judges no plan with an unpinned bundle.
	PolicyChange *PolicyChange `json:"policy_change,omitempty"`
}

// PolicyChange is a pull request's change to the policy files (policy/ on
// the base branch) and what it means for the pinned bundle (the trust
// state's policy_bundle, keys/trust.json): Message says it in one line,
// Hint what an admin does.
type PolicyChange struct {
	Files []ChangedFile `json:"files"`
	// Pinned is the trust state's pin (a blake3, "none", or "" when
	// nothing is pinned or the trust state could not be read); Bundle is
	// the bundle the head has (a blake3, or "none" for no policy files).
	Pinned string `json:"pinned"`
	Bundle string `json:"bundle"`
	// MatchesPin reports whether the head's bundle is the pinned one.
	MatchesPin bool   `json:"matches_pin"`
	Message    string `json:"message"`
	Hint       string `json:"hint,omitempty"`
}

// ChangedFile is one file a pull request changes, with git's status
// letter (A, M, D, T).
type ChangedFile struct {
	Status string `json:"status"`
	File   string `json:"file"`
}

// Violation is one broken rule, tied to a file.
type Violation struct {
	File    string `json:"file"`
	Message string `json:"message"`
}

// PlanReview is one added plan, checked.
type PlanReview struct {
	File      string                      `json:"file"`
	ID        string                      `json:"id"`
	Summary   string                      `json:"summary"`
	Plan      *Plan                       `json:"plan"`
	Bytes     []byte                      `json:"-"`
	Now       map[string]*provider.Server `json:"current,omitempty"` // provider's view by server name
	NowError  string                      `json:"current_error,omitempty"`
	Approvals ApprovalStatus              `json:"approvals"`
	Stale     []string                    `json:"stale,omitempty"`
	// Refused lists the steps the provider's catalogue refuses now
	// (CheckCatalog): apply would fail them.
	Refused []string `json:"refused,omitempty"`
	// Policy is the base branch's policy (policy/*.rego) evaluated over
	// the state the plan would leave; nil when it was not evaluated.
	Policy *PolicyOutcome `json:"policy,omitempty"`
}

// PolicyOutcome is a policy check of a plan's end state, as a review shows
// it: each finding as one line "resource [rule] reason".
type PolicyOutcome struct {
	Blake3 string   `json:"policy_blake3,omitempty"`
	Deny   []string `json:"deny,omitempty"`
	Warn   []string `json:"warn,omitempty"`
	Error  string   `json:"error,omitempty"` // the policy could not be evaluated
	// AtApply is what apply would decide now with the overrides in the
	// pull request: "" (not evaluated), or a line starting with the
	// result (receipt.Policy: pass, overridden, denied).
	AtApply string `json:"at_apply,omitempty"`
}

// Overridden reports whether admin overrides let the plan through.
func (o *PolicyOutcome) Overridden() bool {
	return strings.HasPrefix(o.AtApply, receipt.PolicyOverridden)
}

// OK reports whether the pull request breaks no rule.
func (r *Review) OK() bool { return len(r.Violations) == 0 }

// Markdown renders the review. If the full text exceeds limit characters,
// each plan's details are folded to one line and the result says so; the
// caller puts the full text in the job summary.
func (r *Review) Markdown(limit int) (text string, folded bool) {
	full := r.render(false)
	if len(full) <= limit {
		return full, false
	}
	short := r.render(true)
	if len(short) > limit {
		cut := limit - 200
		short = short[:cut] + "\n\n… (truncated: see the job summary for the full review)\n"
	}
	return short, true
}

func (r *Review) render(fold bool) string {
	var b strings.Builder
	b.WriteString("## vmc-git plan review\n\n")
	if len(r.Plans) == 0 {
		b.WriteString("This pull request adds no plans.\n")
	}
	for _, v := range r.Violations {
		fmt.Fprintf(&b, "- :x: `%s`: %s\n", v.File, mdEscape(v.Message))
	}
	if len(r.Violations) > 0 {
		b.WriteString("\n")
	}
	if pc := r.PolicyChange; pc != nil {
		mark := ":warning:"
		if pc.MatchesPin {
			mark = ":information_source:"
		}
		fmt.Fprintf(&b, "- %s **policy change**: %s\n", mark, mdEscape(pc.Message))
		if pc.Hint != "" {
			fmt.Fprintf(&b, "  - %s\n", mdEscape(pc.Hint))
		}
		b.WriteString("\n")
	}
	for _, p := range r.Plans {
		status := ":white_check_mark: ready to apply once merged"
		switch {
		case len(p.Refused) > 0:
			status = ":x: the provider would refuse it"
		case len(p.Stale) > 0:
			status = ":warning: stale: apply would refuse it"
		case !p.Approvals.Approved():
			status = fmt.Sprintf(":hourglass: %d approval(s) missing", p.Approvals.Missing)
		case p.Policy != nil && len(p.Policy.Deny) > 0 && !p.Policy.Overridden():
			status = ":x: policy denies its end state"
		}
		if fold {
			fmt.Fprintf(&b, "- `%s`: %s — %s\n", p.ID, mdEscape(p.Summary), status)
			continue
		}
		b.WriteString("<details open><summary>")
		fmt.Fprintf(&b, "<code>%s</code>: %s</summary>\n\n", p.ID, status)
		now := p.Now
		b.WriteString(p.Plan.Markdown(p.Bytes, now, &p.Approvals, p.Stale))
		if len(p.Refused) > 0 {
			b.WriteString("\n**The provider would refuse:**\n")
			for _, r := range p.Refused {
				fmt.Fprintf(&b, "- %s\n", mdEscape(r))
			}
		}
		if pol := p.Policy; pol != nil {
			if pol.Error != "" {
				fmt.Fprintf(&b, "\n**Policy not evaluated:** %s\n", mdEscape(pol.Error))
			}
			if len(pol.Deny)+len(pol.Warn) > 0 {
				b.WriteString("\n**Policy (end state):**\n")
			}
			for _, f := range pol.Deny {
				fmt.Fprintf(&b, "- :x: deny: %s\n", mdEscape(f))
			}
			for _, f := range pol.Warn {
				fmt.Fprintf(&b, "- :warning: warn: %s\n", mdEscape(f))
			}
			if pol.AtApply != "" {
				fmt.Fprintf(&b, "\n**Policy at apply:** %s\n", mdEscape(pol.AtApply))
			}
		}
		if p.NowError != "" {
			fmt.Fprintf(&b, "\n_current state not checked: %s_\n", mdEscape(p.NowError))
		}
		b.WriteString("\n</details>\n\n")
	}
	if fold {
		b.WriteString("\n_Details folded to fit GitHub's comment limit; the full review is in the job summary._\n")
	}
	return b.String()
}
