package gitledger

// Incremental verification.
//
// A verification from genesis with signatures and Remember records the head
// it checked in .git/vmc/verified/<ref>.json (Verified): seq, commit and
// blake3, and for the next run the genesis blake3, the receipts a
// compromise revocation invalidated and the snapshot tags it checked (size
// and tag object). Verify with Remember (and neither Full nor From) then
// starts from that head: it walks first parents from the tip back to the
// remembered commit, takes the state in that commit's tree (HEAD.json and
// keys/trust.json, which every verifier re-derived and compared when it
// checked that commit), checks the k new receipts with every rule, and
// checks the snapshot tags not recorded yet from the stored hashes of the
// newest recorded one (tiles.go). So it reads O(k) objects, plus
// O(log n) per new snapshot tag; the report says Incremental and From.
//
// It falls back to the walk from genesis, which also gives the error when
// there is one, when the tip does not descend from the remembered commit
// (a rewritten history: the full walk names the fork), when the record has
// no genesis blake3 (written by an older version, or by a --from or
// signature-less run), when the pinned genesis differs from the recorded
// one, when one of the new receipts revokes a key as compromised (the
// receipts it invalidates may be anywhere in the chain), and when a new
// snapshot tag covers receipts before the remembered head.

import (
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vmc-git/vmc-git/internal/gitobj"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/receipt"
)

// VerifiedSnapshot is a snapshot tag a verification checked.
type VerifiedSnapshot struct {
	Size uint64 `json:"size"`
	Tag  string `json:"tag"` // the tag object id
}

// snapshotIDs lists the snapshot tags with their tag objects.
func (l *Ledger) snapshotIDs() ([]VerifiedSnapshot, error) {
	sizes, err := l.SnapshotSizes()
	if err != nil {
		return nil, err
	}
	out := make([]VerifiedSnapshot, 0, len(sizes))
	for _, size := range sizes {
		ref, err := l.repo.Storer.Reference(SnapshotTagRef(size))
		if err != nil {
			return nil, err
		}
		out = append(out, VerifiedSnapshot{Size: size, Tag: ref.Hash().String()})
	}
	return out, nil
}

// verifyIncremental verifies the chain from the remembered head to tip. ok
// false (with a nil error) means: do the full walk instead.
func (l *Ledger) verifyIncremental(tip plumbing.Hash, opt VerifyOptions) (rep *Report, ok bool, err error) {
	v, err := l.LoadVerified()
	if err != nil {
		return nil, true, err
	}
	if v == nil || v.Genesis == nil || v.Ref != l.Ref.String() {
		return nil, false, nil
	}
	if opt.Genesis != nil && *opt.Genesis != *v.Genesis {
		return nil, false, nil
	}
	old, err := gitobj.ParseHash(v.Commit)
	if err != nil {
		return nil, false, nil
	}
	commits, err := l.walkBack(tip, old, 0)
	if err != nil {
		return nil, false, nil
	}
	t, err := l.tipAt(old)
	if err != nil || t.Head.Seq != v.Seq || t.Head.Blake3 != v.Blake3 || t.Head.Ledger != v.Ledger {
		return nil, false, nil
	}
	start := stateFromTip(t)
	n := v.Seq + 1 + uint64(len(commits))
	end, err := l.verifyChain(start, commits, opt, n)
	if err != nil {
		return nil, true, err
	}
	if compromisedMore(start.trust, end.trust) {
		return nil, false, nil
	}
	snaps, ok, err := l.verifyNewSnapshots(v, tip, n)
	if !ok || err != nil {
		return nil, ok, err
	}
	head := t.Head
	if len(commits) > 0 {
		nt, err := l.tipAt(end.commit)
		if err != nil {
			return nil, true, err
		}
		head = nt.Head
	}
	rep = &Report{Ledger: end.ledger, Ref: l.Ref.String(), Receipts: n, Checked: uint64(len(commits)), From: v.Seq + 1,
		Head: head, Commit: end.commit.String(), GenesisBlake3: *v.Genesis, Signatures: opt.Signatures,
		Remembered: v, Snapshots: len(snaps), Invalidated: v.Invalidated, Incremental: true}
	if opt.Signatures {
		nv := Verified{Ledger: end.ledger, Ref: l.Ref.String(), Seq: end.seq, Commit: end.commit.String(), Blake3: end.blake3,
			Genesis: v.Genesis, Invalidated: v.Invalidated, Snapshots: snaps}
		if err := l.saveVerified(nv); err != nil {
			return nil, true, err
		}
	}
	return rep, true, nil
}

// compromisedMore reports whether after revokes a key as compromised that
// before did not.
func compromisedMore(before, after *keys.Trust) bool {
	was := map[string]bool{}
	for _, e := range before.Keys() {
		if e.Reason == receipt.ReasonCompromised {
			was[keys.Fingerprint(e.Pub)] = true
		}
	}
	for _, e := range after.Keys() {
		if e.Reason == receipt.ReasonCompromised && !was[keys.Fingerprint(e.Pub)] {
			return true
		}
	}
	return false
}

// verifyNewSnapshots checks the snapshot tags that v does not record, on
// the ledger whose tip is commit tip with n receipts, and returns every tag
// now verified. ok false: a new tag is below the remembered head (the full
// walk checks it).
func (l *Ledger) verifyNewSnapshots(v *Verified, tip plumbing.Hash, n uint64) ([]VerifiedSnapshot, bool, error) {
	all, err := l.snapshotIDs()
	if err != nil {
		return nil, true, err
	}
	known := map[VerifiedSnapshot]bool{}
	for _, s := range v.Snapshots {
		known[s] = true
	}
	var r *Reader
	var w *backWalk
	for _, s := range all {
		if known[s] {
			continue
		}
		if s.Size <= v.Seq {
			return nil, false, nil
		}
		if s.Size > n {
			return nil, true, &SnapshotError{s.Size, fmt.Errorf("claims %d receipts, but the ledger has %d", s.Size, n)}
		}
		if r == nil {
			if r, err = l.NewReaderAt(tip); err != nil {
				return nil, true, err
			}
			w = newBackWalk(l, tip, n-1)
		}
		id, err := gitobj.ParseHash(s.Tag)
		if err != nil {
			return nil, true, err
		}
		if _, err := l.verifyNewTag(r, w, s.Size, id); err != nil {
			return nil, true, err
		}
	}
	return all, true, nil
}

// ObjectsRead returns how many git objects this ledger has read so far (for
// benchmarks and tests that count what a verification costs).
func (l *Ledger) ObjectsRead() int { return l.objs.Reads() }
