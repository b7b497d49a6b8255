package gitledger

import (
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vmc-git/vmc-git/internal/gitobj"
	"github.com/vmc-git/vmc-git/internal/layout"
	"github.com/vmc-git/vmc-git/receipt"
)

// Applied reports whether plan id has a receipt at the reader's tip: the
// one "is this plan applied?" rule. Every apply receipt, whatever its
// status (succeeded, failed, refused), copies its plan to plans/<id>.json
// in the ledger tree, and the copy stays in every later tree, so the
// answer costs one tree lookup.
func (r *Reader) Applied(id string) (bool, error) {
	es, err := r.dir(PlansDir)
	if err != nil {
		// No plans/ directory yet: nothing was applied.
		if _, ok := gitobj.FindEntry(r.Tip.trees.root, PlansDir); !ok {
			return false, nil
		}
		return false, err
	}
	_, ok := gitobj.FindEntry(es, id+layout.PlanExt)
	return ok, nil
}

// AppliedSeq is Applied with the seq of the apply receipt that carries plan
// id, searched newest first (O(n) in the receipts after it). ok with seq 0
// and no receipt found cannot happen on a verified ledger.
func (r *Reader) AppliedSeq(id string) (seq uint64, ok bool, err error) {
	if ok, err := r.Applied(id); !ok || err != nil {
		return 0, false, err
	}
	for s := int64(r.Tip.Head.Seq); s >= 0; s-- {
		e, err := r.Receipt(uint64(s))
		if err != nil {
			return 0, true, nil
		}
		if e.Receipt.Kind == receipt.KindApply && e.Receipt.Apply.Plan.ID == id {
			return uint64(s), true, nil
		}
	}
	return 0, true, nil
}

// Applied is Reader.Applied at the ledger's tip.
func (l *Ledger) Applied(id string) (bool, error) {
	r, err := l.NewReader()
	if err != nil {
		return false, err
	}
	return r.Applied(id)
}

// ReaderAt returns a reader on a tip already read (by Tip, or given to an
// Append build function), without reading it again.
func (l *Ledger) ReaderAt(t *Tip) *Reader {
	return &Reader{l: l, Tip: t, dirCache: map[string][]gitobj.TreeEntry{}}
}

// TipCommit returns the commit the ledger branch points at, reading only
// the ref: whether a tip read earlier is still the tip.
func (l *Ledger) TipCommit() (plumbing.Hash, error) {
	ref, err := l.repo.Storer.Reference(l.Ref)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return plumbing.ZeroHash, ErrNoLedger
	}
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("read %s: %w", l.Ref, err)
	}
	return ref.Hash(), nil
}
