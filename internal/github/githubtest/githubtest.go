// Package githubtest is a small HTTP server on 127.0.0.1 that speaks the
// shape of GitHub's REST issues-comments API (list with Link-header
// pagination, create, update) and of the issues API (list by label and
// state, create, update, close), for tests of vmc-git's pull-request
// comment and drift issue. It keeps comments and issues in memory and
// records every request.
package githubtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Request is one request the server received.
type Request struct {
	Method, Path, Query string
	Auth                string // the Authorization header
	APIVersion          string // the X-GitHub-Api-Version header
	Body                string // the "body" field of a create or update
}

// Comment is a stored comment.
type Comment struct {
	ID    int64
	Issue string // "owner/repo#number"
	Login string
	Body  string
}

// Issue is a stored issue (or pull request, when PR).
type Issue struct {
	Repo        string // "owner/repo"
	Number      int
	Login       string
	Title, Body string
	Labels      []string
	State       string // open or closed
	StateReason string
	PR          bool
}

// Server is the fake API.
type Server struct {
	// Token is the bearer token requests must carry.
	Token string
	// Login is the author of comments created through the API.
	Login string

	mu       sync.Mutex
	comments []*Comment
	issues   []*Issue
	requests []Request
	nextID   int64
	srv      *httptest.Server
}

// New starts a server on 127.0.0.1; Close stops it.
func New(token, login string) *Server {
	s := &Server{Token: token, Login: login, nextID: 1000}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the API's base URL.
func (s *Server) URL() string { return s.srv.URL }

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Add stores a comment as if login had written it, and returns its id.
func (s *Server) Add(issue, login, body string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	s.comments = append(s.comments, &Comment{ID: s.nextID, Issue: issue, Login: login, Body: body})
	return s.nextID
}

// Comments returns the comments of an issue ("owner/repo#number"), oldest first.
func (s *Server) Comments(issue string) []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Comment
	for _, c := range s.comments {
		if c.Issue == issue {
			out = append(out, *c)
		}
	}
	return out
}

// AddIssue stores an issue (or pull request) as if login had opened it, and
// returns its number.
func (s *Server) AddIssue(is Issue) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	is.Number = s.nextNumber(is.Repo)
	if is.State == "" {
		is.State = "open"
	}
	s.issues = append(s.issues, &is)
	return is.Number
}

// Issues returns the issues of a repository, oldest first.
func (s *Server) Issues(repo string) []Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Issue
	for _, is := range s.issues {
		if is.Repo == repo {
			out = append(out, *is)
		}
	}
	return out
}

// nextNumber is the repository's next issue number: issues and pull
// requests share the numbers, so the pull requests commented on count.
func (s *Server) nextNumber(repo string) int {
	n := 0
	for _, is := range s.issues {
		if is.Repo == repo {
			n = max(n, is.Number)
		}
	}
	for _, c := range s.comments {
		if r, num, ok := strings.Cut(c.Issue, "#"); ok && r == repo {
			if v, err := strconv.Atoi(num); err == nil {
				n = max(n, v)
			}
		}
	}
	return n + 1
}

// Requests returns the requests received so far and forgets them.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.requests
	s.requests = nil
	return r
}

