package policy

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/provider"
)

// AfterPlan returns the document p would leave when applied to cur (a
// provider-source document), its steps applied in order on every kind the
// input holds:
//
//   - servers: create (with the firewalls and networks it names), delete,
//     rename, power and rebuild ops, resize, label, add_labels and
//     remove_labels, protect, attach_/detach_network, attach_/detach_firewall;
//   - firewalls: create (with the servers it names), set_rules, apply_to,
//     remove_from, label, rename, delete;
//   - networks: create, label, rename, delete (subnets and routes are not
//     in the input);
//   - volumes: create, attach, detach, resize, protect, label, rename, delete;
//   - primary and floating IPs: create (address Pending), assign, unassign,
//     protect, label, rename, delete.
//
// Both sides of a link move together: a server attached to a firewall is in
// the server's firewalls and the firewall's applied_to; renaming or deleting
// either updates or drops the references. Labels follow package provider:
// label replaces the labels, keeping the vmc.* ones, and create and label
// set vmc.ledger and vmc.plan. Label selectors are not resolved, and ops
// without a trace in the input (backups, images, reverse DNS, subnets,
// routes, SSH keys) change nothing. A step on a resource cur does not hold
// is an error (provider.ErrNotFound), except create, and except for a kind
// cur did not observe; create of an existing name is an error. cur is not
// changed.
func AfterPlan(cur *Document, p *plans.Plan) (*Document, error) {
	s := &sim{d: cur.clone(), vmc: map[string]string{provider.LabelLedger: provider.LabelValue(p.Ledger), provider.LabelPlan: p.ID}}
	s.d.Source, s.d.Plan = SourcePlan, p.ID
	for n, st := range p.Actions {
		if err := s.step(st.Action); err != nil {
			return nil, fmt.Errorf("plan %s step %d: %s: %w", p.ID, n+1, plans.Describe(st.Action), err)
		}
	}
	return s.d, nil
}

// clone copies d deeply enough for sim: every slice and map sim changes.
func (d *Document) clone() *Document {
	c := *d
	c.Servers = slices.Clone(d.Servers)
	for i := range c.Servers {
		s := &c.Servers[i]
		s.Labels, s.Firewalls, s.Networks = maps.Clone(s.Labels), slices.Clone(s.Firewalls), slices.Clone(s.Networks)
	}
	c.Firewalls = slices.Clone(d.Firewalls)
	for i := range c.Firewalls {
		f := &c.Firewalls[i]
		f.Labels, f.Rules, f.AppliedTo = maps.Clone(f.Labels), slices.Clone(f.Rules), slices.Clone(f.AppliedTo)
	}
	c.Networks = slices.Clone(d.Networks)
	for i := range c.Networks {
		n := &c.Networks[i]
		n.Labels, n.Servers = maps.Clone(n.Labels), slices.Clone(n.Servers)
	}
	c.Volumes = slices.Clone(d.Volumes)
	for i := range c.Volumes {
		c.Volumes[i].Labels = maps.Clone(c.Volumes[i].Labels)
	}
	c.IPs = slices.Clone(d.IPs)
	for i := range c.IPs {
		c.IPs[i].Labels = maps.Clone(c.IPs[i].Labels)
	}
	return &c
}

type sim struct {
	d   *Document
	vmc map[string]string // the labels create and label set
}

func find[T any](xs []T, name string, nameOf func(*T) string) int {
	return slices.IndexFunc(xs, func(x T) bool { return nameOf(&x) == name })
}

func srvName(s *Server) string  { return s.Name }
func fwName(f *Firewall) string { return f.Name }
func nwName(n *Network) string  { return n.Name }
func volName(v *Volume) string  { return v.Name }
func ipName(i *IP) string       { return i.Name }

// labels returns new labels for create (with vmc.*) or label (old's vmc.*
// kept, then vmc.* set).
func (s *sim) labels(set, old map[string]string) map[string]string {
	l := maps.Clone(set)
	if l == nil {
		l = map[string]string{}
	}
	for k, v := range old {
		if k == provider.LabelLedger || k == provider.LabelPlan {
			l[k] = v
		}
	}
	maps.Copy(l, s.vmc)
	return l
}

func add(xs []string, x string) []string {
	if slices.Contains(xs, x) {
		return xs
	}
	return append(xs, x)
}

