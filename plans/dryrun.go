package plans

// Dry-run checks against the provider's catalogue.
//
// Make asks the provider, when it offers a provider.Catalog, whether each
// action can be carried out, so that a plan that would fail at apply is
// refused at review time instead. Each refusal wraps ErrDryRun and has its
// own message:
//
//	create   the server type exists, is not retired, and is offered at the
//	         location (which exists); the image exists, is not retired, and
//	         exists for the type's architecture; the name is free; the SSH
//	         keys, firewalls and networks it names exist
//	rebuild  the image exists for the server's architecture
//	resize   the type exists and differs from the current one, has the same
//	         architecture, is offered at the server's location and has a disk
//	         at least as large as the server's (a disk grown by upgrade_disk
//	         cannot shrink: keep it with --keep-disk to be able to go back);
//	         the server is off, or an earlier step of the plan powers it off
//	rename   the new name is free
//
// # Several steps on one server
//
// A server may appear in more than one step (e.g. poweroff, then resize), as
// long as no earlier step creates, deletes or renames it. The first step's
// expect is what the provider showed; a later step's expect is the state the
// steps before it leave (Simulate), so Validate can check it and CheckFresh
// compares only first steps with the provider.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/vmc-git/vmc-git/provider"
)

// Simulate returns the state a server is expected to have after action a of
// plan p, given it had e before. It is defined for ops that keep the server
// and its name (not create, delete, rename).
func (p *Plan) Simulate(e Expect, a provider.Action) Expect {
	out := e
	out.Labels = maps.Clone(e.Labels)
	switch a.Op {
	case provider.OpPoweroff, provider.OpShutdown:
		out.Status = "off"
	case provider.OpPoweron, provider.OpReboot, provider.OpReset, provider.OpRebuild:
		out.Status = "running"
	case provider.OpResize:
		out.ServerType = a.ServerType
	case provider.OpLabel:
		out.Labels = maps.Clone(a.Labels)
		maps.Copy(out.Labels, map[string]string{provider.LabelLedger: provider.LabelValue(p.Ledger), provider.LabelPlan: p.ID})
	}
	return out
}

// endsIdentity reports whether no step may follow op on the same server.
func endsIdentity(op provider.Op) bool {
	return op == provider.OpCreate || op == provider.OpDelete || op == provider.OpRename
}

// checkRepeats checks the steps that act on a server an earlier step acted
// on (see "Several steps on one server").
func (p *Plan) checkRepeats() error {
	last := map[provider.Ref]int{}
	for i, s := range p.Actions {
		t := s.Action.Target()
		j, seen := last[t]
		last[t] = i
		if !seen {
			continue
		}
		if t.Kind != provider.KindServer {
			return fmt.Errorf("action %d: %s appears again after action %d (one action per %s per plan)", i, t, j, t.Kind)
		}
		prev := p.Actions[j]
		if endsIdentity(prev.Action.Op) {
			return fmt.Errorf("action %d: server %s appears again after action %d %ss it (no step may follow a create, delete or rename of a server)",
				i, s.Action.Server, j, prev.Action.Op)
		}
		if s.Action.Op == provider.OpCreate {
			return fmt.Errorf("action %d: create expects server %s not to exist, but action %d acts on it", i, s.Action.Server, j)
		}
		if want := p.Simulate(prev.Expect, prev.Action); !equalExpect(want, s.Expect) {
			return fmt.Errorf("action %d: expect of server %s must be the state action %d leaves (%s), not %s",
				i, s.Action.Server, j, describeExpect(want), describeExpect(s.Expect))
		}
	}
	return nil
}

func equalExpect(a, b Expect) bool {
	return a.Exists == b.Exists && a.ServerID == b.ServerID && a.Status == b.Status && a.ServerType == b.ServerType &&
		maps.Equal(a.Labels, b.Labels) && (len(a.Labels) == 0) == (len(b.Labels) == 0)
}

