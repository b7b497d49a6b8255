package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/mcpserver"
)

func mcpCommand() *cli.Command {
	return &cli.Command{
		Name:  "mcp",
		Usage: "serve vmc-git to AI agents over the Model Context Protocol",
		Description: `EXAMPLE:
   vmc-git -C infra mcp serve --key ~/.ssh/vmc_agent`,
		Subcommands: []*cli.Command{{
			Name:  "serve",
			Usage: "an MCP server (stdio, or --http ADDR): agents plan and apply, only a human signature approves",
			Description: `Tools: plan_create, plan_show, plan_status, apply, ledger_head, receipt_get, log,
verify_chain, servers_list; resources vmc://receipt/<seq>, vmc://plan/<id>.
No tool approves, changes trust, breaks a lock, withdraws or forces. The server holds one key:
the applier key given with --key (refused if it is trusted as approver or admin).
A human approves with: vmc-git approve plans/<id>.json

apply with push: true is vmc-git apply --pending --push for one plan: it fetches
--remote, applies a plan merged on the remote's main branch, and pushes the
receipt through the remote's pre-receive hook (plan_create push: true pushes the
plan's branch there).

apply runs apply's rollback checks first, as vmc-git apply does: with --checkpoint
FILE or --witness-check, a ledger shorter than, or forked from, what is cosigned
is refused before any provider call.

With --http the streamable HTTP transport listens on a loopback address (others
need --allow-remote), at /mcp, and every request needs the bearer token read from
--token-file or $VMC_MCP_TOKEN.

EXAMPLE:
   vmc-git -C infra mcp serve --key ~/.ssh/vmc_agent
   VMC_MCP_TOKEN=$(cat token) vmc-git -C infra mcp serve --key ~/.ssh/vmc_agent --http 127.0.0.1:8765`,
			Flags: append([]cli.Flag{keyFlag, kidFlag,
				&cli.StringFlag{Name: "http", Usage: "serve streamable HTTP on HOST:PORT instead of stdio"},
				&cli.StringFlag{Name: "token-file", Usage: "the bearer token for --http (else $VMC_MCP_TOKEN)"},
				&cli.BoolFlag{Name: "allow-remote", Usage: "let --http listen on a non-loopback address"},
				&cli.DurationFlag{Name: "lock-wait", Value: 30 * time.Second, Usage: "apply waits this long for a held lock"},
				&cli.StringFlag{Name: "remote", Value: "origin", Usage: "the remote for plan_create and apply with push: true"},
				&cli.DurationFlag{Name: "remote-lock-stale", Value: 10 * time.Minute, Usage: "apply with push: a remote lock older than this is a dead run's (as apply --remote-lock-stale)"},
			}, applyCheckpointFlags...),
			Action: mcpServe,
		}},
	}
}

func mcpServe(c *cli.Context) error {
	o := mcpserver.Options{Dir: c.String("repo"), Branch: c.String("branch"), LockWait: c.Duration("lock-wait"), Version: Version,
		Remote: c.String("remote"), RemoteLockStale: c.Duration("remote-lock-stale")}
	o.Checkpoints, _ = applyCheckpoints(c) // what the witnesses said goes to the agent, never to stdout
	if c.String("key") != "" || os.Getenv(keys.EnvKeyPath) != "" || os.Getenv(keys.EnvKeyPEM) != "" {
		ws, err := open(c)
		if err != nil {
			return err
		}
		id, err := loadSigner(c, ws)
		ws.Close()
		if err != nil {
			return err
		}
		o.Applier = &id
	}
	ms, err := mcpserver.New(o)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	addr := c.String("http")
	if addr == "" {
		if c.IsSet("token-file") || c.Bool("allow-remote") {
			return usagef("--token-file and --allow-remote go with --http")
		}
		return ms.Run(ctx, &mcp.StdioTransport{})
	}
	if err := mcpserver.CheckListenAddr(addr, c.Bool("allow-remote")); err != nil {
		return fail(exitUsage, err)
	}
	tok, err := mcpserver.ReadToken(c.String("token-file"), os.Getenv)
	if err != nil {
		return fail(exitUsage, err)
	}
	return mcpserver.ServeHTTP(ctx, ms, addr, tok, c.Bool("allow-remote"), func(a net.Addr) {
		fmt.Fprintf(c.App.ErrWriter, "vmc-git: mcp: listening on http://%s%s\n", a, mcpserver.Path)
	})
}
