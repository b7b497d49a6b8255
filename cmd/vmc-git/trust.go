package main

import (
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/receipt"
	"github.com/vmc-git/vmc-git/workspace"
)

// trustCommands are added under "vmc-git keys".
func trustCommands() []*cli.Command {
	opFlags := func(op string) []cli.Flag {
		switch op {
		case receipt.KeysTrust:
			return []cli.Flag{
				&cli.StringFlag{Name: "kid", Required: true, Usage: "key id for the new key"},
				&cli.StringSliceFlag{Name: "role", Required: true, Usage: "admin, approver or applier (repeatable)"},
				&cli.StringFlag{Name: "valid-after", Usage: "RFC 3339 UTC time the key starts (default: the receipt's time)"},
				&cli.StringFlag{Name: "valid-before", Usage: "RFC 3339 UTC time the key ends"},
			}
		case receipt.KeysRevoke:
			return []cli.Flag{
				&cli.StringFlag{Name: "at", Usage: "when the key stopped being trustworthy (RFC 3339 UTC; for a compromise, when it happened)"},
				&cli.StringFlag{Name: "reason", Value: receipt.ReasonRetired, Usage: "compromised or retired"},
			}
		case receipt.KeysPolicy:
			return []cli.Flag{
				&cli.IntFlag{Name: "approvals-required", Usage: "distinct approver signatures a plan needs (default: unchanged)"},
				&cli.IntFlag{Name: "admin-threshold", Usage: "distinct admin signatures a trust change needs (default: unchanged)"},
			}
		case receipt.KeysRoles:
			return []cli.Flag{&cli.StringSliceFlag{Name: "role", Required: true, Usage: "the key's roles from now on: admin, approver or applier (repeatable)"}}
		case receipt.KeysProvider:
			return nil
		default:
			return []cli.Flag{&cli.StringFlag{Name: "new-key", Required: true, Usage: "the replacement OpenSSH public key (line or file)"}}
		}
	}
	args := map[string]string{receipt.KeysTrust: "PUBKEY", receipt.KeysRevoke: "KID", receipt.KeysRotate: "KID", receipt.KeysPolicy: "", receipt.KeysRoles: "KID", receipt.KeysProvider: "PROVIDER"}
	usage := map[string]string{
		receipt.KeysTrust:    "trust a new key with roles",
		receipt.KeysRevoke:   "revoke a key (retired, or compromised from --at)",
		receipt.KeysRotate:   "replace a key: the new key starts when the old one ends",
		receipt.KeysPolicy:   "change approvals_required and admin_threshold",
		receipt.KeysRoles:    "change a trusted key's roles",
		receipt.KeysProvider: "change the provider the ledger pins (.vmc/config.json must then say the same)",
	}
	examples := map[string]string{
		receipt.KeysTrust:    "vmc-git keys trust bob.pub --kid bob --role approver",
		receipt.KeysRevoke:   "vmc-git keys revoke bob --reason compromised --at 2026-11-20T00:00:00Z",
		receipt.KeysRotate:   "vmc-git keys rotate alice --new-key alice-2027.pub",
		receipt.KeysPolicy:   "vmc-git keys policy --approvals-required 2 --admin-threshold 2",
		receipt.KeysRoles:    "vmc-git keys roles bob --role approver --role admin",
		receipt.KeysProvider: "vmc-git keys provider hetzner",
	}
	var direct, propose []*cli.Command
	for _, op := range []string{receipt.KeysTrust, receipt.KeysRevoke, receipt.KeysRotate, receipt.KeysPolicy, receipt.KeysRoles, receipt.KeysProvider} {
		op := op
		direct = append(direct, &cli.Command{
			Name: op, Usage: usage[op] + " (one admin: writes the keys receipt now)", ArgsUsage: args[op],
			Description: `With admin_threshold 1 this proposes, signs and applies in one step. With a
higher threshold use "vmc-git keys propose ` + op + ` ... -o FILE", then "keys cosign
FILE" by each admin, then "keys apply FILE".

EXAMPLE:
   ` + examples[op],
			Flags: append(append(opFlags(op), keyFlag, &cli.StringFlag{Name: "as", Usage: "your key id (default: the key's comment)"}, jsonFlag), pushFlags()...),
			Action: func(c *cli.Context) error {
				ws, id, err := trustSetup(c)
				if err != nil {
					return err
				}
				defer ws.Close()
				w, err := publishing(c, ws, id, func() (*workspace.Written, error) {
					return ws.ChangeTrust(op, func() (workspace.TrustChange, error) { return trustChange(c, op) }, id)
				})
				if err != nil {
					return err
				}
				return reportWritten(c, w)
			},
		})
		propose = append(propose, &cli.Command{
			Name: op, Usage: "propose: " + usage[op], ArgsUsage: args[op],
			Description: "EXAMPLE:\n   " + strings.Replace(examples[op], "keys "+op, "keys propose "+op, 1) + " -o change.json",
			Flags:       append(opFlags(op), &cli.StringFlag{Name: "out", Aliases: []string{"o"}, Required: true, Usage: "proposal file"}, jsonFlag),
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
				ch, threshold, err := ws.ProposeTrust(tc)
				if err != nil {
					return err
				}
				if err := workspace.WriteChange(c.String("out"), ch, true); err != nil {
					return err
				}
				if c.Bool("json") {
					return printJSON(c, map[string]any{"file": c.String("out"), "threshold": threshold, "proposal": ch.Proposal})
				}
				outf(c, "wrote proposal %s (needs %d admin signatures): each admin runs vmc-git keys cosign %s\n", c.String("out"), threshold, c.String("out"))
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
			},
		},
		&cli.Command{
			Name: "apply", Usage: "write the keys receipt for a proposal with enough admin signatures", ArgsUsage: "FILE",
			Description: "EXAMPLE:\n   vmc-git keys apply change.json --key ~/.ssh/vmc_alice",
			Flags:       append([]cli.Flag{keyFlag, &cli.StringFlag{Name: "as", Usage: "your key id"}, jsonFlag}, pushFlags()...),
			Action: func(c *cli.Context) error {
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
				w, err := publishing(c, ws, id, func() (*workspace.Written, error) { return ws.ApplyTrust(ch, id) })
				if err != nil {
					return err
				}
				return reportWritten(c, w)
			},
		},
	)
}

