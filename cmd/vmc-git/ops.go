package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/provider"
)

// opSpec describes the flags of one server operation.
type opSpec struct {
	op    provider.Op
	usage string
	flags []cli.Flag
	build func(c *cli.Context, a *provider.Action) error
}

func labelsFlag(usage string) cli.Flag {
	return &cli.StringSliceFlag{Name: "label", Usage: usage}
}

func parseLabels(c *cli.Context) (map[string]string, error) {
	if !c.IsSet("label") {
		return nil, nil
	}
	m := map[string]string{}
	for _, kv := range c.StringSlice("label") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("--label %q: want KEY=VALUE", kv)
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("--label %s given twice", k)
		}
		m[k] = v
	}
	return m, nil
}

func opSpecs() []opSpec {
	none := func(*cli.Context, *provider.Action) error { return nil }
	return []opSpec{
		{provider.OpCreate, "create a server", []cli.Flag{
			&cli.StringFlag{Name: "type", Required: true, Usage: "server type, e.g. cx22"},
			&cli.StringFlag{Name: "image", Required: true, Usage: "image, e.g. ubuntu-24.04"},
			&cli.StringFlag{Name: "location", Usage: "location, e.g. fsn1"},
			labelsFlag("label KEY=VALUE (repeatable)"),
			&cli.StringSliceFlag{Name: "ssh-key", Usage: "SSH key name (repeatable)"},
			&cli.StringSliceFlag{Name: "firewall", Usage: "firewall name (repeatable)"},
			&cli.StringSliceFlag{Name: "network", Usage: "network name (repeatable)"},
			&cli.StringFlag{Name: "user-data", Usage: "cloud-init user data file"},
			&cli.BoolFlag{Name: "ipv4", Value: true, Usage: "public IPv4"},
			&cli.BoolFlag{Name: "ipv6", Value: true, Usage: "public IPv6"},
			&cli.BoolFlag{Name: "start-after-create", Value: true, Usage: "start the server once created"},
		}, func(c *cli.Context, a *provider.Action) error {
			a.ServerType, a.Image, a.Location = c.String("type"), c.String("image"), c.String("location")
			a.SSHKeys, a.Firewalls, a.Networks = c.StringSlice("ssh-key"), c.StringSlice("firewall"), c.StringSlice("network")
			if f := c.String("user-data"); f != "" {
				b, err := os.ReadFile(f)
				if err != nil {
					return err
				}
				a.UserData = string(b)
			}
			if c.IsSet("ipv4") || c.IsSet("ipv6") {
				a.PublicNet = &provider.PublicNet{IPv4: c.Bool("ipv4"), IPv6: c.Bool("ipv6")}
			}
			if c.IsSet("start-after-create") {
				v := c.Bool("start-after-create")
				a.StartAfterCreate = &v
			}
			var err error
			a.Labels, err = parseLabels(c)
			return err
		}},
		{provider.OpDelete, "delete a server", nil, none},
		{provider.OpPoweron, "power a server on", nil, none},
		{provider.OpPoweroff, "cut a server's power", nil, none},
		{provider.OpShutdown, "shut a server down gracefully (ACPI)", nil, none},
		{provider.OpReboot, "reboot a server gracefully", nil, none},
		{provider.OpReset, "hard-reset a server", nil, none},
		{provider.OpRebuild, "rebuild a server from an image (wipes its disk)", []cli.Flag{
			&cli.StringFlag{Name: "image", Required: true, Usage: "image, e.g. debian-12"},
		}, func(c *cli.Context, a *provider.Action) error { a.Image = c.String("image"); return nil }},
		{provider.OpResize, "change a server's type", []cli.Flag{
			&cli.StringFlag{Name: "type", Required: true, Usage: "new server type"},
			&cli.BoolFlag{Name: "upgrade-disk", Usage: "grow the disk too (the server can then never go back to a type with a smaller disk)"},
			&cli.BoolFlag{Name: "keep-disk", Usage: "keep the disk at its size, so the server can be downgraded later (the default; the opposite of --upgrade-disk)"},
			&cli.BoolFlag{Name: "poweroff-first", Usage: "plan a poweroff of the server before the resize (a resize needs it off)"},
		}, func(c *cli.Context, a *provider.Action) error {
			if c.Bool("keep-disk") && c.Bool("upgrade-disk") {
				return fmt.Errorf("give at most one of --keep-disk and --upgrade-disk")
			}
			a.ServerType, a.UpgradeDisk = c.String("type"), c.Bool("upgrade-disk")
			return nil
		}},
		{provider.OpLabel, "replace a server's labels", []cli.Flag{labelsFlag("label KEY=VALUE (repeatable, at least one)")},
			setLabels},
		{provider.OpRename, "rename a server", []cli.Flag{&cli.StringFlag{Name: "new-name", Required: true, Usage: "the new name"}},
			func(c *cli.Context, a *provider.Action) error { a.NewName = c.String("new-name"); return nil }},
		{provider.OpProtect, "change delete/rebuild protection", []cli.Flag{
			&cli.BoolFlag{Name: "delete", Usage: "protect against deletion (--delete=false to lift)"},
			&cli.BoolFlag{Name: "rebuild", Usage: "protect against rebuild (--rebuild=false to lift)"},
		}, func(c *cli.Context, a *provider.Action) error {
			a.Delete, a.Rebuild = boolPtr(c, "delete"), boolPtr(c, "rebuild")
			return nil
		}},
	}
}

