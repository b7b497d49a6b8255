package apply

import (
	"slices"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/receipt"
)

// appliedIndex is the ledger's apply receipts by server, kept by an Applier
// for its whole run so that the freshness check of each plan (which servers
// an apply changed since the plan was made) reads every receipt once per
// run instead of every receipt since the plan's head per plan, which made a
// batch of plans quadratic. It covers receipts from..to-1 and remembers the
// blake3 of receipt to-1: a ledger that moved other than forward (a rewind
// after a lost race with another applier) is noticed there, and the index
// is rebuilt. The ledger is verified before each check (verifyLedger), and
// receipts chain by prev_blake3, so an equal blake3 at to-1 vouches for
// every receipt below it. A receipt the run appended itself is added from
// the bytes in hand (written), not read back; while the branch is still at
// that commit (lastCommit), cover reads nothing.
type appliedIndex struct {
	mu         sync.Mutex
	from, to   uint64
	last       digest.Digest
	lastCommit plumbing.Hash // the commit of receipt to-1, when this run wrote it
	bySeq      map[uint64]plans.Applied
	byServer   map[string][]uint64
}

// indexedView is a ledgerView whose AppliedAfter answers from the index.
type indexedView struct {
	*ledgerView
	ix *appliedIndex
}

// freshView returns the view of the ledger tip for plans.CheckFresh, with
// the run's index of apply receipts.
func (a *Applier) freshView(l *gitledger.Ledger) (plans.LedgerView, error) {
	v, err := newLedgerView(l)
	if err != nil {
		return nil, err
	}
	if a.index == nil {
		a.index = &appliedIndex{}
	}
	return indexedView{v, a.index}, nil
}

func (v indexedView) AppliedAfter(after uint64, servers []string) ([]plans.Applied, error) {
	v.ix.mu.Lock()
	defer v.ix.mu.Unlock()
	if err := v.ix.cover(v.ledgerView, after+1); err != nil {
		return nil, err
	}
	var seqs []uint64
	for _, s := range servers {
		for _, seq := range v.ix.byServer[s] {
			if seq > after {
				seqs = append(seqs, seq)
			}
		}
	}
	slices.Sort(seqs)
	seqs = slices.Compact(seqs)
	out := make([]plans.Applied, len(seqs))
	for i, seq := range seqs {
		out[i] = v.ix.bySeq[seq]
	}
	return out, nil
}

// cover extends the index to receipts lo..tip of v, rebuilding it if the
// ledger moved other than forward since it was last extended.
func (ix *appliedIndex) cover(v *ledgerView, lo uint64) error {
	tip := v.TipSeq()
	if ix.to > 0 && ix.to-1 == tip && !ix.lastCommit.IsZero() && v.r.Tip.Commit == ix.lastCommit && ix.from <= lo {
		return nil // the branch is at the receipt this run wrote last
	}
	ix.lastCommit = plumbing.ZeroHash
	if ix.to > 0 {
		ok := ix.to-1 <= tip
		if ok {
			_, sum, err := v.ReceiptAt(ix.to - 1)
			ok = err == nil && sum == ix.last
		}
		if !ok {
			ix.from, ix.to, ix.bySeq, ix.byServer = 0, 0, nil, nil
		}
	}
	if ix.bySeq == nil {
		ix.bySeq, ix.byServer = map[uint64]plans.Applied{}, map[string][]uint64{}
		ix.from, ix.to = lo, lo
	}
	for ; ix.to <= tip; ix.to++ {
		sum, err := ix.add(v, ix.to)
		if err != nil {
			return err
		}
		ix.last = sum
	}
	for ix.from > lo {
		if _, err := ix.add(v, ix.from-1); err != nil {
			return err
		}
		ix.from--
	}
	return nil
}

func (ix *appliedIndex) add(v *ledgerView, seq uint64) (digest.Digest, error) {
	r, sum, err := v.ReceiptAt(seq)
	if err != nil {
		return sum, err
	}
	ix.addReceipt(seq, r)
	return sum, nil
}

// written adds the receipt this run just appended (w, on top of the
// receipt to-1), from the bytes in hand. An index not ending just below it
// is left alone: the next cover reads what it lacks.
func (ix *appliedIndex) written(w *gitledger.Written) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.bySeq == nil || ix.to != w.Seq || w.Receipt.PrevBlake3 != ix.last {
		return
	}
	ix.addReceipt(w.Seq, w.Receipt)
	ix.to, ix.last, ix.lastCommit = w.Seq+1, w.Sums.Blake3, w.Commit
}

func (ix *appliedIndex) addReceipt(seq uint64, r *receipt.Receipt) {
	if r.Kind != receipt.KindApply {
		return
	}
	a := plans.Applied{Seq: seq, Plan: r.Apply.Plan.ID, Servers: plans.AppliedServers(r)}
	ix.bySeq[seq] = a
	for _, s := range slices.Compact(slices.Sorted(slices.Values(a.Servers))) {
		ix.byServer[s] = append(ix.byServer[s], seq)
	}
}