// firstSteps reports, for each step, whether it is the first on its target.
func (p *Plan) firstSteps() []bool {
	seen := map[provider.Ref]bool{}
	out := make([]bool, len(p.Actions))
	for i, s := range p.Actions {
		out[i] = !seen[s.Action.Target()]
		seen[s.Action.Target()] = true
	}
	return out
}

// dryRefuse makes a dry-run refusal.
func dryRefuse(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrDryRun, fmt.Sprintf(format, a...))
}

// checkAction checks a against the catalogue. cur is the server's state
// before a (nil: absent; after earlier steps of the plan on it, as Simulate
// says), now the time deprecations are judged at.
func checkAction(ctx context.Context, cat provider.Catalog, a provider.Action, cur *provider.Server, now time.Time) error {
	if a.Kind != provider.KindServer {
		return nil // not a server action: another resource kind has its own checks
	}
	lookupType := func(name string) (*provider.ServerType, error) {
		st, err := cat.ServerType(ctx, name)
		if errors.Is(err, provider.ErrNotFound) {
			return nil, dryRefuse("server type %s does not exist", name)
		}
		if err != nil {
			return nil, fmt.Errorf("dry run: read server type %s: %w", name, err)
		}
		if d := st.Deprecation; d != nil && now.After(d.UnavailableAfter) {
			return nil, dryRefuse("server type %s is retired: deprecated %s, unavailable since %s", name, d.Announced.Format(time.DateOnly), d.UnavailableAfter.Format(time.DateOnly))
		}
		return st, nil
	}
	offered := func(st *provider.ServerType, loc string) error {
		if o := st.Offer(loc); o != nil && o.Available && (o.Deprecation == nil || now.Before(o.Deprecation.UnavailableAfter)) {
			return nil
		}
		var at []string
		for _, o := range st.Locations {
			if o.Available {
				at = append(at, o.Location)
			}
		}
		return dryRefuse("server type %s is not offered at location %s (offered at: %s)", st.Name, loc, orDash(strings.Join(at, ", ")))
	}
	checkImage := func(name string, st *provider.ServerType) error {
		ims, err := cat.Images(ctx, name)
		if errors.Is(err, provider.ErrNotFound) {
			return dryRefuse("image %s does not exist", name)
		}
		if err != nil {
			return fmt.Errorf("dry run: read image %s: %w", name, err)
		}
		var archs []string
		for _, im := range ims {
			if im.Architecture != st.Architecture {
				archs = append(archs, im.Architecture)
				continue
			}
			if d := im.Deprecation; d != nil && now.After(d.UnavailableAfter) {
				return dryRefuse("image %s is retired: deprecated %s, unavailable since %s", name, d.Announced.Format(time.DateOnly), d.UnavailableAfter.Format(time.DateOnly))
			}
			return nil
		}
		slices.Sort(archs)
		return dryRefuse("architecture mismatch: image %s exists for %s only, server type %s is %s", name, strings.Join(slices.Compact(archs), ", "), st.Name, st.Architecture)
	}
	switch a.Op {
	case provider.OpCreate:
		st, err := lookupType(a.ServerType)
		if err != nil {
			return err
		}
		if a.Location != "" {
			if _, err := cat.Location(ctx, a.Location); errors.Is(err, provider.ErrNotFound) {
				return dryRefuse("location %s does not exist", a.Location)
			} else if err != nil {
				return fmt.Errorf("dry run: read location %s: %w", a.Location, err)
			}
			if err := offered(st, a.Location); err != nil {
				return err
			}
		}
		if err := checkImage(a.Image, st); err != nil {
			return err
		}
		for _, ref := range []struct {
			kind  string
			names []string
		}{{provider.RefSSHKey, a.SSHKeys}, {provider.RefFirewall, a.Firewalls}, {provider.RefNetwork, a.Networks}} {
			for _, n := range ref.names {
				ok, err := cat.Exists(ctx, ref.kind, n)
				if err != nil {
					return fmt.Errorf("dry run: read %s %s: %w", ref.kind, n, err)
				}
				if !ok {
					return dryRefuse("%s %s does not exist", ref.kind, n)
				}
			}
		}
		return nil
	case provider.OpRebuild:
		st, err := cat.ServerType(ctx, cur.ServerType)
		if err != nil {
			return fmt.Errorf("dry run: read server type %s of server %s: %w", cur.ServerType, a.Server, err)
		}
		return checkImage(a.Image, st)
	case provider.OpResize:
		if a.ServerType == cur.ServerType {
			return dryRefuse("server %s is already of type %s", a.Server, a.ServerType)
		}
		st, err := lookupType(a.ServerType)
		if err != nil {
			return err
		}
		was, err := cat.ServerType(ctx, cur.ServerType)
		if err != nil {
			return fmt.Errorf("dry run: read server type %s of server %s: %w", cur.ServerType, a.Server, err)
		}
		if st.Architecture != was.Architecture {
			return dryRefuse("architecture mismatch: server %s is %s (%s), server type %s is %s", a.Server, was.Architecture, was.Name, st.Name, st.Architecture)
		}
		if cur.Location != "" {
			if err := offered(st, cur.Location); err != nil {
				return err
			}
		}
		disk, err := cat.DiskSize(ctx, a.Server)
		if err != nil {
			return fmt.Errorf("dry run: read disk of server %s: %w", a.Server, err)
		}
		if st.Disk < disk {
			return dryRefuse("server %s has a %d GB disk and server type %s a %d GB one: a disk cannot shrink, so a downgrade is possible only to a type whose disk holds the server's "+
				"(resize with --keep-disk, the default, keeps the disk at its size so the server can go back down later)", a.Server, disk, st.Name, st.Disk)
		}
		if cur.Status != "off" {
			return dryRefuse("server %s is %s: a resize needs it off; power it off first in the same plan (vmc-git plan server resize %s --type %s --poweroff-first)",
				a.Server, cur.Status, a.Server, a.ServerType)
		}
	}
	return nil
}

