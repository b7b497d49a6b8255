package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/provider"
	"github.com/vmc-git/vmc-git/provider/sandbox"
)

func demoCommand() *cli.Command {
	return &cli.Command{
		Name:      "demo",
		Usage:     "run the team flow on a local origin and a served sandbox: plan, review, approve, apply, verify",
		ArgsUsage: "[DIR]",
		Description: `Makes, in DIR (default: a new temporary directory), what a team has: a bare
origin repository with the pre-receive hook, a Hetzner-compatible sandbox served
for everyone (as HCLOUD_ENDPOINT), and clones for alice (admin), bob (approver)
and CI (applier). Then, through the same commands you would type: alice plans a
server in a branch, bob reviews and approves it in his clone and merges it, CI
applies it with --push, alice pulls the new ledger back, a forged push to the
ledger is refused by the hook, and a fresh clone verifies the chain. Prints
every step as a command you can paste (from DIR), and what to look at.

EXAMPLE:
   vmc-git demo /tmp/vmc-demo`,
		Action: func(c *cli.Context) error {
			dir := ""
			if c.NArg() > 1 {
				return usagef("demo: at most one DIR")
			}
			if c.NArg() == 1 {
				dir = c.Args().First()
				if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
					return fail(exitRefused, fmt.Errorf("demo: %s is not empty", dir), "give a new or empty directory")
				}
			} else {
				var err error
				if dir, err = os.MkdirTemp("", "vmc-demo-"); err != nil {
					return err
				}
			}
			return runDemo(c, dir)
		},
	}
}

// demo runs the demo's steps and prints each as a command to paste in dir.
type demo struct {
	c   *cli.Context
	dir string
	env []string
}

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
	if code := run(abs, &out, &errb); code != 0 {
		return "", fmt.Errorf("demo step %q failed (exit %d): vmc-git %s\n%s%s", what, code, strings.Join(args, " "), out.String(), errb.String())
	}
	outf(d.c, "• %s\n    $ vmc-git %s\n", what, d.show(args))
	return out.String() + errb.String(), nil
}

// git runs one git step in d.dir; wantFail expects it to fail.
func (d *demo) git(what string, wantFail bool, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir, cmd.Env = d.dir, d.env
	out, err := cmd.CombinedOutput()
	if (err != nil) != wantFail {
		return "", fmt.Errorf("demo step %q: git %s: %v\n%s", what, strings.Join(args, " "), err, out)
	}
	if what != "" {
		outf(d.c, "• %s\n    $ git %s\n", what, d.show(args))
	}
	return string(out), nil
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ") + "\n"
}

