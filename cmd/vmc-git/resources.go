package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/provider"
	"github.com/vmc-git/vmc-git/state"
)

// Plans for firewalls, networks, volumes, SSH keys and IPs, the server ops
// that go with them, multi-action plans from a file, and `vmc-git state`.
// Command and flag names follow the hcloud CLI.

// resSpec is one op of one kind on the command line.
type resSpec struct {
	name  string // command name, hcloud style ("apply-to-resource")
	op    provider.Op
	usage string
	flags []cli.Flag
	build func(c *cli.Context, a *provider.Action) error
}

func noBuild(*cli.Context, *provider.Action) error { return nil }

func setLabels(c *cli.Context, a *provider.Action) error {
	var err error
	a.Labels, err = parseLabels(c)
	return err
}

func boolPtr(c *cli.Context, name string) *bool {
	if !c.IsSet(name) {
		return nil
	}
	v := c.Bool(name)
	return &v
}

var (
	flagRule      = &cli.StringSliceFlag{Name: "rule", Usage: `rule "DIRECTION PROTOCOL [PORT] CIDR[,CIDR…] [DESCRIPTION]", e.g. "in tcp 443 0.0.0.0/0,::/0 https" (repeatable)`}
	flagRulesFile = &cli.StringFlag{Name: "rules-file", Usage: "JSON file with a list of rules {direction, protocol, port, source_ips, destination_ips, description}"}
	flagServer    = &cli.StringFlag{Name: "server", Usage: "server name"}
	flagLabelSel  = &cli.StringSliceFlag{Name: "label-selector", Usage: "label selector (repeatable)"}
	flagServers   = &cli.StringSliceFlag{Name: "server", Usage: "server name (repeatable)"}
	flagRDNS      = []cli.Flag{
		&cli.StringFlag{Name: "ip", Usage: "the address (default: the resource's own, a server's public IPv4)"},
		&cli.StringFlag{Name: "hostname", Usage: "the reverse DNS name"},
		&cli.BoolFlag{Name: "reset", Usage: "reset to the default"},
	}
	flagProtect = &cli.BoolFlag{Name: "delete", Required: true, Usage: "protect against deletion (--delete=false to lift)"}
)

// parseRule reads the --rule syntax.
func parseRule(s string) (provider.FirewallRule, error) {
	f := strings.Fields(s)
	if len(f) < 3 {
		return provider.FirewallRule{}, fmt.Errorf("--rule %q: want DIRECTION PROTOCOL [PORT] CIDR[,CIDR…] [DESCRIPTION]", s)
	}
	r := provider.FirewallRule{Direction: f[0], Protocol: f[1]}
	rest := f[2:]
	if r.Protocol == "tcp" || r.Protocol == "udp" {
		r.Port, rest = rest[0], rest[1:]
		if len(rest) == 0 {
			return r, fmt.Errorf("--rule %q: no addresses", s)
		}
	}
	ips := strings.Split(rest[0], ",")
	if r.Direction == provider.DirectionOut {
		r.DestinationIPs = ips
	} else {
		r.SourceIPs = ips
	}
	r.Description = strings.Join(rest[1:], " ")
	return r, r.Check()
}

func setRules(c *cli.Context, a *provider.Action) error {
	for _, s := range c.StringSlice("rule") {
		r, err := parseRule(s)
		if err != nil {
			return err
		}
		a.Rules = append(a.Rules, r)
	}
	if f := c.String("rules-file"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var rules []provider.FirewallRule
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rules); err != nil {
			return fmt.Errorf("--rules-file %s: %w", f, err)
		}
		a.Rules = append(a.Rules, rules...)
	}
	return nil
}

func setTargets(c *cli.Context, a *provider.Action) error {
	a.Servers, a.LabelSelectors = c.StringSlice("server"), c.StringSlice("label-selector")
	return nil
}

