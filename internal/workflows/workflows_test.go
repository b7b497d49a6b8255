package workflows

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"

	"github.com/vmc-git/vmc-git/internal/config"
)

// repoRoot is the vmc-git module root, which holds .github/workflows.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found at %s: %v", root, err)
	}
	return root
}

func defaultParams() Params {
	return ParamsFor(&config.Config{V: 1, Ledger: "github.com/acme/infra", Branch: "vmc/ledger", MainBranch: "main", Provider: config.ProviderSandbox}, "dev")
}

// lint runs actionlint on one workflow, with shellcheck when it is installed
// (it is on GitHub's runners, so CI always checks the scripts too).
func lint(t *testing.T, project *actionlint.Project, name string, src []byte) {
	t.Helper()
	opts := &actionlint.LinterOptions{LogWriter: io.Discard}
	if sc, err := exec.LookPath("shellcheck"); err == nil {
		opts.Shellcheck = sc
	}
	if project != nil {
		opts.WorkingDir = project.RootDir()
	}
	var out bytes.Buffer
	l, err := actionlint.NewLinter(&out, opts)
	if err != nil {
		t.Fatal(err)
	}
	errs, err := l.Lint(name, src, project)
	if err != nil {
		t.Fatalf("actionlint %s: %v", name, err)
	}
	for _, e := range errs {
		t.Errorf("actionlint %s:%d:%d: %s [%s]", name, e.Line, e.Column, e.Message, e.Kind)
	}
}

func parse(t *testing.T, name string, src []byte) *actionlint.Workflow {
	t.Helper()
	w, errs := actionlint.Parse(src)
	for _, e := range errs {
		t.Errorf("parse %s:%d:%d: %s", name, e.Line, e.Column, e.Message)
	}
	if w == nil {
		t.Fatalf("parse %s: no workflow", name)
	}
	return w
}

// projectWorkflows reads the vmc-git repository's own workflows.
func projectWorkflows(t *testing.T) map[string][]byte {
	t.Helper()
	dir := filepath.Join(repoRoot(t), filepath.FromSlash(Dir))
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]byte{}
	for _, e := range ents {
		if n := e.Name(); strings.HasSuffix(n, ".yml") || strings.HasSuffix(n, ".yaml") {
			b, err := os.ReadFile(filepath.Join(dir, n))
			if err != nil {
				t.Fatal(err)
			}
			m[n] = b
		}
	}
	for _, want := range append([]string{"ci.yml"}, CallerFiles...) {
		if m[want] == nil {
			t.Errorf("%s/%s is missing", Dir, want)
		}
	}
	return m
}

func TestProjectWorkflowsLint(t *testing.T) {
	root := repoRoot(t)
	project, err := actionlint.NewProject(root)
	if err != nil {
		t.Fatal(err)
	}
	for name, src := range projectWorkflows(t) {
		t.Run(name, func(t *testing.T) {
			lint(t, project, filepath.Join(root, filepath.FromSlash(Dir), name), src)
		})
	}
}

func TestCallersLint(t *testing.T) {
	files, err := Render(defaultParams())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f.Path), func(t *testing.T) {
			lint(t, nil, f.Path, f.Data)
		})
	}
}

