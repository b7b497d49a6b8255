package workspace

import (
	"github.com/vmc-git/vmc-git/receipt"
)

// pinPolicy has alice (admin) pin the main branch's policy, as vmc-git
// policy pin does.
func (w *world) pinPolicy(ws *Workspace) {
	w.t.Helper()
	if _, err := ws.ChangeTrust(receipt.KeysPolicyBundle, func() (TrustChange, error) {
		tc, _, err := ws.PolicyPinChange("")
		return tc, err
	}, w.ids["alice"]); err != nil {
		w.t.Fatalf("pin the policy: %v", err)
	}
}
