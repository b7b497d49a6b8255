package provider

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
)

// Apply for the kinds other than servers: one API call per action, built
// per kind by resourceCall.

// applyResource performs an action on a resource other than a server; the
// contract is Apply's.
func (h *Hetzner) applyResource(ctx context.Context, a Action, extra map[string]string) (Result, error) {
	fail := func(err error) (Result, error) {
		err = h.redact(err)
		return Result{Status: StatusFailed, Code: errorCode(err), Error: err.Error()}, err
	}
	what := fmt.Sprintf("hetzner: %s %q", OpName(a.Kind, a.Op), a.Name)
	rc := &resourceCall{h: h, ctx: ctx, a: a}
	if a.Op != OpCreate {
		var err error
		if rc.cur, err = h.Resource(ctx, a.Kind, a.Name); err != nil {
			return fail(err)
		}
		rc.id = rc.cur.ID
	}
	if a.Server != "" || len(a.Servers) > 0 {
		var err error
		if rc.servers, err = h.serverNames(ctx, true); err != nil {
			return fail(fmt.Errorf("%s: %w", what, err))
		}
		for _, s := range append([]string{a.Server}, a.Servers...) {
			if _, ok := rc.servers.id(s); s != "" && !ok {
				return fail(fmt.Errorf("%s: server %q: %w", what, s, ErrNotFound))
			}
		}
	}
	rc.labels = mergeLabels(a.Labels, extra)
	if a.Op == OpLabel {
		rc.labels = keepReserved(rc.cur.Labels, rc.labels)
	}
	build := map[Kind]func() func() (*hcloud.Response, error){
		KindFirewall: rc.firewall, KindNetwork: rc.network, KindVolume: rc.volume,
		KindSSHKey: rc.sshKey, KindPrimaryIP: rc.primaryIP, KindFloatingIP: rc.floatingIP,
	}[a.Kind]
	var call func() (*hcloud.Response, error)
	if build != nil {
		call = build()
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
	res := h.wait(ctx, what, rc.actions)
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
		if srv == "" && rc.cur != nil && (a.Op == OpDetach || a.Op == OpUnassign) {
			srv = rc.cur.Server
		}
		if srv != "" && !strings.HasPrefix(srv, "#") {
			if s, err := h.Server(ctx, srv); err == nil {
				res.Observed = s
			}
		}
	}
	return res, nil
}

// resourceCall builds the API call of one action on a resource other than
// a server: each kind's method returns it (nil: the op has none), and the
// call collects the actions it started in actions.
type resourceCall struct {
	h       *Hetzner
	ctx     context.Context
	a       Action
	cur     *Resource // the resource acted on; nil for create
	id      int64     // cur's id
	servers serverIndex
	labels  map[string]string // the labels create and label set
	actions []*hcloud.Action
}

type apiCall = func() (*hcloud.Response, error)

// sid is the id of server name (checked to exist by applyResource).
func (rc *resourceCall) sid(name string) int64 { id, _ := rc.servers.id(name); return id }

// one is a call that starts one action.
func (rc *resourceCall) one(f func() (*hcloud.Action, *hcloud.Response, error)) apiCall {
	return func() (*hcloud.Response, error) {
		act, resp, err := f()
		if act != nil {
			rc.actions = append(rc.actions, act)
		}
		return resp, err
	}
}

// many is a call that starts several actions.
func (rc *resourceCall) many(f func() ([]*hcloud.Action, *hcloud.Response, error)) apiCall {
	return func() (*hcloud.Response, error) {
		acts, resp, err := f()
		rc.actions = append(rc.actions, acts...)
		return resp, err
	}
}

// none is a call that starts no action (its result is not needed).
func none[T any](f func() (T, *hcloud.Response, error)) apiCall {
	return func() (*hcloud.Response, error) { _, resp, err := f(); return resp, err }
}

// updateLabels are the labels an update sets: with label only.
func (rc *resourceCall) updateLabels() map[string]string {
	if rc.a.Op == OpLabel {
		return rc.labels
	}
	return nil
}

