package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/provider"
)

// The flags of the resource commands and the syntax of their values
// (--rule, --subnet, --route, --hostname/--reset).

func noBuild(*cli.Context, *provider.Action) error { return nil }

func setLabels(c *cli.Context, a *provider.Action) error {
	var err error
	a.Labels, err = parseLabels(c)
	return err
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
		rules, err := provider.ParseRules(b)
		if err != nil {
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

func routeFlags() []cli.Flag {
	return []cli.Flag{&cli.StringFlag{Name: "destination", Required: true, Usage: "destination range"},
		&cli.StringFlag{Name: "gateway", Required: true, Usage: "gateway address in the network"}}
}

func setRoute(c *cli.Context, a *provider.Action) error {
	a.Route = &provider.Route{Destination: c.String("destination"), Gateway: c.String("gateway")}
	return nil
}
