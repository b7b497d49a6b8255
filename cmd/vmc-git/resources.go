package main

import (
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/provider"
)

// The commands of firewalls, networks, volumes, SSH keys and IPs and the
// server ops that go with them: which ops each kind has and their flags
// (resflags.go parses the flag syntax; resplan.go makes the commands).
// Command and flag names follow the hcloud CLI.

// resSpec is one op of one kind on the command line.
type resSpec struct {
	name  string // command name, hcloud style ("apply-to-resource")
	op    provider.Op
	usage string
	flags []cli.Flag
	build func(c *cli.Context, a *provider.Action) error
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

// serverOpAliases are the hcloud CLI's names of the added server ops.
var serverOpAliases = map[provider.Op][]string{
	provider.OpAttachNetwork: {"attach-to-network"}, provider.OpDetachNetwork: {"detach-from-network"},
	provider.OpAttachFirewall: {"apply-firewall"}, provider.OpDetachFirewall: {"remove-firewall"},
	provider.OpAddLabels: {"add-label"}, provider.OpRemoveLabels: {"remove-label"},
}