func toRules(rs []FirewallRule) []hcloud.FirewallRule {
	out := []hcloud.FirewallRule{}
	for _, r := range rs {
		out = append(out, toRule(r))
	}
	return out
}

func (rc *resourceCall) firewall() apiCall {
	ctx, a, fw, api := rc.ctx, rc.a, &hcloud.Firewall{ID: rc.id}, rc.h.w.Firewall
	switch a.Op {
	case OpCreate:
		opts := hcloud.FirewallCreateOpts{Name: a.Name, Labels: rc.labels, ApplyTo: firewallTargets(a, rc.sid)}
		if len(a.Rules) > 0 {
			opts.Rules = toRules(a.Rules)
		}
		return func() (*hcloud.Response, error) {
			res, resp, err := api.Create(ctx, opts)
			rc.actions = append(rc.actions, res.Actions...)
			return resp, err
		}
	case OpSetRules:
		opts := hcloud.FirewallSetRulesOpts{Rules: toRules(a.Rules)}
		return rc.many(func() ([]*hcloud.Action, *hcloud.Response, error) { return api.SetRules(ctx, fw, opts) })
	case OpApplyTo, OpRemoveFrom:
		targets := firewallTargets(a, rc.sid)
		f := api.ApplyResources
		if a.Op == OpRemoveFrom {
			f = api.RemoveResources
		}
		return rc.many(func() ([]*hcloud.Action, *hcloud.Response, error) { return f(ctx, fw, targets) })
	case OpLabel, OpRename:
		opts := hcloud.FirewallUpdateOpts{Name: a.NewName, Labels: rc.updateLabels()}
		return none(func() (*hcloud.Firewall, *hcloud.Response, error) { return api.Update(ctx, fw, opts) })
	case OpDelete:
		return func() (*hcloud.Response, error) { return api.Delete(ctx, fw) }
	}
	return nil
}

func (rc *resourceCall) network() apiCall {
	ctx, a, nw, api := rc.ctx, rc.a, &hcloud.Network{ID: rc.id}, rc.h.w.Network
	switch a.Op {
	case OpCreate:
		_, rng, _ := net.ParseCIDR(a.IPRange)
		opts := hcloud.NetworkCreateOpts{Name: a.Name, IPRange: rng, Labels: rc.labels}
		for _, s := range a.Subnets {
			opts.Subnets = append(opts.Subnets, toSubnet(s))
		}
		for _, r := range a.Routes {
			opts.Routes = append(opts.Routes, toRoute(r))
		}
		return none(func() (*hcloud.Network, *hcloud.Response, error) { return api.Create(ctx, opts) })
	case OpAddSubnet:
		opts := hcloud.NetworkAddSubnetOpts{Subnet: toSubnet(*a.Subnet)}
		return rc.one(func() (*hcloud.Action, *hcloud.Response, error) { return api.AddSubnet(ctx, nw, opts) })
	case OpDeleteSubnet:
		_, rng, _ := net.ParseCIDR(a.IPRange)
		opts := hcloud.NetworkDeleteSubnetOpts{Subnet: hcloud.NetworkSubnet{IPRange: rng}}
		return rc.one(func() (*hcloud.Action, *hcloud.Response, error) { return api.DeleteSubnet(ctx, nw, opts) })
	case OpAddRoute:
		opts := hcloud.NetworkAddRouteOpts{Route: toRoute(*a.Route)}
		return rc.one(func() (*hcloud.Action, *hcloud.Response, error) { return api.AddRoute(ctx, nw, opts) })
	case OpDeleteRoute:
		opts := hcloud.NetworkDeleteRouteOpts{Route: toRoute(*a.Route)}
		return rc.one(func() (*hcloud.Action, *hcloud.Response, error) { return api.DeleteRoute(ctx, nw, opts) })
	case OpProtect:
		opts := hcloud.NetworkChangeProtectionOpts{Delete: a.Delete}
		return rc.one(func() (*hcloud.Action, *hcloud.Response, error) { return api.ChangeProtection(ctx, nw, opts) })
	case OpLabel, OpRename:
		opts := hcloud.NetworkUpdateOpts{Name: a.NewName, Labels: rc.updateLabels()}
		return none(func() (*hcloud.Network, *hcloud.Response, error) { return api.Update(ctx, nw, opts) })
	case OpDelete:
		return func() (*hcloud.Response, error) { return api.Delete(ctx, nw) }
	}
	return nil
}