func setRDNS(c *cli.Context, a *provider.Action) error {
	a.IP = c.String("ip")
	switch {
	case c.Bool("reset") && c.IsSet("hostname"):
		return fmt.Errorf("give --hostname or --reset, not both")
	case c.Bool("reset"):
		a.DNSPtr = new(string)
	case c.IsSet("hostname"):
		h := c.String("hostname")
		if h == "" {
			return fmt.Errorf("--hostname is empty: use --reset")
		}
		a.DNSPtr = &h
	default:
		return fmt.Errorf("give --hostname NAME or --reset")
	}
	return nil
}

// parseSubnet reads "CIDR,ZONE[,TYPE]".
func parseSubnet(s string) (provider.Subnet, error) {
	f := strings.Split(s, ",")
	if len(f) < 2 || len(f) > 3 {
		return provider.Subnet{}, fmt.Errorf("--subnet %q: want CIDR,NETWORK-ZONE[,TYPE]", s)
	}
	sub := provider.Subnet{IPRange: f[0], NetworkZone: f[1]}
	if len(f) == 3 {
		sub.Type = f[2]
	}
	return sub, sub.Check()
}

// parseRoute reads "DESTINATION,GATEWAY".
func parseRoute(s string) (provider.Route, error) {
	d, g, ok := strings.Cut(s, ",")
	if !ok {
		return provider.Route{}, fmt.Errorf("--route %q: want DESTINATION,GATEWAY", s)
	}
	r := provider.Route{Destination: d, Gateway: g}
	return r, r.Check()
}

func common() (label, rename, del, protect resSpec) {
	label = resSpec{"label", provider.OpLabel, "replace the labels (vmc.* labels stay)", []cli.Flag{labelsFlag("label KEY=VALUE (repeatable, at least one)")}, setLabels}
	rename = resSpec{"rename", provider.OpRename, "rename", []cli.Flag{&cli.StringFlag{Name: "new-name", Required: true, Usage: "the new name"}},
		func(c *cli.Context, a *provider.Action) error { a.NewName = c.String("new-name"); return nil }}
	del = resSpec{"delete", provider.OpDelete, "delete", nil, noBuild}
	protect = resSpec{"protect", provider.OpProtect, "change delete protection", []cli.Flag{flagProtect},
		func(c *cli.Context, a *provider.Action) error { a.Delete = boolPtr(c, "delete"); return nil }}
	return
}

