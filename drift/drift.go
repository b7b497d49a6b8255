// Package drift compares the state the ledger expects (package state: every
// resource replayed from the receipts) with what the provider shows, and
// plans the actions that bring the provider back to the ledger.
//
// # Kinds and fields
//
// Every kind the ledger manages is compared: servers, firewalls, networks,
// volumes, SSH keys, primary and floating IPs. [Compare] reports, per
// resource:
//
//	missing    expected, not shown by the provider (deleted behind vmc-git's back)
//	unmanaged  shown by the provider, not expected (created by hand)
//	changed    both, with a field that differs
//
// and the fields compared are
//
//	server       id (recreated), server_type, image, status, labels,
//	             protection.delete, protection.rebuild
//	firewall     id, rules, labels, label_selectors, servers
//	network      id, ip_range, subnets, routes, labels, protection.delete, servers
//	volume       id, size, location, labels, protection.delete, server
//	ssh_key      id, fingerprint, labels
//	primary_ip   id, type, ip, labels, protection.delete, auto_delete, dns_ptr, server
//	floating_ip  id, type, ip, labels, protection.delete, description, dns_ptr, server
//
// Values are rendered as strings: label sets as sorted k=v pairs joined by
// ",", lists sorted and joined by ",", firewall rules one per rule
// ("in tcp 22 from 0.0.0.0/0") joined by "; ", an absent value as "".
//
// # Membership
//
// Which servers a firewall or network applies to, which server a volume is
// attached to and an IP assigned to, is reported on that resource (fields
// servers and server), over the servers the ledger expects: an unmanaged
// server is reported as unmanaged, not again in every membership. Both
// sides of a membership are in the state, each as of its last observation
// (a server lists its firewalls, networks and volumes; a firewall or
// network its servers; a volume or IP its server), and the newer one, by
// receipt seq and action index, is what the ledger expects. Two
// exceptions: a server's own list cannot tell a firewall applied directly
// from one applied through a label selector, so when the firewall has label
// selectors its own list is used; and a server lists no IPs, so an IP's is.
//
// # Attribution
//
// A resource the provider shows that the ledger does not expect is
// unmanaged, except one labelled vmc.ledger with another ledger's id (it
// belongs to that ledger), and a primary IP without vmc.ledger, assigned to
// a server and deleted with it (auto_delete): the provider made it with the
// server as its address, so it goes with the server's own finding.
//
// # Renames and unknown outcomes
//
// A resource the ledger expects that the provider shows under another name
// (same kind and id) is changed, field name, not missing and unmanaged; its
// other fields and memberships are compared under the expected name. A
// resource whose last action's outcome the ledger does not know (an apply
// receipt recorded unknown, with no observation) and that the provider
// shows is changed, field outcome, not unmanaged: apply's recovery or an
// adoption settles it.
//
// Findings are sorted by resource ("kind/name", servers first), kind and
// field. The provider's state is read once; a resource being changed by a
// running apply shows as drift.
package drift

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/vmc-git/vmc-git/provider"
	"github.com/vmc-git/vmc-git/state"
)

// Finding kinds.
const (
	Missing   = "missing"
	Unmanaged = "unmanaged"
	Changed   = "changed"
)

// PredicateType is the predicateType of a drift report attestation. v2:
// findings over every kind, each naming its resource's kind and name.
const PredicateType = "https://vmc-git.dev/attestation/drift/v2"

// Fields compared (see the package doc).
const (
	FieldID             = "id"
	FieldServerType     = "server_type"
	FieldImage          = "image"
	FieldStatus         = "status"
	FieldLabels         = "labels"
	FieldProtectDelete  = "protection.delete"
	FieldProtectRebuild = "protection.rebuild"
	FieldRules          = "rules"
	FieldLabelSelectors = "label_selectors"
	FieldServers        = "servers"
	FieldServer         = "server"
	FieldIPRange        = "ip_range"
	FieldSubnets        = "subnets"
	FieldRoutes         = "routes"
	FieldSize           = "size"
	FieldLocation       = "location"
	FieldFingerprint    = "fingerprint"
	FieldType           = "type"
	FieldIP             = "ip"
	FieldAutoDelete     = "auto_delete"
	FieldDescription    = "description"
	FieldDNSPtr         = "dns_ptr"
	// FieldName: renamed behind vmc-git's back (same kind and id, another
	// name); FieldOutcome: the ledger does not know the outcome of the
	// last action on a resource the provider shows (see the package doc).
	FieldName    = "name"
	FieldOutcome = "outcome"
)

