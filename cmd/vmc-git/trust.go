package main

import (
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/receipt"
	"github.com/vmc-git/vmc-git/workspace"
)

// trustCommands are added under "vmc-git keys": each trust op directly
// (one admin), the same ops under "keys propose", and "keys cosign" and
// "keys apply" for a proposal file (the flags and texts are in
// trustargs.go).
func trustCommands() []*cli.Command {
	var direct, propose []*cli.Command
	for _, op := range trustOps {
		op := op
		direct = append(direct, &cli.Command{
			Name: op, Usage: trustUsage[op] + " (one admin: writes the keys receipt now)", ArgsUsage: trustArgs[op],
			Description: `With admin_threshold 1 this proposes, signs and applies in one step. With a
higher threshold use "vmc-git keys propose ` + op + ` ... -o FILE", then "keys cosign
FILE" by each admin, then "keys apply FILE".

EXAMPLE:
   ` + trustExamples[op],
			Flags: append(append(trustOpFlags(op), keyFlag, &cli.StringFlag{Name: "as", Usage: "your key id (default: the key's comment)"}, jsonFlag), pushFlags()...),
			Action: func(c *cli.Context) error {
				return changeTrust(c, op, func() (workspace.TrustChange, error) { return trustChange(c, op) })
			},
		})
		propose = append(propose, &cli.Command{
			Name: op, Usage: "propose: " + trustUsage[op], ArgsUsage: trustArgs[op],
			Description: "EXAMPLE:\n   " + strings.Replace(trustExamples[op], "keys "+op, "keys propose "+op, 1) + " -o change.json",
			Flags:       append(trustOpFlags(op), &cli.StringFlag{Name: "out", Aliases: []string{"o"}, Required: true, Usage: "proposal file"}, jsonFlag),
			Action: func(c *cli.Context) error {
				ws, err := open(c)
				if err != nil {
					return err
				}
				defer ws.Close()
				if _, err := ws.Ledger.Tip(); err != nil {
					return err
				}
				tc, err := trustChange(c, op)
				if err != nil {
					return err
				}
				ch, threshold, err := proposeTo(ws, tc, c.String("out"))
				if err != nil {
					return err
				}
				if c.Bool("json") {
					return printJSON(c, map[string]any{"file": c.String("out"), "threshold": threshold, "proposal": ch.Proposal})
				}
				proposalWritten(c, c.String("out"), threshold)
				return nil
			},
		})
	}
	return append(direct,
		&cli.Command{Name: "propose", Usage: "write a trust change for admins to co-sign", Subcommands: propose,
			Description: "With admin_threshold N, a trust change needs N admin co-signatures.\n\nEXAMPLE:\n   vmc-git keys propose trust bob.pub --kid bob --role approver -o change.json\n   vmc-git keys cosign change.json --key ~/.ssh/vmc_alice\n   vmc-git keys apply change.json --key ~/.ssh/vmc_carol"},
		&cli.Command{
			Name: "cosign", Usage: "add your admin signature to a proposal file", ArgsUsage: "FILE",
			Description: "EXAMPLE:\n   vmc-git keys cosign change.json --key ~/.ssh/vmc_alice",
			Flags:       []cli.Flag{keyFlag, &cli.StringFlag{Name: "as", Usage: "your key id"}, jsonFlag},
			Action: func(c *cli.Context) error {
				return withChange(c, func(ws *workspace.Workspace, id workspace.Identity, ch *receipt.KeysChange) error {
					threshold, err := ws.CosignTrust(ch, id)
					if err != nil {
						return err
					}
					if err := workspace.WriteChange(c.Args().First(), ch, false); err != nil {
						return err
					}
					if c.Bool("json") {
						return printJSON(c, map[string]any{"file": c.Args().First(), "kid": id.KID, "signatures": len(ch.Signatures), "threshold": threshold})
					}
					outf(c, "co-signed as %s: %d of %d admin signatures\n", id.KID, len(ch.Signatures), threshold)
					return nil
				})
			},
		},
		&cli.Command{
			Name: "apply", Usage: "write the keys receipt for a proposal with enough admin signatures", ArgsUsage: "FILE",
			Description: "EXAMPLE:\n   vmc-git keys apply change.json --key ~/.ssh/vmc_alice",
			Flags:       append([]cli.Flag{keyFlag, &cli.StringFlag{Name: "as", Usage: "your key id"}, jsonFlag}, pushFlags()...),
			Action: func(c *cli.Context) error {
				return withChange(c, func(ws *workspace.Workspace, id workspace.Identity, ch *receipt.KeysChange) error {
					w, err := publishing(c, ws, id, func() (*workspace.Written, error) { return ws.ApplyTrust(ch, id) })
					if err != nil {
						return err
					}
					return reportWritten(c, w)
				})
			},
		},
	)
}

// changeTrust writes a trust change at once (admin_threshold 1), published
// with --push; change reads the request once ChangeTrust knows it may.
func changeTrust(c *cli.Context, op string, change func() (workspace.TrustChange, error)) error {
	ws, id, err := trustSetup(c)
	if err != nil {
		return err
	}
	defer ws.Close()
	w, err := publishing(c, ws, id, func() (*workspace.Written, error) { return ws.ChangeTrust(op, change, id) })
	if err != nil {
		return err
	}
	return reportWritten(c, w)
}

// proposeTo writes tc as a new proposal file out; it returns the proposal
// and the admin signatures it needs.
func proposeTo(ws *workspace.Workspace, tc workspace.TrustChange, out string) (*receipt.KeysChange, int, error) {
	ch, threshold, err := ws.ProposeTrust(tc)
	if err != nil {
		return nil, 0, err
	}
	if err := workspace.WriteChange(out, ch, true); err != nil {
		return nil, 0, err
	}
	return ch, threshold, nil
}

func proposalWritten(c *cli.Context, out string, threshold int) {
	outf(c, "wrote proposal %s (needs %d admin signatures): each admin runs vmc-git keys cosign %s\n", out, threshold, out)
}

// withChange runs do with the workspace, the signer and the proposal file
// FILE (keys cosign, keys apply).
func withChange(c *cli.Context, do func(*workspace.Workspace, workspace.Identity, *receipt.KeysChange) error) error {
	if err := exactArgs(c, 1, "FILE"); err != nil {
		return err
	}
	ws, id, err := trustSetup(c)
	if err != nil {
		return err
	}
	defer ws.Close()
	ch, err := workspace.ReadChange(c.Args().First())
	if err != nil {
		return err
	}
	return do(ws, id, ch)
}