// TestCallersMatchReusable lints the callers with their uses: pointed at
// local copies of the reusable workflows, so actionlint also checks every
// input and secret a caller passes against the workflow_call it calls
// (names, types, required ones present).
func TestCallersMatchReusable(t *testing.T) {
	reusable := projectWorkflows(t)
	files, err := Render(defaultParams())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	wdir := filepath.Join(dir, filepath.FromSlash(Dir))
	if err := os.MkdirAll(wdir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range CallerFiles {
		if err := os.WriteFile(filepath.Join(wdir, "reusable-"+name), reusable[name], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	project, err := actionlint.NewProject(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		name := filepath.Base(f.Path)
		remote := DefaultRepo + "/.github/workflows/" + name + "@" + DefaultRef
		if !bytes.Contains(f.Data, []byte("uses: "+remote+"\n")) {
			t.Fatalf("%s does not call %s", name, remote)
		}
		local := bytes.ReplaceAll(f.Data, []byte(remote), []byte("./.github/workflows/reusable-"+name))
		path := filepath.Join(wdir, name)
		if err := os.WriteFile(path, local, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Run(name, func(t *testing.T) { lint(t, project, path, local) })
	}
}

// webhook returns the workflow's trigger for event, or nil.
func webhook(w *actionlint.Workflow, event string) *actionlint.WebhookEvent {
	for _, e := range w.On {
		if h, ok := e.(*actionlint.WebhookEvent); ok && h.Hook.Value == event {
			return h
		}
	}
	return nil
}

func filterValues(f *actionlint.WebhookEventFilter) []string {
	if f == nil {
		return nil
	}
	var v []string
	for _, s := range f.Values {
		v = append(v, s.Value)
	}
	return v
}

func callerTriggers(t *testing.T, p Params) map[string]*actionlint.Workflow {
	t.Helper()
	files, err := Render(p)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]*actionlint.Workflow{}
	for _, f := range files {
		m[filepath.Base(f.Path)] = parse(t, f.Path, f.Data)
	}
	return m
}

func TestCallerTriggers(t *testing.T) {
	p := defaultParams()
	p.MainBranch, p.LedgerBranch = "trunk", "audit/ledger"
	ws := callerTriggers(t, p)

	// Plan review: pull requests into the main branch, nothing else.
	review := ws[PlanReviewFile]
	if h := webhook(review, "pull_request"); h == nil || !slices.Equal(filterValues(h.Branches), []string{"trunk"}) {
		t.Errorf("plan review: want pull_request with branches [trunk], have %+v", h)
	}
	if len(review.On) != 1 {
		t.Errorf("plan review: want only pull_request, have %d triggers", len(review.On))
	}

	// Apply: pushes to main (and by hand), never pull requests.
	apply := ws[ApplyFile]
	if h := webhook(apply, "push"); h == nil || !slices.Equal(filterValues(h.Branches), []string{"trunk"}) || h.Tags != nil || h.Paths != nil {
		t.Errorf("apply: want push with branches [trunk] and no other filter, have %+v", h)
	}
	if webhook(apply, "pull_request") != nil || webhook(apply, "pull_request_target") != nil {
		t.Error("apply must not run on pull requests")
	}
	if apply.Permissions == nil || apply.Permissions.Scopes["contents"] == nil || apply.Permissions.Scopes["contents"].Value.Value != "write" {
		t.Error("apply caller must grant contents: write (the reusable workflow pushes receipts)")
	}

	// Verify: pushes to the ledger branch and a schedule.
	verify := ws[VerifyFile]
	if h := webhook(verify, "push"); h == nil || !slices.Equal(filterValues(h.Branches), []string{"audit/ledger"}) {
		t.Errorf("verify: want push with branches [audit/ledger], have %+v", h)
	}
	var cron []string
	for _, e := range verify.On {
		if s, ok := e.(*actionlint.ScheduledEvent); ok {
			for _, c := range s.Schedules {
				cron = append(cron, c.Cron.Value)
			}
		}
	}
	if !slices.Equal(cron, []string{DefaultCron}) {
		t.Errorf("verify: schedule %q, want [%q]", cron, DefaultCron)
	}

	// Each caller is one job calling the reusable workflow of the same name,
	// with the branch names as inputs.
	for name, w := range ws {
		if len(w.Jobs) != 1 {
			t.Errorf("%s: %d jobs, want 1", name, len(w.Jobs))
		}
		for _, j := range w.Jobs {
			want := DefaultRepo + "/.github/workflows/" + name + "@" + DefaultRef
			if j.WorkflowCall == nil || j.WorkflowCall.Uses.Value != want {
				t.Errorf("%s: job %s does not call %s", name, j.ID.Value, want)
				continue
			}
			if in := j.WorkflowCall.Inputs["ledger-branch"]; in == nil || in.Value.Value != "audit/ledger" {
				t.Errorf("%s: ledger-branch input %+v, want audit/ledger", name, in)
			}
		}
	}
	if in := verify.Jobs["verify"].WorkflowCall.Inputs["main-branch"]; in == nil || in.Value.Value != "trunk" {
		t.Errorf("verify: main-branch input %+v, want trunk", in)
	}
	// The apply caller hands over its secrets with secrets: inherit, so the
	// reusable workflow's job sees the vmc-apply environment's secrets.
	if wc := apply.Jobs["apply"].WorkflowCall; wc == nil || !wc.InheritSecrets {
		t.Errorf("apply: caller must pass secrets: inherit (environment secrets)")
	}
}

// TestBranchFilterEscaping: a branch filter matches exactly the branch, even
// when its name has filter-pattern characters git allows.
func TestBranchFilterEscaping(t *testing.T) {
	p := defaultParams()
	p.MainBranch, p.LedgerBranch = "!release+1", "ledger#1/ü"
	ws := callerTriggers(t, p)
	if got := filterValues(webhook(ws[ApplyFile], "push").Branches); !slices.Equal(got, []string{`\!release\+1`}) {
		t.Errorf("apply branches %q, want [\\!release\\+1]", got)
	}
	if got := filterValues(webhook(ws[VerifyFile], "push").Branches); !slices.Equal(got, []string{"ledger#1/ü"}) {
		t.Errorf("verify branches %q", got)
	}
	if in := ws[ApplyFile].Jobs["apply"].WorkflowCall.Inputs["ledger-branch"]; in.Value.Value != "ledger#1/ü" {
		t.Errorf("ledger-branch input %q", in.Value.Value)
	}
	files, err := Render(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		lint(t, nil, f.Path, f.Data)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Params)
		want string
	}{
		{"empty main", func(p *Params) { p.MainBranch = "" }, "main branch"},
		{"newline ledger", func(p *Params) { p.LedgerBranch = "a\nb" }, "ledger branch"},
		{"glob ledger", func(p *Params) { p.LedgerBranch = "vmc/*" }, "ledger branch"},
		{"dotdot", func(p *Params) { p.MainBranch = "a..b" }, "main branch"},
		{"repo", func(p *Params) { p.Repo = "vmc-git" }, "repository"},
		{"ref with expression", func(p *Params) { p.Ref = "${{ x }}" }, "ref"},
		{"cron", func(p *Params) { p.Cron = "daily" }, "cron"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := defaultParams()
			tc.edit(&p)
			_, err := Render(p)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Render: %v, want an error about %s", err, tc.want)
			}
		})
	}
}

