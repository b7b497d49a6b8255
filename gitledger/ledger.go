// Package gitledger stores vmc-git receipts as a hash chain of signed git
// commits on a ledger branch, and verifies such a chain.
//
// # Layout
//
// The ledger branch (default refs/heads/vmc/ledger) has one commit per
// receipt. The tree of the commit that holds receipt seq is:
//
//	HEAD.json                         canonical {v, ledger, seq, blake3, sha256, path, created_at}
//	keys/allowed_signers              trust as of this receipt (OpenSSH allowed_signers)
//	keys/trust.json                   the same trust state in full (roles, thresholds), canonical
//	receipts/AAA/BB/CC/D/NNNNNNNNN.json      format 2 (the default since issue 18):
//	receipts/AAA/BB/CC/D/NNNNNNNNN.json.sig    AAA = seq/1e6, BB = (seq/1e4)%100,
//	                                           CC = (seq/100)%100, D = (seq/10)%10
//	receipts/AAA/BBB/NNNNNNNNN.json          format 1: AAA = seq/1e6, BBB = (seq/1e3)%1000
//	receipts/AAA/BBB/NNNNNNNNN.json.sig
//	plans/<id>.json, plans/<id>.approvals/<kid>.sig   for apply receipts: the exact plan applied
//
// N is seq zero-padded to 9 digits. HEAD.json's v is the ledger format
// (receipt.Format1, receipt.Format2), the genesis commit's for every commit;
// Init writes Ledger.Format (default receipt.DefaultFormat = 2) and Verify
// reads both. Format 2 (format2.go) keeps every directory a commit rewrites
// below receipts/ at 100 entries or fewer (a leaf D/ holds 10 receipts),
// where format 1 rewrote a directory of up to 2,000 entries per commit:
// a clone hashes about 15 times fewer tree bytes. Both are read by stock
// git at the path above (receipt.PathIn), and each .sig is checked by
// ssh-keygen -Y verify as before.
//
// keys/trust.json is an addition to DESIGN section 3: it lets a verifier
// resume from any verified commit in O(1) (the hook, verify --from) instead
// of replaying every keys receipt. Like allowed_signers it is derived, and
// every verifier re-derives it and compares bytes.
//
// # Rules
//
// The genesis commit has no parent; every other commit has exactly one, the
// commit of seq-1. A commit adds exactly one receipt and its .sig, rewrites
// HEAD.json, and changes keys/ only for genesis and keys receipts and plans/
// only for apply receipts (adding exactly that plan and its approvals). The
// commit is SSHSIG-signed (namespace git) by the receipt's kid; author and
// committer are "vmc-git <kid>" at the receipt's created_at; the message is
// Message(receipt). Verify checks all of it, and that created_at never goes
// backwards.
//
// # Costs and durability
//
// Append rewrites only the trees on the new receipt's path (root,
// receipts/ and the directories below it on the path), so its cost does not
// grow with the ledger. A receipt's objects are written
// as one small pack and its index, fsynced together (gitobj.PackBatch: one
// durability barrier per receipt, two files) before the ref moves; the
// packs of a run are merged as it goes (O(log n) of them), and those that
// earlier runs left are git gc's to consolidate; the ref moves with git's own
// lock-file protocol as a compare-and-swap, so concurrent writers (vmc-git or
// git) never fork the chain: the loser re-reads the tip and retries.
// Verification of k receipts on top of a verified commit costs O(k): Verify
// with Remember starts from the remembered verified head (incremental.go),
// and snapshot tags are checked from stored Merkle hashes (tiles.go).
// A Ledger remembers the last few tips it read, by commit (tipcache.go):
// Tip costs one ref read, and a tree read only when the ref moved to a
// commit not read lately.
//
// # What the package owns
//
// The ledger format (layout, receipt placement, commit messages), Append
// and its batch form Generate, the verifiers (Verify, VerifyUpdate,
// VerifyTip, VerifyEntry), reads (Reader, Applied: whether a plan has a
// receipt) and Merkle snapshot tags. It builds on internal/gitobj for git's
// objects (loose and packed objects, tree and commit codecs) and on package
// trust for what a keys receipt does to the trust state. Main-branch trees
// are read through ReadTree (any mode) for the hook; their rules are the
// hook's and package plans'.
package gitledger

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/storage/filesystem"

	"github.com/vmc-git/vmc-git/internal/canon"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/internal/gitobj"
	"github.com/vmc-git/vmc-git/internal/layout"
	"github.com/vmc-git/vmc-git/internal/trace"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/receipt"
	"github.com/vmc-git/vmc-git/trust"
)

