// Package workflows holds the GitHub Actions caller workflows that
// `vmc-git init` writes into a ledger repository.
//
// The work is done by four reusable workflows (on: workflow_call) in the
// vmc-git repository itself, .github/workflows/ there, each documented in its
// header:
//
//	vmc-plan-review.yml  on pull requests: `vmc-git plan review` of the added plans
//	vmc-apply.yml        on push to main: `vmc-git apply --pending --push`, then
//	                     `vmc-git verify chain --sig` in a second job; concurrency
//	                     group vmc-apply-<owner/repo> with cancel-in-progress false
//	vmc-verify.yml       on push to the ledger branch and on a schedule:
//	                     `vmc-git verify chain --sig`
//	vmc-drift.yml        on a schedule (DefaultDriftCron): `vmc-git policy check
//	                     --attest --push`, then `vmc-git drift --attest --push
//	                     --report-issue` (one vmc-drift issue while drift stands);
//	                     in the apply environment, for the applier key
//
// GitHub starts a push workflow only from the files in the pushed commit's
// tree. Ledger commits carry none, so the verify caller's push trigger fires
// only where the ledger branch holds the caller too; and pushes made with
// GITHUB_TOKEN (the apply workflow's) start no workflow at all. That is why
// vmc-apply.yml verifies, in its own job, every receipt it pushes, and why the
// verify caller also runs on a schedule.
//
// A ledger repository gets one thin caller per reusable workflow, under the
// same file name in its own .github/workflows/ (see [Caller files]). A caller
// holds only what differs per repository: the triggers with the repository's
// branch names, the reference to the reusable workflow
// (DefaultRepo/.github/workflows/<file>@<version>), the vmc-git version the
// reusable workflow installs (the same: the release of the binary that wrote
// the caller, see ParamsFor), and the repository's secrets and variables:
//
//	secrets.VMC_SIGNING_KEY_PEM  the applier key (OpenSSH private key text), apply only,
//	                             an environment secret of DefaultEnvironment (vmc-apply)
//	secrets.HCLOUD_TOKEN         Hetzner Cloud token, read-write, apply only, same environment
//	secrets.HCLOUD_READ_TOKEN    Hetzner Cloud token, read-only, plan review only
//	secrets.GITHUB_TOKEN         GitHub's own: the review comment (pull-requests: write),
//	                             the drift issue (issues: write)
//	vars.VMC_KID                 the applier key's id
//	vars.VMC_GIT_BIN             optional: a vmc-git binary already on the runner;
//	                             unset, the reusable workflows `go install` vmc-git
//	vars.VMC_PR_COMMENT          optional: false keeps the review out of the pull
//	                             request's comments (job summary only)
//	vars.VMC_WITNESS_CHECK       optional: apply --witness-check: auto (unset), true, false
//
// The apply job runs in the GitHub environment vmc-apply, whose deployment
// branches should be the main branch only: its secrets are then out of reach
// of a workflow added on any other branch. The apply caller passes
// `secrets: inherit`, the only way a called workflow sees environment secrets.
// Third-party actions in the reusable workflows are pinned by commit SHA, the
// tag in a comment (see PinnedActions).
//
// For example, for main branch "main", ledger branch "vmc/ledger" and a
// vmc-git v1.2.3 binary, the apply caller is
//
//	on:
//	  push:
//	    branches:
//	      - "main"
//	  workflow_dispatch:
//	permissions:
//	  contents: write
//	jobs:
//	  apply:
//	    uses: vmc-git/vmc-git/.github/workflows/vmc-apply.yml@v1.2.3
//	    with:
//	      ledger-branch: "vmc/ledger"
//	      environment: "vmc-apply"
//	      kid: ${{ vars.VMC_KID }}
//	      vmc-git-version: "v1.2.3"
//	      vmc-git-bin: ${{ vars.VMC_GIT_BIN }}
//	      witness-check: ${{ vars.VMC_WITNESS_CHECK }}
//	    secrets: inherit
//
// Branch names are written as YAML double-quoted strings; in branches: filters
// the filter-pattern characters (* ? + [ ] ! \) are escaped with a backslash,
// so a filter matches exactly the one branch.
//
// WriteCallers never overwrites: a workflow file that already exists in the
// repository is left as it is and not reported as written.
package workflows

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"github.com/vmc-git/vmc-git/internal/config"
)

