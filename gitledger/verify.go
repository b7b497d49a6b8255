package gitledger

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"

	"github.com/vmc-git/vmc-git/anchor"
	"github.com/vmc-git/vmc-git/internal/canon"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/internal/fsutil"
	"github.com/vmc-git/vmc-git/internal/gitobj"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/receipt"
	"github.com/vmc-git/vmc-git/trust"
)

// Rules a verification failure names.
const (
	RuleParent    = "parent"
	RuleTree      = "tree"
	RuleHead      = "HEAD.json"
	RuleCanonical = "canonical"
	RuleSeq       = "seq"
	RuleLedger    = "ledger"
	RulePrev      = "prev_blake3"
	RuleTime      = "created_at"
	RuleTrust     = "trust"
	RuleKeys      = "keys"
	RulePlan      = "plan"
	RuleMessage   = "message"
	RuleCommit    = "commit"
	RuleSignature = "signature"
	RuleGenesis   = "genesis"
	RuleFork      = "fork"
	RuleKind      = "kind"
	RuleAnchor    = "anchor"
)

// VerifyError is the first broken rule found, with the receipt it is in.
type VerifyError struct {
	Seq    uint64
	Commit plumbing.Hash
	Rule   string
	Err    error
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("receipt %d: %v", e.Seq, e.Err)
}

func (e *VerifyError) Unwrap() error { return e.Err }

// VerifyOptions control Verify.
type VerifyOptions struct {
	Signatures bool            // check every commit and receipt signature (--sig)
	From       uint64          // check receipts from this seq on, trusting the state at From-1
	Genesis    *digest.Digest  // pinned blake3 of the genesis receipt
	Remember   bool            // refuse a chain that does not extend the last verified head; record the new one
	Full       bool            // with Remember: re-check the whole chain, not only what follows the remembered head
	Anchor     *anchor.Options // how anchor receipts' substrate proofs are checked (nil: the registered verifiers)
	Progress   func(done, total uint64)
	// leaf, when set, is given each receipt's bytes once its commit passed
	// every check but the signatures (still running), in seq order: the
	// hook's verified tree (hooktree.go) hashes them.
	leaf func(seq uint64, receipt []byte)
}

// Report summarizes a successful verification.
type Report struct {
	Ledger        string          `json:"ledger"`
	Ref           string          `json:"ref"`
	Receipts      uint64          `json:"receipts"` // total in the ledger
	Checked       uint64          `json:"checked"`  // verified in this run
	From          uint64          `json:"from"`
	Head          receipt.Head    `json:"head"`
	Commit        string          `json:"commit"`
	GenesisBlake3 digest.Digest   `json:"genesis_blake3"`
	Signatures    bool            `json:"signatures"`
	Remembered    *Verified       `json:"previously_verified,omitempty"`
	Snapshots     int             `json:"snapshots"` // vmc/merkle/* tags checked
	Invalidated   []Invalidated   `json:"invalidated,omitempty"`
	Incremental   bool            `json:"incremental"` // checked from the remembered verified head (Remembered)
	Anchors       []AnchorChecked `json:"anchors,omitempty"`
}

// state is everything known after a verified commit.
type state struct {
	commit  plumbing.Hash
	empty   bool
	seq     uint64
	blake3  digest.Digest
	ledger  string
	created time.Time
	trust   *keys.Trust
	trees   *pathTrees
	hist    *signHistory
	format  int // receipt.Format1 or Format2, from the genesis HEAD.json
	anchors *anchorWalk
}

// Invalidated is a receipt signed by a key after the time it was revoked as
// compromised (by a later keys receipt). It verified when written; it is
// reported, not failed, so the ledger stays verifiable after a compromise.
type Invalidated struct {
	Seq        uint64 `json:"seq"`
	KID        string `json:"kid"`
	RevokedBy  uint64 `json:"revoked_by"` // seq of the keys receipt
	Compromise string `json:"compromised_from"`
	// Approval: KID signed not the receipt but an approval of the plan it
	// applied, no later than the receipt (an approval carries no time of
	// its own, so one used after the compromise may have been forged).
	Approval bool `json:"approval,omitempty"`
}