func serverOpCommands(isPlan bool) []*cli.Command {
	var out []*cli.Command
	for _, sp := range append(opSpecs(), serverExtSpecs()...) { // serverExtSpecs: resources.go
		sp := sp
		flags := append([]cli.Flag{
			&cli.StringFlag{Name: "id", Usage: "plan id (default: SERVER-OP-TIMESTAMP)"},
			&cli.StringFlag{Name: "summary", Usage: "one line for reviewers (default: generated)"},
			&cli.StringFlag{Name: "out", Usage: "plan file (default: plans/<id>.json in the repository)"},
			&cli.StringFlag{Name: "into", Usage: "append this action to the (unapproved, unmerged) plan FILE: one plan, several steps, applied as one unit"},
			kidFlag, jsonFlag,
		}, sp.flags...)
		if !isPlan {
			flags = append(flags, &cli.BoolFlag{Name: "dry-run", Usage: "make a plan instead of acting (required)"})
		}
		example := fmt.Sprintf("   vmc-git plan server %s web-1", sp.op)
		if sp.op == provider.OpCreate {
			example = "   vmc-git plan server create web-1 --type cx22 --image ubuntu-24.04 --location fsn1 --label role=web"
		}
		out = append(out, &cli.Command{
			Name:      strings.ReplaceAll(string(sp.op), "_", "-"),
			Aliases:   serverOpAliases[sp.op], // resources.go
			Usage:     sp.usage,
			ArgsUsage: "SERVER",
			Description: `A dry run: reads the server from the provider, records what it found and the
ledger head, and writes the plan file. Nothing changes until the plan is
approved and applied.

With --into FILE the action is appended to that plan instead, planned against
the state the plan's earlier actions leave; the plan is applied as one unit,
with a result per action in its one receipt.

EXAMPLE:
` + example + `
   vmc-git plan server label web-1 --label env=prod --into plans/web-1-create.json`,
			Flags: flags,
			Action: func(c *cli.Context) error {
				if !isPlan && !c.Bool("dry-run") {
					return fail(exitRefused, fmt.Errorf("servers change only through approved plans"),
						fmt.Sprintf("make the plan with: vmc-git server %s %s --dry-run  (or vmc-git plan server %s ...)", sp.op, c.Args().First(), sp.op))
				}
				if err := exactArgs(c, 1, "SERVER"); err != nil {
					return err
				}
				a := provider.Action{Op: sp.op, Server: c.Args().First()}
				if err := sp.build(c, &a); err != nil {
					return fail(exitUsage, err)
				}
				if err := a.Validate(); err != nil {
					return fail(exitUsage, err)
				}
				return makePlan(c, withPoweroffFirst(c, a))
			},
		})
	}
	return out
}