func (s *Server) json(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (s *Server) fail(w http.ResponseWriter, status int, msg string) {
	s.json(w, status, map[string]string{"message": msg, "documentation_url": "https://docs.github.com/rest"})
}

func (s *Server) view(c *Comment) map[string]any {
	owner, rest, _ := strings.Cut(c.Issue, "/")
	repo, num, _ := strings.Cut(rest, "#")
	return map[string]any{
		"id": c.ID, "node_id": fmt.Sprintf("IC_%d", c.ID), "body": c.Body,
		"html_url":           fmt.Sprintf("https://github.com/%s/%s/pull/%s#issuecomment-%d", owner, repo, num, c.ID),
		"issue_url":          fmt.Sprintf("%s/repos/%s/%s/issues/%s", s.srv.URL, owner, repo, num),
		"user":               map[string]any{"login": c.Login, "type": "Bot"},
		"author_association": "NONE",
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	req := Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Auth: r.Header.Get("Authorization"), APIVersion: r.Header.Get("X-GitHub-Api-Version")}
	var in issueInput
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	issueCall := len(parts) == 4 || (len(parts) == 5 && parts[4] != "comments")
	if r.Method == http.MethodPost || r.Method == http.MethodPatch {
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in); err != nil || (in.Body == nil && !issueCall) {
			s.requests = append(s.requests, req)
			s.fail(w, http.StatusUnprocessableEntity, "Invalid request.\n\n\"body\" wasn't supplied.")
			return
		}
		if in.Body != nil {
			req.Body = *in.Body
		}
	}
	s.requests = append(s.requests, req)
	if req.Auth != "Bearer "+s.Token {
		s.fail(w, http.StatusUnauthorized, "Bad credentials")
		return
	}
	if in.Body != nil && len([]rune(*in.Body)) > 65536 {
		s.fail(w, http.StatusUnprocessableEntity, "Validation Failed: body is too long (maximum is 65536 characters)")
		return
	}
	if len(parts) >= 4 && parts[0] == "repos" && parts[3] == "issues" && issueCall {
		s.serveIssues(w, r, parts[1]+"/"+parts[2], parts, in)
		return
	}
	switch {
	// /repos/{owner}/{repo}/issues/{number}/comments
	case len(parts) == 6 && parts[0] == "repos" && parts[3] == "issues" && parts[5] == "comments":
		issue := parts[1] + "/" + parts[2] + "#" + parts[4]
		if _, err := strconv.Atoi(parts[4]); err != nil {
			s.fail(w, http.StatusNotFound, "Not Found")
			return
		}
		switch r.Method {
		case http.MethodGet:
			s.list(w, r, issue)
		case http.MethodPost:
			s.nextID++
			c := &Comment{ID: s.nextID, Issue: issue, Login: s.Login, Body: *in.Body}
			s.comments = append(s.comments, c)
			s.json(w, http.StatusCreated, s.view(c))
		default:
			s.fail(w, http.StatusMethodNotAllowed, "Method Not Allowed")
		}
	// /repos/{owner}/{repo}/issues/comments/{id}
	case len(parts) == 6 && parts[0] == "repos" && parts[3] == "issues" && parts[4] == "comments" && r.Method == http.MethodPatch:
		id, _ := strconv.ParseInt(parts[5], 10, 64)
		for _, c := range s.comments {
			if c.ID == id && strings.HasPrefix(c.Issue, parts[1]+"/"+parts[2]+"#") {
				if c.Login != s.Login {
					s.fail(w, http.StatusForbidden, "Resource not accessible by integration")
					return
				}
				c.Body = *in.Body
				s.json(w, http.StatusOK, s.view(c))
				return
			}
		}
		s.fail(w, http.StatusNotFound, "Not Found")
	default:
		s.fail(w, http.StatusNotFound, "Not Found")
	}
}

// list serves one page, with GitHub's Link header.
func (s *Server) list(w http.ResponseWriter, r *http.Request, issue string) {
	var all []*Comment
	for _, c := range s.comments {
		if c.Issue == issue {
			all = append(all, c)
		}
	}
	s.page(w, r, len(all), func(from, to int) any {
		out := []map[string]any{}
		for _, c := range all[from:to] {
			out = append(out, s.view(c))
		}
		return out
	})
}

// page serves the page the query asks for of n items (view renders items
// from..to), with GitHub's Link header.
func (s *Server) page(w http.ResponseWriter, r *http.Request, n int, view func(from, to int) any) {
	q := r.URL.Query()
	per, page := 30, 1
	if v, err := strconv.Atoi(q.Get("per_page")); err == nil && v > 0 {
		per = min(v, 100)
	}
	if v, err := strconv.Atoi(q.Get("page")); err == nil && v > 0 {
		page = v
	}
	from, to := min((page-1)*per, n), min(page*per, n)
	out := view(from, to)
	last := max(1, (n+per-1)/per)
	link := func(p int, rel string) string {
		u := *r.URL
		u.Scheme, u.Host = "http", r.Host
		v := u.Query()
		v.Set("page", strconv.Itoa(p))
		v.Set("per_page", strconv.Itoa(per))
		u.RawQuery = v.Encode()
		return fmt.Sprintf("<%s>; rel=%q", u.String(), rel)
	}
	var links []string
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"), link(page-1, "prev"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	s.json(w, http.StatusOK, out)
}

