package main

import (
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/provider/sandbox"
)

func sandboxCommand() *cli.Command {
	return &cli.Command{
		Name:  "sandbox",
		Usage: "the local Hetzner-Cloud-compatible API server",
		Description: `EXAMPLE:
   vmc-git sandbox serve --addr 127.0.0.1:8080 --state sandbox.json`,
		Subcommands: []*cli.Command{{
			Name:  "serve",
			Usage: "serve the Hetzner Cloud API (servers, actions, types, images, locations, ...) on loopback",
			Description: `Speaks the Hetzner Cloud API under /v1 with hcloud-go's own wire types, with a
bearer token, paginated lists, label selectors, the API's error codes and
actions that run for a while. State persists in --state across restarts.
Point any hcloud client at it:

EXAMPLE:
   vmc-git sandbox serve --addr 127.0.0.1:8080 --state sandbox.json --token-file token &
   HCLOUD_ENDPOINT=http://127.0.0.1:8080/v1 HCLOUD_TOKEN=$(cat token) hcloud server list`,
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "addr", Value: "127.0.0.1:0", Usage: "loopback address to listen on"},
				&cli.StringFlag{Name: "state", Usage: "state file (default: in memory)"},
				&cli.StringFlag{Name: "token-file", Usage: "file with the bearer token clients must send (default: $HCLOUD_TOKEN; none: no check)"},
				&cli.DurationFlag{Name: "action-duration", Value: 500 * time.Millisecond, Usage: "how long actions run"},
			},
			Action: func(c *cli.Context) error {
				token := os.Getenv("HCLOUD_TOKEN")
				if f := c.String("token-file"); f != "" {
					b, err := os.ReadFile(f)
					if err != nil {
						return err
					}
					token = strings.TrimSpace(string(b))
				}
				sb, err := sandbox.New(sandbox.Options{Token: token, StatePath: c.String("state"), ActionDuration: c.Duration("action-duration")})
				if err != nil {
					return err
				}
				url, err := sb.Start(c.String("addr"))
				if err != nil {
					return err
				}
				auth := "no token check"
				if token != "" {
					auth = "bearer token required"
				}
				outf(c, "sandbox serving the Hetzner Cloud API at %s (%s)\nexport HCLOUD_ENDPOINT=%s\n", url, auth, url)
				<-c.Context.Done()
				return sb.Close()
			},
		}},
	}
}
