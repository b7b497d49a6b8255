package workspace

// The agent's use cases (package mcpserver serves them over MCP): an agent
// names plans by id and never touches the work tree. Its plan goes on a new
// branch (PlanBranchPrefix + id, from the main branch, through a private
// index: the operator's checkout and HEAD are untouched); a human reviews
// it there, runs vmc-git approve, and merges it; only a plan merged on the
// main branch is applied (ApplyMerged), by the same applier as
// apply --pending.
//
//	MakePlanOnBranch reads  the ledger head, the provider (the dry run), main
//	                 writes one commit adding plans/<id>.json on a new
//	                        branch plan/<id>; with Push that branch on Remote
//	                 refuses what MakePlan refuses; an id already on main,
//	                        in the ledger or with a branch (refused)
//	FindPlan         reads  plans/<id>.json and its approvals on main, else
//	                        on plan/<id>, else the ledger's copy (applied)
//	PlanState        reads  what FindPlan reads, the trust state, the
//	                        provider (stale?)
//	ApplyMerged      as ApplyPending, for the one plan id: refuses a plan
//	                        that is not on main (refused), an applied one
//	                        (apply.ErrAlreadyApplied; a withdrawn one:
//	                        apply.WithdrawnError), and what apply refuses

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/vmc-git/vmc-git/apply"
	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/receipt"
)

// PlanBranchPrefix names the branch an agent's plan is proposed on:
// refs/heads/plan/<id>.
const PlanBranchPrefix = "plan/"

// Where FindPlan found a plan.
const (
	PlanOnMain   = "main"   // merged on the main branch
	PlanOnBranch = "branch" // proposed on plan/<id>, not merged
	PlanInLedger = "ledger" // applied: the ledger's copy
)

// BranchPlanRequest is what MakePlanOnBranch needs. Plan.Out is ignored.
type BranchPlanRequest struct {
	Plan   PlanRequest
	Push   bool   // push the branch to Remote
	Remote string // "" for origin
}

// BranchedPlan is a plan MakePlanOnBranch committed.
type BranchedPlan struct {
	Plan   *plans.Plan
	Bytes  []byte
	Blake3 digest.Digest
	Branch string // plan/<id>
	Commit string // the commit on Branch that adds plans/<id>.json
	Pushed bool
}

