package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/workspace"
)

// The pre-receive hook runs vmc-git-hook (cmd/vmc-git-hook), the hook
// without the rest of vmc-git, when hook install finds it beside vmc-git
// (clitest builds both into one directory, so every e2e test that installs
// the hook on a bare origin pushes through it).

// hookBin is the vmc-git-hook that clitest built beside vmcBin.
func hookBin() string { return filepath.Join(filepath.Dir(vmcBin), workspace.HookBinName) }

// runHookWith runs a pre-receive hook binary (args before the hook's own)
// in the bare repository gitDir with stdin, as git would; it returns the
// exit code and stderr.
func runHookWith(t *testing.T, gitDir, stdin string, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = gitDir
	cmd.Env = append(append(os.Environ(), "GIT_DIR="+gitDir), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", args[0], err)
	}
	if stdout.Len() > 0 {
		t.Errorf("%s wrote to stdout: %q", args[0], stdout.String())
	}
	return code, stderr.String()
}

// TestHookBinInstalled: hook install --repo puts a copy of vmc-git-hook
// beside the pre-receive hook and the script runs it; pushes go through it;
// and on every input it answers as `vmc-git hook pre-receive` does, byte
// for byte and with the same exit code (accepted updates, refusals, bad
// input, branch flags, no repository).
func TestHookBinInstalled(t *testing.T) {
	t.Parallel()
	r := newRepo(t, repoOpts{})
	origin := filepath.Join(t.TempDir(), "origin.git")
	gitIn(t, "", "init", "-q", "--bare", "-b", "main", origin)
	res := r.run("hook", "install", "--repo", origin, "--json")
	var h workspace.InstalledHook
	if res.code != 0 || json.Unmarshal([]byte(res.out), &h) != nil {
		t.Fatalf("hook install --json: %s", res)
	}
	copyPath := filepath.Join(origin, "hooks", workspace.HookBinName)
	if h.Exe != copyPath || h.Command != copyPath+" pre-receive" || h.Hook != workspace.HookPreReceive {
		t.Fatalf("hook install --json: %+v, want %s pre-receive", h, copyPath)
	}
	if strings.Contains(res.err, "runs the whole vmc-git") {
		t.Fatalf("hook install found no vmc-git-hook beside %s:\n%s", vmcBin, res)
	}
	script, err := os.ReadFile(h.Path)
	if err != nil {
		t.Fatal(err)
	}
	if want := "exec '" + copyPath + "' pre-receive \"$@\"\n"; !strings.HasSuffix(string(script), want) {
		t.Fatalf("the hook script does not end with %q:\n%s", want, script)
	}
	a, _ := os.ReadFile(hookBin())
	b, _ := os.ReadFile(copyPath)
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Fatal("the hook's copy differs from the vmc-git-hook beside vmc-git")
	}
	if _, err := os.Stat(filepath.Join(origin, "hooks", workspace.HookExeName)); err == nil {
		t.Fatal("a pre-receive hook running vmc-git-hook needs no copy of vmc-git")
	}
	r.git("remote", "add", "origin", origin)
	r.git("push", "-q", "origin", "main", "vmc/ledger")
	if out, err := r.pushOut("origin", "main:refs/tags/vmc/ledger"); err == nil || !strings.Contains(out, "remote: vmc-git: refused refs/tags/vmc/ledger: the short name \"vmc/ledger\" is reserved") {
		t.Fatalf("a tag shadowing the ledger branch went past vmc-git-hook (%v):\n%s", err, out)
	}

	ledger, main := r.ledgerHead(), r.git("rev-parse", "main")
	zero := strings.Repeat("0", 40)
	cases := []struct {
		name, stdin string
		flags       []string
		env         []string
		code        int
	}{
		{name: "a new branch", stdin: zero + " " + main + " refs/heads/feature\n"},
		{name: "no updates", stdin: ""},
		{name: "ledger deleted", stdin: ledger + " " + zero + " refs/heads/vmc/ledger\n", code: exitInvalid},
		{name: "two refusals", stdin: zero + " " + main + " refs/tags/vmc/ledger\n" + ledger + " " + main + " refs/heads/vmc/ledger\n", code: exitInvalid},
		{name: "snapshot tag on a commit", stdin: zero + " " + ledger + " refs/tags/vmc/merkle/1\n", code: exitInvalid},
		{name: "bad snapshot tag name", stdin: zero + " " + ledger + " refs/tags/vmc/merkle/01\n", code: exitInvalid},
		{name: "updated twice", stdin: zero + " " + main + " refs/heads/x\n" + zero + " " + main + " refs/heads/x\n", code: exitInvalid},
		{name: "other branches given", stdin: main + " " + main + " refs/heads/main\n", flags: []string{"--main-branch", "trunk", "--ledger-branch", "vmc/other"}, code: exitInvalid},
		{name: "bad input", stdin: "not a hook line\n", code: exitUsage},
		{name: "bad ref name", stdin: zero + " " + main + " HEAD\n", code: exitUsage},
		{name: "bad id", stdin: "x" + zero[1:] + " " + main + " refs/heads/x\n", code: exitUsage},
		{name: "unknown flag", flags: []string{"--nope"}, code: exitUsage},
		{name: "no repository", stdin: zero + " " + main + " refs/heads/x\n", env: []string{"GIT_DIR=" + filepath.Join(t.TempDir(), "none.git")}, code: exitError},
	}
	for _, c := range cases {
		vcode, vout := runHookWith(t, origin, c.stdin, c.env, append([]string{vmcBin, "hook", "pre-receive"}, c.flags...)...)
		hcode, hout := runHookWith(t, origin, c.stdin, c.env, append([]string{copyPath, "pre-receive"}, c.flags...)...)
		if vcode != c.code {
			t.Errorf("%s: vmc-git hook pre-receive exits %d, want %d\n%s", c.name, vcode, c.code, vout)
		}
		if c.name == "unknown flag" {
			// Each prints its own flag parser's usage; both say which flag.
			if hcode != vcode || !strings.Contains(hout, "-nope") {
				t.Errorf("%s: vmc-git-hook exits %d (vmc-git %d):\n%s", c.name, hcode, vcode, hout)
			}
			continue
		}
		if hcode != vcode || hout != vout {
			t.Errorf("%s: vmc-git-hook answers\n(exit %d)\n%s\nvmc-git hook pre-receive answers\n(exit %d)\n%s", c.name, hcode, hout, vcode, vout)
		}
		if c.code == exitInvalid && !strings.Contains(hout, "vmc-git: refused ") {
			t.Errorf("%s: no refusal line:\n%s", c.name, hout)
		}
	}
	if code, out := runHookWith(t, origin, "", nil, copyPath); code != exitUsage || !strings.Contains(out, "usage: vmc-git-hook pre-receive") {
		t.Errorf("vmc-git-hook without pre-receive: exit %d\n%s", code, out)
	}
	if code, out := runHookWith(t, origin, "", nil, copyPath, "pre-receive", "extra"); code != exitUsage || !strings.Contains(out, "pre-receive takes no arguments") {
		t.Errorf("vmc-git-hook pre-receive extra: exit %d\n%s", code, out)
	}
}

