package github_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/internal/github"
	"github.com/vmc-git/vmc-git/internal/github/githubtest"
)

const (
	label  = "vmc-drift"
	marker = "<!-- vmc-git:drift -->"
)

func report(open bool, text string) github.IssueReport {
	return github.IssueReport{Label: label, Marker: marker, Title: "drift", Open: open, Text: text}
}

// TestReportIssue: the first report opens the issue, later ones edit the
// same one (found on the second page, past a pull request and issues
// someone else marked), a clean report comments and closes it, and a clean
// report with no open issue does nothing.
func TestReportIssue(t *testing.T) {
	gh := githubtest.New(token, bot)
	defer gh.Close()
	for i := range 110 {
		gh.AddIssue(githubtest.Issue{Repo: "acme/infra", Login: "mallory", Title: fmt.Sprint(i), Labels: []string{label}})
	}
	gh.AddIssue(githubtest.Issue{Repo: "acme/infra", Login: "mallory", Title: "fake", Body: marker + "\nnot ours", Labels: []string{label}})
	gh.AddIssue(githubtest.Issue{Repo: "acme/infra", Login: bot, Title: "a pull request", Body: marker + "\npr", Labels: []string{label}, PR: true})
	gh.AddIssue(githubtest.Issue{Repo: "acme/other", Login: bot, Title: "other repo", Body: marker + "\nx", Labels: []string{label}})
	c := client(t, gh.URL())
	ctx := context.Background()

	is, action, err := c.ReportIssue(ctx, "acme/infra", report(true, "drift 1"))
	if err != nil || action != github.IssueOpened {
		t.Fatalf("first report: %s %v", action, err)
	}
	want := "GET /repos/acme/infra/issues?direction=asc&labels=vmc-drift&page=1&per_page=100&sort=created&state=open\n" +
		"GET /repos/acme/infra/issues?direction=asc&labels=vmc-drift&page=2&per_page=100&sort=created&state=open\n" +
		"POST /repos/acme/infra/issues"
	if got := summary(gh.Requests()); got != want {
		t.Fatalf("first report requests:\n%s\nwant:\n%s", got, want)
	}
	is2, action, err := c.ReportIssue(ctx, "acme/infra", report(true, "drift 2"))
	if err != nil || action != github.IssueUpdated || is2.Number != is.Number {
		t.Fatalf("second report: %s #%d (first #%d) %v", action, is2.Number, is.Number, err)
	}
	if got := summary(gh.Requests()); !strings.HasSuffix(got, fmt.Sprintf("PATCH /repos/acme/infra/issues/%d", is.Number)) {
		t.Fatalf("second report requests:\n%s", got)
	}
	var ours []githubtest.Issue
	for _, x := range gh.Issues("acme/infra") {
		if x.Login == bot && !x.PR {
			ours = append(ours, x)
		}
	}
	if len(ours) != 1 || ours[0].Body != marker+"\ndrift 2" || ours[0].State != "open" || ours[0].Labels[0] != label {
		t.Fatalf("our issues: %+v", ours)
	}
	if _, action, err = c.ReportIssue(ctx, "acme/infra", report(false, "clean")); err != nil || action != github.IssueClosed {
		t.Fatalf("clean report: %s %v", action, err)
	}
	got := gh.Issues("acme/infra")[is.Number-1]
	if got.State != "closed" || got.StateReason != "completed" || got.Body != marker+"\ndrift 2" {
		t.Fatalf("closed issue: %+v", got)
	}
	if cs := gh.Comments(fmt.Sprintf("acme/infra#%d", is.Number)); len(cs) != 1 || cs[0].Body != marker+"\nclean" {
		t.Fatalf("closing comment: %+v", cs)
	}
	gh.Requests()
	if is, action, err := c.ReportIssue(ctx, "acme/infra", report(false, "clean")); err != nil || action != github.IssueUnchanged || is != nil {
		t.Fatalf("clean again: %s %v", action, err)
	}
	if rs := gh.Requests(); len(rs) != 2 || rs[0].Method != "GET" || rs[1].Method != "GET" {
		t.Fatalf("clean again made changes: %s", summary(rs))
	}
	// A new drift opens a new issue; the closed one stays closed.
	if is3, action, err := c.ReportIssue(ctx, "acme/infra", report(true, "drift 3")); err != nil || action != github.IssueOpened || is3.Number == is.Number {
		t.Fatalf("drift after close: %s %v", action, err)
	}
	if gh.Issues("acme/other")[0].Body != marker+"\nx" {
		t.Fatal("another repository's issue was touched")
	}
}

func TestReportIssueRefusals(t *testing.T) {
	gh := githubtest.New(token, bot)
	defer gh.Close()
	c := client(t, gh.URL())
	ctx := context.Background()
	for _, x := range []struct {
		repo string
		rep  github.IssueReport
		want string
	}{
		{"acme", report(true, "x"), "want owner/name"},
		{"acme/infra", github.IssueReport{Label: "a,b", Marker: marker}, "without commas"},
		{"acme/infra", github.IssueReport{Label: label, Marker: "drift"}, "one HTML comment line"},
		{"acme/infra", report(true, strings.Repeat("x", github.MaxBody)), "more than GitHub's 65536"},
	} {
		if _, _, err := c.ReportIssue(ctx, x.repo, x.rep); err == nil || !strings.Contains(err.Error(), x.want) {
			t.Errorf("%s %+v: %v, want %q", x.repo, x.rep.Label, err, x.want)
		}
	}
	if rs := gh.Requests(); len(rs) != 0 {
		t.Fatalf("refused reports made requests: %s", summary(rs))
	}
}
