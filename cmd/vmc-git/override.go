package main

import (
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/workspace"
)

// Flags of approve that make it an admin's policy override.
var (
	overrideFlag = &cli.StringSliceFlag{Name: "override", Usage: "as an admin, override policy RULE for this plan instead of approving it (repeatable): writes plans/<id>.overrides/<kid>.json"}
	reasonFlag   = &cli.StringFlag{Name: "reason", Usage: "with --override: why (recorded in the receipt)"}
)

// approveOverride is approve --override: one call, then the result.
func approveOverride(c *cli.Context, ws *workspace.Workspace, file string, p *plans.Plan, b []byte, id workspace.Identity) error {
	o, err := workspace.ApproveOverride(ws, file, p, b, id, c.StringSlice("override"), c.String("reason"))
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c, o)
	}
	outf(c, "override of %s for plan %s signed by admin %s: %s\nnext: commit it with the plan, before the plan is merged\n", strings.Join(o.Rules, ", "), o.Plan, o.KID, o.Path)
	return nil
}
