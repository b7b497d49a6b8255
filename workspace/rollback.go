package workspace

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/merkle"
	"github.com/vmc-git/vmc-git/receipt"
)

// Rollback: a git server can serve an older ledger than it has and withhold
// the newer snapshot tags; a fresh clone that has verified nothing before
// cannot tell (the chain and every signature in it are still valid). Until
// witnesses cosign checkpoints (DESIGN section 6), a verifier states what it
// relies on and can be given a floor: --min-size N, or --checkpoint FILE (a
// merkle-<N>.json snapshot, or a signed checkpoint note such as a tag
// message, obtained elsewhere: the ledger must have at least N receipts and
// its first N must have that Merkle root). With witnesses (witness.go),
// CheckWitnessed then authenticates the file by its cosignatures or an
// operator signature, and can ask the witnesses themselves.

// Reliance names what a verification relied on to believe the ledger is
// current.
type Reliance struct {
	Kind   string `json:"kind"` // one of the Relies* constants
	Size   uint64 `json:"size"` // receipts covered
	Time   string `json:"time,omitempty"`
	Source string `json:"source"`
}

// Reliance kinds, strongest first.
const (
	ReliesCheckpoint = "checkpoint" // a checkpoint file given by the verifier
	ReliesMinSize    = "min-size"   // a minimum size given by the verifier
	ReliesRemembered = "remembered" // this clone's own earlier verification
	ReliesSnapshot   = "snapshot"   // the newest snapshot tag the server sent
	ReliesTip        = "tip"        // the ledger tip the server sent, nothing else
)

// MaxCheckpointFile bounds a checkpoint file.
const MaxCheckpointFile = 64 << 10

// ErrRolledBack is a ledger shorter than, or forked from, a known checkpoint.
var ErrRolledBack = errors.New("the ledger is older than a checkpoint known to the verifier (a rollback, or withheld receipts)")

// RollbackCheck is what the verifier knows independently of the server.
type RollbackCheck struct {
	MinSize        uint64 // refuse a ledger with fewer receipts (0: none)
	CheckpointFile string // a merkle-<N>.json snapshot file ("": none)
}

// CheckRollback refuses a verified ledger (rep) that is shorter than
// req.MinSize or than the checkpoint file, or whose first N receipts do not
// have the checkpoint's root; it returns what the verification relies on.
func (ws *Workspace) CheckRollback(rep *gitledger.Report, req RollbackCheck) (*Reliance, error) {
	if req.MinSize > 0 && rep.Receipts < req.MinSize {
		return nil, invalidErr(fmt.Errorf("%w: it has %d receipts, the floor given (--min-size) is %d", ErrRolledBack, rep.Receipts, req.MinSize),
			"fetch from another copy of the repository, or ask who holds the newer receipts")
	}
	var rel *Reliance
	if req.CheckpointFile != "" {
		s, err := readSnapshotFile(req.CheckpointFile)
		if err != nil {
			return nil, usageErr(fmt.Errorf("--checkpoint: %w", err))
		}
		body, _, _ := strings.Cut(s.Checkpoint, "\n\n")
		cp, err := merkle.ParseCheckpoint([]byte(body + "\n"))
		switch {
		case err != nil:
			return nil, usageErr(fmt.Errorf("--checkpoint %s: %w", req.CheckpointFile, err))
		case cp.Size != s.LeafCount || cp.Root != s.Root:
			return nil, usageErr(fmt.Errorf("--checkpoint %s: its checkpoint note says size %d root %s, the file %d and %s", req.CheckpointFile, cp.Size, cp.Root, s.LeafCount, s.Root))
		case cp.Origin != rep.Ledger:
			return nil, invalidErr(fmt.Errorf("--checkpoint %s is for ledger %s, this one is %s", req.CheckpointFile, cp.Origin, rep.Ledger))
		case rep.Receipts < s.LeafCount:
			all, _, err := ws.Leaves(rep.Receipts)
			if err != nil {
				return nil, err
			}
			return nil, invalidErr(fmt.Errorf("%w: it has %d receipts, the checkpoint %s covers %d (its root %s; this ledger's root is %s)",
				ErrRolledBack, rep.Receipts, req.CheckpointFile, s.LeafCount, s.Root, merkle.RootOf(all)))
		}
		leaves, _, err := ws.Leaves(s.LeafCount)
		if err != nil {
			return nil, err
		}
		if root := merkle.RootOf(leaves); root != s.Root {
			return nil, invalidErr(fmt.Errorf("the ledger forks from the checkpoint %s: its first %d receipts have root %s, the checkpoint %s", req.CheckpointFile, s.LeafCount, root, s.Root))
		}
		rel = &Reliance{Kind: ReliesCheckpoint, Size: s.LeafCount, Time: s.CreatedAt, Source: req.CheckpointFile}
	}
	switch {
	case rel != nil:
	case req.MinSize > 0:
		rel = &Reliance{Kind: ReliesMinSize, Size: req.MinSize, Source: "--min-size"}
	case rep.Remembered != nil:
		rel = &Reliance{Kind: ReliesRemembered, Size: rep.Remembered.Seq + 1, Source: "this clone's last verified head (.git/vmc/)"}
	default:
		sizes, err := ws.Ledger.SnapshotSizes()
		if err != nil {
			return nil, err
		}
		if len(sizes) > 0 {
			n := sizes[len(sizes)-1]
			rel = &Reliance{Kind: ReliesSnapshot, Size: n, Source: "snapshot tag " + merkle.TagName(n) + " as the server sent it"}
		} else {
			rel = &Reliance{Kind: ReliesTip, Size: rep.Receipts, Time: rep.Head.CreatedAt, Source: "the ledger tip as the server sent it"}
		}
	}
	return rel, nil
}

