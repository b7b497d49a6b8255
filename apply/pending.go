package apply

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/vmc-git/vmc-git/plans"
)

// PendingPlan is a plan committed on main without a receipt yet.
type PendingPlan struct {
	Err error // the file is not a plan named by its file name (reported, not applied)
	// BadApprovals: Err is about an approval file, not the plan: reported
	// every run, never recorded as refused (anyone who can push to main
	// could otherwise retire a good plan).
	BadApprovals bool
	ID           string
	Input        Input
	Added        int64 // commit time of the commit that added it
	Commit       string
}

// Pending lists the plans on branch mainRef of repo that have no receipt
// yet, oldest first (by the time of the commit that added them, then id).
// The plans/ tree, the plans and their approvals are read through trees
// (the ledger's bounded object reader: a blob's size is checked from its
// header before it is inflated), as the hook and review read them.
func Pending(repo *git.Repository, trees plans.TreeReader, gitDir string, mainRef plumbing.ReferenceName, applied func(id string) (bool, error)) ([]PendingPlan, error) {
	ref, err := repo.Reference(mainRef, true)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", mainRef, err)
	}
	c, err := repo.CommitObject(ref.Hash())
	if err != nil {
		return nil, err
	}
	tree, err := c.Tree()
	if err != nil {
		return nil, err
	}
	pt, err := tree.Tree(plans.Dir)
	if errors.Is(err, object.ErrDirectoryNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	added, err := addedCommits(gitDir, mainRef)
	if err != nil {
		return nil, err
	}
	es, err := trees.Tree(pt.Hash.String())
	if err != nil {
		return nil, err
	}
	var out []PendingPlan
	for _, e := range es {
		id, ok := cutJSON(e.Name)
		if mode, err := filemode.New(e.Mode); !ok || err != nil || !mode.IsFile() {
			continue
		}
		done, err := applied(id)
		if err != nil {
			return nil, err
		}
		if done {
			continue
		}
		a := added[plans.Path(id)]
		// One bad plan or approval (a directory, a gitlink, a huge blob:
		// main may hold anything where no hook guards it) is reported
		// with its plan and never stops the others.
		b, err := trees.Blob(e.ID, plans.MaxSize)
		if err != nil {
			out = append(out, PendingPlan{ID: id, Err: fmt.Errorf("%s: %w", plans.Path(id), err), Added: a.time, Commit: a.commit})
			continue
		}
		pp := PendingPlan{ID: id, Input: Input{Bytes: b, Approvals: map[string][]byte{}, Commit: a.commit}, Added: a.time, Commit: a.commit}
		// The one approvals reader (plans.ReadApprovals: the hook's rule,
		// which nothing else enforces without a server hook, on github.com).
		if ae, ok := findEntry(es, id+plans.ApprovalsSuffix); ok {
			if pp.Input.Approvals, err = plans.ReadApprovals(trees, plans.Dir, ae); err != nil {
				pp.Err, pp.BadApprovals = err, true
				out = append(out, pp)
				continue
			}
		}
		// Nor does anything else stop a plan whose id differs from its file
		// name (it would look pending forever): the rule of package plans
		// decides, as in the hook and in review.
		p, err := plans.CheckPlan(id, b, "")
		if err != nil {
			pp.Err = fmt.Errorf("%s: %w", plans.Path(id), err)
		} else {
			pp.Input.Plan = p // parsed once: Apply carries it
		}
		out = append(out, pp)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Added != out[j].Added {
			return out[i].Added < out[j].Added
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

type addedAt struct {
	commit string
	time   int64
}

// addedCommits maps each plans/*.json path to the commit that added it on
// mainRef, using the real git (one log walk).
func addedCommits(gitDir string, mainRef plumbing.ReferenceName) (map[string]addedAt, error) {
	cmd := exec.Command("git", "--git-dir", gitDir, "log", "--diff-filter=A", "--format=@%H %ct", "--name-only", mainRef.String(), "--", plans.Dir+"/")
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git log %s: %w", mainRef, err)
	}
	m := map[string]addedAt{}
	var cur addedAt
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(line, "@"):
			f := strings.Fields(line[1:])
			if len(f) == 2 {
				t, _ := strconv.ParseInt(f[1], 10, 64)
				cur = addedAt{f[0], t}
			}
		case line != "":
			m[line] = cur // git log is newest first: the last seen is the first add
		}
	}
	return m, nil
}

// ApplyPending recovers unfinished intents, then applies every pending plan
// oldest first. A plan that is refused (stale, unapproved) does not stop the
// others; its error is returned in the list.
func (a *Applier) ApplyPending(ctx context.Context, pending func() ([]PendingPlan, error)) ([]*Outcome, []error, error) {
	var adoptErrs []error
	if a.o.Remote != nil {
		// Bring the local ledger level with the remote, and deliver receipts
		// a crashed run wrote but did not push.
		if err := a.syncAndPublish(); err != nil {
			return nil, nil, err
		}
		refused, err := a.adoptRemoteIntents()
		if err != nil {
			return nil, refused, err
		}
		adoptErrs = refused
	}
	outs, failed, err := a.Recover(ctx)
	if err != nil {
		return outs, adoptErrs, err
	}
	errs := adoptErrs
	for _, id := range slices.Sorted(maps.Keys(failed)) {
		errs = append(errs, failed[id])
	}
	list, err := pending()
	if err != nil {
		return outs, errs, err
	}
	for _, pp := range list {
		if failed[pp.ID] != nil {
			continue // reported above
		}
		var o *Outcome
		err := pp.Err
		if err == nil {
			o, err = a.Apply(ctx, pp.Input)
		}
		if reason, ok := a.retire(pp, err); ok {
			// Never tried again: record it (see refuse.go).
			seq, rerr := a.refuse(pp, reason, deniedPolicy(err))
			switch {
			case errors.Is(rerr, ErrAlreadyApplied):
				a.o.Log("plan %s: already in the ledger (another writer)", pp.ID)
			case rerr != nil:
				errs = append(errs, fmt.Errorf("plan %s: %w; recording it as refused failed: %v", pp.ID, err, rerr))
			default:
				errs = append(errs, &RefusedError{Plan: pp.ID, Seq: seq, Reason: reason})
			}
			continue
		}
		switch {
		case errors.Is(err, ErrAlreadyApplied):
			a.o.Log("plan %s: already applied by another writer", pp.ID)
		case err != nil:
			errs = append(errs, fmt.Errorf("plan %s: %w", pp.ID, err))
		default:
			outs = append(outs, o)
		}
	}
	if err := a.catchUp(); err != nil {
		return outs, errs, err
	}
	return outs, errs, nil
}

func findEntry(es []plans.TreeEntry, name string) (plans.TreeEntry, bool) {
	for _, e := range es {
		if e.Name == name {
			return e, true
		}
	}
	return plans.TreeEntry{}, false
}