// Verify walks the whole ledger branch and checks every rule of the package
// doc. The first failure is returned as a *VerifyError.
func (l *Ledger) Verify(opt VerifyOptions) (*Report, error) {
	ref, err := l.repo.Storer.Reference(l.Ref)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return nil, ErrNoLedger
	}
	if err != nil {
		return nil, err
	}
	if opt.Remember && !opt.Full && opt.From == 0 {
		if rep, ok, err := l.verifyIncremental(ref.Hash(), opt); ok || err != nil {
			return rep, err
		}
	}
	w, err := l.walkChain(ref.Hash(), true)
	if err != nil {
		return nil, err
	}
	n := w.n
	if opt.From >= n {
		return nil, fmt.Errorf("--from %d: the ledger has %d receipts (0..%d)", opt.From, n, n-1)
	}
	var remembered *Verified
	if opt.Remember {
		if remembered, err = l.LoadVerified(); err != nil {
			return nil, err
		}
		if remembered != nil {
			if err := l.checkExtends(w, remembered); err != nil {
				return nil, err
			}
		}
	}
	start := &state{empty: true}
	if opt.From > 0 {
		c, err := w.at(opt.From - 1)
		if err != nil {
			return nil, err
		}
		t, err := l.tipAt(c)
		if err != nil {
			return nil, err
		}
		start = stateFromTip(t)
	}
	end, err := l.verifyWalk(start, w, opt.From, opt)
	if err != nil {
		return nil, err
	}
	gen, err := l.genesisBlake3(w.root, opt.From, start, end)
	if err != nil {
		return nil, err
	}
	if opt.Genesis != nil && gen != *opt.Genesis {
		return nil, &VerifyError{Seq: 0, Commit: w.root, Rule: RuleGenesis,
			Err: fmt.Errorf("genesis blake3 %s differs from the pinned %s", gen, *opt.Genesis)}
	}
	tip, err := l.tipAt(end.commit)
	if err != nil {
		return nil, err
	}
	snaps, err := l.SnapshotSizes()
	if err != nil {
		return nil, err
	}
	if err := l.verifySnapshots(ref.Hash(), n, w.at); err != nil {
		return nil, err
	}
	rep := &Report{Snapshots: len(snaps), Invalidated: end.hist.invalidated, Ledger: end.ledger, Ref: l.Ref.String(), Receipts: n, Checked: n - opt.From, From: opt.From,
		Head: tip.Head, Commit: end.commit.String(), GenesisBlake3: gen, Signatures: opt.Signatures, Remembered: remembered, Anchors: end.anchors.checked}
	if opt.Remember && opt.Signatures { // only a full check with signatures is remembered
		v := Verified{Ledger: end.ledger, Ref: l.Ref.String(), Seq: end.seq, Commit: end.commit.String(), Blake3: end.blake3}
		if opt.From == 0 {
			v.Genesis, v.Invalidated = &gen, end.hist.invalidated
			if v.Snapshots, err = l.snapshotIDs(); err != nil {
				return nil, err
			}
		}
		if err := l.saveVerified(v); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

func stateFromTip(t *Tip) *state {
	ct, _ := keys.ParseTime(t.Head.CreatedAt)
	return &state{commit: t.Commit, seq: t.Head.Seq, blake3: t.Head.Blake3, ledger: t.Head.Ledger, created: ct, trust: t.Trust, trees: t.trees, format: t.Head.V}
}

// genesisBlake3 returns the blake3 of receipt 0.
func (l *Ledger) genesisBlake3(genesis plumbing.Hash, from uint64, start, end *state) (digest.Digest, error) {
	if from == 0 && end.seq == 0 {
		return end.blake3, nil
	}
	t, err := l.tipAt(genesis)
	if err != nil {
		return digest.Zero, err
	}
	return t.Head.Blake3, nil
}

// walkBack lists commits from tip back to (not including) stop, following
// first parents, oldest first. With stop zero it goes to the root commit.
// limit > 0 bounds the number of commits walked.
func (l *Ledger) walkBack(tip, stop plumbing.Hash, limit int) ([]plumbing.Hash, error) {
	var out []plumbing.Hash
	for c := tip; c != stop; {
		if limit > 0 && len(out) >= limit {
			return nil, fmt.Errorf("%s does not descend from %s within %d commits: %w", tip, stop, limit, errNoDescent)
		}
		out = append(out, c)
		parent, ok, err := l.objs.FirstParent(c)
		if err != nil {
			return nil, &VerifyError{Seq: 0, Commit: c, Rule: RuleCommit, Err: fmt.Errorf("commit %s: %w", c, err)}
		}
		if !ok {
			if !stop.IsZero() {
				return nil, fmt.Errorf("%s does not descend from %s: %w", tip, stop, errNoDescent)
			}
			break
		}
		c = parent
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// errNoDescent marks a walk that ended without reaching its stop commit
// (as opposed to one that could not read or parse a commit on the way).
var errNoDescent = errors.New("not a descendant")

// sigJob is the signature work of one receipt, done on a worker pool.
type sigJob struct {
	seq       uint64
	commit    plumbing.Hash
	pub       ssh.PublicKey
	payload   []byte
	commitSig *sshsig.Signature
	body      []byte
	rcptSig   *sshsig.Signature
}

func (j *sigJob) run() error {
	if err := keys.VerifyParsed(j.pub, keys.NamespaceGit, j.payload, j.commitSig); err != nil {
		return &VerifyError{j.seq, j.commit, RuleSignature, fmt.Errorf("commit signature: %w", err)}
	}
	if err := keys.VerifyParsed(j.pub, keys.NamespaceReceipt, j.body, j.rcptSig); err != nil {
		return &VerifyError{j.seq, j.commit, RuleSignature, fmt.Errorf("receipt signature: %w", err)}
	}
	return nil
}

// verifyStep checks one commit on top of prev and returns the new state and
// its signature job. raw is the commit's content if already read, or nil.
//
// After genesis it first tries without reading HEAD.json: HEAD.json must be
// byte for byte what the receipt implies (receipt.HeadIn), so its blob id
// is checked against the hash of those bytes, one SHA-1 instead of a read
// and a parse. A failure before that check, or of it, runs the step again
// reading HEAD.json first, which gives the error in the order of the rules.
func (l *Ledger) verifyStep(prev *state, c plumbing.Hash, raw []byte) (*state, *sigJob, error) {
	if !prev.empty {
		st, job, err, headChecked := l.step(prev, c, raw, true)
		if err == nil || headChecked {
			return st, job, err
		}
	}
	st, job, err, _ := l.step(prev, c, raw, false)
	return st, job, err
}

// step is verifyStep; with headByHash it checks HEAD.json by its blob id
// (prev not empty). headChecked reports that HEAD.json was found to match,
// so that an error is the one the full order of checks gives too.
func (l *Ledger) step(prev *state, c plumbing.Hash, raw []byte, headByHash bool) (_ *state, _ *sigJob, _ error, headChecked bool) {
	st, job, err := l.stepChecks(prev, c, raw, headByHash, &headChecked)
	return st, job, err, headChecked
}

func (l *Ledger) stepChecks(prev *state, c plumbing.Hash, raw []byte, headByHash bool, headChecked *bool) (*state, *sigJob, error) {
	seq := uint64(0)
	if !prev.empty {
		seq = prev.seq + 1
	}
	fail := func(rule string, format string, a ...any) (*state, *sigJob, error) {
		return nil, nil, &VerifyError{Seq: seq, Commit: c, Rule: rule, Err: fmt.Errorf(format, a...)}
	}
	if raw == nil {
		var err error
		if raw, err = l.objs.Get(c, plumbing.CommitObject); err != nil {
			return fail(RuleCommit, "%v", err)
		}
	}
	treeID, parents, csigText, err := gitobj.ParseCommitHeaders(raw)
	if err != nil {
		return fail(RuleCommit, "commit %s: %v", c, err)
	}
	switch {
	case prev.empty && len(parents) != 0:
		return fail(RuleParent, "genesis commit %s has a parent", c)
	case !prev.empty && len(parents) == 0:
		return fail(RuleParent, "commit %s has no parent (a second root)", c)
	case len(parents) > 1:
		return fail(RuleParent, "commit %s is a merge commit (%d parents)", c, len(parents))
	case !prev.empty && parents[0] != prev.commit:
		return fail(RuleParent, "commit %s has parent %s, want %s (receipt %d)", c, parents[0], prev.commit, prev.seq)
	}
	// Before reading anything a pusher made big: the commit message names
	// the signer, and a kid no key is bound to cannot have signed it.
	if kid, ok := messageKID(raw); !prev.empty && (!ok || prev.trust.Key(kid) == nil) {
		// (A bound kid in the last trailer passes whatever the rest is.)
		if t, err := ParseMessage(commitMessage(raw)); err == nil && prev.trust.Key(t.KID) == nil {
			if _, aerr := prev.trust.Authorize(t.KID, nil, prev.created, receipt.Roles[t.Kind]...); aerr != nil {
				return fail(RuleTrust, "%s receipt: %v", t.Kind, aerr)
			}
		}
	}
	root, err := l.tree(treeID)
	if err != nil {
		return fail(RuleTree, "%v", err)
	}
	// HEAD.json names the receipt this commit claims to add.
	var headBytes []byte
	var head receipt.Head
	if !headByHash {
		if headBytes, err = l.blobAt(root, HeadFile, MaxHeadSize); err != nil {
			return fail(RuleHead, "%v", err)
		}
		if head, err = receipt.ParseHead(headBytes); err != nil {
			return fail(RuleHead, "%v", err)
		}
	} else {
		head.Seq = seq
	}
	switch {
	case head.Seq > seq:
		return nil, nil, &VerifyError{Seq: seq, Commit: c, Rule: RuleSeq, Err: &seqAheadError{have: head.Seq, want: seq}}
	case head.Seq < seq && head.Seq == prev.seq && head.Blake3 == prev.blake3:
		return fail(RuleSeq, "HEAD.json says seq %d, want %d: commit %s repeats receipt %d (duplicated commit)", head.Seq, seq, c, prev.seq)
	case head.Seq < seq && head.Seq == prev.seq:
		return fail(RuleSeq, "HEAD.json says seq %d, want %d: a second, different receipt %d (blake3 %s, not %s): a receipt was inserted before it", head.Seq, seq, head.Seq, head.Blake3, prev.blake3)
	case head.Seq < seq:
		return fail(RuleSeq, "HEAD.json says seq %d, want %d: the chain goes back to an older receipt", head.Seq, seq)
	}
	format := prev.format
	if prev.empty {
		format = head.V // ParseHead accepts only known formats
	}
	trees, rid, sid, err := l.receiptTrees(format, prev, root, seq)
	if err != nil {
		return fail(RuleTree, "%v", err)
	}
	body, err := l.objs.GetLimit(rid, plumbing.BlobObject, MaxReceiptSize)
	if err != nil {
		return fail(RuleTree, "%s: %v", receipt.PathIn(format, seq), err)
	}
	r, err := receipt.Parse(body)
	if err != nil {
		if cerr := canon.Check(body); cerr != nil {
			return fail(RuleCanonical, "%s: %v", receipt.PathIn(format, seq), cerr)
		}
		return fail(RuleCanonical, "%s: %v", receipt.PathIn(format, seq), err)
	}
	sums := digest.Of(body)
	rt := r.Time() // Parse validated created_at
	switch {
	case r.Seq != seq:
		return fail(RuleSeq, "seq %d in the file, want %d", r.Seq, seq)
	case !prev.empty && r.Ledger != prev.ledger:
		return fail(RuleLedger, "ledger %q, want %q (receipt from another ledger)", r.Ledger, prev.ledger)
	case r.PrevBlake3 != prev.blake3:
		return fail(RulePrev, "prev_blake3 mismatch: have %s, want %s", r.PrevBlake3, prev.blake3)
	case !prev.empty && rt.Before(prev.created):
		return fail(RuleTime, "created_at %s is before receipt %d's %s", r.CreatedAt, prev.seq, keys.FormatTime(prev.created))
	}
	wantHead, _ := receipt.HeadIn(format, r, sums).Encode()
	if headByHash {
		if e, ok := gitobj.FindEntry(root, HeadFile); !ok || e.IsDir() || len(wantHead) > MaxHeadSize || e.ID != gitobj.HashObject(plumbing.BlobObject, wantHead) {
			return fail(RuleHead, "HEAD.json does not match the receipt") // verifyStep checks again, reading it
		}
		*headChecked = true
	} else if !bytes.Equal(wantHead, headBytes) {
		// Tell an edited receipt from an edited HEAD.json: if HEAD.json and
		// the commit message still agree on a blake3, the receipt changed.
		if t, err := ParseMessage(commitMessage(raw)); err == nil && t.Blake3 == head.Blake3 && head.Blake3 != sums.Blake3 {
			return fail(RuleHead, "%s was changed: its blake3 is %s, but HEAD.json and the commit message say %s", receipt.PathIn(format, seq), sums.Blake3, head.Blake3)
		}
		return fail(RuleHead, "HEAD.json does not match the receipt: have %s, want %s", headBytes, wantHead)
	}
	// Trust: the signer must be trusted with the role at the previous receipt.
	before, after := prev.trust, prev.trust
	switch r.Kind {
	case receipt.KindGenesis:
		if before, err = keys.NewTrust(r.Genesis.Keys, r.Genesis.Policy, rt); err != nil {
			return fail(RuleTrust, "%v", err)
		}
		after = before
	case receipt.KindKeys:
		if after, err = trust.ApplyKeys(prev.trust, r); err != nil {
			return fail(RuleKeys, "%v", err)
		}
	}
	signer, err := before.Authorize(r.KID, nil, rt, receipt.RolesOf(r)...)
	if err != nil {
		return fail(RuleTrust, "%s receipt: %v", r.Kind, err)
	}
	if r.Kind == receipt.KindAnchor {
		if _, err := l.checkAnchor(prev.anchors, format, root, r, signer.Pub); err != nil {
			return fail(RuleAnchor, "%v", err)
		}
	}
	if err := l.checkSideTrees(prev, root, r, after, seq); err != nil {
		var ve *VerifyError
		if errors.As(err, &ve) {
			return nil, nil, ve
		}
		return fail(RuleTree, "%v", err)
	}
	// The commit must be exactly the one vmc-git writes for this receipt.
	ci := gitobj.CommitInfo{Tree: treeID, Parent: prev.commit, Ident: Ident + " <" + r.KID + ">", When: rt.Unix(),
		Message: Message(r, sums.Blake3), Signature: csigText}
	enc := encodeBuffers.Get().(*[]byte)
	*enc = ci.AppendEncode((*enc)[:0], true)
	same := bytes.Equal(*enc, raw)
	encodeBuffers.Put(enc)
	if !same {
		t, perr := ParseMessage(commitMessage(raw))
		switch {
		case perr != nil:
			return fail(RuleMessage, "%v", perr)
		case t.Blake3 != sums.Blake3:
			return fail(RuleMessage, "commit message %s %s, but the receipt's blake3 is %s", TrailerBlake3, t.Blake3, sums.Blake3)
		case t.PrevBlake3 != r.PrevBlake3 || t.KID != r.KID || t.Kind != r.Kind || t.Summary != r.Summary:
			return fail(RuleMessage, "commit message does not match the receipt")
		}
		return fail(RuleCommit, "commit %s is not the commit vmc-git writes for this receipt (extra headers, author, time or encoding differ)", c)
	}
	// Signatures: parse and bind to the trusted key here; the crypto runs on workers.
	csig, err := keys.ParseSignature([]byte(csigText))
	if csigText == "" {
		err = errors.New("unsigned")
	}
	if err != nil {
		return fail(RuleSignature, "commit signature: %v", err)
	}
	sigBytes, err := l.objs.GetLimit(sid, plumbing.BlobObject, MaxSigSize)
	if err != nil {
		return fail(RuleTree, "%s%s: %v", receipt.PathIn(format, seq), receipt.SigSuffix, err)
	}
	rsig, err := keys.ParseSignature(sigBytes)
	if err != nil {
		return fail(RuleSignature, "receipt signature %s%s: %v", receipt.PathIn(format, seq), receipt.SigSuffix, err)
	}
	for _, s := range []struct {
		what string
		sig  *sshsig.Signature
	}{{"commit", csig}, {"receipt", rsig}} {
		if !sameKey(s.sig.PublicKey, signer.Pub) {
			return fail(RuleTrust, "%s signature by %s, but %s is bound to %s", s.what, keys.Fingerprint(s.sig.PublicKey), r.KID, keys.Fingerprint(signer.Pub))
		}
	}
	job := &sigJob{seq: seq, commit: c, pub: signer.Pub, payload: ci.Encode(false), commitSig: csig, body: body, rcptSig: rsig}
	if prev.hist != nil {
		if r.Kind == receipt.KindKeys {
			if err := prev.hist.revoked(before, r, l.receiptTimes(prev.commit)); err != nil {
				return fail(RuleKeys, "%v", err)
			}
		}
		prev.hist.add(signer, seq, rt)
		prev.hist.addApprovals(before, r, seq, rt)
	}
	return &state{commit: c, seq: seq, blake3: sums.Blake3, ledger: r.Ledger, created: rt, trust: after, trees: trees, hist: prev.hist, format: format, anchors: prev.anchors}, job, nil
}

// encodeBuffers holds buffers for the commit verifyStep compares with the
// one read (only its bytes are kept: the payload a worker checks is its own).
var encodeBuffers = sync.Pool{New: func() any { return new([]byte) }}

// seqAheadError is a commit whose HEAD.json names a later receipt than the
// one due: the due receipt was deleted, or comes later (reordered).
type seqAheadError struct {
	have, want uint64
	later      bool // receipt want appears further along the chain
}

func (e *seqAheadError) Error() string {
	if e.later {
		return fmt.Sprintf("HEAD.json says seq %d, want %d: receipt %d comes later in the chain (commits reordered)", e.have, e.want, e.want)
	}
	return fmt.Sprintf("HEAD.json says seq %d, want %d: receipt %d is missing (commit deleted)", e.have, e.want, e.want)
}

// findSeq reports whether one of the first commits (at most 1000) has a
// HEAD.json naming receipt seq. It only refines an error message.
func (l *Ledger) findSeq(commits []plumbing.Hash, seq uint64) bool {
	for i, c := range commits {
		if i == 1000 {
			break
		}
		if t, err := l.tipAt(c); err == nil && t.Head.Seq == seq {
			return true
		}
	}
	return false
}

// commitMessage returns the message of a raw commit object.
func commitMessage(raw []byte) string {
	_, msg, _ := bytes.Cut(raw, []byte("\n\n"))
	return string(msg)
}

// checkReceiptTrees checks that, below receipts/, the commit adds exactly
// receipt seq and its signature to prev's tree, and returns the new path
// trees and the two blob ids.
func (l *Ledger) checkReceiptTrees(prev *state, root []gitobj.TreeEntry, seq uint64) (*pathTrees, plumbing.Hash, plumbing.Hash, error) {
	var z plumbing.Hash
	aaa, bbb, name := shard(seq)
	pt := &pathTrees{root: root, aaaName: aaa, bbbName: bbb}
	pp := prev.trees
	if pp == nil {
		pp = &pathTrees{}
	}
	e, ok := gitobj.FindEntry(root, ReceiptsDir)
	if !ok || !e.IsDir() {
		return nil, z, z, fmt.Errorf("no %s/ directory", ReceiptsDir)
	}
	var err error
	if pt.receipts, err = l.tree(e.ID); err != nil {
		return nil, z, z, err
	}
	for _, old := range pp.receipts {
		if old.Name == aaa {
			continue
		}
		if ne, ok := gitobj.FindEntry(pt.receipts, old.Name); !ok || ne != old {
			return nil, z, z, fmt.Errorf("commit changes receipts/%s, which holds older receipts", old.Name)
		}
	}
	if len(pt.receipts) != len(pp.receipts) && !(len(pt.receipts) == len(pp.receipts)+1 && pp.aaaName != aaa) {
		return nil, z, z, fmt.Errorf("commit adds unexpected entries under receipts/")
	}
	a, ok := gitobj.FindEntry(pt.receipts, aaa)
	if !ok || !a.IsDir() {
		return nil, z, z, fmt.Errorf("no directory receipts/%s for receipt %d", aaa, seq)
	}
	if pt.aaaRaw, err = l.objs.Get(a.ID, plumbing.TreeObject); err != nil {
		return nil, z, z, err
	}
	// AAA: the previous AAA with its last entry (our BBB) replaced or one appended.
	base := []byte(nil)
	if pp.aaaName == aaa {
		base = pp.aaaRaw
		if es, err := gitobj.ParseTree(base); err == nil && len(es) > 0 && es[len(es)-1].Name == bbb {
			base = base[:len(base)-(len(gitobj.ModeDir)+1+len(bbb)+1+20)]
		}
	}
	if !bytes.HasPrefix(pt.aaaRaw, base) {
		return nil, z, z, fmt.Errorf("commit changes receipts/%s/, which holds older receipts", aaa)
	}
	tail, err := gitobj.ParseTree(pt.aaaRaw[len(base):])
	if err != nil || len(tail) != 1 || tail[0].Name != bbb || !tail[0].IsDir() {
		return nil, z, z, fmt.Errorf("commit changes receipts/%s/ beyond receipts/%s/%s/", aaa, aaa, bbb)
	}
	if pt.bbbRaw, err = l.objs.Get(tail[0].ID, plumbing.TreeObject); err != nil {
		return nil, z, z, err
	}
	// BBB: the previous BBB plus exactly NNN.json and NNN.json.sig.
	base = nil
	if pp.aaaName == aaa && pp.bbbName == bbb {
		base = pp.bbbRaw
	}
	if !bytes.HasPrefix(pt.bbbRaw, base) {
		return nil, z, z, fmt.Errorf("commit changes or removes older receipts in receipts/%s/%s/", aaa, bbb)
	}
	added, err := gitobj.ParseTree(pt.bbbRaw[len(base):])
	if err != nil {
		return nil, z, z, fmt.Errorf("receipts/%s/%s/: %v", aaa, bbb, err)
	}
	if len(added) != 2 || added[0].Name != name || added[1].Name != name+receipt.SigSuffix || added[0].IsDir() || added[1].IsDir() {
		names := make([]string, len(added))
		for i, e := range added {
			names[i] = e.Name
		}
		return nil, z, z, fmt.Errorf("commit adds %v to receipts/%s/%s/, want exactly %s and %s%s", names, aaa, bbb, name, name, receipt.SigSuffix)
	}
	if len(base) > 0 {
		// base ends with receipt seq-1's .sig (checked at the previous step,
		// or the trusted start state): the new entries must sort after it.
		if _, _, prevName := shard(seq - 1); prevName+receipt.SigSuffix >= added[0].Name {
			return nil, z, z, fmt.Errorf("receipts/%s/%s/: entries out of order", aaa, bbb)
		}
	}
	return pt, added[0].ID, added[1].ID, nil
}

// checkSideTrees checks root entries other than receipts/: HEAD.json always
// changes; keys/ only for genesis and keys receipts, and then it must be
// exactly the derived trust; plans/ only for apply receipts.
func (l *Ledger) checkSideTrees(prev *state, root []gitobj.TreeEntry, r *receipt.Receipt, trust *keys.Trust, seq uint64) error {
	var prevRoot []gitobj.TreeEntry
	if prev.trees != nil {
		prevRoot = prev.trees.root
	}
	for _, e := range root {
		if e.Name != HeadFile && e.Name != ReceiptsDir && e.Name != KeysDir && e.Name != PlansDir {
			return fmt.Errorf("commit adds %s, which a ledger tree does not have", e.Name)
		}
	}
	get := func(es []gitobj.TreeEntry, n string) (gitobj.TreeEntry, bool) { return gitobj.FindEntry(es, n) }
	// keys/
	newKeys, ok := get(root, KeysDir)
	if !ok || !newKeys.IsDir() {
		return fmt.Errorf("no %s/ directory", KeysDir)
	}
	if r.Kind == receipt.KindGenesis || r.Kind == receipt.KindKeys {
		want, err := l.writeKeysTree(trust, hashOnly)
		if err != nil {
			return err
		}
		if newKeys.ID != want {
			return &VerifyError{Seq: seq, Rule: RuleKeys, Err: fmt.Errorf("keys/ does not hold the trust state derived from the ledger")}
		}
	} else if oldKeys, _ := get(prevRoot, KeysDir); oldKeys != newKeys {
		return fmt.Errorf("a %s receipt changes keys/ (only keys receipts change trust)", r.Kind)
	}
	// plans/
	oldPlans, hadPlans := get(prevRoot, PlansDir)
	newPlans, hasPlans := get(root, PlansDir)
	if r.Kind != receipt.KindApply {
		if oldPlans != newPlans {
			return fmt.Errorf("a %s receipt changes plans/ (only apply receipts add plans)", r.Kind)
		}
		return nil
	}
	if !hasPlans || !newPlans.IsDir() {
		return &VerifyError{Seq: seq, Rule: RulePlan, Err: fmt.Errorf("apply receipt without plans/%s.json in the tree", r.Apply.Plan.ID)}
	}
	var olds []gitobj.TreeEntry
	if hadPlans {
		var err error
		if olds, err = l.tree(oldPlans.ID); err != nil {
			return err
		}
	}
	news, err := l.tree(newPlans.ID)
	if err != nil {
		return err
	}
	id := r.Apply.Plan.ID
	for _, o := range olds {
		if n, ok := gitobj.FindEntry(news, o.Name); !ok || n != o {
			return fmt.Errorf("commit changes plans/%s, a plan applied before", o.Name)
		}
	}
	for _, n := range news {
		if _, ok := gitobj.FindEntry(olds, n.Name); !ok && n.Name != id+".json" && n.Name != id+ApprovalsSuffix {
			return fmt.Errorf("commit adds plans/%s, which is not the applied plan", n.Name)
		}
	}
	pe, ok := gitobj.FindEntry(news, id+".json")
	if _, old := gitobj.FindEntry(olds, id+".json"); !ok || old {
		return &VerifyError{Seq: seq, Rule: RulePlan, Err: fmt.Errorf("plan %s: the apply must add plans/%s.json (a plan applies once)", id, id)}
	}
	pb, err := l.objs.GetLimit(pe.ID, plumbing.BlobObject, receipt.MaxPlanSize)
	if err != nil {
		return fmt.Errorf("plans/%s.json: %w", id, err)
	}
	if s := digest.Of(pb); s.Blake3 != r.Apply.Plan.Blake3 || s.SHA256 != r.Apply.Plan.SHA256 {
		return &VerifyError{Seq: seq, Rule: RulePlan, Err: fmt.Errorf("plans/%s.json has blake3 %s, the receipt says %s", id, s.Blake3, r.Apply.Plan.Blake3)}
	}
	if err := checkApplyPlanNames(r, pb); err != nil {
		return &VerifyError{Seq: seq, Rule: RulePlan, Err: err}
	}
	var approvals map[string][]byte
	if ae, ok := gitobj.FindEntry(news, id+ApprovalsSuffix); ok {
		// The one approvals reader, as for the main branch's plans/.
		if approvals, err = plans.ReadApprovals(l.PlanTrees(), PlansDir, planEntry(ae)); err != nil {
			return err
		}
	}
	if err := checkApplyApprovals(prev.trust, r, pb, approvals); err != nil {
		return &VerifyError{Seq: seq, Rule: RulePlan, Err: fmt.Errorf("plan %s: %w", id, err)}
	}
	return nil
}

// CheckApprovals checks that sigs (kid -> armored SSHSIG, namespace
// vmc-plan, over plan) are exactly the kids listed, each by a distinct key
// trusted as approver, and that there are at least approvals_required.
func CheckApprovals(t *keys.Trust, plan []byte, sigs map[string][]byte, listed []string, at time.Time) error {
	if len(sigs) != len(listed) {
		return fmt.Errorf("%d approval files but %d approvals listed", len(sigs), len(listed))
	}
	seen := map[string]string{}
	for _, kid := range listed {
		sig, ok := sigs[kid]
		if !ok {
			return fmt.Errorf("approval by %s listed but missing", kid)
		}
		if err := t.CheckApproval(kid, plan, sig, at, seen); err != nil {
			return err
		}
	}
	if len(listed) < t.ApprovalsRequired {
		return fmt.Errorf("%d approvals, %d required", len(listed), t.ApprovalsRequired)
	}
	return nil
}

func hashOnly(typ plumbing.ObjectType, b []byte) (plumbing.Hash, error) {
	return gitobj.HashObject(typ, b), nil
}

// Verified is the last head verify remembered for this repository.
type Verified struct {
	Ledger string        `json:"ledger"`
	Ref    string        `json:"ref"`
	Seq    uint64        `json:"seq"`
	Commit string        `json:"commit"`
	Blake3 digest.Digest `json:"blake3"`
	// Written by a verification from genesis, for the next one to start
	// from this head (incremental.go); absent in records of older versions.
	Genesis     *digest.Digest     `json:"genesis_blake3,omitempty"`
	Invalidated []Invalidated      `json:"invalidated,omitempty"`
	Snapshots   []VerifiedSnapshot `json:"snapshots,omitempty"`
}

func (l *Ledger) verifiedPath() string {
	return filepath.Join(l.GitDir, "vmc", "verified", strings.ReplaceAll(l.Ref.String(), "/", "_")+".json")
}

// LoadVerified returns the remembered verified head, or nil.
func (l *Ledger) LoadVerified() (*Verified, error) {
	b, err := os.ReadFile(l.verifiedPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var v Verified
	if err := canon.DecodeStrict(b, &v); err != nil {
		return nil, fmt.Errorf("%s: %w", l.verifiedPath(), err)
	}
	return &v, nil
}

func (l *Ledger) saveVerified(v Verified) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(l.verifiedPath(), b, 0o644)
}

// checkExtends refuses a chain that does not contain the remembered head.
func (l *Ledger) checkExtends(w *chainWalk, v *Verified) error {
	var at plumbing.Hash
	if v.Seq < w.n {
		var err error
		if at, err = w.at(v.Seq); err != nil {
			return err
		}
		if at.String() == v.Commit {
			return nil
		}
	}
	fork := l.forkPoint(w, v)
	why := fmt.Sprintf("it has %d receipts, fewer than the verified %d", w.n, v.Seq+1)
	if v.Seq < w.n {
		why = fmt.Sprintf("receipt %d is commit %s, but commit %s was verified before", v.Seq, at, v.Commit)
	}
	return &VerifyError{Seq: fork, Rule: RuleFork, Err: fmt.Errorf(
		"ledger history rewritten: does not extend the verified head (receipt %d, blake3 %s): %s; chains fork at receipt %d", v.Seq, v.Blake3, why, fork)}
}

// forkPoint finds the first seq where the chain w and the remembered chain
// differ, walking the remembered commits if their objects are still here:
// both chains end at a root, so they agree below the newest position at
// which they hold the same commit.
func (l *Ledger) forkPoint(w *chainWalk, v *Verified) uint64 {
	h, err := gitobj.ParseHash(v.Commit)
	if err != nil {
		return 0
	}
	old, err := l.walkChain(h, false)
	if err != nil {
		return 0 // objects gone: we only know that it differs somewhere
	}
	i := min(old.n, w.n) - 1
	a, err := old.at(i)
	if err != nil {
		return 0
	}
	b, err := w.at(i)
	if err != nil {
		return 0
	}
	for a != b {
		if i == 0 {
			return 0
		}
		pa, oka, erra := l.objs.FirstParent(a)
		pb, okb, errb := l.objs.FirstParent(b)
		if erra != nil || errb != nil || !oka || !okb {
			return 0
		}
		a, b, i = pa, pb, i-1
	}
	return i + 1
}

// checkPlanNames checks that plan bytes name plan id of ledger: an apply of
// another ledger's plan, or of one plan under a second id, is a replay.
func checkPlanNames(plan []byte, id, ledger string) error {
	var named struct {
		ID     string `json:"id"`
		Ledger string `json:"ledger"`
	}
	if err := json.Unmarshal(plan, &named); err != nil {
		return fmt.Errorf("plans/%s.json: %v", id, err)
	}
	if named.ID != id || named.Ledger != ledger {
		return fmt.Errorf("plans/%s.json is plan %q of ledger %q: a replayed plan (want plan %q of %q)", id, named.ID, named.Ledger, id, ledger)
	}
	return nil
}

// parents reads the parents of commit c.
func (l *Ledger) parents(c plumbing.Hash) ([]plumbing.Hash, error) {
	raw, err := l.objs.Get(c, plumbing.CommitObject)
	if err != nil {
		return nil, err
	}
	_, ps, _, err := gitobj.ParseCommitHeaders(raw)
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", c, err)
	}
	return ps, nil
}

// parentOf returns the one parent of a ledger commit.
func (l *Ledger) parentOf(c plumbing.Hash) (plumbing.Hash, error) {
	ps, err := l.parents(c)
	if err != nil {
		return c, err
	}
	if len(ps) != 1 {
		return c, fmt.Errorf("commit %s: not a ledger commit", c)
	}
	return ps[0], nil
}