// DefaultBranch is the ledger branch name unless configured otherwise.
const DefaultBranch = "vmc/ledger"

// File names in the ledger tree.
const (
	HeadFile           = "HEAD.json"
	KeysDir            = "keys"
	AllowedSignersFile = "allowed_signers"
	TrustFile          = "trust.json"
	ReceiptsDir        = "receipts"
	PlansDir           = layout.PlansDir        // the applied plan's copy (package internal/layout)
	ApprovalsSuffix    = layout.ApprovalsSuffix // and its approvals
)

// Ident is the author and committer name of ledger commits; the e-mail part
// is the signer's kid.
const Ident = "vmc-git"

// ErrNoLedger is returned when the ledger branch does not exist yet.
var ErrNoLedger = errors.New("no ledger branch: run vmc-git init")

// ErrConflict is returned by Append when another writer kept winning.
var ErrConflict = errors.New("ledger branch moved under us too many times")

// Ledger is one ledger branch in one git repository.
type Ledger struct {
	GitDir string
	Ref    plumbing.ReferenceName
	// Format is the ledger format Init writes (receipt.Format1 or Format2;
	// 0: receipt.DefaultFormat). Appends keep the format of the tip.
	Format int
	repo   *git.Repository
	objs   *gitobj.Store
	tips   *tipCache // shared by the copies WithBranch makes
}

// Open opens the repository at or above dir; branch "" means DefaultBranch.
func Open(dir, branch string) (*Ledger, error) {
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if err != nil {
		return nil, fmt.Errorf("open git repository at %s: %w", dir, err)
	}
	fs, ok := repo.Storer.(*filesystem.Storage)
	if !ok {
		return nil, errors.New("open git repository: not on disk")
	}
	return openRepo(repo, fs.Filesystem().Root(), branch)
}

// OpenGitDir opens a repository (bare or not) by its git directory.
func OpenGitDir(gitDir, branch string) (*Ledger, error) {
	repo, err := git.PlainOpen(gitDir)
	if err != nil {
		return nil, fmt.Errorf("open git repository at %s: %w", gitDir, err)
	}
	return openRepo(repo, gitDir, branch)
}

func openRepo(repo *git.Repository, gitDir, branch string) (*Ledger, error) {
	if branch == "" {
		branch = DefaultBranch
	}
	ref := plumbing.NewBranchReferenceName(branch)
	if err := ref.Validate(); err != nil || strings.Contains(branch, "..") {
		return nil, fmt.Errorf("invalid ledger branch %q", branch)
	}
	return &Ledger{
		GitDir: gitDir,
		Ref:    ref,
		repo:   repo,
		objs:   &gitobj.Store{ObjectsDir: filepath.Join(gitDir, "objects"), Read: repo.Storer},
		tips:   &tipCache{},
	}, nil
}

// Repo returns the underlying go-git repository.
func (l *Ledger) Repo() *git.Repository { return l.repo }

// Tip is the newest receipt of the ledger and what is needed to append to it.
type Tip struct {
	Commit plumbing.Hash // zero for an empty ledger
	Head   receipt.Head  // zero for an empty ledger
	Trust  *keys.Trust   // nil for an empty ledger
	trees  *pathTrees
}

// Empty reports whether the ledger has no receipt yet.
func (t *Tip) Empty() bool { return t.Commit.IsZero() }

