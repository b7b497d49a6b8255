package drift

import (
	"fmt"
	"maps"
	"slices"

	"github.com/vmc-git/vmc-git/provider"
	"github.com/vmc-git/vmc-git/state"
)

// Planning the way back.
//
// [PlanFix] turns findings into the actions of one plan that bring the
// provider back to the ledger, in this order:
//
//  0. nothing for a resource whose last action's outcome is unknown; a
//     resource renamed behind vmc-git's back is renamed back (and nothing
//     else is planned for it);
//  1. unmanaged servers: protect (delete: false) if protected, then delete;
//     unmanaged other resources not in use: delete (a firewall or network
//     applied to the ledger's servers is detached from them first);
//  2. missing firewalls, networks, SSH keys: create as last observed (a
//     firewall with the servers it applied to that still exist);
//  3. missing servers: create with their type, image, location, labels, and
//     the firewalls and networks the ledger expects them in;
//  4. missing volumes and IPs: create (on their server, if any);
//  5. changed servers, per server: poweroff if a resize needs it, resize,
//     rebuild (image), label (or remove_labels when no label of the
//     operator's is expected), protect, then poweron/poweroff to the
//     expected status;
//  6. changed other resources: set_rules, label, protect, resize (volume,
//     only growing), attach/detach (volume), assign/unassign (IP),
//     add_subnet/delete_subnet and add_route/delete_route (network);
//  7. membership: attach_firewall/detach_firewall and
//     attach_network/detach_network on the servers (not the ones created
//     in step 3).
//
// A plan holds at most one action per resource other than a server
// (package plans): a second fix for the same resource, and every finding no
// action can fix (a server recreated by hand under the same name, a
// transient status, an unmanaged resource still in use, a volume to
// shrink, a resource whose last action's outcome is unknown), is returned
// as Deferred with the reason (a network with several subnet or route
// changes gets one of them, the rest deferred);
// after the plan is applied, the next drift check shows what is left.

// Deferred is a finding the plan does not fix, and why.
type Deferred struct {
	Finding
	Reason string `json:"reason"`
}

// Fix is what PlanFix proposes.
type Fix struct {
	Actions  []provider.Action `json:"actions"`
	Deferred []Deferred        `json:"deferred"`
}

// Reasons of deferred findings.
const (
	reasonOnePerPlan = "one action per resource per plan: run drift --plan-fix again once this plan is applied"
	reasonRecreated  = "another server carries the name (recreated by hand): delete it and plan a create, or adopt it"
	reasonInUse      = "still in use (attached or applied): detach it first, or adopt it"
	reasonStatus     = "status %s is not one a plan can set (want running or off)"
	reasonNoLabels   = "no label of the operator's to set: plan the label change by hand, or adopt it"
	reasonNotPlanned = "drift does not plan this change: plan it by hand, or adopt it"
	reasonShrink     = "a volume cannot shrink: adopt the new size"
	reasonProtected  = "delete protection is on: plan protect and delete by hand, or adopt it"
	reasonUnknown    = "the outcome of the last action on it is unknown: let apply --pending reconcile it, or adopt it"
	reasonRenamed    = "renamed behind vmc-git's back: this plan renames it back; run drift --plan-fix again once it is applied"
)

