package gitledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/merkle"
	"github.com/vmc-git/vmc-git/witness"
)

// Witnesses (package witness, keys.WitnessSpec).
//
// Writing: a snapshot tag made under a trust state with witnesses carries,
// after the signer's note signature named <kid>, a second one by the same
// key named <ledger id> (C2SP asks that a log key's name be its origin;
// witnesses register that key) and the cosignatures the caller's
// CosignFunc gathered. With witness_threshold N > 0 no tag is written with
// fewer than N valid cosignatures: the snapshot waits, the ledger does not.
//
// Verifying: every snapshot tag made under witness_threshold N > 0 (the
// trust state at its receipt size-1) must carry valid cosignatures by N
// distinct witnesses of that state, timestamped no later than the tag's
// time + witness.MaxClockSkew; a cosignature line by a policy witness that
// does not verify fails the tag. CheckKnown and WitnessCheck compare the
// ledger with checkpoints from outside the repository.

// CosignFunc gathers witness cosignatures for req from ws and returns the
// note with them appended; it fails (the tag is not written) below
// threshold. The command line passes one built on witness.Cosign.
type CosignFunc func(req witness.Request, ws []witness.Witness, threshold int) ([]byte, error)

// originSigner is the snapshot signer's key under the ledger id's name.
func originSigner(s *keys.Signer, ledger string) (note.Signer, error) {
	return merkle.NewNoteSigner(ledger, s.Ed25519(), s.SignRaw)
}

// LogVerifierKey returns the note verifier key a witness registers for a
// snapshot signer: name = the ledger id (the origin), key = the signer's.
func LogVerifierKey(ledger string, e *keys.Entry) (string, error) {
	pub, err := keys.Ed25519Public(e.Pub)
	if err != nil {
		return "", err
	}
	return merkle.VerifierKey(ledger, pub)
}

// witnessSnapshot signs the checkpoint of a tag under the witness policy of
// t and gathers cosignatures. prevSize is the newest tag below size (0 for
// none); leaves returns the leaf hashes of the first size receipts.
func witnessSnapshot(t *keys.Trust, s *keys.Signer, kid string, cp merkle.Checkpoint, prevSize uint64, leaves func() ([]merkle.Hash, error), cosign CosignFunc) ([]byte, error) {
	ws, threshold, err := t.WitnessPolicy()
	if err != nil {
		return nil, err
	}
	ks, err := NoteSigner(s, kid)
	if err != nil {
		return nil, err
	}
	orig, err := originSigner(s, cp.Origin)
	if err != nil {
		return nil, err
	}
	signed, err := merkle.SignCheckpoint(cp, ks, orig)
	if err != nil {
		return nil, err
	}
	if cosign == nil {
		if threshold > 0 {
			return nil, fmt.Errorf("witness_threshold is %d: a snapshot tag needs witness cosignatures, and none were asked for", threshold)
		}
		return signed, nil
	}
	var once sync.Once
	var ls []merkle.Hash
	var lerr error
	req := witness.Request{Checkpoint: cp, Signed: signed, OldSize: prevSize, Prove: func(old uint64) ([]merkle.Hash, error) {
		once.Do(func() { ls, lerr = leaves() })
		if lerr != nil {
			return nil, lerr
		}
		return merkle.ProveConsistency(ls, old, cp.Size)
	}}
	out, err := cosign(req, ws, threshold)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s not tagged: %w", merkle.TagName(cp.Size), err)
	}
	// The writer never writes what the verifier rejects.
	if _, err := witness.Check(out, ws, threshold, time.Now()); err != nil {
		return nil, fmt.Errorf("snapshot %s not tagged: %w", merkle.TagName(cp.Size), err)
	}
	return out, nil
}

// checkTagWitnesses is the witness rule for one tag: msg is its message,
// t the trust state at its receipt size-1, at the tag's time.
func checkTagWitnesses(t *keys.Trust, msg []byte, at time.Time) error {
	ws, threshold, err := t.WitnessPolicy()
	if err != nil || len(ws) == 0 {
		return err
	}
	_, err = witness.Check(msg, ws, threshold, at)
	return err
}

// A KnownCheckpoint is a signed checkpoint from outside the repository
// (a file, a witness): the ledger must contain it.
type KnownCheckpoint struct {
	Source string // for messages: "file cp.txt"
	Note   []byte // the signed checkpoint note
}

// KnownResult says how a known checkpoint was authenticated.
type KnownResult struct {
	Source   string   `json:"source"`
	Size     uint64   `json:"size"`
	Root     string   `json:"root"`
	Cosigned []string `json:"cosigned_by,omitempty"` // witnesses
	SignedBy []string `json:"signed_by,omitempty"`   // operator keys
}

