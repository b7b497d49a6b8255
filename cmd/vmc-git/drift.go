package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/internal/github"
	"github.com/vmc-git/vmc-git/workspace"
)

func driftCommand() *cli.Command {
	return &cli.Command{
		Name:  "drift",
		Usage: "compare the state the ledger expects (replayed from receipts) with the provider's, and plan the way back",
		Description: `Compares every kind the ledger manages (servers, firewalls, networks, volumes,
SSH keys, primary and floating IPs) and reports resources missing (deleted behind
vmc-git's back), unmanaged (not created by this ledger) and changed (type, image,
status, labels, protection, firewall rules, network membership, ...), each with
its kind, name, field, expected and actual value.

--attest appends a signed attestation receipt (an in-toto Statement v1) with the
findings. --plan-fix writes the plan that brings the provider back to the ledger
(plans/<id>.json, the same format as "vmc-git plan": review, approve and apply it
as any plan). --adopt instead appends a manual receipt that takes the provider's
state as the ledger's for every resource with a finding. --report-issue opens or
updates one GitHub issue (label vmc-drift) while there is drift and closes it,
with a comment, once there is none ($GITHUB_TOKEN, $GITHUB_REPOSITORY,
$GITHUB_API_URL; the token is never printed).

Exit code 6 when there is drift, also with --plan-fix and --adopt (the check
found it); other codes as for every command (2 is a usage error).

EXAMPLE:
   vmc-git drift
   vmc-git drift --plan-fix --kid alice        # then: git add plans; open a pull request
   vmc-git drift --adopt --key ~/.ssh/vmc_alice
   vmc-git drift --attest --push --key ~/.ssh/vmc_ci --report-issue   # CI`,
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "attest", Usage: "append an attestation receipt with the report"},
			&cli.BoolFlag{Name: "plan-fix", Usage: "write the plan that brings the provider back to the ledger"},
			&cli.StringFlag{Name: "id", Usage: "the fix plan's id (default " + workspace.DriftFixPrefix + "<time>)"},
			&cli.StringFlag{Name: "out", Usage: "the fix plan's file (default plans/<id>.json in the work tree)"},
			&cli.BoolFlag{Name: "adopt", Usage: "append a manual receipt adopting the provider's state of every resource with a finding"},
			&cli.BoolFlag{Name: "report-issue", Usage: "open, update or close the GitHub drift issue ($GITHUB_TOKEN, $GITHUB_REPOSITORY)"},
			&cli.StringFlag{Name: "github-repo", Usage: "the GitHub repository, owner/name (default $GITHUB_REPOSITORY)"},
			&cli.StringFlag{Name: "issue-author", Value: github.DefaultAuthor, Usage: "the login whose drift issue is updated (the token's user)"},
			keyFlag, kidFlag, jsonFlag,
		}, pushFlags()...),
		Action: func(c *cli.Context) error {
			if c.Bool("push") && !c.Bool("attest") && !c.Bool("adopt") {
				return usagef("--push publishes the attestation or adopt receipt: give --attest or --adopt too")
			}
			ws, err := open(c)
			if err != nil {
				return err
			}
			defer ws.Close()
			var id *workspace.Identity
			if c.Bool("attest") || c.Bool("adopt") {
				i, err := loadSigner(c, ws)
				if err != nil {
					return err
				}
				id = &i
			}
			rep, err := ws.Drift(c.Context, workspace.DriftRequest{Attest: c.Bool("attest"), PlanFix: c.Bool("plan-fix"),
				PlanID: c.String("id"), PlanOut: c.String("out"), Adopt: c.Bool("adopt"), Push: pushOf(c)}, id)
			if err != nil {
				return err
			}
			var issue *workspace.DriftIssue
			if c.Bool("report-issue") {
				repo := c.String("github-repo")
				if repo == "" {
					repo = os.Getenv("GITHUB_REPOSITORY")
				}
				issue, err = workspace.ReportDriftIssue(c.Context, workspace.DriftIssueRequest{API: os.Getenv("GITHUB_API_URL"),
					Token: os.Getenv("GITHUB_TOKEN"), Author: c.String("issue-author"), Repo: repo, RunURL: runURL(), Report: rep})
				if err != nil {
					return err
				}
			}
			if c.Bool("json") {
				out := struct {
					*workspace.DriftReport
					Issue *workspace.DriftIssue `json:"issue,omitempty"`
				}{rep, issue}
				if err := printJSON(c, out); err != nil {
					return err
				}
			} else {
				printDrift(c, rep, issue)
			}
			if rep.Drift {
				return fail(exitDrift, fmt.Errorf("drift: %d finding(s)", len(rep.Findings)))
			}
			return nil
		},
	}
}

// printDrift prints a drift report for people.
func printDrift(c *cli.Context, rep *workspace.DriftReport, issue *workspace.DriftIssue) {
	outf(c, "ledger receipt %d: %d resources expected, %d at the provider", rep.LedgerSeq, rep.Expected, rep.Actual)
	s := rep.Kinds["server"]
	outf(c, " (%d servers expected, %d at the provider)\n", s.Expected, s.Actual)
	for _, f := range rep.Findings {
		switch {
		case f.Field != "":
			outf(c, "  %-9s  %s  %s: %s -> %s\n", f.Kind, f.Resource, f.Field, orNone(f.Expected), orNone(f.Actual))
		default:
			outf(c, "  %-9s  %s  %s%s\n", f.Kind, f.Resource, f.Expected, f.Actual)
		}
	}
	if !rep.Drift {
		outf(c, "no drift\n")
	}
	if a := rep.Attestation; a != nil {
		outf(c, "attestation receipt %d\n  blake3 %s\n  commit %s\n", a.Seq, a.Blake3, a.Commit)
	}
	if fx := rep.Fix; fx != nil {
		if fx.Plan != nil {
			outf(c, "fix plan %s: %d action(s): %s\n  wrote %s\n  next: commit it in a pull request; approvers run: vmc-git approve %s\n",
				fx.Plan.ID, fx.Plan.Actions, fx.Plan.Summary, fx.Plan.Path, fx.Plan.Path)
		}
		for _, d := range fx.Deferred {
			outf(c, "  not planned: %s %s: %s\n", d.Resource, d.Field, d.Reason)
		}
	}
	if a := rep.Adopted; a != nil {
		outf(c, "adopted in manual receipt %d\n  blake3 %s\n  commit %s\n", a.Seq, a.Blake3, a.Commit)
	}
	if issue != nil {
		outf(c, "GitHub issue %s#%d %s: %s\n", issue.Repo, issue.Number, issue.Action, issue.URL)
	}
}

// runURL is the GitHub Actions run's page, or "".
func runURL() string {
	server, repo, run := os.Getenv("GITHUB_SERVER_URL"), os.Getenv("GITHUB_REPOSITORY"), os.Getenv("GITHUB_RUN_ID")
	if owner, name, ok := strings.Cut(repo, "/"); !ok || owner == "" || name == "" || strings.ContainsAny(name, "/") {
		return "" // not owner/name (act sets it from a local remote's path)
	}
	if server == "" || run == "" {
		return ""
	}
	return server + "/" + repo + "/actions/runs/" + run
}
