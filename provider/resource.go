package provider

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
)

// Resource is the observed state of a resource other than a server, as
// receipts record it. Fields that do not belong to the kind are empty.
// Servers are named, not numbered, wherever a resource refers to them.
type Resource struct {
	Kind          Kind              `json:"kind"`
	ID            int64             `json:"id"`
	Name          string            `json:"name"`
	Labels        map[string]string `json:"labels"`
	Created       time.Time         `json:"created"`
	ProtectDelete bool              `json:"protect_delete,omitempty"`

	// Firewall: rules; servers it applies to directly (also networks'
	// attached servers) and the label selectors it applies to.
	Rules          []FirewallRule `json:"rules,omitempty"`
	Servers        []string       `json:"servers,omitempty"`
	LabelSelectors []string       `json:"label_selectors,omitempty"`
	// Network.
	IPRange string   `json:"ip_range,omitempty"`
	Subnets []Subnet `json:"subnets,omitempty"`
	Routes  []Route  `json:"routes,omitempty"`
	// Volume: Server is the server it is attached to; IPs: the server it is
	// assigned to.
	Server      string `json:"server,omitempty"`
	Location    string `json:"location,omitempty"`
	Size        int    `json:"size,omitempty"`
	Format      string `json:"format,omitempty"`
	LinuxDevice string `json:"linux_device,omitempty"`
	Status      string `json:"status,omitempty"`
	// SSH key.
	Fingerprint string `json:"fingerprint,omitempty"`
	PublicKey   string `json:"public_key,omitempty"`
	// Primary and floating IPs.
	Type        string            `json:"type,omitempty"`
	IP          string            `json:"ip,omitempty"`
	DNSPtr      map[string]string `json:"dns_ptr,omitempty"`
	AutoDelete  bool              `json:"auto_delete,omitempty"`
	Description string            `json:"description,omitempty"`
}

// Ref returns the resource's reference.
func (r *Resource) Ref() Ref { return Ref{Kind: r.Kind, Name: r.Name} }

// Resource returns the resource of kind k (not KindServer) with exactly this
// name, or an error wrapping ErrNotFound.
func (h *Hetzner) Resource(ctx context.Context, k Kind, name string) (*Resource, error) {
	if name == "" {
		return nil, fmt.Errorf("hetzner: get %s: empty name", k)
	}
	all, err := h.list(ctx, k, name, "")
	if err != nil {
		return nil, h.redact(err)
	}
	for i := range all {
		if all[i].Name == name {
			return &all[i], nil
		}
	}
	return nil, fmt.Errorf("hetzner: %s %q: %w", k, name, ErrNotFound)
}

// Resources returns every resource of kind k (not KindServer) matching the
// label selector, across all pages, ordered by id.
func (h *Hetzner) Resources(ctx context.Context, k Kind, labelSelector string) ([]Resource, error) {
	all, err := h.list(ctx, k, "", labelSelector)
	if err != nil {
		return nil, h.redact(err)
	}
	return all, nil
}

