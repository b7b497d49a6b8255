package workspace

import (
	"context"
	"strings"

	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/policy"
)

// PlanPolicy is the main branch's policy over the state plan p would leave
// (what plan review shows for it): nil when the main branch has no
// policy/*.rego file; a policy that does not compile or cannot be
// evaluated is the outcome's Error, not an error.
func (ws *Workspace) PlanPolicy(ctx context.Context, p *plans.Plan) *plans.PolicyOutcome {
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
