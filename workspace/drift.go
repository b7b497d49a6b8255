package workspace

import (
	"context"
	"fmt"

	"github.com/vmc-git/vmc-git/apply"
	"github.com/vmc-git/vmc-git/drift"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/policy"
)

// DriftReport is a drift check's outcome.
type DriftReport struct {
	LedgerSeq   uint64          `json:"ledger_seq"`
	Expected    int             `json:"expected"`
	Actual      int             `json:"actual"`
	Input       digest.Sums     `json:"input"`
	Drift       bool            `json:"drift"`
	Findings    []drift.Finding `json:"findings"`
	Attestation *AttestationRef `json:"attestation,omitempty"`
}

// driftPredicate is a drift attestation's predicate.
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

// Drift compares the servers the ledger expects (package drift) with the
// provider's and, with attest, appends an attestation receipt signed by id
// (non-nil then) whose subjects are the servers observed (digests of their
// input-document form, as policy checks use) and whose predicate holds the
// ledger head, the input's digests and the findings. Drift is not an error.
func (ws *Workspace) Drift(ctx context.Context, attest bool, push Push, id *Identity) (*DriftReport, error) {
	if attest && id == nil {
		return nil, usagef("drift --attest needs a signing key")
	}
	view, err := apply.NewLedgerView(ws.Ledger)
	if err != nil {
		return nil, err
	}
	exp, err := drift.Expected(view)
	if err != nil {
		return nil, invalidErr(err)
	}
	prov, err := ws.Provider()
	if err != nil {
		return nil, err
	}
	servers, err := prov.Servers(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("drift: listing servers: %w", err)
	}
	doc, err := policy.FromServers(servers)
	if err != nil {
		return nil, invalidErr(err)
	}
	raw, err := doc.Encode()
	if err != nil {
		return nil, invalidErr(err)
	}
	fs := drift.Compare(exp, servers)
	if fs == nil {
		fs = []drift.Finding{}
	}
	rep := &DriftReport{LedgerSeq: view.TipSeq(), Expected: len(exp), Actual: len(servers), Input: digest.Of(raw), Drift: len(fs) > 0, Findings: fs}
	if !attest {
		return rep, nil
	}
	_, tipSum, err := view.ReceiptAt(view.TipSeq())
	if err != nil {
		return nil, err
	}
	var p driftPredicate
	p.Ledger.Seq, p.Ledger.Blake3 = view.TipSeq(), tipSum
	p.Input.V, p.Input.Blake3, p.Input.SHA256 = doc.V, rep.Input.Blake3, rep.Input.SHA256
	p.Result.Drift, p.Result.Findings = rep.Drift, fs
	subs, err := doc.Subjects()
	if err != nil {
		return nil, err
	}
	if len(subs) == 0 {
		subs = []policy.Subject{{Name: policy.InputSubject, Sums: rep.Input}}
	}
	st, err := policy.NewStatement(subs, drift.PredicateType, p)
	if err != nil {
		return nil, err
	}
	summary := fmt.Sprintf("drift report: %d finding(s) over %d expected, %d actual servers", len(fs), len(exp), len(servers))
	if rep.Attestation, err = ws.appendAttestation(*id, push, summary, st); err != nil {
		return nil, err
	}
	return rep, nil
}
