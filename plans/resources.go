package plans

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/vmc-git/vmc-git/provider"
)

// Plans for resources other than servers.
//
// An action with a kind (firewall, network, volume, ssh_key, primary_ip,
// floating_ip) targets the resource named by its "name"; its expectation is
// {exists:false} for create, otherwise the resource's id, labels, the server
// it is attached or assigned to, and "config": the first 16 hex digits of
// the SHA-256 of the canonical JSON of its configuration (ConfigOf: rules,
// ranges, subnets, routes, size, location, format, fingerprint, type,
// address, reverse DNS, protection), so that any change made since the dry
// run makes the plan stale:
//
//	{"action":{"kind":"firewall","name":"fw-web","op":"set_rules","rules":[…]},
//	 "expect":{"config":"5c1e…","exists":true,"id":2001,"labels":{…}}}
//
// A plan names each resource at most once as a target. An action may refer
// to resources that an earlier action of the same plan creates (a server in
// a network the plan creates); the dry run checks every reference exists now
// or is created earlier in the plan, and is not deleted earlier.

// ConfigOf returns the configuration digest of an observed resource (see
// above).
func ConfigOf(r *provider.Resource) string {
	c := struct {
		Rules          []provider.FirewallRule `json:"rules,omitempty"`
		LabelSelectors []string                `json:"label_selectors,omitempty"`
		IPRange        string                  `json:"ip_range,omitempty"`
		Subnets        []provider.Subnet       `json:"subnets,omitempty"`
		Routes         []provider.Route        `json:"routes,omitempty"`
		Size           int                     `json:"size,omitempty"`
		Location       string                  `json:"location,omitempty"`
		Format         string                  `json:"format,omitempty"`
		Fingerprint    string                  `json:"fingerprint,omitempty"`
		Type           string                  `json:"type,omitempty"`
		IP             string                  `json:"ip,omitempty"`
		DNSPtr         map[string]string       `json:"dns_ptr,omitempty"`
		Protect        bool                    `json:"protect_delete,omitempty"`
		AutoDelete     bool                    `json:"auto_delete,omitempty"`
	}{r.Rules, r.LabelSelectors, r.IPRange, r.Subnets, r.Routes, r.Size, r.Location, r.Format, r.Fingerprint,
		r.Type, r.IP, r.DNSPtr, r.ProtectDelete, r.AutoDelete}
	b, _ := json.Marshal(c) // struct fields in order, maps sorted: canonical enough for a digest
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// ExpectOfResource returns the expectation for an observed resource (nil:
// absent).
func ExpectOfResource(r *provider.Resource) Expect {
	if r == nil {
		return Expect{}
	}
	e := Expect{Exists: true, ID: r.ID, Attached: r.Server, Config: ConfigOf(r)}
	if len(r.Labels) > 0 {
		e.Labels = maps.Clone(r.Labels)
	}
	return e
}

// CompareExpectResource lists how resource r (nil: absent) differs from e.
func CompareExpectResource(ref provider.Ref, e Expect, r *provider.Resource) []string {
	switch {
	case e.Exists && r == nil:
		return []string{fmt.Sprintf("%s (id %d) no longer exists", ref, e.ID)}
	case !e.Exists && r != nil:
		return []string{fmt.Sprintf("%s now exists (id %d)", ref, r.ID)}
	case !e.Exists:
		return nil
	}
	now := ExpectOfResource(r)
	var d []string
	if now.ID != e.ID {
		d = append(d, fmt.Sprintf("%s: id planned %d, now %d (replaced)", ref, e.ID, now.ID))
	}
	if now.Attached != e.Attached {
		d = append(d, fmt.Sprintf("%s: attached to %s planned, now %s", ref, orDash(e.Attached), orDash(now.Attached)))
	}
	if now.Config != e.Config {
		d = append(d, fmt.Sprintf("%s: configuration changed since the plan was made (config %s, now %s)", ref, e.Config, now.Config))
	}
	if !maps.Equal(now.Labels, e.Labels) {
		d = append(d, fmt.Sprintf("%s: labels planned %s, now %s", ref, formatLabels(e.Labels), formatLabels(now.Labels)))
	}
	return d
}

// observe reads the target of an action: a server or another resource.
func observe(ctx context.Context, prov provider.Provider, ref provider.Ref) (Expect, bool, error) {
	if ref.Kind == provider.KindServer {
		s, err := prov.Server(ctx, ref.Name)
		if errors.Is(err, provider.ErrNotFound) {
			return Expect{}, false, nil
		}
		if err != nil {
			return Expect{}, false, err
		}
		return ExpectOf(s), true, nil
	}
	r, err := prov.Resource(ctx, ref.Kind, ref.Name)
	if errors.Is(err, provider.ErrNotFound) {
		return Expect{}, false, nil
	}
	if err != nil {
		return Expect{}, false, err
	}
	return ExpectOfResource(r), true, nil
}

// references lists the resources an action needs to exist (other than its
// target).
func references(a provider.Action) []provider.Ref {
	var out []provider.Ref
	add := func(k provider.Kind, names ...string) {
		for _, n := range names {
			if n != "" {
				out = append(out, provider.Ref{Kind: k, Name: n})
			}
		}
	}
	if a.Kind != provider.KindServer {
		add(provider.KindServer, a.Server)
	}
	add(provider.KindServer, a.Servers...)
	add(provider.KindNetwork, a.Network)
	add(provider.KindFirewall, a.Firewall)
	if a.Kind == provider.KindServer && a.Op == provider.OpCreate {
		add(provider.KindFirewall, a.Firewalls...)
		add(provider.KindNetwork, a.Networks...)
		add(provider.KindSSHKey, a.SSHKeys...)
	}
	return out
}

// dryRun tracks what earlier actions of a plan create, delete and target.
type dryRun struct {
	created, deleted, targets map[provider.Ref]bool
}

func newDryRun() *dryRun {
	return &dryRun{created: map[provider.Ref]bool{}, deleted: map[provider.Ref]bool{}, targets: map[provider.Ref]bool{}}
}

// note records what a creates, deletes and renames.
func (d *dryRun) note(a provider.Action) {
	t := a.Target()
	d.targets[t] = true
	if a.NewName != "" {
		to := provider.Ref{Kind: t.Kind, Name: a.NewName}
		d.created[to], d.deleted[to] = true, false
		d.deleted[t] = true
	}
	switch a.Op {
	case provider.OpCreate:
		d.created[t], d.deleted[t] = true, false
	case provider.OpDelete:
		d.deleted[t] = true
	}
}

// plannedCatalog answers Catalog.Exists for the resources earlier steps of
// the plan create or delete.
type plannedCatalog struct {
	provider.Catalog
	d *dryRun
}

var refKinds = map[string]provider.Kind{provider.RefSSHKey: provider.KindSSHKey, provider.RefFirewall: provider.KindFirewall, provider.RefNetwork: provider.KindNetwork}

// Exists implements provider.Catalog.
func (c plannedCatalog) Exists(ctx context.Context, kind, name string) (bool, error) {
	if k, ok := refKinds[kind]; ok {
		r := provider.Ref{Kind: k, Name: name}
		switch {
		case c.d.deleted[r]:
			return false, nil
		case c.d.created[r]:
			return true, nil
		}
	}
	return c.Catalog.Exists(ctx, kind, name)
}

// check applies the plan-order rules to one action, after its target was
// observed (exists), and notes it.
func (d *dryRun) check(ctx context.Context, prov provider.Provider, a provider.Action, exists bool) error {
	t := a.Target()
	if a.Op == provider.OpCreate && exists {
		return fmt.Errorf("%w: %s already exists", ErrDryRun, t)
	}
	if a.Op != provider.OpCreate && !exists {
		return fmt.Errorf("%w: %s does not exist", ErrDryRun, t)
	}
	for _, r := range references(a) {
		if d.deleted[r] {
			return fmt.Errorf("%w: %s refers to %s, which an earlier action of the plan deletes", ErrDryRun, OpLabel(a), r)
		}
		if d.created[r] {
			continue
		}
		_, ok, err := observe(ctx, prov, r)
		if err != nil {
			return fmt.Errorf("dry run: read %s: %w", r, err)
		}
		if !ok {
			return fmt.Errorf("%w: %s refers to %s, which does not exist", ErrDryRun, OpLabel(a), r)
		}
	}
	if a.NewName != "" {
		to := provider.Ref{Kind: t.Kind, Name: a.NewName}
		_, taken, err := observe(ctx, prov, to)
		if err != nil {
			return fmt.Errorf("dry run: read %s: %w", to, err)
		}
		if taken && !d.deleted[to] || d.created[to] && !d.deleted[to] {
			return fmt.Errorf("%w: %s is taken", ErrDryRun, to)
		}
	}
	d.note(a)
	return nil
}

// OpLabel names an action's op and target for messages: "firewall create fw".
func OpLabel(a provider.Action) string {
	return provider.OpName(a.Kind, a.Op) + " " + a.Target().Name
}

// describeExt renders the actions added with the other kinds.
func describeExt(a provider.Action) string {
	t := a.Target().Name
	kind := a.Kind.String()
	switch {
	case a.Kind == provider.KindServer:
		switch a.Op {
		case provider.OpAttachNetwork:
			s := fmt.Sprintf("attach server %s to network %s", t, a.Network)
			if a.IP != "" {
				s += " at " + a.IP
			}
			if len(a.AliasIPs) > 0 {
				s += " (alias IPs " + strings.Join(a.AliasIPs, ", ") + ")"
			}
			return s
		case provider.OpDetachNetwork:
			return fmt.Sprintf("detach server %s from network %s", t, a.Network)
		case provider.OpAttachFirewall:
			return fmt.Sprintf("apply firewall %s to server %s", a.Firewall, t)
		case provider.OpDetachFirewall:
			return fmt.Sprintf("remove firewall %s from server %s", a.Firewall, t)
		case provider.OpEnableBackup, provider.OpDisableBackup:
			return fmt.Sprintf("%s backups of server %s", strings.TrimSuffix(string(a.Op), "_backup"), t)
		case provider.OpCreateImage:
			return fmt.Sprintf("snapshot server %s (%q, labels %s)", t, a.Description, formatLabels(a.Labels))
		case provider.OpSetRDNS:
			return fmt.Sprintf("set reverse DNS of server %s %s to %s", t, orDefault(a.IP, "public IPv4"), rdns(a.DNSPtr))
		case provider.OpAddLabels:
			return fmt.Sprintf("add labels %s to server %s", formatLabels(a.Labels), t)
		case provider.OpRemoveLabels:
			return fmt.Sprintf("remove labels %s from server %s", strings.Join(a.LabelKeys, ","), t)
		}
	case a.Op == provider.OpCreate:
		var parts []string
		switch a.Kind {
		case provider.KindFirewall:
			parts = append(parts, fmt.Sprintf("%d rules: %s", len(a.Rules), formatRules(a.Rules)))
		case provider.KindNetwork:
			parts = append(parts, "ip range "+a.IPRange)
			for _, s := range a.Subnets {
				parts = append(parts, "subnet "+formatSubnet(s))
			}
			for _, r := range a.Routes {
				parts = append(parts, "route "+r.Destination+" via "+r.Gateway)
			}
		case provider.KindVolume:
			parts = append(parts, fmt.Sprintf("%d GB", a.Size))
			if a.Format != "" {
				parts = append(parts, a.Format)
			}
			if a.Automount != nil && *a.Automount {
				parts = append(parts, "automount")
			}
		case provider.KindSSHKey:
			parts = append(parts, keyComment(a.PublicKey))
		case provider.KindPrimaryIP, provider.KindFloatingIP:
			parts = append(parts, a.Type)
			if a.AutoDelete != nil {
				parts = append(parts, fmt.Sprintf("auto_delete=%t", *a.AutoDelete))
			}
			if a.Description != "" {
				parts = append(parts, fmt.Sprintf("%q", a.Description))
			}
		}
		if a.Server != "" {
			parts = append(parts, "on server "+a.Server)
		}
		if a.Location != "" {
			parts = append(parts, "in "+a.Location)
		}
		for _, s := range a.Servers {
			parts = append(parts, "applied to server "+s)
		}
		for _, s := range a.LabelSelectors {
			parts = append(parts, "applied to label selector "+s)
		}
		if len(a.Labels) > 0 {
			parts = append(parts, "labels "+formatLabels(a.Labels))
		}
		return fmt.Sprintf("create %s %s (%s)", kind, t, strings.Join(parts, "; "))
	}
	switch a.Op {
	case provider.OpDelete:
		return fmt.Sprintf("delete %s %s", kind, t)
	case provider.OpLabel:
		return fmt.Sprintf("set labels of %s %s to %s", kind, t, formatLabels(a.Labels))
	case provider.OpRename:
		return fmt.Sprintf("rename %s %s to %s", kind, t, a.NewName)
	case provider.OpProtect:
		return fmt.Sprintf("protect %s %s (delete=%t)", kind, t, *a.Delete)
	case provider.OpSetRules:
		return fmt.Sprintf("set the rules of firewall %s to %d rules: %s", t, len(a.Rules), formatRules(a.Rules))
	case provider.OpApplyTo, provider.OpRemoveFrom:
		var to []string
		for _, s := range a.Servers {
			to = append(to, "server "+s)
		}
		for _, s := range a.LabelSelectors {
			to = append(to, "label selector "+s)
		}
		verb, prep := "apply", "to"
		if a.Op == provider.OpRemoveFrom {
			verb, prep = "remove", "from"
		}
		return fmt.Sprintf("%s firewall %s %s %s", verb, t, prep, strings.Join(to, ", "))
	case provider.OpAddSubnet:
		return fmt.Sprintf("add subnet %s to network %s", formatSubnet(*a.Subnet), t)
	case provider.OpDeleteSubnet:
		return fmt.Sprintf("delete subnet %s of network %s", a.IPRange, t)
	case provider.OpAddRoute:
		return fmt.Sprintf("add route %s via %s to network %s", a.Route.Destination, a.Route.Gateway, t)
	case provider.OpDeleteRoute:
		return fmt.Sprintf("delete route %s via %s of network %s", a.Route.Destination, a.Route.Gateway, t)
	case provider.OpAttach:
		s := fmt.Sprintf("attach volume %s to server %s", t, a.Server)
		if a.Automount != nil && *a.Automount {
			s += " (automount)"
		}
		return s
	case provider.OpDetach:
		return fmt.Sprintf("detach volume %s", t)
	case provider.OpResize:
		return fmt.Sprintf("resize volume %s to %d GB", t, a.Size)
	case provider.OpAssign:
		return fmt.Sprintf("assign %s %s to server %s", kind, t, a.Server)
	case provider.OpUnassign:
		return fmt.Sprintf("unassign %s %s", kind, t)
	case provider.OpSetRDNS:
		return fmt.Sprintf("set reverse DNS of %s %s %s to %s", kind, t, orDefault(a.IP, "address"), rdns(a.DNSPtr))
	}
	return provider.OpName(a.Kind, a.Op) + " " + t
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func rdns(p *string) string {
	if p == nil || *p == "" {
		return "the default"
	}
	return *p
}

func formatRules(rules []provider.FirewallRule) string {
	if len(rules) == 0 {
		return "none"
	}
	var out []string
	for _, r := range rules {
		ips := r.SourceIPs
		dir := "from"
		if r.Direction == provider.DirectionOut {
			ips, dir = r.DestinationIPs, "to"
		}
		s := r.Direction + " " + r.Protocol
		if r.Port != "" {
			s += "/" + r.Port
		}
		s += " " + dir + " " + strings.Join(ips, ",")
		if r.Description != "" {
			s += fmt.Sprintf(" (%q)", r.Description)
		}
		out = append(out, s)
	}
	return strings.Join(out, "; ")
}

func formatSubnet(s provider.Subnet) string {
	t := orDefault(s.Type, "cloud")
	out := fmt.Sprintf("%s %s in %s", t, s.IPRange, s.NetworkZone)
	if s.VSwitchID != 0 {
		out += fmt.Sprintf(" (vswitch %d)", s.VSwitchID)
	}
	return out
}

func keyComment(k string) string {
	f := strings.Fields(k)
	if len(f) >= 3 {
		return f[0] + " " + strings.Join(f[2:], " ")
	}
	if len(f) > 0 {
		return f[0]
	}
	return ""
}

// Locks returns the lock names (provider.Ref.Lock) of every resource the
// plan changes, sorted: for a plan of server actions, the server names.
func (p *Plan) Locks() []string {
	var s []string
	for _, st := range p.Actions {
		for _, r := range st.Action.Refs() {
			s = append(s, r.Lock())
		}
	}
	slices.Sort(s)
	return slices.Compact(s)
}

// extServerOps are the server ops Describe renders with describeExt.
var extServerOps = []provider.Op{provider.OpAttachNetwork, provider.OpDetachNetwork, provider.OpAttachFirewall,
	provider.OpDetachFirewall, provider.OpEnableBackup, provider.OpDisableBackup, provider.OpCreateImage,
	provider.OpSetRDNS, provider.OpAddLabels, provider.OpRemoveLabels}
