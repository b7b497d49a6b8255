package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/internal/config"
	"github.com/vmc-git/vmc-git/provider/sandbox"
	"github.com/vmc-git/vmc-git/workspace"
)

func demoCommand() *cli.Command {
	return &cli.Command{
		Name:      "demo",
		Usage:     "run the whole flow on the embedded sandbox: plan, approve, apply, verify",
		ArgsUsage: "[DIR]",
		Description: `Makes a ledger repository in DIR (default: a new temporary directory) with two
operators: alice (admin, applier) and bob (approver). Then, through the same
commands you would use: plans a server, bob approves, the plan is committed on
main and applied against the embedded Hetzner-compatible sandbox; then a
power-off, a resize and a delete the same way; finally verifies the chain with
signatures. Prints every step and the commands to look around.

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

func runDemo(c *cli.Context, dir string) error {
	start := time.Now()
	dir, _ = filepath.Abs(dir)
	keysDir := filepath.Join(dir, "keys")
	repo := filepath.Join(dir, "infra")
	if err := os.MkdirAll(keysDir, 0o700); err != nil {
		return err
	}
	// Locks of this demo stay inside it.
	os.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "cache"))
	alice, bob := filepath.Join(keysDir, "alice"), filepath.Join(keysDir, "bob")
	step := func(what string, args ...string) (string, error) {
		var out, errb bytes.Buffer
		full := append([]string{"vmc-git"}, args...)
		if code := run(full, &out, &errb); code != 0 {
			return "", fmt.Errorf("demo step %q failed (exit %d): vmc-git %s\n%s%s", what, code, strings.Join(args, " "), out.String(), errb.String())
		}
		outf(c, "• %s\n    $ vmc-git %s\n", what, strings.Join(shorten(args, dir), " "))
		return out.String(), nil
	}
	if _, err := step("make alice's operator key", "keygen", "--kid", "alice", "--out", alice); err != nil {
		return err
	}
	if _, err := step("make bob's operator key", "keygen", "--kid", "bob", "--out", bob); err != nil {
		return err
	}
	if _, err := step("create the ledger (alice: admin+applier, bob: approver)", "init", repo, "--ledger", "example.com/demo/infra",
		"--key", alice, "--roles", "admin,applier", "--operator", "bob:approver:"+bob+".pub", "--provider", config.ProviderSandbox); err != nil {
		return err
	}
	type planStep struct {
		what, id string
		args     []string
	}
	steps := []planStep{
		{"plan a new server", "web-1-create", []string{"create", "web-1", "--type", "cx22", "--image", "ubuntu-24.04", "--location", "fsn1", "--label", "role=web"}},
		{"plan a power-off (needed before a resize)", "web-1-poweroff", []string{"poweroff", "web-1"}},
		{"plan a resize to cx32", "web-1-resize", []string{"resize", "web-1", "--type", "cx32"}},
		{"plan the delete", "web-1-delete", []string{"delete", "web-1"}},
	}
	for _, ps := range steps {
		args := append([]string{"-C", repo, "plan", "server"}, ps.args...)
		args = append(args, "--id", ps.id, "--kid", "alice")
		if _, err := step(ps.what, args...); err != nil {
			return err
		}
		file := filepath.Join(repo, "plans", ps.id+".json")
		if _, err := step("bob reviews and approves", "-C", repo, "approve", file, "--key", bob); err != nil {
			return err
		}
		if err := workspace.CommitFiles(repo, "alice", "plan "+ps.id, "plans"); err != nil {
			return err
		}
		outf(c, "• merge the plan to main\n    $ git commit -m 'plan %s' plans/\n", ps.id)
		out, err := step("CI applies merged plans", "-C", repo, "apply", "--pending", "--key", alice)
		if err != nil {
			return err
		}
		outf(c, "    %s", out)
	}
	out, err := step("verify the whole chain with signatures", "-C", repo, "verify", "chain", "--sig")
	if err != nil {
		return err
	}
	outf(c, "    %s", strings.ReplaceAll(strings.TrimRight(out, "\n"), "\n", "\n    ")+"\n")
	outf(c, "\ndone in %s. Look around:\n  cd %s\n  git log --oneline refs/heads/vmc/ledger\n  vmc-git log\n  vmc-git show 1\n  vmc-git verify chain --sig\n  git -c gpg.format=ssh -c gpg.ssh.allowedSignersFile=<(git show refs/heads/vmc/ledger:keys/allowed_signers) log --show-signature refs/heads/vmc/ledger\n",
		time.Since(start).Round(10*time.Millisecond), repo)
	return nil
}

// shorten replaces dir in args with "." for display.
func shorten(args []string, dir string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = strings.ReplaceAll(a, dir+string(filepath.Separator), "")
	}
	return out
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
