package gitledger

// Walking a long chain in bounded memory.
//
// A full verification checks receipts oldest first, but a chain is only
// reachable from its tip, newest first. Verify walks it back once reading
// the first bytes of each commit (the tree and parent lines,
// gitobj.Store.FirstParent) and keeps one commit id in walkStride (the
// marks), so it knows the length and can find any commit from the mark
// above it in at most walkStride steps. It then checks the chain a segment
// of walkStride commits at a time, oldest segment first: each segment is
// walked back from its mark reading the whole commits, which verifyStep
// then uses as they are. So every commit is read whole once, memory is
// one segment of commits plus n/walkStride ids, whatever the length.
// The first walk reads the newest commits whole instead of their first
// bytes, up to walkKeepBytes, and keeps them for their segments' checks:
// a chain of up to about ten thousand receipts has each commit read once,
// a longer one its newest ones, in memory bounded by that budget.

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"golang.org/x/crypto/ssh"

	"github.com/vmc-git/vmc-git/internal/gitobj"
)

// walkStride is the number of commits in a segment of a chainWalk (a
// variable so that tests can walk small ledgers in many segments).
var walkStride uint64 = 1024

// walkKeepBytes bounds the whole commits the first walk keeps (a variable
// for tests). The first walk reads the newest commits whole, not only their
// first bytes, and keeps them for the check, a segment at a time, until
// they would take more than this; the rest it reads as before. So a chain
// of up to about ten thousand commits is read once, and a longer one reads
// its newest ones once, in bounded memory whatever its length.
var walkKeepBytes = 8 << 20

// chainWalk is the first-parent chain from a tip back to its root commit.
type chainWalk struct {
	l      *Ledger
	stride uint64          // walkStride when the walk began
	n      uint64          // commits in the chain
	root   plumbing.Hash   // its oldest commit (receipt 0)
	marks  []plumbing.Hash // marks[j] is the commit walkStride*j commits below the tip
	// kept[j] holds segment j's commits read whole by the first walk,
	// newest first (kept[j] nil, or j past the end: read them again).
	kept []*keptSegment
}

// keptSegment is one segment's commits as the first walk read them.
type keptSegment struct {
	ids  []plumbing.Hash
	raws [][]byte
}

// walkChain walks back from tip to the root commit, with walkBack's
// errors. With keep set it keeps the newest commits whole (walkKeepBytes).
func (l *Ledger) walkChain(tip plumbing.Hash, keep bool) (*chainWalk, error) {
	w := &chainWalk{l: l, stride: walkStride}
	budget := walkKeepBytes
	var seg *keptSegment
	for c := tip; ; {
		if w.n%w.stride == 0 {
			w.marks = append(w.marks, c)
			if seg != nil {
				w.kept = append(w.kept, seg)
				seg = nil
			}
			if keep {
				seg = &keptSegment{}
			}
		}
		w.n++
		var p plumbing.Hash
		var ok bool
		var err error
		raw := []byte(nil)
		if seg != nil {
			raw, p, ok = l.wholeCommit(c)
			if raw == nil || len(raw) > budget {
				seg, keep = nil, false // read again by segment, which gives any error
			} else {
				budget -= len(raw)
				seg.ids, seg.raws = append(seg.ids, c), append(seg.raws, raw)
			}
		}
		if raw == nil {
			p, ok, err = l.objs.FirstParent(c)
		}
		if err != nil {
			return nil, &VerifyError{Seq: 0, Commit: c, Rule: RuleCommit, Err: fmt.Errorf("commit %s: %w", c, err)}
		}
		if !ok {
			if seg != nil {
				w.kept = append(w.kept, seg)
			}
			w.root = c
			return w, nil
		}
		c = p
	}
}

// wholeCommit reads commit c whole and returns it with its first parent
// (ok false: none), or nil if it cannot be read or parsed (FirstParent
// then reads it as before and gives the error, if any).
func (l *Ledger) wholeCommit(c plumbing.Hash) (raw []byte, parent plumbing.Hash, ok bool) {
	raw, err := l.objs.Get(c, plumbing.CommitObject)
	if err != nil {
		return nil, parent, false
	}
	_, ps, err := gitobj.ParseCommitParents(raw)
	if err != nil {
		return nil, parent, false
	}
	if len(ps) == 0 {
		return raw, parent, false
	}
	return raw, ps[0], true
}

// bounds returns the seqs [lo, hi) of segment j.
func (w *chainWalk) bounds(j int) (lo, hi uint64) {
	hi = w.n - uint64(j)*w.stride
	return hi - min(hi, w.stride), hi
}