// Finding is one difference.
type Finding struct {
	Resource     string `json:"resource"`      // <kind>/<name>, e.g. server/web-1, firewall/fw-web
	ResourceKind string `json:"resource_kind"` // server, firewall, network, volume, ssh_key, primary_ip, floating_ip
	Name         string `json:"name"`
	Kind         string `json:"kind"` // missing, unmanaged, changed
	Field        string `json:"field,omitempty"`
	Expected     string `json:"expected,omitempty"`
	Actual       string `json:"actual,omitempty"`
}

// World is the provider's state: every server, and every resource of each
// other kind (provider.Kinds; a kind absent from the map is not compared).
type World struct {
	Servers   []provider.Server
	Resources map[provider.Kind][]provider.Resource
}

// Count is the number of resources of a kind on each side.
type Count struct {
	Expected int `json:"expected"`
	Actual   int `json:"actual"`
}

// index holds both sides by reference.
type index struct {
	ledger    string // the vmc.ledger label value of this ledger
	exp       map[provider.Ref]*state.Entry
	srv       map[string]*provider.Server
	res       map[provider.Ref]*provider.Resource
	compared  map[provider.Kind]bool
	expServer []string // expected server names, sorted
	// renamed maps an expected resource the provider shows under another
	// name (same kind and id) to that name; its actual is indexed under
	// the expected name too, and aka maps the actual name back.
	renamed map[provider.Ref]string
	aka     map[provider.Ref]string
	// unknown holds the entries whose last action's outcome is unknown
	// and that were never observed.
	unknown map[provider.Ref]*state.Entry
	// mentions lists, per firewall, network and volume, the expected
	// servers whose own observation names it (sorted); listed holds the
	// servers each expected firewall or network names.
	mentions map[provider.Ref][]string
	listed   map[provider.Ref]map[string]bool
}

func newIndex(st *state.State, w World) *index {
	ix := &index{ledger: provider.LabelValue(st.Ledger), exp: map[provider.Ref]*state.Entry{}, srv: map[string]*provider.Server{},
		res: map[provider.Ref]*provider.Resource{}, compared: map[provider.Kind]bool{provider.KindServer: true},
		renamed: map[provider.Ref]string{}, aka: map[provider.Ref]string{}, unknown: map[provider.Ref]*state.Entry{}}
	for k := range w.Resources {
		ix.compared[k] = true
	}
	for i := range st.Resources {
		e := &st.Resources[i]
		k, err := provider.ParseKind(e.Kind)
		if err != nil {
			continue
		}
		if e.Server == nil && e.Other == nil {
			ix.unknown[provider.Ref{Kind: k, Name: e.Name}] = e // never observed: nothing to compare
			continue
		}
		ix.exp[provider.Ref{Kind: k, Name: e.Name}] = e
		if k == provider.KindServer {
			ix.expServer = append(ix.expServer, e.Name)
		}
	}
	slices.Sort(ix.expServer)
	ix.mentions, ix.listed = map[provider.Ref][]string{}, map[provider.Ref]map[string]bool{}
	for _, name := range ix.expServer {
		s := ix.exp[provider.Ref{Name: name}].Server
		for _, f := range s.Firewalls {
			ref := provider.Ref{Kind: provider.KindFirewall, Name: f}
			ix.mentions[ref] = append(ix.mentions[ref], name)
		}
		for _, pn := range s.PrivateNet {
			ref := provider.Ref{Kind: provider.KindNetwork, Name: pn.Network}
			ix.mentions[ref] = append(ix.mentions[ref], name)
		}
		for _, v := range s.Volumes {
			ref := provider.Ref{Kind: provider.KindVolume, Name: v}
			ix.mentions[ref] = append(ix.mentions[ref], name)
		}
	}
	for ref, e := range ix.exp {
		if e.Other != nil && len(e.Other.Servers) > 0 {
			set := map[string]bool{}
			for _, n := range e.Other.Servers {
				set[n] = true
			}
			ix.listed[ref] = set
		}
	}
	for i := range w.Servers {
		ix.srv[w.Servers[i].Name] = &w.Servers[i]
	}
	for _, k := range provider.Kinds {
		for i := range w.Resources[k] {
			r := &w.Resources[k][i]
			ix.res[provider.Ref{Kind: k, Name: r.Name}] = r
		}
	}
	// Renamed behind vmc-git's back: an expected resource absent under its
	// name whose id the provider shows under a name the ledger does not
	// expect.
	for ref, e := range ix.exp {
		if ref.Kind == provider.KindServer {
			if ix.srv[ref.Name] != nil {
				continue
			}
			for i := range w.Servers {
				s := &w.Servers[i]
				if s.ID == e.Server.ID && ix.exp[provider.Ref{Name: s.Name}] == nil {
					ix.renamed[ref], ix.aka[provider.Ref{Name: s.Name}] = s.Name, ref.Name
					ix.srv[ref.Name] = s
				}
			}
			continue
		}
		if ix.res[ref] != nil || !ix.compared[ref.Kind] {
			continue
		}
		for i := range w.Resources[ref.Kind] {
			r := &w.Resources[ref.Kind][i]
			if r.ID == e.Other.ID && ix.exp[provider.Ref{Kind: ref.Kind, Name: r.Name}] == nil {
				ix.renamed[ref], ix.aka[provider.Ref{Kind: ref.Kind, Name: r.Name}] = r.Name, ref.Name
				ix.res[ref] = r
			}
		}
	}
	return ix
}