// TestReusableWorkflows checks with actionlint's parser what the callers and
// `vmc-git apply --pending` rely on.
func TestReusableWorkflows(t *testing.T) {
	src := projectWorkflows(t)
	ws := map[string]*actionlint.Workflow{}
	for _, name := range CallerFiles {
		w := parse(t, name, src[name])
		ws[name] = w
		if len(w.On) != 1 {
			t.Errorf("%s: %d triggers, want only workflow_call", name, len(w.On))
		}
		call, ok := w.FindWorkflowCallEvent()
		if !ok {
			t.Fatalf("%s: no on: workflow_call", name)
		}
		var inputs []string
		for _, in := range call.Inputs {
			inputs = append(inputs, in.ID)
			if in.Description == nil || in.Description.Value == "" {
				t.Errorf("%s: input %s has no description", name, in.Name.Value)
			}
		}
		for _, want := range []string{"ledger-branch", "vmc-git-version", "vmc-git-bin", "go-version", "runs-on"} {
			if !slices.Contains(inputs, want) {
				t.Errorf("%s: no input %s", name, want)
			}
		}
		for id, s := range call.Secrets {
			if s.Description == nil || s.Description.Value == "" {
				t.Errorf("%s: secret %s has no description", name, id)
			}
		}
		for id, j := range w.Jobs {
			if j.Permissions == nil {
				t.Errorf("%s: job %s does not state its permissions", name, id)
			}
			if j.TimeoutMinutes == nil {
				t.Errorf("%s: job %s has no timeout-minutes", name, id)
			}
		}
	}

	apply := ws[ApplyFile]
	call, _ := apply.FindWorkflowCallEvent()
	if s := call.Secrets["vmc_signing_key_pem"]; s == nil {
		t.Error("vmc-apply: secret VMC_SIGNING_KEY_PEM must be declared")
	}
	// The apply job runs in the environment that holds its secrets.
	if in := input(call, "environment"); in == nil || in.Default == nil || in.Default.Value != DefaultEnvironment {
		t.Errorf("vmc-apply: input environment must default to %s", DefaultEnvironment)
	}
	if e := apply.Jobs["apply"].Environment; e == nil || e.Name == nil || e.Name.Value != "${{ inputs.environment }}" {
		t.Errorf("vmc-apply: job apply must run in environment ${{ inputs.environment }}, has %+v", e)
	}
	// pull-requests: write only in the review job (it posts the comment).
	for name, w := range ws {
		for id, j := range w.Jobs {
			pr := j.Permissions.Scopes["pull-requests"]
			want := name == PlanReviewFile && id == "review"
			if got := pr != nil && pr.Value.Value == "write"; got != want {
				t.Errorf("%s: job %s: pull-requests: write is %v, want %v", name, id, got, want)
			}
		}
	}
	if s := call.Secrets["hcloud_token"]; s == nil || (s.Required != nil && s.Required.Value) {
		t.Error("vmc-apply: secret HCLOUD_TOKEN must exist and be optional (sandbox ledgers)")
	}
	j := apply.Jobs["apply"]
	if j == nil {
		t.Fatal("vmc-apply: no job apply")
	}
	c := j.Concurrency
	if c == nil || c.Group == nil || !strings.HasPrefix(c.Group.Value, "vmc-apply-") || !strings.Contains(c.Group.Value, "github.repository") {
		t.Errorf("vmc-apply: job apply needs concurrency group vmc-apply-${{ github.repository }}, have %+v", c)
	}
	if c == nil || c.CancelInProgress == nil || c.CancelInProgress.Value || c.CancelInProgress.Expression != nil {
		t.Error("vmc-apply: job apply must set cancel-in-progress: false (literally)")
	}
	if apply.Concurrency != nil && (apply.Concurrency.CancelInProgress == nil || apply.Concurrency.CancelInProgress.Value) {
		t.Error("vmc-apply: workflow-level concurrency must not cancel")
	}
	if j.Permissions.Scopes["contents"] == nil || j.Permissions.Scopes["contents"].Value.Value != "write" {
		t.Error("vmc-apply: job apply needs contents: write to push receipts")
	}
	applyRE := regexp.MustCompile(`(?m)^\s*vmc-git apply --pending --push\b`)
	if !slices.ContainsFunc(j.Steps, func(s *actionlint.Step) bool { return runs(s, applyRE) }) {
		t.Error("vmc-apply: job apply does not run vmc-git apply --pending --push")
	}
	v := apply.Jobs["verify"]
	if v == nil || len(v.Needs) != 1 || v.Needs[0].Value != "apply" {
		t.Fatal("vmc-apply: want job verify with needs: apply")
	}
	verifyRE := regexp.MustCompile(`(?m)^\s*vmc-git verify chain --sig\b`)
	if !slices.ContainsFunc(v.Steps, func(s *actionlint.Step) bool { return runs(s, verifyRE) }) {
		t.Error("vmc-apply: job verify does not run vmc-git verify chain --sig")
	}
	if !slices.ContainsFunc(ws[VerifyFile].Jobs["verify"].Steps, func(s *actionlint.Step) bool { return runs(s, verifyRE) }) {
		t.Error("vmc-verify: does not run vmc-git verify chain --sig")
	}
	reviewRE := regexp.MustCompile(`(?m)^\s*vmc-git plan review --base\b`)
	if !slices.ContainsFunc(ws[PlanReviewFile].Jobs["review"].Steps, func(s *actionlint.Step) bool { return runs(s, reviewRE) }) {
		t.Error("vmc-plan-review: does not run vmc-git plan review --base")
	}
	// No signing key reaches the pull request check.
	if call, _ := ws[PlanReviewFile].FindWorkflowCallEvent(); call.Secrets["vmc_signing_key_pem"] != nil {
		t.Error("vmc-plan-review must not take a signing key")
	}
}