// MakePlanOnBranch runs the dry run (MakePlan) and commits the plan on a new
// branch plan/<id> whose parent is the main branch's tip, without touching
// the work tree, the index or HEAD; with Push it pushes that branch.
func (ws *Workspace) MakePlanOnBranch(ctx context.Context, req BranchPlanRequest) (*BranchedPlan, error) {
	if ws.Root == "" || ws.Config == nil {
		return nil, usagef("a plan branch needs a ledger repository with a work tree and .vmc/config.json")
	}
	if err := ValidatePlanRequest(req.Plan); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Join(ws.Ledger.GitDir, "vmc"), "agent-plan-")
	if err != nil {
		if err := os.MkdirAll(filepath.Join(ws.Ledger.GitDir, "vmc"), 0o755); err != nil {
			return nil, err
		}
		if tmp, err = os.MkdirTemp(filepath.Join(ws.Ledger.GitDir, "vmc"), "agent-plan-"); err != nil {
			return nil, err
		}
	}
	defer os.RemoveAll(tmp)
	pr := req.Plan
	pr.Out = filepath.Join(tmp, "plan.json")
	m, err := ws.MakePlan(ctx, pr)
	if err != nil {
		return nil, err
	}
	id := m.Plan.ID
	branch := PlanBranchPrefix + id
	if applied, err := ws.Applied(id); err != nil {
		return nil, err
	} else if applied {
		return nil, refusedErr(fmt.Errorf("plan %s is in the ledger already", id), "plans are immutable: choose another id")
	}
	mainRef := ws.MainRef()
	if _, err := gitCmd(ws.Root, "cat-file", "-e", mainRef+":"+plans.Path(id)); err == nil {
		return nil, refusedErr(fmt.Errorf("plan %s is on %s already", id, mainRef), "plans are immutable: choose another id")
	}
	if _, err := gitCmd(ws.Root, "rev-parse", "-q", "--verify", "refs/heads/"+branch); err == nil {
		return nil, refusedErr(fmt.Errorf("branch %s exists", branch), "choose another id")
	}
	parent, err := gitCmd(ws.Root, "rev-parse", "--verify", mainRef+"^{commit}")
	if err != nil {
		return nil, notFoundErr(fmt.Errorf("main branch: %w", err))
	}
	parent = strings.TrimSpace(parent)
	env := []string{"GIT_INDEX_FILE=" + filepath.Join(tmp, "index")}
	if _, err := gitEnv(ws.Root, env, nil, "read-tree", parent); err != nil {
		return nil, err
	}
	blob, err := gitEnv(ws.Root, env, m.Bytes, "hash-object", "-w", "--stdin")
	if err != nil {
		return nil, err
	}
	if _, err := gitEnv(ws.Root, env, nil, "update-index", "--add", "--cacheinfo", "100644,"+strings.TrimSpace(blob)+","+plans.Path(id)); err != nil {
		return nil, err
	}
	tree, err := gitEnv(ws.Root, env, nil, "write-tree")
	if err != nil {
		return nil, err
	}
	kid := pr.CreatedBy
	if kid == "" {
		kid = "vmc-agent"
	}
	args := []string{"commit-tree", strings.TrimSpace(tree), "-p", parent, "-m", "plan " + id + ": " + m.Plan.Summary}
	if out, _ := gitCmd(ws.Root, "config", "user.email"); strings.TrimSpace(out) == "" {
		args = append([]string{"-c", "user.name=" + kid, "-c", "user.email=" + kid + "@vmc-git"}, args...)
	}
	commit, err := gitEnv(ws.Root, env, nil, args...)
	if err != nil {
		return nil, err
	}
	commit = strings.TrimSpace(commit)
	// Create-only: a branch someone made meanwhile is not overwritten.
	if _, err := gitCmd(ws.Root, "update-ref", "refs/heads/"+branch, commit, ""); err != nil {
		return nil, refusedErr(fmt.Errorf("create branch %s: %w", branch, err))
	}
	bp := &BranchedPlan{Plan: m.Plan, Bytes: m.Bytes, Blake3: m.Blake3, Branch: branch, Commit: commit}
	if req.Push {
		remote := req.Remote
		if remote == "" {
			remote = "origin"
		}
		if _, err := gitCmd(ws.Root, "push", "-q", remote, "refs/heads/"+branch+":refs/heads/"+branch); err != nil {
			return bp, fmt.Errorf("push %s to %s: %w", branch, remote, err)
		}
		bp.Pushed = true
	}
	return bp, nil
}