// Tip reads the ledger's newest receipt (ErrNoLedger if there is none).
// It trusts the local branch; Verify is what checks it.
func (l *Ledger) Tip() (*Tip, error) {
	ref, err := l.repo.Storer.Reference(l.Ref)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return nil, ErrNoLedger
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", l.Ref, err)
	}
	return l.tipAt(ref.Hash())
}

// tipAt returns the tip at commit: remembered (tipCache), or read.
func (l *Ledger) tipAt(commit plumbing.Hash) (*Tip, error) {
	if t := l.tips.get(commit); t != nil {
		return t, nil
	}
	t, err := l.readTip(commit)
	if err != nil {
		return nil, err
	}
	l.tips.put(t)
	return t, nil
}

func (l *Ledger) readTip(commit plumbing.Hash) (*Tip, error) {
	trace.Add(trace.TipReads)
	tree, err := l.CommitTree(commit)
	if err != nil {
		return nil, err
	}
	pt, err := l.loadTrees(tree)
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", commit, err)
	}
	t := &Tip{Commit: commit, trees: pt}
	hb, err := l.blobAt(pt.root, HeadFile, MaxHeadSize)
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", commit, err)
	}
	if t.Head, err = receipt.ParseHead(hb); err != nil {
		return nil, fmt.Errorf("commit %s: %w", commit, err)
	}
	descend := pt.descend
	if t.Head.V == receipt.Format2 {
		descend = pt.descend2
	}
	if err := descend(l, t.Head.Seq); err != nil {
		return nil, fmt.Errorf("commit %s: %w", commit, err)
	}
	keysDir, ok := gitobj.FindEntry(pt.root, KeysDir)
	if !ok {
		return nil, fmt.Errorf("commit %s: no %s/ directory", commit, KeysDir)
	}
	kt, err := l.tree(keysDir.ID)
	if err != nil {
		return nil, err
	}
	tb, err := l.blobAt(kt, TrustFile, MaxTrustSize)
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", commit, err)
	}
	t.Trust = new(keys.Trust)
	if err := t.Trust.UnmarshalJSON(tb); err != nil {
		return nil, fmt.Errorf("commit %s: %w", commit, err)
	}
	return t, nil
}

func (l *Ledger) tree(id plumbing.Hash) ([]gitobj.TreeEntry, error) {
	raw, err := l.objs.Get(id, plumbing.TreeObject)
	if err != nil {
		return nil, err
	}
	return gitobj.ParseTree(raw)
}

func (l *Ledger) blobAt(es []gitobj.TreeEntry, name string, limit int64) ([]byte, error) {
	e, ok := gitobj.FindEntry(es, name)
	if !ok || e.IsDir() {
		return nil, fmt.Errorf("no file %s", name)
	}
	b, err := l.objs.GetLimit(e.ID, plumbing.BlobObject, limit)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return b, nil
}

// Blob reads a blob by id.
func (l *Ledger) Blob(id plumbing.Hash) ([]byte, error) { return l.objs.Get(id, plumbing.BlobObject) }

// pathTrees caches the trees along the newest receipt's path: the root, the
// receipts/ tree, and the raw AAA and BBB trees.
type pathTrees struct {
	root     []gitobj.TreeEntry
	receipts []gitobj.TreeEntry
	aaaName  string
	aaaRaw   []byte
	bbbName  string
	bbbRaw   []byte
	v2       *pathTrees2 // format 2 (format2.go): the trees on the path, not the fields above
}

func shard(seq uint64) (aaa, bbb, name string) {
	p := strings.Split(receipt.Path(seq), "/")
	return p[1], p[2], p[3]
}

func (l *Ledger) loadTrees(root plumbing.Hash) (*pathTrees, error) {
	es, err := l.tree(root)
	if err != nil {
		return nil, err
	}
	return &pathTrees{root: es}, nil
}

