package main

import (
	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/receipt"
	"github.com/vmc-git/vmc-git/workspace"
)

func syncCommand() *cli.Command {
	return &cli.Command{
		Name:  "sync",
		Usage: "fetch the remote's ledger, verify it, and level the local ledger with it",
		Description: `Fetches the ledger and main branches and the snapshot tags from the remote.
A local ledger behind the remote is fast-forwarded after the new receipts
verify (from the last verified head, with signatures); one that does not verify
is refused and nothing moves. Your own receipts that never reached the remote
(a record made while CI pushed) are written again on top of the remote's ledger:
new seq, re-signed, same content. With --push the receipts the remote lacks are
then pushed. Every command that reads the ledger already follows what git pull
or git fetch brought (without fetching itself).

EXAMPLE:
   vmc-git sync
   vmc-git sync --key ~/.ssh/vmc_alice --push`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "remote", Value: workspace.DefaultRemote, Usage: "the remote to follow"},
			&cli.BoolFlag{Name: "push", Usage: "then push the local receipts the remote lacks (compare-and-swap)"},
			keyFlag, kidFlag, jsonFlag,
		},
		Action: func(c *cli.Context) error {
			ws, err := open(c)
			if err != nil {
				return err
			}
			defer ws.Close()
			var id *workspace.Identity
			if c.String("key") != "" || keyPath(c) != "" || c.String("kid") != "" {
				i, err := loadSigner(c, ws)
				if err != nil {
					return err
				}
				id = &i
			}
			res, err := ws.Sync(id, workspace.SyncRequest{Remote: c.String("remote"), Push: c.Bool("push")})
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return printJSON(c, res)
			}
			outf(c, "ledger level with %s at receipt %d (%d taken from %s)\n", res.Remote, res.Seq, res.Taken, res.Remote)
			for _, r := range res.Rewritten {
				outf(c, "  your receipt %d (%s: %s) written again as receipt %d\n", r.OldSeq, r.Kind, r.Summary, r.NewSeq)
			}
			switch {
			case res.Pushed:
				outf(c, "  pushed to %s\n", res.Remote)
			case res.Ahead > 0:
				outf(c, "  %d receipt(s) not on %s yet: vmc-git sync --push\n", res.Ahead, res.Remote)
			}
			return nil
		},
	}
}

// receiptPath is where receipt seq lives in ws's ledger, in the ledger's own
// format (HEAD.json's v).
func receiptPath(ws *workspace.Workspace, seq uint64) string {
	if t, err := ws.Ledger.Tip(); err == nil {
		return receipt.PathIn(t.Head.V, seq)
	}
	return receipt.PathIn(receipt.DefaultFormat, seq)
}
