package gitledger

import (
	"fmt"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/receipt"
)

// signHistory remembers who signed which receipt, so that a later
// revocation of a key as compromised from time T can name the receipts that
// key signed at or after T (by receipt time, which never decreases along
// the chain). It keeps, per key, runs of consecutive receipts (and of
// approvals used by consecutive apply receipts) with the times of their
// first and last receipt, not one record a receipt: a ledger signed by one
// key for a million receipts is one run. A revocation whose time falls
// inside a run finds the first receipt at or after it by reading receipt
// times back from the ledger (a binary search in the run).
type signHistory struct {
	signed      map[string][]signRun // by key fingerprint
	invalidated []Invalidated
	lastPub     *keys.Entry // the last signer and its fingerprint (computing one is a hash)
	lastFP      string
}

// signRun is receipts from..to (inclusive) signed, or with approvals given,
// by one key; first and last are the times of receipts from and to.
type signRun struct {
	from, to    uint64
	first, last time.Time
	approval    bool // an approval of the plan the receipt applied, not the receipt itself
}

func newSignHistory() *signHistory { return &signHistory{signed: map[string][]signRun{}} }

func (h *signHistory) fingerprint(e *keys.Entry) string {
	if e != h.lastPub {
		h.lastPub, h.lastFP = e, keys.Fingerprint(e.Pub)
	}
	return h.lastFP
}

func (h *signHistory) record(fp string, seq uint64, at time.Time, approval bool) {
	runs := h.signed[fp]
	if n := len(runs); n > 0 && runs[n-1].approval == approval && runs[n-1].to+1 == seq {
		runs[n-1].to, runs[n-1].last = seq, at
		return
	}
	h.signed[fp] = append(runs, signRun{from: seq, to: seq, first: at, last: at, approval: approval})
}

func (h *signHistory) add(e *keys.Entry, seq uint64, at time.Time) {
	h.record(h.fingerprint(e), seq, at, false)
}

// addApprovals records the approvals an apply receipt used, by approver
// key, as signed at the receipt's time.
func (h *signHistory) addApprovals(t *keys.Trust, r *receipt.Receipt, seq uint64, at time.Time) {
	if r.Kind != receipt.KindApply || r.Apply == nil {
		return
	}
	for _, kid := range r.Apply.Plan.Approvals {
		if e := t.Key(kid); e != nil {
			h.record(keys.Fingerprint(e.Pub), seq, at, true)
		}
	}
}

// revoked records the receipts a compromise revocation invalidates; timeOf
// reads the time of an earlier receipt.
func (h *signHistory) revoked(before *keys.Trust, r *receipt.Receipt, timeOf func(uint64) (time.Time, error)) error {
	p := r.Keys.Proposal
	if p.Op != receipt.KeysRevoke || p.Reason != receipt.ReasonCompromised {
		return nil
	}
	e := before.Key(p.KID)
	if e == nil {
		return nil
	}
	from := r.Time()
	if p.At != "" {
		from, _ = keys.ParseTime(p.At)
	}
	for _, run := range h.signed[keys.Fingerprint(e.Pub)] {
		if run.last.Before(from) {
			continue
		}
		first := run.from
		if run.first.Before(from) {
			// The first receipt of the run at or after from: run.to is.
			lo, hi := run.from+1, run.to
			for lo < hi {
				m := lo + (hi-lo)/2
				at, err := timeOf(m)
				if err != nil {
					return fmt.Errorf("receipts signed after the compromise: %w", err)
				}
				if at.Before(from) {
					lo = m + 1
				} else {
					hi = m
				}
			}
			first = lo
		}
		for seq := first; seq <= run.to; seq++ {
			h.invalidated = append(h.invalidated, Invalidated{Seq: seq, KID: p.KID, RevokedBy: r.Seq, Compromise: keys.FormatTime(from), Approval: run.approval})
		}
	}
	return nil
}

// receiptTimes reads receipt times from the tree of commit c.
func (l *Ledger) receiptTimes(c plumbing.Hash) func(uint64) (time.Time, error) {
	var rd *Reader
	return func(seq uint64) (time.Time, error) {
		if rd == nil {
			var err error
			if rd, err = l.NewReaderAt(c); err != nil {
				return time.Time{}, err
			}
		}
		e, err := rd.Receipt(seq)
		if err != nil {
			return time.Time{}, err
		}
		return e.Receipt.Time(), nil
	}
}