// Dir is where workflows live, relative to the repository root.
const Dir = ".github/workflows"

// Defaults of Params.
const (
	// DefaultRepo is the GitHub repository holding the reusable workflows.
	DefaultRepo = "vmc-git/vmc-git"
	// DefaultRef is the git ref of DefaultRepo the callers pin: the major
	// version tag, moved forward on compatible releases.
	DefaultRef = "v1"
	// DefaultCron is when the scheduled verification runs (UTC, daily,
	// off the hour to avoid GitHub's top-of-the-hour load).
	DefaultCron = "17 4 * * *"
	// DefaultDriftCron is when policy and drift are checked (UTC, every
	// six hours, off the hour).
	DefaultDriftCron = "47 */6 * * *"
)

// Caller files: the file names of the callers in a ledger repository's Dir,
// the same as the reusable workflows they call.
const (
	PlanReviewFile = "vmc-plan-review.yml"
	ApplyFile      = "vmc-apply.yml"
	VerifyFile     = "vmc-verify.yml"
	DriftFile      = "vmc-drift.yml"
)

// CallerFiles lists the caller files in the order Render returns them.
var CallerFiles = []string{PlanReviewFile, ApplyFile, VerifyFile, DriftFile}

//go:embed templates/*.yml.tmpl
var templateFS embed.FS

// DefaultEnvironment is the GitHub environment the apply job runs in.
const DefaultEnvironment = "vmc-apply"

// PinnedActions are the third-party actions the workflows use, each pinned
// to the commit of a release tag (uses: <action>@<sha> # <tag>).
var PinnedActions = map[string]struct{ SHA, Tag string }{
	"actions/checkout": {"3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"},
	"actions/setup-go": {"b7ad1dad31e06c5925ef5d2fc7ad053ef454303e", "v7.0.0"},
}

// Params is what a caller workflow depends on.
type Params struct {
	Repo         string // owner/name of the repository with the reusable workflows
	Ref          string // its git ref (tag, branch or commit)
	Version      string // the vmc-git version the reusable workflows `go install`
	MainBranch   string // branch with config and plans (config.Config.MainBranch)
	LedgerBranch string // the ledger branch (config.Config.Branch)
	Environment  string // the GitHub environment of the apply job
	Cron         string // schedule of the verification, five cron fields
	DriftCron    string // schedule of policy and drift checks, five cron fields
}

// ParamsFor returns the Params for a ledger's config, with the defaults,
// pinned to version: the version of the vmc-git binary writing the callers,
// when it is a release (a semantic version tag such as v1.2.3), so that the
// callers run the reusable workflows and the vmc-git of that release. A
// development build ("dev", a pseudo-version) pins DefaultRef instead.
func ParamsFor(cfg *config.Config, version string) Params {
	ref := DefaultRef
	if IsRelease(version) {
		ref = version
	}
	return Params{Repo: DefaultRepo, Ref: ref, Version: ref, MainBranch: cfg.MainBranch, LedgerBranch: cfg.Branch,
		Environment: DefaultEnvironment, Cron: DefaultCron, DriftCron: DefaultDriftCron}
}

// IsRelease reports whether version is a release tag: a canonical semantic
// version (vMAJOR.MINOR.PATCH, optionally -prerelease) that is not a Go
// pseudo-version.
func IsRelease(version string) bool {
	return semver.IsValid(version) && semver.Canonical(version) == version && !module.IsPseudoVersion(version)
}