func runDemo(c *cli.Context, dir string) error {
	start := time.Now()
	dir, _ = filepath.Abs(dir)
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o700); err != nil {
		return err
	}
	// Locks of this demo stay inside it.
	os.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "cache"))
	d := &demo{c: c, dir: dir, env: append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1")}
	k := func(kid string) string { return filepath.Join(dir, "keys", kid) }
	outf(c, "All commands below run from %s:\n    $ cd %s\n", dir, dir)
	for _, kid := range []string{"alice", "bob", "ci"} {
		if _, err := d.vmc("make "+kid+"'s operator key", "keygen", "--kid", kid, "--out", k(kid)); err != nil {
			return err
		}
	}
	// The shared provider: one sandbox served for every clone.
	tok := make([]byte, 12)
	rand.Read(tok)
	token := hex.EncodeToString(tok)
	sb, err := sandbox.New(sandbox.Options{Token: token, StatePath: filepath.Join(dir, "sandbox.json"), ActionDuration: 50 * time.Millisecond})
	if err != nil {
		return err
	}
	url, err := sb.Start("127.0.0.1:0")
	if err != nil {
		return err
	}
	defer sb.Close()
	os.Setenv(provider.EnvEndpoint, url)
	os.Setenv("HCLOUD_TOKEN", token)
	defer os.Unsetenv(provider.EnvEndpoint)
	defer os.Unsetenv("HCLOUD_TOKEN")
	outf(c, "• serve the team's Hetzner-compatible sandbox (the demo serves it while it runs)\n    $ vmc-git sandbox serve --state sandbox.json &\n    $ export HCLOUD_ENDPOINT=%s HCLOUD_TOKEN=…\n", url)

	if _, err := d.git("make the team's origin repository (the git server)", false, "init", "-q", "--bare", "-b", "main", "origin.git"); err != nil {
		return err
	}
	if _, err := d.vmc("install the pre-receive hook on origin", "hook", "install", "--repo", filepath.Join(dir, "origin.git")); err != nil {
		return err
	}
	ident := func(who string) []string {
		return []string{"-c", "user.name=" + who, "-c", "user.email=" + who + "@example.com"}
	}
	clone := func(who string) error {
		_, err := d.git(who+" clones origin", false, "clone", "-q", "origin.git", who)
		return err
	}
	if err := clone("alice"); err != nil {
		return err
	}
	if _, err := d.vmc("alice creates the ledger (alice: admin, bob: approver, ci: applier; provider hetzner, here the sandbox)", "-C", "alice", "init",
		"--ledger", "example.com/demo/infra", "--key", k("alice"), "--roles", "admin",
		"--operator", "bob:approver:"+k("bob")+".pub", "--operator", "ci:applier:"+k("ci")+".pub"); err != nil {
		return err
	}
	if _, err := d.git("alice pushes main and the ledger", false, "-C", "alice", "push", "-q", "origin", "main", "vmc/ledger"); err != nil {
		return err
	}
	for _, who := range []string{"bob", "ci"} {
		if err := clone(who); err != nil {
			return err
		}
	}
	// alice plans in a branch (the pull request).
	if _, err := d.git("alice starts a pull request", false, "-C", "alice", "switch", "-q", "-c", "web-1"); err != nil {
		return err
	}
	if _, err := d.vmc("alice plans a server (a dry run against the provider)", "-C", "alice", "plan", "server", "create", "web-1",
		"--type", "cx22", "--image", "ubuntu-24.04", "--location", "fsn1", "--label", "role=web", "--label", "env=dev", "--id", "web-1-create", "--kid", "alice"); err != nil {
		return err
	}
	if _, err := d.vmc("the default policy denies a server without a firewall or private network; alice, an admin, overrides both rules for this demo server (apply records it)",
		"-C", "alice", "approve", "--override", "firewall-attached", "--override", "private-network", "--reason", "demo server", "plans/web-1-create.json", "--key", k("alice")); err != nil {
		return err
	}
	if _, err := d.git("alice commits the plan and pushes her branch", false, "-C", "alice", "add", "plans"); err != nil {
		return err
	}
	for _, args := range [][]string{
		append(append([]string{"-C", "alice"}, ident("alice")...), "commit", "-q", "-m", "plan web-1"),
		{"-C", "alice", "push", "-q", "origin", "web-1"},
	} {
		if _, err := d.git("", false, args...); err != nil {
			return err
		}
		outf(c, "    $ git %s\n", d.show(args))
	}
	if _, err := d.git("bob fetches the pull request", false, "-C", "bob", "fetch", "-q", "origin"); err != nil {
		return err
	}
	if _, err := d.git("", false, "-C", "bob", "switch", "-q", "web-1"); err != nil {
		return err
	}
	outf(c, "    $ git %s\n", d.show([]string{"-C", "bob", "switch", "-q", "web-1"}))
	out, err := d.vmc("bob reviews it (what the plan-review workflow comments)", "-C", "bob", "plan", "review", "--base", "origin/main")
	if err != nil {
		return err
	}
	outf(c, "%s", indent(out))
	if _, err := d.vmc("bob approves it in his clone", "-C", "bob", "approve", "plans/web-1-create.json", "--key", k("bob")); err != nil {
		return err
	}
	if _, err := d.git("bob commits his approval", false, "-C", "bob", "add", "plans"); err != nil {
		return err
	}
	if _, err := d.git("", false, append(append([]string{"-C", "bob"}, ident("bob")...), "commit", "-q", "-m", "approve web-1-create")...); err != nil {
		return err
	}
	outf(c, "    $ git %s\n", d.show(append(append([]string{"-C", "bob"}, ident("bob")...), "commit", "-q", "-m", "approve web-1-create")))
	if _, err := d.git("bob merges the pull request", false, "-C", "bob", "switch", "-q", "main"); err != nil {
		return err
	}
	if _, err := d.git("", false, append(append([]string{"-C", "bob"}, ident("bob")...), "merge", "-q", "--no-edit", "web-1")...); err != nil {
		return err
	}
	outf(c, "    $ git %s\n", d.show(append(append([]string{"-C", "bob"}, ident("bob")...), "merge", "-q", "--no-edit", "web-1")))
	if _, err := d.git("", false, "-C", "bob", "push", "-q", "origin", "main"); err != nil {
		return err
	}
	outf(c, "    $ git %s\n", d.show([]string{"-C", "bob", "push", "-q", "origin", "main"}))
	if _, err := d.git("CI pulls main", false, "-C", "ci", "pull", "-q"); err != nil {
		return err
	}
	if out, err = d.vmc("CI applies every merged plan and pushes the receipt (compare-and-swap)", "-C", "ci", "apply", "--pending", "--push", "--key", k("ci")); err != nil {
		return err
	}
	outf(c, "%s", indent(out))
	if _, err := d.git("alice pulls", false, "-C", "alice", "switch", "-q", "main"); err != nil {
		return err
	}
	if _, err := d.git("", false, "-C", "alice", "pull", "-q"); err != nil {
		return err
	}
	outf(c, "    $ git %s\n", d.show([]string{"-C", "alice", "pull", "-q"}))
	if out, err = d.vmc("alice's ledger follows origin (verified first)", "-C", "alice", "log"); err != nil {
		return err
	}
	outf(c, "%s", indent(out))
	// A forged receipt commit, pushed by someone without an operator key.
	if err := clone("mallory"); err != nil {
		return err
	}
	if _, err := d.git("mallory checks out the ledger", false, "-C", "mallory", "switch", "-q", "vmc/ledger"); err != nil {
		return err
	}
	if _, err := d.git("mallory forges a receipt commit", false, append(append([]string{"-C", "mallory"}, ident("mallory")...), "commit", "-q", "--allow-empty", "-m", "vmc: 2 manual forged")...); err != nil {
		return err
	}
	out, err = d.git("mallory pushes it: the hook refuses", true, "-C", "mallory", "push", "origin", "vmc/ledger")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "refused") || strings.Contains(line, "declined") {
			outf(c, "    %s\n", strings.TrimSpace(line))
		}
	}
	if err := clone("auditor"); err != nil {
		return err
	}
	if out, err = d.vmc("a fresh clone verifies the whole chain with signatures", "-C", "auditor", "verify", "chain", "--sig"); err != nil {
		return err
	}
	outf(c, "%s", indent(out))
	signers, err := d.git("", false, "-C", "auditor", "show", "refs/heads/vmc/ledger:keys/allowed_signers")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "allowed_signers"), []byte(signers), 0o644); err != nil {
		return err
	}
	outf(c, "\ndone in %s. Look around (from %s):\n", time.Since(start).Round(10*time.Millisecond), dir)
	for _, l := range demoLookAround(dir) {
		outf(c, "    $ %s\n", l)
	}
	return nil
}

