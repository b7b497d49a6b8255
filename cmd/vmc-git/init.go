package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/internal/config"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/receipt"
	"github.com/vmc-git/vmc-git/workspace"
)

func initCommand() *cli.Command {
	return &cli.Command{
		Name:      "init",
		Usage:     "create a ledger: .vmc/config.json on main and the genesis receipt",
		ArgsUsage: "[DIR]",
		Description: `Creates (or reuses) a git repository in DIR, writes the genesis receipt on the
ledger branch, then commits .vmc/config.json (with the genesis pin) on the
branch the repository is on (or --main-branch). Everything is checked first: a
failed init leaves the directory as it was.
The signing key becomes the first operator with every role; add more with
--operator KID:ROLES:PUBKEYFILE (roles: admin, approver, applier, comma-separated).

EXAMPLE:
   vmc-git keygen --kid alice --out ~/.ssh/vmc_alice
   vmc-git init infra --ledger github.com/acme/infra --key ~/.ssh/vmc_alice
   vmc-git init infra --ledger github.com/acme/infra --key alice \
       --operator bob:approver:bob.pub --operator ci:applier:ci.pub --approvals-required 1`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "ledger", Required: true, Usage: "ledger id, e.g. github.com/acme/infra (stops cross-ledger replay)"},
			keyFlag, kidFlag,
			&cli.StringFlag{Name: "branch", Value: workspace.DefaultBranch, Usage: "ledger branch"},
			&cli.StringFlag{Name: "main-branch", Usage: "branch that carries config, plans and workflows (default: the branch the repository is on; main for a new one)"},
			&cli.IntFlag{Name: "approvals-required", Value: 1, Usage: "distinct approver signatures a plan needs"},
			&cli.IntFlag{Name: "admin-threshold", Value: 1, Usage: "distinct admin signatures a trust change needs"},
			&cli.StringFlag{Name: "roles", Value: "admin,applier,approver", Usage: "roles of the signing key"},
			&cli.StringSliceFlag{Name: "operator", Usage: "another genesis key: KID:ROLES:PUBKEYFILE (repeatable)"},
			&cli.StringFlag{Name: "provider", Value: config.ProviderHetzner, Usage: "hetzner (HCLOUD_TOKEN; HCLOUD_ENDPOINT for a served sandbox) or sandbox (embedded in this clone only: for trying it alone)"},
			genesisWitnessFlag, genesisWQuorumFlag,
			&cli.BoolFlag{Name: "no-policy", Usage: "do not write the default policy set to policy/ (apply enforces the policy on main)"},
			jsonFlag,
		},
		Action: func(c *cli.Context) error {
			dir := "."
			if c.NArg() > 1 {
				return usagef("init: at most one DIR")
			}
			if c.NArg() == 1 {
				dir = c.Args().First()
			}
			id, err := loadSigner(c, nil)
			if err != nil {
				return err
			}
			var roles []keys.Role
			for _, r := range strings.Split(c.String("roles"), ",") {
				roles = append(roles, keys.Role(r))
			}
			slices.Sort(roles)
			specs := []keys.KeySpec{{KID: id.KID, PublicKey: keys.FormatPublicKey(id.Signer.PublicKey()), Roles: roles}}
			for _, op := range c.StringSlice("operator") {
				sp, err := parseOperator(op)
				if err != nil {
					return fail(exitUsage, err)
				}
				specs = append(specs, sp)
			}
			policy := keys.Policy{ApprovalsRequired: c.Int("approvals-required"), AdminThreshold: c.Int("admin-threshold")}
			if err := genesisWitnesses(c, &policy); err != nil {
				return err
			}
			res, err := workspace.Init(workspace.InitRequest{Dir: dir, Ledger: c.String("ledger"), Branch: c.String("branch"), MainBranch: c.String("main-branch"), Provider: c.String("provider"), Version: Version,
				NoPolicy: c.Bool("no-policy"), Genesis: receipt.Genesis{Keys: specs, Policy: policy}}, id)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return printJSON(c, res)
			}
			outf(c, "initialized ledger %s in %s\n  genesis blake3 %s\n  ledger branch  %s (commit %s)\n  config         %s on %s\n  provider       %s\n",
				res.Ledger, res.Dir, res.GenesisBlake3, res.Branch, res.Commit[:12], config.Path, res.MainBranch, providerLine(res.Provider))
			outf(c, "next: vmc-git -C %s verify chain --sig\n", res.Dir)
			return nil
		},
	}
}

// parseOperator parses KID:ROLES:PUBKEYFILE.
func parseOperator(s string) (keys.KeySpec, error) {
	kid, rest, ok1 := strings.Cut(s, ":")
	roles, file, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 {
		return keys.KeySpec{}, fmt.Errorf("--operator %q: want KID:ROLES:PUBKEYFILE", s)
	}
	pub, err := keys.LoadPublicKey(file)
	if err != nil {
		return keys.KeySpec{}, fmt.Errorf("--operator %s: %w", kid, err)
	}
	var rs []keys.Role
	for _, r := range strings.Split(roles, ",") {
		rs = append(rs, keys.Role(r))
	}
	slices.Sort(rs)
	return keys.KeySpec{KID: kid, PublicKey: keys.FormatPublicKey(pub), Roles: rs}, nil
}

// providerLine names a provider for people: the sandbox says what it is.
func providerLine(p string) string {
	if p == config.ProviderSandbox {
		return "sandbox (the embedded Hetzner-compatible sandbox in this clone: not real servers, not shared)"
	}
	return p
}