// FutureWarning reports a verified tip dated beyond the clock (nil if not):
// verify reports it, the hook and the writer refuse it.
func FutureWarning(rep *gitledger.Report) error {
	return gitledger.CheckNotFuture(rep.Head, time.Now())
}

func readSnapshotFile(path string) (merkle.Snapshot, error) {
	f, err := os.Open(path)
	if err != nil {
		return merkle.Snapshot{}, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxCheckpointFile+1))
	if err != nil {
		return merkle.Snapshot{}, err
	}
	if len(b) > MaxCheckpointFile {
		return merkle.Snapshot{}, fmt.Errorf("%s: more than %d bytes", path, MaxCheckpointFile)
	}
	if snap, err := merkle.ParseSnapshot(bytes.TrimSpace(b)); err == nil || bytes.HasPrefix(bytes.TrimSpace(b), []byte("{")) {
		return snap, err
	}
	// A signed checkpoint note (a tag message, a witness-cosigned note).
	body, _, ok := strings.Cut(string(b), "\n\n")
	if !ok {
		return merkle.Snapshot{}, fmt.Errorf("%s: neither a merkle-<N>.json snapshot nor a signed checkpoint note", path)
	}
	cp, err := merkle.ParseCheckpoint([]byte(body + "\n"))
	if err != nil {
		return merkle.Snapshot{}, fmt.Errorf("%s: %w", path, err)
	}
	return merkle.Snapshot{Algorithm: merkle.Algorithm, Root: cp.Root, LeafCount: cp.Size, Checkpoint: string(b)}, nil
}

// ProofOrigin is what CheckProofOrigin establishes.
type ProofOrigin struct {
	Seq    uint64
	Ledger string // the receipt's ledger
	Origin string // the checkpoint's origin (equal to Ledger)
	Size   uint64
	Root   merkle.Hash
}

// CheckProofOrigin completes merkle.CheckOffline, which leaves the origin to
// its caller: the checkpoint must name the receipt's own ledger (and
// wantOrigin, if not ""), and the proof's leaf index must be the receipt's
// seq, so that a receipt of one ledger is never "proved" by another
// ledger's checkpoint.
func CheckProofOrigin(proofJSON, rb, signedCheckpoint []byte, known note.Verifiers, wantOrigin string) (*ProofOrigin, error) {
	r, err := receipt.Parse(rb)
	if err != nil {
		return nil, err
	}
	p, err := merkle.ParseInclusionProof(proofJSON)
	if err != nil {
		return nil, err
	}
	cp, _, err := merkle.OpenCheckpoint(signedCheckpoint, known)
	if err != nil {
		return nil, err
	}
	switch {
	case wantOrigin != "" && cp.Origin != wantOrigin:
		return nil, fmt.Errorf("checkpoint origin %q, want %q (--origin)", cp.Origin, wantOrigin)
	case cp.Origin != r.Ledger:
		return nil, fmt.Errorf("checkpoint origin %q is not the receipt's ledger %q", cp.Origin, r.Ledger)
	case p.Index != r.Seq:
		return nil, fmt.Errorf("the proof is for leaf %d, the receipt is seq %d", p.Index, r.Seq)
	}
	return &ProofOrigin{Seq: r.Seq, Ledger: r.Ledger, Origin: cp.Origin, Size: cp.Size, Root: cp.Root}, nil
}
