package main

import (
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/receipt"
	"github.com/vmc-git/vmc-git/workspace"
)

// The trust ops' flags, arguments and texts, and how a command reads them.

// trustOps are the trust ops, in the order --help lists them.
var trustOps = []string{receipt.KeysTrust, receipt.KeysRevoke, receipt.KeysRotate, receipt.KeysPolicy, receipt.KeysRoles, receipt.KeysProvider}

// trustOpFlags are the flags of op (a fresh set per command).
func trustOpFlags(op string) []cli.Flag {
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

// trustArgs, trustUsage and trustExamples are each op's ArgsUsage, Usage
// and example.
var trustArgs = map[string]string{receipt.KeysTrust: "PUBKEY", receipt.KeysRevoke: "KID", receipt.KeysRotate: "KID", receipt.KeysPolicy: "", receipt.KeysRoles: "KID", receipt.KeysProvider: "PROVIDER"}
var trustUsage = map[string]string{
	receipt.KeysTrust:    "trust a new key with roles",
	receipt.KeysRevoke:   "revoke a key (retired, or compromised from --at)",
	receipt.KeysRotate:   "replace a key: the new key starts when the old one ends",
	receipt.KeysPolicy:   "change approvals_required and admin_threshold",
	receipt.KeysRoles:    "change a trusted key's roles",
	receipt.KeysProvider: "change the provider the ledger pins (.vmc/config.json must then say the same)",
}
var trustExamples = map[string]string{
	receipt.KeysTrust:    "vmc-git keys trust bob.pub --kid bob --role approver",
	receipt.KeysRevoke:   "vmc-git keys revoke bob --reason compromised --at 2026-11-20T00:00:00Z",
	receipt.KeysRotate:   "vmc-git keys rotate alice --new-key alice-2027.pub",
	receipt.KeysPolicy:   "vmc-git keys policy --approvals-required 2 --admin-threshold 2",
	receipt.KeysRoles:    "vmc-git keys roles bob --role approver --role admin",
	receipt.KeysProvider: "vmc-git keys provider hetzner",
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
		tc.ApprovalsRequired, tc.AdminThreshold = intPtr(c, "approvals-required"), intPtr(c, "admin-threshold")
		return tc, nil
	}
	if c.NArg() != 1 {
		return workspace.TrustChange{}, usagef("keys %s: want one argument", op)
	}
	switch op {
	case receipt.KeysRoles:
		tc.KID, tc.Roles = c.Args().First(), slices.Compact(roleFlags(c))
	case receipt.KeysTrust:
		pub, err := keys.LoadPublicKey(c.Args().First())
		if err != nil {
			return tc, fail(exitUsage, err)
		}
		tc.Key = &keys.KeySpec{KID: c.String("kid"), PublicKey: keys.FormatPublicKey(pub), Roles: roleFlags(c),
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

// roleFlags are the --role values (each may list several, comma-separated),
// sorted.
func roleFlags(c *cli.Context) []keys.Role {
	var roles []keys.Role
	for _, r := range c.StringSlice("role") {
		for _, x := range strings.Split(r, ",") {
			roles = append(roles, keys.Role(x))
		}
	}
	slices.Sort(roles)
	return roles
}
