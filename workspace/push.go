package workspace

import (
	"github.com/go-git/go-git/v5/plumbing"

	"fmt"
	"strings"

	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/receipt"
)

// Push is how a use case that writes the ledger publishes what it wrote:
// the one push path of record, keys and snapshots (apply --push has its
// own, in package apply, on the same apply.GitRemote).
type Push struct {
	On     bool   // publish to Remote
	Remote string // "" means DefaultRemote
}

// Publishing runs write, a use case that appends to the ledger, between
// two syncs with the remote when p.On: first the local ledger is levelled
// with the remote (so the new receipt is written on its newest head), then
// the receipts the remote lacks are pushed by compare-and-swap; a lost race
// re-writes them on the new head (Sync) and pushes again. Without p.On it
// is just write. The returned Synced (nil without p.On) says whether the
// receipt was written again under a new seq.
func (ws *Workspace) Publishing(id Identity, p Push, write func() error) (*Synced, error) {
	if !p.On {
		return nil, write()
	}
	if _, err := ws.Sync(&id, SyncRequest{Remote: p.Remote}); err != nil {
		return nil, err
	}
	if err := write(); err != nil {
		return nil, err
	}
	return ws.Sync(&id, SyncRequest{Remote: p.Remote, Push: true})
}

// PushTag publishes a snapshot tag (create-only: a tag never moves; the
// hook refuses a moved one) after the ledger commit it names is on the
// remote.
func (ws *Workspace) PushTag(id Identity, p Push, tag string) error {
	if p.Remote == "" {
		p.Remote = DefaultRemote
	}
	if _, err := ws.Sync(&id, SyncRequest{Remote: p.Remote, Push: true}); err != nil {
		return err
	}
	ref := "refs/tags/" + tag
	if _, err := gitCmd(ws.Root, "push", "--quiet", "--porcelain", p.Remote, ref+":"+ref); err != nil {
		if strings.Contains(err.Error(), "already exists") || strings.Contains(err.Error(), "rejected") {
			return refusedErr(fmt.Errorf("%s already exists on %s (another snapshot of the same size): %w", tag, p.Remote, gitledger.ErrConflict),
				"git fetch "+p.Remote+" 'refs/tags/vmc/merkle/*:refs/tags/vmc/merkle/*' and compare; snapshot a larger size later")
		}
		return refusedErr(fmt.Errorf("push %s to %s: %w", tag, p.Remote, err))
	}
	return nil
}

// CommitOf returns the ledger commit that holds receipt seq.
func (ws *Workspace) CommitOf(seq uint64) (plumbing.Hash, error) {
	tip, err := ws.Ledger.Tip()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return ws.Ledger.CommitOf(tip, seq)
}

// AfterSync returns w as it stands after s: where s wrote w's receipt again
// under a new seq (another writer pushed first), the receipt, path and
// commit at that seq, and moved true; otherwise w itself. s may be nil.
// An error (moved, but the new receipt could not be read) returns nil.
func (ws *Workspace) AfterSync(w *gitledger.Written, s *Synced) (nw *gitledger.Written, moved bool, err error) {
	if s == nil {
		return w, false, nil
	}
	for _, r := range s.Rewritten {
		if r.OldSeq != w.Seq {
			continue
		}
		e, err := ws.Receipt(r.NewSeq)
		if err != nil {
			return nil, true, err
		}
		tip, err := ws.Ledger.Tip()
		if err != nil {
			return nil, true, err
		}
		c, err := ws.Ledger.CommitOf(tip, r.NewSeq)
		if err != nil {
			return nil, true, err
		}
		return &gitledger.Written{Seq: r.NewSeq, Path: receipt.PathIn(tip.Head.V, r.NewSeq), Commit: c, Receipt: e.Receipt, Bytes: e.Bytes, Sums: digest.Of(e.Bytes)}, true, nil
	}
	return w, false, nil
}