// segment returns the commits of segment j oldest first, with their raw
// bytes when whole is set (read once, for verifyStep).
func (w *chainWalk) segment(j int, whole bool) ([]plumbing.Hash, [][]byte, error) {
	lo, hi := w.bounds(j)
	if j < len(w.kept) && w.kept[j] != nil && uint64(len(w.kept[j].ids)) == hi-lo {
		k := w.kept[j]
		if whole {
			w.kept[j] = nil // the check reads each segment once
		}
		ids := make([]plumbing.Hash, len(k.ids))
		var raws [][]byte
		if whole {
			raws = make([][]byte, len(k.raws))
		}
		for i := range k.ids {
			ids[len(ids)-1-i] = k.ids[i]
			if whole {
				raws[len(raws)-1-i] = k.raws[i]
			}
		}
		return ids, raws, nil
	}
	ids := make([]plumbing.Hash, hi-lo)
	var raws [][]byte
	if whole {
		raws = make([][]byte, hi-lo)
	}
	c := w.marks[j]
	for i := len(ids) - 1; i >= 0; i-- {
		ids[i] = c
		if i == 0 {
			break
		}
		var p plumbing.Hash
		if whole {
			raw, err := w.l.objs.Get(c, plumbing.CommitObject)
			if err != nil {
				return nil, nil, &VerifyError{Seq: 0, Commit: c, Rule: RuleCommit, Err: fmt.Errorf("commit %s: %w", c, err)}
			}
			_, ps, _, err := gitobj.ParseCommitHeaders(raw)
			if err != nil {
				return nil, nil, &VerifyError{Seq: 0, Commit: c, Rule: RuleCommit, Err: fmt.Errorf("commit %s: commit %s: %w", c, c, err)}
			}
			if len(ps) == 0 {
				return nil, nil, fmt.Errorf("commit %s: no parent on the second walk", c) // the first walk found one
			}
			raws[i], p = raw, ps[0]
		} else {
			var ok bool
			var err error
			if p, ok, err = w.l.objs.FirstParent(c); err != nil || !ok {
				return nil, nil, fmt.Errorf("commit %s: no parent on the second walk: %v", c, err)
			}
		}
		c = p
	}
	if whole && len(ids) > 0 {
		// The oldest commit of the segment; its parent is the next
		// segment's mark (or none), which verifyStep checks.
		raw, err := w.l.objs.Get(ids[0], plumbing.CommitObject)
		if err != nil {
			return nil, nil, &VerifyError{Seq: 0, Commit: ids[0], Rule: RuleCommit, Err: fmt.Errorf("commit %s: %w", ids[0], err)}
		}
		if _, _, _, err := gitobj.ParseCommitHeaders(raw); err != nil {
			return nil, nil, &VerifyError{Seq: 0, Commit: ids[0], Rule: RuleCommit, Err: fmt.Errorf("commit %s: commit %s: %w", ids[0], ids[0], err)}
		}
		raws[0] = raw
	}
	return ids, raws, nil
}

// at returns the commit of receipt seq (< n).
func (w *chainWalk) at(seq uint64) (plumbing.Hash, error) {
	j := (w.n - 1 - seq) / w.stride
	c := w.marks[j]
	for d := w.n - 1 - uint64(j)*w.stride; d > seq; d-- {
		p, ok, err := w.l.objs.FirstParent(c)
		if err != nil {
			return c, err
		}
		if !ok {
			return c, fmt.Errorf("commit %s: no parent", c)
		}
		c = p
	}
	return c, nil
}

// following returns up to max commits from seq on, oldest first.
func (w *chainWalk) following(seq uint64, max int) []plumbing.Hash {
	if seq >= w.n {
		return nil
	}
	var out []plumbing.Hash
	for j := int((w.n - 1 - seq) / w.stride); j >= 0 && len(out) < max; j-- {
		lo, _ := w.bounds(j)
		ids, _, err := w.segment(j, false)
		if err != nil {
			break
		}
		out = append(out, ids[max64(seq, lo)-lo:]...)
	}
	return out[:min(len(out), max)]
}

func max64(a, b uint64) uint64 { return max(a, b) }

// chainVerifier checks commits one after another on top of a state, with
// the signature checks on a pool of workers (one a core).
type chainVerifier struct {
	l     *Ledger
	opt   VerifyOptions
	total uint64
	st    *state
	done  uint64 // commits checked
	jobs  chan []*sigJob
	batch []*sigJob // jobs not sent yet
	mu    sync.Mutex
	wg    sync.WaitGroup
	sig   *VerifyError // the lowest-seq signature failure
}

