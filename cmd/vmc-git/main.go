// Command vmc-git is a GitOps ledger for Hetzner Cloud: servers change only
// through reviewed, approved plans, and every change becomes a signed receipt
// commit on a hash-chained git branch.
//
// The command is a thin layer over package workspace: each command parses
// its flags, opens the workspace, calls one use case, formats the result
// and picks the exit code (kindCodes maps the use case's error kinds). The
// commands are listed in commands(), in the order --help shows them.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/workspace"
)

// Version is set at link time: -ldflags "-X main.Version=v1.2.3".
var Version = "dev"

// Exit codes.
const (
	exitOK       = 0
	exitError    = 1 // anything else: I/O, provider, bad input
	exitUsage    = 2 // bad flags or arguments
	exitInvalid  = 3 // verification failed: the ledger, a receipt or a signature is not valid
	exitRefused  = 4 // refused: stale or unapproved plan, lock held, lost race
	exitNotFound = 5 // no ledger, no such receipt or plan
	exitDrift    = 6 // vmc-git drift: the provider differs from the ledger (not an error of the run)
)

const exitCodesHelp = `EXIT CODES:
   0  success
   1  error (I/O, provider, bad input)
   2  usage error
   3  verification failed (ledger, receipt or signature invalid)
   4  refused (stale or unapproved plan, lock held, concurrent writer)
   5  not found (no ledger, no such receipt or plan)
   6  drift: vmc-git drift found the provider differing from the ledger`

// cliError carries an exit code and optional hints to main.
type cliError struct {
	code  int
	err   error
	hints []string
}

func (e *cliError) Error() string { return e.err.Error() }
func (e *cliError) Unwrap() error { return e.err }

func fail(code int, err error, hints ...string) error {
	if err == nil {
		return nil
	}
	return &cliError{code, err, hints}
}

func usagef(format string, a ...any) error {
	return &cliError{exitUsage, fmt.Errorf(format, a...), nil}
}

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	err := app.Run(intersperse(app, args))
	if err == nil {
		return exitOK
	}
	code, hints := exitError, []string(nil)
	var ce *cliError
	var we *workspace.Error
	if errors.As(err, &ce) {
		code, hints = ce.code, ce.hints
	} else if errors.As(err, &we) {
		code, hints = kindCodes[we.Kind], we.Hints
	} else if errors.Is(err, workspace.ErrNoLedger) {
		code, hints = exitNotFound, []string{"create a ledger with: vmc-git init --ledger github.com/ORG/REPO --key KEYFILE"}
	} else if strings.Contains(err.Error(), "flag provided but not defined") || strings.Contains(err.Error(), "Required flag") {
		code = exitUsage
	} else if cmd, ok := strings.CutPrefix(err.Error(), "No help topic for "); ok {
		// urfave/cli's words for an unknown (sub)command.
		code, err = exitUsage, fmt.Errorf("unknown command %s", cmd)
		hints = []string{"vmc-git --help (or vmc-git COMMAND --help) lists the commands"}
		if near := didYouMean(app.Commands, strings.Trim(cmd, "'\"")); len(near) > 0 {
			hints = append([]string{"did you mean: vmc-git " + strings.Join(near, ", vmc-git ") + "?"}, hints...)
		}
	} else if c, ok := exitFor(err); ok {
		code = c
	}
	if workspace.IsInvalid(err) {
		code = exitInvalid
	}
	// One line per error (errors.Join puts each on its own line).
	for _, line := range strings.Split(strings.TrimRight(err.Error(), "\n"), "\n") {
		fmt.Fprintf(stderr, "vmc-git: error: %s\n", line)
	}
	for _, h := range hints {
		fmt.Fprintf(stderr, "vmc-git: hint: %s\n", h)
	}
	return code
}

// kindCodes maps a use case's kind of error to its exit code.
var kindCodes = map[workspace.Kind]int{
	workspace.KindError:    exitError,
	workspace.KindUsage:    exitUsage,
	workspace.KindInvalid:  exitInvalid,
	workspace.KindRefused:  exitRefused,
	workspace.KindNotFound: exitNotFound,
}

func newApp(stdout, stderr io.Writer) *cli.App {
	cli.HelpFlag = &cli.BoolFlag{Name: "help", Aliases: []string{"h"}, Usage: "show help"}
	app := &cli.App{
		Name:    "vmc-git",
		Usage:   "a signed, hash-chained GitOps ledger for Hetzner Cloud",
		Version: Version,
		Description: `vmc-git changes servers only through plans: a plan is made by a dry run, reviewed
in a pull request, approved with operator signatures and applied exactly once.
Every change becomes a receipt: canonical JSON, hashed with BLAKE3 and SHA-256,
chained by prev_blake3, signed with an Ed25519 operator key, and committed as
one signed git commit on the ledger branch (default vmc/ledger).

EXAMPLE:
   vmc-git demo /tmp/vmc-demo
   vmc-git -C infra plan server create web-1 --type cx22 --image ubuntu-24.04
   vmc-git -C infra apply --pending --key ~/.ssh/vmc_ci

` + exitCodesHelp,
		Writer:          stdout,
		ErrWriter:       stderr,
		HideHelpCommand: true,
		// Flags like --operator bob:admin,approver:bob.pub carry commas.
		DisableSliceFlagSeparator: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "repo", Aliases: []string{"C"}, Value: ".", Usage: "the ledger repository (any directory inside it)", EnvVars: []string{"VMC_REPO"}},
			&cli.StringFlag{Name: "branch", Usage: "ledger branch (default: from .vmc/config.json, else vmc/ledger)", EnvVars: []string{"VMC_BRANCH"}},
		},
		ExitErrHandler: func(*cli.Context, error) {}, // run() reports errors
		Before:         rebaseDir,
		Commands:       commands(),
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return usagef("%v", err)
		},
	}
	return app
}

// commands is every command, in the order --help lists them.
func commands() []*cli.Command {
	cmds := []*cli.Command{
		initCommand(),
		recordCommand(),
		syncCommand(),
		verifyCommand(),
		signCommand(),
		logCommand(),
		showCommand(),
		hashCommand(),
		canonCommand(),
		keygenCommand(),
		keysCommand(),
		demoCommand(),
		sandboxCommand(),
		hookCommand(),
		merkleCommand(),
		witnessCommand(),
		planCommand(),
		serverCommand(),
		approveCommand(),
		applyCommand(),
		lockCommand(),
		policyCommand(),
		driftCommand(),
		anchorCommand(),
		stateCommand(), // resources.go
		mcpCommand(),
	}
	for _, c := range cmds {
		setUsageErrors(c)
	}
	return cmds
}

func setUsageErrors(c *cli.Command) {
	c.OnUsageError = func(_ *cli.Context, err error, _ bool) error { return usagef("%v", err) }
	markRequired(c)
	for _, s := range c.Subcommands {
		setUsageErrors(s)
	}
}
