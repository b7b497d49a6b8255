package provider

import (
	"context"
	"fmt"
	"maps"
	"net"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
)

// nameIndex names the firewalls, networks and volumes servers refer to by id.
type nameIndex map[Kind]map[int64]string

func (n nameIndex) name(k Kind, id int64) string {
	if s, ok := n[k][id]; ok {
		return s
	}
	return fmt.Sprintf("#%d", id)
}

// names lists the firewalls, networks and volumes that servers refer to,
// only for the kinds some server refers to. A list that fails leaves ids
// ("#42") in place of names.
func (h *Hetzner) names(ctx context.Context, servers ...*hcloud.Server) nameIndex {
	idx := nameIndex{}
	var fw, nw, vol bool
	for _, s := range servers {
		fw = fw || len(s.PublicNet.Firewalls) > 0
		nw = nw || len(s.PrivateNet) > 0
		vol = vol || len(s.Volumes) > 0
	}
	if fw {
		if all, err := h.r.Firewall.AllWithOpts(ctx, hcloud.FirewallListOpts{ListOpts: hcloud.ListOpts{PerPage: 50}}); err == nil {
			idx[KindFirewall] = map[int64]string{}
			for _, f := range all {
				idx[KindFirewall][f.ID] = f.Name
			}
		}
	}
	if nw {
		if all, err := h.r.Network.AllWithOpts(ctx, hcloud.NetworkListOpts{ListOpts: hcloud.ListOpts{PerPage: 50}}); err == nil {
			idx[KindNetwork] = map[int64]string{}
			for _, n := range all {
				idx[KindNetwork][n.ID] = n.Name
			}
		}
	}
	if vol {
		if all, err := h.r.Volume.AllWithOpts(ctx, hcloud.VolumeListOpts{ListOpts: hcloud.ListOpts{PerPage: 50}}); err == nil {
			idx[KindVolume] = map[int64]string{}
			for _, v := range all {
				idx[KindVolume][v.ID] = v.Name
			}
		}
	}
	return idx
}

// changeExt prepares the server ops added with the other kinds. It resolves
// the names the action refers to first, so a missing one fails definitely.
func (h *Hetzner) changeExt(ctx context.Context, s *hcloud.Server, a Action, extra map[string]string,
	act **hcloud.Action, actions *[]*hcloud.Action, image *int64) (func() (*hcloud.Response, error), error) {
	one := func(f func() (*hcloud.Action, *hcloud.Response, error)) func() (*hcloud.Response, error) {
		return func() (*hcloud.Response, error) {
			var resp *hcloud.Response
			var err error
			*act, resp, err = f()
			return resp, err
		}
	}
	network := func() (*hcloud.Network, error) {
		n, _, err := h.r.Network.GetByName(ctx, a.Network)
		if err != nil {
			return nil, fmt.Errorf("network %q: %w", a.Network, err)
		}
		if n == nil {
			return nil, fmt.Errorf("network %q: %w", a.Network, ErrNotFound)
		}
		return n, nil
	}
	firewall := func() (*hcloud.Firewall, error) {
		f, _, err := h.r.Firewall.GetByName(ctx, a.Firewall)
		if err != nil {
			return nil, fmt.Errorf("firewall %q: %w", a.Firewall, err)
		}
		if f == nil {
			return nil, fmt.Errorf("firewall %q: %w", a.Firewall, ErrNotFound)
		}
		return f, nil
	}
	switch a.Op {
	case OpAttachNetwork:
		n, err := network()
		if err != nil {
			return nil, err
		}
		opts := hcloud.ServerAttachToNetworkOpts{Network: n}
		if a.IP != "" {
			opts.IP = net.ParseIP(a.IP)
		}
		for _, ip := range a.AliasIPs {
			opts.AliasIPs = append(opts.AliasIPs, net.ParseIP(ip))
		}
		return one(func() (*hcloud.Action, *hcloud.Response, error) { return h.w.Server.AttachToNetwork(ctx, s, opts) }), nil
	case OpDetachNetwork:
		n, err := network()
		if err != nil {
			return nil, err
		}
		return one(func() (*hcloud.Action, *hcloud.Response, error) {
			return h.w.Server.DetachFromNetwork(ctx, s, hcloud.ServerDetachFromNetworkOpts{Network: n})
		}), nil
	case OpAttachFirewall, OpDetachFirewall:
		f, err := firewall()
		if err != nil {
			return nil, err
		}
		target := []hcloud.FirewallResource{{Type: hcloud.FirewallResourceTypeServer, Server: &hcloud.FirewallResourceServer{ID: s.ID}}}
		return func() (*hcloud.Response, error) {
			call := h.w.Firewall.ApplyResources
			if a.Op == OpDetachFirewall {
				call = h.w.Firewall.RemoveResources
			}
			acts, resp, err := call(ctx, f, target)
			*actions = append(*actions, acts...)
			return resp, err
		}, nil
	case OpEnableBackup:
		return one(func() (*hcloud.Action, *hcloud.Response, error) { return h.w.Server.EnableBackup(ctx, s, "") }), nil
	case OpDisableBackup:
		return one(func() (*hcloud.Action, *hcloud.Response, error) { return h.w.Server.DisableBackup(ctx, s) }), nil
	case OpCreateImage:
		opts := &hcloud.ServerCreateImageOpts{Type: hcloud.ImageTypeSnapshot, Labels: mergeLabels(a.Labels, extra)}
		if a.Description != "" {
			opts.Description = &a.Description
		}
		return func() (*hcloud.Response, error) {
			res, resp, err := h.w.Server.CreateImage(ctx, s, opts)
			*act = res.Action
			if res.Image != nil {
				*image = res.Image.ID
			}
			return resp, err
		}, nil
	case OpSetRDNS:
		ip := a.IP
		if ip == "" {
			if s.PublicNet.IPv4.IsUnspecified() {
				return nil, fmt.Errorf("%w: set_rdns: %w", ErrInvalidAction, errNoServerRDNS)
			}
			ip = s.PublicNet.IPv4.IP.String()
		}
		var ptr *string
		if *a.DNSPtr != "" {
			ptr = a.DNSPtr
		}
		return one(func() (*hcloud.Action, *hcloud.Response, error) { return h.w.Server.ChangeDNSPtr(ctx, s, ip, ptr) }), nil
	case OpAddLabels, OpRemoveLabels:
		labels := maps.Clone(s.Labels)
		if labels == nil {
			labels = map[string]string{}
		}
		maps.Copy(labels, a.Labels)
		for _, k := range a.LabelKeys {
			delete(labels, k)
		}
		maps.Copy(labels, extra)
		return func() (*hcloud.Response, error) {
			_, resp, err := h.w.Server.Update(ctx, s, hcloud.ServerUpdateOpts{Labels: labels})
			return resp, err
		}, nil
	}
	panic("provider: op passed Validate but has no implementation: " + string(a.Op))
}