// gitEnv runs the real git in dir with extra environment and stdin.
func gitEnv(dir string, env []string, stdin []byte, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// FoundPlan is a plan FindPlan read, with the approvals beside it.
type FoundPlan struct {
	Plan      *plans.Plan
	Bytes     []byte
	Approvals map[string][]byte
	Where     string // PlanOnMain, PlanOnBranch or PlanInLedger
	Ref       string // the ref it was read from
}

// FindPlan reads plan id (validated first) and its approvals from the main
// branch, else from its branch plan/<id>, else from the ledger (an applied
// plan). Every object is bounded (plans.MaxSize, plans.MaxApprovalSize) and
// must be a plain file.
func (ws *Workspace) FindPlan(id string) (*FoundPlan, error) {
	if err := plans.ValidID(id); err != nil {
		return nil, usageErr(err)
	}
	for _, c := range []struct{ where, ref string }{
		{PlanOnMain, ws.MainRef()},
		{PlanOnBranch, "refs/heads/" + PlanBranchPrefix + id},
		{PlanInLedger, ws.Ledger.Ref.String()},
	} {
		f, err := ws.planAt(c.ref, id)
		if errors.Is(err, errNoPlan) {
			continue
		}
		if err != nil {
			return nil, invalidErr(fmt.Errorf("plan %s on %s: %w", id, c.ref, err))
		}
		f.Where, f.Ref = c.where, c.ref
		return f, nil
	}
	return nil, notFoundErr(fmt.Errorf("no plan %s: not on %s, on a branch %s%s or in the ledger", id, ws.MainRef(), PlanBranchPrefix, id),
		"plan_create makes one")
}

var errNoPlan = errors.New("no such plan")

// planAt reads plans/<id>.json and plans/<id>.approvals/*.sig at ref.
func (ws *Workspace) planAt(ref, id string) (*FoundPlan, error) {
	repo := ws.Ledger.Repo()
	r, err := repo.Reference(plumbing.ReferenceName(ref), true)
	if err != nil {
		return nil, errNoPlan
	}
	c, err := repo.CommitObject(r.Hash())
	if err != nil {
		return nil, errNoPlan
	}
	tree, err := c.Tree()
	if err != nil {
		return nil, err
	}
	pt, err := tree.Tree(plans.Dir)
	if err != nil {
		return nil, errNoPlan
	}
	e, err := pt.FindEntry(id + ".json")
	if err != nil {
		return nil, errNoPlan
	}
	b, err := boundedBlob(ws, e, plans.MaxSize)
	if err != nil {
		return nil, err
	}
	p, err := plans.Parse(b)
	if err != nil {
		return nil, err
	}
	if p.ID != id {
		return nil, fmt.Errorf("%s holds plan %s", plans.Path(id), p.ID)
	}
	sigs := map[string][]byte{}
	if at, err := pt.Tree(id + plans.ApprovalsSuffix); err == nil {
		for i := range at.Entries {
			ae := &at.Entries[i]
			kid, ok := strings.CutSuffix(ae.Name, ".sig")
			if !ok || keys.ValidKID(kid) != nil {
				continue
			}
			if sigs[kid], err = boundedBlob(ws, ae, plans.MaxApprovalSize); err != nil {
				return nil, fmt.Errorf("%s: %w", plans.ApprovalPath(id, kid), err)
			}
		}
	}
	return &FoundPlan{Plan: p, Bytes: b, Approvals: sigs}, nil
}

// boundedBlob reads a tree entry that must be a plain file of at most max
// bytes.
func boundedBlob(ws *Workspace, e *object.TreeEntry, max int64) ([]byte, error) {
	if !e.Mode.IsFile() {
		return nil, fmt.Errorf("%s: mode %s: not a file", e.Name, e.Mode)
	}
	bl, err := ws.Ledger.Repo().BlobObject(e.Hash)
	if err != nil {
		return nil, err
	}
	if bl.Size > max {
		return nil, fmt.Errorf("%s: %d bytes, more than %d", e.Name, bl.Size, max)
	}
	rd, err := bl.Reader()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	return io.ReadAll(io.LimitReader(rd, max))
}

// AgentPlanState is a plan's approvals, freshness and receipt.
type AgentPlanState struct {
	PlanStatus
	Where string `json:"where"` // PlanOnMain, PlanOnBranch or PlanInLedger
	// Stale lists what changed since the dry run (servers, the ledger head);
	// empty when the plan is fresh or applied.
	Stale      []string `json:"stale,omitempty"`
	StaleError string   `json:"stale_error,omitempty"` // freshness could not be checked
	// When Applied: the plan's apply receipt, and how it retired the plan:
	// OutcomeApplied (the provider was called; the receipt's actions say
	// how it went), receipt.ApplyRefused or receipt.ApplyWithdrawn, with
	// the reason and who signed it.
	Receipt uint64 `json:"receipt,omitempty"`
	Outcome string `json:"outcome,omitempty"`
	Reason  string `json:"reason,omitempty"`
	By      string `json:"by,omitempty"`
	// Policy is the receipt's apply.policy (nil: none recorded).
	Policy *receipt.Policy `json:"policy,omitempty"`
}

// OutcomeApplied is AgentPlanState.Outcome of a plan the provider applied.
const OutcomeApplied = "applied"

// PlanState is Status for a plan found by FindPlan, plus whether it is
// stale (plans.CheckFresh against the provider and the ledger).
func (ws *Workspace) PlanState(ctx context.Context, f *FoundPlan) (*AgentPlanState, error) {
	return ws.planState(ctx, f, true)
}

// planState is PlanState; fresh: check freshness too.
func (ws *Workspace) planState(ctx context.Context, f *FoundPlan, fresh bool) (*AgentPlanState, error) {
	tip, err := ws.Ledger.Tip()
	if err != nil {
		return nil, err
	}
	st := plans.CheckApprovalSet(tip.Trust, f.Bytes, f.Approvals, time.Now())
	applied, err := ws.Applied(f.Plan.ID)
	if err != nil {
		return nil, err
	}
	out := &AgentPlanState{PlanStatus: PlanStatus{ID: f.Plan.ID, Approvals: st, Approved: st.Approved(), Applied: applied}, Where: f.Where}
	if applied {
		r := ws.Ledger.ReaderAt(tip)
		seq, _, err := r.AppliedSeq(f.Plan.ID)
		if err != nil {
			return nil, err
		}
		e, err := r.Receipt(seq)
		if err != nil {
			return nil, err
		}
		if a := e.Receipt.Apply; e.Receipt.Kind == receipt.KindApply && a != nil && a.Plan.ID == f.Plan.ID {
			out.Receipt, out.Outcome, out.Reason, out.By, out.Policy = seq, OutcomeApplied, a.Reason, e.Receipt.KID, a.Policy
			if a.Retired() {
				out.Outcome = a.Status
			}
		}
		return out, nil
	}
	if !fresh {
		return out, nil
	}
	prov, err := ws.Provider()
	if err != nil {
		out.StaleError = err.Error()
		return out, nil
	}
	view, err := apply.NewLedgerView(ws.Ledger)
	if err != nil {
		out.StaleError = err.Error()
		return out, nil
	}
	var se *plans.StaleError
	if err := plans.CheckFresh(ctx, prov, view, f.Plan); errors.As(err, &se) {
		out.Stale = se.Diffs
		if len(out.Stale) == 0 {
			out.Stale = []string{se.Error()}
		}
	} else if err != nil {
		out.StaleError = err.Error()
	}
	return out, nil
}

// ApplyMerged applies plan id as apply --pending would (finishing any apply
// a crash interrupted first), but only that plan, and only if it is merged
// on the main branch (with Push, the remote's). outs holds every receipt
// written (a recovered plan's too); planErr is the plan's refusal or
// failure, err what stopped the run.
func (ws *Workspace) ApplyMerged(ctx context.Context, id Identity, req ApplyRequest, planID string) (outs []*apply.Outcome, planErr, err error) {
	if err := plans.ValidID(planID); err != nil {
		return nil, nil, usageErr(err)
	}
	ap, err := ws.applier(ctx, id, req)
	if err != nil {
		return nil, nil, err
	}
	mainRef := ws.MainRef()
	if req.Push {
		mainRef = "refs/remotes/" + req.Remote + "/" + ws.Config.MainBranch
	}
	found := false
	outs, errs, err := ap.ApplyPending(ctx, func() ([]apply.PendingPlan, error) {
		all, err := apply.Pending(ws.Ledger.Repo(), ws.Ledger.PlanTrees(), ws.Ledger.GitDir, plumbing.ReferenceName(mainRef), ws.Applied)
		for _, pp := range all {
			if pp.ID == planID {
				found = true
				return []apply.PendingPlan{pp}, err
			}
		}
		return nil, err
	})
	if err != nil {
		return outs, errors.Join(errs...), err
	}
	for _, o := range outs {
		if o.Plan == planID {
			return outs, errors.Join(errs...), nil
		}
	}
	if len(errs) > 0 {
		perr := errors.Join(errs...)
		if r, rerr := ws.Ledger.NewReader(); rerr == nil && req.Push {
			// The receipt was written here, then its push failed: the
			// remote's ledger (as last fetched) lacks the plan's copy.
			track := "refs/remotes/" + req.Remote + "/" + ws.Config.Branch
			_, onRemote := gitCmd(ws.Root, "cat-file", "-e", track+":"+gitledger.PlansDir+"/"+planID+".json")
			if seq, applied, aerr := r.AppliedSeq(planID); aerr == nil && applied && onRemote != nil {
				perr = kindErr(KindError, perr, fmt.Sprintf("receipt %d is in this repository's ledger, not on %s: the next apply with push publishes it first", seq, req.Remote))
			}
		}
		return outs, perr, nil
	}
	if r, rerr := ws.Ledger.NewReader(); rerr == nil {
		if seq, applied, aerr := r.AppliedSeq(planID); aerr == nil && applied {
			return outs, apply.AppliedError(r, planID, seq), nil
		}
	}
	if !found {
		return outs, refusedErr(fmt.Errorf("plan %s is not merged on %s: only a reviewed, approved and merged plan is applied", planID, mainRef),
			"a human reviews the branch "+PlanBranchPrefix+planID+", runs vmc-git approve "+plans.Path(planID)+", and merges it"), nil
	}
	return outs, fmt.Errorf("plan %s: not applied", planID), nil
}