// issueInput is the body of an issue create or update.
type issueInput struct {
	Body        *string  `json:"body"`
	Title       *string  `json:"title"`
	Labels      []string `json:"labels"`
	State       *string  `json:"state"`
	StateReason *string  `json:"state_reason"`
}

func (s *Server) issueView(is *Issue) map[string]any {
	labels := []map[string]any{}
	for _, l := range is.Labels {
		labels = append(labels, map[string]any{"name": l})
	}
	v := map[string]any{
		"number": is.Number, "title": is.Title, "body": is.Body, "state": is.State, "state_reason": nil, "labels": labels,
		"html_url": fmt.Sprintf("https://github.com/%s/issues/%d", is.Repo, is.Number),
		"url":      fmt.Sprintf("%s/repos/%s/issues/%d", s.srv.URL, is.Repo, is.Number),
		"user":     map[string]any{"login": is.Login, "type": "Bot"},
	}
	if is.StateReason != "" {
		v["state_reason"] = is.StateReason
	}
	if is.PR {
		v["pull_request"] = map[string]any{"url": fmt.Sprintf("%s/repos/%s/pulls/%d", s.srv.URL, is.Repo, is.Number)}
	}
	return v
}

// serveIssues serves /repos/{owner}/{repo}/issues and .../issues/{number}.
func (s *Server) serveIssues(w http.ResponseWriter, r *http.Request, repo string, parts []string, in issueInput) {
	if len(parts) == 4 {
		switch r.Method {
		case http.MethodGet:
			s.listIssues(w, r, repo)
		case http.MethodPost:
			if in.Title == nil || *in.Title == "" {
				s.fail(w, http.StatusUnprocessableEntity, "Validation Failed: title is missing")
				return
			}
			is := &Issue{Repo: repo, Number: s.nextNumber(repo), Login: s.Login, Title: *in.Title, Labels: in.Labels, State: "open"}
			if in.Body != nil {
				is.Body = *in.Body
			}
			s.issues = append(s.issues, is)
			s.json(w, http.StatusCreated, s.issueView(is))
		default:
			s.fail(w, http.StatusMethodNotAllowed, "Method Not Allowed")
		}
		return
	}
	n, err := strconv.Atoi(parts[4])
	if err != nil {
		s.fail(w, http.StatusNotFound, "Not Found")
		return
	}
	for _, is := range s.issues {
		if is.Repo != repo || is.Number != n {
			continue
		}
		switch r.Method {
		case http.MethodGet:
			s.json(w, http.StatusOK, s.issueView(is))
		case http.MethodPatch:
			if is.Login != s.Login {
				s.fail(w, http.StatusForbidden, "Resource not accessible by integration")
				return
			}
			if in.Title != nil {
				is.Title = *in.Title
			}
			if in.Body != nil {
				is.Body = *in.Body
			}
			if in.State != nil {
				if *in.State != "open" && *in.State != "closed" {
					s.fail(w, http.StatusUnprocessableEntity, "Validation Failed: state")
					return
				}
				is.State = *in.State
			}
			if in.StateReason != nil {
				is.StateReason = *in.StateReason
			}
			if in.Labels != nil {
				is.Labels = in.Labels
			}
			s.json(w, http.StatusOK, s.issueView(is))
		default:
			s.fail(w, http.StatusMethodNotAllowed, "Method Not Allowed")
		}
		return
	}
	s.fail(w, http.StatusNotFound, "Not Found")
}

// listIssues serves one page of a repository's issues filtered by state
// (default open) and labels (all of the comma-separated ones), oldest first.
func (s *Server) listIssues(w http.ResponseWriter, r *http.Request, repo string) {
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	var want []string
	if l := q.Get("labels"); l != "" {
		want = strings.Split(l, ",")
	}
	var all []*Issue
	for _, is := range s.issues {
		if is.Repo != repo || (state != "all" && is.State != state) {
			continue
		}
		ok := true
		for _, l := range want {
			ok = ok && slices.Contains(is.Labels, l)
		}
		if ok {
			all = append(all, is)
		}
	}
	s.page(w, r, len(all), func(from, to int) any {
		out := []map[string]any{}
		for _, is := range all[from:to] {
			out = append(out, s.issueView(is))
		}
		return out
	})
}
