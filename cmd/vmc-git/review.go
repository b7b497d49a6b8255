package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/workspace"
)

func planReviewCommand() *cli.Command {
	return &cli.Command{
		Name:  "review",
		Usage: "review the plans a pull request adds (for CI)",
		Description: `Lists the plans added between --base and --head (git diff base...head), checks
each is canonical, new and for this ledger, renders its actions against the
provider's current state, its approvals (present and missing) and whether apply
would refuse it as stale. Changing or deleting a merged plan breaks a rule.
A change to policy/ is reported (POLICY CHANGE; "policy_change" in --json):
once merged, a bundle the trust state does not pin (keys/trust.json
policy_bundle) judges no plan until an admin runs vmc-git policy pin.
Markdown output fits GitHub's 65,536-character comment limit (details folded);
inside GitHub Actions the full text goes to $GITHUB_STEP_SUMMARY, counts to
$GITHUB_OUTPUT, and each broken rule becomes an ::error annotation.
--comment posts the Markdown as one pull-request comment, or edits the one
posted before (found by a hidden marker), through the GitHub REST API with
$GITHUB_TOKEN (needs "pull-requests: write"); the repository and pull
request come from $GITHUB_REPOSITORY and $GITHUB_EVENT_PATH unless given.
Exit 4 if the pull request breaks a rule.

EXAMPLE:
   vmc-git plan review --base origin/main --markdown > review.md
   vmc-git plan review --base origin/main --comment`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "base", Required: true, Usage: "the target branch, e.g. origin/main"},
			&cli.StringFlag{Name: "head", Value: "HEAD", Usage: "the pull request's head"},
			&cli.BoolFlag{Name: "markdown", Usage: "GitHub-flavoured markdown"},
			jsonFlag,
		}, commentFlags()...),
		Action: func(c *cli.Context) error {
			ws, err := open(c)
			if err != nil {
				return err
			}
			defer ws.Close()
			rv, err := ws.Review(context.Background(), c.String("base"), c.String("head"))
			if err != nil {
				return err
			}
			md, folded := rv.Markdown(commentLimit)
			if ws.OnSandbox() {
				// Under the heading: the comment starts with the heading.
				note := "\n> **" + workspace.SandboxMark + "** this ledger's provider is the embedded sandbox: these are not real servers.\n"
				if i := strings.Index(md, "\n"); strings.HasPrefix(md, "## ") && i >= 0 {
					md = md[:i+1] + note + md[i+1:]
				} else {
					md = note[1:] + "\n" + md
				}
			}
			if err := githubOutputs(rv, md, folded); err != nil {
				return err
			}
			if c.Bool("comment") {
				if err := postComment(c, md); err != nil {
					return err
				}
			}
			switch {
			case c.Bool("json"):
				printJSON(c, map[string]any{"ok": rv.OK(), "plans": rv.Plans, "violations": nonNil(rv.Violations), "policy_change": rv.PolicyChange, "sandbox": ws.OnSandbox()})
			case c.Bool("markdown"):
				outf(c, "%s", md)
			default:
				if ws.OnSandbox() {
					outf(c, "%s this ledger's provider is the embedded sandbox: these are not real servers\n", workspace.SandboxMark)
				}
				for _, v := range rv.Violations {
					outf(c, "BROKEN RULE %s: %s\n", v.File, v.Message)
				}
				if pc := rv.PolicyChange; pc != nil {
					outf(c, "POLICY CHANGE: %s\n", pc.Message)
					if pc.Hint != "" {
						outf(c, "  %s\n", pc.Hint)
					}
				}
				for _, p := range rv.Plans {
					outf(c, "%s", p.Plan.Text(p.Bytes))
					outf(c, "  approvals: %d of %d%s\n", len(p.Approvals.Valid), p.Approvals.Required, listIf(p.Approvals.Valid))
					for _, s := range p.Stale {
						outf(c, "  STALE: %s\n", s)
					}
					for _, s := range p.Refused {
						outf(c, "  PROVIDER WOULD REFUSE: %s\n", s)
					}
					printReviewPolicy(c, p.Policy)
					if p.NowError != "" {
						outf(c, "  current state not checked: %s\n", p.NowError)
					}
				}
				if len(rv.Plans) == 0 && rv.OK() && rv.PolicyChange == nil {
					outf(c, "no plans added\n")
				}
			}
			if !rv.OK() {
				return fail(exitRefused, fmt.Errorf("the pull request breaks %d rule(s)", len(rv.Violations)))
			}
			return nil
		},
	}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func listIf(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return " (" + strings.Join(s, ", ") + ")"
}

// githubOutputs writes the job summary, step outputs and annotations when
// running inside GitHub Actions.
func githubOutputs(rv *plans.Review, md string, folded bool) error {
	if os.Getenv("GITHUB_ACTIONS") != "true" && os.Getenv("GITHUB_STEP_SUMMARY") == "" {
		return nil
	}
	if f := os.Getenv("GITHUB_STEP_SUMMARY"); f != "" {
		full, _ := rv.Markdown(1 << 30)
		if err := appendFile(f, full); err != nil {
			return err
		}
	}
	if f := os.Getenv("GITHUB_OUTPUT"); f != "" {
		stale, missing, refused := 0, 0, 0
		for _, p := range rv.Plans {
			if len(p.Stale) > 0 {
				stale++
			}
			if len(p.Refused) > 0 {
				refused++
			}
			missing += p.Approvals.Missing
		}
		out := fmt.Sprintf("ok=%t\nplans=%d\nstale=%d\nrefused=%d\nmissing_approvals=%d\nfolded=%t\npolicy_change=%t\n", rv.OK(), len(rv.Plans), stale, refused, missing, folded, rv.PolicyChange != nil)
		if err := appendFile(f, out); err != nil {
			return err
		}
	}
	for _, v := range rv.Violations {
		fmt.Printf("::error file=%s::%s\n", v.File, annotationEscape(v.Message))
	}
	if pc := rv.PolicyChange; pc != nil && !pc.MatchesPin {
		for i, f := range pc.Files {
			if i == 10 { // the message names the rest
				break
			}
			fmt.Printf("::warning file=%s::%s\n", f.File, annotationEscape(pc.Message+" ("+pc.Hint+")"))
		}
	}
	for _, p := range rv.Plans {
		for _, s := range p.Stale {
			fmt.Printf("::warning file=%s::%s\n", p.File, annotationEscape(s))
		}
		for _, s := range p.Refused {
			fmt.Printf("::error file=%s::the provider would refuse %s\n", p.File, annotationEscape(s))
		}
	}
	return nil
}

func annotationEscape(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func appendFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(s); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