// kindSpecs lists the commands of each kind.
func kindSpecs() map[provider.Kind][]resSpec {
	label, rename, del, protect := common()
	ipCreate := func(k provider.Kind) resSpec {
		flags := []cli.Flag{
			&cli.StringFlag{Name: "type", Required: true, Usage: "ipv4 or ipv6"},
			&cli.StringFlag{Name: "location", Usage: "location (or --server)"}, flagServer, labelsFlag("label KEY=VALUE (repeatable)"),
		}
		if k == provider.KindPrimaryIP {
			flags = append(flags, &cli.BoolFlag{Name: "auto-delete", Usage: "delete it with its server"})
		} else {
			flags = append(flags, &cli.StringFlag{Name: "description", Usage: "description"})
		}
		return resSpec{"create", provider.OpCreate, "create a " + strings.ReplaceAll(k.String(), "_", " "), flags, func(c *cli.Context, a *provider.Action) error {
			a.Type, a.Location, a.Server, a.Description = c.String("type"), c.String("location"), c.String("server"), c.String("description")
			a.AutoDelete = boolPtr(c, "auto-delete")
			return setLabels(c, a)
		}}
	}
	ipOps := []resSpec{
		{"assign", provider.OpAssign, "assign to a server", []cli.Flag{&cli.StringFlag{Name: "server", Required: true, Usage: "server name"}},
			func(c *cli.Context, a *provider.Action) error { a.Server = c.String("server"); return nil }},
		{"unassign", provider.OpUnassign, "unassign from its server", nil, noBuild},
		{"set-rdns", provider.OpSetRDNS, "change reverse DNS", flagRDNS, setRDNS},
		protect, label, rename, del,
	}
	return map[provider.Kind][]resSpec{
		provider.KindFirewall: {
			{"create", provider.OpCreate, "create a firewall", []cli.Flag{flagRule, flagRulesFile, labelsFlag("label KEY=VALUE (repeatable)"),
				&cli.StringSliceFlag{Name: "apply-to-server", Usage: "apply to this server (repeatable)"},
				&cli.StringSliceFlag{Name: "apply-to-label-selector", Usage: "apply to servers matching (repeatable)"}},
				func(c *cli.Context, a *provider.Action) error {
					a.Servers, a.LabelSelectors = c.StringSlice("apply-to-server"), c.StringSlice("apply-to-label-selector")
					if err := setRules(c, a); err != nil {
						return err
					}
					return setLabels(c, a)
				}},
			{"set-rules", provider.OpSetRules, "replace the rules (none: block all inbound)", []cli.Flag{flagRule, flagRulesFile}, setRules},
			{"apply-to-resource", provider.OpApplyTo, "apply to servers and label selectors", []cli.Flag{flagServers, flagLabelSel}, setTargets},
			{"remove-from-resource", provider.OpRemoveFrom, "remove from servers and label selectors", []cli.Flag{flagServers, flagLabelSel}, setTargets},
			label, rename, del,
		},
		provider.KindNetwork: {
			{"create", provider.OpCreate, "create a network", []cli.Flag{
				&cli.StringFlag{Name: "ip-range", Required: true, Usage: "IPv4 range, e.g. 10.0.0.0/16"},
				&cli.StringSliceFlag{Name: "subnet", Usage: "subnet CIDR,NETWORK-ZONE[,TYPE] (repeatable)"},
				&cli.StringSliceFlag{Name: "route", Usage: "route DESTINATION,GATEWAY (repeatable)"},
				labelsFlag("label KEY=VALUE (repeatable)")},
				func(c *cli.Context, a *provider.Action) error {
					a.IPRange = c.String("ip-range")
					for _, s := range c.StringSlice("subnet") {
						sub, err := parseSubnet(s)
						if err != nil {
							return err
						}
						a.Subnets = append(a.Subnets, sub)
					}
					for _, s := range c.StringSlice("route") {
						r, err := parseRoute(s)
						if err != nil {
							return err
						}
						a.Routes = append(a.Routes, r)
					}
					return setLabels(c, a)
				}},
			{"add-subnet", provider.OpAddSubnet, "add a subnet", []cli.Flag{
				&cli.StringFlag{Name: "ip-range", Required: true, Usage: "subnet range"},
				&cli.StringFlag{Name: "network-zone", Required: true, Usage: "eu-central, us-east, us-west or ap-southeast"},
				&cli.StringFlag{Name: "type", Value: "cloud", Usage: "cloud, server or vswitch"},
				&cli.Int64Flag{Name: "vswitch-id", Usage: "vSwitch id (type vswitch)"}},
				func(c *cli.Context, a *provider.Action) error {
					a.Subnet = &provider.Subnet{IPRange: c.String("ip-range"), NetworkZone: c.String("network-zone"), Type: c.String("type"), VSwitchID: c.Int64("vswitch-id")}
					return nil
				}},
			{"remove-subnet", provider.OpDeleteSubnet, "remove a subnet", []cli.Flag{&cli.StringFlag{Name: "ip-range", Required: true, Usage: "subnet range"}},
				func(c *cli.Context, a *provider.Action) error { a.IPRange = c.String("ip-range"); return nil }},
			{"add-route", provider.OpAddRoute, "add a route", routeFlags(), setRoute},
			{"remove-route", provider.OpDeleteRoute, "remove a route", routeFlags(), setRoute},
			protect, label, rename, del,
		},
		provider.KindVolume: {
			{"create", provider.OpCreate, "create a volume", []cli.Flag{
				&cli.IntFlag{Name: "size", Required: true, Usage: "size in GB (10 to 10240)"},
				&cli.StringFlag{Name: "location", Usage: "location (or --server)"}, flagServer,
				&cli.StringFlag{Name: "format", Usage: "ext4 or xfs"},
				&cli.BoolFlag{Name: "automount", Usage: "mount it on the server"}, labelsFlag("label KEY=VALUE (repeatable)")},
				func(c *cli.Context, a *provider.Action) error {
					a.Size, a.Location, a.Server, a.Format, a.Automount = c.Int("size"), c.String("location"), c.String("server"), c.String("format"), boolPtr(c, "automount")
					return setLabels(c, a)
				}},
			{"attach", provider.OpAttach, "attach to a server (same location)", []cli.Flag{
				&cli.StringFlag{Name: "server", Required: true, Usage: "server name"}, &cli.BoolFlag{Name: "automount", Usage: "mount it"}},
				func(c *cli.Context, a *provider.Action) error {
					a.Server, a.Automount = c.String("server"), boolPtr(c, "automount")
					return nil
				}},
			{"detach", provider.OpDetach, "detach from its server", nil, noBuild},
			{"resize", provider.OpResize, "grow", []cli.Flag{&cli.IntFlag{Name: "size", Required: true, Usage: "new size in GB"}},
				func(c *cli.Context, a *provider.Action) error { a.Size = c.Int("size"); return nil }},
			protect, label, rename, del,
		},
		provider.KindSSHKey: {
			{"create", provider.OpCreate, "upload an SSH public key", []cli.Flag{
				&cli.StringFlag{Name: "public-key", Usage: "the key line"},
				&cli.StringFlag{Name: "public-key-from-file", Usage: "file with the key line"}, labelsFlag("label KEY=VALUE (repeatable)")},
				func(c *cli.Context, a *provider.Action) error {
					a.PublicKey = c.String("public-key")
					if f := c.String("public-key-from-file"); f != "" {
						b, err := os.ReadFile(f)
						if err != nil {
							return err
						}
						a.PublicKey = strings.TrimSpace(string(b))
					}
					return setLabels(c, a)
				}},
			label, rename, del,
		},
		provider.KindPrimaryIP:  append([]resSpec{ipCreate(provider.KindPrimaryIP)}, ipOps...),
		provider.KindFloatingIP: append([]resSpec{ipCreate(provider.KindFloatingIP)}, ipOps...),
	}
}

