package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/provider"
	"github.com/vmc-git/vmc-git/workspace"
)

func planCommand() *cli.Command {
	return &cli.Command{
		Name:  "plan",
		Usage: "make, show and check plans (dry runs)",
		Description: `EXAMPLE:
   vmc-git plan server create web-1 --type cx22 --image ubuntu-24.04 --location fsn1
   vmc-git plan show plans/web-1-create-20261126090000.json --markdown
   vmc-git plan status plans/web-1-create-20261126090000.json`,
		Subcommands: append([]*cli.Command{
			{Name: "server", Usage: "plan an operation on a server", Subcommands: serverOpCommands(true),
				Description: "EXAMPLE:\n   vmc-git plan server poweroff web-1\n   vmc-git plan server resize web-1 --type cx32 --id web-1-bigger"},
			planShowCommand(),
			planStatusCommand(),
			planReviewCommand(),
			planWithdrawCommand(),
		}, resourcePlanCommands()...), // resources.go
	}
}

func serverCommand() *cli.Command {
	return &cli.Command{
		Name:  "server",
		Usage: "operations on servers: only as plans (--dry-run)",
		Description: `Servers change only through approved plans. "vmc-git server OP ... --dry-run"
is the same as "vmc-git plan server OP ...".

EXAMPLE:
   vmc-git server poweroff web-1 --dry-run`,
		Subcommands: serverOpCommands(false),
	}
}

// makePlan runs the dry run and writes the plan file.
func makePlan(c *cli.Context, actions []provider.Action) error {
	if into := c.String("into"); into != "" {
		return extendPlan(c, into, actions)
	}
	req := workspace.PlanRequest{ID: c.String("id"), Summary: c.String("summary"), CreatedBy: c.String("kid"), Out: c.String("out"), Actions: actions}
	if err := workspace.ValidatePlanRequest(req); err != nil {
		return err
	}
	ws, err := open(c)
	if err != nil {
		return err
	}
	defer ws.Close()
	m, err := ws.MakePlan(context.Background(), req)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c, map[string]any{"id": m.Plan.ID, "path": m.Path, "blake3": m.Blake3, "plan": m.Plan})
	}
	outf(c, "%s", m.Plan.Text(m.Bytes))
	outf(c, "wrote %s\nnext: commit it in a pull request; approvers run: vmc-git approve %s\n", m.Path, m.Path)
	return nil
}

func planShowCommand() *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "render a plan for humans (--markdown for pull requests) or scripts (--json)",
		ArgsUsage: "FILE",
		Description: `EXAMPLE:
   vmc-git plan show plans/web-1-create-20261126090000.json --markdown`,
		Flags: []cli.Flag{&cli.BoolFlag{Name: "markdown", Usage: "GitHub-flavoured markdown"}, jsonFlag},
		Action: func(c *cli.Context) error {
			_, p, b, err := planArg(c)
			if err != nil {
				return err
			}
			switch {
			case c.Bool("json"):
				return printJSON(c, map[string]any{"id": p.ID, "blake3": digest.Blake3(b), "sha256": digest.SHA256(b), "plan": p})
			case c.Bool("markdown"):
				outf(c, "%s", p.Markdown(b, nil, nil, nil))
			default:
				outf(c, "%s", p.Text(b))
			}
			return nil
		},
	}
}

func planStatusCommand() *cli.Command {
	return &cli.Command{
		Name:      "status",
		Usage:     "list a plan's approvals and what is missing, the policy decision at apply, and whether it is applied, refused or withdrawn",
		ArgsUsage: "FILE",
		Description: `EXAMPLE:
   vmc-git plan status plans/web-1-create-20261126090000.json`,
		Flags: []cli.Flag{jsonFlag},
		Action: func(c *cli.Context) error {
			file, p, b, err := planArg(c)
			if err != nil {
				return err
			}
			ws, err := open(c)
			if err != nil {
				return err
			}
			defer ws.Close()
			st, pol, err := ws.PlanFileState(c.Context, p, b, file)
			if err != nil {
				return err
			}
			printPlanStatus(c, st, pol)
			return nil
		},
	}
}

func approveCommand() *cli.Command {
	return &cli.Command{
		Name:      "approve",
		Usage:     "sign a plan as an approver (plans/<id>.approvals/<kid>.sig), or override policy rules as an admin",
		ArgsUsage: "FILE",
		Description: `Signs the plan's exact bytes (SSHSIG, namespace vmc-plan) with your key. Only
keys trusted as approver at the ledger head count; read the plan first.

EXAMPLE:
   vmc-git plan show plans/web-1-create-20261126090000.json
   vmc-git approve plans/web-1-create-20261126090000.json --key ~/.ssh/vmc_bob

With --override RULE (an admin key), it signs instead an override of those
deny rules of the policy for this plan (SSHSIG, namespace vmc-override):
plans/<id>.overrides/<kid>.json. Commit it with the plan before the plan is
merged; apply then lets the plan through and records the override.
   vmc-git approve --override ssh-from-anywhere --reason "bastion" plans/bastion-1-create.json --key ~/.ssh/vmc_alice`,
		Flags: []cli.Flag{keyFlag, kidFlag, overrideFlag, reasonFlag, jsonFlag},
		Action: func(c *cli.Context) error {
			file, p, b, err := planArg(c)
			if err != nil {
				return err
			}
			ws, _ := open(c)
			if ws != nil {
				defer ws.Close()
			}
			id, err := loadSigner(c, ws)
			if err != nil {
				return err
			}
			if c.IsSet("override") {
				return approveOverride(c, ws, file, p, b, id)
			}
			if c.IsSet("reason") {
				return usagef("approve: --reason goes with --override")
			}
			a, err := workspace.Approve(ws, file, p, b, id)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return printJSON(c, map[string]string{"plan": a.Plan, "kid": a.KID, "approval": a.Path})
			}
			outf(c, "approved plan %s as %s: %s\n", a.Plan, a.KID, a.Path)
			return nil
		},
	}
}

// extendPlan appends actions to the plan file into.
func extendPlan(c *cli.Context, into string, actions []provider.Action) error {
	if c.String("id") != "" || c.String("out") != "" {
		return usagef("--into keeps the plan's id and file: no --id or --out with it")
	}
	ws, err := open(c)
	if err != nil {
		return err
	}
	defer ws.Close()
	m, err := ws.ExtendPlan(context.Background(), into, c.String("summary"), actions)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c, map[string]any{"id": m.Plan.ID, "path": m.Path, "blake3": m.Blake3, "plan": m.Plan})
	}
	outf(c, "%s", m.Plan.Text(m.Bytes))
	outf(c, "extended %s: %d actions\nnext: commit it in a pull request; approvers run: vmc-git approve %s\n", m.Path, len(m.Plan.Actions), m.Path)
	return nil
}
