package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/apply"
	"github.com/vmc-git/vmc-git/workspace"
)

// faultFromEnv makes the process exit at the step named by VMC_FAULT (tests).
func faultFromEnv() func(string) {
	want := os.Getenv("VMC_FAULT")
	return func(step string) {
		if want != "" && want == step {
			fmt.Fprintf(os.Stderr, "vmc-git: fault injected at %s: exiting\n", step)
			os.Exit(99)
		}
	}
}

func applyCommand() *cli.Command {
	return &cli.Command{
		Name:  "apply",
		Usage: "apply approved plans through the provider and write their receipts",
		Description: `--plan FILE applies one plan (its approvals next to it, in FILE's
<id>.approvals/). --pending applies every plan committed on the main branch that
has no receipt yet, oldest first, after finishing any apply a crash interrupted.
Refuses unapproved, stale, replayed or edited plans. With --pending, a merged
plan that can never apply (stale, invalid, or unapproved past
--unapproved-deadline) is recorded once as an apply receipt with status
refused and the reason, without any provider call, and never tried again;
the other plans go on. Takes per-server locks;
--force breaks a held lock and the receipt records it.

EXAMPLE:
   vmc-git apply --pending --key $VMC_SIGNING_KEY
   vmc-git apply --plan plans/web-1-create-20261126090000.json`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "plan", Usage: "the plan file to apply"},
			&cli.BoolFlag{Name: "pending", Usage: "apply every merged plan without a receipt"},
			&cli.BoolFlag{Name: "force", Usage: "break locks held by others (recorded in the receipt)"},
			&cli.DurationFlag{Name: "lock-wait", Value: 30 * time.Second, Usage: "wait this long for a held lock"},
			&cli.BoolFlag{Name: "push", Usage: "fetch first, take locks on the remote, and push each receipt (compare-and-swap)"},
			&cli.StringFlag{Name: "remote", Value: "origin", Usage: "the remote for --push"},
			&cli.DurationFlag{Name: "remote-lock-stale", Value: 10 * time.Minute, Usage: "with --push: a remote lock older than this is a dead run's (live runs refresh theirs every third of it; give every applier the same value)"},
			&cli.DurationFlag{Name: "unapproved-deadline", Value: 7 * 24 * time.Hour, Usage: "with --pending: a merged plan still unapproved this long after its merge is recorded as refused (0: never)"},
			keyFlag, kidFlag, jsonFlag,
		}, applyCheckpointFlags...),
		Action: func(c *cli.Context) error {
			if c.Bool("pending") == (c.String("plan") != "") {
				return usagef("apply: give exactly one of --plan FILE or --pending")
			}
			ws, err := open(c)
			if err != nil {
				return err
			}
			defer ws.Close()
			id, err := loadSigner(c, ws)
			if err != nil {
				return err
			}
			req := workspace.ApplyRequest{Force: c.Bool("force"), LockWait: c.Duration("lock-wait"), Fault: faultFromEnv(),
				Log:  func(f string, a ...any) { fmt.Fprintf(c.App.ErrWriter, "vmc-git: "+f+"\n", a...) },
				Push: c.Bool("push"), Remote: c.String("remote"), RemoteLockAge: c.Duration("remote-lock-stale"),
				UnapprovedDeadline: c.Duration("unapproved-deadline")}
			req.Checkpoints, req.Witnessed = applyCheckpoints(c)
			ctx := context.Background()
			var outs []*apply.Outcome
			var errs []error
			if c.Bool("pending") {
				if outs, errs, err = ws.ApplyPending(ctx, id, req); err != nil {
					return err
				}
			} else {
				o, perr, err := ws.ApplyPlan(ctx, id, req, c.String("plan"))
				switch {
				case err != nil:
					return err
				case perr != nil:
					errs = append(errs, perr)
				default:
					outs = append(outs, o)
				}
			}
			if c.Bool("json") {
				es := []string{}
				for _, e := range errs {
					es = append(es, e.Error())
				}
				printJSON(c, map[string]any{"applied": nonNilOutcomes(outs), "errors": es})
			} else {
				for _, o := range outs {
					rec := ""
					if o.Recovered {
						rec = " (recovered)"
					}
					mark := ""
					if ws.OnSandbox() {
						mark = " " + workspace.SandboxMark
					}
					outf(c, "applied plan %s: %s%s -> receipt %d (commit %s)%s\n", o.Plan, o.Status, rec, o.Seq, o.Commit[:12], mark)
				}
				if len(outs) == 0 && len(errs) == 0 {
					outf(c, "nothing to apply\n")
				}
			}
			if len(errs) > 0 {
				return applyError(errs)
			}
			for _, o := range outs {
				if err := workspace.OutcomeError(o); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

func nonNilOutcomes(o []*apply.Outcome) []*apply.Outcome {
	if o == nil {
		return []*apply.Outcome{}
	}
	return o
}

// applyError is the plans' refusals with their exit code and hint: the one
// mapping (workspace.ApplyError) the MCP server uses too.
func applyError(errs []error) error { return workspace.ApplyError(errs, "") }