func remove(xs []string, x string) []string {
	if xs == nil {
		return nil
	}
	return slices.DeleteFunc(slices.Clone(xs), func(y string) bool { return y == x })
}

func rename(xs []string, from, to string) []string {
	for i := range xs {
		if xs[i] == from {
			xs[i] = to
		}
	}
	return xs
}

// missing is the error for a step on a resource the input lacks; nil when
// the kind was not observed (the step is then not simulated).
func missing(observed bool, kind, name string) error {
	if !observed {
		return nil
	}
	return fmt.Errorf("%s %s: %w", kind, name, provider.ErrNotFound)
}

func (s *sim) step(a provider.Action) error {
	switch a.Kind {
	case provider.KindServer:
		return s.server(a)
	case provider.KindFirewall:
		return s.firewall(a)
	case provider.KindNetwork:
		return s.network(a)
	case provider.KindVolume:
		return s.volume(a)
	case provider.KindPrimaryIP, provider.KindFloatingIP:
		return s.ip(a)
	}
	return nil // SSH keys are not in the input
}

func (s *sim) server(a provider.Action) error {
	d := s.d
	i := find(d.Servers, a.Server, srvName)
	if a.Op == provider.OpCreate {
		if i >= 0 {
			return fmt.Errorf("the server %s exists", a.Server)
		}
		sv := Server{Name: a.Server, Status: "running", ServerType: a.ServerType, Image: a.Image, Location: a.Location,
			Labels: s.labels(a.Labels, nil), PublicNet: PublicNet{Pending, Pending},
			Firewalls: append([]string{}, a.Firewalls...), Networks: append([]string{}, a.Networks...)}
		if a.PublicNet != nil {
			if !a.PublicNet.IPv4 {
				sv.PublicNet.IPv4 = ""
			}
			if !a.PublicNet.IPv6 {
				sv.PublicNet.IPv6 = ""
			}
		}
		if a.StartAfterCreate != nil && !*a.StartAfterCreate {
			sv.Status = "off"
		}
		d.Servers = append(d.Servers, sv)
		for _, f := range a.Firewalls {
			s.link(f, a.Server, true)
		}
		for _, n := range a.Networks {
			s.join(n, a.Server, true)
		}
		return nil
	}
	if i < 0 {
		return fmt.Errorf("server %s: %w", a.Server, provider.ErrNotFound)
	}
	sv := &d.Servers[i]
	switch a.Op {
	case provider.OpDelete:
		s.dropServer(sv.Name)
		d.Servers = slices.Delete(d.Servers, i, i+1)
	case provider.OpRename:
		s.renameServer(sv.Name, a.NewName)
		sv.Name = a.NewName
	case provider.OpPoweroff, provider.OpShutdown:
		sv.Status = "off"
	case provider.OpPoweron, provider.OpReboot, provider.OpReset:
		sv.Status = "running"
	case provider.OpRebuild:
		sv.Status, sv.Image = "running", a.Image
	case provider.OpResize:
		sv.ServerType = a.ServerType
	case provider.OpLabel:
		sv.Labels = s.labels(a.Labels, sv.Labels)
	case provider.OpAddLabels:
		maps.Copy(sv.Labels, a.Labels)
	case provider.OpRemoveLabels:
		for _, k := range a.LabelKeys {
			delete(sv.Labels, k)
		}
	case provider.OpProtect:
		if a.Delete != nil {
			sv.Protection.Delete = *a.Delete
		}
		if a.Rebuild != nil {
			sv.Protection.Rebuild = *a.Rebuild
		}
	case provider.OpAttachFirewall, provider.OpDetachFirewall:
		on := a.Op == provider.OpAttachFirewall
		if on {
			sv.Firewalls = add(sv.Firewalls, a.Firewall)
		} else {
			sv.Firewalls = remove(sv.Firewalls, a.Firewall)
		}
		s.link(a.Firewall, sv.Name, on)
	case provider.OpAttachNetwork, provider.OpDetachNetwork:
		on := a.Op == provider.OpAttachNetwork
		if on {
			sv.Networks = add(sv.Networks, a.Network)
		} else {
			sv.Networks = remove(sv.Networks, a.Network)
		}
		s.join(a.Network, sv.Name, on)
	}
	return nil
}

