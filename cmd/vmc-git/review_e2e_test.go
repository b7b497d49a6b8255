package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmc-git/vmc-git/internal/github"
	"github.com/vmc-git/vmc-git/internal/github/githubtest"
	"github.com/vmc-git/vmc-git/provider/sandbox"
)

// TestDryRunAndApplyErrors: the CLI's dry run refuses what the provider's
// catalogue says cannot work (exit 4, nothing written), a resize of a running
// server is planned with --poweroff-first, and a failed apply prints the
// provider's error code and message.
func TestDryRunAndApplyErrors(t *testing.T) {
	t.Parallel()
	sb, err := sandbox.New(sandbox.Options{Token: sandboxToken, ActionDuration: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, url := serve(t, sb)
	r := newRepo(t, repoOpts{env: hetznerEnv(url)})
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"create", "web-1", "--type", "cx999", "--image", "ubuntu-24.04"}, "server type cx999 does not exist"},
		{[]string{"create", "web-1", "--type", "cx22", "--image", "ubuntu-24.04", "--location", "mars1"}, "location mars1 does not exist"},
		{[]string{"create", "web-1", "--type", "cax11", "--image", "fedora-41"}, "architecture mismatch: image fedora-41 exists for x86 only, server type cax11 is arm"},
	} {
		res := r.run(append([]string{"plan", "server"}, c.args...)...)
		checkError(t, res, exitRefused, "dry run refused: "+c.want)
	}
	if out := r.git("status", "--porcelain", "--untracked-files=all", "plans"); out != "" {
		t.Fatalf("refused dry runs wrote plans: %s", out)
	}
	r.planApproved("web-1-create", "create", "web-1", "--type", "cx22", "--image", "ubuntu-24.04", "--location", "nbg1")
	r.must("apply", "--pending", "--key", key("alice"))

	res := r.run("plan", "server", "resize", "web-1", "--type", "cx32", "--id", "web-1-grow")
	checkError(t, res, exitRefused, "server web-1 is running: a resize needs it off", "--poweroff-first")
	r.planApproved("web-1-grow", "resize", "web-1", "--type", "cx32", "--poweroff-first")
	if show := r.must("plan", "show", r.planFile("web-1-grow")); !strings.Contains(show, "1. poweroff web-1") ||
		!strings.Contains(show, "2. resize web-1") || !strings.Contains(show, "~ server_type: cx22 -> cx32") {
		t.Fatalf("plan show of poweroff+resize:\n%s", show)
	}
	r.must("apply", "--pending", "--key", key("alice"))

	// The provider refuses the next create: the CLI says why.
	r.planApproved("web-2-create", "create", "web-2", "--type", "cx22", "--image", "ubuntu-24.04")
	sb.Inject(sandbox.Fault{Method: "POST", Path: "/servers", Status: 403, Code: "resource_limit_exceeded", Message: "project server limit reached"})
	res = r.run("apply", "--pending", "--key", key("alice"))
	checkError(t, res, exitError, "plan web-2-create: failed (recorded in receipt 3)",
		"action 1 (create web-2): failed [resource_limit_exceeded]: ", "project server limit reached")
	rc := r.onlyReceipt("web-2-create")
	if res := results(t, rc); len(res) != 1 || res[0].Code != "resource_limit_exceeded" {
		t.Fatalf("receipt results: %+v", res)
	}
}