// descend loads receipts/, AAA and BBB for receipt seq.
func (pt *pathTrees) descend(l *Ledger, seq uint64) error {
	aaa, bbb, _ := shard(seq)
	e, ok := gitobj.FindEntry(pt.root, ReceiptsDir)
	if !ok || !e.IsDir() {
		return fmt.Errorf("no %s/ directory", ReceiptsDir)
	}
	var err error
	if pt.receipts, err = l.tree(e.ID); err != nil {
		return err
	}
	a, ok := gitobj.FindEntry(pt.receipts, aaa)
	if !ok || !a.IsDir() {
		return fmt.Errorf("no directory receipts/%s", aaa)
	}
	if pt.aaaRaw, err = l.objs.Get(a.ID, plumbing.TreeObject); err != nil {
		return err
	}
	aes, err := gitobj.ParseTree(pt.aaaRaw)
	if err != nil {
		return err
	}
	b, ok := gitobj.FindEntry(aes, bbb)
	if !ok || !b.IsDir() {
		return fmt.Errorf("no directory receipts/%s/%s", aaa, bbb)
	}
	if pt.bbbRaw, err = l.objs.Get(b.ID, plumbing.TreeObject); err != nil {
		return err
	}
	pt.aaaName, pt.bbbName = aaa, bbb
	return nil
}

// Draft is what a caller supplies for a new receipt: its kind, summary and
// body. Append fills in v, ledger, seq, created_at, prev_blake3 and kid.
type Draft struct {
	Receipt receipt.Receipt
	Plan    *PlanCopy // apply receipts: the plan and approvals copied into the tree
}

// PlanCopy is the exact plan bytes and approval signatures of an apply.
type PlanCopy struct {
	Bytes     []byte
	Approvals map[string][]byte // kid -> armored SSHSIG (namespace vmc-plan)
}

// Written describes an appended receipt.
type Written struct {
	Seq     uint64
	Commit  plumbing.Hash
	Path    string
	Sums    digest.Sums
	Receipt *receipt.Receipt
	Bytes   []byte
}

// BuildFunc makes the draft for the next receipt on top of tip. It is called
// again after a lost race, with the new tip; an error stops Append.
type BuildFunc func(tip *Tip) (*Draft, error)

// Init writes the genesis receipt of a new ledger.
func (l *Ledger) Init(ledgerID string, s *keys.Signer, kid string, g receipt.Genesis, now time.Time) (*Written, error) {
	if err := receipt.ValidLedgerID(ledgerID); err != nil {
		return nil, err
	}
	if l.Format != 0 && !receipt.ValidFormat(l.Format) {
		return nil, fmt.Errorf("ledger format %d: want %d or %d", l.Format, receipt.Format1, receipt.Format2)
	}
	return l.appendOnce(&Tip{}, s, kid, func(*Tip) (*Draft, error) {
		return &Draft{Receipt: receipt.Receipt{Ledger: ledgerID, Kind: receipt.KindGenesis,
			Summary: "genesis of " + ledgerID, Genesis: &g}}, nil
	}, now)
}

// Append adds one receipt signed by s as kid, retrying on lost races.
func (l *Ledger) Append(s *keys.Signer, kid string, build BuildFunc) (*Written, error) {
	return l.appendRetry(s, kid, build, nil)
}

// AppendAlongside is Append that runs alongside (unless nil) once, in the
// calling goroutine, while the receipt is built and its objects are made
// durable in another, and takes the ledger ref's lock (to move the ref)
// only after alongside returned nil, so that dying in it leaves no lock
// file: the caller's own durable write (apply's journal) shares the
// append's fsync waits instead of adding its own before them. It
// returns once both are done; an error from alongside leaves the ref
// unchanged and is returned (joined with the append's own error, if any).
// If alongside panics, the append is stopped (the ref unchanged) before
// the panic goes on.
func (l *Ledger) AppendAlongside(s *keys.Signer, kid string, build BuildFunc, alongside func() error) (*Written, error) {
	if alongside == nil {
		return l.appendRetry(s, kid, build, nil)
	}
	sideErr := make(chan error, 1)
	var once sync.Once
	var serr error
	side := func() error {
		once.Do(func() { serr = <-sideErr })
		return serr
	}
	type result struct {
		w   *Written
		err error
	}
	out := make(chan result, 1)
	go func() {
		w, err := l.appendRetry(s, kid, build, side)
		out <- result{w, err}
	}()
	var aerr error
	func() {
		finished := false
		defer func() {
			if !finished { // alongside panicked: stop the append first
				sideErr <- errors.New("stopped")
				<-out
			}
		}()
		aerr = alongside()
		finished = true
	}()
	sideErr <- aerr
	r := <-out
	if aerr != nil && !errors.Is(r.err, aerr) {
		return nil, errors.Join(r.err, aerr)
	}
	return r.w, r.err
}

