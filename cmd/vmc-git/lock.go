package main

import (
	"errors"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/internal/lock"
)

func lockCommand() *cli.Command {
	return &cli.Command{
		Name:  "lock",
		Usage: "per-server locks ($XDG_CACHE_HOME/vm-cloud/locks)",
		Description: `EXAMPLE:
   vmc-git lock list
   vmc-git lock release web-1`,
		Subcommands: []*cli.Command{
			{
				Name:  "list",
				Usage: "list held locks, marking stale ones",
				Description: `EXAMPLE:
   vmc-git lock list --json`,
				Flags: []cli.Flag{jsonFlag},
				Action: func(c *cli.Context) error {
					l := lock.New("")
					ls, err := l.List()
					if err != nil {
						return err
					}
					type row struct {
						lock.Info
						Stale bool `json:"stale"`
					}
					rows := []row{}
					for _, i := range ls {
						rows = append(rows, row{i, l.Stale(i)})
					}
					if c.Bool("json") {
						return printJSON(c, rows)
					}
					if len(rows) == 0 {
						outf(c, "no locks in %s\n", l.Dir)
					}
					for _, r := range rows {
						st := ""
						if r.Stale {
							st = "  (stale)"
						}
						outf(c, "%-20s %s pid %d on %s, plan %s, since %s%s\n", r.Server, r.Holder, r.PID, r.Host, r.Plan, r.Time.UTC().Format(time.RFC3339), st)
					}
					return nil
				},
			},
			{
				Name:  "release",
				Usage: "remove a lock (yours or a stale one; --force for anyone's)",
				Description: `EXAMPLE:
   vmc-git lock release web-1
   vmc-git lock release web-1 --force`,
				ArgsUsage: "SERVER",
				Flags:     []cli.Flag{&cli.BoolFlag{Name: "force", Usage: "remove a live lock held by someone else"}, jsonFlag},
				Action: func(c *cli.Context) error {
					if err := exactArgs(c, 1, "SERVER"); err != nil {
						return err
					}
					if err := lock.New("").Release(c.Args().First(), c.Bool("force")); err != nil {
						var he *lock.HeldError
						if errors.As(err, &he) {
							return fail(exitRefused, err, "use --force to remove it anyway")
						}
						return fail(exitNotFound, err)
					}
					if c.Bool("json") {
						return printJSON(c, map[string]any{"released": c.Args().First()})
					}
					outf(c, "released %s\n", c.Args().First())
					return nil
				},
			},
		},
	}
}
