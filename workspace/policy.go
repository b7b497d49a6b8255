package workspace

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/policy"
	"github.com/vmc-git/vmc-git/provider"
	"github.com/vmc-git/vmc-git/receipt"
)

// PolicyRequest is what PolicyCheck needs.
type PolicyRequest struct {
	// PlanFile, if set, evaluates the state that plan would leave instead
	// of the provider's current state.
	PlanFile string
	// Attest appends an attestation receipt with the result, signed by the
	// identity given to PolicyCheck.
	Attest bool
	// Push publishes the attestation receipt (see Publishing).
	Push   Push
	Limits policy.Limits
}

// PolicyReport is a policy check's outcome.
type PolicyReport struct {
	Policy digest.Digest `json:"policy_blake3"`
	// Pin is the policy bundle the trust state pins (a blake3 in hex,
	// "none", or "" for a ledger made before pins) and Pinned whether
	// Policy is it: apply judges plans only with the pinned bundle.
	Pin         string           `json:"pin"`
	Pinned      bool             `json:"pinned"`
	Files       []string         `json:"files"`
	Source      string           `json:"source"`
	Plan        string           `json:"plan,omitempty"`
	Input       digest.Sums      `json:"input"`
	Resources   int              `json:"resources"`
	Pass        bool             `json:"pass"`
	Deny        []policy.Finding `json:"deny"`
	Warn        []policy.Finding `json:"warn"`
	Attestation *AttestationRef  `json:"attestation,omitempty"`
}

// AttestationRef names the attestation receipt a check appended.
type AttestationRef struct {
	Seq    uint64        `json:"seq"`
	Path   string        `json:"path"`
	Blake3 digest.Digest `json:"blake3"`
	Commit string        `json:"commit"`
}

// noPolicyError: the revision has no policy files (apply records result
// none).
type noPolicyError struct{ ref string }

func (e noPolicyError) Error() string {
	return fmt.Sprintf("policy: no %s/*%s on %s", policy.Dir, policy.Ext, e.ref)
}

// LoadPolicy reads policy/*.rego from the main branch's tip (not the work
// tree) and compiles it. Entries are bounded before they are read: at most
// policy.MaxFiles .rego blobs of at most policy.MaxFileSize bytes; other
// entries of policy/ (a README, sub-directories) are ignored.
func (ws *Workspace) LoadPolicy() (*policy.Bundle, error) { return ws.loadPolicyAt(ws.MainRef()) }

// loadPolicyAt is LoadPolicy at a revision.
func (ws *Workspace) loadPolicyAt(ref string) (*policy.Bundle, error) {
	files, err := ws.policyFiles(ref)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, notFoundErr(noPolicyError{ref}, "vmc-git init writes a default set; commit policy files to the main branch")
	}
	b, err := policy.Compile(files)
	if err != nil {
		return nil, invalidErr(err)
	}
	return b, nil
}

// policyFiles reads policy/*.rego at ref, bounded as LoadPolicy says,
// without compiling them (none: an empty list).
func (ws *Workspace) policyFiles(ref string) ([]policy.File, error) {
	return policyFilesIn(ws.Ledger.GitDir, ref)
}

// policyFilesIn is policyFiles in the repository at dir.
func policyFilesIn(dir, ref string) ([]policy.File, error) {
	out, err := gitCmd(dir, "ls-tree", "-l", "-z", ref, "--", policy.Dir+"/")
	if err != nil {
		return nil, notFoundErr(fmt.Errorf("policy: reading %s: %w", ref, err))
	}
	var files []policy.File
	for _, e := range strings.Split(out, "\x00") {
		meta, name, ok := strings.Cut(e, "\t")
		f := strings.Fields(meta)
		if !ok || len(f) != 4 || !strings.HasSuffix(name, policy.Ext) {
			continue
		}
		if f[1] != "blob" || (f[0] != "100644" && f[0] != "100755") {
			return nil, invalidErr(fmt.Errorf("policy: %s on %s is a %s, want a file", name, ref, f[1]))
		}
		if err := policy.CheckFileName(name); err != nil {
			return nil, invalidErr(err)
		}
		if len(files) == policy.MaxFiles {
			return nil, invalidErr(fmt.Errorf("policy: more than %d files in %s/ on %s", policy.MaxFiles, policy.Dir, ref))
		}
		size, err := strconv.ParseInt(f[3], 10, 64)
		if err != nil || size > policy.MaxFileSize {
			return nil, invalidErr(fmt.Errorf("policy: %s is %s bytes, at most %d", name, f[3], policy.MaxFileSize))
		}
		b, err := gitCmd(dir, "cat-file", "blob", f[2])
		if err != nil {
			return nil, err
		}
		files = append(files, policy.File{Name: name, Data: []byte(b)})
	}
	return files, nil
}

// PolicyInput is the input document of a check: the provider's servers,
// firewalls, networks, volumes and primary and floating IPs now or, with a plan file, the state that plan would leave.
func (ws *Workspace) PolicyInput(ctx context.Context, planFile string) (*policy.Document, error) {
	prov, err := ws.Provider()
	if err != nil {
		return nil, err
	}
	servers, err := prov.Servers(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("policy: listing servers: %w", err)
	}
	res := map[provider.Kind][]provider.Resource{}
	for _, k := range []provider.Kind{provider.KindFirewall, provider.KindNetwork, provider.KindVolume, provider.KindPrimaryIP, provider.KindFloatingIP} {
		if res[k], err = prov.Resources(ctx, k, ""); err != nil {
			return nil, fmt.Errorf("policy: listing %ss: %w", k, err)
		}
	}
	doc, err := policy.FromProvider(servers, res)
	if err != nil {
		return nil, invalidErr(err)
	}
	if planFile == "" {
		return doc, nil
	}
	p, _, err := LoadPlan(planFile)
	if err != nil {
		return nil, err
	}
	if doc, err = policy.AfterPlan(doc, p); err != nil {
		return nil, invalidErr(err)
	}
	return doc, nil
}

