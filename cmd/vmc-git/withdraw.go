package main

import (
	"github.com/urfave/cli/v2"
	"github.com/vmc-git/vmc-git/workspace"
)

func planWithdrawCommand() *cli.Command {
	return &cli.Command{
		Name:      "withdraw",
		Usage:     "retire a merged, unapplied plan with a signed receipt (approvers)",
		ArgsUsage: "ID",
		Description: `Plans on main are immutable once merged, so a plan that should not apply is
withdrawn instead: an apply receipt with status withdrawn and your reason,
signed by your approver key. apply never tries the plan again.

REQUIRED FLAGS: --reason

EXAMPLE:
   vmc-git plan withdraw web-1-resize --reason "superseded by web-1-resize-2" --key ~/.ssh/vmc_bob --push`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "reason", Required: true, Usage: "one line: why the plan is withdrawn"},
			keyFlag, kidFlag, jsonFlag,
		}, pushFlags()...),
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1, "ID"); err != nil {
				return err
			}
			ws, id, err := openSigner(c)
			if err != nil {
				return err
			}
			defer ws.Close()
			mainRef := ""
			if c.Bool("push") && ws.Config != nil {
				mainRef = "refs/remotes/" + c.String("remote") + "/" + ws.Config.MainBranch
			}
			w, err := publishing(c, ws, id, func() (*workspace.Written, error) {
				return ws.Withdraw(id, c.Args().First(), c.String("reason"), mainRef)
			})
			if err != nil {
				return err
			}
			return reportWritten(c, w)
		},
	}
}
