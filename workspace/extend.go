package workspace

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vmc-git/vmc-git/internal/fsutil"
	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/provider"
)

// ExtendPlan appends actions to the plan in file, which must not be
// approved or merged yet: the plan is made again (the same dry run as
// MakePlan, against the ledger head and the provider now) with its
// actions followed by the new ones, each planned against the state the
// ones before it leave, and file is replaced. The plan keeps its id; its
// summary is summary, or generated again when summary is "". Approvals
// sign a plan's exact bytes, so an approved plan is refused (make a new
// one), as is a plan already on the main branch (merged plans are
// immutable).
func (ws *Workspace) ExtendPlan(ctx context.Context, file, summary string, actions []provider.Action) (*MadePlan, error) {
	old, _, err := LoadPlan(file)
	if err != nil {
		return nil, err
	}
	if ents, err := os.ReadDir(filepath.Join(filepath.Dir(file), old.ID+plans.ApprovalsSuffix)); err == nil && len(ents) > 0 {
		return nil, refusedErr(fmt.Errorf("plan %s has %d approval(s): they sign its exact bytes, and another action would void them", old.ID, len(ents)),
			"make a new plan with all the actions, or remove "+filepath.Join(filepath.Dir(file), old.ID+plans.ApprovalsSuffix)+" and approve again")
	}
	if ws.Root != "" {
		if _, err := gitCmd(ws.Root, "cat-file", "-e", ws.MainRef()+":"+plans.Path(old.ID)); err == nil {
			return nil, refusedErr(fmt.Errorf("plan %s is on the main branch: merged plans are immutable", old.ID), "make a new plan with --id")
		}
	}
	var all []provider.Action
	for _, s := range old.Actions {
		all = append(all, s.Action)
	}
	all = append(all, actions...)
	tmp := file + ".extending"
	os.Remove(tmp)
	m, err := ws.MakePlan(ctx, PlanRequest{ID: old.ID, Summary: summary, CreatedBy: old.CreatedBy, Out: tmp, Actions: all})
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp)
	if err := fsutil.WriteFileAtomic(file, m.Bytes, 0o644); err != nil {
		return nil, err
	}
	m.Path = file
	return m, nil
}