// list reads resources of kind k and converts them.
func (h *Hetzner) list(ctx context.Context, k Kind, name, selector string) ([]Resource, error) {
	lo := hcloud.ListOpts{PerPage: 50, LabelSelector: selector}
	wrap := func(err error) error {
		return fmt.Errorf("hetzner: list %ss (name %q, label selector %q): %w", k, name, selector, err)
	}
	var out []Resource
	switch k {
	case KindFirewall:
		all, err := h.r.Firewall.AllWithOpts(ctx, hcloud.FirewallListOpts{ListOpts: lo, Name: name})
		if err != nil {
			return nil, wrap(err)
		}
		names, err := h.serverNames(ctx, len(all) > 0)
		if err != nil {
			return nil, wrap(err)
		}
		for _, f := range all {
			out = append(out, fromFirewall(f, names))
		}
	case KindNetwork:
		all, err := h.r.Network.AllWithOpts(ctx, hcloud.NetworkListOpts{ListOpts: lo, Name: name})
		if err != nil {
			return nil, wrap(err)
		}
		names, err := h.serverNames(ctx, len(all) > 0)
		if err != nil {
			return nil, wrap(err)
		}
		for _, n := range all {
			out = append(out, fromNetwork(n, names))
		}
	case KindVolume:
		all, err := h.r.Volume.AllWithOpts(ctx, hcloud.VolumeListOpts{ListOpts: lo, Name: name})
		if err != nil {
			return nil, wrap(err)
		}
		names, err := h.serverNames(ctx, len(all) > 0)
		if err != nil {
			return nil, wrap(err)
		}
		for _, v := range all {
			out = append(out, fromVolume(v, names))
		}
	case KindSSHKey:
		all, err := h.r.SSHKey.AllWithOpts(ctx, hcloud.SSHKeyListOpts{ListOpts: lo, Name: name})
		if err != nil {
			return nil, wrap(err)
		}
		for _, s := range all {
			out = append(out, Resource{Kind: KindSSHKey, ID: s.ID, Name: s.Name, Labels: cloneLabels(s.Labels),
				Created: s.Created.UTC(), Fingerprint: s.Fingerprint, PublicKey: s.PublicKey})
		}
	case KindPrimaryIP:
		all, err := h.r.PrimaryIP.AllWithOpts(ctx, hcloud.PrimaryIPListOpts{ListOpts: lo, Name: name})
		if err != nil {
			return nil, wrap(err)
		}
		names, err := h.serverNames(ctx, len(all) > 0)
		if err != nil {
			return nil, wrap(err)
		}
		for _, p := range all {
			r := Resource{Kind: KindPrimaryIP, ID: p.ID, Name: p.Name, Labels: cloneLabels(p.Labels), Created: p.Created.UTC(),
				ProtectDelete: p.Protection.Delete, Type: string(p.Type), IP: ipString(p.IP, p.Network),
				DNSPtr: cloneMap(p.DNSPtr), AutoDelete: p.AutoDelete}
			if p.AssigneeID != 0 {
				r.Server = names.name(p.AssigneeID)
			}
			if p.Location != nil {
				r.Location = p.Location.Name
			}
			out = append(out, r)
		}
	case KindFloatingIP:
		all, err := h.r.FloatingIP.AllWithOpts(ctx, hcloud.FloatingIPListOpts{ListOpts: lo, Name: name})
		if err != nil {
			return nil, wrap(err)
		}
		names, err := h.serverNames(ctx, len(all) > 0)
		if err != nil {
			return nil, wrap(err)
		}
		for _, f := range all {
			r := Resource{Kind: KindFloatingIP, ID: f.ID, Name: f.Name, Labels: cloneLabels(f.Labels), Created: f.Created.UTC(),
				ProtectDelete: f.Protection.Delete, Type: string(f.Type), IP: ipString(f.IP, f.Network),
				DNSPtr: cloneMap(f.DNSPtr), Description: f.Description}
			if f.Server != nil {
				r.Server = names.name(f.Server.ID)
			}
			if f.HomeLocation != nil {
				r.Location = f.HomeLocation.Name
			}
			out = append(out, r)
		}
	default:
		return nil, fmt.Errorf("hetzner: list: %w: kind %s", ErrInvalidAction, k)
	}
	slices.SortFunc(out, func(a, b Resource) int { return cmpInt64(a.ID, b.ID) })
	return out, nil
}

// serverIndex maps server ids to names (and back).
type serverIndex map[int64]string

func (n serverIndex) name(id int64) string {
	if s, ok := n[id]; ok {
		return s
	}
	return fmt.Sprintf("#%d", id) // a server vmc-git cannot see by name
}

func (n serverIndex) id(name string) (int64, bool) {
	for id, s := range n {
		if s == name {
			return id, true
		}
	}
	return 0, false
}

