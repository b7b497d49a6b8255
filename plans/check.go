package plans

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/internal/trace"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/provider"
	"github.com/vmc-git/vmc-git/receipt"
)

// StaleError lists why a plan no longer matches the world.
type StaleError struct {
	Plan  string
	Diffs []string
}

func (e *StaleError) Error() string {
	return fmt.Sprintf("plan %s is stale: %s", e.Plan, strings.Join(e.Diffs, "; "))
}

// LedgerView is the part of the ledger a freshness check reads.
type LedgerView interface {
	// TipSeq is the newest receipt's seq.
	TipSeq() uint64
	// ReceiptAt returns receipt seq and its blake3.
	ReceiptAt(seq uint64) (*receipt.Receipt, digest.Digest, error)
}

// Applied is an apply receipt as a freshness check sees it.
type Applied struct {
	Seq     uint64
	Plan    string   // the plan id
	Servers []string // AppliedServers of the receipt, in its order
}

// AppliedIndex may be implemented by a LedgerView that indexes its apply
// receipts by server (built once for many checks), so that CheckFresh does
// not read every receipt since the plan's ledger head.
type AppliedIndex interface {
	// AppliedAfter returns, in seq order, the apply receipts with seq in
	// (after, TipSeq()] that name any of servers.
	AppliedAfter(after uint64, servers []string) ([]Applied, error)
}

// appliedAfter is AppliedIndex.AppliedAfter, from the index when led has
// one, else by reading every receipt after after.
func appliedAfter(led LedgerView, after uint64, servers []string) ([]Applied, error) {
	if ix, ok := led.(AppliedIndex); ok {
		return ix.AppliedAfter(after, servers)
	}
	ours := map[string]bool{}
	for _, s := range servers {
		ours[s] = true
	}
	var out []Applied
	for seq := after + 1; seq <= led.TipSeq(); seq++ {
		r, _, err := led.ReceiptAt(seq)
		if err != nil {
			return nil, err
		}
		if r.Kind != receipt.KindApply {
			continue
		}
		srv := AppliedServers(r)
		if slices.ContainsFunc(srv, func(s string) bool { return ours[s] }) {
			out = append(out, Applied{Seq: seq, Plan: r.Apply.Plan.ID, Servers: srv})
		}
	}
	return out, nil
}

// CheckFresh compares the plan's expectations with the provider and the
// ledger now. It returns a *StaleError listing every difference, or another
// error if it could not look.
func CheckFresh(ctx context.Context, prov provider.Provider, led LedgerView, p *Plan) error {
	var diffs []string
	// The ledger: same history at ledger_head, and no apply since touching our servers.
	tip := led.TipSeq()
	if p.LedgerHead.Seq > tip {
		diffs = append(diffs, fmt.Sprintf("made against ledger receipt %d, but the ledger ends at %d", p.LedgerHead.Seq, tip))
	} else {
		_, sum, err := led.ReceiptAt(p.LedgerHead.Seq)
		if err != nil {
			return err
		}
		if sum != p.LedgerHead.Blake3 {
			diffs = append(diffs, fmt.Sprintf("made against ledger receipt %d with blake3 %s, but that receipt is %s here (another ledger or rewritten history)", p.LedgerHead.Seq, p.LedgerHead.Blake3, sum))
		}
		ours := map[string]bool{}
		for _, s := range p.Servers() {
			ours[s] = true
		}
		applied, err := appliedAfter(led, p.LedgerHead.Seq, p.Servers())
		if err != nil {
			return err
		}
		for _, a := range applied {
			for _, s := range a.Servers {
				if ours[s] {
					diffs = append(diffs, fmt.Sprintf("receipt %d (plan %s) changed %s after this plan was made", a.Seq, a.Plan, lockDesc(s)))
				}
			}
		}
	}
	// The servers: each first step's expectation (later steps on a server
	// expect what the steps before them leave).
	first := p.firstSteps()
	for i, st := range p.Actions {
		if !first[i] {
			continue
		}
		if t := st.Action.Target(); t.Kind != provider.KindServer {
			r, err := prov.Resource(ctx, t.Kind, t.Name)
			if errors.Is(err, provider.ErrNotFound) {
				r, err = nil, nil
			}
			if err != nil {
				return fmt.Errorf("check plan %s: read %s: %w", p.ID, t, err)
			}
			diffs = append(diffs, CompareExpectResource(t, st.Expect, r)...)
			continue
		}
		name := st.Action.Server
		s, err := prov.Server(ctx, name)
		if errors.Is(err, provider.ErrNotFound) {
			s, err = nil, nil
		}
		if err != nil {
			return fmt.Errorf("check plan %s: read server %s: %w", p.ID, name, err)
		}
		diffs = append(diffs, CompareExpect(name, st.Expect, s)...)
	}
	if len(diffs) > 0 {
		return &StaleError{Plan: p.ID, Diffs: diffs}
	}
	return nil
}

