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

// applyCheckpoints is apply's (and mcp serve's) ApplyCheckpoints from the
// flags above: workspace's applier runs them (CheckBeforeApply) before any
// provider call, and show prints what the witnesses said (not with --json).
func applyCheckpoints(c *cli.Context) (workspace.ApplyCheckpoints, func(*workspace.Witnessed)) {
	cp := workspace.ApplyCheckpoints{CheckpointFile: c.String("checkpoint"), AskWitnesses: c.Bool("witness-check"), Client: witnessClient(c)}
	show := func(w *workspace.Witnessed) {
		if !c.Bool("json") {
			printWitnessed(c, w)
		}
	}
	return cp, show
}
