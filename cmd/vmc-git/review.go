package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/apply"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/provider"
)

func planReviewCommand() *cli.Command {
	return &cli.Command{
		Name:  "review",
		Usage: "review the plans a pull request adds (for CI)",
		Description: `Lists the plans added between --base and --head (git diff base...head), checks
each is canonical, new and for this ledger, renders its actions against the
provider's current state, its approvals (present and missing) and whether apply
would refuse it as stale. Changing or deleting a merged plan breaks a rule.
Markdown output fits GitHub's 65,536-character comment limit (details folded);
inside GitHub Actions the full text goes to $GITHUB_STEP_SUMMARY, counts to
$GITHUB_OUTPUT, and each broken rule becomes an ::error annotation.
Exit 4 if the pull request breaks a rule.

EXAMPLE:
   vmc-git plan review --base origin/main --markdown > review.md`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "base", Required: true, Usage: "the target branch, e.g. origin/main"},
			&cli.StringFlag{Name: "head", Value: "HEAD", Usage: "the pull request's head"},
			&cli.BoolFlag{Name: "markdown", Usage: "GitHub-flavoured markdown"},
			jsonFlag,
		},
		Action: func(c *cli.Context) error {
			rc, err := openRepo(c)
			if err != nil {
				return err
			}
			if rc.root == "" {
				return usagef("plan review needs a work tree")
			}
			rv, err := reviewPlans(rc, c.String("base"), c.String("head"))
			if err != nil {
				return err
			}
			md, folded := rv.Markdown(plans.MaxComment)
			if err := githubOutputs(rv, md, folded); err != nil {
				return err
			}
			switch {
			case c.Bool("json"):
				printJSON(c, map[string]any{"ok": rv.OK(), "plans": rv.Plans, "violations": nonNil(rv.Violations)})
			case c.Bool("markdown"):
				outf(c, "%s", md)
			default:
				for _, v := range rv.Violations {
					outf(c, "BROKEN RULE %s: %s\n", v.File, v.Message)
				}
				for _, p := range rv.Plans {
					outf(c, "%s", p.Plan.Text(p.Bytes))
					outf(c, "  approvals: %d of %d%s\n", len(p.Approvals.Valid), p.Approvals.Required, listIf(p.Approvals.Valid))
					for _, s := range p.Stale {
						outf(c, "  STALE: %s\n", s)
					}
					if p.NowError != "" {
						outf(c, "  current state not checked: %s\n", p.NowError)
					}
				}
				if len(rv.Plans) == 0 && rv.OK() {
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

func reviewPlans(rc *repoCtx, base, head string) (*plans.Review, error) {
	out, err := gitCmd(rc.root, "diff", "--name-status", "--no-renames", base+"..."+head, "--", plans.Dir+"/")
	if err != nil {
		return nil, err
	}
	rv := &plans.Review{}
	bad := func(file, format string, a ...any) {
		rv.Violations = append(rv.Violations, plans.Violation{File: file, Message: fmt.Sprintf(format, a...)})
	}
	tip, tipErr := rc.ledger.Tip()
	var added []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		status, file, ok := strings.Cut(line, "\t")
		if !ok {
			continue
		}
		rest := strings.TrimPrefix(file, plans.Dir+"/")
		isPlan := !strings.Contains(rest, "/") && strings.HasSuffix(rest, ".json")
		isApproval := strings.Contains(rest, plans.ApprovalsSuffix+"/") && strings.HasSuffix(rest, ".sig")
		switch {
		case !isPlan && !isApproval:
			bad(file, "plans/ holds only <id>.json files and <id>.approvals/<kid>.sig approvals")
		case status != "A" && isPlan:
			bad(file, "a merged plan is immutable (status %s): make a new plan instead", status)
		case status != "A":
			bad(file, "approvals are add-only (status %s)", status)
		case isPlan:
			added = append(added, file)
		}
	}
	var prov provider.Provider
	var provErr error
	if len(added) > 0 {
		var closeProv func()
		prov, closeProv, provErr = openProvider(rc)
		if provErr == nil {
			defer closeProv()
		}
	}
	for _, file := range added {
		b, err := gitCmd(rc.root, "show", head+":"+file)
		if err != nil {
			return nil, err
		}
		p, err := plans.Parse([]byte(b))
		if err != nil {
			bad(file, "%v", err)
			continue
		}
		if want := plans.Path(p.ID); want != file {
			bad(file, "plan id %s must match the file name (%s)", p.ID, want)
			continue
		}
		if rc.cfg != nil && p.Ledger != rc.cfg.Ledger {
			bad(file, "plan for ledger %s, this repository is %s", p.Ledger, rc.cfg.Ledger)
			continue
		}
		pr := plans.PlanReview{File: file, ID: p.ID, Summary: p.Summary, Plan: p, Bytes: []byte(b)}
		sigs, err := approvalsAt(rc, head, p.ID)
		if err != nil {
			return nil, err
		}
		if tipErr != nil {
			pr.NowError = "no ledger branch here: " + tipErr.Error()
		} else {
			if r, err := rc.ledger.NewReader(); err == nil {
				if _, ferr := r.File(plans.Path(p.ID)); ferr == nil {
					bad(file, "plan %s is already in the ledger: plans apply once", p.ID)
					continue
				}
			}
			pr.Approvals = plans.CheckApprovalSet(tip.Trust, pr.Bytes, sigs, time.Now())
		}
		switch {
		case provErr != nil:
			pr.NowError = provErr.Error()
		case tipErr == nil:
			pr.Now = map[string]*provider.Server{}
			for _, st := range p.Actions {
				if st.Action.Kind != provider.KindServer {
					continue // other kinds: the staleness check below reads them
				}
				s, err := prov.Server(context.Background(), st.Action.Server)
				if err != nil && !errors.Is(err, provider.ErrNotFound) {
					pr.NowError = err.Error()
					break
				}
				pr.Now[st.Action.Server] = s
			}
			view, err := apply.NewLedgerView(rc.ledger)
			if err == nil {
				var se *plans.StaleError
				if err := plans.CheckFresh(context.Background(), prov, view, p); errors.As(err, &se) {
					pr.Stale = se.Diffs
				} else if err != nil {
					pr.NowError = err.Error()
				}
			}
		}
		rv.Plans = append(rv.Plans, pr)
	}
	return rv, nil
}

// approvalsAt reads plans/<id>.approvals/*.sig at a commit.
func approvalsAt(rc *repoCtx, rev, id string) (map[string][]byte, error) {
	dir := plans.Dir + "/" + id + plans.ApprovalsSuffix + "/"
	out, err := gitCmd(rc.root, "ls-tree", "--name-only", rev, dir)
	if err != nil {
		return nil, err
	}
	sigs := map[string][]byte{}
	for _, f := range strings.Fields(out) {
		kid, ok := strings.CutSuffix(strings.TrimPrefix(f, dir), ".sig")
		if !ok || keys.ValidKID(kid) != nil {
			continue
		}
		b, err := gitCmd(rc.root, "show", rev+":"+f)
		if err != nil {
			return nil, err
		}
		sigs[kid] = []byte(b)
	}
	return sigs, nil
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
		stale, missing := 0, 0
		for _, p := range rv.Plans {
			if len(p.Stale) > 0 {
				stale++
			}
			missing += p.Approvals.Missing
		}
		out := fmt.Sprintf("ok=%t\nplans=%d\nstale=%d\nmissing_approvals=%d\nfolded=%t\n", rv.OK(), len(rv.Plans), stale, missing, folded)
		if err := appendFile(f, out); err != nil {
			return err
		}
	}
	for _, v := range rv.Violations {
		fmt.Printf("::error file=%s::%s\n", v.File, annotationEscape(v.Message))
	}
	for _, p := range rv.Plans {
		for _, s := range p.Stale {
			fmt.Printf("::warning file=%s::%s\n", p.File, annotationEscape(s))
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