// appendRetry is Append, moving the ref only once side (unless nil) has
// returned nil.
func (l *Ledger) appendRetry(s *keys.Signer, kid string, build BuildFunc, side func() error) (*Written, error) {
	const attempts = 50
	for i := 0; i < attempts; i++ {
		tip, err := l.Tip()
		if err != nil {
			return nil, err
		}
		w, err := l.appendSide(tip, s, kid, build, time.Now(), side)
		if !errors.Is(err, errRaced) {
			return w, err
		}
		time.Sleep(time.Duration(1+rand.IntN(5*(i+1))) * time.Millisecond)
	}
	lockFile := filepath.Join(l.GitDir, filepath.FromSlash(l.Ref.String())) + ".lock"
	if fi, err := os.Stat(lockFile); err == nil && time.Since(fi.ModTime()) > 10*time.Second {
		return nil, fmt.Errorf("%w: %s has existed since %s; if no git or vmc-git process is running, a crashed writer left it: remove it",
			ErrConflict, lockFile, fi.ModTime().UTC().Format(time.RFC3339))
	}
	return nil, ErrConflict
}

var errRaced = gitobj.ErrRaced

// appendOnce writes the objects of one receipt as one small pack
// (gitobj.PackBatch: a pack and its index, fsynced at once, not one loose
// object each) and moves the ref only once they and their directory are
// durable.
func (l *Ledger) appendOnce(tip *Tip, s *keys.Signer, kid string, build BuildFunc, now time.Time) (*Written, error) {
	return l.appendSide(tip, s, kid, build, now, nil)
}

// appendSide is appendOnce that moves the ref only once side (unless nil:
// AppendAlongside's wait) has returned nil too.
func (l *Ledger) appendSide(tip *Tip, s *keys.Signer, kid string, build BuildFunc, now time.Time, side func() error) (*Written, error) {
	b := l.objs.NewPackBatch()
	w, _, err := l.writeReceipt(tip, s, kid, build, now, b.Put)
	if err != nil {
		b.Abort()
		return nil, err
	}
	wait, err := b.FlushStart()
	if err != nil {
		return nil, err
	}
	// The object directories' fsyncs run beside the ref lock file's; the
	// ref moves only once both are done.
	if side != nil {
		// Before the ref's lock is taken: a run that dies in alongside (or
		// while waiting for it) leaves no lock file behind.
		if err := side(); err != nil {
			wait()
			return nil, err
		}
	}
	err = gitobj.CASRefAfter(l.GitDir, l.repo.Storer, l.Ref, tip.Commit, w.Commit, wait)
	if werr := wait(); err == nil && werr != nil {
		err = werr
	}
	if err != nil {
		return nil, err
	}
	return w, nil
}