// CheckCatalog runs the dry-run checks of every step of p against the
// provider's catalogue as it is now, for a plan made elsewhere (a pull
// request's plan may have been written by hand, past the dry run). It
// returns one line per refused step; err is for a provider it could not
// read. Servers are read from prov for first steps and simulated for later
// ones, as Make does.
func CheckCatalog(ctx context.Context, prov provider.Provider, p *Plan) (refusals []string, err error) {
	cat, ok := prov.(provider.Catalog)
	if !ok {
		return nil, nil
	}
	first := p.firstSteps()
	now := time.Now()
	var locs = map[string]string{}
	d := newDryRun()
	cat = plannedCatalog{cat, d}
	for i, st := range p.Actions {
		a := st.Action
		if a.Kind != provider.KindServer {
			d.note(a) // other kinds have no catalogue checks here
			continue
		}
		var cur *provider.Server
		if first[i] {
			s, err := prov.Server(ctx, a.Server)
			switch {
			case errors.Is(err, provider.ErrNotFound):
			case err != nil:
				return nil, fmt.Errorf("check plan %s: read server %s: %w", p.ID, a.Server, err)
			default:
				cur = s
				locs[a.Server] = s.Location
			}
		} else {
			e := st.Expect
			cur = &provider.Server{ID: e.ServerID, Name: a.Server, Status: e.Status, ServerType: e.ServerType, Labels: e.Labels, Location: locs[a.Server]}
		}
		if (a.Op == provider.OpCreate) != (cur == nil) {
			continue // stale, which CheckFresh reports
		}
		d.note(a)
		if err := checkAction(ctx, cat, a, cur, now); errors.Is(err, ErrDryRun) {
			refusals = append(refusals, fmt.Sprintf("action %d (%s %s): %s", i+1, a.Op, a.Server, strings.TrimPrefix(err.Error(), ErrDryRun.Error()+": ")))
		} else if err != nil {
			return nil, err
		}
	}
	return refusals, nil
}
