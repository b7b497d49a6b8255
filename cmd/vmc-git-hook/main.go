// Command vmc-git-hook is the server's pre-receive hook on its own: the
// same checks as `vmc-git hook pre-receive` (package hooks), in a binary
// that links only the hook and what it reads, not the whole command
// (policy engine, cloud and anchoring clients). A push waits for the hook,
// and starting the whole vmc-git binary costs more than most checks:
// `vmc-git hook install` in a bare repository copies this binary beside the
// hook when it finds it beside vmc-git (go install ./cmd/... installs
// both), and the hook script runs it.
//
// Usage, as the installed script runs it (git gives "<old> <new> <ref>"
// lines on stdin and GIT_DIR, GIT_OBJECT_DIRECTORY for the quarantine):
//
//	vmc-git-hook pre-receive [--main-branch BRANCH] [--ledger-branch BRANCH]
//
// Its input, output and exit codes are those of `vmc-git hook
// pre-receive`: one "vmc-git: refused <ref>: <reason>" line per refusal on
// stderr, then "vmc-git: error: push refused by the vmc-git hook" and exit
// 3; exit 2 for bad arguments or input, 5 when the repository is missing,
// 1 for any other error; exit 0 accepts the push.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"

	// The anchor verifiers: the hook checks anchor receipts as verify
	// does, and each substrate registers its verifier when linked
	// (TestLinksEveryAnchorVerifier keeps this list whole).
	_ "github.com/vmc-git/vmc-git/anchor/btc"
	_ "github.com/vmc-git/vmc-git/anchor/eth"
	_ "github.com/vmc-git/vmc-git/anchor/rfc3161"
	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/hooks"
)

// Exit codes, as vmc-git's.
const (
	exitOK       = 0
	exitError    = 1
	exitUsage    = 2
	exitInvalid  = 3
	exitNotFound = 5
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stderr, os.Getenv))
}

func run(args []string, stdin io.Reader, stderr io.Writer, getenv func(string) string) int {
	fail := func(code int, err error) int {
		fmt.Fprintf(stderr, "vmc-git: error: %v\n", err)
		return code
	}
	if len(args) == 0 || args[0] != "pre-receive" {
		return fail(exitUsage, errors.New("usage: vmc-git-hook pre-receive [--main-branch BRANCH] [--ledger-branch BRANCH] (the pre-receive hook; git runs it)"))
	}
	fl := flag.NewFlagSet("vmc-git-hook pre-receive", flag.ContinueOnError)
	fl.SetOutput(stderr)
	var given hooks.Branches
	fl.StringVar(&given.Main, "main-branch", "", "the branch with .vmc/config.json and plans (default: from the config, else main)")
	fl.StringVar(&given.Ledger, "ledger-branch", "", "the ledger branch (default: from the config, else vmc/ledger)")
	if err := fl.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fl.NArg() > 0 {
		return fail(exitUsage, fmt.Errorf("pre-receive takes no arguments, got %q", fl.Arg(0)))
	}
	ups, err := hooks.ParseUpdates(stdin)
	if err != nil {
		return fail(exitUsage, err)
	}
	gitDir := getenv("GIT_DIR")
	if gitDir == "" {
		gitDir = "."
	}
	l, err := gitledger.OpenHookRepo(gitDir, "", getenv("GIT_OBJECT_DIRECTORY"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fail(exitNotFound, err)
		}
		return fail(exitError, err)
	}
	refusals := hooks.CheckRefs(l, ups, nil, hooks.HeadBranches(l, given))
	if len(refusals) == 0 {
		return exitOK
	}
	fmt.Fprint(stderr, hooks.Summary(refusals))
	return fail(exitInvalid, hooks.ErrPushRefused)
}