// CheckKnown checks the ledger against checkpoints from outside the
// repository. Each must name this ledger and be either cosigned by a
// quorum (witness_threshold, at least 1) of the witnesses of the trust state
// at the ledger's tip, or signed by a key active at the tip as applier or
// admin (note key name its kid or the ledger id). The ledger must then
// contain it (merkle.CheckContains): a shorter ledger or another root at
// that size is a *merkle.RollbackError naming both sizes and roots. A
// checkpoint that cannot be authenticated is an error too: the caller
// asked for it to be checked.
//
// Preconditions: the ledger was verified (Verify) first.
func (l *Ledger) CheckKnown(known []KnownCheckpoint) ([]KnownResult, error) {
	if len(known) == 0 {
		return nil, nil
	}
	r, err := l.NewReader()
	if err != nil {
		return nil, err
	}
	n := r.Tip.Head.Seq + 1
	var leaves []merkle.Hash
	rootAt := func(size uint64) (merkle.Hash, error) {
		if leaves == nil {
			if leaves, err = LeafHashes(r, 0, n); err != nil {
				return merkle.Hash{}, err
			}
		}
		return merkle.RootOf(leaves[:size]), nil
	}
	var out []KnownResult
	for _, k := range known {
		cp, res, err := authenticateKnown(r.Tip.Trust, r.Tip.Head.Ledger, k)
		if err != nil {
			return out, err
		}
		if err := merkle.CheckContains(cp, k.Source, n, rootAt); err != nil {
			return out, err
		}
		out = append(out, res)
	}
	return out, nil
}

// authenticateKnown parses and authenticates one known checkpoint.
func authenticateKnown(t *keys.Trust, ledger string, k KnownCheckpoint) (merkle.Checkpoint, KnownResult, error) {
	fail := func(format string, a ...any) (merkle.Checkpoint, KnownResult, error) {
		return merkle.Checkpoint{}, KnownResult{}, fmt.Errorf("%s: %s", k.Source, fmt.Sprintf(format, a...))
	}
	text, _, ok := strings.Cut(string(k.Note), "\n\n")
	if !ok {
		return fail("not a signed note (no blank line before the signatures)")
	}
	cp, err := merkle.ParseCheckpoint([]byte(text + "\n"))
	if err != nil {
		return fail("%v", err)
	}
	if cp.Origin != ledger {
		return fail("checkpoint of %q, not of this ledger %q", cp.Origin, ledger)
	}
	res := KnownResult{Source: k.Source, Size: cp.Size, Root: cp.Root.String()}
	ws, threshold, err := t.WitnessPolicy()
	if err != nil {
		return fail("%v", err)
	}
	var werr error
	if len(ws) > 0 {
		cos, err := witness.Check(k.Note, ws, max(threshold, 1), time.Now())
		if err == nil {
			for _, c := range cos {
				res.Cosigned = append(res.Cosigned, c.Witness)
			}
			return cp, res, nil
		}
		werr = err
	}
	var vs []note.Verifier
	for _, e := range t.Keys() {
		if e.Status != keys.StatusActive || (!slices.Contains(e.Roles, keys.RoleApplier) && !slices.Contains(e.Roles, keys.RoleAdmin)) {
			continue
		}
		pub, err := keys.Ed25519Public(e.Pub)
		if err != nil {
			continue
		}
		for _, name := range []string{e.KID, ledger} {
			vk, err := merkle.VerifierKey(name, pub)
			if err != nil {
				continue
			}
			if v, err := note.NewVerifier(vk); err == nil {
				vs = append(vs, v)
			}
		}
	}
	n, err := note.Open(k.Note, note.VerifierList(vs...))
	if err == nil {
		for _, s := range n.Sigs {
			if !slices.Contains(res.SignedBy, s.Name) {
				res.SignedBy = append(res.SignedBy, s.Name)
			}
		}
		return cp, res, nil
	}
	if werr != nil {
		return fail("neither cosigned by the witnesses (%v) nor signed by an applier or admin key of this ledger (%v)", werr, err)
	}
	return fail("not signed by an applier or admin key of this ledger: %v", err)
}

// WitnessAheadError says a witness has cosigned a larger tree than the
// ledger holds. Witnesses answer with sizes only, so its root is unknown.
type WitnessAheadError struct {
	Witness     string
	WitnessSize uint64
	LedgerSize  uint64
	LedgerRoot  merkle.Hash
}

func (e *WitnessAheadError) Error() string {
	return fmt.Sprintf("ledger rolled back: it has %d receipts (root %s), but witness %s has cosigned a checkpoint of size %d (its root is not disclosed by the protocol): newer receipts are withheld or were removed",
		e.LedgerSize, e.LedgerRoot, e.Witness, e.WitnessSize)
}