// TestReviewComment: plan review --comment posts one comment on the pull
// request through the GitHub issues-comments API (a local server speaking its
// shape), and the second run edits that same comment; the full review goes to
// the job summary.
func TestReviewComment(t *testing.T) {
	t.Parallel()
	const token = "ghs_e2e"
	gh := githubtest.New(token, github.DefaultAuthor)
	defer gh.Close()
	r := newRepo(t, repoOpts{})
	r.git("checkout", "-q", "-b", "pr")
	r.plan("web-1-create", "create", "web-1", "--type", "cx22", "--image", "ubuntu-24.04", "--user-data", writeTemp(t, "#cloud-config\nruncmd: [echo hi]\n"))
	r.commit("plan web-1")
	summary := filepath.Join(t.TempDir(), "summary.md")
	event := writeTemp(t, `{"action":"synchronize","number":12,"pull_request":{"number":12}}`)
	env := []string{"GITHUB_TOKEN=" + token, "GITHUB_API_URL=" + gh.URL(), "GITHUB_REPOSITORY=acme/infra",
		"GITHUB_EVENT_PATH=" + event, "GITHUB_STEP_SUMMARY=" + summary}
	for run := 1; run <= 2; run++ {
		res := r.runEnv(env, "plan", "review", "--base", "main", "--comment")
		if res.code != 0 && res.code != exitRefused {
			t.Fatalf("run %d: %s", run, res)
		}
		reqs := gh.Requests()
		var methods []string
		for _, q := range reqs {
			methods = append(methods, q.Method)
		}
		want := []string{"GET", "POST"}
		verb := "posted"
		if run == 2 {
			want, verb = []string{"GET", "PATCH"}, "updated"
		}
		if !slices.Equal(methods, want) || !strings.Contains(res.err, "vmc-git: "+verb+" review comment") {
			t.Fatalf("run %d: requests %v, want %v\n%s", run, methods, want, res)
		}
		if body := reqs[1].Body; !strings.HasPrefix(body, github.Marker+"\n## vmc-git plan review") ||
			!strings.Contains(body, "runcmd: [echo hi]") || len([]rune(body)) > github.MaxBody {
			t.Fatalf("run %d: comment body:\n%s", run, body)
		}
	}
	cs := gh.Comments("acme/infra#12")
	if len(cs) != 1 {
		t.Fatalf("%d comments on the pull request, want 1", len(cs))
	}
	sum, _ := os.ReadFile(summary)
	if !strings.Contains(string(sum), "#### 1. create `web-1`") || !strings.Contains(string(sum), "runcmd: [echo hi]") {
		t.Fatalf("job summary:\n%s", sum)
	}
	// Without a token: a usage error, nothing sent.
	res := r.runEnv([]string{"GITHUB_API_URL=" + gh.URL(), "GITHUB_REPOSITORY=acme/infra", "GITHUB_TOKEN="}, "plan", "review", "--base", "main", "--comment", "--pr", "12")
	checkError(t, res, exitUsage, "GITHUB_TOKEN")
	if n := len(gh.Requests()); n != 0 {
		t.Fatalf("%d requests without a token", n)
	}
}

func writeTemp(t *testing.T, s string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(f, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestReviewCatalogue: a plan written by hand, past the dry run, is checked
// against the provider's catalogue in review: the review says what the
// provider would refuse and the refused output counts it.
func TestReviewCatalogue(t *testing.T) {
	t.Parallel()
	r := newRepo(t, repoOpts{})
	r.git("checkout", "-q", "-b", "pr")
	file := r.plan("web-9-create", "create", "web-9", "--type", "cx22", "--image", "ubuntu-24.04")
	b, _ := os.ReadFile(file)
	os.WriteFile(file, []byte(strings.ReplaceAll(string(b), "cx22", "cx999")), 0o644)
	r.approve("web-9-create", "bob")
	r.commit("a hand-made plan")
	out := filepath.Join(t.TempDir(), "out")
	res := r.runEnv([]string{"GITHUB_ACTIONS=true", "GITHUB_OUTPUT=" + out}, "plan", "review", "--base", "main")
	if res.code != 0 || !strings.Contains(res.out, "PROVIDER WOULD REFUSE: action 1 (create web-9): server type cx999 does not exist") ||
		!strings.Contains(res.out, "::error file=plans/web-9-create.json::the provider would refuse") {
		t.Fatalf("review of a plan the provider would refuse:\n%s", res)
	}
	if o, _ := os.ReadFile(out); !strings.Contains(string(o), "refused=1\n") {
		t.Fatalf("outputs: %s", o)
	}
	md := r.must("plan", "review", "--base", "main", "--markdown")
	if !strings.Contains(md, ":x: the provider would refuse it") || !strings.Contains(md, "server type cx999 does not exist") {
		t.Fatalf("markdown:\n%s", md)
	}
}