func (l *Ledger) newChainVerifier(st *state, opt VerifyOptions, total uint64) *chainVerifier {
	if st.hist == nil {
		cp := *st
		cp.hist = newSignHistory()
		st = &cp
	}
	if st.anchors == nil {
		cp := *st
		cp.anchors = &anchorWalk{opt: opt.Anchor}
		st = &cp
	}
	v := &chainVerifier{l: l, opt: opt, total: total, st: st, jobs: make(chan []*sigJob, 256/sigBatch)}
	if opt.Signatures {
		for range runtime.GOMAXPROCS(0) {
			v.wg.Add(1)
			go func() {
				defer v.wg.Done()
				for b := range v.jobs {
					for _, j := range b {
						if err := j.run(); err != nil {
							v.mu.Lock()
							if ve := err.(*VerifyError); v.sig == nil || ve.Seq < v.sig.Seq {
								v.sig = ve
							}
							v.mu.Unlock()
						}
					}
				}
			}()
		}
	}
	return v
}

// sigBatch is how many receipts' signature checks go to a worker at once:
// one channel handoff (and wakeup) per batch, not per receipt.
const sigBatch = 16

// send queues job, handing a full batch to the workers.
func (v *chainVerifier) send(job *sigJob) {
	v.batch = append(v.batch, job)
	if len(v.batch) == sigBatch {
		v.jobs <- v.batch
		v.batch = make([]*sigJob, 0, sigBatch)
	}
}

// add checks commit c (raw: its bytes, or nil to read them) on top of the
// state so far; later lists the commits after c, for the error message of a
// receipt that comes too early.
func (v *chainVerifier) add(c plumbing.Hash, raw []byte, later func() []plumbing.Hash) error {
	next, job, err := v.l.verifyStep(v.st, c, raw)
	if err != nil {
		var ahead *seqAheadError
		if errors.As(err, &ahead) {
			ahead.later = v.l.findSeq(later(), ahead.want)
		}
		return err
	}
	if v.opt.Signatures {
		v.send(job)
	}
	v.st = next
	if v.opt.leaf != nil {
		v.opt.leaf(next.seq, job.body)
	}
	v.done++
	if v.opt.Progress != nil && v.done%1000 == 0 {
		v.opt.Progress(v.st.seq+1, v.total)
	}
	return nil
}

// finish waits for the signature checks and returns the final state, or the
// failure with the lowest seq: a bad signature found by a worker may come
// before a structural failure (walkErr) the walker hit later.
func (v *chainVerifier) finish(walkErr error) (*state, error) {
	if walkErr == nil && v.opt.Progress != nil && v.done%1000 != 0 {
		v.opt.Progress(v.st.seq+1, v.total)
	}
	if len(v.batch) > 0 {
		v.jobs <- v.batch
		v.batch = nil
	}
	close(v.jobs)
	v.wg.Wait()
	if v.sig != nil {
		var ve *VerifyError
		if walkErr == nil || !errors.As(walkErr, &ve) || v.sig.Seq <= ve.Seq {
			return nil, v.sig
		}
	}
	if walkErr != nil {
		return nil, walkErr
	}
	return v.st, nil
}

// verifyChain checks commits (oldest first) on top of st.
func (l *Ledger) verifyChain(st *state, commits []plumbing.Hash, opt VerifyOptions, total uint64) (*state, error) {
	v := l.newChainVerifier(st, opt, total)
	var walkErr error
	for i, c := range commits {
		if walkErr = v.add(c, nil, func() []plumbing.Hash { return commits[i+1:] }); walkErr != nil {
			break
		}
	}
	return v.finish(walkErr)
}

// verifyWalk checks the receipts from seq from on of the chain w, on top of
// st, a segment at a time.
func (l *Ledger) verifyWalk(st *state, w *chainWalk, from uint64, opt VerifyOptions) (*state, error) {
	v := l.newChainVerifier(st, opt, w.n)
	var walkErr error
segments:
	for j := len(w.marks) - 1; j >= 0; j-- {
		lo, hi := w.bounds(j)
		if hi <= from {
			continue
		}
		ids, raws, err := w.segment(j, true)
		if err != nil {
			v.finish(nil)
			return nil, err // as the walk before any check would have said
		}
		for i := max64(from, lo) - lo; i < uint64(len(ids)); i++ {
			seq := lo + i
			if walkErr = v.add(ids[i], raws[i], func() []plumbing.Hash { return w.following(seq+1, 1000) }); walkErr != nil {
				break segments
			}
		}
	}
	return v.finish(walkErr)
}

// sameKey reports whether a and b have the same wire form, comparing two
// Ed25519 keys' bytes instead of marshalling both.
func sameKey(a, b ssh.PublicKey) bool {
	if a.Type() == ssh.KeyAlgoED25519 && b.Type() == ssh.KeyAlgoED25519 {
		ca, oka := a.(ssh.CryptoPublicKey)
		cb, okb := b.(ssh.CryptoPublicKey)
		if oka && okb {
			ea, oka := ca.CryptoPublicKey().(ed25519.PublicKey)
			eb, okb := cb.CryptoPublicKey().(ed25519.PublicKey)
			if oka && okb {
				return bytes.Equal(ea, eb)
			}
		}
	}
	return bytes.Equal(a.Marshal(), b.Marshal())
}
