package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/provider"
)

// resourcePlanCommands are `vmc-git plan KIND OP NAME …` for the other kinds,
// `plan ip primary|floating …`, and `plan file`.
func resourcePlanCommands() []*cli.Command {
	specs := kindSpecs()
	kindCmd := func(name string, k provider.Kind) *cli.Command {
		cmd := &cli.Command{Name: name, Usage: "plan an operation on a " + strings.ReplaceAll(k.String(), "_", " "),
			Description: "EXAMPLE:\n   " + exampleFor(k, "create")}
		for _, sp := range specs[k] {
			cmd.Subcommands = append(cmd.Subcommands, resOpCommand(k, sp))
		}
		return cmd
	}
	var out []*cli.Command
	for _, k := range provider.Kinds {
		out = append(out, kindCmd(cliKind[k], k))
	}
	ip := &cli.Command{Name: "ip", Usage: "plan an operation on a primary or floating IP (as primary-ip and floating-ip)",
		Description: "EXAMPLE:\n   vmc-git plan ip floating create vip --type ipv4 --server web-1\n   vmc-git plan ip primary assign ip-web --server web-1",
		Subcommands: []*cli.Command{kindCmd("primary", provider.KindPrimaryIP), kindCmd("floating", provider.KindFloatingIP)}}
	return append(out, ip, planFileCommand())
}

func resOpCommand(k provider.Kind, sp resSpec) *cli.Command {
	flags := append([]cli.Flag{
		&cli.StringFlag{Name: "id", Usage: "plan id (default: NAME-OP-TIMESTAMP)"},
		&cli.StringFlag{Name: "summary", Usage: "one line for reviewers (default: generated)"},
		&cli.StringFlag{Name: "out", Usage: "plan file (default: plans/<id>.json in the repository)"},
		kidFlag, jsonFlag,
	}, sp.flags...)
	return &cli.Command{
		Name: sp.name, Usage: sp.usage, ArgsUsage: "NAME", Flags: flags,
		Description: "A dry run: reads the " + k.String() + " from the provider, records what it found and the ledger\nhead, and writes the plan file.\n\nEXAMPLE:\n   " + exampleFor(k, sp.name),
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1, "NAME"); err != nil {
				return err
			}
			a := provider.Action{Kind: k, Op: sp.op, Name: c.Args().First()}
			if err := sp.build(c, &a); err != nil {
				return fail(exitUsage, err)
			}
			if err := a.Validate(); err != nil {
				return fail(exitUsage, err)
			}
			return makePlan(c, []provider.Action{a})
		},
	}
}

func exampleFor(k provider.Kind, op string) string {
	switch {
	case k == provider.KindFirewall && op == "create":
		return `vmc-git plan firewall create fw-web --rule "in tcp 443 0.0.0.0/0,::/0 https" --rule "in icmp 0.0.0.0/0"`
	case k == provider.KindNetwork && op == "create":
		return "vmc-git plan network create backend --ip-range 10.0.0.0/16 --subnet 10.0.1.0/24,eu-central"
	case k == provider.KindVolume && op == "create":
		return "vmc-git plan volume create data --size 20 --server web-1 --automount --format ext4"
	case k == provider.KindSSHKey && op == "create":
		return "vmc-git plan ssh-key create ops --public-key-from-file ~/.ssh/id_ed25519.pub"
	case op == "create":
		return "vmc-git plan " + cliKind[k] + " create ip-web --type ipv4 --location fsn1"
	}
	return fmt.Sprintf("vmc-git plan %s %s NAME ...", cliKind[k], op)
}

// planFileCommand makes one plan of several actions, applied in order.
func planFileCommand() *cli.Command {
	return &cli.Command{
		Name:      "file",
		Usage:     "plan several actions at once, from a JSON file (a list of actions, applied in order)",
		ArgsUsage: "ACTIONS.json",
		Description: `Each action is in the plan format (see "vmc-git plan show --json"); a later
action may refer to what an earlier one creates.

EXAMPLE:
   [{"kind":"network","op":"create","name":"net","ip_range":"10.0.0.0/16",
     "subnets":[{"ip_range":"10.0.1.0/24","network_zone":"eu-central"}]},
    {"op":"create","server":"web-1","server_type":"cx22","image":"debian-12","networks":["net"]}]
   vmc-git plan file project.json --id project-up`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "id", Usage: "plan id (default: from the first action)"},
			&cli.StringFlag{Name: "summary", Usage: "one line for reviewers (default: generated)"},
			&cli.StringFlag{Name: "out", Usage: "plan file (default: plans/<id>.json in the repository)"},
			kidFlag, jsonFlag,
		},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1, "ACTIONS.json"); err != nil {
				return err
			}
			b, err := os.ReadFile(c.Args().First())
			if err != nil {
				return fail(exitUsage, err)
			}
			acts, err := provider.ParseActions(b)
			if err != nil {
				return fail(exitUsage, fmt.Errorf("%s: %w", c.Args().First(), err))
			}
			return makePlan(c, acts)
		},
	}
}