// writeReceipt writes, with put, the objects of the receipt that build makes
// on top of tip, and returns it with the tip it makes. It does not move the
// ref.
func (l *Ledger) writeReceipt(tip *Tip, s *keys.Signer, kid string, build BuildFunc, now time.Time, put putFunc) (*Written, *Tip, error) {
	d, err := build(tip)
	if err != nil {
		return nil, nil, err
	}
	r := d.Receipt
	r.V, r.KID = receipt.Version, kid
	if tip.Empty() {
		r.Seq, r.PrevBlake3 = 0, digest.Zero
	} else {
		r.Ledger, r.Seq, r.PrevBlake3 = tip.Head.Ledger, tip.Head.Seq+1, tip.Head.Blake3
	}
	created := now.UTC().Truncate(time.Second)
	if !tip.Empty() {
		if prev, err := keys.ParseTime(tip.Head.CreatedAt); err == nil && created.Before(prev) {
			created = prev // never go backwards, even if this clock is behind
		}
		// After a rotation or retirement, date receipts past the ended key's
		// valid-before, so stock git and vmc-git agree on every commit.
		for _, e := range tip.Trust.Keys() {
			if e.Status != keys.StatusActive && e.Reason != receipt.ReasonCompromised && created.Before(e.ValidUntil()) {
				created = e.ValidUntil()
			}
		}
	}
	if r.CreatedAt == "" {
		r.CreatedAt = keys.FormatTime(created)
	}
	// Never write what the hook refuses: a receipt dated beyond the clock
	// (a draft's own time, or a previous receipt's that pins the clock).
	if t, err := keys.ParseTime(r.CreatedAt); err == nil && t.After(now.Add(MaxClockSkew)) {
		return nil, nil, &FutureError{Seq: r.Seq, CreatedAt: r.CreatedAt, Now: now}
	}
	body, err := r.Encode()
	if err != nil {
		return nil, nil, err
	}
	// The trust state that authorizes this receipt, and the one after it.
	before, after := tip.Trust, tip.Trust
	switch r.Kind {
	case receipt.KindGenesis:
		if before, err = keys.NewTrust(r.Genesis.Keys, r.Genesis.Policy, r.Time()); err != nil {
			return nil, nil, err
		}
		after = before
	case receipt.KindKeys:
		if after, err = trust.ApplyKeys(before, &r); err != nil {
			return nil, nil, err
		}
	}
	if r.Kind == receipt.KindAnchor && !tip.Empty() {
		// The same check Verify runs: never write what it would reject.
		if _, err := l.checkAnchor(nil, tip.Head.V, tip.trees.root, &r, s.PublicKey()); err != nil {
			return nil, nil, err
		}
	}
	if r.Kind == receipt.KindApply {
		if d.Plan == nil {
			return nil, nil, errors.New("apply receipt without its plan copy")
		}
		// The same rule Verify applies: never write what it would reject.
		if err := checkApplyApprovals(before, &r, d.Plan.Bytes, d.Plan.Approvals); err != nil {
			return nil, nil, fmt.Errorf("plan %s: %w", r.Apply.Plan.ID, err)
		}
		if err := checkApplyPlanNames(&r, d.Plan.Bytes); err != nil {
			return nil, nil, err
		}
	}
	if _, err := before.Authorize(kid, s.PublicKey(), r.Time(), receipt.RolesOf(&r)...); err != nil {
		return nil, nil, fmt.Errorf("cannot sign a %s receipt: %w", r.Kind, err)
	}
	sig, err := s.Sign(keys.NamespaceReceipt, body)
	if err != nil {
		return nil, nil, err
	}
	sums := digest.Of(body)
	h := receipt.HeadIn(l.formatAfter(tip), &r, sums)
	head, err := h.Encode()
	if err != nil {
		return nil, nil, err
	}
	tree, trees, err := l.writeTree(tip, &r, body, sig, head, after, d.Plan, put)
	if err != nil {
		return nil, nil, err
	}
	c := gitobj.CommitInfo{Tree: tree, Parent: tip.Commit, Ident: Ident + " <" + kid + ">", When: r.Time().Unix(), Message: Message(&r, sums.Blake3)}
	csig, err := s.Sign(keys.NamespaceGit, c.Encode(false))
	if err != nil {
		return nil, nil, err
	}
	c.Signature = string(csig)
	commit, err := put(plumbing.CommitObject, c.Encode(true))
	if err != nil {
		return nil, nil, err
	}
	next := &Tip{Commit: commit, Head: h, Trust: after, trees: trees}
	return &Written{Seq: r.Seq, Commit: commit, Path: h.Path, Sums: sums, Receipt: &r, Bytes: body}, next, nil
}

