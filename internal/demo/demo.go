// Package demo is the script of `vmc-git demo`: the team flow, run step by
// step through the same command lines an operator would type.
//
// It is not a ledger use case (package workspace holds those): it makes a
// scratch team in a directory (a bare origin with the pre-receive hook, a
// Hetzner-compatible sandbox served on loopback, clones for alice, bob, CI,
// mallory and an auditor) and drives vmc-git and git in it, printing each
// step as a command to paste. It lives outside the command so that the
// command stays parse -> one call -> format, and outside workspace because
// it calls the CLI itself (Options.VMC), not the library.
//
// The steps, in order: three operator keys; the sandbox; origin and its
// hook; alice's clone and `vmc-git init` (alice admin, bob approver, ci
// applier), pushed; alice plans a server in a branch and pushes it; bob
// reviews, approves and merges it; CI applies it with --push; alice pulls
// and her ledger follows origin; mallory's forged receipt commit is refused
// by the hook; a fresh clone verifies the chain with signatures. Run fails
// on the first step that does not go as the script expects (a git step that
// should fail and does not, too).
//
// Run sets XDG_CACHE_HOME (the lock directory stays inside Dir) and, while
// it runs, HCLOUD_ENDPOINT and HCLOUD_TOKEN in this process's environment:
// the steps run in this process and find the sandbox the way an operator's
// shell would.
package demo

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/vmc-git/vmc-git/provider"
	"github.com/vmc-git/vmc-git/provider/sandbox"
)

// Options says where the demo runs and how it reaches vmc-git.
type Options struct {
	// Dir is the demo's directory, new or empty; it is made absolute.
	Dir string
	// Out receives the steps, as commands to paste from Dir.
	Out io.Writer
	// VMC runs one vmc-git command line in this process (args[0] is
	// "vmc-git") and returns its exit code.
	VMC func(args []string, stdout, stderr io.Writer) int
}

// demo runs the demo's steps and prints each as a command to paste in dir.
type demo struct {
	out io.Writer
	vm  func(args []string, stdout, stderr io.Writer) int
	dir string
	env []string
}

func (d *demo) printf(format string, a ...any) { fmt.Fprintf(d.out, format, a...) }

// show renders args for pasting in d.dir: paths under it become relative
// to the directory the command runs in (-C DIR for vmc-git and git).
func (d *demo) show(args []string) string {
	base := d.dir
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "-C" {
			base = filepath.Join(d.dir, args[i+1])
			break
		}
	}
	rel, _ := filepath.Rel(base, d.dir)
	prefix := rel + string(filepath.Separator)
	if rel == "." {
		prefix = ""
	}
	out := make([]string, len(args))
	for i, a := range args {
		if i > 0 && args[i-1] == "-C" {
			out[i] = a // relative to d.dir already
			continue
		}
		a = strings.ReplaceAll(a, d.dir+string(filepath.Separator), prefix)
		if strings.ContainsAny(a, " '\"*$") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

// vmc runs one vmc-git step in this process.
func (d *demo) vmc(what string, args ...string) (string, error) {
	// In this process -C is a chdir: make it absolute (the printed command
	// keeps it relative to d.dir, where the reader pastes it).
	abs := append([]string{"vmc-git"}, args...)
	for i := 1; i+1 < len(abs); i++ {
		if abs[i] == "-C" && !filepath.IsAbs(abs[i+1]) {
			abs[i+1] = filepath.Join(d.dir, abs[i+1])
		}
	}
	var out, errb bytes.Buffer
	if code := d.vm(abs, &out, &errb); code != 0 {
		return "", fmt.Errorf("demo step %q failed (exit %d): vmc-git %s\n%s%s", what, code, strings.Join(args, " "), out.String(), errb.String())
	}
	d.printf("• %s\n    $ vmc-git %s\n", what, d.show(args))
	return out.String() + errb.String(), nil
}

// git runs one git step in d.dir; wantFail expects it to fail. A step with
// no what is not printed.
func (d *demo) git(what string, wantFail bool, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir, cmd.Env = d.dir, d.env
	out, err := cmd.CombinedOutput()
	if (err != nil) != wantFail {
		return "", fmt.Errorf("demo step %q: git %s: %v\n%s", what, strings.Join(args, " "), err, out)
	}
	if what != "" {
		d.printf("• %s\n    $ git %s\n", what, d.show(args))
	}
	return string(out), nil
}

// gitMore runs a git step that continues the one before: printed as one
// more command line under it.
func (d *demo) gitMore(args ...string) error {
	if _, err := d.git("", false, args...); err != nil {
		return err
	}
	d.printf("    $ git %s\n", d.show(args))
	return nil
}

// vmcShow runs a vmc-git step and prints its output, indented.
func (d *demo) vmcShow(what string, args ...string) error {
	out, err := d.vmc(what, args...)
	if err != nil {
		return err
	}
	d.printf("%s", indent(out))
	return nil
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ") + "\n"
}

// as is git's -C DIR with the committer identity of who.
func as(who string, args ...string) []string {
	return append([]string{"-C", who, "-c", "user.name=" + who, "-c", "user.email=" + who + "@example.com"}, args...)
}

// Run runs the demo in opt.Dir, printing every step to opt.Out.
func Run(opt Options) error {
	start := time.Now()
	dir, _ := filepath.Abs(opt.Dir)
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o700); err != nil {
		return err
	}
	// Locks of this demo stay inside it.
	os.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "cache"))
	d := &demo{out: opt.Out, vm: opt.VMC, dir: dir, env: append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1")}
	d.printf("All commands below run from %s:\n    $ cd %s\n", dir, dir)
	stop, err := d.team()
	if err != nil {
		return err
	}
	defer stop()
	if err := d.pullRequest(); err != nil {
		return err
	}
	if err := d.applyAndCheck(); err != nil {
		return err
	}
	d.printf("\ndone in %s. Look around (from %s):\n", time.Since(start).Round(10*time.Millisecond), dir)
	for _, l := range lookAround(dir) {
		d.printf("    $ %s\n", l)
	}
	return nil
}

