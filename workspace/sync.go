package workspace

import (
	"errors"
	"fmt"
	"strings"

	"github.com/vmc-git/vmc-git/apply"
	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/receipt"
)

// SyncRequest is how Sync runs.
type SyncRequest struct {
	Remote string // "" means DefaultRemote
	// Push publishes the local receipts the remote lacks afterwards, by
	// compare-and-swap; a lost race syncs (re-writing them) and tries again.
	Push bool
}

// Rewritten is one of the operator's unpushed receipts that Sync wrote
// again on top of the remote's ledger.
type Rewritten struct {
	OldSeq  uint64       `json:"old_seq"`
	NewSeq  uint64       `json:"new_seq"`
	Kind    receipt.Kind `json:"kind"`
	Summary string       `json:"summary"`
}

// Synced says what Sync did.
type Synced struct {
	Remote    string      `json:"remote"`
	Seq       uint64      `json:"seq"`       // the local tip after
	Taken     uint64      `json:"taken"`     // receipts taken from the remote
	Rewritten []Rewritten `json:"rewritten"` // own unpushed receipts written again on top
	Ahead     int         `json:"ahead"`     // local receipts the remote lacks (0 after a push)
	Pushed    bool        `json:"pushed"`
}

// maxPushAttempts bounds the compare-and-swap retries of a publishing
// writer that keeps losing the race.
const maxPushAttempts = 20

// Sync fetches the remote's ledger and main branches (and snapshot tags)
// and levels the local ledger with it:
//   - behind: fast-forward, after verifying the new receipts from the
//     remembered verified head (refused, and nothing moved, if they do not
//     verify);
//   - diverged: the local-only receipts must all be id's (signed by its
//     kid); they are written again on top of the remote's tip, oldest
//     first, re-signed with new seqs and the same content (kind, summary,
//     body, plan copy; a keys proposal is re-based and re-signed when id
//     is its only co-signer), and the remembered verified head follows.
//     Receipts of others, or id nil, are refused with nothing changed.
//   - ahead: left for Push (or apply --push) to publish.
//
// With req.Push the local receipts the remote lacks are pushed by
// compare-and-swap; a lost race syncs again (re-writing them) and retries.
// It needs a work tree and .vmc/config.json.
func (ws *Workspace) Sync(id *Identity, req SyncRequest) (*Synced, error) {
	if ws.Root == "" || ws.Config == nil {
		return nil, usagef("sync needs a ledger repository with a work tree and %s", ".vmc/config.json")
	}
	if req.Remote == "" {
		req.Remote = DefaultRemote
	}
	g := apply.NewGitRemote(ws.Root, req.Remote, ws.Config.Branch, ws.Config.MainBranch)
	res := &Synced{Remote: req.Remote, Rewritten: []Rewritten{}}
	for attempt := 0; attempt < maxPushAttempts; attempt++ {
		if err := ws.syncOnce(g, id, res); err != nil {
			return nil, err
		}
		if !req.Push || res.Ahead == 0 {
			return res, nil
		}
		err := g.Publish()
		if err == nil {
			res.Pushed, res.Ahead = true, 0
			return res, nil
		}
		if !errors.Is(err, apply.ErrRaced) {
			return nil, refusedErr(fmt.Errorf("push the ledger to %s: %w", req.Remote, err),
				"the remote's hook refused it, or the remote is unreachable: git push "+req.Remote+" "+ws.Config.Branch+" shows why")
		}
	}
	return nil, refusedErr(fmt.Errorf("%w: the ledger on %s kept moving while pushing", gitledger.ErrConflict, req.Remote), "try again")
}

// saved is a local-only receipt kept to be written again.
type saved struct {
	entry *gitledger.Entry
	plan  *gitledger.PlanCopy
}

