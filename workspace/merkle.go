package workspace

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/merkle"
	"github.com/vmc-git/vmc-git/witness"
)

// The use cases of `vmc-git merkle`: a published snapshot, proofs from the
// ledger's tree, and the offline check of an inclusion proof.

// SnapshotRequest is what PublishSnapshot makes: the snapshot of the first
// Size receipts (0: all), with Tag the signed tag vmc/merkle/<N>, with
// Push.On that tag published (Push needs Tag). Witness asks the trust
// state's witnesses for cosignatures (SnapshotWitnessed).
type SnapshotRequest struct {
	Size    uint64
	Tag     bool
	Push    Push
	Witness *witness.Client
}

// PublishedSnapshot is what PublishSnapshot made.
type PublishedSnapshot struct {
	*SnapshotResult
	TagName  string           // the tag's name; "" without a tag
	Cosigned []witness.Result // what each witness did
	Anchors  []AnchorInfo     // the anchor receipts of this snapshot's size
	Pushed   bool             // the tag is on Push.Remote
}

// PublishSnapshot makes a snapshot under the witness policy. With Push it
// first levels the ledger with the remote and pushes it (so the tag names a
// commit that is there), then pushes the tag (create-only). It refuses Push
// without Tag (usage), and what SnapshotWitnessed and PushTag refuse.
func (ws *Workspace) PublishSnapshot(ctx context.Context, id Identity, req SnapshotRequest) (*PublishedSnapshot, error) {
	if req.Push.On {
		if !req.Tag {
			return nil, usagef("merkle receipts: --push publishes the tag: give --tag too")
		}
		// Snapshot the ledger as the remote has it, so the tag names a
		// commit that is (or will be) there.
		if _, err := ws.Sync(&id, SyncRequest{Remote: req.Push.Remote, Push: true}); err != nil {
			return nil, err
		}
	}
	res, cosigned, err := ws.SnapshotWitnessed(ctx, id, req.Size, req.Tag, req.Witness)
	if err != nil {
		return nil, err
	}
	out := &PublishedSnapshot{SnapshotResult: res, Cosigned: cosigned}
	if !res.Tag.IsZero() {
		out.TagName = merkle.TagName(res.LeafCount)
	}
	if req.Push.On {
		if err := ws.PushTag(id, req.Push, out.TagName); err != nil {
			return nil, err
		}
		out.Pushed = true
	}
	if out.Anchors, err = ws.SnapshotAnchors(res.LeafCount); err != nil {
		return nil, err
	}
	return out, nil
}

// ProveInclusion returns the inclusion proof of receipt seq in the tree of
// the first size receipts (0: all). A seq outside the tree, or a size past
// the ledger, is not found.
func (ws *Workspace) ProveInclusion(seq, size uint64) (*merkle.InclusionProof, error) {
	tree, size, err := ws.MerkleTree(size)
	if err != nil {
		return nil, err
	}
	if seq >= size {
		return nil, notFoundErr(fmt.Errorf("receipt %d is not in a tree of %d receipts", seq, size))
	}
	hashes, err := tree.ProveInclusion(seq, size)
	if err != nil {
		return nil, err
	}
	leaf, err := tree.LeafAt(seq)
	if err != nil {
		return nil, err
	}
	root, err := tree.Root(size)
	if err != nil {
		return nil, err
	}
	return &merkle.InclusionProof{Algorithm: merkle.Algorithm, Index: seq, Size: size, LeafHash: leaf, Hashes: hashes, Root: root}, nil
}

// ProveConsistency returns the consistency proof between the trees of the
// first n1 and n2 receipts. It needs 0 < n1 <= n2 (usage); an n2 past the
// ledger is not found.
func (ws *Workspace) ProveConsistency(n1, n2 uint64) (*merkle.ConsistencyProof, error) {
	if n1 == 0 || n1 > n2 {
		return nil, usagef("consistency: want 0 < N1 <= N2")
	}
	tree, _, err := ws.MerkleTree(n2)
	if err != nil {
		return nil, err
	}
	hashes, err := tree.ProveConsistency(n1, n2)
	if err != nil {
		return nil, err
	}
	root1, err := tree.Root(n1)
	if err != nil {
		return nil, err
	}
	root2, err := tree.Root(n2)
	if err != nil {
		return nil, err
	}
	return &merkle.ConsistencyProof{Algorithm: merkle.Algorithm, Size1: n1, Size2: n2, Root1: root1, Root2: root2, Hashes: hashes}, nil
}

