package workspace

import (
	"context"
	"fmt"
	"strings"

	"github.com/vmc-git/vmc-git/internal/github"
)

// The GitHub drift issue: one per repository, labelled DriftIssueLabel and
// marked with DriftIssueMarker. While a check finds drift, the issue holds
// the latest report (opened by the first such check, its body replaced by
// every later one: never a second issue); the first check that finds none
// comments on it with the clean report and closes it. A later drift opens a
// new issue.
const (
	DriftIssueLabel  = "vmc-drift"
	DriftIssueMarker = "<!-- vmc-git:drift -->"
	DriftIssueTitle  = "vmc-git: the provider has drifted from the ledger"
	// driftIssueRows and driftIssueBytes bound the findings listed in the
	// issue body, well inside GitHub's 65,536 characters.
	driftIssueRows  = 200
	driftIssueBytes = 60000
)

// DriftIssueRequest is what ReportDriftIssue needs; the shell fills it from
// its flags and GitHub Actions' environment.
type DriftIssueRequest struct {
	API    string // GitHub REST API base URL; "" for github.com
	Token  string
	Author string // login whose issue is updated (github.DefaultAuthor for GITHUB_TOKEN)
	Repo   string // owner/name
	RunURL string // the workflow run, linked from the issue ("": none)
	Report *DriftReport
}

// DriftIssue says what happened to the issue.
type DriftIssue struct {
	Repo   string `json:"repo"`
	Number int    `json:"number,omitempty"`
	URL    string `json:"url,omitempty"`
	Action string `json:"action"` // opened, updated, closed, none
}

// ReportDriftIssue opens, updates or closes the repository's drift issue
// for req.Report (see DriftIssueLabel).
func ReportDriftIssue(ctx context.Context, req DriftIssueRequest) (*DriftIssue, error) {
	if req.Repo == "" {
		return nil, usagef("no repository: give owner/name (GITHUB_REPOSITORY or --github-repo)")
	}
	gh, err := github.New(github.Options{API: req.API, Token: req.Token, Author: req.Author})
	if err != nil {
		return nil, usageErr(err)
	}
	iss, action, err := gh.ReportIssue(ctx, req.Repo, github.IssueReport{Label: DriftIssueLabel, Marker: DriftIssueMarker,
		Title: DriftIssueTitle, Open: req.Report.Drift, Text: DriftMarkdown(req.Report, req.RunURL)})
	if err != nil {
		return nil, err
	}
	out := &DriftIssue{Repo: req.Repo, Action: action}
	if iss != nil {
		out.Number, out.URL = iss.Number, iss.HTMLURL
	}
	return out, nil
}

// DriftMarkdown renders a drift report for a GitHub issue.
func DriftMarkdown(rep *DriftReport, runURL string) string {
	var b strings.Builder
	if rep.Drift {
		fmt.Fprintf(&b, "## Drift: %d finding(s)\n\n", len(rep.Findings))
	} else {
		b.WriteString("## No drift\n\nThe provider matches the ledger again.\n\n")
	}
	fmt.Fprintf(&b, "Ledger receipt %d: %d resources expected, %d at the provider.", rep.LedgerSeq, rep.Expected, rep.Actual)
	if runURL != "" {
		fmt.Fprintf(&b, " [Workflow run](%s).", runURL)
	}
	if a := rep.Attestation; a != nil {
		fmt.Fprintf(&b, " Attested in receipt %d (`%s`).", a.Seq, a.Blake3)
	}
	b.WriteString("\n\n")
	if rep.Drift {
		b.WriteString("| finding | resource | field | expected | actual |\n|---|---|---|---|---|\n")
		for i, f := range rep.Findings {
			row := fmt.Sprintf("| %s | `%s` | %s | %s | %s |\n", f.Kind, mdCell(f.Resource), mdCell(f.Field), mdCell(f.Expected), mdCell(f.Actual))
			if i == driftIssueRows || b.Len()+len(row) > driftIssueBytes {
				fmt.Fprintf(&b, "\n… and %d more: run `vmc-git drift` for all.\n", len(rep.Findings)-i)
				break
			}
			b.WriteString(row)
		}
		b.WriteString("\nTo bring the provider back to the ledger: `vmc-git drift --plan-fix`, then review, approve and merge the plan. " +
			"To take the provider's state as the ledger's: `vmc-git drift --adopt`.\n")
	}
	return b.String()
}

// mdCell escapes a table cell.
func mdCell(s string) string {
	if s == "" {
		return "–"
	}
	if r := []rune(s); len(r) > 300 {
		s = string(r[:300]) + "…"
	}
	r := strings.NewReplacer("|", `\|`, "\n", " ", "<", "&lt;", ">", "&gt;", "`", "'")
	return r.Replace(s)
}