// demoLookAround is what the demo suggests to look at afterwards, in dir
// (the sandbox is gone by then: nothing here calls the provider).
func demoLookAround(dir string) []string {
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

func sandboxCommand() *cli.Command {
	return &cli.Command{
		Name:  "sandbox",
		Usage: "the local Hetzner-Cloud-compatible API server",
		Description: `EXAMPLE:
   vmc-git sandbox serve --addr 127.0.0.1:8080 --state sandbox.json`,
		Subcommands: []*cli.Command{{
			Name:  "serve",
			Usage: "serve the Hetzner Cloud API (servers, actions, types, images, locations, ...) on loopback",
			Description: `Speaks the Hetzner Cloud API under /v1 with hcloud-go's own wire types, with a
bearer token, paginated lists, label selectors, the API's error codes and
actions that run for a while. State persists in --state across restarts.
Point any hcloud client at it:

EXAMPLE:
   vmc-git sandbox serve --addr 127.0.0.1:8080 --state sandbox.json --token-file token &
   HCLOUD_ENDPOINT=http://127.0.0.1:8080/v1 HCLOUD_TOKEN=$(cat token) hcloud server list`,
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "addr", Value: "127.0.0.1:0", Usage: "loopback address to listen on"},
				&cli.StringFlag{Name: "state", Usage: "state file (default: in memory)"},
				&cli.StringFlag{Name: "token-file", Usage: "file with the bearer token clients must send (default: $HCLOUD_TOKEN; none: no check)"},
				&cli.DurationFlag{Name: "action-duration", Value: 500 * time.Millisecond, Usage: "how long actions run"},
			},
			Action: func(c *cli.Context) error {
				token := os.Getenv("HCLOUD_TOKEN")
				if f := c.String("token-file"); f != "" {
					b, err := os.ReadFile(f)
					if err != nil {
						return err
					}
					token = strings.TrimSpace(string(b))
				}
				sb, err := sandbox.New(sandbox.Options{Token: token, StatePath: c.String("state"), ActionDuration: c.Duration("action-duration")})
				if err != nil {
					return err
				}
				url, err := sb.Start(c.String("addr"))
				if err != nil {
					return err
				}
				auth := "no token check"
				if token != "" {
					auth = "bearer token required"
				}
				outf(c, "sandbox serving the Hetzner Cloud API at %s (%s)\nexport HCLOUD_ENDPOINT=%s\n", url, auth, url)
				<-c.Context.Done()
				return sb.Close()
			},
		}},
	}
}
