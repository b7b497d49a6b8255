package workspace

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/receipt"
)

// OverrideApproval is an override file ApproveOverride wrote.
type OverrideApproval struct {
	Plan  string   `json:"plan"`
	KID   string   `json:"kid"`
	Rules []string `json:"rules"`
	Path  string   `json:"override"`
}

// ApproveOverride signs, as admin id, an override of policy rules for the
// plan's exact bytes b (read from file), with an optional reason, and
// writes <id>.overrides/<kid>.json beside file (package plans has the
// format). When ws has a ledger, it refuses a key the trust state at the
// ledger head would not count as an admin. For humans only: the MCP
// server has no way to reach it.
func ApproveOverride(ws *Workspace, file string, p *plans.Plan, b []byte, id Identity, rules []string, reason string) (*OverrideApproval, error) {
	if len(rules) == 0 {
		return nil, usagef("approve --override: name at least one rule")
	}
	for _, r := range rules {
		if err := receipt.ValidRule(r); err != nil {
			return nil, usageErr(err)
		}
	}
	if len(reason) > receipt.MaxReason {
		return nil, usagef("approve --reason: at most %d bytes", receipt.MaxReason)
	}
	if ws != nil {
		if tip, err := ws.Ledger.Tip(); err == nil {
			if _, err := tip.Trust.Authorize(id.KID, id.Signer.PublicKey(), time.Now(), keys.RoleAdmin); err != nil {
				return nil, refusedErr(fmt.Errorf("override would not count: %w", err), "an override is signed by a key with the admin role")
			}
		}
	}
	f, err := plans.SignOverride(id.Signer, id.KID, b, rules, reason)
	if err != nil {
		return nil, usageErr(err)
	}
	parsed, err := plans.ParseOverride(f)
	if err != nil {
		return nil, err // SignOverride writes only what ParseOverride accepts
	}
	out := filepath.Join(filepath.Dir(file), p.ID+plans.OverridesSuffix, id.KID+".json")
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(out, f, 0o644); err != nil {
		return nil, err
	}
	return &OverrideApproval{Plan: p.ID, KID: id.KID, Rules: parsed.Rules, Path: out}, nil
}
