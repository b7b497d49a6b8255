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
	var out []Resource
	var err error
	switch k {
	case KindFirewall:
		all, lerr := h.r.Firewall.AllWithOpts(ctx, hcloud.FirewallListOpts{ListOpts: lo, Name: name})
		out, err = convertAll(ctx, h, all, lerr, fromFirewall)
	case KindNetwork:
		all, lerr := h.r.Network.AllWithOpts(ctx, hcloud.NetworkListOpts{ListOpts: lo, Name: name})
		out, err = convertAll(ctx, h, all, lerr, fromNetwork)
	case KindVolume:
		all, lerr := h.r.Volume.AllWithOpts(ctx, hcloud.VolumeListOpts{ListOpts: lo, Name: name})
		out, err = convertAll(ctx, h, all, lerr, fromVolume)
	case KindSSHKey:
		var all []*hcloud.SSHKey
		all, err = h.r.SSHKey.AllWithOpts(ctx, hcloud.SSHKeyListOpts{ListOpts: lo, Name: name})
		for _, s := range all {
			out = append(out, fromSSHKey(s)) // an SSH key names no server
		}
	case KindPrimaryIP:
		all, lerr := h.r.PrimaryIP.AllWithOpts(ctx, hcloud.PrimaryIPListOpts{ListOpts: lo, Name: name})
		out, err = convertAll(ctx, h, all, lerr, fromPrimaryIP)
	case KindFloatingIP:
		all, lerr := h.r.FloatingIP.AllWithOpts(ctx, hcloud.FloatingIPListOpts{ListOpts: lo, Name: name})
		out, err = convertAll(ctx, h, all, lerr, fromFloatingIP)
	default:
		return nil, fmt.Errorf("hetzner: list: %w: kind %s", ErrInvalidAction, k)
	}
	if err != nil {
		return nil, fmt.Errorf("hetzner: list %ss (name %q, label selector %q): %w", k, name, selector, err)
	}
	slices.SortFunc(out, func(a, b Resource) int { return cmpInt64(a.ID, b.ID) })
	return out, nil
}

// convertAll converts what a list call returned (all, err), with the names
// of the servers the resources refer to (listed only when there are any).
func convertAll[T any](ctx context.Context, h *Hetzner, all []T, err error, conv func(T, serverIndex) Resource) ([]Resource, error) {
	if err != nil {
		return nil, err
	}
	names, err := h.serverNames(ctx, len(all) > 0)
	if err != nil {
		return nil, err
	}
	var out []Resource
	for _, x := range all {
		out = append(out, conv(x, names))
	}
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

func fromSSHKey(s *hcloud.SSHKey) Resource {
	return Resource{Kind: KindSSHKey, ID: s.ID, Name: s.Name, Labels: cloneLabels(s.Labels),
		Created: s.Created.UTC(), Fingerprint: s.Fingerprint, PublicKey: s.PublicKey}
}

func fromPrimaryIP(p *hcloud.PrimaryIP, names serverIndex) Resource {
	r := Resource{Kind: KindPrimaryIP, ID: p.ID, Name: p.Name, Labels: cloneLabels(p.Labels), Created: p.Created.UTC(),
		ProtectDelete: p.Protection.Delete, Type: string(p.Type), IP: ipString(p.IP, p.Network),
		DNSPtr: cloneMap(p.DNSPtr), AutoDelete: p.AutoDelete}
	if p.AssigneeID != 0 {
		r.Server = names.name(p.AssigneeID)
	}
	if p.Location != nil {
		r.Location = p.Location.Name
	}
	return r
}

func fromFloatingIP(f *hcloud.FloatingIP, names serverIndex) Resource {
	r := Resource{Kind: KindFloatingIP, ID: f.ID, Name: f.Name, Labels: cloneLabels(f.Labels), Created: f.Created.UTC(),
		ProtectDelete: f.Protection.Delete, Type: string(f.Type), IP: ipString(f.IP, f.Network),
		DNSPtr: cloneMap(f.DNSPtr), Description: f.Description}
	if f.Server != nil {
		r.Server = names.name(f.Server.ID)
	}
	if f.HomeLocation != nil {
		r.Location = f.HomeLocation.Name
	}
	return r
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
