package workspace

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vmc-git/vmc-git/apply"
	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/hooks"
	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/provider"
)

// Review checks the plans a pull request adds between base and head (git
// diff base...head under plans/): each must be canonical, new, named by its
// id and for this ledger; changing or deleting a merged plan, or an
// approval, breaks a rule, and so does a new approval or override file the
// hook would refuse for its signature (forged, or by a key not trusted for
// it at the ledger head): each one by name, with the hook's message. For
// each added plan it checks the approvals at head against the trust state
// at the ledger head, reads the servers its actions touch from the
// provider, and whether apply would refuse it as stale. A broken rule is a
// Violation in the result, not an error. A change to policy/ is reported
// as the result's PolicyChange (reviewPolicyChange): not a broken rule, but
// what the merge does to the pinned bundle and what an admin must do.
func (ws *Workspace) Review(ctx context.Context, base, head string) (*plans.Review, error) {
	if ws.Root == "" {
		return nil, usagef("plan review needs a work tree")
	}
	out, err := gitCmd(ws.Root, "diff", "--name-status", "--no-renames", base+"..."+head, "--", plans.Dir+"/")
	if err != nil {
		return nil, err
	}
	rv := &plans.Review{}
	bad := func(file, format string, a ...any) {
		v := plans.Violation{File: file, Message: fmt.Sprintf(format, a...)}
		if !slices.Contains(rv.Violations, v) { // the tree rule and a later check may both see it
			rv.Violations = append(rv.Violations, v)
		}
	}
	tip, tipErr := ws.Ledger.Tip()
	if rv.PolicyChange, err = ws.reviewPolicyChange(base, head, tip, tipErr); err != nil {
		return nil, err
	}
	var added []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		status, file, ok := strings.Cut(line, "\t")
		if !ok {
			continue
		}
		rest := strings.TrimPrefix(file, plans.Dir+"/")
		isPlan := !strings.Contains(rest, "/") && strings.HasSuffix(rest, ".json")
		isApproval := strings.Contains(rest, plans.ApprovalsSuffix+"/") && strings.HasSuffix(rest, ".sig")
		isOverride := strings.Contains(rest, plans.OverridesSuffix+"/") && strings.HasSuffix(rest, ".json")
		switch {
		case !isPlan && !isApproval && !isOverride:
			bad(file, "plans/ holds only <id>.json files and <id>.approvals/<kid>.sig approvals, and <id>.overrides/<kid>.json policy overrides")
		case status != "A" && isPlan:
			bad(file, "a merged plan is immutable (status %s): make a new plan instead", status)
		case status != "A" && isOverride:
			bad(file, "overrides are add-only (status %s)", status)
		case status != "A":
			bad(file, "approvals are add-only (status %s)", status)
		case isPlan:
			added = append(added, file)
		}
	}
	if len(rv.Violations) == 0 {
		// The hook's rule on the whole plans/ tree (modes, sizes, names,
		// approvals beside their plan), which names and statuses alone do
		// not show: a pull request that passes review passes the hook.
		// New approval and override files must also be signed as the hook
		// takes them (hooks.CheckApprovalSigner, CheckOverrideSigner): each
		// one that is not is a violation by name, and the rule goes on.
		signers := reviewSigners{TreeReader: hooks.PlanTrees(ws.Ledger), now: time.Now(), bad: func(file string, err error) { bad(file, "%v", err) }}
		if tipErr == nil {
			signers.tip = tip
		} else if !errors.Is(tipErr, gitledger.ErrNoLedger) {
			signers.tipErr = tipErr
		}
		if err := ws.checkPlanTree(signers, base, head); err != nil {
			var ee *plans.EntryError
			if errors.As(err, &ee) {
				bad(ee.Path, "%v", ee.Err)
			} else {
				bad(plans.Dir+"/", "%v", err)
			}
		}
	}
	var prov provider.Provider
	var provErr error
	if len(added) > 0 {
		prov, provErr = ws.Provider()
	}
	for _, file := range added {
		b, err := gitCmd(ws.Root, "show", head+":"+file)
		if err != nil {
			return nil, err
		}
		p, err := plans.Parse([]byte(b))
		if err != nil {
			bad(file, "%v", err)
			continue
		}
		if want := plans.Path(p.ID); want != file {
			bad(file, "plan id %s must match the file name (%s)", p.ID, want)
			continue
		}
		if ws.Config != nil && p.Ledger != ws.Config.Ledger {
			bad(file, "plan for ledger %s, this repository is %s", p.Ledger, ws.Config.Ledger)
			continue
		}
		pr := plans.PlanReview{File: file, ID: p.ID, Summary: p.Summary, Plan: p, Bytes: []byte(b)}
		sigs, err := ws.approvalsAt(head, p.ID)
		var ee *plans.EntryError
		if errors.As(err, &ee) {
			bad(ee.Path, "%v", ee.Err) // as the tree rule above, unless another violation stopped it
			continue
		}
		if err != nil {
			return nil, err
		}
		if tipErr != nil {
			pr.NowError = "no ledger branch here: " + tipErr.Error()
		} else {
			if applied, err := ws.Applied(p.ID); err == nil && applied {
				bad(file, "plan %s is already in the ledger: plans apply once", p.ID)
				continue
			}
			pr.Approvals = plans.CheckApprovalSet(tip.Trust, pr.Bytes, sigs, time.Now())
		}
		switch {
		case provErr != nil:
			pr.NowError = provErr.Error()
		case tipErr == nil:
			pr.Now = map[string]*provider.Server{}
			for _, st := range p.Actions {
				if st.Action.Kind != provider.KindServer {
					continue // other kinds: the staleness check below reads them
				}
				s, err := prov.Server(ctx, st.Action.Server)
				if err != nil && !errors.Is(err, provider.ErrNotFound) {
					pr.NowError = err.Error()
					break
				}
				pr.Now[st.Action.Server] = s
			}
			view, err := apply.NewLedgerView(ws.Ledger)
			if err == nil {
				var se *plans.StaleError
				if err := plans.CheckFresh(ctx, prov, view, p); errors.As(err, &se) {
					pr.Stale = se.Diffs
				} else if err != nil {
					pr.NowError = err.Error()
				}
				if refused, err := plans.CheckCatalog(ctx, prov, p); err != nil {
					pr.NowError = err.Error()
				} else {
					pr.Refused = refused
				}
				pr.Policy = ws.reviewPolicy(ctx, base, p)
				pr.Policy.AtApply = ws.policyAtApply(ctx, base, head, p, pr.Bytes, tip)
			}
		}
		rv.Plans = append(rv.Plans, pr)
	}
	return rv, nil
}