func input(call *actionlint.WorkflowCallEvent, id string) *actionlint.WorkflowCallEventInput {
	for _, in := range call.Inputs {
		if in.ID == id {
			return in
		}
	}
	return nil
}

func runs(s *actionlint.Step, re *regexp.Regexp) bool {
	r, ok := s.Exec.(*actionlint.ExecRun)
	return ok && r.Run != nil && re.MatchString(r.Run.Value)
}

func TestWriteCallers(t *testing.T) {
	dir := t.TempDir()
	cfg := &config.Config{V: 1, Ledger: "github.com/acme/infra", Branch: "vmc/ledger", MainBranch: "main", Provider: config.ProviderSandbox}
	// A workflow the user already has is kept.
	mine := []byte("# mine\n")
	if err := os.MkdirAll(filepath.Join(dir, filepath.FromSlash(Dir)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(Dir), VerifyFile), mine, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := WriteCallers(dir, cfg, "v1.4.2")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{Dir + "/" + PlanReviewFile, Dir + "/" + ApplyFile, Dir + "/" + DriftFile}
	if !slices.Equal(got, want) {
		t.Fatalf("wrote %q, want %q", got, want)
	}
	files, _ := Render(ParamsFor(cfg, "v1.4.2"))
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
		if err != nil {
			t.Fatal(err)
		}
		if f.Path == Dir+"/"+VerifyFile {
			if !bytes.Equal(b, mine) {
				t.Error("an existing workflow was overwritten")
			}
		} else if !bytes.Equal(b, f.Data) {
			t.Errorf("%s differs from Render", f.Path)
		}
	}
	if again, err := WriteCallers(dir, cfg, "v1.4.2"); err != nil || len(again) != 0 {
		t.Errorf("second WriteCallers: wrote %q, %v; want nothing", again, err)
	}
}

