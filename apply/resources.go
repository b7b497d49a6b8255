package apply

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/provider"
)

// Reconciliation of the actions added with the other kinds (firewalls,
// networks, volumes, SSH keys, IPs, and the server ops that go with them).
// As for servers: an effect that can be observed counts as succeeded, an
// op that evidently did not happen (or whose repetition is harmless) is run
// again, and an op whose effect cannot be seen is recorded as unknown.

// extServerOps are the server ops reconcileExt handles.
var extServerOps = []provider.Op{provider.OpAttachNetwork, provider.OpDetachNetwork, provider.OpAttachFirewall,
	provider.OpDetachFirewall, provider.OpEnableBackup, provider.OpDisableBackup, provider.OpCreateImage,
	provider.OpSetRDNS, provider.OpAddLabels, provider.OpRemoveLabels}

func reconcileExt(ctx context.Context, prov provider.Provider, act provider.Action, planID string) (*provider.Result, bool, error) {
	rerun := func() (*provider.Result, bool, error) { return nil, true, nil }
	unknown := func(s *provider.Server, r *provider.Resource) (*provider.Result, bool, error) {
		return &provider.Result{Status: provider.StatusUnknown, Observed: s, Resource: r,
			Error: fmt.Sprintf("interrupted while calling the provider; whether %s ran cannot be observed", provider.OpName(act.Kind, act.Op))}, false, nil
	}
	if act.Kind == provider.KindServer {
		s, err := prov.Server(ctx, act.Server)
		if errors.Is(err, provider.ErrNotFound) {
			return unknown(nil, nil) // the server went away meanwhile
		}
		if err != nil {
			return nil, false, err
		}
		done := func(ok bool) (*provider.Result, bool, error) {
			if ok {
				return &provider.Result{Status: provider.StatusSucceeded, Observed: s}, false, nil
			}
			return rerun()
		}
		inNet := slices.ContainsFunc(s.PrivateNet, func(n provider.PrivateNet) bool { return n.Network == act.Network })
		switch act.Op {
		case provider.OpAttachNetwork:
			return done(inNet)
		case provider.OpDetachNetwork:
			return done(!inNet)
		case provider.OpAttachFirewall:
			return done(slices.Contains(s.Firewalls, act.Firewall))
		case provider.OpDetachFirewall:
			return done(!slices.Contains(s.Firewalls, act.Firewall))
		case provider.OpEnableBackup:
			return done(s.Backups)
		case provider.OpDisableBackup:
			return done(!s.Backups)
		case provider.OpSetRDNS, provider.OpAddLabels, provider.OpRemoveLabels:
			return rerun() // setting the same again is harmless
		}
		return unknown(s, nil) // create_image: a second snapshot is not harmless
	}

	r, err := prov.Resource(ctx, act.Kind, act.Name)
	if errors.Is(err, provider.ErrNotFound) {
		r, err = nil, nil
	}
	if err != nil {
		return nil, false, err
	}
	done := func(ok bool) (*provider.Result, bool, error) {
		if ok {
			return &provider.Result{Status: provider.StatusSucceeded, Resource: r}, false, nil
		}
		return rerun()
	}
	switch act.Op {
	case provider.OpCreate:
		if r == nil {
			return rerun()
		}
		if r.Labels[provider.LabelPlan] == planID {
			return done(true)
		}
		return unknown(nil, r)
	case provider.OpDelete:
		return done(r == nil)
	case provider.OpRename:
		n, err := prov.Resource(ctx, act.Kind, act.NewName)
		if err == nil {
			r = n
			return done(true)
		}
		return rerun()
	}
	if r == nil {
		return unknown(nil, nil) // gone meanwhile
	}
	switch act.Op {
	case provider.OpLabel, provider.OpProtect, provider.OpSetRules, provider.OpSetRDNS:
		return rerun()
	case provider.OpApplyTo, provider.OpRemoveFrom:
		have := 0
		for _, s := range act.Servers {
			if slices.Contains(r.Servers, s) {
				have++
			}
		}
		for _, s := range act.LabelSelectors {
			if slices.Contains(r.LabelSelectors, s) {
				have++
			}
		}
		all, none := have == len(act.Servers)+len(act.LabelSelectors), have == 0
		if act.Op == provider.OpRemoveFrom {
			all, none = none, all
		}
		switch {
		case all:
			return done(true)
		case none:
			return rerun()
		}
		return unknown(nil, r)
	case provider.OpAddSubnet:
		return done(slices.ContainsFunc(r.Subnets, func(s provider.Subnet) bool { return s.IPRange == act.Subnet.IPRange }))
	case provider.OpDeleteSubnet:
		return done(!slices.ContainsFunc(r.Subnets, func(s provider.Subnet) bool { return s.IPRange == act.IPRange }))
	case provider.OpAddRoute:
		return done(slices.Contains(r.Routes, *act.Route))
	case provider.OpDeleteRoute:
		return done(!slices.Contains(r.Routes, *act.Route))
	case provider.OpAttach, provider.OpAssign:
		if r.Server == act.Server {
			return done(true)
		}
		if r.Server == "" || act.Op == provider.OpAssign {
			return rerun()
		}
		return unknown(nil, r)
	case provider.OpDetach, provider.OpUnassign:
		return done(r.Server == "")
	case provider.OpResize:
		return done(r.Size >= act.Size)
	}
	return unknown(nil, r)
}

// resourceStepDiffs is stepDiffs for a step on another kind: its target
// compared with its expectation.
func resourceStepDiffs(ctx context.Context, prov provider.Provider, p *plans.Plan, i int, t provider.Ref) ([]string, error) {
	r, err := prov.Resource(ctx, t.Kind, t.Name)
	if errors.Is(err, provider.ErrNotFound) {
		r, err = nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("check plan %s: read %s: %w", p.ID, t, err)
	}
	return plans.CompareExpectResource(t, p.Actions[i].Expect, r), nil
}