// link adds server to (on) or removes it from firewall fw's applied_to.
func (s *sim) link(fw, server string, on bool) {
	if j := find(s.d.Firewalls, fw, fwName); j >= 0 {
		f := &s.d.Firewalls[j]
		if on {
			f.AppliedTo = add(f.AppliedTo, server)
		} else {
			f.AppliedTo = remove(f.AppliedTo, server)
		}
	}
}

// join adds server to (on) or removes it from network nw's servers.
func (s *sim) join(nw, server string, on bool) {
	if j := find(s.d.Networks, nw, nwName); j >= 0 {
		n := &s.d.Networks[j]
		if on {
			n.Servers = add(n.Servers, server)
		} else {
			n.Servers = remove(n.Servers, server)
		}
	}
}

// dropServer removes every reference to a deleted server.
func (s *sim) dropServer(name string) {
	for j := range s.d.Firewalls {
		s.d.Firewalls[j].AppliedTo = remove(s.d.Firewalls[j].AppliedTo, name)
	}
	for j := range s.d.Networks {
		s.d.Networks[j].Servers = remove(s.d.Networks[j].Servers, name)
	}
	for j := range s.d.Volumes {
		if s.d.Volumes[j].Server == name {
			s.d.Volumes[j].Server = ""
		}
	}
	for j := range s.d.IPs {
		if s.d.IPs[j].Assignee == name {
			s.d.IPs[j].Assignee = ""
		}
	}
}

// renameServer updates every reference to a renamed server.
func (s *sim) renameServer(from, to string) {
	for j := range s.d.Firewalls {
		rename(s.d.Firewalls[j].AppliedTo, from, to)
	}
	for j := range s.d.Networks {
		rename(s.d.Networks[j].Servers, from, to)
	}
	for j := range s.d.Volumes {
		if s.d.Volumes[j].Server == from {
			s.d.Volumes[j].Server = to
		}
	}
	for j := range s.d.IPs {
		if s.d.IPs[j].Assignee == from {
			s.d.IPs[j].Assignee = to
		}
	}
}

// onServers calls f on each server of the input named in names.
func (s *sim) onServers(names []string, f func(*Server)) {
	for _, n := range names {
		if i := find(s.d.Servers, n, srvName); i >= 0 {
			f(&s.d.Servers[i])
		}
	}
}

func (s *sim) firewall(a provider.Action) error {
	d := s.d
	i := find(d.Firewalls, a.Name, fwName)
	if a.Op == provider.OpCreate {
		if i >= 0 {
			return fmt.Errorf("the firewall %s exists", a.Name)
		}
		f := Firewall{Name: a.Name, Labels: s.labels(a.Labels, nil), Rules: rulesOf(a.Rules), AppliedTo: append([]string{}, a.Servers...)}
		d.Firewalls = append(d.Firewalls, f)
		s.onServers(a.Servers, func(sv *Server) { sv.Firewalls = add(sv.Firewalls, a.Name) })
		return nil
	}
	if i < 0 {
		return missing(d.Observed.Firewalls, KindFirewall, a.Name)
	}
	f := &d.Firewalls[i]
	switch a.Op {
	case provider.OpDelete:
		for j := range d.Servers {
			d.Servers[j].Firewalls = remove(d.Servers[j].Firewalls, f.Name)
		}
		d.Firewalls = slices.Delete(d.Firewalls, i, i+1)
	case provider.OpRename:
		for j := range d.Servers {
			rename(d.Servers[j].Firewalls, f.Name, a.NewName)
		}
		f.Name = a.NewName
	case provider.OpLabel:
		f.Labels = s.labels(a.Labels, f.Labels)
	case provider.OpSetRules:
		f.Rules = rulesOf(a.Rules)
	case provider.OpApplyTo:
		for _, n := range a.Servers {
			f.AppliedTo = add(f.AppliedTo, n)
		}
		s.onServers(a.Servers, func(sv *Server) { sv.Firewalls = add(sv.Firewalls, f.Name) })
	case provider.OpRemoveFrom:
		for _, n := range a.Servers {
			f.AppliedTo = remove(f.AppliedTo, n)
		}
		s.onServers(a.Servers, func(sv *Server) { sv.Firewalls = remove(sv.Firewalls, f.Name) })
	}
	return nil
}