// writeTree writes with put the blobs and trees of the commit after tip and
// returns the root tree with the path trees of the new receipt.
func (l *Ledger) writeTree(tip *Tip, r *receipt.Receipt, body, sig, head []byte, trust *keys.Trust, plan *PlanCopy, put putFunc) (plumbing.Hash, *pathTrees, error) {
	var z plumbing.Hash
	blob := func(b []byte) (plumbing.Hash, error) { return put(plumbing.BlobObject, b) }

	pt := tip.trees
	if pt == nil {
		pt = &pathTrees{}
	}
	aaa, bbb, name := shard(r.Seq)
	rid, err := blob(body)
	if err != nil {
		return z, nil, err
	}
	sid, err := blob(sig)
	if err != nil {
		return z, nil, err
	}
	if l.formatAfter(tip) == receipt.Format2 {
		recID, p2, err := writeReceipts2(pt, r.Seq, rid, sid, put)
		if err != nil {
			return z, nil, err
		}
		rootID, root, err := l.writeRoot(pt, r, recID, head, trust, plan, put)
		return rootID, &pathTrees{root: root, v2: p2}, err
	}
	bbbRaw := []byte(nil)
	if pt.aaaName == aaa && pt.bbbName == bbb {
		bbbRaw = append(bbbRaw, pt.bbbRaw...)
	}
	bbbRaw = gitobj.AppendTreeEntry(bbbRaw, gitobj.TreeEntry{Mode: gitobj.ModeFile, Name: name, ID: rid})
	bbbRaw = gitobj.AppendTreeEntry(bbbRaw, gitobj.TreeEntry{Mode: gitobj.ModeFile, Name: name + receipt.SigSuffix, ID: sid})
	bid, err := put(plumbing.TreeObject, bbbRaw)
	if err != nil {
		return z, nil, err
	}
	var aes []gitobj.TreeEntry
	if pt.aaaName == aaa {
		if aes, err = gitobj.ParseTree(pt.aaaRaw); err != nil {
			return z, nil, err
		}
	}
	aaaRaw := gitobj.EncodeTree(gitobj.SetEntry(aes, gitobj.TreeEntry{Mode: gitobj.ModeDir, Name: bbb, ID: bid}))
	aid, err := put(plumbing.TreeObject, aaaRaw)
	if err != nil {
		return z, nil, err
	}
	recs := gitobj.SetEntry(pt.receipts, gitobj.TreeEntry{Mode: gitobj.ModeDir, Name: aaa, ID: aid})
	recID, err := put(plumbing.TreeObject, gitobj.EncodeTree(recs))
	if err != nil {
		return z, nil, err
	}
	rootID, root, err := l.writeRoot(pt, r, recID, head, trust, plan, put)
	if err != nil {
		return z, nil, err
	}
	return rootID, &pathTrees{root: root, receipts: recs, aaaName: aaa, aaaRaw: aaaRaw, bbbName: bbb, bbbRaw: bbbRaw}, nil
}

// writeRoot writes the root tree of the commit after pt's with the new
// receipts/ tree recID, HEAD.json and what the receipt's kind changes.
func (l *Ledger) writeRoot(pt *pathTrees, r *receipt.Receipt, recID plumbing.Hash, head []byte, trust *keys.Trust, plan *PlanCopy, put putFunc) (plumbing.Hash, []gitobj.TreeEntry, error) {
	var z plumbing.Hash
	blob := func(b []byte) (plumbing.Hash, error) { return put(plumbing.BlobObject, b) }
	root := gitobj.SetEntry(pt.root, gitobj.TreeEntry{Mode: gitobj.ModeDir, Name: ReceiptsDir, ID: recID})
	hid, err := blob(head)
	if err != nil {
		return z, nil, err
	}
	root = gitobj.SetEntry(root, gitobj.TreeEntry{Mode: gitobj.ModeFile, Name: HeadFile, ID: hid})
	if r.Kind == receipt.KindGenesis || r.Kind == receipt.KindKeys {
		kid, err := l.writeKeysTree(trust, put)
		if err != nil {
			return z, nil, err
		}
		root = gitobj.SetEntry(root, gitobj.TreeEntry{Mode: gitobj.ModeDir, Name: KeysDir, ID: kid})
	}
	if r.Kind == receipt.KindApply {
		if plan == nil {
			return z, nil, errors.New("apply receipt without its plan copy")
		}
		var pes []gitobj.TreeEntry
		if e, ok := gitobj.FindEntry(root, PlansDir); ok {
			if pes, err = l.tree(e.ID); err != nil {
				return z, nil, err
			}
		}
		pid, err := writePlanTree(pes, r.Apply.Plan.ID, plan, put)
		if err != nil {
			return z, nil, err
		}
		root = gitobj.SetEntry(root, gitobj.TreeEntry{Mode: gitobj.ModeDir, Name: PlansDir, ID: pid})
	}
	rootID, err := put(plumbing.TreeObject, gitobj.EncodeTree(root))
	if err != nil {
		return z, nil, err
	}
	return rootID, root, nil
}