// WitnessReport is the outcome of WitnessCheck.
type WitnessReport struct {
	Probed     uint64                `json:"probed_size"` // the newest snapshot tag's size
	LedgerSize uint64                `json:"ledger_size"`
	Witnesses  []witness.ProbeResult `json:"witnesses"`
	Threshold  int                   `json:"witness_threshold"`
}

// ErrNoWitnesses means the trust state names no witness.
var ErrNoWitnesses = errors.New("the trust state names no witnesses (vmc-git witness add)")

// WitnessCheck asks every witness of the tip's trust state where it stands
// on this ledger, with the newest snapshot tag's checkpoint (witness.Probe:
// the witnesses are not moved). It fails with a *WitnessAheadError if a
// witness has cosigned more receipts than the ledger has, with a
// *merkle.RollbackError if one holds another root at the tag's size, and if
// fewer than max(witness_threshold, 1) witnesses answered. A witness whose
// size lies between the tag and the ledger's length is fine: those receipts
// are simply not in a tag yet.
//
// Preconditions: the ledger and its tags were verified (Verify) first.
func (l *Ledger) WitnessCheck(ctx context.Context, c *witness.Client, now time.Time) (*WitnessReport, error) {
	r, err := l.NewReader()
	if err != nil {
		return nil, err
	}
	ws, threshold, err := r.Tip.Trust.WitnessPolicy()
	if err != nil {
		return nil, err
	}
	if len(ws) == 0 {
		return nil, ErrNoWitnesses
	}
	sizes, err := l.SnapshotSizes()
	if err != nil {
		return nil, err
	}
	if len(sizes) == 0 {
		return nil, errors.New("no snapshot tag to show the witnesses: run vmc-git merkle receipts --tag first")
	}
	top := sizes[len(sizes)-1]
	tag, err := l.readSnapshotTag(top)
	if err != nil {
		return nil, err
	}
	n := r.Tip.Head.Seq + 1
	rep := &WitnessReport{Probed: top, LedgerSize: n, Threshold: threshold, Witnesses: make([]witness.ProbeResult, len(ws))}
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rep.Witnesses[i] = witness.Probe(ctx, c, w, []byte(tag.info.message), tag.checkpoint, now)
		}()
	}
	wg.Wait()
	var ledgerRoot merkle.Hash
	rootOf := func() (merkle.Hash, error) {
		if ledgerRoot.IsZero() {
			ls, err := LeafHashes(r, 0, n)
			if err != nil {
				return ledgerRoot, err
			}
			ledgerRoot = merkle.RootOf(ls)
		}
		return ledgerRoot, nil
	}
	answered := 0
	for _, p := range rep.Witnesses {
		if p.Err != nil {
			continue
		}
		answered++
		switch {
		case p.Fork:
			root, err := rootOf()
			if err != nil {
				return rep, err
			}
			return rep, &merkle.RollbackError{Known: merkle.Checkpoint{Origin: tag.checkpoint.Origin, Size: top}, Source: "witness " + p.Witness + " (another root at the newest tag's size)",
				LedgerSize: n, LedgerRoot: root, LedgerRootAtKnown: tag.checkpoint.Root}
		case p.Size > n:
			root, err := rootOf()
			if err != nil {
				return rep, err
			}
			return rep, &WitnessAheadError{Witness: p.Witness, WitnessSize: p.Size, LedgerSize: n, LedgerRoot: root}
		}
	}
	if need := max(threshold, 1); answered < need {
		var errs []string
		for _, p := range rep.Witnesses {
			if p.Err != nil {
				errs = append(errs, p.Error)
			}
		}
		return rep, fmt.Errorf("witness check: %d of %d witnesses answered, %d needed: %s", answered, len(ws), need, strings.Join(errs, "; "))
	}
	return rep, nil
}

// witnessTag re-signs and cosigns res's checkpoint when the trust state at
// its receipt size-1 names witnesses.
func (l *Ledger) witnessTag(res *SnapshotResult, s *keys.Signer, kid string, cp merkle.Checkpoint, r *Reader, cosign CosignFunc) error {
	t, err := l.trustAtCommit(res.Commit)
	if err != nil {
		return err
	}
	if len(t.Witnesses) == 0 {
		return nil
	}
	sizes, err := l.SnapshotSizes()
	if err != nil {
		return err
	}
	var prev uint64
	for _, z := range sizes {
		if z < cp.Size {
			prev = z
		}
	}
	signed, err := witnessSnapshot(t, s, kid, cp, prev, func() ([]merkle.Hash, error) { return LeafHashes(r, 0, cp.Size) }, cosign)
	if err != nil {
		return err
	}
	res.Checkpoint = string(signed)
	return nil
}
