package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/hooks"
	"github.com/vmc-git/vmc-git/workspace"
)

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
						if gitDir, err = workspace.GitDir("."); err != nil {
							return err
						}
					}
					return runHookCheck(c, gitDir, "", ups, func(ref string) string {
						if b, ok := strings.CutPrefix(ref, "refs/heads/"); ok && c.NArg() > 0 {
							return "refs/remotes/" + c.Args().First() + "/" + b
						}
						// Locks and intents are not fetched: ask the remote.
						if strings.HasPrefix(ref, "refs/vmc/") && c.NArg() > 0 {
							if id, ok := workspace.RemoteRefValue(".", c.Args().First(), ref); ok {
								return "=" + id
							}
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
its own, so both guard the push. The hook runs a copy of the binary put beside
it, so it never depends on a path that can vanish (go run, a temporary
directory): pre-receive runs hooks/vmc-git-hook, a copy of the small
vmc-git-hook binary (the same checks, without the rest of vmc-git, so a push
does not wait for the whole command to start) found beside this vmc-git
(go install ./cmd/... installs both) or given with --hook-bin, which must come
from the same build; without one it runs hooks/vmc-git, a copy of this
vmc-git, and says so. pre-push always runs hooks/vmc-git. The branches it guards are read from
.vmc/config.json at HEAD each time it runs (before the first push: the branch
HEAD names), unless --main-branch/--ledger-branch. An existing hook not
written by vmc-git is kept unless --force.

EXAMPLE:
   vmc-git hook install --repo /srv/git/infra.git
   vmc-git hook install --gitea --repo /var/lib/gitea/repositories/acme/infra.git
   vmc-git hook install            # in your clone: checks before every push`,
				Flags: append(branchFlags(),
					&cli.StringFlag{Name: "repo", Usage: "the repository (default: the current one)"},
					&cli.BoolFlag{Name: "force", Usage: "replace a hook vmc-git did not write"},
					&cli.BoolFlag{Name: "gitea", Usage: "a Gitea or Forgejo repository: install hooks/pre-receive.d/vmc-git"},
					&cli.StringFlag{Name: "hook-bin", Usage: "the vmc-git-hook binary the pre-receive hook runs (default: vmc-git-hook beside this vmc-git)"},
					jsonFlag,
				),
				Action: func(c *cli.Context) error {
					dir := c.String("repo")
					if dir == "" {
						dir = "."
					}
					exe, err := os.Executable()
					if err != nil {
						return err
					}
					if exe, err = filepath.EvalSymlinks(exe); err != nil {
						return err
					}
					bin, noBin, err := workspace.HookBinFor(exe, c.String("hook-bin"))
					if err != nil {
						return err
					}
					h, err := workspace.InstallHook(workspace.HookRequest{Repo: dir, Exe: exe, HookBin: bin, MainBranch: c.String("main-branch"), LedgerBranch: c.String("ledger-branch"), Force: c.Bool("force"), Gitea: c.Bool("gitea")})
					if err != nil {
						return err
					}
					if c.Bool("json") {
						return printJSON(c, h)
					}
					outf(c, "installed %s (runs %s; guards %s and %s, as .vmc/config.json names them when the hook runs)\n", h.Path, h.Command, h.MainBranch, h.LedgerBranch)
					if why := workspace.TransientExe(exe); why != "" {
						errf(c, "the running binary %s may vanish (%s): the hook runs the copy %s instead", exe, why, h.Exe)
					}
					if h.Hook == workspace.HookPreReceive && filepath.Base(h.Exe) == workspace.HookExeName {
						errf(c, "%s: the pre-receive hook runs the whole vmc-git, which starts slower than %s (go build -o %s ./cmd/%s, or --hook-bin)",
							noBin, workspace.HookBinName, filepath.Join(filepath.Dir(exe), workspace.HookBinName), workspace.HookBinName)
					}
					outf(c, "  the hook runs its own copy of the binary; after upgrading vmc-git, run hook install again\n")
					if len(h.Serve) > 0 {
						outf(c, "  serving config (git gc writes a bitmap, so clones are cheap; README \"Serving a large ledger\"): %s\n", serveSummary(h.Serve))
					}
					return nil
				},
			},
		},
	}
}

// runHookCheck runs the push rules; tracking maps a pushed ref to a local
// ref holding the remote's value of refs not in the push (pre-push).
func runHookCheck(c *cli.Context, gitDir, quarantine string, ups []hooks.Update, tracking func(string) string) error {
	b := workspace.HookBranches(gitDir, hooks.Branches{Main: c.String("main-branch"), Ledger: c.String("ledger-branch")})
	refusals, err := workspace.CheckPush(gitDir, quarantine, ups, tracking, b)
	if len(refusals) > 0 {
		fmt.Fprint(c.App.ErrWriter, hooks.Summary(refusals))
	}
	return err
}

func branchFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "main-branch", Usage: "the branch with .vmc/config.json and plans (default: from the config, else main)"},
		&cli.StringFlag{Name: "ledger-branch", Usage: "the ledger branch (default: from the config, else vmc/ledger)"},
	}
}