// PlanFix returns the actions that bring the provider back to the state st
// expects, given the findings Compare returned for st and w (see above).
func PlanFix(st *state.State, w World, fs []Finding) *Fix {
	ix := newIndex(st, w)
	fx := &Fix{Actions: []provider.Action{}, Deferred: []Deferred{}}
	by := map[provider.Ref][]Finding{}
	var order []provider.Ref
	for _, f := range fs {
		k, err := provider.ParseKind(f.ResourceKind)
		if err != nil {
			continue
		}
		ref := provider.Ref{Kind: k, Name: f.Name}
		if by[ref] == nil {
			order = append(order, ref)
		}
		by[ref] = append(by[ref], f)
	}
	deferAll := func(ref provider.Ref, reason string) {
		for _, f := range by[ref] {
			fx.Deferred = append(fx.Deferred, Deferred{f, reason})
		}
	}
	kindIs := func(ks ...provider.Kind) func(provider.Ref) bool {
		return func(r provider.Ref) bool { return slices.Contains(ks, r.Kind) }
	}
	first := func(ref provider.Ref) Finding { return by[ref][0] }
	add := func(a provider.Action) { fx.Actions = append(fx.Actions, a) }
	recreated := map[string]bool{} // servers created in step 3
	deleted := map[string]bool{}   // unmanaged servers deleted in step 1

	// 0. Not planned: unknown outcomes; renames back (and nothing else on
	// the renamed resource: a rename ends its steps in a plan).
	var rest []provider.Ref
	for _, ref := range order {
		f := first(ref)
		e := ix.exp[ref]
		switch to, renamed := ix.renamed[ref]; {
		case f.Field == FieldOutcome || e != nil && e.Unknown:
			deferAll(ref, reasonUnknown)
		case renamed:
			if ref.Kind == provider.KindServer {
				add(provider.Action{Op: provider.OpRename, Server: to, NewName: ref.Name})
			} else {
				add(provider.Action{Kind: ref.Kind, Op: provider.OpRename, Name: to, NewName: ref.Name})
			}
			for _, f := range by[ref] {
				if f.Field != FieldName {
					fx.Deferred = append(fx.Deferred, Deferred{f, reasonRenamed})
				}
			}
		default:
			rest = append(rest, ref)
		}
	}
	order = rest

	// 1. Unmanaged.
	for _, ref := range order {
		if first(ref).Kind != Unmanaged {
			continue
		}
		if ref.Kind == provider.KindServer {
			if s := ix.srv[ref.Name]; s.Protection.Delete || s.Protection.Rebuild {
				add(provider.Action{Op: provider.OpProtect, Server: ref.Name, Delete: ptr(false), Rebuild: ptr(false)})
			}
			add(provider.Action{Op: provider.OpDelete, Server: ref.Name})
			deleted[ref.Name] = true
			continue
		}
		r := ix.res[ref]
		// A firewall or network made by hand on the ledger's servers is
		// detached from them first (server ops), from the ones deleted
		// above by their deletion.
		var detach []provider.Action
		inUse := len(r.LabelSelectors) > 0 || r.Server != ""
		for _, name := range r.Servers {
			_, renamed := ix.renamed[provider.Ref{Name: ix.expectedName(name)}]
			switch {
			case deleted[name]:
			case ix.exp[provider.Ref{Name: name}] == nil || renamed:
				inUse = true // another ledger's server, or one renamed back in this plan
			case ref.Kind == provider.KindFirewall:
				detach = append(detach, provider.Action{Op: provider.OpDetachFirewall, Server: name, Firewall: ref.Name})
			case ref.Kind == provider.KindNetwork:
				detach = append(detach, provider.Action{Op: provider.OpDetachNetwork, Server: name, Network: ref.Name})
			default:
				inUse = true
			}
		}
		switch {
		case inUse:
			deferAll(ref, reasonInUse)
			continue
		case r.ProtectDelete:
			deferAll(ref, reasonProtected)
			continue
		}
		fx.Actions = append(fx.Actions, detach...)
		add(provider.Action{Kind: ref.Kind, Op: provider.OpDelete, Name: ref.Name})
	}
	// 2-4. Missing.
	missing := func(pick func(provider.Ref) bool, make func(provider.Ref, *state.Entry)) {
		for _, ref := range order {
			if first(ref).Kind == Missing && pick(ref) {
				make(ref, ix.exp[ref])
			}
		}
	}
	missing(kindIs(provider.KindFirewall, provider.KindNetwork, provider.KindSSHKey), func(ref provider.Ref, e *state.Entry) {
		r := e.Other
		a := provider.Action{Kind: ref.Kind, Op: provider.OpCreate, Name: ref.Name, Labels: userLabels(r.Labels)}
		switch ref.Kind {
		case provider.KindFirewall:
			a.Rules, a.LabelSelectors = r.Rules, r.LabelSelectors
			for _, s := range ix.expectedMembers(ref) {
				if ix.srv[s] != nil {
					a.Servers = append(a.Servers, s)
				}
			}
		case provider.KindNetwork:
			a.IPRange, a.Subnets, a.Routes = r.IPRange, r.Subnets, r.Routes
		case provider.KindSSHKey:
			a.PublicKey = r.PublicKey
		}
		add(a)
	})
	missing(kindIs(provider.KindServer), func(ref provider.Ref, e *state.Entry) {
		s := e.Server
		a := provider.Action{Op: provider.OpCreate, Server: ref.Name, ServerType: s.ServerType, Image: s.Image, Location: s.Location,
			Labels: userLabels(s.Labels)}
		for _, k := range []provider.Kind{provider.KindFirewall, provider.KindNetwork} {
			for fref, x := range ix.exp {
				if fref.Kind != k || x.Other == nil || !ix.member(ref.Name, fref) {
					continue
				}
				if ix.res[fref] == nil && (by[fref] == nil || first(fref).Kind != Missing) {
					continue // gone and not recreated by this plan
				}
				if k == provider.KindFirewall {
					if len(x.Other.LabelSelectors) == 0 {
						a.Firewalls = append(a.Firewalls, fref.Name)
					}
				} else {
					a.Networks = append(a.Networks, fref.Name)
				}
			}
		}
		slices.Sort(a.Firewalls)
		slices.Sort(a.Networks)
		recreated[ref.Name] = true
		add(a)
	})
	missing(kindIs(provider.KindVolume, provider.KindPrimaryIP, provider.KindFloatingIP), func(ref provider.Ref, e *state.Entry) {
		r := e.Other
		a := provider.Action{Kind: ref.Kind, Op: provider.OpCreate, Name: ref.Name, Labels: userLabels(r.Labels)}
		if on := ix.attachedTo(ref); on != "" && (ix.srv[on] != nil || recreated[on]) {
			a.Server = on
		} else {
			a.Location = r.Location
		}
		switch ref.Kind {
		case provider.KindVolume:
			a.Size, a.Format = r.Size, r.Format
		case provider.KindPrimaryIP:
			a.Type = r.Type
			if r.AutoDelete {
				a.AutoDelete = ptr(true)
			}
		case provider.KindFloatingIP:
			a.Type, a.Description = r.Type, r.Description
		}
		add(a)
	})
	// 5. Changed servers.
	for _, ref := range order {
		if ref.Kind != provider.KindServer || first(ref).Kind != Changed {
			continue
		}
		fx.server(ix, ref, by[ref])
	}
	// 6. Changed other resources: one action each.
	var membership []Finding
	for _, ref := range order {
		if ref.Kind == provider.KindServer || first(ref).Kind != Changed {
			continue
		}
		planned := false
		for _, f := range by[ref] {
			if f.Field == FieldServers {
				membership = append(membership, f) // server ops, step 7
				continue
			}
			a, reason, more := resourceFix(ix, ref, f)
			switch {
			case reason != "":
				fx.Deferred = append(fx.Deferred, Deferred{f, reason})
			case planned:
				fx.Deferred = append(fx.Deferred, Deferred{f, reasonOnePerPlan})
			default:
				add(a)
				planned = true
				if more { // a subnet or route of several: the rest next time
					fx.Deferred = append(fx.Deferred, Deferred{f, reasonOnePerPlan})
				}
			}
		}
	}
	// 7. Membership through server ops.
	for _, f := range membership {
		ref := provider.Ref{Kind: provider.Kind(f.ResourceKind), Name: f.Name}
		want := ix.expectedMembers(ref)
		have := ix.actualMembers(ix.res[ref])
		wantSet, haveSet := map[string]bool{}, map[string]bool{}
		for _, s := range want {
			wantSet[s] = true
		}
		for _, s := range have {
			haveSet[s] = true
		}
		for _, s := range want {
			if haveSet[s] || recreated[s] || ix.srv[s] == nil {
				continue
			}
			if _, renamed := ix.renamed[provider.Ref{Name: s}]; renamed {
				fx.Deferred = append(fx.Deferred, Deferred{f, reasonRenamed})
				continue
			}
			if ref.Kind == provider.KindFirewall {
				add(provider.Action{Op: provider.OpAttachFirewall, Server: s, Firewall: ref.Name})
				continue
			}
			a := provider.Action{Op: provider.OpAttachNetwork, Server: s, Network: ref.Name}
			for _, pn := range ix.exp[provider.Ref{Name: s}].Server.PrivateNet {
				if pn.Network == ref.Name {
					a.IP, a.AliasIPs = pn.IP, pn.AliasIPs
				}
			}
			add(a)
		}
		for _, s := range have {
			if wantSet[s] {
				continue
			}
			if _, renamed := ix.renamed[provider.Ref{Name: s}]; renamed {
				fx.Deferred = append(fx.Deferred, Deferred{f, reasonRenamed})
				continue
			}
			if ref.Kind == provider.KindFirewall {
				add(provider.Action{Op: provider.OpDetachFirewall, Server: s, Firewall: ref.Name})
			} else {
				add(provider.Action{Op: provider.OpDetachNetwork, Server: s, Network: ref.Name})
			}
		}
	}
	return fx
}