// approvalsAt reads plans/<id>.approvals/ at a commit with the one
// approvals reader (plans.ReadApprovals on the repository's objects).
func (ws *Workspace) approvalsAt(rev, id string) (map[string][]byte, error) {
	out, err := gitCmd(ws.Root, "rev-parse", "-q", "--verify", rev+":"+plans.Dir)
	if err != nil {
		return map[string][]byte{}, nil // no plans/ there
	}
	r := ws.Ledger.PlanTrees()
	es, err := r.Tree(strings.TrimSpace(out))
	if err != nil {
		return nil, fmt.Errorf("%s/ at %s: %w", plans.Dir, rev, err)
	}
	for _, e := range es {
		if e.Name == id+plans.ApprovalsSuffix {
			return plans.ReadApprovals(r, plans.Dir, e)
		}
	}
	return map[string][]byte{}, nil
}

// reviewSigners is the plan-tree reader of Review: it checks each new
// approval and override file with the hook's own functions, at the ledger
// tip here (nil: no ledger branch), and reports each refusal with bad,
// under the file's path and with the hook's message, instead of stopping
// the tree rule at the first.
type reviewSigners struct {
	plans.TreeReader
	tip    *gitledger.Tip
	tipErr error // the ledger tip could not be read (not ErrNoLedger)
	now    time.Time
	bad    func(file string, err error)
}

func (s reviewSigners) CheckOverrideSigner(id string, plan []byte, f *plans.OverrideFile, b []byte) error {
	err := s.tipErr
	if err == nil {
		err = hooks.CheckOverrideSigner(s.tip, id, plan, f, b, s.now)
	}
	if err != nil {
		s.bad(plans.OverridePath(id, f.KID), err)
	}
	return nil
}

func (s reviewSigners) CheckApprovalSigner(id string, plan []byte, kid string, sig []byte) error {
	err := s.tipErr
	if err == nil {
		err = hooks.CheckApprovalSigner(s.tip, id, plan, kid, sig, s.now)
	}
	if err != nil {
		s.bad(plans.ApprovalPath(id, kid), err)
	}
	return nil
}

// checkPlanTree applies plans.CheckTreeChange, reading with r, to the
// plans/ trees of the merge base of base and head and of head.
func (ws *Workspace) checkPlanTree(r plans.TreeReader, base, head string) error {
	mb, err := gitCmd(ws.Root, "merge-base", base, head)
	if err != nil {
		return err
	}
	treeOf := func(rev string) string {
		out, err := gitCmd(ws.Root, "rev-parse", "-q", "--verify", rev+":"+plans.Dir)
		if err != nil {
			return "" // no plans/ directory there
		}
		return strings.TrimSpace(out)
	}
	ledgerID := ""
	if ws.Config != nil {
		ledgerID = ws.Config.Ledger
	}
	return plans.CheckTreeChange(r, treeOf(strings.TrimSpace(mb)), treeOf(head), ledgerID)
}
