package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// exitDrift is drift's exit code when the provider differs from the ledger.
const exitDrift = 2

func driftCommand() *cli.Command {
	return &cli.Command{
		Name:  "drift",
		Usage: "compare the servers the ledger expects (replayed from receipts) with the provider's",
		Description: `Reports servers missing (deleted behind vmc-git's back), unmanaged (not created
by this ledger) and changed (id, type, image, status, labels, protection). --attest
appends a signed attestation receipt (an in-toto Statement v1) with the findings.

Exit code 2 when there is drift (other codes as for every command).

EXAMPLE:
   vmc-git drift
   vmc-git drift --attest --key ~/.ssh/vmc_ci --json
   vmc-git drift --attest --push --key ~/.ssh/vmc_ci   # publish the attestation (CI)`,
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "attest", Usage: "append an attestation receipt with the report"},
			keyFlag, kidFlag, jsonFlag,
		}, pushFlags()...),
		Action: func(c *cli.Context) error {
			ws, err := open(c)
			if err != nil {
				return err
			}
			defer ws.Close()
			id, err := attestSigner(c, ws)
			if err != nil {
				return err
			}
			rep, err := ws.Drift(c.Context, c.Bool("attest"), pushOf(c), id)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				if err := printJSON(c, rep); err != nil {
					return err
				}
			} else {
				outf(c, "ledger receipt %d: %d servers expected, %d at the provider\n", rep.LedgerSeq, rep.Expected, rep.Actual)
				for _, f := range rep.Findings {
					switch {
					case f.Field != "":
						outf(c, "  %-9s  %s  %s: %s -> %s\n", f.Kind, f.Resource, f.Field, orNone(f.Expected), orNone(f.Actual))
					default:
						outf(c, "  %-9s  %s  %s%s\n", f.Kind, f.Resource, f.Expected, f.Actual)
					}
				}
				if !rep.Drift {
					outf(c, "no drift\n")
				}
				if a := rep.Attestation; a != nil {
					outf(c, "attestation receipt %d\n  blake3 %s\n  commit %s\n", a.Seq, a.Blake3, a.Commit)
				}
			}
			if rep.Drift {
				return fail(exitDrift, fmt.Errorf("drift: %d finding(s)", len(rep.Findings)))
			}
			return nil
		},
	}
}
