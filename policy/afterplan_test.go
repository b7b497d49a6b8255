package policy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/provider"
)

// world is web-1 behind firewall web (SSH from 10/8 only) in network
// private, a volume and a floating IP on it: every default rule passes.
func world() *Document {
	d := observedDoc([]Server{good("web-1")}, Firewall{Name: "web", Labels: map[string]string{},
		Rules: []FirewallRule{sshRule("10.0.0.0/8")}, AppliedTo: []string{"web-1"}})
	d.Networks = []Network{{Name: "private", IPRange: "10.0.0.0/16", Labels: map[string]string{}, Servers: []string{"web-1"}}}
	d.Volumes = []Volume{{Name: "data", SizeGB: 10, Labels: map[string]string{}, Server: "web-1"}}
	d.IPs = []IP{{Name: "vip", Type: "floating", Family: "ipv4", IP: "203.0.113.9", Labels: map[string]string{}, Assignee: "web-1"}}
	return d
}

func ssh(port string, src ...string) provider.FirewallRule {
	return provider.FirewallRule{Direction: "in", Protocol: "tcp", Port: port, SourceIPs: src}
}

// TestAfterPlanKinds: steps on firewalls, networks, volumes and IPs (and
// the server ops that link servers to them) change the end state the
// policy sees, both sides of every link.
func TestAfterPlanKinds(t *testing.T) {
	b := defaults(t)
	fw := func(op provider.Op, a provider.Action) provider.Action {
		a.Op, a.Kind = op, provider.KindFirewall
		if a.Name == "" {
			a.Name = "web"
		}
		return a
	}
	tr := true
	for _, tc := range []struct {
		name  string
		steps []provider.Action
		deny  string                // the deny findings of the end state
		check func(*Document) error // more about the end state
	}{
		{name: "nothing", deny: "[]"},
		{name: "set_rules opens ssh to the world", steps: []provider.Action{fw(provider.OpSetRules, provider.Action{Rules: []provider.FirewallRule{ssh("22", "0.0.0.0/0")}})},
			deny: "[firewall/web ssh-from-anywhere]"},
		{name: "set_rules any port from ::/0", steps: []provider.Action{fw(provider.OpSetRules, provider.Action{Rules: []provider.FirewallRule{ssh("any", "::/0")}})},
			deny: "[firewall/web ssh-from-anywhere]"},
		{name: "a range covering 22", steps: []provider.Action{fw(provider.OpSetRules, provider.Action{Rules: []provider.FirewallRule{ssh("20-25", "0.0.0.0/0")}})},
			deny: "[firewall/web ssh-from-anywhere]"},
		{name: "https to the world is fine", steps: []provider.Action{fw(provider.OpSetRules, provider.Action{Rules: []provider.FirewallRule{ssh("443", "0.0.0.0/0")}})},
			deny: "[]"},
		{name: "public ssh allowed by label", steps: []provider.Action{
			fw(provider.OpLabel, provider.Action{Labels: map[string]string{"vmc.policy/public-ssh": "allow"}}),
			fw(provider.OpSetRules, provider.Action{Rules: []provider.FirewallRule{ssh("22", "0.0.0.0/0")}})}, deny: "[]",
			check: func(d *Document) error {
				if d.Firewalls[0].Labels[provider.LabelPlan] != "p" {
					return fmt.Errorf("label sets vmc.plan: %v", d.Firewalls[0].Labels)
				}
				return nil
			}},
		{name: "a new firewall applied to web-1", steps: []provider.Action{fw(provider.OpCreate, provider.Action{Name: "open", Servers: []string{"web-1"}, Rules: []provider.FirewallRule{ssh("22", "0.0.0.0/0")}})},
			deny: "[firewall/open ssh-from-anywhere]",
			check: func(d *Document) error {
				if !slices.Equal(d.Servers[0].Firewalls, []string{"web", "open"}) || !slices.Equal(d.Firewalls[1].AppliedTo, []string{"web-1"}) {
					return fmt.Errorf("links: %v %v", d.Servers[0].Firewalls, d.Firewalls[1].AppliedTo)
				}
				return nil
			}},
		{name: "remove_from leaves web-1 bare", steps: []provider.Action{fw(provider.OpRemoveFrom, provider.Action{Servers: []string{"web-1"}})},
			deny: "[server/web-1 firewall-attached]"},
		{name: "detach_firewall leaves web-1 bare", steps: []provider.Action{{Op: provider.OpDetachFirewall, Server: "web-1", Firewall: "web"}},
			deny: "[server/web-1 firewall-attached]",
			check: func(d *Document) error {
				if len(d.Firewalls[0].AppliedTo) != 0 {
					return fmt.Errorf("applied_to %v", d.Firewalls[0].AppliedTo)
				}
				return nil
			}},
		{name: "delete the firewall", steps: []provider.Action{fw(provider.OpDelete, provider.Action{})}, deny: "[server/web-1 firewall-attached]"},
		{name: "a new firewall, then apply_to and detach the old", steps: []provider.Action{
			fw(provider.OpCreate, provider.Action{Name: "strict", Rules: []provider.FirewallRule{ssh("22", "10.0.0.0/8")}}),
			fw(provider.OpApplyTo, provider.Action{Name: "strict", Servers: []string{"web-1"}}),
			{Op: provider.OpDetachFirewall, Server: "web-1", Firewall: "web"}}, deny: "[]"},
		{name: "rename the firewall", steps: []provider.Action{fw(provider.OpRename, provider.Action{NewName: "edge"})}, deny: "[]",
			check: func(d *Document) error {
				if d.Servers[0].Firewalls[0] != "edge" {
					return fmt.Errorf("server firewalls %v", d.Servers[0].Firewalls)
				}
				return nil
			}},
		{name: "detach_network", steps: []provider.Action{{Op: provider.OpDetachNetwork, Server: "web-1", Network: "private"}},
			deny: "[server/web-1 private-network]"},
		{name: "delete the network", steps: []provider.Action{{Op: provider.OpDelete, Kind: provider.KindNetwork, Name: "private"}},
			deny: "[server/web-1 private-network]"},
		{name: "a new network, attached, the old one detached", steps: []provider.Action{
			{Op: provider.OpCreate, Kind: provider.KindNetwork, Name: "backend", IPRange: "10.1.0.0/16"},
			{Op: provider.OpAttachNetwork, Server: "web-1", Network: "backend"},
			{Op: provider.OpDetachNetwork, Server: "web-1", Network: "private"}}, deny: "[]",
			check: func(d *Document) error {
				if !slices.Equal(d.Networks[1].Servers, []string{"web-1"}) || len(d.Networks[0].Servers) != 0 {
					return fmt.Errorf("networks %+v", d.Networks)
				}
				return nil
			}},
		{name: "rename the server", steps: []provider.Action{{Op: provider.OpRename, Server: "web-1", NewName: "web-2"}}, deny: "[]",
			check: func(d *Document) error {
				if d.Firewalls[0].AppliedTo[0] != "web-2" || d.Networks[0].Servers[0] != "web-2" || d.Volumes[0].Server != "web-2" || d.IPs[0].Assignee != "web-2" {
					return fmt.Errorf("references not renamed: %+v", d)
				}
				return nil
			}},
		{name: "delete the server", steps: []provider.Action{{Op: provider.OpDelete, Server: "web-1"}}, deny: "[]",
			check: func(d *Document) error {
				if len(d.Firewalls[0].AppliedTo) != 0 || len(d.Networks[0].Servers) != 0 || d.Volumes[0].Server != "" || d.IPs[0].Assignee != "" {
					return fmt.Errorf("references left: %+v", d)
				}
				return nil
			}},
		{name: "remove_labels drops a required label", steps: []provider.Action{{Op: provider.OpRemoveLabels, Server: "web-1", LabelKeys: []string{"role"}}},
			deny: "[server/web-1 required-labels]"},
		{name: "volumes", steps: []provider.Action{
			{Op: provider.OpCreate, Kind: provider.KindVolume, Name: "logs", Size: 20, Location: "fsn1", Server: "web-1"},
			{Op: provider.OpDetach, Kind: provider.KindVolume, Name: "data"},
			{Op: provider.OpResize, Kind: provider.KindVolume, Name: "logs", Size: 40},
			{Op: provider.OpProtect, Kind: provider.KindVolume, Name: "logs", Delete: &tr}}, deny: "[]",
			check: func(d *Document) error {
				if v := d.Volumes[1]; v.Server != "web-1" || v.SizeGB != 40 || !v.Protection.Delete || d.Volumes[0].Server != "" {
					return fmt.Errorf("volumes %+v", d.Volumes)
				}
				return nil
			}},
		{name: "ips", steps: []provider.Action{
			{Op: provider.OpCreate, Kind: provider.KindPrimaryIP, Name: "web-v6", Type: "ipv6", Location: "fsn1"},
			{Op: provider.OpAssign, Kind: provider.KindPrimaryIP, Name: "web-v6", Server: "web-1"},
			{Op: provider.OpUnassign, Kind: provider.KindFloatingIP, Name: "vip"},
			{Op: provider.OpDelete, Kind: provider.KindFloatingIP, Name: "vip"}}, deny: "[]",
			check: func(d *Document) error {
				if len(d.IPs) != 1 || d.IPs[0].Type != "primary" || d.IPs[0].Family != "ipv6" || d.IPs[0].Assignee != "web-1" || d.IPs[0].IP != Pending {
					return fmt.Errorf("ips %+v", d.IPs)
				}
				return nil
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cur := world()
			before, _ := cur.Encode()
			p := &plans.Plan{ID: "p", Ledger: "example.com/l"}
			for _, a := range tc.steps {
				p.Actions = append(p.Actions, plans.Step{Action: a})
			}
			d, err := AfterPlan(cur, p)
			if err != nil {
				t.Fatal(err)
			}
			if after, _ := cur.Encode(); string(after) != string(before) {
				t.Fatal("AfterPlan changed its input")
			}
			res, err := b.Eval(context.Background(), d, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(keys(res.Deny)); got != tc.deny && !(tc.deny == "[]" && len(res.Deny) == 0) {
				t.Errorf("deny = %s, want %s", got, tc.deny)
			}
			if tc.check != nil {
				if err := tc.check(d); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// TestAfterPlanMissing: a step on a resource the input lacks is an error
// when its kind was observed, and is not simulated when it was not; a
// create of an existing name is an error.
func TestAfterPlanMissing(t *testing.T) {
	one := func(a provider.Action) *plans.Plan { return &plans.Plan{ID: "p", Actions: []plans.Step{{Action: a}}} }
	setRules := provider.Action{Op: provider.OpSetRules, Kind: provider.KindFirewall, Name: "nope", Rules: []provider.FirewallRule{ssh("22", "0.0.0.0/0")}}
	if _, err := AfterPlan(world(), one(setRules)); !errors.Is(err, provider.ErrNotFound) {
		t.Errorf("observed firewalls: %v", err)
	}
	d, _ := FromServers([]provider.Server{{Name: "web-1"}})
	if _, err := AfterPlan(d, one(setRules)); err != nil {
		t.Errorf("unobserved firewalls: %v", err)
	}
	for _, a := range []provider.Action{
		{Op: provider.OpCreate, Kind: provider.KindFirewall, Name: "web"},
		{Op: provider.OpCreate, Kind: provider.KindNetwork, Name: "private", IPRange: "10.0.0.0/8"},
		{Op: provider.OpCreate, Kind: provider.KindVolume, Name: "data", Size: 10},
		{Op: provider.OpCreate, Kind: provider.KindFloatingIP, Name: "vip", Type: "ipv4"},
		{Op: provider.OpResize, Kind: provider.KindVolume, Name: "nope", Size: 20},
		{Op: provider.OpAssign, Kind: provider.KindPrimaryIP, Name: "vip", Server: "web-1"}, // vip is floating
	} {
		if _, err := AfterPlan(world(), one(a)); err == nil {
			t.Errorf("%s %s %s: no error", a.Op, a.Kind, a.Name)
		}
	}
}