// TestPackageDocExample keeps the example in the package doc true.
func TestPackageDocExample(t *testing.T) {
	b, err := os.ReadFile("workflows.go")
	if err != nil {
		t.Fatal(err)
	}
	var doc []string
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "//\ton:") {
			in = true
		}
		if in {
			if !strings.HasPrefix(line, "//\t") {
				break
			}
			doc = append(doc, strings.TrimPrefix(line, "//\t"))
		}
	}
	p := defaultParams()
	p.Ref, p.Version = "v1.2.3", "v1.2.3"
	files, err := Render(p)
	if err != nil {
		t.Fatal(err)
	}
	var apply string
	for _, f := range files {
		if f.Path == Dir+"/"+ApplyFile {
			apply = string(f.Data)
		}
	}
	// The example is the rendered file without comments and blank lines.
	var want []string
	for _, line := range strings.Split(apply, "\n") {
		if line != "" && !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, "name:") {
			want = append(want, line)
		}
	}
	if got := strings.Join(doc, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("package doc example:\n%s\nrendered apply caller:\n%s", got, strings.Join(want, "\n"))
	}
}

// TestCallersPinVersion: callers written by a release binary pin the
// reusable workflows and the vmc-git they install to that release; a
// development build pins DefaultRef.
func TestCallersPinVersion(t *testing.T) {
	cfg := &config.Config{V: 1, Ledger: "github.com/acme/infra", Branch: "vmc/ledger", MainBranch: "main", Provider: config.ProviderSandbox}
	for _, c := range []struct{ version, want string }{
		{"v1.4.2", "v1.4.2"}, {"v2.0.0-rc.1", "v2.0.0-rc.1"},
		{"dev", DefaultRef}, {"", DefaultRef}, {"v0.0.0-20261201090000-abcdefabcdef", DefaultRef}, {"v1.4", DefaultRef},
	} {
		files, err := Render(ParamsFor(cfg, c.version))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			name := filepath.Base(f.Path)
			w := parse(t, name, f.Data)
			for id, j := range w.Jobs {
				if j.WorkflowCall == nil {
					continue
				}
				if want := DefaultRepo + "/.github/workflows/" + name + "@" + c.want; j.WorkflowCall.Uses.Value != want {
					t.Errorf("version %q: %s job %s uses %s, want %s", c.version, name, id, j.WorkflowCall.Uses.Value, want)
				}
				if in := j.WorkflowCall.Inputs["vmc-git-version"]; in == nil || in.Value.Value != c.want {
					t.Errorf("version %q: %s: vmc-git-version %+v, want %s", c.version, name, in, c.want)
				}
			}
		}
	}
}

