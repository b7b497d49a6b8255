package workspace

import (
	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/receipt"
)

// Record appends a manual receipt: an operation done by hand outside
// vmc-git (break-glass), signed by id. details, if not nil, is a canonical
// JSON object with the details.
func (ws *Workspace) Record(id Identity, summary string, details []byte) (*gitledger.Written, error) {
	if err := receipt.ValidSummary(summary); err != nil {
		return nil, usageErr(err)
	}
	m := &receipt.Manual{Details: details}
	w, err := ws.Ledger.Append(id.Signer, id.KID, func(*gitledger.Tip) (*gitledger.Draft, error) {
		return &gitledger.Draft{Receipt: receipt.Receipt{Kind: receipt.KindManual, Summary: ws.summary(summary), Manual: m}}, nil
	})
	if err != nil {
		return nil, refusedIfConflict(err)
	}
	return w, nil
}
