package workspace

import (
	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/receipt"
	"github.com/vmc-git/vmc-git/state"
)

// State is the state the ledger expects for every resource, replayed from
// its apply receipts and the adopt records of its manual receipts (package
// state).
func (ws *Workspace) State() (*state.State, error) {
	return ReplayState(ws.Ledger)
}

// ReplayState replays every receipt of l into the state it expects.
func ReplayState(l *gitledger.Ledger) (*state.State, error) {
	r, err := l.NewReader()
	if err != nil {
		return nil, err
	}
	return state.Replay(r.Tip.Head.Ledger, r.Tip.Head.Seq, func(seq uint64) (*receipt.Receipt, error) {
		e, err := r.Receipt(seq)
		if err != nil {
			return nil, err
		}
		return e.Receipt, nil
	})
}