// syncOnce fetches and levels the local ledger with the remote once.
func (ws *Workspace) syncOnce(g *apply.GitRemote, id *Identity, res *Synced) error {
	before, err := ws.Ledger.Tip()
	if err != nil && !errors.Is(err, gitledger.ErrNoLedger) {
		return err
	}
	var keep []saved
	var whyNot error
	dropped := false
	err = g.Sync(func(n int) bool {
		keep, whyNot = ws.ownLocal(id, n)
		dropped = whyNot == nil
		return dropped
	})
	if err != nil {
		if whyNot != nil {
			return refusedErr(fmt.Errorf("the local ledger and %s diverged: %w", g.Name, whyNot), syncHints(id)...)
		}
		if strings.Contains(err.Error(), "does not appear to be a git repository") || strings.Contains(err.Error(), "No such remote") {
			return notFoundErr(fmt.Errorf("sync with %s: %w", g.Name, err), "git remote -v lists the remotes; give --remote NAME")
		}
		return err
	}
	// Sync moved the branch without verifying: verify what it took from
	// the remote before anything trusts it, or put the branch back.
	after, err := ws.Ledger.Tip()
	if err != nil {
		if errors.Is(err, gitledger.ErrNoLedger) {
			return notFoundErr(fmt.Errorf("no ledger branch %s here or on %s", ws.Config.Branch, g.Name))
		}
		return err
	}
	if before == nil || after.Commit != before.Commit {
		if dropped {
			if err := ws.Ledger.RewindVerified(); err != nil {
				return err
			}
		}
		if err := ws.Ledger.VerifyTip(ws.pin()); err != nil {
			if before != nil {
				if _, rerr := gitCmd(ws.Root, "update-ref", ws.Ledger.Ref.String(), before.Commit.String(), after.Commit.String()); rerr != nil {
					return fmt.Errorf("%w; and restoring the local ledger failed: %v", err, rerr)
				}
			}
			return invalidErr(fmt.Errorf("the ledger on %s does not verify; the local ledger is unchanged: %w", g.Name, err),
				"someone pushed receipts that break the chain: tell your team; the hook on the server should refuse them (vmc-git hook install --repo SERVER_REPO)")
		}
		base := int64(-1) // the seq both ledgers share
		if before != nil {
			base = int64(before.Head.Seq) - int64(len(keep))
		}
		if int64(after.Head.Seq) > base {
			res.Taken += uint64(int64(after.Head.Seq) - base)
		}
	}
	for _, k := range keep {
		w, err := ws.rewrite(id, k)
		if err != nil {
			return err
		}
		res.Rewritten = append(res.Rewritten, Rewritten{OldSeq: k.entry.Receipt.Seq, NewSeq: w.Seq, Kind: w.Receipt.Kind, Summary: w.Receipt.Summary})
	}
	// Remember the re-written receipts as verified (they are ours, checked
	// by the writer); VerifyTip checks them from the remote's head.
	if len(keep) > 0 {
		if err := ws.Ledger.VerifyTip(ws.pin()); err != nil {
			return invalidErr(err)
		}
	}
	tip, err := ws.Ledger.Tip()
	if err != nil {
		return err
	}
	res.Seq = tip.Head.Seq
	res.Ahead = 0
	if out, err := gitCmd(ws.Root, "rev-list", "--count", ws.trackingRef(g.Name)+".."+tip.Commit.String()); err == nil {
		fmt.Sscan(out, &res.Ahead)
	} else if _, err := gitCmd(ws.Root, "rev-parse", "-q", "--verify", ws.trackingRef(g.Name)); err != nil {
		res.Ahead = int(tip.Head.Seq) + 1 // the remote has no ledger yet
	}
	return nil
}

func syncHints(id *Identity) []string {
	if id == nil {
		return []string{"give --key (and --kid) to re-write your own unpushed receipts on top of the remote's"}
	}
	return []string{"only your own unpushed receipts are re-written; git log " + "vmc/ledger shows whose they are"}
}

