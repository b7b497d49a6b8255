package workspace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/merkle"
	"github.com/vmc-git/vmc-git/receipt"
	"github.com/vmc-git/vmc-git/witness"
)

// Witness use cases (package witness; the policy is keys.WitnessSpec in the
// trust state, changed by keys receipts through ChangeTrust/ProposeTrust
// with a TrustChange of op receipt.KeysAddWitness, KeysRemoveWitness or
// KeysWitnessThreshold).

// SnapshotWitnessed is Snapshot under the trust state's witness policy:
// with tag, the witnesses are asked (each call bounded by c's timeout) and
// their cosignatures go into the tag's checkpoint; with witness_threshold
// N > 0 no tag is written with fewer than N (a refusal: the snapshot waits,
// the ledger keeps working). It returns what each witness did.
func (ws *Workspace) SnapshotWitnessed(ctx context.Context, id Identity, size uint64, tag bool, c *witness.Client) (*gitledger.SnapshotResult, []witness.Result, error) {
	var results []witness.Result
	cosign := func(req witness.Request, wl []witness.Witness, threshold int) ([]byte, error) {
		out, res, err := witness.Cosign(ctx, c, wl, threshold, req, time.Now())
		results = res
		if err != nil {
			var why []string
			for _, r := range res {
				if r.Err != nil {
					why = append(why, r.Error)
				}
			}
			return nil, fmt.Errorf("%w: %s", err, strings.Join(why, "; "))
		}
		return out, nil
	}
	res, err := ws.Ledger.MakeCosignedSnapshot(id.Signer, id.KID, size, tag, time.Now(), cosign)
	if err != nil {
		return nil, results, refusedErr(err, "a snapshot under a witness policy waits for witness_threshold cosignatures; the ledger itself keeps working")
	}
	return res, results, nil
}

// Witnessed is what CheckWitnessed found.
type Witnessed struct {
	Checkpoints []gitledger.KnownResult  `json:"checkpoints,omitempty"`
	Witnesses   *gitledger.WitnessReport `json:"witnesses,omitempty"`
}

// CheckWitnessed compares the (verified) ledger with what is known outside
// it: checkpointFiles (signed checkpoint notes, or merkle-<N>.json files
// whose checkpoint field is one) and, with ask, the witnesses' latest
// sizes. A rolled-back or forked ledger is an invalid one.
func (ws *Workspace) CheckWitnessed(ctx context.Context, checkpointFiles []string, ask bool, c *witness.Client) (*Witnessed, error) {
	out := &Witnessed{}
	var known []gitledger.KnownCheckpoint
	for _, path := range checkpointFiles {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, usageErr(fmt.Errorf("checkpoint: %w", err))
		}
		if snap, err := merkle.ParseSnapshot(b); err == nil {
			b = []byte(snap.Checkpoint)
		}
		known = append(known, gitledger.KnownCheckpoint{Source: "checkpoint file " + path, Note: b})
	}
	hint := "the server may be serving an old or forked ledger: fetch from another remote and compare"
	if len(known) > 0 {
		res, err := ws.Ledger.CheckKnown(known)
		if err != nil {
			return nil, invalidErr(err, hint)
		}
		out.Checkpoints = res
	}
	if ask {
		rep, err := ws.Ledger.WitnessCheck(ctx, c, time.Now())
		if err != nil {
			var ahead *gitledger.WitnessAheadError
			var rb *merkle.RollbackError
			if errors.As(err, &ahead) || errors.As(err, &rb) {
				return nil, invalidErr(err, hint)
			}
			if errors.Is(err, gitledger.ErrNoWitnesses) {
				return nil, usageErr(err)
			}
			return nil, err
		}
		out.Witnesses = rep
	}
	return out, nil
}

// WitnessList is the witness policy at the tip and the log keys a witness
// registers for this ledger (each applier or admin key, named after the
// ledger id).
type WitnessList struct {
	Origin    string             `json:"origin"`
	Threshold int                `json:"witness_threshold"`
	Witnesses []keys.WitnessSpec `json:"witnesses"`
	LogKeys   []string           `json:"log_keys"`
}

// Witnesses returns the witness policy at the ledger's tip.
func (ws *Workspace) Witnesses() (*WitnessList, error) {
	tip, err := ws.Ledger.Tip()
	if err != nil {
		return nil, err
	}
	l := &WitnessList{Origin: tip.Head.Ledger, Threshold: tip.Trust.WitnessThreshold, Witnesses: append([]keys.WitnessSpec{}, tip.Trust.Witnesses...), LogKeys: []string{}}
	for _, e := range tip.Trust.Keys() {
		if e.Status != keys.StatusActive || !(hasRole(e, keys.RoleApplier) || hasRole(e, keys.RoleAdmin)) {
			continue
		}
		vk, err := gitledger.LogVerifierKey(tip.Head.Ledger, e)
		if err != nil {
			return nil, err
		}
		l.LogKeys = append(l.LogKeys, vk)
	}
	return l, nil
}

func hasRole(e *keys.Entry, r keys.Role) bool {
	for _, x := range e.Roles {
		if x == r {
			return true
		}
	}
	return false
}

// ParseWitnessSpec builds a WitnessSpec from a witness's vkey and URL.
func ParseWitnessSpec(vkey, url string) (keys.WitnessSpec, error) {
	w, err := witness.ParseWitness(strings.TrimSpace(vkey), strings.TrimSpace(url))
	if err != nil {
		return keys.WitnessSpec{}, usageErr(err)
	}
	return keys.WitnessSpec{Name: w.Name, Key: strings.TrimSpace(vkey), URL: w.URL}, nil
}

func witnessSummary(p receipt.Proposal) string {
	switch p.Op {
	case receipt.KeysAddWitness:
		return fmt.Sprintf("add witness %s", p.Witness.Name)
	case receipt.KeysRemoveWitness:
		return fmt.Sprintf("remove witness %s", p.WitnessName)
	default:
		return fmt.Sprintf("witness_threshold %d", *p.WitnessThreshold)
	}
}
