package main

import (
	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/workspace"
)

// applyCheckpointFlags are verify chain's rollback flags, for apply.
var applyCheckpointFlags = []cli.Flag{
	&cli.StringFlag{Name: "checkpoint", Usage: "refuse (exit 3, before any provider call) a ledger that does not extend this merkle-<N>.json snapshot or signed checkpoint"},
	witnessCheckFlag, witnessTimeoutFlag,
}

// checkBeforeApply refuses a rolled-back or forked ledger before apply
// calls the provider (workspace.CheckBeforeApply) and prints what the
// witnesses said.
func checkBeforeApply(c *cli.Context, ws *workspace.Workspace) error {
	w, err := ws.CheckBeforeApply(c.Context, workspace.ApplyCheckpoints{
		CheckpointFile: c.String("checkpoint"), AskWitnesses: c.Bool("witness-check"), Client: witnessClient(c)})
	if err != nil {
		return err
	}
	if !c.Bool("json") {
		printWitnessed(c, w)
	}
	return nil
}
