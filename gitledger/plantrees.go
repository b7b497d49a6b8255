package gitledger

import (
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vmc-git/vmc-git/plans"
)

// PlanTrees reads plans/ trees from this repository's object store, for
// the plan-tree rule and the approvals reader of package plans
// (plans.TreeReader): trees of any mode, bounded by gitobj.MaxTreeSize,
// blobs refused unread beyond the limit asked. The verifier reads the copy
// of an applied plan's approvals with it; the hook and review read the
// main branch's plans/ with it.
func (l *Ledger) PlanTrees() plans.TreeReader { return planTrees{l} }

type planTrees struct{ l *Ledger }

func (r planTrees) Tree(id string) ([]plans.TreeEntry, error) {
	es, err := r.l.ReadTree(plumbing.NewHash(id))
	if err != nil {
		return nil, err
	}
	out := make([]plans.TreeEntry, len(es))
	for i, e := range es {
		out[i] = planEntry(e)
	}
	return out, nil
}

func (r planTrees) Blob(id string, limit int64) ([]byte, error) {
	return r.l.ReadBlobLimit(plumbing.NewHash(id), limit)
}

func planEntry(e TreeEntry) plans.TreeEntry {
	return plans.TreeEntry{Mode: e.Mode, Name: e.Name, ID: e.ID.String()}
}