func (rc *resourceCall) volume() apiCall {
	ctx, a, vol, api := rc.ctx, rc.a, &hcloud.Volume{ID: rc.id}, rc.h.w.Volume
	switch a.Op {
	case OpCreate:
		opts := hcloud.VolumeCreateOpts{Name: a.Name, Size: a.Size, Labels: rc.labels, Automount: a.Automount}
		if a.Server != "" {
			opts.Server = &hcloud.Server{ID: rc.sid(a.Server)}
		} else {
			opts.Location = &hcloud.Location{Name: a.Location}
		}
		if a.Format != "" {
			opts.Format = &a.Format
		}
		return func() (*hcloud.Response, error) {
			res, resp, err := api.Create(ctx, opts)
			if res.Action != nil {
				rc.actions = append(rc.actions, res.Action)
			}
			rc.actions = append(rc.actions, res.NextActions...)
			return resp, err
		}
	case OpAttach:
		opts := hcloud.VolumeAttachOpts{Server: &hcloud.Server{ID: rc.sid(a.Server)}, Automount: a.Automount}
		return rc.one(func() (*hcloud.Action, *hcloud.Response, error) { return api.AttachWithOpts(ctx, vol, opts) })
	case OpDetach:
		return rc.one(func() (*hcloud.Action, *hcloud.Response, error) { return api.Detach(ctx, vol) })
	case OpResize:
		return rc.one(func() (*hcloud.Action, *hcloud.Response, error) { return api.Resize(ctx, vol, a.Size) })
	case OpProtect:
		opts := hcloud.VolumeChangeProtectionOpts{Delete: a.Delete}
		return rc.one(func() (*hcloud.Action, *hcloud.Response, error) { return api.ChangeProtection(ctx, vol, opts) })
	case OpLabel, OpRename:
		opts := hcloud.VolumeUpdateOpts{Name: a.NewName, Labels: rc.updateLabels()}
		return none(func() (*hcloud.Volume, *hcloud.Response, error) { return api.Update(ctx, vol, opts) })
	case OpDelete:
		return func() (*hcloud.Response, error) { return api.Delete(ctx, vol) }
	}
	return nil
}

func (rc *resourceCall) sshKey() apiCall {
	ctx, a, key, api := rc.ctx, rc.a, &hcloud.SSHKey{ID: rc.id}, rc.h.w.SSHKey
	switch a.Op {
	case OpCreate:
		opts := hcloud.SSHKeyCreateOpts{Name: a.Name, PublicKey: a.PublicKey, Labels: rc.labels}
		return none(func() (*hcloud.SSHKey, *hcloud.Response, error) { return api.Create(ctx, opts) })
	case OpLabel, OpRename:
		opts := hcloud.SSHKeyUpdateOpts{Name: a.NewName, Labels: rc.updateLabels()}
		return none(func() (*hcloud.SSHKey, *hcloud.Response, error) { return api.Update(ctx, key, opts) })
	case OpDelete:
		return func() (*hcloud.Response, error) { return api.Delete(ctx, key) }
	}
	return nil
}

// rdnsTarget is the address set_rdns changes: the action's, else the
// resource's own.
func (rc *resourceCall) rdnsTarget() string {
	if rc.a.IP != "" {
		return rc.a.IP
	}
	return rdnsIP(rc.cur.IP)
}

