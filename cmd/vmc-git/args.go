package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// intersperse lets flags follow positional arguments ("vmc-git init DIR
// --ledger X"), which urfave/cli v2 does not parse by itself: it moves each
// command's flags (and their values) in front of its positional arguments.
func intersperse(app *cli.App, args []string) []string {
	out := []string{args[0]}
	rest := args[1:]
	flags, cmds := app.Flags, app.Commands
	for {
		var pos, fl []string
		var next *cli.Command
		for i := 0; i < len(rest); i++ {
			a := rest[i]
			if a == "--" {
				pos = append(pos, rest[i:]...)
				break
			}
			if strings.HasPrefix(a, "-") && len(a) > 1 {
				fl = append(fl, a)
				if !strings.Contains(a, "=") && takesValue(flags, strings.TrimLeft(a, "-")) && i+1 < len(rest) {
					i++
					fl = append(fl, rest[i])
				}
				continue
			}
			if len(pos) == 0 {
				if c := findCommand(cmds, a); c != nil {
					next = c
					out = append(out, fl...)
					out = append(out, a)
					rest = rest[i+1:]
					break
				}
			}
			pos = append(pos, a)
		}
		if next == nil {
			out = append(out, fl...)
			return append(out, pos...)
		}
		flags, cmds = next.Flags, next.Subcommands
	}
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

func takesValue(flags []cli.Flag, name string) bool {
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				_, isBool := f.(*cli.BoolFlag)
				return !isBool
			}
		}
	}
	return false
}
