package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/apply"
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

// failedActions lists each action of o that did not succeed with the
// provider's error code and message, one per line.
func failedActions(o *apply.Outcome) string {
	var b strings.Builder
	for i, rec := range o.Actions {
		var a provider.Action
		var r provider.Result
		if json.Unmarshal(rec.Action, &a) != nil || json.Unmarshal(rec.Result, &r) != nil || r.Status == provider.StatusSucceeded {
			continue
		}
		code := ""
		if r.Code != "" {
			code = " [" + r.Code + "]"
		}
		fmt.Fprintf(&b, "\n  action %d (%s %s): %s%s: %s", i+1, a.Op, a.Server, r.Status, code, r.Error)
	}
	return b.String()
}
