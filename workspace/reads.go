package workspace

import (
	"bytes"
	"fmt"

	"github.com/vmc-git/vmc-git/apply"
	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/merkle"
	"github.com/vmc-git/vmc-git/receipt"
)

// Verify checks the ledger branch (gitledger.Ledger.Verify). Without
// opt.Genesis, the config's genesis_blake3 pins the genesis.
func (ws *Workspace) Verify(opt gitledger.VerifyOptions) (*gitledger.Report, error) {
	if opt.Genesis == nil && ws.Config != nil {
		opt.Genesis = &ws.Config.GenesisBlake3
	}
	rep, err := ws.Ledger.Verify(opt)
	if err != nil || ws.Config == nil {
		return rep, err
	}
	// The configuration must agree with what the ledger pins.
	tip, err := ws.Ledger.Tip()
	if err != nil {
		return nil, err
	}
	if err := apply.CheckProvider(tip.Trust, ws.Config.Provider); err != nil {
		return nil, invalidErr(err)
	}
	return rep, nil
}

// Receipt returns the ledger's receipt seq.
func (ws *Workspace) Receipt(seq uint64) (*gitledger.Entry, error) {
	r, err := ws.Ledger.NewReader()
	if err != nil {
		return nil, err
	}
	e, err := r.Receipt(seq)
	if err != nil {
		return nil, notFoundErr(err)
	}
	return e, nil
}

// LogEntry is one receipt in Log's list.
type LogEntry struct {
	Seq       uint64        `json:"seq"`
	Kind      receipt.Kind  `json:"kind"`
	CreatedAt string        `json:"created_at"`
	KID       string        `json:"kid"`
	Summary   string        `json:"summary"`
	Blake3    digest.Digest `json:"blake3"`
	Anchored  []AnchorRef   `json:"anchored_by,omitempty"` // anchor receipts whose snapshot ends here
}

// Log lists the last n receipts (n <= 0: all), newest first.
func (ws *Workspace) Log(n int) ([]LogEntry, error) {
	r, err := ws.Ledger.NewReader()
	if err != nil {
		return nil, err
	}
	rows := []LogEntry{}
	var shown []*receipt.Receipt
	for seq, i := int64(r.Tip.Head.Seq), 0; seq >= 0 && (n <= 0 || i < n); seq, i = seq-1, i+1 {
		e, err := r.Receipt(uint64(seq))
		if err != nil {
			return nil, err
		}
		rows = append(rows, LogEntry{e.Receipt.Seq, e.Receipt.Kind, e.Receipt.CreatedAt, e.Receipt.KID, e.Receipt.Summary, digest.Blake3(e.Bytes), nil})
		shown = append(shown, e.Receipt)
	}
	// An anchor comes after the receipts it covers: those shown are
	// anchored only by anchor receipts shown.
	by := anchoredBy(shown)
	for i := range rows {
		rows[i].Anchored = by[rows[i].Seq]
	}
	return rows, nil
}

// VerifyReceipt checks that body (with its signature sig) is this ledger's
// receipt: the same ledger id, the same bytes as the ledger's receipt at its
// seq, and a signature by the key trusted for its kid at the previous
// receipt. A signature means something only for this ledger's receipt (a
// forged genesis would otherwise vouch for itself).
func (ws *Workspace) VerifyReceipt(r *receipt.Receipt, body, sig []byte) error {
	// The tip's trust state vouches for the signature: verify the ledger up
	// to it first (from the last verified head), never trust a local tip
	// someone may have pushed.
	var pin *digest.Digest
	if ws.Config != nil {
		pin = &ws.Config.GenesisBlake3
	}
	if err := ws.Ledger.VerifyTip(pin); err != nil {
		return invalidErr(err)
	}
	tip, err := ws.Ledger.Tip()
	if err != nil {
		return err
	}
	if r.Ledger != tip.Head.Ledger {
		return invalidErr(fmt.Errorf("receipt %d is for ledger %s, this repository's is %s", r.Seq, r.Ledger, tip.Head.Ledger))
	}
	rd, err := ws.Ledger.NewReader()
	if err != nil {
		return err
	}
	mine, err := rd.Receipt(r.Seq)
	if err != nil {
		return invalidErr(fmt.Errorf("receipt %d is not in this ledger (it ends at receipt %d)", r.Seq, tip.Head.Seq))
	}
	if !bytes.Equal(mine.Bytes, body) {
		return invalidErr(fmt.Errorf("receipt %d differs from this ledger's receipt %d (blake3 %s, the ledger's %s)", r.Seq, r.Seq, digest.Blake3(body), digest.Blake3(mine.Bytes)))
	}
	if err := ws.Ledger.VerifyEntry(tip, r, body, sig); err != nil {
		return invalidErr(err)
	}
	return nil
}

// Leaves returns the Merkle leaf hashes of the first size receipts (0: all)
// and that size.
func (ws *Workspace) Leaves(size uint64) ([]merkle.Hash, uint64, error) {
	r, err := ws.Ledger.NewReader()
	if err != nil {
		return nil, 0, err
	}
	n := r.Tip.Head.Seq + 1
	if size == 0 {
		size = n
	}
	if size > n {
		return nil, 0, notFoundErr(fmt.Errorf("tree of %d receipts: the ledger has %d", size, n))
	}
	leaves, err := gitledger.LeafHashes(r, 0, size)
	return leaves, size, err
}