func routeFlags() []cli.Flag {
	return []cli.Flag{&cli.StringFlag{Name: "destination", Required: true, Usage: "destination range"},
		&cli.StringFlag{Name: "gateway", Required: true, Usage: "gateway address in the network"}}
}

func setRoute(c *cli.Context, a *provider.Action) error {
	a.Route = &provider.Route{Destination: c.String("destination"), Gateway: c.String("gateway")}
	return nil
}

// serverExtSpecs are the server ops added with the other kinds.
func serverExtSpecs() []opSpec {
	return []opSpec{
		{provider.OpAttachNetwork, "attach a server to a network", []cli.Flag{
			&cli.StringFlag{Name: "network", Required: true, Usage: "network name"},
			&cli.StringFlag{Name: "ip", Usage: "address in the network (default: the next free one)"},
			&cli.StringSliceFlag{Name: "alias-ips", Usage: "alias address (repeatable)"}},
			func(c *cli.Context, a *provider.Action) error {
				a.Network, a.IP, a.AliasIPs = c.String("network"), c.String("ip"), c.StringSlice("alias-ips")
				return nil
			}},
		{provider.OpDetachNetwork, "detach a server from a network", []cli.Flag{&cli.StringFlag{Name: "network", Required: true, Usage: "network name"}},
			func(c *cli.Context, a *provider.Action) error { a.Network = c.String("network"); return nil }},
		{provider.OpAttachFirewall, "apply a firewall to a server", []cli.Flag{&cli.StringFlag{Name: "firewall", Required: true, Usage: "firewall name"}},
			func(c *cli.Context, a *provider.Action) error { a.Firewall = c.String("firewall"); return nil }},
		{provider.OpDetachFirewall, "remove a firewall from a server", []cli.Flag{&cli.StringFlag{Name: "firewall", Required: true, Usage: "firewall name"}},
			func(c *cli.Context, a *provider.Action) error { a.Firewall = c.String("firewall"); return nil }},
		{provider.OpEnableBackup, "enable backups", nil, func(*cli.Context, *provider.Action) error { return nil }},
		{provider.OpDisableBackup, "disable backups (deletes them)", nil, func(*cli.Context, *provider.Action) error { return nil }},
		{provider.OpCreateImage, "create a snapshot image", []cli.Flag{&cli.StringFlag{Name: "description", Usage: "description"}, labelsFlag("label KEY=VALUE (repeatable)")},
			func(c *cli.Context, a *provider.Action) error {
				a.Description = c.String("description")
				return setLabels(c, a)
			}},
		{provider.OpSetRDNS, "change reverse DNS", flagRDNS, setRDNS},
		{provider.OpAddLabels, "add labels, keeping the others", []cli.Flag{labelsFlag("label KEY=VALUE (repeatable, at least one)")}, setLabels},
		{provider.OpRemoveLabels, "remove labels by key", []cli.Flag{&cli.StringSliceFlag{Name: "key", Required: true, Usage: "label key (repeatable)"}},
			func(c *cli.Context, a *provider.Action) error { a.LabelKeys = c.StringSlice("key"); return nil }},
	}
}