func (d *demo) key(kid string) string { return filepath.Join(d.dir, "keys", kid) }

func (d *demo) clone(who string) error {
	_, err := d.git(who+" clones origin", false, "clone", "-q", "origin.git", who)
	return err
}

// team makes the keys, serves the sandbox (stop ends it), and makes origin
// with its hook, alice's ledger, and the clones of bob and CI.
func (d *demo) team() (stop func(), err error) {
	for _, kid := range []string{"alice", "bob", "ci"} {
		if _, err := d.vmc("make "+kid+"'s operator key", "keygen", "--kid", kid, "--out", d.key(kid)); err != nil {
			return nil, err
		}
	}
	// The shared provider: one sandbox served for every clone.
	tok := make([]byte, 12)
	rand.Read(tok)
	token := hex.EncodeToString(tok)
	sb, err := sandbox.New(sandbox.Options{Token: token, StatePath: filepath.Join(d.dir, "sandbox.json"), ActionDuration: 50 * time.Millisecond})
	if err != nil {
		return nil, err
	}
	url, err := sb.Start("127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	os.Setenv(provider.EnvEndpoint, url)
	os.Setenv("HCLOUD_TOKEN", token)
	stop = func() {
		os.Unsetenv("HCLOUD_TOKEN")
		os.Unsetenv(provider.EnvEndpoint)
		sb.Close()
	}
	d.printf("• serve the team's Hetzner-compatible sandbox (the demo serves it while it runs)\n    $ vmc-git sandbox serve --state sandbox.json &\n    $ export HCLOUD_ENDPOINT=%s HCLOUD_TOKEN=…\n", url)
	if err := d.origin(); err != nil {
		stop()
		return nil, err
	}
	return stop, nil
}

func (d *demo) origin() error {
	if _, err := d.git("make the team's origin repository (the git server)", false, "init", "-q", "--bare", "-b", "main", "origin.git"); err != nil {
		return err
	}
	if _, err := d.vmc("install the pre-receive hook on origin", "hook", "install", "--repo", filepath.Join(d.dir, "origin.git")); err != nil {
		return err
	}
	if err := d.clone("alice"); err != nil {
		return err
	}
	if _, err := d.vmc("alice creates the ledger (alice: admin, bob: approver, ci: applier; provider hetzner, here the sandbox)", "-C", "alice", "init",
		"--ledger", "example.com/demo/infra", "--key", d.key("alice"), "--roles", "admin",
		"--operator", "bob:approver:"+d.key("bob")+".pub", "--operator", "ci:applier:"+d.key("ci")+".pub"); err != nil {
		return err
	}
	if _, err := d.git("alice pushes main and the ledger", false, "-C", "alice", "push", "-q", "origin", "main", "vmc/ledger"); err != nil {
		return err
	}
	for _, who := range []string{"bob", "ci"} {
		if err := d.clone(who); err != nil {
			return err
		}
	}
	return nil
}

// pullRequest: alice plans in a branch, bob reviews, approves and merges.
func (d *demo) pullRequest() error {
	if _, err := d.git("alice starts a pull request", false, "-C", "alice", "switch", "-q", "-c", "web-1"); err != nil {
		return err
	}
	if _, err := d.vmc("alice plans a server (a dry run against the provider)", "-C", "alice", "plan", "server", "create", "web-1",
		"--type", "cx22", "--image", "ubuntu-24.04", "--location", "fsn1", "--label", "role=web", "--label", "env=dev", "--id", "web-1-create", "--kid", "alice"); err != nil {
		return err
	}
	if _, err := d.vmc("the default policy denies a server without a firewall or private network; alice, an admin, overrides both rules for this demo server (apply records it)",
		"-C", "alice", "approve", "--override", "firewall-attached", "--override", "private-network", "--reason", "demo server", "plans/web-1-create.json", "--key", d.key("alice")); err != nil {
		return err
	}
	if _, err := d.git("alice commits the plan and pushes her branch", false, "-C", "alice", "add", "plans"); err != nil {
		return err
	}
	for _, args := range [][]string{as("alice", "commit", "-q", "-m", "plan web-1"), {"-C", "alice", "push", "-q", "origin", "web-1"}} {
		if err := d.gitMore(args...); err != nil {
			return err
		}
	}
	if _, err := d.git("bob fetches the pull request", false, "-C", "bob", "fetch", "-q", "origin"); err != nil {
		return err
	}
	if err := d.gitMore("-C", "bob", "switch", "-q", "web-1"); err != nil {
		return err
	}
	if err := d.vmcShow("bob reviews it (what the plan-review workflow comments)", "-C", "bob", "plan", "review", "--base", "origin/main"); err != nil {
		return err
	}
	if _, err := d.vmc("bob approves it in his clone", "-C", "bob", "approve", "plans/web-1-create.json", "--key", d.key("bob")); err != nil {
		return err
	}
	if _, err := d.git("bob commits his approval", false, "-C", "bob", "add", "plans"); err != nil {
		return err
	}
	if err := d.gitMore(as("bob", "commit", "-q", "-m", "approve web-1-create")...); err != nil {
		return err
	}
	if _, err := d.git("bob merges the pull request", false, "-C", "bob", "switch", "-q", "main"); err != nil {
		return err
	}
	if err := d.gitMore(as("bob", "merge", "-q", "--no-edit", "web-1")...); err != nil {
		return err
	}
	return d.gitMore("-C", "bob", "push", "-q", "origin", "main")
}

// applyAndCheck: CI applies, alice follows, mallory's forgery is refused,
// an auditor's fresh clone verifies.
func (d *demo) applyAndCheck() error {
	if _, err := d.git("CI pulls main", false, "-C", "ci", "pull", "-q"); err != nil {
		return err
	}
	if err := d.vmcShow("CI applies every merged plan and pushes the receipt (compare-and-swap)", "-C", "ci", "apply", "--pending", "--push", "--key", d.key("ci")); err != nil {
		return err
	}
	if _, err := d.git("alice pulls", false, "-C", "alice", "switch", "-q", "main"); err != nil {
		return err
	}
	if err := d.gitMore("-C", "alice", "pull", "-q"); err != nil {
		return err
	}
	if err := d.vmcShow("alice's ledger follows origin (verified first)", "-C", "alice", "log"); err != nil {
		return err
	}
	// A forged receipt commit, pushed by someone without an operator key.
	if err := d.clone("mallory"); err != nil {
		return err
	}
	if _, err := d.git("mallory checks out the ledger", false, "-C", "mallory", "switch", "-q", "vmc/ledger"); err != nil {
		return err
	}
	if _, err := d.git("mallory forges a receipt commit", false, as("mallory", "commit", "-q", "--allow-empty", "-m", "vmc: 2 manual forged")...); err != nil {
		return err
	}
	out, err := d.git("mallory pushes it: the hook refuses", true, "-C", "mallory", "push", "origin", "vmc/ledger")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "refused") || strings.Contains(line, "declined") {
			d.printf("    %s\n", strings.TrimSpace(line))
		}
	}
	if err := d.clone("auditor"); err != nil {
		return err
	}
	if err := d.vmcShow("a fresh clone verifies the whole chain with signatures", "-C", "auditor", "verify", "chain", "--sig"); err != nil {
		return err
	}
	signers, err := d.git("", false, "-C", "auditor", "show", "refs/heads/vmc/ledger:keys/allowed_signers")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(d.dir, "allowed_signers"), []byte(signers), 0o644)
}

// lookAround is what the demo suggests to look at afterwards, in dir (the
// sandbox is gone by then: nothing here calls the provider).
func lookAround(dir string) []string {
	return []string{
		"git -C alice log --oneline refs/heads/vmc/ledger",
		"vmc-git -C alice log",
		"vmc-git -C alice show 1",
		"vmc-git -C auditor verify chain --sig",
		"git -C auditor show refs/heads/vmc/ledger:keys/allowed_signers > allowed_signers",
		"git -C auditor -c gpg.format=ssh -c gpg.ssh.allowedSignersFile=" + filepath.Join(dir, "allowed_signers") + " log --show-signature -1 refs/heads/vmc/ledger",
		"cat origin.git/hooks/pre-receive",
	}
}
