package workspace

import (
	"fmt"
	"strings"

	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/receipt"
)

// Withdraw retires plan id, merged on the main branch and not applied, for
// reason: one apply receipt with status withdrawn, signed by id (who must
// be a trusted approver), carrying the plan bytes as merged and no
// approvals. The plan is then in the ledger and apply never tries it.
// mainRef is the ref holding the main branch to read the plan from ("" for
// the local main branch; Publishing with a remote passes the remote's).
func (ws *Workspace) Withdraw(id Identity, planID, reason, mainRef string) (*gitledger.Written, error) {
	if err := plans.ValidID(planID); err != nil {
		return nil, usageErr(err)
	}
	if reason == "" || len(reason) > receipt.MaxReason || strings.ContainsAny(reason, "\n\r") {
		return nil, usagef("--reason: one line of 1 to %d bytes", receipt.MaxReason)
	}
	if ws.Root == "" {
		return nil, usagef("plan withdraw needs a work tree")
	}
	if mainRef == "" {
		mainRef = ws.MainRef()
	}
	out, err := gitCmd(ws.Root, "show", mainRef+":"+plans.Path(planID))
	if err != nil {
		return nil, notFoundErr(fmt.Errorf("plan %s is not merged on %s", planID, strings.TrimPrefix(mainRef, "refs/")),
			"only a merged plan is withdrawn; an unmerged one is just not merged (close its pull request)")
	}
	b := []byte(out)
	sums := digest.Of(b)
	w, err := ws.Ledger.Append(id.Signer, id.KID, func(tip *gitledger.Tip) (*gitledger.Draft, error) {
		if done, err := ws.Applied(planID); err != nil {
			return nil, err
		} else if done {
			return nil, refusedErr(fmt.Errorf("plan %s is already in the ledger (applied, refused or withdrawn): there is nothing to withdraw", planID), "vmc-git log shows its receipt")
		}
		summary := ws.summary(fmt.Sprintf("apply %s: withdrawn: %s", planID, reason))
		return &gitledger.Draft{
			Receipt: receipt.Receipt{Kind: receipt.KindApply, Summary: summary, Apply: &receipt.Apply{
				Plan:    receipt.PlanRef{ID: planID, Path: plans.Path(planID), Blake3: sums.Blake3, SHA256: sums.SHA256, Approvals: []string{}},
				Actions: []receipt.ActionRecord{}, Status: receipt.ApplyWithdrawn, Reason: reason,
			}},
			Plan: &gitledger.PlanCopy{Bytes: b, Approvals: map[string][]byte{}},
		}, nil
	})
	if err != nil {
		return nil, refusedIfConflict(err)
	}
	return w, nil
}
