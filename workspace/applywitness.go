package workspace

import (
	"context"

	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/witness"
)

// ApplyCheckpoints is what an applier knows independently of the git
// server, as verify chain's --checkpoint and --witness-check.
type ApplyCheckpoints struct {
	CheckpointFile string          // a merkle-<N>.json snapshot or a signed checkpoint note ("": none)
	AskWitnesses   bool            // ask the trust state's witnesses for their latest size
	Client         *witness.Client // bounds each witness call (AskWitnesses)
}

// CheckBeforeApply runs verify chain's rollback checks for apply, before it
// calls the provider: the ledger is verified (signatures, from the
// remembered verified head, as apply itself does), then CheckRollback and
// CheckWitnessed compare it with req. A ledger shorter than, or forked from,
// a cosigned checkpoint is refused as invalid (ErrRolledBack,
// *gitledger.WitnessAheadError or *merkle.RollbackError), naming both sizes
// and roots. With nothing to check (no file, no witnesses asked) it does
// nothing and returns nil, nil.
func (ws *Workspace) CheckBeforeApply(ctx context.Context, req ApplyCheckpoints) (*Witnessed, error) {
	if req.CheckpointFile == "" && !req.AskWitnesses {
		return nil, nil
	}
	rep, err := ws.Verify(gitledger.VerifyOptions{Signatures: true, Remember: true})
	if err != nil {
		return nil, err
	}
	if _, err := ws.CheckRollback(rep, RollbackCheck{CheckpointFile: req.CheckpointFile}); err != nil {
		return nil, err
	}
	var files []string
	if req.CheckpointFile != "" {
		files = append(files, req.CheckpointFile)
	}
	return ws.CheckWitnessed(ctx, files, req.AskWitnesses, req.Client)
}