// serverNames lists every server's name by id (when needed).
func (h *Hetzner) serverNames(ctx context.Context, needed bool) (serverIndex, error) {
	idx := serverIndex{}
	if !needed {
		return idx, nil
	}
	all, err := h.r.Server.AllWithOpts(ctx, hcloud.ServerListOpts{ListOpts: hcloud.ListOpts{PerPage: 50}})
	if err != nil {
		return nil, err
	}
	for _, s := range all {
		idx[s.ID] = s.Name
	}
	return idx, nil
}

func cloneLabels(m map[string]string) map[string]string {
	out := map[string]string{}
	maps.Copy(out, m)
	return out
}

func cloneMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return maps.Clone(m)
}

func ipString(ip net.IP, n *net.IPNet) string {
	if ip.To4() == nil && n != nil {
		return n.String()
	}
	if ip == nil {
		return ""
	}
	return ip.String()
}

func fromFirewall(f *hcloud.Firewall, names serverIndex) Resource {
	r := Resource{Kind: KindFirewall, ID: f.ID, Name: f.Name, Labels: cloneLabels(f.Labels), Created: f.Created.UTC()}
	for _, rule := range f.Rules {
		r.Rules = append(r.Rules, fromRule(rule))
	}
	for _, a := range f.AppliedTo {
		switch {
		case a.Type == hcloud.FirewallResourceTypeServer && a.Server != nil:
			r.Servers = append(r.Servers, names.name(a.Server.ID))
		case a.Type == hcloud.FirewallResourceTypeLabelSelector && a.LabelSelector != nil:
			r.LabelSelectors = append(r.LabelSelectors, a.LabelSelector.Selector)
		}
	}
	sort.Strings(r.Servers)
	sort.Strings(r.LabelSelectors)
	return r
}

func fromRule(rule hcloud.FirewallRule) FirewallRule {
	out := FirewallRule{Direction: string(rule.Direction), Protocol: string(rule.Protocol)}
	if rule.Port != nil {
		out.Port = *rule.Port
	}
	if rule.Description != nil {
		out.Description = *rule.Description
	}
	for _, n := range rule.SourceIPs {
		out.SourceIPs = append(out.SourceIPs, n.String())
	}
	for _, n := range rule.DestinationIPs {
		out.DestinationIPs = append(out.DestinationIPs, n.String())
	}
	return out
}

func toRule(r FirewallRule) hcloud.FirewallRule {
	out := hcloud.FirewallRule{Direction: hcloud.FirewallRuleDirection(r.Direction), Protocol: hcloud.FirewallRuleProtocol(r.Protocol)}
	if r.Port != "" {
		out.Port = &r.Port
	}
	if r.Description != "" {
		out.Description = &r.Description
	}
	for _, s := range r.SourceIPs {
		if _, n, err := net.ParseCIDR(s); err == nil {
			out.SourceIPs = append(out.SourceIPs, *n)
		}
	}
	for _, s := range r.DestinationIPs {
		if _, n, err := net.ParseCIDR(s); err == nil {
			out.DestinationIPs = append(out.DestinationIPs, *n)
		}
	}
	return out
}

func fromNetwork(n *hcloud.Network, names serverIndex) Resource {
	r := Resource{Kind: KindNetwork, ID: n.ID, Name: n.Name, Labels: cloneLabels(n.Labels), Created: n.Created.UTC(),
		ProtectDelete: n.Protection.Delete}
	if n.IPRange != nil {
		r.IPRange = n.IPRange.String()
	}
	for _, s := range n.Subnets {
		sub := Subnet{Type: string(s.Type), NetworkZone: string(s.NetworkZone), VSwitchID: s.VSwitchID}
		if s.IPRange != nil {
			sub.IPRange = s.IPRange.String()
		}
		r.Subnets = append(r.Subnets, sub)
	}
	for _, rt := range n.Routes {
		route := Route{Gateway: rt.Gateway.String()}
		if rt.Destination != nil {
			route.Destination = rt.Destination.String()
		}
		r.Routes = append(r.Routes, route)
	}
	for _, s := range n.Servers {
		r.Servers = append(r.Servers, names.name(s.ID))
	}
	sort.Strings(r.Servers)
	return r
}