var (
	repoRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)
	refRE  = regexp.MustCompile(`^[A-Za-z0-9_./-]+$`)
	cronRE = regexp.MustCompile(`^\S+( \S+){4}$`)
	envRE  = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,255}$`)
)

// Validate checks p. Branch names must be usable as git branch names; the
// rest must fit the places they are written to unquoted.
func (p Params) Validate() error {
	if !repoRE.MatchString(p.Repo) {
		return fmt.Errorf("workflows: repository %q: want OWNER/NAME", p.Repo)
	}
	if !refRE.MatchString(p.Ref) {
		return fmt.Errorf("workflows: ref %q: want a tag, branch or commit", p.Ref)
	}
	if !refRE.MatchString(p.Version) {
		return fmt.Errorf("workflows: vmc-git version %q: want a tag such as v1.2.3", p.Version)
	}
	if !envRE.MatchString(p.Environment) {
		return fmt.Errorf("workflows: environment %q: want letters, digits, '-', '_' and '.'", p.Environment)
	}
	for _, b := range []struct{ what, name string }{{"main branch", p.MainBranch}, {"ledger branch", p.LedgerBranch}} {
		if err := validBranch(b.name); err != nil {
			return fmt.Errorf("workflows: %s %q: %w", b.what, b.name, err)
		}
	}
	if !cronRE.MatchString(p.Cron) {
		return fmt.Errorf("workflows: cron %q: want five fields", p.Cron)
	}
	if !cronRE.MatchString(p.DriftCron) {
		return fmt.Errorf("workflows: drift cron %q: want five fields", p.DriftCron)
	}
	return nil
}

// validBranch is the part of git check-ref-format that matters here.
func validBranch(name string) error {
	switch {
	case name == "":
		return errors.New("empty")
	case strings.HasPrefix(name, "-") || strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/"):
		return errors.New("not a git branch name")
	case strings.ContainsAny(name, " ~^:?*[\\") || strings.Contains(name, ".."):
		return errors.New("not a git branch name")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return errors.New("not a git branch name")
		}
	}
	return nil
}

// quote writes s as a YAML double-quoted scalar (JSON strings are).
func quote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		panic(err) // a string always encodes
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// filter writes s as a branches: filter pattern matching exactly s.
func filter(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?+[]!\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return quote(b.String())
}

var templates = template.Must(template.New("").Delims("[[", "]]").
	Funcs(template.FuncMap{"quote": quote, "filter": filter}).
	Option("missingkey=error").
	ParseFS(templateFS, "templates/*.yml.tmpl"))

// File is a rendered workflow.
type File struct {
	Path string // relative to the repository root, slash-separated
	Data []byte
}

// Render renders the caller workflows, in the order of CallerFiles.
func Render(p Params) ([]File, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	files := make([]File, 0, len(CallerFiles))
	for _, name := range CallerFiles {
		var b bytes.Buffer
		if err := templates.ExecuteTemplate(&b, name+".tmpl", p); err != nil {
			return nil, fmt.Errorf("workflows: %s: %w", name, err)
		}
		files = append(files, File{Path: path.Join(Dir, name), Data: b.Bytes()})
	}
	return files, nil
}

// WriteCallers writes the caller workflows for cfg into the repository work
// tree dir, creating Dir, pinned to version (see ParamsFor). Files that
// already exist are kept as they are. It returns the paths it wrote,
// relative to dir and slash-separated, for the caller to commit. Written
// files are complete when it returns.
func WriteCallers(dir string, cfg *config.Config, version string) ([]string, error) {
	files, err := Render(ParamsFor(cfg, version))
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, filepath.FromSlash(Dir)), 0o755); err != nil {
		return nil, err
	}
	var written []string
	for _, f := range files {
		full := filepath.Join(dir, filepath.FromSlash(f.Path))
		fh, err := os.OpenFile(full, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return written, err
		}
		if _, err := fh.Write(f.Data); err != nil {
			fh.Close()
			return written, fmt.Errorf("workflows: %s: %w", f.Path, err)
		}
		if err := fh.Close(); err != nil {
			return written, fmt.Errorf("workflows: %s: %w", f.Path, err)
		}
		written = append(written, f.Path)
	}
	return written, nil
}
