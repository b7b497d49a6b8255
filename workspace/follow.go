package workspace

import (
	"errors"
	"fmt"
	"strings"

	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/internal/digest"
)

// DefaultRemote is the remote a clone follows and pushes to unless told
// otherwise.
const DefaultRemote = "origin"

// Followed says what Follow did.
type Followed struct {
	Remote   string `json:"remote"`
	From     uint64 `json:"from_seq"` // the local tip's seq before
	To       uint64 `json:"to_seq"`   // and after
	Receipts uint64 `json:"receipts"` // receipts taken from the remote (0: nothing to do)
}

// trackingRef is the remote-tracking ref of the ledger branch.
func (ws *Workspace) trackingRef(remote string) string {
	return "refs/remotes/" + remote + "/" + strings.TrimPrefix(ws.Ledger.Ref.String(), "refs/heads/")
}

// Follow fast-forwards the local ledger branch to the remote-tracking one
// (refs/remotes/<remote>/<branch>, as the last git fetch or git pull left
// it) when that is strictly ahead: the receipts it adds are verified first,
// with signatures, from the remembered verified head (O(k) for k new
// receipts; from genesis against the config's pin when nothing was verified
// yet). A remote-tracking branch that does not verify is refused (an
// invalid Error naming the broken rule) and the local branch stays where it
// was. A remote-tracking branch that is behind, equal, absent or diverged
// is left alone (Sync handles a divergence). Only a repository with a work
// tree follows. Every use case that reads the ledger runs this first (Open
// does).
func (ws *Workspace) Follow(remote string) (*Followed, error) {
	res := &Followed{Remote: remote}
	if ws.Root == "" {
		return res, nil
	}
	rt, err := gitCmd(ws.Root, "rev-parse", "-q", "--verify", ws.trackingRef(remote)+"^{commit}")
	if err != nil {
		return res, nil // no remote-tracking branch: nothing to follow
	}
	rt = strings.TrimSpace(rt)
	tip, err := ws.Ledger.Tip()
	if err != nil {
		if errors.Is(err, gitledger.ErrNoLedger) {
			return res, nil // trackLedger's case (a fresh clone)
		}
		return nil, err
	}
	local := tip.Commit.String()
	res.From, res.To = tip.Head.Seq, tip.Head.Seq
	if rt == local {
		return res, nil
	}
	if _, err := gitCmd(ws.Root, "merge-base", "--is-ancestor", local, rt); err != nil {
		return res, nil // behind the local branch, or diverged from it
	}
	ref := ws.Ledger.Ref.String()
	if _, err := gitCmd(ws.Root, "update-ref", "-m", "vmc-git: follow "+remote, ref, rt, local); err != nil {
		return nil, refusedErr(fmt.Errorf("fast-forward %s to %s: %w", ref, ws.trackingRef(remote), err), "another vmc-git process moved it meanwhile; try again")
	}
	if err := ws.Ledger.VerifyTip(ws.pin()); err != nil {
		if _, rerr := gitCmd(ws.Root, "update-ref", "-m", "vmc-git: follow refused", ref, local, rt); rerr != nil {
			return nil, fmt.Errorf("%w; and restoring %s to %s failed: %v", err, ref, local, rerr)
		}
		return nil, invalidErr(fmt.Errorf("the ledger on %s (%s) does not verify, so the local ledger stays at receipt %d: %w", remote, ws.trackingRef(remote), tip.Head.Seq, err),
			"someone pushed receipts that break the chain: tell your team; git log "+strings.TrimPrefix(ws.trackingRef(remote), "refs/remotes/")+" shows them",
			"the hook on the server should have refused it: vmc-git hook install --repo SERVER_REPO")
	}
	now, err := ws.Ledger.Tip()
	if err != nil {
		return nil, err
	}
	res.To, res.Receipts = now.Head.Seq, now.Head.Seq-tip.Head.Seq
	return res, nil
}

// pin is the genesis pin verification uses: the config's, or none.
func (ws *Workspace) pin() *digest.Digest {
	if ws.Config == nil {
		return nil
	}
	return &ws.Config.GenesisBlake3
}
