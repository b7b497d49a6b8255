package workspace

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/provider"
	"github.com/vmc-git/vmc-git/receipt"
)

// PlanRequest is what MakePlan needs.
type PlanRequest struct {
	ID        string // plan id; "" for SERVER-OP-TIMESTAMP
	Summary   string // one line for reviewers; "" for a generated one
	CreatedBy string // the planner's kid (may be "")
	Out       string // the plan file; "" for plans/<id>.json in the work tree
	Actions   []provider.Action
}

// MadePlan is a plan MakePlan wrote.
type MadePlan struct {
	Plan   *plans.Plan
	Bytes  []byte // the plan file's exact (canonical) bytes
	Path   string
	Blake3 digest.Digest
}

// MakePlan runs the dry run against the provider (reading every server the
// actions touch, and the ledger head) and writes the plan file, which must
// not exist: plans are immutable.
func (ws *Workspace) MakePlan(ctx context.Context, req PlanRequest) (*MadePlan, error) {
	tip, err := ws.Ledger.Tip()
	if err != nil {
		return nil, err
	}
	prov, err := ws.Provider()
	if err != nil {
		return nil, err
	}
	p, err := plans.Make(ctx, prov, plans.Request{ID: req.ID, Ledger: tip.Head.Ledger,
		Head: plans.LedgerRef{Seq: tip.Head.Seq, Blake3: tip.Head.Blake3}, CreatedBy: req.CreatedBy, Summary: req.Summary, Actions: req.Actions})
	switch {
	case errors.Is(err, plans.ErrDryRun):
		return nil, refusedErr(err)
	case errors.Is(err, provider.ErrInvalidAction):
		return nil, usageErr(err)
	case err != nil:
		return nil, err // the provider could not be read
	}
	b, err := p.Encode()
	if err != nil {
		return nil, err
	}
	out := req.Out
	if out == "" {
		if ws.Root == "" {
			return nil, usagef("no work tree: give --out FILE")
		}
		out = filepath.Join(ws.Root, plans.Path(p.ID))
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, refusedErr(fmt.Errorf("write plan: %w", err), "plans are immutable: choose another --id")
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return &MadePlan{Plan: p, Bytes: b, Path: out, Blake3: digest.Blake3(b)}, nil
}

// ValidatePlanRequest checks a request's id and summary before anything is
// opened.
func ValidatePlanRequest(req PlanRequest) error {
	if req.ID != "" {
		if err := plans.ValidIDFor(req.ID, req.Actions); err != nil {
			return usageErr(err)
		}
	}
	if req.Summary != "" {
		if err := receipt.ValidSummary(req.Summary); err != nil {
			return usageErr(fmt.Errorf("--summary: %w", err))
		}
	}
	return nil
}

// LoadPlan reads a plan file; a file that is not a valid plan is invalid.
func LoadPlan(file string) (*plans.Plan, []byte, error) {
	p, b, err := plans.Load(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, notFoundErr(err, "plan files are plans/<id>.json in the work tree (relative to -C DIR when given)")
	}
	if err != nil {
		return nil, nil, invalidErr(err)
	}
	return p, b, nil
}

// Approval is an approval Approve wrote.
type Approval struct {
	Plan string `json:"plan"`
	KID  string `json:"kid"`
	Path string `json:"approval"`
}

// Approve signs the plan's exact bytes b (read from file) as id (SSHSIG,
// namespace vmc-plan) and writes <id>.approvals/<kid>.sig beside file.
// When ws is not nil and has a ledger, it refuses a key the trust state at
// the ledger head would not count as an approver.
func Approve(ws *Workspace, file string, p *plans.Plan, b []byte, id Identity) (*Approval, error) {
	if ws != nil {
		if tip, err := ws.Ledger.Tip(); err == nil {
			if _, err := tip.Trust.Authorize(id.KID, id.Signer.PublicKey(), time.Now(), keys.RoleApprover); err != nil {
				if k := trustedKID(ws.Ledger, id.Signer); k != "" && k != id.KID {
					return nil, refusedErr(fmt.Errorf("approval would not count: %w; this key is bound to %s in the ledger's trust", err, k), "sign as that key id: --kid "+k)
				}
				return nil, refusedErr(fmt.Errorf("approval would not count: %w", err))
			}
		}
	}
	sig, err := plans.Approve(id.Signer, b)
	if err != nil {
		return nil, err
	}
	out := filepath.Join(filepath.Dir(file), p.ID+plans.ApprovalsSuffix, id.KID+".sig")
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(out, sig, 0o644); err != nil {
		return nil, err
	}
	return &Approval{Plan: p.ID, KID: id.KID, Path: out}, nil
}

// PlanStatus is a plan's approvals and whether it is applied.
type PlanStatus struct {
	ID        string               `json:"id"`
	Approvals plans.ApprovalStatus `json:"approvals"`
	Approved  bool                 `json:"approved"`
	Applied   bool                 `json:"applied"`
}

// Applied reports whether plan id has a receipt (gitledger.Reader.Applied:
// the one "applied?" rule).
func (ws *Workspace) Applied(id string) (bool, error) { return ws.Ledger.Applied(id) }
