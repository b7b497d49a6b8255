package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/policy"
	"github.com/vmc-git/vmc-git/workspace"
)

func policyCommand() *cli.Command {
	return &cli.Command{
		Name:  "policy",
		Usage: "check the provider's resources (or a plan's end state) against the Rego policies in policy/",
		Description: `Policies are Rego v1 files in policy/ on the main branch (init writes a default
set); see "vmc-git policy check --help". Apply judges plans only with the bundle the
trust state pins (an admin's vmc-git policy pin): see "vmc-git policy pin --help".

EXAMPLE:
   vmc-git policy check --json
   vmc-git policy status
   vmc-git policy pin --key ~/.ssh/vmc_alice`,
		Subcommands: append([]*cli.Command{{
			Name:  "check",
			Usage: "evaluate policy/*.rego from the main branch: deny fails, warn reports",
			Description: `Evaluates the policies committed on the main branch (not the work tree) over
the provider's servers, firewalls, networks, volumes and IPs, or with --plan over the
state that plan would leave. --attest appends a signed attestation receipt (an in-toto
Statement v1) with the policy's blake3, the input's digests and the findings; nothing is
written when a policy does not compile or evaluation fails.

Exit code 4 when a deny rule fires (other codes as for every command).

EXAMPLE:
   vmc-git policy check
   vmc-git policy check --plan plans/web-2-create.json --json
   vmc-git policy check --attest --key ~/.ssh/vmc_ci`,
			Flags: append([]cli.Flag{
				&cli.StringFlag{Name: "plan", Usage: "evaluate the state this plan file would leave"},
				&cli.BoolFlag{Name: "attest", Usage: "append an attestation receipt with the result"},
				&cli.DurationFlag{Name: "timeout", Value: policy.DefaultTimeout, Usage: "time limit of the evaluation"},
				keyFlag, kidFlag, jsonFlag,
			}, pushFlags()...),
			Action: func(c *cli.Context) error {
				ws, err := open(c)
				if err != nil {
					return err
				}
				defer ws.Close()
				id, err := attestSigner(c, ws)
				if err != nil {
					return err
				}
				rep, err := ws.PolicyCheck(c.Context, workspace.PolicyRequest{PlanFile: c.String("plan"), Attest: c.Bool("attest"), Push: pushOf(c),
					Limits: policy.Limits{Timeout: c.Duration("timeout")}}, id)
				if err != nil {
					return err
				}
				if c.Bool("json") {
					if err := printJSON(c, rep); err != nil {
						return err
					}
				} else {
					printPolicyReport(c, rep)
				}
				if !rep.Pass {
					return fail(exitRefused, fmt.Errorf("policy check: %d deny finding(s)", len(rep.Deny)))
				}
				return nil
			},
		}}, policyPinCommands()...),
	}
}

func printPolicyReport(c *cli.Context, rep *workspace.PolicyReport) {
	what := "provider state"
	if rep.Plan != "" {
		what = "end state of plan " + rep.Plan
	}
	outf(c, "policy %s (%d files) over %s: %d resources\n", rep.Policy, len(rep.Files), what, rep.Resources)
	if !rep.Pinned {
		outf(c, "  not the pinned bundle (%s): apply does not judge plans with it (vmc-git policy status)\n", orNone(rep.Pin))
	}
	for _, f := range rep.Deny {
		outf(c, "  DENY  %s  [%s]  %s\n", orNone(f.Resource), f.Rule, f.Reason)
	}
	for _, f := range rep.Warn {
		outf(c, "  WARN  %s  [%s]  %s\n", orNone(f.Resource), f.Rule, f.Reason)
	}
	if rep.Pass {
		outf(c, "pass: %d deny, %d warn\n", len(rep.Deny), len(rep.Warn))
	} else {
		outf(c, "FAIL: %d deny, %d warn\n", len(rep.Deny), len(rep.Warn))
	}
	if a := rep.Attestation; a != nil {
		outf(c, "attestation receipt %d\n  blake3 %s\n  commit %s\n", a.Seq, a.Blake3, a.Commit)
	}
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printReviewPolicy prints a plan review's policy outcome (nil: none).
func printReviewPolicy(c *cli.Context, pol *plans.PolicyOutcome) {
	if pol == nil {
		return
	}
	if pol.Error != "" {
		outf(c, "  policy not evaluated: %s\n", pol.Error)
	}
	for _, f := range pol.Deny {
		outf(c, "  POLICY DENY: %s\n", f)
	}
	for _, f := range pol.Warn {
		outf(c, "  policy warn: %s\n", f)
	}
	if pol.AtApply != "" {
		outf(c, "  policy at apply: %s\n", pol.AtApply)
	}
}

// attestSigner is the signer of an --attest receipt (nil without --attest),
// for policy check and drift; --push without --attest is a usage error.
func attestSigner(c *cli.Context, ws *workspace.Workspace) (*workspace.Identity, error) {
	if !c.Bool("attest") {
		if c.Bool("push") {
			return nil, usagef("--push publishes the attestation: give --attest too")
		}
		return nil, nil
	}
	id, err := loadSigner(c, ws)
	if err != nil {
		return nil, err
	}
	return &id, nil
}
