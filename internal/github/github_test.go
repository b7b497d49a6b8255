package github_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/internal/github"
	"github.com/vmc-git/vmc-git/internal/github/githubtest"
)

const (
	token = "ghs_test-token"
	bot   = "github-actions[bot]"
	issue = "acme/infra#12"
)

func client(t *testing.T, api string) *github.Client {
	t.Helper()
	c, err := github.New(github.Options{API: api, Token: token, Author: bot})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func summary(rs []githubtest.Request) string {
	var s []string
	for _, r := range rs {
		q := ""
		if r.Query != "" {
			q = "?" + r.Query
		}
		s = append(s, r.Method+" "+r.Path+q)
	}
	return strings.Join(s, "\n")
}

// TestUpsert: the first run creates the comment, the second edits the same
// one in place, finding it on the second page of comments; a marked comment
// by someone else is left alone.
func TestUpsert(t *testing.T) {
	gh := githubtest.New(token, bot)
	defer gh.Close()
	// 120 comments already: ours will be on page 2. One of them, by a
	// person, carries the marker: it must not be taken over.
	for i := range 120 {
		body := fmt.Sprintf("comment %d", i)
		if i == 7 {
			body = github.Marker + "\nI am not the bot"
		}
		gh.Add(issue, "mallory", body)
	}
	gh.Add("acme/infra#13", bot, github.Marker+"\nanother pull request")
	c := client(t, gh.URL())
	ctx := context.Background()

	cm, created, err := c.Upsert(ctx, "acme/infra", 12, "## review 1")
	if err != nil || !created {
		t.Fatalf("first run: created=%v, %v", created, err)
	}
	want := "GET /repos/acme/infra/issues/12/comments?page=1&per_page=100\n" +
		"GET /repos/acme/infra/issues/12/comments?page=2&per_page=100\n" +
		"POST /repos/acme/infra/issues/12/comments"
	rs := gh.Requests()
	if got := summary(rs); got != want {
		t.Fatalf("first run requests:\n%s\nwant:\n%s", got, want)
	}
	for _, r := range rs {
		if r.Auth != "Bearer "+token || r.APIVersion != "2022-11-28" {
			t.Fatalf("request %s %s: Authorization %q, API version %q", r.Method, r.Path, r.Auth, r.APIVersion)
		}
	}
	if rs[2].Body != github.Marker+"\n## review 1" {
		t.Fatalf("created body %q", rs[2].Body)
	}

	cm2, created, err := c.Upsert(ctx, "acme/infra", 12, "## review 2")
	if err != nil || created || cm2.ID != cm.ID {
		t.Fatalf("second run: created=%v id %d (first %d), %v", created, cm2.ID, cm.ID, err)
	}
	want = "GET /repos/acme/infra/issues/12/comments?page=1&per_page=100\n" +
		"GET /repos/acme/infra/issues/12/comments?page=2&per_page=100\n" +
		fmt.Sprintf("PATCH /repos/acme/infra/issues/comments/%d", cm.ID)
	if got := summary(gh.Requests()); got != want {
		t.Fatalf("second run requests:\n%s\nwant:\n%s", got, want)
	}
	var ours []githubtest.Comment
	for _, x := range gh.Comments(issue) {
		if x.Login == bot {
			ours = append(ours, x)
		}
	}
	if len(ours) != 1 || ours[0].Body != github.Marker+"\n## review 2" {
		t.Fatalf("bot comments on the pull request: %+v", ours)
	}
	if got := gh.Comments(issue)[7].Body; got != github.Marker+"\nI am not the bot" {
		t.Fatalf("someone else's marked comment was edited: %q", got)
	}
}

func TestRefusals(t *testing.T) {
	gh := githubtest.New(token, bot)
	defer gh.Close()
	ctx := context.Background()
	c := client(t, gh.URL())
	if _, _, err := c.Upsert(ctx, "acme/infra", 12, strings.Repeat("x", github.MaxBody)); err == nil || !strings.Contains(err.Error(), "more than GitHub's 65536") {
		t.Fatalf("oversized comment: %v", err)
	}
	if _, _, err := c.Upsert(ctx, "acme/../x", 12, "x"); err == nil || !strings.Contains(err.Error(), "want owner/name") {
		t.Fatalf("bad repository: %v", err)
	}
	if _, _, err := c.Upsert(ctx, "acme/infra", 0, "x"); err == nil {
		t.Fatal("pull request 0 accepted")
	}
	if len(gh.Requests()) != 0 {
		t.Fatal("refused upserts made requests")
	}
	bad, _ := github.New(github.Options{API: gh.URL(), Token: "wrong"})
	_, _, err := bad.Upsert(ctx, "acme/infra", 12, "x")
	var ae *github.APIError
	if !errors.As(err, &ae) || ae.StatusCode != 401 || !strings.Contains(err.Error(), "Bad credentials") || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("bad token: %v", err)
	}
	for _, api := range []string{"http://example.com", "ftp://x", "https://user:pw@api.github.com"} {
		if _, err := github.New(github.Options{API: api, Token: token}); err == nil {
			t.Errorf("API URL %s accepted", api)
		}
	}
	if _, err := github.New(github.Options{Token: ""}); err == nil || !strings.Contains(err.Error(), "GITHUB_TOKEN") {
		t.Fatalf("no token: %v", err)
	}
}

// TestForeignNextPage: a Link header pointing at another host is not
// followed, so the token never leaves the API's host.
func TestForeignNextPage(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the token was sent to another host: %s %s", r.Method, r.URL)
	}))
	defer other.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "<"+other.URL+"/repos/acme/infra/issues/12/comments?page=2>; rel=\"next\"")
		w.Write([]byte("[]"))
	}))
	defer api.Close()
	_, _, err := client(t, api.URL).Upsert(context.Background(), "acme/infra", 12, "x")
	if err == nil || !strings.Contains(err.Error(), "not followed") {
		t.Fatalf("foreign next page: %v", err)
	}
}
