package witness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/vmc-git/vmc-git/merkle"
)

// A Request is a checkpoint a log wants cosigned.
type Request struct {
	Checkpoint merkle.Checkpoint
	Signed     []byte // the checkpoint as a note signed by the log (operator) key
	// OldSize is the size each witness is believed to hold (the previous
	// snapshot's; 0 for none). A wrong guess costs one more round trip.
	OldSize uint64
	// Prove returns the consistency proof from size old (1 <= old <
	// Checkpoint.Size) to Checkpoint.Size.
	Prove func(old uint64) ([]merkle.Hash, error)
}

// A Result is what one witness did with a Request.
type Result struct {
	Witness     string       `json:"witness"`
	Cosignature *Cosignature `json:"cosignature,omitempty"`
	Err         error        `json:"-"`
	Error       string       `json:"error,omitempty"`
}

// maxAttempts bounds the add-checkpoint calls per witness: the first guess,
// a retry from the size a 409 reported, and one more if the witness moved
// in between.
const maxAttempts = 3

// ErrWitnessAhead is wrapped when a witness has cosigned a larger tree than
// the checkpoint offered: this history is behind, or forked from, what the
// witness has seen.
var ErrWitnessAhead = errors.New("the witness has cosigned a larger tree")

// Cosign asks every witness of ws, concurrently, to cosign req, and returns
// req.Signed with the verified cosignatures appended (in the order of ws),
// one Result per witness (in the order of ws), and a *QuorumError if fewer
// than threshold witnesses cosigned. Each witness costs at most maxAttempts
// calls, each bounded by the client's timeout. now bounds the cosignature
// timestamps (MaxClockSkew).
func Cosign(ctx context.Context, c *Client, ws []Witness, threshold int, req Request, now time.Time) ([]byte, []Result, error) {
	results := make([]Result, len(ws))
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cs, err := cosignOne(ctx, c, w, req, now)
			results[i] = Result{Witness: w.Name, Cosignature: cs, Err: err}
			if err != nil {
				results[i].Error = err.Error()
			}
		}()
	}
	wg.Wait()
	out := bytes.Clone(req.Signed)
	qe := &QuorumError{Want: threshold}
	for _, r := range results {
		if r.Cosignature != nil {
			out = append(out, r.Cosignature.Line...)
			qe.Have++
			qe.Cosigned = append(qe.Cosigned, r.Witness)
		} else {
			qe.Missing = append(qe.Missing, r.Witness)
		}
	}
	if qe.Have < threshold {
		return out, results, qe
	}
	return out, results, nil
}

func cosignOne(ctx context.Context, c *Client, w Witness, req Request, now time.Time) (*Cosignature, error) {
	size := req.Checkpoint.Size
	old := req.OldSize
	if old > size {
		old = 0
	}
	for attempt := 1; ; attempt++ {
		var proof []merkle.Hash
		if old > 0 && old < size {
			p, err := req.Prove(old)
			if err != nil {
				return nil, fmt.Errorf("witness %s: consistency proof %d -> %d: %w", w.Name, old, size, err)
			}
			proof = p
		}
		lines, err := c.AddCheckpoint(ctx, w, old, proof, req.Signed)
		var ce *ConflictError
		var se *StatusError
		switch {
		case err == nil:
			return verifyAnswer(w, req.Signed, lines, now)
		case errors.As(err, &ce) && attempt < maxAttempts && ce.Size != old && ce.Size <= size:
			old = ce.Size
			continue
		case errors.As(err, &ce) && ce.Size > size:
			return nil, fmt.Errorf("witness %s has cosigned a tree of size %d, this checkpoint has %d: %w (this ledger is behind or forked from what the witness saw)", w.Name, ce.Size, size, ErrWitnessAhead)
		case errors.As(err, &ce) && ce.Size == size:
			return nil, fmt.Errorf("witness %s holds another root at size %d: a fork: %w", w.Name, size, err)
		case errors.As(err, &se) && se.Code == http.StatusUnprocessableEntity:
			return nil, fmt.Errorf("witness %s refused the consistency proof from size %d to %d: a fork of what it has seen: %w", w.Name, old, size, err)
		default:
			return nil, err
		}
	}
}

// verifyAnswer checks that lines hold a valid cosignature by w over the
// checkpoint of signed.
func verifyAnswer(w Witness, signed, lines []byte, now time.Time) (*Cosignature, error) {
	msg := append(bytes.Clone(signed), lines...)
	got, err := Check(msg, []Witness{w}, 1, now)
	if err != nil {
		var qe *QuorumError
		if errors.As(err, &qe) {
			return nil, fmt.Errorf("witness %s: the answer has no cosignature by its key %08x: %w", w.Name, KeyHash(w.Name, w.Key), ErrGarbage)
		}
		return nil, fmt.Errorf("witness %s: %w", w.Name, err)
	}
	return &got[0], nil
}

// A ProbeResult is a witness's view of a checkpoint the caller holds.
type ProbeResult struct {
	Witness string `json:"witness"`
	Size    uint64 `json:"size"`            // the witness's latest cosigned size (valid unless Err)
	Agrees  bool   `json:"agrees"`          // at the checkpoint's size, with its root (it cosigned it again)
	Fork    bool   `json:"fork"`            // at the checkpoint's size, with another root
	Err     error  `json:"-"`               // the witness could not be asked
	Error   string `json:"error,omitempty"` // Err as text
}

// Probe asks w about signed (a checkpoint the caller already has, signed by
// the log) without moving the witness: it sends old = the checkpoint's
// size, which a witness accepts only if that is its own size, and then only
// with the same root. A witness at another size answers 409 with its size.
func Probe(ctx context.Context, c *Client, w Witness, signed []byte, cp merkle.Checkpoint, now time.Time) ProbeResult {
	r := ProbeResult{Witness: w.Name}
	lines, err := c.AddCheckpoint(ctx, w, cp.Size, nil, signed)
	var ce *ConflictError
	var se *StatusError
	switch {
	case err == nil:
		if _, err := verifyAnswer(w, signed, lines, now); err != nil {
			r.Err = err
			break
		}
		r.Size, r.Agrees = cp.Size, true
	case errors.As(err, &ce):
		r.Size = ce.Size
		r.Fork = ce.Size == cp.Size
	case errors.As(err, &se) && se.Code == http.StatusUnprocessableEntity:
		// Same size, an empty proof that does not verify: another root.
		r.Size, r.Fork = cp.Size, true
	default:
		r.Err = err
	}
	if r.Err != nil {
		r.Error = r.Err.Error()
	}
	return r
}