// server plans the fixes of one changed server (step 5).
func (fx *Fix) server(ix *index, ref provider.Ref, fs []Finding) {
	e, s := ix.exp[ref].Server, ix.srv[ref.Name]
	status := s.Status
	want := map[string]Finding{}
	for _, f := range fs {
		want[f.Field] = f
	}
	add := func(a provider.Action) {
		a.Server = ref.Name
		fx.Actions = append(fx.Actions, a)
	}
	if _, ok := want[FieldID]; ok {
		for _, f := range fs {
			fx.Deferred = append(fx.Deferred, Deferred{f, reasonRecreated})
		}
		return
	}
	if _, ok := want[FieldServerType]; ok {
		if status != "off" {
			add(provider.Action{Op: provider.OpPoweroff})
			status = "off"
		}
		add(provider.Action{Op: provider.OpResize, ServerType: e.ServerType})
	}
	if _, ok := want[FieldImage]; ok {
		add(provider.Action{Op: provider.OpRebuild, Image: e.Image})
		status = "running"
	}
	if f, ok := want[FieldLabels]; ok {
		user := userLabels(e.Labels)
		var extra []string
		for k := range s.Labels {
			if _, keep := e.Labels[k]; !keep && !reserved(k) {
				extra = append(extra, k)
			}
		}
		slices.Sort(extra)
		switch {
		case len(user) > 0:
			add(provider.Action{Op: provider.OpLabel, Labels: user})
		case len(extra) > 0:
			add(provider.Action{Op: provider.OpRemoveLabels, LabelKeys: extra})
		default:
			fx.Deferred = append(fx.Deferred, Deferred{f, reasonNoLabels})
		}
	}
	_, pd := want[FieldProtectDelete]
	_, pr := want[FieldProtectRebuild]
	if pd || pr {
		add(provider.Action{Op: provider.OpProtect, Delete: ptr(e.Protection.Delete), Rebuild: ptr(e.Protection.Rebuild)})
	}
	if f, ok := want[FieldStatus]; ok || status != s.Status {
		if !ok { // the status this plan's own steps leave
			f = Finding{Resource: "server/" + ref.Name, ResourceKind: "server", Name: ref.Name, Kind: Changed, Field: FieldStatus, Expected: e.Status, Actual: status}
		}
		switch {
		case e.Status == status:
		case e.Status == "running":
			add(provider.Action{Op: provider.OpPoweron})
		case e.Status == "off":
			add(provider.Action{Op: provider.OpPoweroff})
		default:
			fx.Deferred = append(fx.Deferred, Deferred{f, fmt.Sprintf(reasonStatus, e.Status)})
		}
	}
}