// ProofCheck is an offline inclusion proof check: the proof, the receipt's
// bytes and a signed checkpoint, and who must have signed it. It needs no
// repository.
type ProofCheck struct {
	Proof      []byte // inclusion proof JSON (merkle.InclusionProof)
	Receipt    []byte // the receipt's bytes
	Checkpoint []byte // a signed checkpoint note, or a merkle-<N>.json snapshot holding one
	// Key is a note verifier key, or an OpenSSH public key (a line or a
	// file) whose comment, or KID, is the signer's kid.
	Key, KID string
	// Origin is the ledger id the checkpoint must name ("": the receipt's
	// ledger, which it must name anyway).
	Origin string
	// WitnessKeys are witness cosignature verifier keys; the checkpoint
	// needs WitnessThreshold cosignatures by them (nil: all of them).
	WitnessKeys      []string
	WitnessThreshold *int
}

// CheckedProof is what CheckProof established.
type CheckedProof struct {
	ProofOrigin
	Cosigned []witness.Cosignature // by WitnessKeys, in the checkpoint
}

// CheckProof checks, in this order: the checkpoint's form (invalid), the
// Key (usage), the proof against the receipt and the checkpoint signed by
// Key (merkle.CheckOffline, invalid), that the checkpoint is the receipt's
// ledger's and the proof's index its seq (CheckProofOrigin, invalid), the
// WitnessKeys (usage) and their cosignatures (invalid).
func CheckProof(req ProofCheck) (*CheckedProof, error) {
	cb := req.Checkpoint
	if bytes.HasPrefix(bytes.TrimSpace(cb), []byte("{")) {
		snap, err := merkle.ParseSnapshot(cb)
		if err != nil {
			return nil, invalidErr(err)
		}
		cb = []byte(snap.Checkpoint)
	}
	v, err := NoteVerifier(req.Key, req.KID)
	if err != nil {
		return nil, usageErr(err)
	}
	if err := merkle.CheckOffline(req.Proof, req.Receipt, cb, note.VerifierList(v)); err != nil {
		return nil, invalidErr(err)
	}
	// Whose tree: the checkpoint's origin must be the receipt's ledger (and
	// Origin, if given), and the leaf index its seq.
	o, err := CheckProofOrigin(req.Proof, req.Receipt, cb, note.VerifierList(v), req.Origin)
	if err != nil {
		return nil, invalidErr(err)
	}
	out := &CheckedProof{ProofOrigin: *o}
	var wl []witness.Witness
	for _, vk := range req.WitnessKeys {
		name, pub, err := witness.ParseVerifierKey(vk)
		if err != nil {
			return nil, usageErr(fmt.Errorf("--witness: %w", err))
		}
		wl = append(wl, witness.Witness{Name: name, Key: pub})
	}
	threshold := len(wl)
	if req.WitnessThreshold != nil {
		threshold = *req.WitnessThreshold
	}
	if len(wl) == 0 && threshold == 0 {
		return out, nil
	}
	if out.Cosigned, err = witness.Check(cb, wl, threshold, time.Now()); err != nil {
		return nil, invalidErr(fmt.Errorf("checkpoint: %w", err))
	}
	return out, nil
}

// NoteVerifier builds a checkpoint verifier from a note verifier key, or
// from an OpenSSH Ed25519 public key (a line starting "ssh-", else a file)
// named kid (default: the key's comment).
func NoteVerifier(arg, kid string) (note.Verifier, error) {
	if strings.Count(arg, "+") == 2 && !strings.HasPrefix(arg, "ssh-") {
		if _, err := os.Stat(arg); err != nil {
			return note.NewVerifier(arg)
		}
	}
	var line []byte
	if strings.HasPrefix(arg, "ssh-") {
		line = []byte(arg)
	} else {
		b, err := os.ReadFile(arg)
		if err != nil {
			return nil, err
		}
		line = b
	}
	pub, comment, err := keys.ParsePublicKey(line)
	if err != nil {
		return nil, err
	}
	if kid == "" {
		kid = comment
	}
	if keys.ValidKID(kid) != nil {
		return nil, fmt.Errorf("--key: give --kid NAME (the public key has no usable comment)")
	}
	ek, err := keys.Ed25519Public(pub)
	if err != nil {
		return nil, err
	}
	vk, err := merkle.VerifierKey(kid, ek)
	if err != nil {
		return nil, err
	}
	return note.NewVerifier(vk)
}