var pinnedRE = regexp.MustCompile(`(?m)^\s*(?:-\s*)?uses:\s*([^\s@]+)@(\S+)(?:\s+#\s*(\S+))?\s*$`)

// TestActionsPinned: every third-party action in the project's workflows is
// pinned to the commit SHA of PinnedActions, with its tag in a comment.
func TestActionsPinned(t *testing.T) {
	n := 0
	for name, src := range projectWorkflows(t) {
		for _, m := range pinnedRE.FindAllStringSubmatch(string(src), -1) {
			action, ref, tag := m[1], m[2], m[3]
			if strings.HasPrefix(action, "./") || strings.HasPrefix(action, DefaultRepo+"/") {
				continue
			}
			n++
			pin, ok := PinnedActions[action]
			if !ok {
				t.Errorf("%s: action %s is not in PinnedActions", name, action)
				continue
			}
			if ref != pin.SHA || tag != pin.Tag {
				t.Errorf("%s: uses %s@%s # %s, want %s@%s # %s", name, action, ref, tag, action, pin.SHA, pin.Tag)
			}
		}
	}
	if n == 0 {
		t.Fatal("no actions found: the pattern is broken")
	}
}

// TestReleaseWorkflow: tagged releases build vmc-git (and vmc-git-hook beside it) for linux and darwin on
// amd64 and arm64 with the tag as its version and publish SHA-256 sums; only
// that job may write.
func TestReleaseWorkflow(t *testing.T) {
	src := projectWorkflows(t)["release.yml"]
	if src == nil {
		t.Fatal("no release workflow")
	}
	w := parse(t, "release.yml", src)
	var tags []string
	for _, e := range w.On {
		if h, ok := e.(*actionlint.WebhookEvent); ok && h.Hook.Value == "push" && h.Tags != nil {
			tags = filterValues(h.Tags)
		}
	}
	if len(tags) == 0 || !strings.HasPrefix(tags[0], "v") {
		t.Errorf("release: want on push tags v…, have %v", tags)
	}
	j := w.Jobs["release"]
	if j == nil || j.Permissions.Scopes["contents"] == nil || j.Permissions.Scopes["contents"].Value.Value != "write" {
		t.Fatal("release: job release needs contents: write")
	}
	if w.Permissions == nil || w.Permissions.Scopes["contents"] == nil || w.Permissions.Scopes["contents"].Value.Value != "read" {
		t.Error("release: the workflow default must be contents: read")
	}
	var script string
	for _, s := range j.Steps {
		if r, ok := s.Exec.(*actionlint.ExecRun); ok && r.Run != nil {
			script += r.Run.Value + "\n"
		}
	}
	for _, want := range []string{"for os in linux darwin", "for arch in amd64 arm64", "-X main.Version=$TAG", "sha256sum", "SHA256SUMS", "gh release create", "--version", "for cmd in vmc-git vmc-git-hook"} {
		if !strings.Contains(script, want) {
			t.Errorf("release: the build does not %q", want)
		}
	}
}

