package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
)

// rebaseDir makes -C DIR work as git -C does: vmc-git starts in DIR, so
// every relative path (plan files, --key, --body, -o) is relative to it.
func rebaseDir(c *cli.Context) error {
	d := c.String("repo")
	if d == "" || d == "." {
		return nil
	}
	if err := os.Chdir(d); err != nil {
		return fail(exitNotFound, fmt.Errorf("-C %s: %w", d, err))
	}
	return c.Set("repo", ".")
}

// markRequired adds "(required)" to the usage of every required flag, so
// that --help lists what a command cannot run without.
func markRequired(c *cli.Command) {
	for _, f := range c.Flags {
		switch x := f.(type) {
		case *cli.StringFlag:
			if x.Required && !strings.HasSuffix(x.Usage, "(required)") {
				x.Usage += " (required)"
			}
		case *cli.StringSliceFlag:
			if x.Required && !strings.HasSuffix(x.Usage, "(required)") {
				x.Usage += " (required)"
			}
		case *cli.IntFlag:
			if x.Required && !strings.HasSuffix(x.Usage, "(required)") {
				x.Usage += " (required)"
			}
		}
	}
}

// exitFor picks the exit code of an error no layer classified.
func exitFor(err error) (int, bool) {
	if errors.Is(err, fs.ErrNotExist) {
		return exitNotFound, true
	}
	return 0, false
}

// didYouMean suggests the command names closest to an unknown one.
func didYouMean(cmds []*cli.Command, name string) []string {
	var out []string
	for _, c := range cmds {
		for _, n := range c.Names() {
			if d := editDistance(n, name); d <= 2 || (len(name) >= 3 && strings.HasPrefix(n, name)) {
				out = append(out, n)
				break
			}
		}
	}
	return out
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// commandPath is the full command path of c ("plan server create"), for
// hints that name its --help.
func commandPath(c *cli.Context) string {
	var names []string
	for _, x := range c.Lineage() {
		if x.Command != nil && x.Command.Name != "" && x.Command.Name != c.App.Name {
			names = append([]string{x.Command.Name}, names...)
		}
	}
	if len(names) == 0 {
		return c.Command.FullName()
	}
	return strings.Join(names, " ")
}