// cliKind names each kind on the command line.
var cliKind = map[provider.Kind]string{
	provider.KindFirewall: "firewall", provider.KindNetwork: "network", provider.KindVolume: "volume",
	provider.KindSSHKey: "ssh-key", provider.KindPrimaryIP: "primary-ip", provider.KindFloatingIP: "floating-ip",
}

// resourcePlanCommands are `vmc-git plan KIND OP NAME …` for the other kinds,
// `plan ip primary|floating …`, and `plan file`.
func resourcePlanCommands() []*cli.Command {
	specs := kindSpecs()
	kindCmd := func(name string, k provider.Kind) *cli.Command {
		cmd := &cli.Command{Name: name, Usage: "plan an operation on a " + strings.ReplaceAll(k.String(), "_", " "),
			Description: "EXAMPLE:\n   " + exampleFor(k, "create")}
		for _, sp := range specs[k] {
			cmd.Subcommands = append(cmd.Subcommands, resOpCommand(k, sp))
		}
		return cmd
	}
	var out []*cli.Command
	for _, k := range provider.Kinds {
		out = append(out, kindCmd(cliKind[k], k))
	}
	ip := &cli.Command{Name: "ip", Usage: "plan an operation on a primary or floating IP (as primary-ip and floating-ip)",
		Description: "EXAMPLE:\n   vmc-git plan ip floating create vip --type ipv4 --server web-1\n   vmc-git plan ip primary assign ip-web --server web-1",
		Subcommands: []*cli.Command{kindCmd("primary", provider.KindPrimaryIP), kindCmd("floating", provider.KindFloatingIP)}}
	return append(out, ip, planFileCommand())
}

func resOpCommand(k provider.Kind, sp resSpec) *cli.Command {
	flags := append([]cli.Flag{
		&cli.StringFlag{Name: "id", Usage: "plan id (default: NAME-OP-TIMESTAMP)"},
		&cli.StringFlag{Name: "summary", Usage: "one line for reviewers (default: generated)"},
		&cli.StringFlag{Name: "out", Usage: "plan file (default: plans/<id>.json in the repository)"},
		kidFlag, jsonFlag,
	}, sp.flags...)
	return &cli.Command{
		Name: sp.name, Usage: sp.usage, ArgsUsage: "NAME", Flags: flags,
		Description: "A dry run: reads the " + k.String() + " from the provider, records what it found and the ledger\nhead, and writes the plan file.\n\nEXAMPLE:\n   " + exampleFor(k, sp.name),
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1, "NAME"); err != nil {
				return err
			}
			a := provider.Action{Kind: k, Op: sp.op, Name: c.Args().First()}
			if err := sp.build(c, &a); err != nil {
				return fail(exitUsage, err)
			}
			if err := a.Validate(); err != nil {
				return fail(exitUsage, err)
			}
			return makePlan(c, []provider.Action{a})
		},
	}
}

