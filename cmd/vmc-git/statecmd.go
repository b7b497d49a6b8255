package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/provider"
	"github.com/vmc-git/vmc-git/state"
	"github.com/vmc-git/vmc-git/workspace"
)

func stateCommand() *cli.Command {
	return &cli.Command{
		Name:  "state",
		Usage: "show the state the ledger expects: every resource, as the last applied action observed it",
		Description: `Replays the ledger's apply receipts (see package state): each server, firewall,
network, volume, SSH key and IP that applied plans created or changed, with the
receipt and plan of the last action on it.

EXAMPLE:
   vmc-git state
   vmc-git state --json | jq '.resources[] | select(.kind=="firewall")'`,
		Flags: []cli.Flag{jsonFlag},
		Action: func(c *cli.Context) error {
			return report(c, (*workspace.Workspace).State, func(st *state.State) {
				outf(c, "ledger %s at receipt %d: %d resources\n", st.Ledger, st.Seq, len(st.Resources))
				for _, e := range st.Resources {
					outf(c, "%-12s %-24s %s (receipt %d, plan %s, %s)\n", e.Kind, e.Name, describeEntry(e), e.Seq, e.Plan, e.Op)
				}
			})
		},
	}
}

func describeEntry(e state.Entry) string {
	if e.Unknown {
		return "unknown: the last action's outcome could not be learned"
	}
	if s := e.Server; s != nil {
		out := fmt.Sprintf("id %d, %s, %s, %s, %s", s.ID, s.Status, s.ServerType, s.Location, s.IPv4)
		if len(s.Firewalls) > 0 {
			out += ", firewalls " + strings.Join(s.Firewalls, ",")
		}
		for _, n := range s.PrivateNet {
			out += ", " + n.Network + " " + n.IP
		}
		return out
	}
	r := e.Other
	out := "id " + strconv.FormatInt(r.ID, 10)
	switch r.Kind {
	case provider.KindFirewall:
		out += fmt.Sprintf(", %d rules", len(r.Rules))
		if len(r.Servers) > 0 {
			out += ", servers " + strings.Join(r.Servers, ",")
		}
	case provider.KindNetwork:
		out += ", " + r.IPRange + fmt.Sprintf(", %d subnets", len(r.Subnets))
	case provider.KindVolume:
		out += fmt.Sprintf(", %d GB, %s", r.Size, r.Location)
	case provider.KindSSHKey:
		out += ", " + r.Fingerprint
	default:
		out += ", " + r.IP
	}
	if r.Server != "" {
		out += ", on server " + r.Server
	}
	return out
}
