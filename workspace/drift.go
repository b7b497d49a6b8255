package workspace

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/vmc-git/vmc-git/drift"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/policy"
	"github.com/vmc-git/vmc-git/provider"
	"github.com/vmc-git/vmc-git/receipt"
	"github.com/vmc-git/vmc-git/state"
)

// DriftVersion is the version of DriftReport's JSON shape. Version 2 added
// every kind (findings name resource_kind and name; counts by kind), the
// fix plan, the adopt receipt and the GitHub issue; the fields of version 1
// keep their meaning (expected and actual now count every kind).
const DriftVersion = 2

// DriftFixPrefix starts the id of a fix plan made without --id.
const DriftFixPrefix = "drift-fix-"

// DriftRequest is what Drift needs.
type DriftRequest struct {
	// Attest appends an attestation receipt with the report.
	Attest bool
	// PlanFix writes the plan that brings the provider back to the ledger
	// (see drift.PlanFix) to PlanOut, "" for plans/<id>.json in the work
	// tree, with id PlanID ("" for drift-fix-<time>).
	PlanFix bool
	PlanID  string
	PlanOut string
	// Adopt appends a manual receipt whose adopt record (package state)
	// takes what the provider shows as the ledger's expectation for every
	// resource with a finding.
	Adopt bool
	// Push publishes the receipts written (see Publishing).
	Push Push
}

// DriftReport is a drift check's outcome.
type DriftReport struct {
	V           int                    `json:"v"`
	LedgerSeq   uint64                 `json:"ledger_seq"`
	Expected    int                    `json:"expected"`
	Actual      int                    `json:"actual"`
	Kinds       map[string]drift.Count `json:"kinds"`
	Input       digest.Sums            `json:"input"`
	Drift       bool                   `json:"drift"`
	Findings    []drift.Finding        `json:"findings"`
	Attestation *AttestationRef        `json:"attestation,omitempty"`
	Fix         *DriftFix              `json:"fix,omitempty"`
	Adopted     *AttestationRef        `json:"adopted,omitempty"` // the manual receipt of --adopt
}

// DriftFix is the plan --plan-fix wrote (Plan nil when no finding could be
// planned) and the findings it leaves.
type DriftFix struct {
	Plan     *MadePlanRef     `json:"plan,omitempty"`
	Deferred []drift.Deferred `json:"deferred"`
}

// MadePlanRef names a plan file written.
type MadePlanRef struct {
	ID      string        `json:"id"`
	Path    string        `json:"path"`
	Blake3  digest.Digest `json:"blake3"`
	Actions int           `json:"actions"`
	Summary string        `json:"summary"`
}

// driftPredicate is a drift attestation's predicate (drift.PredicateType).
type driftPredicate struct {
	Ledger struct {
		Seq    uint64        `json:"seq"`
		Blake3 digest.Digest `json:"blake3"`
	} `json:"ledger"`
	Input struct {
		V      int           `json:"v"`
		Blake3 digest.Digest `json:"blake3"`
		SHA256 digest.Digest `json:"sha256"`
	} `json:"input"`
	Result struct {
		Drift    bool            `json:"drift"`
		Findings []drift.Finding `json:"findings"`
	} `json:"result"`
}

// World reads the provider's servers and every other kind drift compares.
func (ws *Workspace) World(ctx context.Context) (drift.World, error) {
	prov, err := ws.Provider()
	if err != nil {
		return drift.World{}, err
	}
	w := drift.World{Resources: map[provider.Kind][]provider.Resource{}}
	if w.Servers, err = prov.Servers(ctx, ""); err != nil {
		return w, fmt.Errorf("drift: listing servers: %w", err)
	}
	for _, k := range provider.Kinds {
		if w.Resources[k], err = prov.Resources(ctx, k, ""); err != nil {
			return w, fmt.Errorf("drift: listing %ss: %w", k, err)
		}
	}
	return w, nil
}

