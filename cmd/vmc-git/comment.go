package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/internal/github"
	"github.com/vmc-git/vmc-git/plans"
)

// commentLimit is the longest review text that fits one comment with the
// marker line (a byte count, so never more characters than GitHub allows).
const commentLimit = plans.MaxComment - len(github.Marker) - 1

func commentFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "comment", Usage: "post or update the review comment on the pull request ($GITHUB_TOKEN)"},
		&cli.StringFlag{Name: "repo", Usage: "owner/name (default $GITHUB_REPOSITORY)"},
		&cli.IntFlag{Name: "pr", Usage: "pull request number (default: from $GITHUB_EVENT_PATH)"},
		&cli.StringFlag{Name: "comment-author", Value: github.DefaultAuthor, Usage: "the login whose marked comment is edited (the token's user)"},
	}
}

// postComment creates or edits the pull request's review comment.
func postComment(c *cli.Context, md string) error {
	repo := c.String("repo")
	if repo == "" {
		repo = os.Getenv("GITHUB_REPOSITORY")
	}
	if repo == "" {
		return usagef("--comment needs --repo OWNER/NAME or $GITHUB_REPOSITORY")
	}
	pr := c.Int("pr")
	if pr == 0 {
		var err error
		if pr, err = prFromEvent(os.Getenv("GITHUB_EVENT_PATH")); err != nil {
			return usagef("--comment needs --pr N: %v", err)
		}
	}
	gh, err := github.New(github.Options{API: os.Getenv("GITHUB_API_URL"), Token: os.Getenv("GITHUB_TOKEN"), Author: c.String("comment-author")})
	if err != nil {
		return fail(exitUsage, err)
	}
	cm, created, err := gh.Upsert(context.Background(), repo, pr, md)
	if err != nil {
		return err
	}
	verb := "updated"
	if created {
		verb = "posted"
	}
	fmt.Fprintf(c.App.ErrWriter, "vmc-git: %s review comment %d on %s#%d %s\n", verb, cm.ID, repo, pr, cm.HTMLURL)
	return nil
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
		Number int `json:"number"`
	}
	if err := json.NewDecoder(f).Decode(&ev); err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	if ev.PullRequest == nil || ev.PullRequest.Number <= 0 {
		return 0, fmt.Errorf("%s: not a pull_request event", path)
	}
	return ev.PullRequest.Number, nil
}
