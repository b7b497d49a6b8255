package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/internal/canon"
	"github.com/vmc-git/vmc-git/receipt"
	"github.com/vmc-git/vmc-git/workspace"
)

func recordCommand() *cli.Command {
	return &cli.Command{
		Name:  "record",
		Usage: "append a manual receipt: an operation done by hand outside vmc-git (break-glass)",
		Description: `Records what an operator did by hand, signed by the operator, so the ledger
stays the complete history. --body FILE adds a JSON object with the details.

EXAMPLE:
   vmc-git record --summary "rebooted web-1 from the console after a kernel hang" --key ~/.ssh/vmc_alice
   vmc-git record --summary "rotated root password on db-1" --body details.json --json
   vmc-git record --summary "resized db-1 by hand" --push     # and publish it to origin`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "summary", Required: true, Usage: "one line: what was done and why"},
			&cli.StringFlag{Name: "body", Usage: "JSON object file with details"},
			keyFlag, kidFlag, jsonFlag,
		}, pushFlags()...),
		Action: func(c *cli.Context) error {
			if err := receipt.ValidSummary(c.String("summary")); err != nil {
				return fail(exitUsage, err)
			}
			var details []byte
			if f := c.String("body"); f != "" {
				b, err := readInput(f)
				if err != nil {
					return err
				}
				cb, err := canon.Canonicalize(b)
				if err != nil {
					return fail(exitUsage, fmt.Errorf("--body %s: %w", f, err))
				}
				if cb[0] != '{' {
					return fail(exitUsage, fmt.Errorf("--body %s: want a JSON object", f))
				}
				details = cb
			}
			ws, id, err := openSigner(c)
			if err != nil {
				return err
			}
			defer ws.Close()
			w, err := publishing(c, ws, id, func() (*workspace.Written, error) { return ws.Record(id, c.String("summary"), details) })
			if err != nil {
				return err
			}
			return reportWritten(c, w)
		},
	}
}