// expectedName returns the name the ledger expects for the server the
// provider calls name (its own, unless renamed behind vmc-git's back).
func (ix *index) expectedName(name string) string {
	if old, ok := ix.aka[provider.Ref{Name: name}]; ok {
		return old
	}
	return name
}

// Counts returns the number of resources of each kind compared, expected
// and at the provider, by kind name.
func Counts(st *state.State, w World) map[string]Count {
	ix := newIndex(st, w)
	out := map[string]Count{}
	for ref := range ix.exp {
		if ix.compared[ref.Kind] {
			c := out[ref.Kind.String()]
			c.Expected++
			out[ref.Kind.String()] = c
		}
	}
	for k, c := range map[provider.Kind]int{provider.KindServer: len(w.Servers)} {
		x := out[k.String()]
		x.Actual = c
		out[k.String()] = x
	}
	for k, rs := range w.Resources {
		x := out[k.String()]
		x.Actual = len(rs)
		out[k.String()] = x
	}
	return out
}

// Compare returns the differences between the state the ledger expects and
// the provider's (see the package doc).
func Compare(st *state.State, w World) []Finding {
	ix := newIndex(st, w)
	var out []Finding
	add := func(ref provider.Ref, kind, field, want, have string) {
		out = append(out, Finding{Resource: ref.Kind.String() + "/" + ref.Name, ResourceKind: ref.Kind.String(), Name: ref.Name,
			Kind: kind, Field: field, Expected: want, Actual: have})
	}
	for ref, e := range ix.exp {
		if !ix.compared[ref.Kind] {
			continue
		}
		diff := func(field, want, have string) {
			if want != have {
				add(ref, Changed, field, want, have)
			}
		}
		if ref.Kind == provider.KindServer {
			s := ix.srv[ref.Name]
			if s == nil {
				add(ref, Missing, "", fmt.Sprintf("id %d, %s", e.Server.ID, e.Server.ServerType), "")
				continue
			}
			x := e.Server
			diff(FieldName, ref.Name, s.Name)
			diff(FieldID, fmt.Sprint(x.ID), fmt.Sprint(s.ID))
			diff(FieldServerType, x.ServerType, s.ServerType)
			diff(FieldImage, x.Image, s.Image)
			diff(FieldStatus, x.Status, s.Status)
			diff(FieldLabels, Labels(x.Labels), Labels(s.Labels))
			diff(FieldProtectDelete, fmt.Sprint(x.Protection.Delete), fmt.Sprint(s.Protection.Delete))
			diff(FieldProtectRebuild, fmt.Sprint(x.Protection.Rebuild), fmt.Sprint(s.Protection.Rebuild))
			continue
		}
		r := ix.res[ref]
		if r == nil {
			add(ref, Missing, "", fmt.Sprintf("id %d", e.Other.ID), "")
			continue
		}
		diff(FieldName, ref.Name, r.Name)
		for _, f := range fields(e.Other) {
			diff(f.name, f.value, fieldValue(r, f.name))
		}
		if want, have, ok := ix.membership(ref); ok {
			field := FieldServer
			if ref.Kind == provider.KindFirewall || ref.Kind == provider.KindNetwork {
				field = FieldServers
			}
			diff(field, want, have)
		}
	}
	unmanaged := func(ref provider.Ref, id int64, what string) {
		if u := ix.unknown[ref]; u != nil {
			add(ref, Changed, FieldOutcome, fmt.Sprintf("unknown (receipt %d, plan %s, %s)", u.Seq, u.Plan, u.Op), fmt.Sprintf("id %d", id))
			return
		}
		add(ref, Unmanaged, "", "", what)
	}
	for _, s := range w.Servers {
		ref := provider.Ref{Name: s.Name}
		if ix.exp[ref] == nil && ix.aka[ref] == "" && !ix.foreign(s.Labels) {
			unmanaged(ref, s.ID, fmt.Sprintf("id %d, %s", s.ID, s.ServerType))
		}
	}
	for _, k := range provider.Kinds {
		for _, r := range w.Resources[k] {
			ref := provider.Ref{Kind: k, Name: r.Name}
			if ix.exp[ref] != nil || ix.aka[ref] != "" || ix.foreign(r.Labels) || ix.serversIP(&r) {
				continue
			}
			unmanaged(ref, r.ID, fmt.Sprintf("id %d", r.ID))
		}
	}
	Sort(out)
	if out == nil {
		out = []Finding{}
	}
	return out
}

