package workspace

import (
	"context"
	"strings"

	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/policy"
)

// PlanReviewPolicy is the main branch's policy over the state plan p would
// leave, as plan review shows it: nil when the main branch has no
// policy/*.rego file; a policy that does not compile or cannot be evaluated
// is the outcome's Error, not an error. It says what the policy finds, not
// what apply decides (the gate of issue 14 compares with the state now and
// takes overrides into account).
func (ws *Workspace) PlanReviewPolicy(ctx context.Context, p *plans.Plan) *plans.PolicyOutcome {
	ref := ws.MainRef()
	out, err := gitCmd(ws.Ledger.GitDir, "ls-tree", "--name-only", "-z", ref, "--", policy.Dir+"/")
	if err != nil {
		return nil
	}
	for _, name := range strings.Split(out, "\x00") {
		if strings.HasSuffix(name, policy.Ext) {
			return ws.reviewPolicy(ctx, ref, p)
		}
	}
	return nil
}
