package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/internal/demo"
)

func demoCommand() *cli.Command {
	return &cli.Command{
		Name:      "demo",
		Usage:     "run the team flow on a local origin and a served sandbox: plan, review, approve, apply, verify",
		ArgsUsage: "[DIR]",
		Description: `Makes, in DIR (default: a new temporary directory), what a team has: a bare
origin repository with the pre-receive hook, a Hetzner-compatible sandbox served
for everyone (as HCLOUD_ENDPOINT), and clones for alice (admin), bob (approver)
and CI (applier). Then, through the same commands you would type: alice plans a
server in a branch, bob reviews and approves it in his clone and merges it, CI
applies it with --push, alice pulls the new ledger back, a forged push to the
ledger is refused by the hook, and a fresh clone verifies the chain. Prints
every step as a command you can paste (from DIR), and what to look at.

EXAMPLE:
   vmc-git demo /tmp/vmc-demo`,
		Action: func(c *cli.Context) error {
			dir := ""
			if c.NArg() > 1 {
				return usagef("demo: at most one DIR")
			}
			if c.NArg() == 1 {
				dir = c.Args().First()
				if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
					return fail(exitRefused, fmt.Errorf("demo: %s is not empty", dir), "give a new or empty directory")
				}
			} else {
				var err error
				if dir, err = os.MkdirTemp("", "vmc-demo-"); err != nil {
					return err
				}
			}
			return demo.Run(demo.Options{Dir: dir, Out: c.App.Writer, VMC: run})
		},
	}
}