func fromVolume(v *hcloud.Volume, names serverIndex) Resource {
	r := Resource{Kind: KindVolume, ID: v.ID, Name: v.Name, Labels: cloneLabels(v.Labels), Created: v.Created.UTC(),
		ProtectDelete: v.Protection.Delete, Size: v.Size, LinuxDevice: v.LinuxDevice, Status: string(v.Status)}
	if v.Server != nil {
		r.Server = names.name(v.Server.ID)
	}
	if v.Location != nil {
		r.Location = v.Location.Name
	}
	if v.Format != nil {
		r.Format = *v.Format
	}
	return r
}

// applyResource performs an action on a resource other than a server; the
// contract is Apply's.
func (h *Hetzner) applyResource(ctx context.Context, a Action, extra map[string]string) (Result, error) {
	fail := func(err error) (Result, error) {
		err = h.redact(err)
		return Result{Status: StatusFailed, Code: errorCode(err), Error: err.Error()}, err
	}
	what := fmt.Sprintf("hetzner: %s %q", OpName(a.Kind, a.Op), a.Name)
	var cur *Resource
	if a.Op != OpCreate {
		var err error
		if cur, err = h.Resource(ctx, a.Kind, a.Name); err != nil {
			return fail(err)
		}
	}
	var servers serverIndex
	if a.Server != "" || len(a.Servers) > 0 {
		var err error
		if servers, err = h.serverNames(ctx, true); err != nil {
			return fail(fmt.Errorf("%s: %w", what, err))
		}
		for _, s := range append([]string{a.Server}, a.Servers...) {
			if _, ok := servers.id(s); s != "" && !ok {
				return fail(fmt.Errorf("%s: server %q: %w", what, s, ErrNotFound))
			}
		}
	}
	sid := func(name string) int64 { id, _ := servers.id(name); return id }
	labels := mergeLabels(a.Labels, extra)
	if a.Op == OpLabel {
		labels = keepReserved(cur.Labels, labels)
	}

	var actions []*hcloud.Action
	one := func(f func() (*hcloud.Action, *hcloud.Response, error)) func() (*hcloud.Response, error) {
		return func() (*hcloud.Response, error) {
			act, resp, err := f()
			if act != nil {
				actions = append(actions, act)
			}
			return resp, err
		}
	}
	var call func() (*hcloud.Response, error)
	var id int64
	if cur != nil {
		id = cur.ID
	}
	switch a.Kind {
	case KindFirewall:
		fw := &hcloud.Firewall{ID: id}
		switch a.Op {
		case OpCreate:
			opts := hcloud.FirewallCreateOpts{Name: a.Name, Labels: labels, ApplyTo: firewallTargets(a, sid)}
			for _, r := range a.Rules {
				opts.Rules = append(opts.Rules, toRule(r))
			}
			call = func() (*hcloud.Response, error) {
				res, resp, err := h.w.Firewall.Create(ctx, opts)
				actions = append(actions, res.Actions...)
				return resp, err
			}
		case OpSetRules:
			opts := hcloud.FirewallSetRulesOpts{Rules: []hcloud.FirewallRule{}}
			for _, r := range a.Rules {
				opts.Rules = append(opts.Rules, toRule(r))
			}
			call = func() (*hcloud.Response, error) {
				acts, resp, err := h.w.Firewall.SetRules(ctx, fw, opts)
				actions = append(actions, acts...)
				return resp, err
			}
		case OpApplyTo, OpRemoveFrom:
			targets := firewallTargets(a, sid)
			call = func() (*hcloud.Response, error) {
				f := h.w.Firewall.ApplyResources
				if a.Op == OpRemoveFrom {
					f = h.w.Firewall.RemoveResources
				}
				acts, resp, err := f(ctx, fw, targets)
				actions = append(actions, acts...)
				return resp, err
			}
		case OpLabel, OpRename:
			opts := hcloud.FirewallUpdateOpts{Name: a.NewName}
			if a.Op == OpLabel {
				opts.Labels = labels
			}
			call = func() (*hcloud.Response, error) { _, resp, err := h.w.Firewall.Update(ctx, fw, opts); return resp, err }
		case OpDelete:
			call = func() (*hcloud.Response, error) { return h.w.Firewall.Delete(ctx, fw) }
		}
	case KindNetwork:
		nw := &hcloud.Network{ID: id}
		switch a.Op {
		case OpCreate:
			_, rng, _ := net.ParseCIDR(a.IPRange)
			opts := hcloud.NetworkCreateOpts{Name: a.Name, IPRange: rng, Labels: labels}
			for _, s := range a.Subnets {
				opts.Subnets = append(opts.Subnets, toSubnet(s))
			}
			for _, r := range a.Routes {
				opts.Routes = append(opts.Routes, toRoute(r))
			}
			call = func() (*hcloud.Response, error) { _, resp, err := h.w.Network.Create(ctx, opts); return resp, err }
		case OpAddSubnet:
			call = one(func() (*hcloud.Action, *hcloud.Response, error) {
				return h.w.Network.AddSubnet(ctx, nw, hcloud.NetworkAddSubnetOpts{Subnet: toSubnet(*a.Subnet)})
			})
		case OpDeleteSubnet:
			_, rng, _ := net.ParseCIDR(a.IPRange)
			call = one(func() (*hcloud.Action, *hcloud.Response, error) {
				return h.w.Network.DeleteSubnet(ctx, nw, hcloud.NetworkDeleteSubnetOpts{Subnet: hcloud.NetworkSubnet{IPRange: rng}})
			})
		case OpAddRoute:
			call = one(func() (*hcloud.Action, *hcloud.Response, error) {
				return h.w.Network.AddRoute(ctx, nw, hcloud.NetworkAddRouteOpts{Route: toRoute(*a.Route)})
			})
		case OpDeleteRoute:
			call = one(func() (*hcloud.Action, *hcloud.Response, error) {
				return h.w.Network.DeleteRoute(ctx, nw, hcloud.NetworkDeleteRouteOpts{Route: toRoute(*a.Route)})
			})
		case OpProtect:
			call = one(func() (*hcloud.Action, *hcloud.Response, error) {
				return h.w.Network.ChangeProtection(ctx, nw, hcloud.NetworkChangeProtectionOpts{Delete: a.Delete})
			})
		case OpLabel, OpRename:
			opts := hcloud.NetworkUpdateOpts{Name: a.NewName}
			if a.Op == OpLabel {
				opts.Labels = labels
			}
			call = func() (*hcloud.Response, error) { _, resp, err := h.w.Network.Update(ctx, nw, opts); return resp, err }
		case OpDelete:
			call = func() (*hcloud.Response, error) { return h.w.Network.Delete(ctx, nw) }
		}
	case KindVolume:
		vol := &hcloud.Volume{ID: id}
		switch a.Op {
		case OpCreate:
			opts := hcloud.VolumeCreateOpts{Name: a.Name, Size: a.Size, Labels: labels, Automount: a.Automount}
			if a.Server != "" {
				opts.Server = &hcloud.Server{ID: sid(a.Server)}
			} else {
				opts.Location = &hcloud.Location{Name: a.Location}
			}
			if a.Format != "" {
				opts.Format = &a.Format
			}
			call = func() (*hcloud.Response, error) {
				res, resp, err := h.w.Volume.Create(ctx, opts)
				if res.Action != nil {
					actions = append(actions, res.Action)
				}
				actions = append(actions, res.NextActions...)
				return resp, err
			}
		case OpAttach:
			call = one(func() (*hcloud.Action, *hcloud.Response, error) {
				return h.w.Volume.AttachWithOpts(ctx, vol, hcloud.VolumeAttachOpts{Server: &hcloud.Server{ID: sid(a.Server)}, Automount: a.Automount})
			})
		case OpDetach:
			call = one(func() (*hcloud.Action, *hcloud.Response, error) { return h.w.Volume.Detach(ctx, vol) })
		case OpResize:
			call = one(func() (*hcloud.Action, *hcloud.Response, error) { return h.w.Volume.Resize(ctx, vol, a.Size) })
		case OpProtect:
			call = one(func() (*hcloud.Action, *hcloud.Response, error) {
				return h.w.Volume.ChangeProtection(ctx, vol, hcloud.VolumeChangeProtectionOpts{Delete: a.Delete})
			})
		case OpLabel, OpRename:
			opts := hcloud.VolumeUpdateOpts{Name: a.NewName}
			if a.Op == OpLabel {
				opts.Labels = labels
			}
			call = func() (*hcloud.Response, error) { _, resp, err := h.w.Volume.Update(ctx, vol, opts); return resp, err }
		case OpDelete:
			call = func() (*hcloud.Response, error) { return h.w.Volume.Delete(ctx, vol) }
		}
	case KindSSHKey:
		key := &hcloud.SSHKey{ID: id}
		switch a.Op {
		case OpCreate:
			opts := hcloud.SSHKeyCreateOpts{Name: a.Name, PublicKey: a.PublicKey, Labels: labels}
			call = func() (*hcloud.Response, error) { _, resp, err := h.w.SSHKey.Create(ctx, opts); return resp, err }
		case OpLabel, OpRename:
			opts := hcloud.SSHKeyUpdateOpts{Name: a.NewName}
			if a.Op == OpLabel {
				opts.Labels = labels
			}
			call = func() (*hcloud.Response, error) { _, resp, err := h.w.SSHKey.Update(ctx, key, opts); return resp, err }
		case OpDelete:
			call = func() (*hcloud.Response, error) { return h.w.SSHKey.Delete(ctx, key) }
		}
	case KindPrimaryIP:
		pip := &hcloud.PrimaryIP{ID: id}
		switch a.Op {
		case OpCreate:
			opts := hcloud.PrimaryIPCreateOpts{Name: a.Name, Type: hcloud.PrimaryIPType(a.Type), Labels: labels,
				AutoDelete: a.AutoDelete, AssigneeType: "server"}
			if a.Server != "" {
				s := sid(a.Server)
				opts.AssigneeID = &s
			} else {
				opts.Location = a.Location
			}
			call = func() (*hcloud.Response, error) {
				res, resp, err := h.w.PrimaryIP.Create(ctx, opts)
				if res != nil && res.Action != nil {
					actions = append(actions, res.Action)
				}
				return resp, err
			}
		case OpAssign:
			call = one(func() (*hcloud.Action, *hcloud.Response, error) {
				return h.w.PrimaryIP.Assign(ctx, hcloud.PrimaryIPAssignOpts{ID: id, AssigneeID: sid(a.Server), AssigneeType: "server"})
			})
		case OpUnassign:
			call = one(func() (*hcloud.Action, *hcloud.Response, error) { return h.w.PrimaryIP.Unassign(ctx, id) })
		case OpSetRDNS:
			ip := a.IP
			if ip == "" {
				ip = rdnsIP(cur.IP)
			}
			call = one(func() (*hcloud.Action, *hcloud.Response, error) {
				return h.w.PrimaryIP.ChangeDNSPtr(ctx, hcloud.PrimaryIPChangeDNSPtrOpts{ID: id, IP: ip, DNSPtr: *a.DNSPtr})
			})
		case OpProtect:
			call = one(func() (*hcloud.Action, *hcloud.Response, error) {
				return h.w.PrimaryIP.ChangeProtection(ctx, hcloud.PrimaryIPChangeProtectionOpts{ID: id, Delete: *a.Delete})
			})
		case OpLabel, OpRename:
			opts := hcloud.PrimaryIPUpdateOpts{Name: a.NewName}
			if a.Op == OpLabel {
				opts.Labels = &labels
			}
			call = func() (*hcloud.Response, error) {
				_, resp, err := h.w.PrimaryIP.Update(ctx, pip, opts)
				return resp, err
			}
		case OpDelete:
			call = func() (*hcloud.Response, error) { return h.w.PrimaryIP.Delete(ctx, pip) }
		}
	case KindFloatingIP:
		fip := &hcloud.FloatingIP{ID: id}
		switch a.Op {
		case OpCreate:
			name := a.Name
			opts := hcloud.FloatingIPCreateOpts{Name: &name, Type: hcloud.FloatingIPType(a.Type), Labels: labels}
			if a.Server != "" {
				opts.Server = &hcloud.Server{ID: sid(a.Server)}
			} else {
				opts.HomeLocation = &hcloud.Location{Name: a.Location}
			}
			if a.Description != "" {
				opts.Description = &a.Description
			}
			call = func() (*hcloud.Response, error) {
				res, resp, err := h.w.FloatingIP.Create(ctx, opts)
				if res.Action != nil {
					actions = append(actions, res.Action)
				}
				return resp, err
			}
		case OpAssign:
			call = one(func() (*hcloud.Action, *hcloud.Response, error) {
				return h.w.FloatingIP.Assign(ctx, fip, &hcloud.Server{ID: sid(a.Server)})
			})
		case OpUnassign:
			call = one(func() (*hcloud.Action, *hcloud.Response, error) { return h.w.FloatingIP.Unassign(ctx, fip) })
		case OpSetRDNS:
			ip := a.IP
			if ip == "" {
				ip = rdnsIP(cur.IP)
			}
			var ptr *string
			if *a.DNSPtr != "" {
				ptr = a.DNSPtr
			}
			call = one(func() (*hcloud.Action, *hcloud.Response, error) {
				return h.w.FloatingIP.ChangeDNSPtr(ctx, fip, ip, ptr)
			})
		case OpProtect:
			call = one(func() (*hcloud.Action, *hcloud.Response, error) {
				return h.w.FloatingIP.ChangeProtection(ctx, fip, hcloud.FloatingIPChangeProtectionOpts{Delete: a.Delete})
			})
		case OpLabel, OpRename:
			opts := hcloud.FloatingIPUpdateOpts{Name: a.NewName}
			if a.Op == OpLabel {
				opts.Labels = labels
			}
			call = func() (*hcloud.Response, error) {
				_, resp, err := h.w.FloatingIP.Update(ctx, fip, opts)
				return resp, err
			}
		case OpDelete:
			call = func() (*hcloud.Response, error) { return h.w.FloatingIP.Delete(ctx, fip) }
		}
	}
	if call == nil {
		panic("provider: action passed Validate but has no implementation: " + OpName(a.Kind, a.Op))
	}
	if err := h.write(ctx, call); err != nil {
		err = fmt.Errorf("%s: %w", what, err)
		if definite(err) {
			return fail(err)
		}
		return Result{Status: StatusUnknown, Code: errorCode(err), Error: h.redact(err).Error()}, nil
	}
	res := h.wait(ctx, what, actions)
	if a.Op != OpDelete && res.Status != StatusUnknown {
		name := a.Name
		if a.NewName != "" {
			name = a.NewName
		}
		if r, err := h.Resource(ctx, a.Kind, name); err == nil {
			res.Resource = r
		}
		// The server the action attached the resource to or detached it
		// from changed too.
		srv := a.Server
		if srv == "" && cur != nil && (a.Op == OpDetach || a.Op == OpUnassign) {
			srv = cur.Server
		}
		if srv != "" && !strings.HasPrefix(srv, "#") {
			if s, err := h.Server(ctx, srv); err == nil {
				res.Observed = s
			}
		}
	}
	return res, nil
}

