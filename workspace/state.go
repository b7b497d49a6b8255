package workspace

import "github.com/vmc-git/vmc-git/state"

// State is the state the ledger expects for every resource, replayed from
// its apply receipts (package state).
func (ws *Workspace) State() (*state.State, error) {
	return state.Replay(ws.Ledger)
}
