package main

// End-to-end test of the GitHub Actions workflows under nektos/act.
//
// The ledger repository is made by `vmc-git init`, so the caller workflows
// under test are the ones init writes. act (v0.2.89, host mode, no Docker)
// runs them offline:
//
//   - the callers' `uses: vmc-git/vmc-git/.github/workflows/<file>@<version>` is served
//     from this checkout with --local-repository vmc-git/vmc-git@<version>=<module
//     root>: act resolves remote reusable workflows through the same action
//     cache as remote actions, so the reusable workflows run unmodified;
//   - the test's vmc-git is built as release e2eVersion, so the callers pin
//     @e2eVersion, which --local-repository serves from this checkout;
//   - the apply job runs in the environment vmc-apply (act applies no
//     protection rules; the secret file stands in for its secrets);
//   - the review comment goes to a local server speaking GitHub's
//     issues-comments API (githubtest), named by --env GITHUB_API_URL (which
//     act makes github.api_url) with the token as the secret GITHUB_TOKEN;
//   - actions/setup-go (pinned by SHA) is replaced by a stand-in composite action
//     (--local-repository): act prepares every remote action of a job, even
//     of a skipped step, and the workflows skip it anyway because the
//     repository variable VMC_GIT_BIN (--var) names the vmc-git binary this
//     test builds;
//   - actions/checkout is act's own: it copies the work tree, .git included,
//     so `origin` is the local bare repository with the pre-receive hook.
//
// act ignores branches: filters and takes GITHUB_SHA from the local HEAD, so
// the test checks out what the event says and picks the workflow with -W;
// the filters themselves are checked with actionlint's parser in
// internal/workflows. Secrets are handed over with --secret-file and reach
// the jobs only through the callers' secrets: blocks (act's process
// environment is kept minimal, since in host mode it leaks into every step).

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmc-git/vmc-git/internal/github"
	"github.com/vmc-git/vmc-git/internal/github/githubtest"
	"github.com/vmc-git/vmc-git/internal/workflows"
	"github.com/vmc-git/vmc-git/workspace"
)

// actVersion is the act release the workflows are tested with; CI installs
// it with `go install github.com/nektos/act@v0.2.89`.
const actVersion = "v0.2.89"

// e2eVersion is the release the test's vmc-git binary claims to be: the
// callers its init writes must pin the reusable workflows (served from this
// checkout under that ref) and the vmc-git they install to it.
const e2eVersion = "v1.9.0"

// e2eGitHubToken is the GITHUB_TOKEN act hands the workflows.
const e2eGitHubToken = "ghs_act-e2e"

