package main

import (
	"context"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/internal/github"
	"github.com/vmc-git/vmc-git/workspace"
)

// commentLimit is the review's length limit when it may become a comment.
const commentLimit = workspace.CommentLimit

func commentFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "comment", Usage: "post or update the review comment on the pull request ($GITHUB_TOKEN)"},
		&cli.StringFlag{Name: "github-repo", Usage: "the GitHub repository, owner/name (default $GITHUB_REPOSITORY)"},
		&cli.IntFlag{Name: "pr", Usage: "pull request number (default: from $GITHUB_EVENT_PATH)"},
		&cli.StringFlag{Name: "comment-author", Value: github.DefaultAuthor, Usage: "the login whose marked comment is edited (the token's user)"},
	}
}

// postComment creates or edits the pull request's review comment.
func postComment(c *cli.Context, md string) error {
	repo := c.String("github-repo")
	if repo == "" {
		repo = os.Getenv("GITHUB_REPOSITORY")
	}
	res, err := workspace.PostReviewComment(context.Background(), workspace.CommentRequest{
		API: os.Getenv("GITHUB_API_URL"), Token: os.Getenv("GITHUB_TOKEN"), Author: c.String("comment-author"),
		Repo: repo, PR: c.Int("pr"), EventPath: os.Getenv("GITHUB_EVENT_PATH"), Markdown: md,
	})
	if err != nil {
		return err
	}
	verb := "updated"
	if res.Created {
		verb = "posted"
	}
	fmt.Fprintf(c.App.ErrWriter, "vmc-git: %s review comment %d on %s#%d %s\n", verb, res.ID, res.Repo, res.PR, res.URL)
	return nil
}