// rdnsIP is the address whose reverse DNS an IP resource's set_rdns changes
// by default: the address itself, or for an IPv6 network its first address
// (…::1).
func rdnsIP(ip string) string {
	if strings.Contains(ip, "/") {
		if base, _, err := net.ParseCIDR(ip); err == nil {
			base[len(base)-1] |= 1
			return base.String()
		}
	}
	return ip
}

func firewallTargets(a Action, sid func(string) int64) []hcloud.FirewallResource {
	var out []hcloud.FirewallResource
	for _, s := range a.Servers {
		out = append(out, hcloud.FirewallResource{Type: hcloud.FirewallResourceTypeServer, Server: &hcloud.FirewallResourceServer{ID: sid(s)}})
	}
	for _, sel := range a.LabelSelectors {
		out = append(out, hcloud.FirewallResource{Type: hcloud.FirewallResourceTypeLabelSelector, LabelSelector: &hcloud.FirewallResourceLabelSelector{Selector: sel}})
	}
	return out
}

func toSubnet(s Subnet) hcloud.NetworkSubnet {
	_, rng, _ := net.ParseCIDR(s.IPRange)
	t := s.Type
	if t == "" {
		t = "cloud"
	}
	return hcloud.NetworkSubnet{Type: hcloud.NetworkSubnetType(t), IPRange: rng, NetworkZone: hcloud.NetworkZone(s.NetworkZone), VSwitchID: s.VSwitchID}
}

