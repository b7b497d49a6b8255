package main

import (
	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/provider"
)

// withPoweroffFirst prepends a poweroff of the server to a resize when
// --poweroff-first is given.
func withPoweroffFirst(c *cli.Context, a provider.Action) []provider.Action {
	if a.Op == provider.OpResize && c.Bool("poweroff-first") {
		return []provider.Action{{Op: provider.OpPoweroff, Server: a.Server}, a}
	}
	return []provider.Action{a}
}