func (rc *resourceCall) primaryIP() apiCall {
	ctx, a, id, api := rc.ctx, rc.a, rc.id, rc.h.w.PrimaryIP
	switch a.Op {
	case OpCreate:
		opts := hcloud.PrimaryIPCreateOpts{Name: a.Name, Type: hcloud.PrimaryIPType(a.Type), Labels: rc.labels,
			AutoDelete: a.AutoDelete, AssigneeType: "server"}
		if a.Server != "" {
			s := rc.sid(a.Server)
			opts.AssigneeID = &s
		} else {
			opts.Location = a.Location
		}
		return func() (*hcloud.Response, error) {
			res, resp, err := api.Create(ctx, opts)
			if res != nil && res.Action != nil {
				rc.actions = append(rc.actions, res.Action)
			}
			return resp, err
		}
	case OpAssign:
		opts := hcloud.PrimaryIPAssignOpts{ID: id, AssigneeID: rc.sid(a.Server), AssigneeType: "server"}
		return rc.one(func() (*hcloud.Action, *hcloud.Response, error) { return api.Assign(ctx, opts) })
	case OpUnassign:
		return rc.one(func() (*hcloud.Action, *hcloud.Response, error) { return api.Unassign(ctx, id) })
	case OpSetRDNS:
		opts := hcloud.PrimaryIPChangeDNSPtrOpts{ID: id, IP: rc.rdnsTarget(), DNSPtr: *a.DNSPtr}
		return rc.one(func() (*hcloud.Action, *hcloud.Response, error) { return api.ChangeDNSPtr(ctx, opts) })
	case OpProtect:
		opts := hcloud.PrimaryIPChangeProtectionOpts{ID: id, Delete: *a.Delete}
		return rc.one(func() (*hcloud.Action, *hcloud.Response, error) { return api.ChangeProtection(ctx, opts) })
	case OpLabel, OpRename:
		opts := hcloud.PrimaryIPUpdateOpts{Name: a.NewName}
		if a.Op == OpLabel {
			opts.Labels = &rc.labels
		}
		return none(func() (*hcloud.PrimaryIP, *hcloud.Response, error) {
			return api.Update(ctx, &hcloud.PrimaryIP{ID: id}, opts)
		})
	case OpDelete:
		return func() (*hcloud.Response, error) { return api.Delete(ctx, &hcloud.PrimaryIP{ID: id}) }
	}
	return nil
}

func (rc *resourceCall) floatingIP() apiCall {
	ctx, a, fip, api := rc.ctx, rc.a, &hcloud.FloatingIP{ID: rc.id}, rc.h.w.FloatingIP
	switch a.Op {
	case OpCreate:
		name := a.Name
		opts := hcloud.FloatingIPCreateOpts{Name: &name, Type: hcloud.FloatingIPType(a.Type), Labels: rc.labels}
		if a.Server != "" {
			opts.Server = &hcloud.Server{ID: rc.sid(a.Server)}
		} else {
			opts.HomeLocation = &hcloud.Location{Name: a.Location}
		}
		if a.Description != "" {
			opts.Description = &a.Description
		}
		return func() (*hcloud.Response, error) {
			res, resp, err := api.Create(ctx, opts)
			if res.Action != nil {
				rc.actions = append(rc.actions, res.Action)
			}
			return resp, err
		}
	case OpAssign:
		srv := &hcloud.Server{ID: rc.sid(a.Server)}
		return rc.one(func() (*hcloud.Action, *hcloud.Response, error) { return api.Assign(ctx, fip, srv) })
	case OpUnassign:
		return rc.one(func() (*hcloud.Action, *hcloud.Response, error) { return api.Unassign(ctx, fip) })
	case OpSetRDNS:
		ip := rc.rdnsTarget()
		var ptr *string
		if *a.DNSPtr != "" {
			ptr = a.DNSPtr
		}
		return rc.one(func() (*hcloud.Action, *hcloud.Response, error) { return api.ChangeDNSPtr(ctx, fip, ip, ptr) })
	case OpProtect:
		opts := hcloud.FloatingIPChangeProtectionOpts{Delete: a.Delete}
		return rc.one(func() (*hcloud.Action, *hcloud.Response, error) { return api.ChangeProtection(ctx, fip, opts) })
	case OpLabel, OpRename:
		opts := hcloud.FloatingIPUpdateOpts{Name: a.NewName, Labels: rc.updateLabels()}
		return none(func() (*hcloud.FloatingIP, *hcloud.Response, error) { return api.Update(ctx, fip, opts) })
	case OpDelete:
		return func() (*hcloud.Response, error) { return api.Delete(ctx, fip) }
	}
	return nil
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