func toRoute(r Route) hcloud.NetworkRoute {
	_, dst, _ := net.ParseCIDR(r.Destination)
	return hcloud.NetworkRoute{Destination: dst, Gateway: net.ParseIP(r.Gateway)}
}

// keepReserved returns labels with the reserved vmc.* labels of cur added
// where labels does not set them (see the package doc's label semantics).
func keepReserved(cur, labels map[string]string) map[string]string {
	out := map[string]string{}
	for _, k := range []string{LabelLedger, LabelPlan} {
		if v, ok := cur[k]; ok {
			out[k] = v
		}
	}
	maps.Copy(out, labels)
	return out
}

// wait waits for actions and their outcome; see Apply.
func (h *Hetzner) wait(ctx context.Context, what string, actions []*hcloud.Action) Result {
	res := Result{Status: StatusSucceeded}
	for _, act := range actions {
		res.ActionIDs = append(res.ActionIDs, act.ID)
	}
	if len(actions) == 0 {
		return res
	}
	var failed []string
	werr := h.p.Action.WaitForFunc(ctx, func(u *hcloud.Action) error {
		if u.Status == hcloud.ActionStatusError {
			failed = append(failed, fmt.Sprintf("action %d (%s): %s (%s)", u.ID, u.Command, u.ErrorMessage, u.ErrorCode))
			if res.Code == "" {
				res.Code = u.ErrorCode
			}
		}
		return nil
	}, actions...)
	switch {
	case werr != nil:
		res.Status = StatusUnknown
		res.Error = h.redact(fmt.Errorf("%s: waiting for actions %v: %w", what, res.ActionIDs, werr)).Error()
	case len(failed) > 0:
		res.Status = StatusFailed
		res.Error = h.redact(fmt.Errorf("%s: %s", what, strings.Join(failed, "; "))).Error()
	}
	return res
}

// errNoServerRDNS: set_rdns on a server without a public IPv4 and no ip.
var errNoServerRDNS = errors.New("the server has no public IPv4; give ip")
