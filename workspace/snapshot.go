package workspace

import (
	"time"

	"github.com/vmc-git/vmc-git/gitledger"
)

// Snapshot makes the Merkle snapshot of the first size receipts (0: all),
// signed by id, and with tag the signed tag vmc/merkle/<N>. Any failure is
// a refusal (a tag that exists, a size past the tip, a key not trusted).
func (ws *Workspace) Snapshot(id Identity, size uint64, tag bool) (*gitledger.SnapshotResult, error) {
	res, err := ws.Ledger.MakeSnapshot(id.Signer, id.KID, size, tag, time.Now())
	if err != nil {
		return nil, refusedErr(err)
	}
	return res, nil
}