func findAct(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("act"); err == nil {
		return p
	}
	if out, err := exec.Command(goTool(), "env", "GOPATH").Output(); err == nil {
		for _, gp := range filepath.SplitList(strings.TrimSpace(string(out))) {
			p := filepath.Join(gp, "bin", "act")
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	t.Skipf("act not found on PATH or in $(go env GOPATH)/bin: install it with `go install github.com/nektos/act@%s` to run the workflow end-to-end tests", actVersion)
	return ""
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// e2e is one end-to-end setup: a ledger repository, its bare origin and
// what act needs.
type e2e struct {
	t      *testing.T
	act    string
	dir    string // temp root
	bin    string // the vmc-git binary under test
	repo   string // the ledger repository (work tree)
	bare   string // its origin, with the pre-receive hook
	module string // this module's root: the reusable workflows
	setup  string // stand-in for actions/setup-go
	env    []string
	github *githubtest.Server // the GitHub API the review comment goes to
}

func (e *e2e) run(dir, name string, args ...string) string {
	e.t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = e.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		e.t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (e *e2e) vmc(args ...string) string { e.t.Helper(); return e.run(e.dir, e.bin, args...) }

// vmcCode runs vmc-git and returns its combined output and exit code.
func (e *e2e) vmcCode(args ...string) (string, int) {
	e.t.Helper()
	cmd := exec.Command(e.bin, args...)
	cmd.Dir, cmd.Env = e.dir, e.env
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		e.t.Fatalf("vmc-git %s: %v", strings.Join(args, " "), err)
	}
	return string(out), cmd.ProcessState.ExitCode()
}
func (e *e2e) git(dir string, args ...string) string {
	e.t.Helper()
	return strings.TrimSpace(e.run(dir, "git", args...))
}

// actResult is what one act run reported.
type actResult struct {
	jobs      map[string]string // job name -> "success" / "failure"
	summaries map[string]string // job name -> its $GITHUB_STEP_SUMMARY
	outputs   map[string]string // step output name -> value (last one wins)
	log       string            // every message, for failure reports
	err       error             // act's exit
}

// job returns the result of the job whose name contains sub.
func (r *actResult) job(sub string) (name, result string) {
	for n, res := range r.jobs {
		if strings.Contains(n, sub) {
			return n, res
		}
	}
	return "", ""
}

func (r *actResult) summary(sub string) string {
	for n, s := range r.summaries {
		if strings.Contains(n, sub) {
			return s
		}
	}
	return ""
}

// runAct runs one workflow of the ledger repository for an event.
func (e *e2e) runAct(event, workflow string, payload any) *actResult {
	e.t.Helper()
	b, err := json.Marshal(payload)
	if err != nil {
		e.t.Fatal(err)
	}
	evFile := filepath.Join(e.dir, "event-"+event+".json")
	if err := os.WriteFile(evFile, b, 0o644); err != nil {
		e.t.Fatal(err)
	}
	none := filepath.Join(e.dir, "none")
	args := []string{event,
		"-P", "ubuntu-latest=-self-hosted",
		"-e", evFile,
		"-W", workflows.Dir + "/" + workflow,
		"--no-cache-server",
		"--action-offline-mode",
		"--action-cache-path", filepath.Join(e.dir, "act-cache"),
		"--local-repository", workflows.DefaultRepo + "@" + e2eVersion + "=" + e.module,
		"--local-repository", "actions/setup-go@" + workflows.PinnedActions["actions/setup-go"].SHA + "=" + e.setup,
		"--var", "VMC_GIT_BIN=" + e.bin,
		"--var", "VMC_KID=alice",
		"--env", "GITHUB_API_URL=" + e.github.URL(),
		"--secret-file", filepath.Join(e.dir, "secrets.env"),
		"--env-file", none, "--var-file", none, "--input-file", none,
		"--json",
	}
	start := time.Now()
	cmd := exec.Command(e.act, args...)
	cmd.Dir = e.repo
	cmd.Env = e.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	r := &actResult{jobs: map[string]string{}, summaries: map[string]string{}, outputs: map[string]string{}}
	r.err = cmd.Run()
	e.t.Logf("act %s -W %s: %v in %s", event, workflow, r.err, time.Since(start).Round(time.Millisecond))
	var log strings.Builder
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var line struct {
			Msg, Job, JobResult, Command, Content, Name, Arg string
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil {
			log.WriteString(sc.Text() + "\n")
			continue
		}
		fmt.Fprintf(&log, "[%s] %s\n", strings.TrimSpace(line.Job), strings.TrimRight(line.Msg, "\n"))
		switch {
		case line.JobResult != "":
			r.jobs[strings.TrimSpace(line.Job)] = line.JobResult
		case line.Command == "summary":
			r.summaries[strings.TrimSpace(line.Job)] += line.Content
		case line.Command == "set-output":
			r.outputs[line.Name] = line.Arg
		}
	}
	log.WriteString(stderr.String())
	r.log = log.String()
	return r
}

// wantJob fails unless the job whose name contains sub ended with want.
func (e *e2e) wantJob(r *actResult, sub, want string) {
	e.t.Helper()
	name, got := r.job(sub)
	if got != want {
		e.t.Fatalf("job %q: result %q (%s), want %q; act: %v\n%s", sub, got, name, want, r.err, r.log)
	}
}

func newE2E(t *testing.T) *e2e {
	e := &e2e{t: t, act: findAct(t), dir: t.TempDir()}
	var err error
	if e.module, err = filepath.Abs("../.."); err != nil {
		t.Fatal(err)
	}
	// act in host mode hands its whole environment to every step: keep it
	// to what git and the tools need, so nothing from the test's own
	// environment (a signing key, GITHUB_* of an outer CI run) leaks in.
	home := filepath.Join(e.dir, "home")
	for _, d := range []string{home, filepath.Join(e.dir, "keys"), filepath.Join(e.dir, "setup-go")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	e.env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"XDG_CACHE_HOME=" + filepath.Join(e.dir, "cache"),
		"XDG_CONFIG_HOME=" + filepath.Join(e.dir, "config"),
		"TMPDIR=" + os.TempDir(),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=alice", "GIT_AUTHOR_EMAIL=alice@example.com",
		"GIT_COMMITTER_NAME=alice", "GIT_COMMITTER_EMAIL=alice@example.com",
	}

	e.bin = filepath.Join(e.dir, "vmc-git")
	start := time.Now()
	build := exec.Command(goTool(), "build", "-ldflags", "-X main.Version="+e2eVersion, "-o", e.bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("go build: %s", time.Since(start).Round(time.Millisecond))

	const setupGo = `name: setup-go (offline stand-in)
description: Stands in for actions/setup-go in vmc-git's act end-to-end test.
inputs:
  go-version: {description: ignored, required: false}
  go-version-file: {description: ignored, required: false}
  cache: {description: ignored, required: false}
runs:
  using: composite
  steps:
    - shell: bash
      run: echo "actions/setup-go stand-in, go is $(command -v go || echo missing)"
`
	e.setup = filepath.Join(e.dir, "setup-go")
	if err := os.WriteFile(filepath.Join(e.setup, "action.yml"), []byte(setupGo), 0o644); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestWorkflowsEndToEndAct(t *testing.T) {
	e := newE2E(t)
	if help := e.vmc("hook", "install", "--help"); !strings.Contains(help, "--repo") {
		t.Skip("vmc-git hook install --repo is not there yet")
	}
	keys := filepath.Join(e.dir, "keys")
	alice, bob := filepath.Join(keys, "alice"), filepath.Join(keys, "bob")
	e.vmc("keygen", "--kid", "alice", "--out", alice)
	e.vmc("keygen", "--kid", "bob", "--out", bob)
	pem, err := os.ReadFile(alice)
	if err != nil {
		t.Fatal(err)
	}
	// act reads the secret file with godotenv: a double-quoted value may
	// span lines written as \n.
	secret := "VMC_SIGNING_KEY_PEM=\"" + strings.ReplaceAll(strings.TrimSpace(string(pem)), "\n", `\n`) + "\\n\"\n"
	e.github = githubtest.New(e2eGitHubToken, github.DefaultAuthor)
	t.Cleanup(e.github.Close)
	secret += "GITHUB_TOKEN=" + e2eGitHubToken + "\n"
	if err := os.WriteFile(filepath.Join(e.dir, "secrets.env"), []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}

	// The ledger repository, as init makes it: the callers are committed on main.
	e.repo = filepath.Join(e.dir, "infra")
	e.vmc("init", e.repo, "--ledger", "example.com/e2e/infra", "--key", alice, "--roles", "admin,applier",
		"--operator", "bob:approver:"+bob+".pub", "--provider", "sandbox", "--no-policy")
	tracked := e.git(e.repo, "ls-tree", "--name-only", "HEAD", workflows.Dir+"/")
	for _, f := range workflows.CallerFiles {
		if !strings.Contains(tracked, workflows.Dir+"/"+f) {
			t.Fatalf("init did not commit %s/%s; main has:\n%s", workflows.Dir, f, tracked)
		}
		caller := e.git(e.repo, "show", "HEAD:"+workflows.Dir+"/"+f)
		if !strings.Contains(caller, "/.github/workflows/"+f+"@"+e2eVersion+"\n") || !strings.Contains(caller, `vmc-git-version: "`+e2eVersion+`"`) {
			t.Fatalf("%s is not pinned to %s, the version of the binary that wrote it:\n%s", f, e2eVersion, caller)
		}
		if f == workflows.ApplyFile && (!strings.Contains(caller, `environment: "vmc-apply"`) || !strings.Contains(caller, "secrets: inherit")) {
			t.Fatalf("the apply caller does not run in the vmc-apply environment:\n%s", caller)
		}
	}

	// Its origin: a bare repository with the pre-receive hook.
	e.bare = filepath.Join(e.dir, "origin.git")
	e.git(e.dir, "init", "-q", "--bare", "-b", "main", e.bare)
	e.vmc("hook", "install", "--repo", e.bare)
	if hook, err := os.ReadFile(filepath.Join(e.bare, "hooks", "pre-receive")); err != nil || !strings.Contains(string(hook), "hook pre-receive") {
		t.Fatalf("no pre-receive hook in %s: %v", e.bare, err)
	}
	e.git(e.repo, "remote", "add", "origin", e.bare)
	e.git(e.repo, "push", "-q", "origin", "main", "vmc/ledger")
	repoJSON := map[string]any{"full_name": "acme/infra", "name": "infra", "owner": map[string]any{"login": "acme"}, "default_branch": "main"}

	pullRequest := func(branch string, number int) map[string]any {
		return map[string]any{
			"action": "opened", "number": number, "repository": repoJSON,
			"pull_request": map[string]any{
				"number": number,
				"base":   map[string]any{"ref": "main", "sha": e.git(e.repo, "rev-parse", "main")},
				"head":   map[string]any{"ref": branch, "sha": e.git(e.repo, "rev-parse", branch)},
			},
		}
	}

	// Scenario 1: a pull request adds an approved plan: the review passes
	// and its summary shows the plan.
	e.git(e.repo, "checkout", "-q", "-b", "plan-web-1")
	e.vmc("-C", e.repo, "plan", "server", "create", "web-1", "--type", "cx22", "--image", "ubuntu-24.04",
		"--location", "fsn1", "--id", "web-1-create", "--kid", "alice")
	e.vmc("-C", e.repo, "approve", filepath.Join(e.repo, "plans", "web-1-create.json"), "--key", bob)
	e.git(e.repo, "add", "plans")
	e.git(e.repo, "commit", "-q", "-m", "plan web-1-create")
	r := e.runAct("pull_request", workflows.PlanReviewFile, pullRequest("plan-web-1", 1))
	e.wantJob(r, "plan review", "success")
	sum := r.summary("plan review")
	for _, want := range []string{"vmc-git plan review", "web-1-create", "create web-1", "1 of 1 (bob)", "+ server_type: cx22", "+ labels.vmc.plan: web-1-create  (added by vmc-git)"} {
		if !strings.Contains(sum, want) {
			t.Errorf("review summary lacks %q:\n%s", want, sum)
		}
	}
	if r.outputs["ok"] != "true" || r.outputs["plans"] != "1" || r.outputs["missing_approvals"] != "0" {
		t.Errorf("review outputs %v, want ok=true plans=1 missing_approvals=0", r.outputs)
	}
	// The review is the pull request's one comment; a second run edits it.
	comments := func(pr int) []githubtest.Comment {
		return e.github.Comments(fmt.Sprintf("acme/infra#%d", pr))
	}
	if cs := comments(1); len(cs) != 1 || !strings.Contains(cs[0].Body, "+ server_type: cx22") || !strings.HasPrefix(cs[0].Body, github.Marker) {
		t.Fatalf("pull request 1 comments after the review: %+v", cs)
	}
	first := comments(1)[0].ID
	r = e.runAct("pull_request", workflows.PlanReviewFile, pullRequest("plan-web-1", 1))
	e.wantJob(r, "plan review", "success")
	if cs := comments(1); len(cs) != 1 || cs[0].ID != first {
		t.Fatalf("pull request 1 comments after a second review: %+v (first was %d)", cs, first)
	}
	var methods []string
	for _, q := range e.github.Requests() {
		methods = append(methods, q.Method)
	}
	if want := "GET POST GET PATCH"; strings.Join(methods, " ") != want {
		t.Errorf("GitHub API requests %v, want %s", methods, want)
	}

	// Scenario 1b: a plan nobody approved yet fails the check, with the
	// review still in the summary.
	e.git(e.repo, "checkout", "-q", "-b", "plan-web-2", "main")
	e.vmc("-C", e.repo, "plan", "server", "create", "web-2", "--type", "cx22", "--image", "ubuntu-24.04",
		"--id", "web-2-create", "--kid", "alice")
	e.git(e.repo, "add", "plans")
	e.git(e.repo, "commit", "-q", "-m", "plan web-2-create")
	r = e.runAct("pull_request", workflows.PlanReviewFile, pullRequest("plan-web-2", 2))
	e.wantJob(r, "plan review", "failure")
	if !strings.Contains(r.summary("plan review"), "web-2-create") || !strings.Contains(r.log, "approval(s) missing") {
		t.Errorf("unapproved plan: want the review in the summary and an error naming missing approvals\n%s", r.log)
	}
	if cs := comments(2); len(cs) != 1 || !strings.Contains(cs[0].Body, "approval(s) missing") {
		t.Errorf("pull request 2 comments: %+v", cs)
	}
	e.git(e.repo, "checkout", "-q", "main")

	if help := e.vmc("apply", "--help"); !strings.Contains(help, "--push") {
		t.Skip("vmc-git apply --push is not there yet: the apply and verify scenarios run once it is")
	}

	// Scenario 2: the pull request is merged and pushed; the apply workflow
	// applies the plan against the sandbox, pushes the receipt through the
	// hook, and its verification job passes.
	before := e.git(e.repo, "rev-parse", "main")
	e.git(e.repo, "merge", "-q", "--ff-only", "plan-web-1")
	e.git(e.repo, "push", "-q", "origin", "main")
	after := e.git(e.repo, "rev-parse", "main")
	push := func(ref, before, after string) map[string]any {
		return map[string]any{"ref": ref, "before": before, "after": after, "repository": repoJSON}
	}
	r = e.runAct("push", workflows.ApplyFile, push("refs/heads/main", before, after))
	e.wantJob(r, "apply pending plans", "success")
	e.wantJob(r, "verify the ledger", "success")
	if r.outputs["receipts"] != "1" {
		t.Errorf("apply: receipts output %q, want 1", r.outputs["receipts"])
	}
	if s := r.summary("apply pending plans"); !strings.Contains(s, "web-1-create") {
		t.Errorf("apply summary does not name the plan:\n%s", s)
	}
	if s := r.summary("verify the ledger"); !strings.Contains(s, "ok:") || !strings.Contains(s, "2 receipts") {
		t.Errorf("verify summary:\n%s", s)
	}
	subject := e.git(e.bare, "log", "-1", "--format=%s", "vmc/ledger")
	if !strings.HasPrefix(subject, "vmc: 1 apply") || !strings.Contains(subject, "web-1-create") {
		t.Fatalf("origin's ledger head is %q, want the apply receipt of web-1-create", subject)
	}
	// What reached origin verifies outside act too, from a fresh clone.
	clone := filepath.Join(e.dir, "clone")
	e.git(e.dir, "clone", "-q", "--no-checkout", e.bare, clone)
	e.git(clone, "checkout", "-q", "main")
	e.git(clone, "branch", "-q", "vmc/ledger", "origin/vmc/ledger")
	e.vmc("-C", clone, "verify", "chain", "--sig")

	// Scenario 2b: a second run (a re-run, or one GitHub dropped and
	// restarted) finds nothing pending and writes nothing.
	r = e.runAct("push", workflows.ApplyFile, push("refs/heads/main", before, after))
	e.wantJob(r, "apply pending plans", "success")
	e.wantJob(r, "verify the ledger", "success")
	if r.outputs["receipts"] != "0" {
		t.Errorf("second apply: receipts output %q, want 0", r.outputs["receipts"])
	}
	if got := e.git(e.bare, "rev-list", "--count", "vmc/ledger"); got != "2" {
		t.Errorf("origin's ledger has %s receipts after the re-run, want 2", got)
	}

	// Scenario 3: the verify workflow, on a push to the ledger branch and on
	// its schedule. act reads the workflow from the work tree and the ledger
	// branch's tree has none, so main stays checked out and only the event
	// says vmc/ledger (GitHub would likewise need the file in the pushed
	// commit: see the caller's header). The workflow does not depend on the
	// checked-out commit: it fetches both branches from origin.
	e.git(e.repo, "fetch", "-q", "origin", "+refs/heads/vmc/ledger:refs/heads/vmc/ledger")
	r = e.runAct("push", workflows.VerifyFile, push("refs/heads/vmc/ledger", "", e.git(e.repo, "rev-parse", "vmc/ledger")))
	e.wantJob(r, "verify the ledger", "success")
	if s := r.summary("verify the ledger"); !strings.Contains(s, "2 receipts") {
		t.Errorf("verify summary on ledger push:\n%s", s)
	}
	if len(r.outputs["head"]) != 64 {
		t.Errorf("verify: head output %q, want a blake3", r.outputs["head"])
	}
	r = e.runAct("schedule", workflows.VerifyFile, map[string]any{"schedule": workflows.DefaultCron, "repository": repoJSON})
	e.wantJob(r, "verify the ledger", "success")

	// Scenario 4: the scheduled drift workflow. act's checkout copies the
	// work tree, so the apply of scenario 2 created web-1 in a copy's
	// embedded sandbox: this repository's sandbox never saw it, and web-1
	// is missing here, as if deleted behind vmc-git's back.
	e.git(e.repo, "fetch", "-q", "origin", "+refs/heads/vmc/ledger:refs/heads/vmc/ledger")
	if out, code := e.vmcCode("-C", e.repo, "drift"); code != exitDrift || !strings.Contains(out, "missing    server/web-1") {
		t.Fatalf("local drift before the drift workflow: exit %d\n%s", code, out)
	}
	schedule := map[string]any{"schedule": workflows.DefaultDriftCron, "repository": repoJSON}
	driftIssues := func() []githubtest.Issue { return e.github.Issues("acme/infra") }
	// Made with init --no-policy, main has no policy/*.rego yet: the
	// policy step says it skipped and drift still runs.
	r = e.runAct("schedule", workflows.DriftFile, schedule)
	e.wantJob(r, "policy and drift", "failure") // drift: the run goes red
	if s := r.summary("policy and drift"); !strings.Contains(s, "no policy/*.rego on main: policy check skipped") || !strings.Contains(s, "missing    server/web-1") {
		t.Errorf("drift summary without a policy:\n%s", s)
	}
	if r.outputs["drift"] != "true" || r.outputs["pass"] != "true" {
		t.Errorf("drift outputs without a policy %v, want drift=true pass=true", r.outputs)
	}
	// The operators commit a (warn-only) policy to main.
	if err := os.MkdirAll(filepath.Join(e.repo, "policy"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.repo, "policy", "e2e.rego"), []byte("package vmc\n\nwarn contains {\"resource\": \"ledger\", \"rule\": \"e2e-warn\", \"reason\": \"two servers or more\"} if count(input.servers) > 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.git(e.repo, "add", "policy")
	e.git(e.repo, "commit", "-q", "-m", "policy: a warning")
	e.git(e.repo, "push", "-q", "origin", "main")
	r = e.runAct("schedule", workflows.DriftFile, schedule)
	e.wantJob(r, "policy and drift", "failure") // drift: the run goes red
	if s := r.summary("policy and drift"); !strings.Contains(s, "### vmc-git policy check") || !strings.Contains(s, "missing    server/web-1") {
		t.Errorf("drift summary:\n%s", s)
	}
	if r.outputs["drift"] != "true" || r.outputs["pass"] != "true" {
		t.Errorf("drift outputs %v, want drift=true pass=true", r.outputs)
	}
	is := driftIssues()
	if len(is) != 1 || is[0].State != "open" || !slices.Contains(is[0].Labels, workspace.DriftIssueLabel) || !strings.Contains(is[0].Body, "| missing | `server/web-1` |") {
		t.Fatalf("issues after the first drift run: %+v", is)
	}
	// Both attestations reached origin through the hook.
	if log := e.git(e.bare, "log", "--format=%s", "-2", "vmc/ledger"); !strings.Contains(log, "attestation drift report") || !strings.Contains(log, "attestation policy check") {
		t.Fatalf("origin's ledger after the drift run:\n%s", log)
	}
	r = e.runAct("schedule", workflows.DriftFile, schedule)
	e.wantJob(r, "policy and drift", "failure")
	if is := driftIssues(); len(is) != 1 || is[0].State != "open" {
		t.Fatalf("issues after the second drift run (want the same one, updated): %+v", is)
	}
	// The operator adopts the change; the next run finds no drift and
	// closes the issue with a comment.
	e.git(e.repo, "fetch", "-q", "origin", "+refs/heads/vmc/ledger:refs/heads/vmc/ledger")
	if out, code := e.vmcCode("-C", e.repo, "drift", "--adopt", "--push", "--key", alice, "--kid", "alice"); code != exitDrift || !strings.Contains(out, "adopted in manual receipt") {
		t.Fatalf("drift --adopt --push: exit %d\n%s", code, out)
	}
	r = e.runAct("schedule", workflows.DriftFile, schedule)
	e.wantJob(r, "policy and drift", "success")
	if is := driftIssues(); len(is) != 1 || is[0].State != "closed" || len(e.github.Comments(fmt.Sprintf("acme/infra#%d", is[0].Number))) != 1 {
		t.Fatalf("issues after drift is gone: %+v", is)
	}
	e.git(e.repo, "fetch", "-q", "origin", "+refs/heads/vmc/ledger:refs/heads/vmc/ledger")
	e.vmc("-C", e.repo, "verify", "chain", "--sig")
}
