package gitledger

import (
	"fmt"

	"golang.org/x/crypto/ssh"

	"github.com/vmc-git/vmc-git/anchor"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/internal/gitobj"
	"github.com/vmc-git/vmc-git/merkle"
	"github.com/vmc-git/vmc-git/receipt"
)

// Anchor receipts.
//
// An anchor receipt is checked like any other receipt and then by
// anchor.CheckBody: its statement's root and head_blake3 must be the
// ledger's own at the statement's leaf_count (recomputed here from the
// receipts, never taken from a tag or a file), its statement signature must
// be by the receipt's signer, and its substrate proof must verify offline
// with the substrate's registered verifier (package anchor). A build
// without the substrate's package refuses the receipt. The writer runs the
// same check before it writes.

// anchorWalk is what one verification walk keeps for anchor receipts: a
// compact range over the receipts read so far (receipts below the current
// one never change along a verified chain), the caller's options and the
// anchors checked.
type anchorWalk struct {
	rg      merkle.Range
	opt     *anchor.Options
	checked []AnchorChecked
}

// AnchorChecked is one verified anchor receipt.
type AnchorChecked struct {
	Seq uint64 `json:"seq"`
	*anchor.Checked
}

// checkAnchor verifies anchor receipt r, whose commit has tree root, signed
// by signer, in a ledger of the given format (receipt.Format1 or Format2).
// w may be nil (the writer).
func (l *Ledger) checkAnchor(w *anchorWalk, format int, root []gitobj.TreeEntry, r *receipt.Receipt, signer ssh.PublicKey) (*anchor.Checked, error) {
	if w == nil {
		w = &anchorWalk{}
	}
	rd := &Reader{l: l, Tip: &Tip{Head: receipt.Head{V: format}, trees: &pathTrees{root: root}}, dirCache: map[string][]gitobj.TreeEntry{}}
	rootAt := func(size uint64) (merkle.Hash, digest.Digest, error) {
		if size == 0 || size > r.Seq {
			return merkle.Hash{}, digest.Zero, fmt.Errorf("size %d is outside the receipts before this one (1..%d)", size, r.Seq)
		}
		if w.rg.Size > size {
			w.rg = merkle.Range{}
		}
		leaves, err := LeafHashes(rd, w.rg.Size, size)
		if err != nil {
			return merkle.Hash{}, digest.Zero, err
		}
		for _, h := range leaves {
			w.rg.Append(h)
		}
		last, err := rd.File(rd.Path(size - 1))
		if err != nil {
			return merkle.Hash{}, digest.Zero, err
		}
		return w.rg.Root(), digest.Blake3(last), nil
	}
	c, err := anchor.CheckBody(r.Anchor, r.Ledger, r.Seq, signer, rootAt, w.opt)
	if err != nil {
		return nil, err
	}
	w.checked = append(w.checked, AnchorChecked{Seq: r.Seq, Checked: c})
	return c, nil
}

// CheckAnchorReceipt verifies anchor receipt seq as read by r: its signer
// was trusted with the role at receipt seq-1, and its body passes
// anchor.CheckBody against the ledger's own roots. It does not check the
// chain around the receipt (Verify does).
func (l *Ledger) CheckAnchorReceipt(r *Reader, seq uint64, opt *anchor.Options) (*AnchorChecked, error) {
	e, err := r.Receipt(seq)
	if err != nil {
		return nil, err
	}
	if e.Receipt.Kind != receipt.KindAnchor {
		return nil, fmt.Errorf("receipt %d is a %s receipt, not an anchor", seq, e.Receipt.Kind)
	}
	trust, err := l.TrustAt(r.Tip, seq-1)
	if err != nil {
		return nil, err
	}
	signer, err := trust.Authorize(e.Receipt.KID, nil, e.Receipt.Time(), receipt.Roles[receipt.KindAnchor]...)
	if err != nil {
		return nil, fmt.Errorf("receipt %d: %w", seq, err)
	}
	w := &anchorWalk{opt: opt}
	if _, err := l.checkAnchor(w, r.Tip.Head.V, r.Tip.trees.root, e.Receipt, signer.Pub); err != nil {
		return nil, &VerifyError{Seq: seq, Rule: RuleAnchor, Err: err}
	}
	return &w.checked[0], nil
}