// trustSetup opens the workspace, checks it has a ledger, and loads --key
// as --as (default: the key's comment).
func trustSetup(c *cli.Context) (*workspace.Workspace, workspace.Identity, error) {
	ws, err := open(c)
	if err != nil {
		return nil, workspace.Identity{}, err
	}
	if _, err := ws.Ledger.Tip(); err != nil {
		ws.Close()
		return nil, workspace.Identity{}, err
	}
	s, err := keys.Load(c.String("key"))
	if err != nil {
		ws.Close()
		return nil, workspace.Identity{}, fail(exitUsage, err)
	}
	me := c.String("as")
	if me == "" {
		me = workspace.CommentKID(keyPath(c))
	}
	if me == "" {
		ws.Close()
		return nil, workspace.Identity{}, usagef("no key id: give --as KID")
	}
	return ws, workspace.Identity{Signer: s, KID: me}, nil
}

// trustChange reads a trust change's argument and flags.
func trustChange(c *cli.Context, op string) (workspace.TrustChange, error) {
	tc := workspace.TrustChange{Op: op}
	if op == receipt.KeysPolicy {
		if c.NArg() != 0 {
			return tc, usagef("keys policy: no arguments, only --approvals-required and --admin-threshold")
		}
		if !c.IsSet("approvals-required") && !c.IsSet("admin-threshold") {
			return tc, usagef("keys policy: give --approvals-required N and/or --admin-threshold N")
		}
		ws, err := open(c)
		if err != nil {
			return tc, err
		}
		defer ws.Close()
		tip, err := ws.Ledger.Tip()
		if err != nil {
			return tc, err
		}
		p := keys.Policy{ApprovalsRequired: tip.Trust.ApprovalsRequired, AdminThreshold: tip.Trust.AdminThreshold}
		if c.IsSet("approvals-required") {
			p.ApprovalsRequired = c.Int("approvals-required")
		}
		if c.IsSet("admin-threshold") {
			p.AdminThreshold = c.Int("admin-threshold")
		}
		tc.Policy = &p
		return tc, nil
	}
	if c.NArg() != 1 {
		return workspace.TrustChange{}, usagef("keys %s: want one argument", op)
	}
	switch op {
	case receipt.KeysRoles:
		tc.KID = c.Args().First()
		for _, r := range c.StringSlice("role") {
			for _, x := range strings.Split(r, ",") {
				tc.Roles = append(tc.Roles, keys.Role(x))
			}
		}
		slices.Sort(tc.Roles)
		tc.Roles = slices.Compact(tc.Roles)
	case receipt.KeysTrust:
		pub, err := keys.LoadPublicKey(c.Args().First())
		if err != nil {
			return tc, fail(exitUsage, err)
		}
		var roles []keys.Role
		for _, r := range c.StringSlice("role") {
			for _, x := range strings.Split(r, ",") {
				roles = append(roles, keys.Role(x))
			}
		}
		slices.Sort(roles)
		tc.Key = &keys.KeySpec{KID: c.String("kid"), PublicKey: keys.FormatPublicKey(pub), Roles: roles,
			ValidAfter: c.String("valid-after"), ValidBefore: c.String("valid-before")}
	case receipt.KeysRevoke:
		tc.KID, tc.At, tc.Reason = c.Args().First(), c.String("at"), c.String("reason")
	case receipt.KeysRotate:
		tc.KID, tc.NewKey = c.Args().First(), c.String("new-key")
	case receipt.KeysProvider:
		tc.Provider = c.Args().First()
	}
	return tc, nil
}
