package workspace

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/hooks"
)

// HookMarker identifies hook scripts vmc-git wrote.
const HookMarker = "# installed by vmc-git hook install"

// Hook names and the vmc-git hook subcommand each runs.
const (
	HookPreReceive = "pre-receive" // in a bare (server) repository
	HookPrePush    = "pre-push"    // in a clone
)

// HookRequest is what InstallHook needs.
type HookRequest struct {
	Repo string // the repository (any directory in it)
	Exe  string // the vmc-git binary the hook runs, by absolute path
	// HookBin is the vmc-git-hook binary (cmd/vmc-git-hook, HookBinFor) a
	// pre-receive hook runs instead of Exe, by absolute path; "" for none.
	// A pre-push hook always runs Exe.
	HookBin      string
	MainBranch   string // "" for the config's at HEAD, else main
	LedgerBranch string // "" for the config's at HEAD, else vmc/ledger
	Force        bool   // replace a hook vmc-git did not write
	// Gitea installs into Gitea's (and Forgejo's) layout, GiteaHookPath in
	// a bare repository: Gitea's own hooks/pre-receive runs every script in
	// hooks/pre-receive.d/ after its own hook, for HTTP and SSH pushes.
	Gitea bool
}

// GiteaHookPath is where a Gitea install puts the pre-receive hook,
// relative to the repository's hooks directory.
const GiteaHookPath = "pre-receive.d/vmc-git"

// InstalledHook describes the hook InstallHook wrote.
type InstalledHook struct {
	Path string `json:"path"`
	Exe  string `json:"exe"`  // the copy of vmc-git (or of vmc-git-hook) the hook runs
	Hook string `json:"hook"` // HookPreReceive or HookPrePush
	// Command is what the hook script runs, before the branch flags.
	Command      string `json:"command"`
	MainBranch   string `json:"main_branch"`
	LedgerBranch string `json:"ledger_branch"`
	// Serve is hooks.ServeConfig in a bare repository (ApplyServeConfig);
	// none in a clone.
	Serve []ServeSetting `json:"serve_config,omitempty"`
}

// InstallHook writes hooks/pre-receive in a bare repository (with Gitea:
// hooks/pre-receive.d/vmc-git), or .git/hooks/pre-push in one with a work
// tree: a script that runs a copy of Exe's "hook <name>" (or, for
// pre-receive with HookBin, a copy of HookBin's "pre-receive") with the
// branches it guards. It refuses to replace a hook vmc-git did not write,
// unless Force. In a bare repository it also sets hooks.ServeConfig
// (ApplyServeConfig), so that the server's gc leaves packs a clone reads
// cheaply.
func InstallHook(req HookRequest) (*InstalledHook, error) {
	out, err := gitCmd(req.Repo, "rev-parse", "--is-bare-repository", "--absolute-git-dir")
	if err != nil {
		return nil, notFoundErr(err)
	}
	f := strings.Fields(out)
	if len(f) != 2 {
		return nil, fmt.Errorf("cannot tell the git directory of %s", req.Repo)
	}
	bare, gitDir := f[0] == "true", f[1]
	name := HookPrePush
	if bare {
		name = HookPreReceive
	}
	file := name
	if req.Gitea {
		if !bare {
			return nil, usagef("%s is not a bare repository: with Gitea, give the repository under its REPO_ROOT (<owner>/<repo>.git)", req.Repo)
		}
		file = GiteaHookPath
	}
	path := filepath.Join(gitDir, "hooks", file)
	if old, err := os.ReadFile(path); err == nil && !bytes.Contains(old, []byte(HookMarker)) && !req.Force {
		return nil, refusedErr(fmt.Errorf("%s exists and was not written by vmc-git", path), "chain it by hand, or use --force to replace it")
	}
	// The branches are read from the config each time the hook runs,
	// unless given here.
	args := `"$@"`
	if req.LedgerBranch != "" {
		args = "--ledger-branch " + shellQuote(req.LedgerBranch) + " " + args
	}
	if req.MainBranch != "" {
		args = "--main-branch " + shellQuote(req.MainBranch) + " " + args
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	src, copyName, sub := req.Exe, HookExeName, "hook "+name
	if name == HookPreReceive && req.HookBin != "" {
		src, copyName, sub = req.HookBin, HookBinName, name
	}
	exe, err := installExe(src, filepath.Join(gitDir, "hooks"), copyName)
	if err != nil {
		return nil, err
	}
	script := fmt.Sprintf("#!/bin/sh\n%s\nexec %s %s %s\n", HookMarker, shellQuote(exe), sub, args)
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		return nil, err
	}
	var serve []ServeSetting
	if bare {
		if serve, err = ApplyServeConfig(gitDir); err != nil {
			return nil, err
		}
	}
	b := HookBranches(gitDir, hooks.Branches{Main: req.MainBranch, Ledger: req.LedgerBranch})
	return &InstalledHook{Path: path, Exe: exe, Hook: name, Command: exe + " " + sub, MainBranch: b.Main, LedgerBranch: b.Ledger, Serve: serve}, nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// HookBranches picks the branch names a hook guards, each time it runs:
// those given, else the ones .vmc/config.json names at the repository's
// HEAD, else the branch HEAD names (born or not: a fresh server repository
// whose HEAD is master guards master) and vmc/ledger. See
// hooks.HeadBranches: read in this process, without starting git.
func HookBranches(gitDir string, given hooks.Branches) hooks.Branches {
	l, err := gitledger.OpenGitDir(gitDir, "")
	if err != nil {
		l = nil // not a repository: the defaults
	}
	return hooks.HeadBranches(l, given)
}

// ErrPushRefused is CheckPush's error when a rule refuses the push.
var ErrPushRefused = hooks.ErrPushRefused

// CheckPush runs the push rules (package hooks, hooks.CheckRefs) on ups in
// the repository at gitDir, reading pushed objects from quarantine (""
// outside pre-receive). tracking, for pre-push, maps a pushed ref to the
// local ref holding the remote's value of refs not in the push ("=<id>"
// for the value itself); nil for pre-receive.
// It returns the refusals; err is ErrPushRefused (an invalid Kind) if there
// are any.
func CheckPush(gitDir, quarantine string, ups []hooks.Update, tracking func(string) string, b hooks.Branches) ([]hooks.Refusal, error) {
	l, err := gitledger.OpenHookRepo(gitDir, "", quarantine)
	if err != nil {
		return nil, err
	}
	refusals := hooks.CheckRefs(l, ups, tracking, b)
	if len(refusals) == 0 {
		return nil, nil
	}
	return refusals, invalidErr(ErrPushRefused)
}

// RemoteRefValue asks remote (from the repository at dir) for ref's value:
// the pre-push hook's view of refs it does not fetch (refs/vmc/).
func RemoteRefValue(dir, remote, ref string) (string, bool) {
	out, err := gitCmd(dir, "ls-remote", remote, ref)
	if err != nil {
		return "", false
	}
	id, _, ok := strings.Cut(strings.TrimSpace(out), "\t")
	return id, ok
}