// CompareExpect lists how server s (nil: absent) differs from e.
func CompareExpect(name string, e Expect, s *provider.Server) []string {
	now := ExpectOf(s)
	var d []string
	switch {
	case e.Exists && s == nil:
		return []string{fmt.Sprintf("server %s (id %d) no longer exists", name, e.ServerID)}
	case !e.Exists && s != nil:
		return []string{fmt.Sprintf("server %s now exists (id %d, %s)", name, s.ID, s.Status)}
	case !e.Exists:
		return nil
	}
	if now.ServerID != e.ServerID {
		d = append(d, fmt.Sprintf("server %s: id planned %d, now %d (replaced)", name, e.ServerID, now.ServerID))
	}
	if now.Status != e.Status {
		d = append(d, fmt.Sprintf("server %s: status planned %s, now %s", name, e.Status, now.Status))
	}
	if now.ServerType != e.ServerType {
		d = append(d, fmt.Sprintf("server %s: type planned %s, now %s", name, e.ServerType, now.ServerType))
	}
	if !maps.Equal(now.Labels, e.Labels) {
		d = append(d, fmt.Sprintf("server %s: labels planned %s, now %s", name, formatLabels(e.Labels), formatLabels(now.Labels)))
	}
	return d
}

// AppliedServers lists the lock names (provider.Ref.Lock: a server's name,
// "fw.<name>" for a firewall, …) of the resources an apply receipt's
// actions changed.
func AppliedServers(r *receipt.Receipt) []string {
	var out []string
	if r.Apply == nil {
		return nil
	}
	for _, ar := range r.Apply.Actions {
		a, err := provider.ParseAction(ar.Action)
		if err != nil {
			continue
		}
		for _, ref := range a.Refs() {
			out = append(out, ref.Lock())
		}
	}
	return out
}

// lockDesc describes a lock name for messages: "server web-1", "fw.web".
func lockDesc(lock string) string {
	for _, k := range provider.Kinds {
		if strings.HasPrefix(lock, provider.Ref{Kind: k}.Lock()) {
			return lock
		}
	}
	return "server " + lock
}

// Approve signs the plan bytes (SSHSIG, namespace vmc-plan).
func Approve(s *keys.Signer, plan []byte) ([]byte, error) {
	if _, err := Parse(plan); err != nil {
		return nil, err
	}
	return s.Sign(keys.NamespacePlan, plan)
}

// ApprovalStatus is what plan status reports.
type ApprovalStatus struct {
	Required int               `json:"required"`
	Valid    []string          `json:"valid"`
	Invalid  map[string]string `json:"invalid,omitempty"` // kid -> why
	Missing  int               `json:"missing"`
}

// Approved reports whether enough valid approvals are present.
func (s ApprovalStatus) Approved() bool { return s.Missing == 0 }

// CheckApprovalSet sorts approvals into valid (approver keys trusted at t,
// distinct keys, good signature) and invalid ones.
func CheckApprovalSet(t *keys.Trust, plan []byte, sigs map[string][]byte, at time.Time) ApprovalStatus {
	trace.Add(trace.ApprovalChecks)
	st := ApprovalStatus{Required: t.ApprovalsRequired, Valid: []string{}, Invalid: map[string]string{}}
	seen := map[string]string{}
	for _, kid := range slices.Sorted(maps.Keys(sigs)) {
		if err := t.CheckApproval(kid, plan, sigs[kid], at, seen); err != nil {
			st.Invalid[kid] = err.Error()
			continue
		}
		st.Valid = append(st.Valid, kid)
	}
	st.Missing = max(0, st.Required-len(st.Valid))
	return st
}