// PolicyCheck evaluates the main branch's policy over the input (see
// PolicyInput) and, with req.Attest, appends an attestation receipt signed
// by id (which must then be non-nil). The policy is evaluated whether or
// not it is the pinned bundle (a check only reports); the report and the
// attestation say which bundle it was and whether it is the pinned one. Nothing is written when loading,
// compiling or evaluating fails. A deny finding is not an error: the
// caller reads Pass.
func (ws *Workspace) PolicyCheck(ctx context.Context, req PolicyRequest, id *Identity) (*PolicyReport, error) {
	if req.Attest && id == nil {
		return nil, usagef("policy check --attest needs a signing key")
	}
	b, err := ws.LoadPolicy()
	if err != nil {
		return nil, err
	}
	doc, err := ws.PolicyInput(ctx, req.PlanFile)
	if err != nil {
		return nil, err
	}
	res, err := b.Eval(ctx, doc, req.Limits)
	if err != nil {
		if errors.Is(err, policy.ErrInputTooLarge) {
			return nil, invalidErr(err)
		}
		return nil, invalidErr(err, "fix the policy on the main branch")
	}
	raw, err := doc.Encode()
	if err != nil {
		return nil, err
	}
	pin := ws.pinnedOf()
	rep := &PolicyReport{Policy: b.Blake3(), Pin: pin, Pinned: pin == b.Blake3().String(), Files: b.Names(), Source: doc.Source, Plan: doc.Plan, Input: digest.Of(raw),
		Resources: len(doc.Servers) + len(doc.Firewalls) + len(doc.Networks) + len(doc.Volumes) + len(doc.IPs),
		Pass:      res.Pass(), Deny: res.Deny, Warn: res.Warn}
	if !req.Attest {
		return rep, nil
	}
	st, err := policy.Statement(b, pin, doc, res)
	if err != nil {
		return nil, err
	}
	summary := fmt.Sprintf("policy check: %d deny, %d warn over %d resources", len(res.Deny), len(res.Warn), rep.Resources)
	if doc.Plan != "" {
		summary = fmt.Sprintf("policy check of plan %s: %d deny, %d warn", doc.Plan, len(res.Deny), len(res.Warn))
	}
	if err := receipt.ValidSummary(summary); err != nil {
		summary = "policy check"
	}
	if rep.Attestation, err = ws.appendAttestation(*id, req.Push, summary, st); err != nil {
		return nil, err
	}
	return rep, nil
}

// appendAttestation appends an attestation receipt holding st, signed by
// id, and with p.On publishes it (a receipt written again on a newer remote
// head is reported at its new seq).
func (ws *Workspace) appendAttestation(id Identity, p Push, summary string, st json.RawMessage) (*AttestationRef, error) {
	var w *gitledger.Written
	synced, err := ws.Publishing(id, p, func() error {
		var err error
		w, err = ws.Ledger.Append(id.Signer, id.KID, func(*gitledger.Tip) (*gitledger.Draft, error) {
			return &gitledger.Draft{Receipt: receipt.Receipt{Kind: receipt.KindAttestation, Summary: ws.summary(summary), Attestation: st}}, nil
		})
		return refusedIfConflict(err)
	})
	if err != nil {
		return nil, err
	}
	if w, _, err = ws.AfterSync(w, synced); err != nil {
		return nil, err
	}
	return &AttestationRef{Seq: w.Seq, Path: w.Path, Blake3: w.Sums.Blake3, Commit: w.Commit.String()}, nil
}

// writeDefaultPolicy writes the default policy set under root/policy and
// returns the paths written, relative to root.
func writeDefaultPolicy(root string) ([]string, error) {
	if err := os.MkdirAll(filepath.Join(root, policy.Dir), 0o755); err != nil {
		return nil, err
	}
	var paths []string
	for _, f := range policy.Defaults() {
		if err := os.WriteFile(filepath.Join(root, filepath.FromSlash(f.Name)), f.Data, 0o644); err != nil {
			return nil, err
		}
		paths = append(paths, f.Name)
	}
	return paths, nil
}

// reviewPolicy evaluates the policy at base over the state p would leave,
// for plan review: a policy that is missing, does not compile or fails is
// shown as the outcome's Error, not returned.
func (ws *Workspace) reviewPolicy(ctx context.Context, base string, p *plans.Plan) *plans.PolicyOutcome {
	b, err := ws.loadPolicyAt(base)
	if err != nil {
		return &plans.PolicyOutcome{Error: err.Error()}
	}
	out := &plans.PolicyOutcome{Blake3: b.Blake3().String()}
	doc, err := ws.PolicyInput(ctx, "")
	if err == nil {
		doc, err = policy.AfterPlan(doc, p)
	}
	var res *policy.Result
	if err == nil {
		res, err = b.Eval(ctx, doc, policy.Limits{})
	}
	if err != nil {
		out.Error = err.Error()
		return out
	}
	out.Deny, out.Warn = findingLines(nil, res.Deny), findingLines(nil, res.Warn)
	return out
}

// findingLines appends each finding of fs to out as "resource [rule]
// reason" (resource "-" when it names none), the form plan review and plan
// status show.
func findingLines(out []string, fs []policy.Finding) []string {
	for _, f := range fs {
		r := f.Resource
		if r == "" {
			r = "-"
		}
		out = append(out, fmt.Sprintf("%s [%s] %s", r, f.Rule, f.Reason))
	}
	return out
}
