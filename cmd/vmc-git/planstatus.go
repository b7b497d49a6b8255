package main

import (
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/receipt"
	"github.com/vmc-git/vmc-git/workspace"
)

// printPlanStatus prints plan status FILE: the approvals, the policy
// decision (what apply would decide, or what the receipt recorded), and
// whether the plan is applied, refused, withdrawn or ready.
func printPlanStatus(c *cli.Context, s *workspace.AgentPlanState, pol *workspace.PlanPolicyStatus) {
	st := s.Approvals
	if c.Bool("json") {
		out := map[string]any{"id": s.ID, "approvals": st, "approved": st.Approved(), "applied": s.Applied,
			"withdrawn": s.Outcome == receipt.ApplyWithdrawn, "policy": pol}
		if s.Applied {
			out["receipt"], out["outcome"], out["reason"], out["by"] = s.Receipt, s.Outcome, s.Reason, s.By
		}
		printJSON(c, out)
		return
	}
	outf(c, "plan %s: %d of %d approvals", s.ID, len(st.Valid), st.Required)
	if len(st.Valid) > 0 {
		outf(c, " (%s)", strings.Join(st.Valid, ", "))
	}
	outf(c, "\n")
	for k, why := range st.Invalid {
		outf(c, "  not counted: %s: %s\n", k, why)
	}
	if pol != nil {
		outf(c, "  policy: %s\n", pol.Line(s.ID))
	}
	switch {
	case s.Outcome == receipt.ApplyWithdrawn:
		outf(c, "  withdrawn by %s in receipt %d (%s): it never applies\n", s.By, s.Receipt, s.Reason)
	case s.Outcome == receipt.ApplyRefused:
		outf(c, "  refused and retired in receipt %d (%s): it never applies\n", s.Receipt, s.Reason)
	case s.Applied && s.Receipt > 0:
		outf(c, "  applied: yes (in the ledger, receipt %d)\n", s.Receipt)
	case s.Applied:
		outf(c, "  applied: yes (in the ledger)\n")
	case pol != nil && pol.Result == receipt.PolicyDenied:
		outf(c, "  denied by policy: %s\n", workspace.HintDenied)
		if !st.Approved() {
			outf(c, "  missing %d approval(s) from approver keys\n", st.Missing)
		}
	case st.Approved():
		outf(c, "  ready to apply\n")
	default:
		outf(c, "  missing %d approval(s) from approver keys\n", st.Missing)
	}
}