// TestHookBinFallback: with no vmc-git-hook beside vmc-git, or one that is
// not from the same build, hook install says so and the pre-receive hook
// runs a copy of vmc-git, which still guards the push; --hook-bin with
// such a binary is refused; a pre-push hook runs vmc-git either way.
func TestHookBinFallback(t *testing.T) {
	t.Parallel()
	r := newRepo(t, repoOpts{})
	dir := t.TempDir()
	lone := filepath.Join(dir, "vmc-git")
	if out, err := exec.Command("cp", vmcBin, lone).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	install := func(args ...string) (result, string) {
		t.Helper()
		origin := filepath.Join(t.TempDir(), "origin.git")
		gitIn(t, "", "init", "-q", "--bare", "-b", "main", origin)
		cmd := exec.Command(lone, append([]string{"hook", "install", "--repo", origin}, args...)...)
		cmd.Dir, cmd.Env = r.root, r.env
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		res := result{args: args, out: out.String(), err: errb.String()}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			res.code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return res, origin
	}
	fellBack := func(res result, origin, why string) {
		t.Helper()
		exe := filepath.Join(origin, "hooks", workspace.HookExeName)
		if res.code != 0 || !strings.Contains(res.out, "runs "+exe+" hook pre-receive") ||
			!strings.Contains(res.err, "vmc-git: "+why) || !strings.Contains(res.err, ": the pre-receive hook runs the whole vmc-git") {
			t.Fatalf("want a fallback to %s because %s:\n%s", exe, why, res)
		}
		if _, err := os.Stat(filepath.Join(origin, "hooks", workspace.HookBinName)); err == nil {
			t.Fatal("vmc-git-hook copied although it was not used")
		}
	}

	res, origin := install()
	fellBack(res, origin, "there is no vmc-git-hook beside "+lone)
	// The fallback hook guards the push.
	r.git("remote", "add", "origin", origin)
	r.git("push", "-q", "origin", "main", "vmc/ledger")
	if out, err := r.pushOut("origin", "main:refs/heads/vmc/merkle/5"); err == nil || !strings.Contains(out, "remote: vmc-git: refused refs/heads/vmc/merkle/5: the short name") {
		t.Fatalf("the fallback hook let a reserved name through (%v):\n%s", err, out)
	}

	// Not a Go binary.
	if err := os.WriteFile(filepath.Join(dir, workspace.HookBinName), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	res, origin = install()
	fellBack(res, origin, filepath.Join(dir, workspace.HookBinName)+" is not a Go binary with build information")
	// Another command of the module under the name.
	if out, err := exec.Command("cp", vmcBin, filepath.Join(dir, workspace.HookBinName)).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	res, origin = install()
	fellBack(res, origin, filepath.Join(dir, workspace.HookBinName)+" is github.com/vmc-git/vmc-git/cmd/vmc-git, not github.com/vmc-git/vmc-git/cmd/vmc-git-hook")
	res, _ = install("--hook-bin", filepath.Join(dir, workspace.HookBinName))
	checkError(t, res, exitUsage, "--hook-bin "+filepath.Join(dir, workspace.HookBinName)+": ", "is github.com/vmc-git/vmc-git/cmd/vmc-git, not github.com/vmc-git/vmc-git/cmd/vmc-git-hook")
	res, _ = install("--hook-bin", filepath.Join(dir, "missing"))
	checkError(t, res, exitUsage, "--hook-bin "+filepath.Join(dir, "missing")+": ", "is not a Go binary with build information")
	// The real one, given explicitly, from the same build as vmcBin's copy.
	res, origin = install("--hook-bin", hookBin())
	if exe := filepath.Join(origin, "hooks", workspace.HookBinName); res.code != 0 || !strings.Contains(res.out, "runs "+exe+" pre-receive") {
		t.Fatalf("--hook-bin %s: %s", hookBin(), res)
	}

	// A clone's pre-push hook runs vmc-git, with or without vmc-git-hook.
	out := r.must("hook", "install")
	if exe := filepath.Join(r.root, ".git", "hooks", workspace.HookExeName); !strings.Contains(out, "runs "+exe+" hook pre-push") {
		t.Fatalf("hook install in a clone:\n%s", out)
	}
}