// Drift compares the state the ledger expects (ReplayState: every kind)
// with the provider's (package drift) and, as req asks: appends an
// attestation receipt signed by id whose subjects are the resources
// observed (digests of their policy-input form) and whose predicate holds
// the ledger head, the input's digests and the findings; writes the fix
// plan; appends the adopt receipt, in that order (a fix plan the dry run
// refuses leaves no receipt behind; the attestation reports the drift found,
// before any adoption). id must be non-nil for Attest and Adopt. Drift is
// not an error.
func (ws *Workspace) Drift(ctx context.Context, req DriftRequest, id *Identity) (*DriftReport, error) {
	if (req.Attest || req.Adopt) && id == nil {
		return nil, usagef("drift --attest and --adopt need a signing key")
	}
	if req.PlanFix && req.Adopt {
		return nil, usagef("drift: --plan-fix or --adopt, not both: either the provider goes back to the ledger or the ledger takes the provider's state")
	}
	if req.PlanID != "" {
		if err := ValidatePlanRequest(PlanRequest{ID: req.PlanID}); err != nil {
			return nil, err
		}
	}
	st, err := ws.State()
	if err != nil {
		return nil, invalidErr(err)
	}
	w, err := ws.World(ctx)
	if err != nil {
		return nil, err
	}
	doc, err := policy.FromProvider(w.Servers, w.Resources)
	if err != nil {
		return nil, invalidErr(err)
	}
	raw, err := doc.Encode()
	if err != nil {
		return nil, invalidErr(err)
	}
	fs := drift.Compare(st, w)
	rep := &DriftReport{V: DriftVersion, LedgerSeq: st.Seq, Kinds: drift.Counts(st, w), Input: digest.Of(raw), Drift: len(fs) > 0, Findings: fs}
	for _, c := range rep.Kinds {
		rep.Expected += c.Expected
		rep.Actual += c.Actual
	}
	// The plan first: a dry run that refuses it leaves no receipt behind.
	if req.PlanFix && rep.Drift {
		if rep.Fix, err = ws.planFix(ctx, st, w, fs, req); err != nil {
			return nil, err
		}
	}
	if req.Attest {
		if rep.Attestation, err = ws.attestDrift(st, doc, rep, *id, req.Push); err != nil {
			return nil, err
		}
	}
	if req.Adopt && rep.Drift {
		if rep.Adopted, err = ws.adopt(w, fs, *id, req.Push); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// attestDrift appends the drift report's attestation receipt.
func (ws *Workspace) attestDrift(st *state.State, doc *policy.Document, rep *DriftReport, id Identity, push Push) (*AttestationRef, error) {
	r, err := ws.Ledger.NewReader()
	if err != nil {
		return nil, err
	}
	var p driftPredicate
	p.Ledger.Seq, p.Ledger.Blake3 = st.Seq, r.Tip.Head.Blake3
	if r.Tip.Head.Seq != st.Seq {
		return nil, refusedErr(fmt.Errorf("drift: the ledger moved from receipt %d to %d during the check", st.Seq, r.Tip.Head.Seq), "run drift again")
	}
	p.Input.V, p.Input.Blake3, p.Input.SHA256 = doc.V, rep.Input.Blake3, rep.Input.SHA256
	p.Result.Drift, p.Result.Findings = rep.Drift, rep.Findings
	subs, err := doc.Subjects()
	if err != nil {
		return nil, err
	}
	if len(subs) == 0 {
		subs = []policy.Subject{{Name: policy.InputSubject, Sums: rep.Input}}
	}
	stmt, err := policy.NewStatement(subs, drift.PredicateType, p)
	if err != nil {
		return nil, err
	}
	summary := fmt.Sprintf("drift report: %d finding(s) over %d expected, %d actual resources", len(rep.Findings), rep.Expected, rep.Actual)
	return ws.appendAttestation(id, push, summary, stmt)
}

// planFix writes the plan drift.PlanFix proposes, through MakePlan (the
// dry run of `vmc-git plan`).
func (ws *Workspace) planFix(ctx context.Context, st *state.State, w drift.World, fs []drift.Finding, req DriftRequest) (*DriftFix, error) {
	fx := drift.PlanFix(st, w, fs)
	out := &DriftFix{Deferred: fx.Deferred}
	if len(fx.Actions) == 0 {
		return out, nil
	}
	id := req.PlanID
	if id == "" {
		id = DriftFixPrefix + time.Now().UTC().Format("20060102150405")
	}
	m, err := ws.MakePlan(ctx, PlanRequest{ID: id, Out: req.PlanOut, Actions: fx.Actions,
		Summary: (fmt.Sprintf("drift fix: %d action(s) for %d finding(s) at ledger receipt %d", len(fx.Actions), len(fs)-len(fx.Deferred), st.Seq))})
	if err != nil {
		return nil, err
	}
	out.Plan = &MadePlanRef{ID: m.Plan.ID, Path: m.Path, Blake3: m.Blake3, Actions: len(m.Plan.Actions), Summary: m.Plan.Summary}
	return out, nil
}

// adopt appends the manual receipt that takes the provider's state as the
// ledger's for every resource with a finding.
func (ws *Workspace) adopt(w drift.World, fs []drift.Finding, id Identity, push Push) (*AttestationRef, error) {
	a := &state.Adopt{V: state.AdoptVersion}
	// observed adds the provider's observation of kind/name.
	observed := func(kind, name string) error {
		it := state.Adopted{Kind: kind, Name: name}
		k, err := provider.ParseKind(kind)
		if err != nil {
			return err
		}
		if k == provider.KindServer {
			i := slices.IndexFunc(w.Servers, func(s provider.Server) bool { return s.Name == name })
			if i < 0 {
				return fmt.Errorf("drift --adopt: server %s is not at the provider", name)
			}
			it.Server = &w.Servers[i]
		} else {
			rs := w.Resources[k]
			i := slices.IndexFunc(rs, func(r provider.Resource) bool { return r.Name == name })
			if i < 0 {
				return fmt.Errorf("drift --adopt: %s %s is not at the provider", k, name)
			}
			it.Resource = &rs[i]
		}
		a.Resources = append(a.Resources, it)
		return nil
	}
	renamed := map[string]string{} // resource -> its name at the provider
	for _, f := range fs {
		if f.Field == drift.FieldName {
			renamed[f.Resource] = f.Actual
		}
	}
	seen := map[string]bool{}
	for _, f := range fs {
		if seen[f.Resource] {
			continue
		}
		seen[f.Resource] = true
		var err error
		switch to, ok := renamed[f.Resource]; {
		case f.Kind == drift.Missing:
			a.Resources = append(a.Resources, state.Adopted{Kind: f.ResourceKind, Name: f.Name, Absent: true})
		case ok: // the old name goes, the provider's name comes
			a.Resources = append(a.Resources, state.Adopted{Kind: f.ResourceKind, Name: f.Name, Absent: true})
			err = observed(f.ResourceKind, to)
		default:
			err = observed(f.ResourceKind, f.Name)
		}
		if err != nil {
			return nil, invalidErr(err)
		}
	}
	details, err := state.AdoptDetails(a, map[string]any{"findings": fs})
	if err != nil {
		return nil, err
	}
	if len(details) > receipt.MaxSize/2 {
		return nil, refusedErr(fmt.Errorf("drift --adopt: the adopt record is %d bytes, more than %d for one receipt", len(details), receipt.MaxSize/2), "adopt fewer resources at a time")
	}
	summary := (fmt.Sprintf("drift adopt: the provider's state of %d resource(s) becomes the ledger's", len(a.Resources)))
	var wr *Written
	synced, err := ws.Publishing(id, push, func() error {
		var err error
		wr, err = ws.Record(id, summary, details)
		return err
	})
	if err != nil {
		return nil, err
	}
	if wr, _, err = ws.AfterSync(wr, synced); err != nil {
		return nil, err
	}
	return &AttestationRef{Seq: wr.Seq, Path: wr.Path, Blake3: wr.Sums.Blake3, Commit: wr.Commit.String()}, nil
}