// Sort orders findings by resource (servers first), kind and field.
func Sort(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		ka, kb := a.ResourceKind != "server", b.ResourceKind != "server"
		if ka != kb {
			if ka {
				return 1
			}
			return -1
		}
		return cmp.Or(strings.Compare(a.Resource, b.Resource), strings.Compare(a.Kind, b.Kind), strings.Compare(a.Field, b.Field))
	})
}

// foreign reports whether labels attribute a resource to another ledger.
func (ix *index) foreign(l map[string]string) bool {
	v, ok := l[provider.LabelLedger]
	return ok && v != ix.ledger
}

// serversIP reports whether r is a primary IP the provider made with a
// server as its address (see the package doc).
func (ix *index) serversIP(r *provider.Resource) bool {
	if r.Kind != provider.KindPrimaryIP || r.Server == "" || !r.AutoDelete {
		return false
	}
	_, labelled := r.Labels[provider.LabelLedger]
	return !labelled
}

type field struct{ name, value string }

// fields returns the compared fields of a resource other than a server,
// without its membership.
func fields(r *provider.Resource) []field {
	var names []string
	switch r.Kind {
	case provider.KindFirewall:
		names = []string{FieldID, FieldRules, FieldLabels, FieldLabelSelectors}
	case provider.KindNetwork:
		names = []string{FieldID, FieldIPRange, FieldSubnets, FieldRoutes, FieldLabels, FieldProtectDelete}
	case provider.KindVolume:
		names = []string{FieldID, FieldSize, FieldLocation, FieldLabels, FieldProtectDelete}
	case provider.KindSSHKey:
		names = []string{FieldID, FieldFingerprint, FieldLabels}
	case provider.KindPrimaryIP:
		names = []string{FieldID, FieldType, FieldIP, FieldLabels, FieldProtectDelete, FieldAutoDelete, FieldDNSPtr}
	case provider.KindFloatingIP:
		names = []string{FieldID, FieldType, FieldIP, FieldLabels, FieldProtectDelete, FieldDescription, FieldDNSPtr}
	}
	out := make([]field, len(names))
	for i, n := range names {
		out[i] = field{n, fieldValue(r, n)}
	}
	return out
}

// fieldValue renders one field of a resource other than a server.
func fieldValue(r *provider.Resource, name string) string {
	switch name {
	case FieldID:
		return fmt.Sprint(r.ID)
	case FieldRules:
		return Rules(r.Rules)
	case FieldLabels:
		return Labels(r.Labels)
	case FieldLabelSelectors:
		return list(r.LabelSelectors)
	case FieldIPRange:
		return r.IPRange
	case FieldSubnets:
		var s []string
		for _, n := range r.Subnets {
			s = append(s, fmt.Sprintf("%s %s %s", cmp.Or(n.Type, "cloud"), n.IPRange, n.NetworkZone))
		}
		return list(s)
	case FieldRoutes:
		var s []string
		for _, rt := range r.Routes {
			s = append(s, rt.Destination+" via "+rt.Gateway)
		}
		return list(s)
	case FieldProtectDelete:
		return fmt.Sprint(r.ProtectDelete)
	case FieldSize:
		return fmt.Sprint(r.Size)
	case FieldLocation:
		return r.Location
	case FieldFingerprint:
		return r.Fingerprint
	case FieldType:
		return r.Type
	case FieldIP:
		return r.IP
	case FieldAutoDelete:
		return fmt.Sprint(r.AutoDelete)
	case FieldDescription:
		return r.Description
	case FieldDNSPtr:
		return Labels(r.DNSPtr)
	}
	panic("drift: unknown field " + name)
}