func exampleFor(k provider.Kind, op string) string {
	switch {
	case k == provider.KindFirewall && op == "create":
		return `vmc-git plan firewall create fw-web --rule "in tcp 443 0.0.0.0/0,::/0 https" --rule "in icmp 0.0.0.0/0"`
	case k == provider.KindNetwork && op == "create":
		return "vmc-git plan network create backend --ip-range 10.0.0.0/16 --subnet 10.0.1.0/24,eu-central"
	case k == provider.KindVolume && op == "create":
		return "vmc-git plan volume create data --size 20 --server web-1 --automount --format ext4"
	case k == provider.KindSSHKey && op == "create":
		return "vmc-git plan ssh-key create ops --public-key-from-file ~/.ssh/id_ed25519.pub"
	case op == "create":
		return "vmc-git plan " + cliKind[k] + " create ip-web --type ipv4 --location fsn1"
	}
	return fmt.Sprintf("vmc-git plan %s %s NAME ...", cliKind[k], op)
}

// planFileCommand makes one plan of several actions, applied in order.
func planFileCommand() *cli.Command {
	return &cli.Command{
		Name:      "file",
		Usage:     "plan several actions at once, from a JSON file (a list of actions, applied in order)",
		ArgsUsage: "ACTIONS.json",
		Description: `Each action is in the plan format (see "vmc-git plan show --json"); a later
action may refer to what an earlier one creates.

EXAMPLE:
   [{"kind":"network","op":"create","name":"net","ip_range":"10.0.0.0/16",
     "subnets":[{"ip_range":"10.0.1.0/24","network_zone":"eu-central"}]},
    {"op":"create","server":"web-1","server_type":"cx22","image":"debian-12","networks":["net"]}]
   vmc-git plan file project.json --id project-up`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "id", Usage: "plan id (default: from the first action)"},
			&cli.StringFlag{Name: "summary", Usage: "one line for reviewers (default: generated)"},
			&cli.StringFlag{Name: "out", Usage: "plan file (default: plans/<id>.json in the repository)"},
			kidFlag, jsonFlag,
		},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1, "ACTIONS.json"); err != nil {
				return err
			}
			b, err := os.ReadFile(c.Args().First())
			if err != nil {
				return fail(exitUsage, err)
			}
			var raw []json.RawMessage
			if err := json.Unmarshal(b, &raw); err != nil {
				return fail(exitUsage, fmt.Errorf("%s: want a JSON list of actions: %w", c.Args().First(), err))
			}
			var acts []provider.Action
			for i, r := range raw {
				a, err := provider.ParseAction(r)
				if err != nil {
					return fail(exitUsage, fmt.Errorf("%s: action %d: %w", c.Args().First(), i, err))
				}
				acts = append(acts, a)
			}
			if len(acts) == 0 {
				return usagef("%s: no actions", c.Args().First())
			}
			return makePlan(c, acts)
		},
	}
}

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
			ws, err := open(c)
			if err != nil {
				return err
			}
			defer ws.Close()
			st, err := ws.State()
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return printJSON(c, st)
			}
			outf(c, "ledger %s at receipt %d: %d resources\n", st.Ledger, st.Seq, len(st.Resources))
			for _, e := range st.Resources {
				outf(c, "%-12s %-24s %s (receipt %d, plan %s, %s)\n", e.Kind, e.Name, describeEntry(e), e.Seq, e.Plan, e.Op)
			}
			return nil
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

// serverOpAliases are the hcloud CLI's names of the added server ops.
var serverOpAliases = map[provider.Op][]string{
	provider.OpAttachNetwork: {"attach-to-network"}, provider.OpDetachNetwork: {"detach-from-network"},
	provider.OpAttachFirewall: {"apply-firewall"}, provider.OpDetachFirewall: {"remove-firewall"},
	provider.OpAddLabels: {"add-label"}, provider.OpRemoveLabels: {"remove-label"},
}
