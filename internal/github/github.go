// Package github keeps one vmc-git comment on a pull request up to date
// through the GitHub REST API, the way Atlantis does: the comment is found by
// a hidden marker on its first line and edited in place, so a pull request
// never collects more than one review comment. In the same way it keeps one
// issue per repository for a standing condition such as drift (issues.go).
//
// # API use
//
// Three endpoints of the issues-comments API (a pull request is an issue),
// with Authorization: Bearer <token>, Accept: application/vnd.github+json
// and X-GitHub-Api-Version: 2022-11-28:
//
//	GET   /repos/{owner}/{repo}/issues/{number}/comments?per_page=100&page=N
//	POST  /repos/{owner}/{repo}/issues/{number}/comments      {"body": …}
//	PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}  {"body": …}
//
// Listing follows the Link header's rel="next" only to the API's own host
// (the token is never sent elsewhere), at most MaxPages pages; each response
// body is read up to MaxResponse bytes.
//
// # The comment
//
// The body is Marker, a newline, then the text; at most MaxBody characters
// in all (GitHub's limit is 65,536). Upsert edits the oldest comment whose
// body starts with Marker and whose author is Options.Author (when set: so a
// comment someone else wrote with the marker is never taken over), and
// creates one otherwise.
package github

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Marker starts the body of vmc-git's review comment. It is an HTML comment,
// so GitHub does not show it.
const Marker = "<!-- vmc-git:plan-review -->"

// Limits.
const (
	MaxBody     = 65536   // characters in a comment body, GitHub's limit
	MaxPages    = 50      // pages of 100 comments read to find ours
	MaxResponse = 8 << 20 // bytes of one response body
	PerPage     = 100
)

// DefaultAPI is the API of github.com.
const DefaultAPI = "https://api.github.com"

// DefaultAuthor is the login of comments made with a workflow's GITHUB_TOKEN.
const DefaultAuthor = "github-actions[bot]"

// Options configure a Client.
type Options struct {
	// API is the REST API's base URL (GITHUB_API_URL); default DefaultAPI.
	// Plain http is refused unless the host is a loopback address.
	API string
	// Token is the bearer token (GITHUB_TOKEN). Required.
	Token string
	// Author, if not empty, is the only login whose marked comment is edited.
	Author string
	// HTTP is the client to use; default one with a 30-second timeout.
	HTTP *http.Client
}

// Client talks to the issues-comments API.
type Client struct {
	api    *url.URL
	token  string
	author string
	http   *http.Client
}

// Comment is the part of an issue comment vmc-git reads.
type Comment struct {
	ID      int64  `json:"id"`
	Body    string `json:"body"`
	HTMLURL string `json:"html_url"`
	User    struct {
		Login string `json:"login"`
	} `json:"user"`
}

// APIError is an error response from GitHub.
type APIError struct {
	Method, Path string
	StatusCode   int
	Message      string // GitHub's "message"
}

func (e *APIError) Error() string {
	return fmt.Sprintf("github: %s %s: %d %s: %s", e.Method, e.Path, e.StatusCode, http.StatusText(e.StatusCode), e.Message)
}

var repoRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$`)

// New checks opts and returns a client. It does not contact GitHub.
func New(opts Options) (*Client, error) {
	if opts.Token == "" {
		return nil, errors.New("github: no token (set GITHUB_TOKEN)")
	}
	if strings.ContainsAny(opts.Token, " \t\r\n") {
		return nil, errors.New("github: token contains white space")
	}
	api := opts.API
	if api == "" {
		api = DefaultAPI
	}
	u, err := url.Parse(strings.TrimSuffix(api, "/"))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.User != nil {
		return nil, fmt.Errorf("github: API URL %q: want an https URL such as %s", api, DefaultAPI)
	}
	if u.Scheme == "http" {
		ip := net.ParseIP(u.Hostname())
		if u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return nil, fmt.Errorf("github: API URL %s: plain http only to a loopback address (the token would travel in clear text)", u.Redacted())
		}
	}
	hc := opts.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{api: u, token: opts.Token, author: opts.Author, http: hc}, nil
}

// Body returns the comment body for text: Marker, a newline, text. It fails
// if the result is longer than MaxBody characters.
func Body(text string) (string, error) {
	b := Marker + "\n" + text
	if n := utf8.RuneCountInString(b); n > MaxBody {
		return "", fmt.Errorf("github: comment of %d characters, more than GitHub's %d", n, MaxBody)
	}
	return b, nil
}

// Upsert makes the pull request's vmc-git comment say text: it edits the
// existing one (see the package doc) or creates it. created reports which.
func (c *Client) Upsert(ctx context.Context, repo string, number int, text string) (cm *Comment, created bool, err error) {
	if !repoRE.MatchString(repo) {
		return nil, false, fmt.Errorf("github: repository %q: want owner/name", repo)
	}
	if number <= 0 {
		return nil, false, fmt.Errorf("github: pull request number %d", number)
	}
	body, err := Body(text)
	if err != nil {
		return nil, false, err
	}
	ours, err := c.find(ctx, repo, number)
	if err != nil {
		return nil, false, err
	}
	var out Comment
	if ours == nil {
		err = c.do(ctx, http.MethodPost, fmt.Sprintf("/repos/%s/issues/%d/comments", repo, number), map[string]string{"body": body}, &out, http.StatusCreated)
		return &out, true, err
	}
	err = c.do(ctx, http.MethodPatch, fmt.Sprintf("/repos/%s/issues/comments/%d", repo, ours.ID), map[string]string{"body": body}, &out, http.StatusOK)
	return &out, false, err
}

// find returns the oldest marked comment by the author, or nil.
func (c *Client) find(ctx context.Context, repo string, number int) (*Comment, error) {
	next := c.api.JoinPath(fmt.Sprintf("/repos/%s/issues/%d/comments", repo, number))
	next.RawQuery = url.Values{"per_page": {strconv.Itoa(PerPage)}, "page": {"1"}}.Encode()
	for page := 0; next != nil; page++ {
		if page >= MaxPages {
			return nil, fmt.Errorf("github: %s#%d has more than %d pages of comments", repo, number, MaxPages)
		}
		var cs []Comment
		hdr, err := c.send(ctx, http.MethodGet, next, nil, &cs, http.StatusOK)
		if err != nil {
			return nil, err
		}
		for i := range cs {
			if strings.HasPrefix(cs[i].Body, Marker) && (c.author == "" || cs[i].User.Login == c.author) {
				return &cs[i], nil
			}
		}
		if next, err = c.nextPage(hdr.Get("Link")); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

var linkRE = regexp.MustCompile(`<([^>]*)>\s*;\s*rel="([^"]*)"`)

// nextPage returns the rel="next" URL of a Link header, or nil.
func (c *Client) nextPage(link string) (*url.URL, error) {
	for _, m := range linkRE.FindAllStringSubmatch(link, -1) {
		if !slices.Contains(strings.Fields(m[2]), "next") {
			continue
		}
		u, err := url.Parse(m[1])
		if err != nil {
			return nil, fmt.Errorf("github: bad next-page link %q: %w", m[1], err)
		}
		u = c.api.ResolveReference(u)
		if u.Scheme != c.api.Scheme || u.Host != c.api.Host {
			return nil, fmt.Errorf("github: next-page link to %s, not the API's host %s: not followed", u.Host, c.api.Host)
		}
		return u, nil
	}
	return nil, nil
}

func (c *Client) do(ctx context.Context, method, path string, in, out any, want int) error {
	_, err := c.send(ctx, method, c.api.JoinPath(path), in, out, want)
	return err
}

func (c *Client) send(ctx context.Context, method string, u *url.URL, in, out any, want int) (http.Header, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	req.Header.Set("User-Agent", "vmc-git")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("github: %s %s: %w", method, u.Path, redact(err, c.token))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponse+1))
	if err != nil {
		return nil, fmt.Errorf("github: %s %s: read response: %w", method, u.Path, err)
	}
	if len(b) > MaxResponse {
		return nil, fmt.Errorf("github: %s %s: response larger than %d bytes", method, u.Path, MaxResponse)
	}
	if resp.StatusCode != want {
		var e struct {
			Message string `json:"message"`
		}
		json.Unmarshal(b, &e)
		if e.Message == "" {
			e.Message = strings.TrimSpace(string(b[:min(len(b), 200)]))
		}
		return nil, &APIError{Method: method, Path: u.Path, StatusCode: resp.StatusCode, Message: e.Message}
	}
	if err := json.Unmarshal(b, out); err != nil {
		return nil, fmt.Errorf("github: %s %s: decode response: %w", method, u.Path, err)
	}
	return resp.Header, nil
}

func redact(err error, token string) error {
	if token != "" && strings.Contains(err.Error(), token) {
		return errors.New(strings.ReplaceAll(err.Error(), token, "[redacted]"))
	}
	return err
}
