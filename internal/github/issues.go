package github

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// One issue per repository for a standing condition (drift).
//
// [Client.ReportIssue] keeps at most one open issue per label: the issue is
// found by the label and by a hidden marker starting its body, written by
// Options.Author when set. Four more endpoints of the issues API:
//
//	GET   /repos/{owner}/{repo}/issues?labels=L&state=open&per_page=100&page=N
//	POST  /repos/{owner}/{repo}/issues                   {"title","body","labels"}
//	PATCH /repos/{owner}/{repo}/issues/{number}          {"title","body"} or {"state":"closed","state_reason":"completed"}
//	POST  /repos/{owner}/{repo}/issues/{number}/comments {"body"}
//
// The listing returns pull requests too (they are issues); those are
// skipped. Paging follows the same rules as comment listing.

// Issue is the part of an issue vmc-git reads.
type Issue struct {
	Number      int       `json:"number"`
	Title       string    `json:"title"`
	Body        string    `json:"body"`
	State       string    `json:"state"`
	HTMLURL     string    `json:"html_url"`
	PullRequest *struct{} `json:"pull_request,omitempty"`
	User        struct {
		Login string `json:"login"`
	} `json:"user"`
}

// Issue report outcomes.
const (
	IssueOpened    = "opened"
	IssueUpdated   = "updated"
	IssueClosed    = "closed"
	IssueUnchanged = "none" // no standing condition and no open issue
)

// IssueReport is what ReportIssue is asked to make true.
type IssueReport struct {
	Label  string // the issue's label, e.g. "vmc-drift"
	Marker string // starts the body, an HTML comment, e.g. "<!-- vmc-git:drift -->"
	Title  string
	// Open: the condition stands; the issue says Text (opened or updated).
	// Not Open: an open issue gets the comment Text and is closed.
	Open bool
	Text string
}

// checkLabel refuses labels that do not fit a query parameter plainly.
func checkLabel(l string) error {
	if l == "" || len(l) > 50 || strings.ContainsAny(l, ",\r\n") {
		return fmt.Errorf("github: label %q: want 1 to 50 characters without commas", l)
	}
	return nil
}

// ReportIssue opens, updates or closes the repository's one issue for
// rep.Label (see above) and returns it (nil with IssueUnchanged).
func (c *Client) ReportIssue(ctx context.Context, repo string, rep IssueReport) (*Issue, string, error) {
	if !repoRE.MatchString(repo) {
		return nil, "", fmt.Errorf("github: repository %q: want owner/name", repo)
	}
	if err := checkLabel(rep.Label); err != nil {
		return nil, "", err
	}
	if !strings.HasPrefix(rep.Marker, "<!--") || !strings.HasSuffix(rep.Marker, "-->") || strings.Contains(rep.Marker, "\n") {
		return nil, "", fmt.Errorf("github: marker %q: want one HTML comment line", rep.Marker)
	}
	body := rep.Marker + "\n" + rep.Text
	if n := utf8.RuneCountInString(body); n > MaxBody {
		return nil, "", fmt.Errorf("github: issue body of %d characters, more than GitHub's %d", n, MaxBody)
	}
	ours, err := c.findIssue(ctx, repo, rep)
	if err != nil {
		return nil, "", err
	}
	var out Issue
	switch {
	case rep.Open && ours == nil:
		in := map[string]any{"title": rep.Title, "body": body, "labels": []string{rep.Label}}
		err = c.do(ctx, http.MethodPost, fmt.Sprintf("/repos/%s/issues", repo), in, &out, http.StatusCreated)
		return &out, IssueOpened, err
	case rep.Open:
		in := map[string]any{"title": rep.Title, "body": body}
		err = c.do(ctx, http.MethodPatch, fmt.Sprintf("/repos/%s/issues/%d", repo, ours.Number), in, &out, http.StatusOK)
		return &out, IssueUpdated, err
	case ours == nil:
		return nil, IssueUnchanged, nil
	}
	var cm Comment
	if err := c.do(ctx, http.MethodPost, fmt.Sprintf("/repos/%s/issues/%d/comments", repo, ours.Number), map[string]string{"body": body}, &cm, http.StatusCreated); err != nil {
		return nil, "", err
	}
	in := map[string]any{"state": "closed", "state_reason": "completed"}
	err = c.do(ctx, http.MethodPatch, fmt.Sprintf("/repos/%s/issues/%d", repo, ours.Number), in, &out, http.StatusOK)
	return &out, IssueClosed, err
}

// findIssue returns the oldest open issue with the label and marker by the
// author, or nil.
func (c *Client) findIssue(ctx context.Context, repo string, rep IssueReport) (*Issue, error) {
	next := c.api.JoinPath(fmt.Sprintf("/repos/%s/issues", repo))
	next.RawQuery = url.Values{"labels": {rep.Label}, "state": {"open"}, "sort": {"created"}, "direction": {"asc"},
		"per_page": {strconv.Itoa(PerPage)}, "page": {"1"}}.Encode()
	for page := 0; next != nil; page++ {
		if page >= MaxPages {
			return nil, fmt.Errorf("github: %s has more than %d pages of open %s issues", repo, MaxPages, rep.Label)
		}
		var is []Issue
		hdr, err := c.send(ctx, http.MethodGet, next, nil, &is, http.StatusOK)
		if err != nil {
			return nil, err
		}
		for i := range is {
			if is[i].PullRequest == nil && strings.HasPrefix(is[i].Body, rep.Marker) && (c.author == "" || is[i].User.Login == c.author) {
				if is[i].Number < 1 {
					return nil, fmt.Errorf("github: the issue listing of %s names issue number %d: not an issue, nothing written", repo, is[i].Number)
				}
				return &is[i], nil
			}
		}
		if next, err = c.nextPage(hdr.Get("Link")); err != nil {
			return nil, err
		}
	}
	return nil, nil
}
