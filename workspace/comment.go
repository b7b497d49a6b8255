package workspace

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/vmc-git/vmc-git/internal/github"
	"github.com/vmc-git/vmc-git/plans"
)

// CommentLimit is the longest review text (Review.Markdown's limit) that
// fits one pull-request comment with its marker line: a byte count, so never
// more characters than GitHub allows.
const CommentLimit = plans.MaxComment - len(github.Marker) - 1

// CommentRequest is what PostReviewComment needs; the shell fills it from
// its flags and GitHub Actions' environment (GITHUB_API_URL, GITHUB_TOKEN,
// GITHUB_REPOSITORY, GITHUB_EVENT_PATH).
type CommentRequest struct {
	API       string // GitHub REST API base URL; "" for github.com
	Token     string
	Author    string // login whose marked comment is edited (github.DefaultAuthor for GITHUB_TOKEN)
	Repo      string // owner/name
	PR        int    // 0: read pull_request.number from EventPath
	EventPath string
	Markdown  string // the review, at most CommentLimit bytes
}

// CommentResult says which comment now holds the review.
type CommentResult struct {
	Repo    string `json:"repo"`
	PR      int    `json:"pr"`
	ID      int64  `json:"id"`
	URL     string `json:"url"`
	Created bool   `json:"created"` // false: an existing comment was edited
}

// PostReviewComment makes the pull request's one vmc-git review comment say
// req.Markdown: it edits the comment an earlier run posted (found by
// github.Marker) or creates it.
func PostReviewComment(ctx context.Context, req CommentRequest) (*CommentResult, error) {
	if req.Repo == "" {
		return nil, usagef("no repository: give owner/name (GITHUB_REPOSITORY)")
	}
	if req.PR == 0 {
		n, err := prFromEvent(req.EventPath)
		if err != nil {
			return nil, usageErr(fmt.Errorf("no pull request number: %w", err), "give it with --pr N")
		}
		req.PR = n
	}
	gh, err := github.New(github.Options{API: req.API, Token: req.Token, Author: req.Author})
	if err != nil {
		return nil, usageErr(err)
	}
	cm, created, err := gh.Upsert(ctx, req.Repo, req.PR, req.Markdown)
	if err != nil {
		return nil, err
	}
	return &CommentResult{Repo: req.Repo, PR: req.PR, ID: cm.ID, URL: cm.HTMLURL, Created: created}, nil
}

// prFromEvent reads pull_request.number from a GitHub event file.
func prFromEvent(path string) (int, error) {
	if path == "" {
		return 0, fmt.Errorf("$GITHUB_EVENT_PATH is not set")
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var ev struct {
		PullRequest *struct {
			Number int `json:"number"`
		} `json:"pull_request"`
	}
	if err := json.NewDecoder(f).Decode(&ev); err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	if ev.PullRequest == nil || ev.PullRequest.Number <= 0 {
		return 0, fmt.Errorf("%s: not a pull_request event", path)
	}
	return ev.PullRequest.Number, nil
}