// membership returns, for a firewall, network, volume or IP, the expected
// and actual membership (see the package doc) rendered as strings.
func (ix *index) membership(ref provider.Ref) (want, have string, ok bool) {
	r := ix.res[ref]
	switch ref.Kind {
	case provider.KindFirewall, provider.KindNetwork:
		return list(ix.expectedMembers(ref)), list(ix.actualMembers(r)), true
	case provider.KindVolume, provider.KindPrimaryIP, provider.KindFloatingIP:
		have = ix.expectedName(r.Server)
		if have != "" && ix.exp[provider.Ref{Name: have}] == nil {
			have = "" // an unmanaged server, reported as such
		}
		return ix.attachedTo(ref), have, true
	}
	return "", "", false
}

// actualMembers lists the servers the ledger expects among those a
// firewall or network applies to.
func (ix *index) actualMembers(r *provider.Resource) []string {
	var out []string
	for _, name := range r.Servers {
		if name = ix.expectedName(name); ix.exp[provider.Ref{Name: name}] != nil {
			out = append(out, name)
		}
	}
	return out
}

// expectedMembers lists the servers the ledger expects a firewall or
// network to apply to.
func (ix *index) expectedMembers(ref provider.Ref) []string {
	var out []string
	seen := map[string]bool{}
	try := func(name string) {
		if !seen[name] && ix.exp[provider.Ref{Name: name}] != nil && ix.member(name, ref) {
			out = append(out, name)
		}
		seen[name] = true
	}
	for name := range ix.listed[ref] {
		try(name)
	}
	for _, name := range ix.mentions[ref] {
		try(name)
	}
	slices.Sort(out)
	return out
}

// member reports whether the ledger expects server name in firewall or
// network ref.
func (ix *index) member(name string, ref provider.Ref) bool {
	s, x := ix.exp[provider.Ref{Name: name}], ix.exp[ref]
	if x == nil || s == nil {
		return false
	}
	onServer := func() bool {
		if ref.Kind == provider.KindFirewall {
			return slices.Contains(s.Server.Firewalls, ref.Name)
		}
		return slices.ContainsFunc(s.Server.PrivateNet, func(p provider.PrivateNet) bool { return p.Network == ref.Name })
	}
	onResource := ix.listed[ref][name]
	if ref.Kind == provider.KindFirewall && len(x.Other.LabelSelectors) > 0 {
		return onResource
	}
	if newer(s, x) {
		return onServer()
	}
	return onResource
}

// attachedTo returns the server the ledger expects a volume or IP on ("":
// none).
func (ix *index) attachedTo(ref provider.Ref) string {
	x := ix.exp[ref]
	on := x.Other.Server
	if on != "" && ix.exp[provider.Ref{Name: on}] == nil {
		on = "" // the server was deleted through the ledger: detached with it
	}
	if ref.Kind != provider.KindVolume {
		return on
	}
	// The servers that may say otherwise: those listing the volume, and
	// the one the volume names, if it was observed later.
	if s := ix.exp[provider.Ref{Name: on}]; on != "" && newer(s, x) && !slices.Contains(s.Server.Volumes, ref.Name) {
		on = ""
	}
	for _, name := range ix.mentions[ref] {
		if newer(ix.exp[provider.Ref{Name: name}], x) {
			on = name
		}
	}
	return on
}

// newer reports whether a's observation is later than b's.
func newer(a, b *state.Entry) bool {
	return a.Seq > b.Seq || a.Seq == b.Seq && a.Step > b.Step
}

// Labels formats a label set as sorted k=v pairs.
func Labels(l map[string]string) string {
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(l)) {
		kv = append(kv, k+"="+l[k])
	}
	return strings.Join(kv, ",")
}

// Rules formats firewall rules, one per rule, in the provider's order.
func Rules(rules []provider.FirewallRule) string {
	var s []string
	for _, r := range rules {
		line := r.Direction + " " + r.Protocol
		if r.Port != "" {
			line += " " + r.Port
		}
		if len(r.SourceIPs) > 0 {
			line += " from " + strings.Join(r.SourceIPs, ",")
		}
		if len(r.DestinationIPs) > 0 {
			line += " to " + strings.Join(r.DestinationIPs, ",")
		}
		if r.Description != "" {
			line += fmt.Sprintf(" (%s)", r.Description)
		}
		s = append(s, line)
	}
	return strings.Join(s, "; ")
}

func list(s []string) string {
	s = slices.Clone(s)
	slices.Sort(s)
	return strings.Join(s, ",")
}