func (s *sim) network(a provider.Action) error {
	d := s.d
	i := find(d.Networks, a.Name, nwName)
	if a.Op == provider.OpCreate {
		if i >= 0 {
			return fmt.Errorf("the network %s exists", a.Name)
		}
		d.Networks = append(d.Networks, Network{Name: a.Name, IPRange: a.IPRange, Labels: s.labels(a.Labels, nil), Servers: []string{}})
		return nil
	}
	if i < 0 {
		return missing(d.Observed.Networks, KindNetwork, a.Name)
	}
	n := &d.Networks[i]
	switch a.Op {
	case provider.OpDelete:
		for j := range d.Servers {
			d.Servers[j].Networks = remove(d.Servers[j].Networks, n.Name)
		}
		d.Networks = slices.Delete(d.Networks, i, i+1)
	case provider.OpRename:
		for j := range d.Servers {
			rename(d.Servers[j].Networks, n.Name, a.NewName)
		}
		n.Name = a.NewName
	case provider.OpLabel:
		n.Labels = s.labels(a.Labels, n.Labels)
	}
	return nil
}

func (s *sim) volume(a provider.Action) error {
	d := s.d
	i := find(d.Volumes, a.Name, volName)
	if a.Op == provider.OpCreate {
		if i >= 0 {
			return fmt.Errorf("the volume %s exists", a.Name)
		}
		d.Volumes = append(d.Volumes, Volume{Name: a.Name, SizeGB: a.Size, Location: a.Location, Labels: s.labels(a.Labels, nil), Server: a.Server})
		return nil
	}
	if i < 0 {
		return missing(d.Observed.Volumes, KindVolume, a.Name)
	}
	v := &d.Volumes[i]
	switch a.Op {
	case provider.OpDelete:
		d.Volumes = slices.Delete(d.Volumes, i, i+1)
	case provider.OpRename:
		v.Name = a.NewName
	case provider.OpLabel:
		v.Labels = s.labels(a.Labels, v.Labels)
	case provider.OpAttach:
		v.Server = a.Server
	case provider.OpDetach:
		v.Server = ""
	case provider.OpResize:
		v.SizeGB = a.Size
	case provider.OpProtect:
		if a.Delete != nil {
			v.Protection.Delete = *a.Delete
		}
	}
	return nil
}

func (s *sim) ip(a provider.Action) error {
	d := s.d
	typ := strings.TrimSuffix(string(a.Kind), "_ip")
	i := slices.IndexFunc(d.IPs, func(x IP) bool { return x.Name == a.Name && x.Type == typ })
	if a.Op == provider.OpCreate {
		if i >= 0 {
			return fmt.Errorf("the %s IP %s exists", typ, a.Name)
		}
		d.IPs = append(d.IPs, IP{Name: a.Name, Type: typ, Family: a.Type, IP: Pending, Labels: s.labels(a.Labels, nil), Assignee: a.Server})
		return nil
	}
	if i < 0 {
		return missing(d.Observed.IPs, KindIP, a.Name)
	}
	x := &d.IPs[i]
	switch a.Op {
	case provider.OpDelete:
		d.IPs = slices.Delete(d.IPs, i, i+1)
	case provider.OpRename:
		x.Name = a.NewName
	case provider.OpLabel:
		x.Labels = s.labels(a.Labels, x.Labels)
	case provider.OpAssign:
		x.Assignee = a.Server
	case provider.OpUnassign:
		x.Assignee = ""
	case provider.OpProtect:
		if a.Delete != nil {
			x.Protection.Delete = *a.Delete
		}
	}
	return nil
}

// ruleOf is a provider firewall rule in the input: port "any" (all ports)
// is "", as for a protocol without ports.
func ruleOf(r provider.FirewallRule) FirewallRule {
	port := r.Port
	if port == "any" {
		port = ""
	}
	return FirewallRule{Direction: r.Direction, Protocol: r.Protocol, Port: port,
		SourceIPs: nonNil(r.SourceIPs), DestinationIPs: nonNil(r.DestinationIPs)}
}

func rulesOf(rs []provider.FirewallRule) []FirewallRule {
	out := []FirewallRule{}
	for _, r := range rs {
		out = append(out, ruleOf(r))
	}
	return out
}
