package workspace

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vmc-git/vmc-git/apply"
	"github.com/vmc-git/vmc-git/internal/lock"
	"github.com/vmc-git/vmc-git/plans"
)

// ApplyRequest is how ApplyPlan and ApplyPending run.
type ApplyRequest struct {
	Force    bool          // break locks held by others (recorded in the receipt)
	LockDir  string        // per-server lock files; "" for lock.DefaultDir()
	LockWait time.Duration // wait this long for a held lock
	// Push: fetch first, take locks on Remote, push each receipt
	// (compare-and-swap). It needs a work tree and a config.
	Push          bool
	Remote        string
	RemoteLockAge time.Duration // a remote lock older than this is a dead run's
	// UnapprovedDeadline: ApplyPending records a merged plan still
	// unapproved this long after its merge as refused (0: never).
	UnapprovedDeadline time.Duration
	// Checkpoints are the rollback checks (CheckBeforeApply) every apply
	// runs before it builds the provider: ApplyPending, ApplyPlan and
	// ApplyMerged, the CLI's --checkpoint and --witness-check and the MCP
	// server's alike. Zero: none.
	Checkpoints ApplyCheckpoints
	// Witnessed, if not nil, is given what the checkpoints and witnesses
	// said once the checks passed (nil when there was nothing to check).
	Witnessed func(*Witnessed)
	Fault     func(step string)    // crash injection for tests; nil in production
	Log       func(string, ...any) // progress notes; may be nil

	overridesDir string // ApplyPlan: the plan file's directory (policygate.go)
}

// applier builds the applier for req, signed by id, after refusing a
// rolled-back or forked ledger (req.Checkpoints): the one way into apply,
// so that no shell applies without the checks another runs.
func (ws *Workspace) applier(ctx context.Context, id Identity, req ApplyRequest) (*apply.Applier, error) {
	w, err := ws.CheckBeforeApply(ctx, req.Checkpoints)
	if err != nil {
		return nil, err
	}
	if req.Witnessed != nil {
		req.Witnessed(w)
	}
	prov, err := ws.Provider()
	if err != nil {
		return nil, err
	}
	opts := apply.Options{Ledger: ws.Ledger, Provider: prov, Signer: id.Signer, KID: id.KID, Force: req.Force, Locks: lock.New(req.LockDir),
		LockWait: req.LockWait, Fault: req.Fault, Log: req.Log, UnapprovedDeadline: req.UnapprovedDeadline}
	if ws.OnSandbox() {
		opts.SummaryMark = SandboxMark
	}
	if ws.Config != nil {
		opts.Genesis, opts.ConfigProvider = &ws.Config.GenesisBlake3, ws.Config.Provider
	}
	if req.Push {
		if ws.Config == nil || ws.Root == "" {
			return nil, usagef("apply --push needs a ledger repository with a work tree and %s", ".vmc/config.json")
		}
		opts.Remote = apply.NewGitRemote(ws.Root, req.Remote, ws.Config.Branch, ws.Config.MainBranch)
		opts.RemoteLockAge = req.RemoteLockAge
	}
	opts.Gate = ws.policyGate(ws.mainRefFor(req), req.overridesDir)
	return apply.New(opts), nil
}

// ApplyPending applies every plan merged on the main branch (with --push,
// the remote's) that has no receipt yet, oldest first, after finishing any
// apply a crash interrupted. errs holds one error per plan that was not
// applied; err is for what stopped the whole run.
func (ws *Workspace) ApplyPending(ctx context.Context, id Identity, req ApplyRequest) (outs []*apply.Outcome, errs []error, err error) {
	ap, err := ws.applier(ctx, id, req)
	if err != nil {
		return nil, nil, err
	}
	mainRef := ws.mainRefFor(req)
	return ap.ApplyPending(ctx, func() ([]apply.PendingPlan, error) {
		if _, err := ws.Ledger.Repo().Reference(plumbing.ReferenceName(mainRef), true); err != nil {
			return nil, ws.missingMain(req, mainRef)
		}
		// One ledger read answers "applied?" for every plan on main.
		r, err := ws.Ledger.NewReader()
		if err != nil {
			return nil, err
		}
		return apply.Pending(ws.Ledger.Repo(), ws.Ledger.PlanTrees(), ws.Ledger.GitDir, plumbing.ReferenceName(mainRef), r.Applied)
	})
}

// ApplyPlan applies one plan file, with the approvals beside it (in
// <id>.approvals/). As with ApplyPending, planErr is the plan's refusal or
// failure, err what stopped the run before the plan was tried.
func (ws *Workspace) ApplyPlan(ctx context.Context, id Identity, req ApplyRequest, file string) (out *apply.Outcome, planErr, err error) {
	req.overridesDir = filepath.Dir(file)
	ap, err := ws.applier(ctx, id, req)
	if err != nil {
		return nil, nil, err
	}
	p, b, err := LoadPlan(file)
	if err != nil {
		return nil, nil, err
	}
	sigs, err := plans.LoadApprovals(filepath.Dir(file), p.ID)
	if err != nil {
		return nil, nil, err
	}
	out, planErr = ap.Apply(ctx, apply.Input{Bytes: b, Approvals: sigs, Commit: ws.committedIn(p.ID, b), Plan: p})
	return out, planErr, nil
}

// mainRefFor is the main branch apply reads plans and policy from: with
// --push the remote's, else this repository's.
func (ws *Workspace) mainRefFor(req ApplyRequest) string {
	if req.Push && ws.Config != nil {
		return "refs/remotes/" + req.Remote + "/" + ws.Config.MainBranch
	}
	return ws.MainRef()
}

// committedIn returns the main commit that added plans/<id>.json with these
// exact bytes, or "".
func (ws *Workspace) committedIn(id string, b []byte) string {
	if ws.Root == "" || ws.Config == nil {
		return ""
	}
	out, err := gitCmd(ws.Root, "log", "--diff-filter=A", "--format=%H", "refs/heads/"+ws.Config.MainBranch, "--", plans.Path(id))
	if err != nil {
		return ""
	}
	lines := strings.Fields(out)
	if len(lines) == 0 {
		return ""
	}
	c := lines[len(lines)-1]
	cur, err := gitCmd(ws.Root, "show", "refs/heads/"+ws.Config.MainBranch+":"+plans.Path(id))
	if err != nil || cur != string(b) {
		return ""
	}
	return c
}

// missingMain explains a main branch that is not there: the config names
// it, so the repository or its remote lacks it.
func (ws *Workspace) missingMain(req ApplyRequest, mainRef string) error {
	mb := "main"
	if ws.Config != nil {
		mb = ws.Config.MainBranch
	}
	if req.Push {
		return notFoundErr(fmt.Errorf("the remote %s has no branch %s (main_branch in %s), so there are no merged plans to read (%s is missing)", req.Remote, mb, ".vmc/config.json", mainRef),
			fmt.Sprintf("push it: git push %s %s; or fix main_branch in .vmc/config.json if the repository's main branch has another name", req.Remote, mb))
	}
	return notFoundErr(fmt.Errorf("this repository has no branch %s (main_branch in %s)", mb, ".vmc/config.json"),
		"git branch -a lists the branches; fix main_branch in .vmc/config.json if the main branch has another name")
}