// formatAfter is the format of the receipt after tip: the tip's, or for
// genesis l.Format.
func (l *Ledger) formatAfter(tip *Tip) int {
	if !tip.Empty() {
		return tip.Head.V
	}
	if l.Format == 0 {
		return receipt.DefaultFormat
	}
	return l.Format
}

// putFunc stores an object and returns its id: gitobj.PackBatch.Put (one
// small pack a receipt, made durable before the ref moves), gitobj.Store.Put
// (one fsynced loose object), gitobj.PackWriter.Put (one pack for a batch
// of receipts) or hashOnly.
type putFunc func(plumbing.ObjectType, []byte) (plumbing.Hash, error)

// keysTree returns the keys/ tree for a trust state, written with put.
func (l *Ledger) writeKeysTree(t *keys.Trust, put putFunc) (plumbing.Hash, error) {
	tj, err := canon.Marshal(t)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	as, err := put(plumbing.BlobObject, t.AllowedSigners())
	if err != nil {
		return plumbing.ZeroHash, err
	}
	tid, err := put(plumbing.BlobObject, tj)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return put(plumbing.TreeObject, gitobj.EncodeTree([]gitobj.TreeEntry{{Mode: gitobj.ModeFile, Name: AllowedSignersFile, ID: as}, {Mode: gitobj.ModeFile, Name: TrustFile, ID: tid}}))
}

// writePlanTree adds <id>.json and <id>.approvals/<kid>.sig to plans/.
func writePlanTree(pes []gitobj.TreeEntry, id string, plan *PlanCopy, put putFunc) (plumbing.Hash, error) {
	var z plumbing.Hash
	pb, err := put(plumbing.BlobObject, plan.Bytes)
	if err != nil {
		return z, err
	}
	pes = gitobj.SetEntry(pes, gitobj.TreeEntry{Mode: gitobj.ModeFile, Name: id + ".json", ID: pb})
	if len(plan.Approvals) > 0 {
		var aes []gitobj.TreeEntry
		for kid, sig := range plan.Approvals {
			sid, err := put(plumbing.BlobObject, sig)
			if err != nil {
				return z, err
			}
			aes = append(aes, gitobj.TreeEntry{Mode: gitobj.ModeFile, Name: kid + ".sig", ID: sid})
		}
		at, err := put(plumbing.TreeObject, gitobj.EncodeTree(aes))
		if err != nil {
			return z, err
		}
		pes = gitobj.SetEntry(pes, gitobj.TreeEntry{Mode: gitobj.ModeDir, Name: id + ApprovalsSuffix, ID: at})
	}
	return put(plumbing.TreeObject, gitobj.EncodeTree(pes))
}

// casRef moves the ledger ref from old (zero: must not exist) to new with
// git's lock-file protocol. It returns errRaced if the ref is not at old.
func (l *Ledger) casRef(old, new plumbing.Hash) error { return l.casRefTo(l.Ref, old, new) }

// casRefTo is casRef for any ref.
func (l *Ledger) casRefTo(name plumbing.ReferenceName, old, new plumbing.Hash) error {
	return gitobj.CASRef(l.GitDir, l.repo.Storer, name, old, new)
}