// ownLocal reads the n newest local receipts (those the remote lacks),
// oldest first, refusing unless each is id's and can be written again.
func (ws *Workspace) ownLocal(id *Identity, n int) ([]saved, error) {
	r, err := ws.Ledger.NewReader()
	if err != nil {
		return nil, err
	}
	if uint64(n) > r.Tip.Head.Seq {
		return nil, fmt.Errorf("the local ledger shares no receipt with the remote's")
	}
	if id == nil {
		return nil, fmt.Errorf("the local ledger has %d receipt(s) the remote lacks, and the remote moved meanwhile", n)
	}
	out := make([]saved, 0, n)
	for seq := r.Tip.Head.Seq + 1 - uint64(n); seq <= r.Tip.Head.Seq; seq++ {
		e, err := r.Receipt(seq)
		if err != nil {
			return nil, err
		}
		rc := e.Receipt
		if rc.KID != id.KID {
			return nil, fmt.Errorf("local receipt %d (%s) was signed by %s, not by you (%s): only your own receipts can be written again", seq, rc.Kind, rc.KID, id.KID)
		}
		s := saved{entry: e}
		switch rc.Kind {
		case receipt.KindGenesis:
			return nil, fmt.Errorf("local receipt %d is a genesis: the remote holds another ledger", seq)
		case receipt.KindApply:
			pb, err := r.File(plans.Path(rc.Apply.Plan.ID))
			if err != nil {
				return nil, fmt.Errorf("local receipt %d: %w", seq, err)
			}
			s.plan = &gitledger.PlanCopy{Bytes: pb, Approvals: map[string][]byte{}}
			for _, k := range rc.Apply.Plan.Approvals {
				if s.plan.Approvals[k], err = r.File(plans.Dir + "/" + rc.Apply.Plan.ID + plans.ApprovalsSuffix + "/" + k + ".sig"); err != nil {
					return nil, fmt.Errorf("local receipt %d: approval %s: %w", seq, k, err)
				}
			}
		case receipt.KindKeys:
			for _, c := range rc.Keys.Signatures {
				if c.KID != id.KID {
					return nil, fmt.Errorf("local receipt %d is a trust change co-signed by %s: it cannot be re-signed alone; propose it again", seq, c.KID)
				}
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// rewrite appends a saved receipt's content on top of the current tip,
// signed by id: a new seq, prev_blake3 and created_at; the same kind,
// summary and body.
func (ws *Workspace) rewrite(id *Identity, s saved) (*gitledger.Written, error) {
	old := *s.entry.Receipt
	w, err := ws.Ledger.Append(id.Signer, id.KID, func(tip *gitledger.Tip) (*gitledger.Draft, error) {
		rc := old
		rc.V, rc.Ledger, rc.Seq, rc.CreatedAt, rc.KID = 0, "", 0, "", ""
		switch rc.Kind {
		case receipt.KindApply:
			if done, err := ws.Applied(rc.Apply.Plan.ID); err != nil {
				return nil, err
			} else if done {
				return nil, refusedErr(fmt.Errorf("your unpushed receipt %d records plan %s, which the remote's ledger records too: both applied it", old.Seq, rc.Apply.Plan.ID),
					"compare the two receipts (vmc-git show) and record what happened with vmc-git record")
			}
		case receipt.KindKeys:
			ch := *rc.Keys
			base, err := baseOf(tip)
			if err != nil {
				return nil, err
			}
			ch.Proposal.Base = base
			ch.Signatures = nil
			if err := cosign(&ch, *id); err != nil {
				return nil, err
			}
			rc.Keys = &ch
		}
		return &gitledger.Draft{Receipt: rc, Plan: s.plan}, nil
	})
	if err != nil {
		var re *keys.RoleError
		if errors.As(err, &re) {
			return nil, refusedErr(fmt.Errorf("re-write your receipt %d on top of the remote's ledger: %w", old.Seq, err), "the remote's trust state no longer lets you sign it: vmc-git keys list")
		}
		return nil, refusedIfConflict(fmt.Errorf("re-write your receipt %d on top of the remote's ledger: %w", old.Seq, err))
	}
	return w, nil
}