// TestDriftWorkflow: the drift caller runs on a schedule only, with the
// permissions the reusable workflow needs, in the apply environment; the
// reusable workflow runs policy check and drift with --attest --push and
// the drift issue, and only its job may write issues.
func TestDriftWorkflow(t *testing.T) {
	p := defaultParams()
	p.MainBranch, p.LedgerBranch = "trunk", "audit/ledger"
	caller := callerTriggers(t, p)[DriftFile]
	var cron []string
	for _, e := range caller.On {
		switch e := e.(type) {
		case *actionlint.ScheduledEvent:
			for _, c := range e.Schedules {
				cron = append(cron, c.Cron.Value)
			}
		case *actionlint.WorkflowDispatchEvent:
		default:
			t.Errorf("drift caller: trigger %s, want only schedule and workflow_dispatch", e.EventName())
		}
	}
	if !slices.Equal(cron, []string{DefaultDriftCron}) {
		t.Errorf("drift caller: schedule %q, want [%q]", cron, DefaultDriftCron)
	}
	for _, scope := range []string{"contents", "issues"} {
		if s := caller.Permissions.Scopes[scope]; s == nil || s.Value.Value != "write" {
			t.Errorf("drift caller: %s: write missing", scope)
		}
	}
	wc := caller.Jobs["drift"].WorkflowCall
	if wc == nil || !wc.InheritSecrets {
		t.Fatal("drift caller: must call the reusable workflow with secrets: inherit (environment secrets)")
	}
	for in, want := range map[string]string{"ledger-branch": "audit/ledger", "main-branch": "trunk", "environment": DefaultEnvironment, "kid": "${{ vars.VMC_KID }}"} {
		if got := wc.Inputs[in]; got == nil || got.Value.Value != want {
			t.Errorf("drift caller: input %s %+v, want %s", in, got, want)
		}
	}

	w := parse(t, DriftFile, projectWorkflows(t)[DriftFile])
	j := w.Jobs["drift"]
	if j == nil {
		t.Fatal("vmc-drift: no job drift")
	}
	if e := j.Environment; e == nil || e.Name == nil || e.Name.Value != "${{ inputs.environment }}" {
		t.Errorf("vmc-drift: job drift must run in environment ${{ inputs.environment }}, has %+v", e)
	}
	for _, scope := range []string{"contents", "issues"} {
		if s := j.Permissions.Scopes[scope]; s == nil || s.Value.Value != "write" {
			t.Errorf("vmc-drift: job drift: %s: write missing", scope)
		}
	}
	if s := j.Permissions.Scopes["pull-requests"]; s != nil {
		t.Error("vmc-drift: job drift needs no pull-requests permission")
	}
	if c := j.Concurrency; c == nil || c.CancelInProgress == nil || c.CancelInProgress.Value {
		t.Error("vmc-drift: a run must not cancel another (an attestation push in flight)")
	}
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^\s*vmc-git policy check --attest --push\b`),
		regexp.MustCompile(`(?m)^\s*vmc-git drift --attest --push\b.*--report-issue\b`),
	} {
		if !slices.ContainsFunc(j.Steps, func(s *actionlint.Step) bool { return runs(s, re) }) {
			t.Errorf("vmc-drift: no step runs %s", re)
		}
	}
	// Only the drift job of vmc-drift writes issues.
	for _, name := range CallerFiles {
		for id, j := range parse(t, name, projectWorkflows(t)[name]).Jobs {
			is := j.Permissions.Scopes["issues"]
			want := name == DriftFile && id == "drift"
			if got := is != nil && is.Value.Value == "write"; got != want {
				t.Errorf("%s: job %s: issues: write is %v, want %v", name, id, got, want)
			}
		}
	}
	p.DriftCron = "hourly"
	if _, err := Render(p); err == nil || !strings.Contains(err.Error(), "drift cron") {
		t.Errorf("bad drift cron: %v", err)
	}
}