// resourceFix returns the action that fixes one changed field of a
// resource other than a server, or why there is none; more reports that
// the field needs further actions (subnets, routes: one per plan).
func resourceFix(ix *index, ref provider.Ref, f Finding) (a provider.Action, reason string, more bool) {
	e, r := ix.exp[ref].Other, ix.res[ref]
	a = provider.Action{Kind: ref.Kind, Name: ref.Name}
	switch f.Field {
	case FieldSubnets:
		add, del := diffBy(e.Subnets, r.Subnets, func(s provider.Subnet) string { return s.IPRange + " " + s.NetworkZone + " " + s.Type })
		switch {
		case len(add) > 0:
			a.Op, a.Subnet = provider.OpAddSubnet, &add[0]
		default:
			a.Op, a.IPRange = provider.OpDeleteSubnet, del[0].IPRange
		}
		return a, "", len(add)+len(del) > 1
	case FieldRoutes:
		add, del := diffBy(e.Routes, r.Routes, func(rt provider.Route) string { return rt.Destination + " " + rt.Gateway })
		switch {
		case len(del) > 0: // a route to the same destination must go first
			a.Op, a.Route = provider.OpDeleteRoute, &del[0]
		default:
			a.Op, a.Route = provider.OpAddRoute, &add[0]
		}
		return a, "", len(add)+len(del) > 1
	case FieldRules:
		a.Op, a.Rules = provider.OpSetRules, e.Rules
	case FieldLabels:
		if a.Labels = userLabels(e.Labels); a.Labels == nil {
			return a, reasonNoLabels, false
		}
		a.Op = provider.OpLabel
	case FieldProtectDelete:
		if ref.Kind == provider.KindFirewall || ref.Kind == provider.KindSSHKey {
			return a, reasonNotPlanned, false
		}
		a.Op, a.Delete = provider.OpProtect, ptr(e.ProtectDelete)
	case FieldSize:
		if e.Size < r.Size {
			return a, reasonShrink, false
		}
		a.Op, a.Size = provider.OpResize, e.Size
	case FieldServer:
		on := ix.attachedTo(ref)
		switch {
		case on == "":
			a.Op = provider.OpDetach
			if ref.Kind != provider.KindVolume {
				a.Op = provider.OpUnassign
			}
		case r.Server != "":
			return a, reasonOnePerPlan, false // detach first, then attach: two actions
		default:
			a.Op, a.Server = provider.OpAttach, on
			if ref.Kind != provider.KindVolume {
				a.Op = provider.OpAssign
			}
		}
	case FieldID:
		return a, reasonRecreated, false
	default:
		return a, reasonNotPlanned, false
	}
	return a, "", false
}

// diffBy returns the items of want that have is lacks and those of have
// that want lacks, compared by key.
func diffBy[T any](want, have []T, key func(T) string) (add, del []T) {
	in := func(xs []T, x T) bool {
		return slices.ContainsFunc(xs, func(y T) bool { return key(y) == key(x) })
	}
	for _, x := range want {
		if !in(have, x) {
			add = append(add, x)
		}
	}
	for _, x := range have {
		if !in(want, x) {
			del = append(del, x)
		}
	}
	return add, del
}

// reserved reports whether a label key is one vmc-git sets itself.
func reserved(k string) bool { return k == provider.LabelLedger || k == provider.LabelPlan }

// userLabels returns l without the reserved labels, or nil if none is left.
func userLabels(l map[string]string) map[string]string {
	out := maps.Clone(l)
	maps.DeleteFunc(out, func(k, _ string) bool { return reserved(k) })
	if len(out) == 0 {
		return nil
	}
	return out
}

func ptr[T any](v T) *T { return &v }
