package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/hooks"
	"github.com/vmc-git/vmc-git/internal/config"
)

func init() {
	extraCommandFuncs = append(extraCommandFuncs, func() []*cli.Command { return []*cli.Command{hookCommand()} })
}

// hookMarker identifies hook scripts vmc-git wrote.
const hookMarker = "# installed by vmc-git hook install"

// giteaHookPath is where Gitea and Forgejo run extra pre-receive hooks,
// relative to the repository's hooks directory.
const giteaHookPath = "pre-receive.d/vmc-git"

func hookCommand() *cli.Command {
	return &cli.Command{
		Name:  "hook",
		Usage: "git hooks that refuse any push breaking the ledger",
		Description: `EXAMPLE:
   vmc-git -C /srv/git/infra.git hook install
   vmc-git hook install   # in a clone: the pre-push hook`,
		Subcommands: []*cli.Command{
			{
				Name:  "pre-receive",
				Usage: "the server-side hook: reads \"<old> <new> <ref>\" lines on stdin",
				Description: `Run by git in the receiving repository. Checks the ledger branch (fast-forward,
every rule of verify chain --sig from the accepted tip), snapshot tags (created
once, signed, root matches), plans on main (add-only, immutable, canonical), the
genesis pin in .vmc/config.json and lock refs. Reads the pushed objects from
git's quarantine. One line per refusal; exit 1 refuses the whole push.

EXAMPLE:
   vmc-git hook install --repo /srv/git/infra.git`,
				Flags: branchFlags(),
				Action: func(c *cli.Context) error {
					ups, err := hooks.ParseUpdates(os.Stdin)
					if err != nil {
						return fail(exitUsage, err)
					}
					gitDir := os.Getenv("GIT_DIR")
					if gitDir == "" {
						gitDir = "."
					}
					return runHookCheck(c, gitDir, os.Getenv("GIT_OBJECT_DIRECTORY"), ups, nil)
				},
			},
			{
				Name:      "pre-push",
				Usage:     "the client-side hook: the same checks before git push sends anything",
				ArgsUsage: "REMOTE URL",
				Flags:     branchFlags(),
				Description: `Git runs it with the remote's name and URL, and "<local ref> <local sha>
<remote ref> <remote sha>" lines on stdin.

EXAMPLE:
   vmc-git hook install   # writes .git/hooks/pre-push that runs: vmc-git hook pre-push "$@"`,
				Action: func(c *cli.Context) error {
					ups, err := hooks.ParsePrePush(os.Stdin)
					if err != nil {
						return fail(exitUsage, err)
					}
					gitDir := os.Getenv("GIT_DIR")
					if gitDir == "" {
						out, err := gitCmd(".", "rev-parse", "--git-dir")
						if err != nil {
							return err
						}
						gitDir = strings.TrimSpace(out)
					}
					return runHookCheck(c, gitDir, "", ups, func(ref string) string {
						if b, ok := strings.CutPrefix(ref, "refs/heads/"); ok && c.NArg() > 0 {
							return "refs/remotes/" + c.Args().First() + "/" + b
						}
						return ""
					})
				},
			},
			{
				Name:  "install",
				Usage: "install the pre-receive hook in a (bare) server repository, or pre-push in a clone",
				Description: `In a bare repository (--repo BARE) it installs hooks/pre-receive; in a
repository with a work tree it installs .git/hooks/pre-push. With --gitea
(also Forgejo) it installs hooks/pre-receive.d/vmc-git in the server's bare
repository instead: Gitea's own hooks/pre-receive runs every script there after
its own, so both guard the push. The hook runs this vmc-git binary by its
absolute path. An existing hook not written by vmc-git is kept unless --force.

EXAMPLE:
   vmc-git hook install --repo /srv/git/infra.git
   vmc-git hook install --gitea --repo /var/lib/gitea/repositories/acme/infra.git
   vmc-git hook install            # in your clone: checks before every push`,
				Flags: append(branchFlags(),
					&cli.StringFlag{Name: "repo", Usage: "the repository (default: the current one)"},
					&cli.BoolFlag{Name: "force", Usage: "replace a hook vmc-git did not write"},
					&cli.BoolFlag{Name: "gitea", Usage: "a Gitea or Forgejo repository: install hooks/pre-receive.d/vmc-git"},
				),
				Action: func(c *cli.Context) error {
					dir := c.String("repo")
					if dir == "" {
						dir = "."
					}
					out, err := gitCmd(dir, "rev-parse", "--is-bare-repository", "--absolute-git-dir")
					if err != nil {
						return fail(exitNotFound, err)
					}
					f := strings.Fields(out)
					if len(f) != 2 {
						return fmt.Errorf("cannot tell the git directory of %s", dir)
					}
					bare, gitDir := f[0] == "true", f[1]
					name, sub := "pre-push", "pre-push"
					if bare {
						name, sub = "pre-receive", "pre-receive"
					}
					if c.Bool("gitea") {
						if !bare {
							return usagef("--gitea: %s is not a bare repository (give the repository under Gitea's REPO_ROOT)", dir)
						}
						name = giteaHookPath
					}
					exe, err := os.Executable()
					if err != nil {
						return err
					}
					if exe, err = filepath.EvalSymlinks(exe); err != nil {
						return err
					}
					path := filepath.Join(gitDir, "hooks", name)
					if old, err := os.ReadFile(path); err == nil && !bytes.Contains(old, []byte(hookMarker)) && !c.Bool("force") {
						return fail(exitRefused, fmt.Errorf("%s exists and was not written by vmc-git", path), "chain it by hand, or use --force to replace it")
					}
					mainB, ledgerB := installBranches(c, dir)
					args := fmt.Sprintf(`--main-branch %s --ledger-branch %s "$@"`, shellQuote(mainB), shellQuote(ledgerB))
					script := fmt.Sprintf("#!/bin/sh\n%s\nexec %s hook %s %s\n", hookMarker, shellQuote(exe), sub, args)
					if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
						return err
					}
					if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
						return err
					}
					outf(c, "installed %s (runs %s hook %s; guards %s and %s)\n", path, exe, sub, mainB, ledgerB)
					return nil
				},
			},
		},
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// runHookCheck runs the push rules; tracking maps a pushed ref to a local
// ref holding the remote's value of refs not in the push (pre-push).
func runHookCheck(c *cli.Context, gitDir, quarantine string, ups []hooks.Update, tracking func(string) string) error {
	l, err := gitledger.OpenHookRepo(gitDir, "", quarantine)
	if err != nil {
		return err
	}
	repo := l.Repo()
	current := func(ref string) plumbing.Hash {
		if tracking != nil {
			for _, u := range ups {
				if u.Ref == ref {
					return u.Old
				}
			}
			if ref = tracking(ref); ref == "" {
				return plumbing.ZeroHash
			}
		}
		r, err := repo.Storer.Reference(plumbing.ReferenceName(ref))
		if err != nil {
			return plumbing.ZeroHash
		}
		return r.Hash()
	}
	refusals := hooks.Check(l, ups, current, hooks.Branches{Main: c.String("main-branch"), Ledger: c.String("ledger-branch")})
	if len(refusals) == 0 {
		return nil
	}
	fmt.Fprint(c.App.ErrWriter, hooks.Summary(refusals))
	return fail(exitInvalid, errors.New("push refused by the vmc-git hook"))
}

func branchFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "main-branch", Usage: "the branch with .vmc/config.json and plans (default: from the config, else main)"},
		&cli.StringFlag{Name: "ledger-branch", Usage: "the ledger branch (default: from the config, else vmc/ledger)"},
	}
}

// installBranches picks the branch names a hook guards: the flags, else the
// repository's .vmc/config.json at HEAD, else main and vmc/ledger.
func installBranches(c *cli.Context, repo string) (mainB, ledgerB string) {
	mainB, ledgerB = "main", gitledger.DefaultBranch
	if out, err := gitCmd(repo, "show", "HEAD:"+config.Path); err == nil {
		if cfg, err := config.Parse([]byte(out)); err == nil {
			mainB, ledgerB = cfg.MainBranch, cfg.Branch
		}
	}
	if v := c.String("main-branch"); v != "" {
		mainB = v
	}
	if v := c.String("ledger-branch"); v != "" {
		ledgerB = v
	}
	return mainB, ledgerB
}
