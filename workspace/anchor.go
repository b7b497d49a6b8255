package workspace

// Anchors (package anchor): anchor a snapshot, list and verify anchor
// receipts. Importing workspace registers every substrate's verifier, so
// every shell over it (the CLI, its hooks, the MCP server) verifies anchor
// receipts of all three substrates.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/vmc-git/vmc-git/anchor"
	_ "github.com/vmc-git/vmc-git/anchor/btc"     // registers the btc verifier
	_ "github.com/vmc-git/vmc-git/anchor/eth"     // registers the eth verifier
	_ "github.com/vmc-git/vmc-git/anchor/rfc3161" // registers the rfc3161 verifier
	"github.com/vmc-git/vmc-git/apply"
	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/internal/fsutil"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/merkle"
	"github.com/vmc-git/vmc-git/receipt"
)

// AnchorOptions are the choices of Anchor.
type AnchorOptions struct {
	Size uint64 // receipts covered; 0: all
	// Push, if set, syncs with the remote Remote (default origin) first and
	// pushes the receipt with the compare-and-swap push apply --push uses;
	// a lost race re-appends the same anchor on the new remote tip.
	Push   bool
	Remote string
	Now    func() time.Time
}

// AnchorResult is a written anchor receipt.
type AnchorResult struct {
	Written   *gitledger.Written
	Statement *anchor.Statement
	Digest    [32]byte
	Pushed    bool
}

// Anchor signs the statement for the first opt.Size receipts as id, commits
// its digest to the substrate with a and appends the anchor receipt
// (checked as verify would check it before it is written).
func (ws *Workspace) Anchor(ctx context.Context, id Identity, a anchor.Anchorer, opt AnchorOptions) (*AnchorResult, error) {
	now := time.Now
	if opt.Now != nil {
		now = opt.Now
	}
	remote, err := ws.anchorRemote(opt)
	if err != nil {
		return nil, err
	}
	r, err := ws.Ledger.NewReader()
	if err != nil {
		return nil, err
	}
	n := r.Tip.Head.Seq + 1
	size := opt.Size
	if size == 0 {
		size = n
	}
	if size > n {
		return nil, usagef("anchor of %d receipts: the ledger has %d", size, n)
	}
	if _, err := r.Tip.Trust.Authorize(id.KID, id.Signer.PublicKey(), now(), receipt.Roles[receipt.KindAnchor]...); err != nil {
		return nil, refusedIfConflict(fmt.Errorf("cannot sign an anchor receipt: %w", err))
	}
	leaves, err := gitledger.LeafHashes(r, 0, size)
	if err != nil {
		return nil, err
	}
	last, err := r.File(r.Path(size - 1))
	if err != nil {
		return nil, err
	}
	st := &anchor.Statement{V: anchor.Version, Ledger: r.Tip.Head.Ledger, Root: merkle.RootOf(leaves), LeafCount: size,
		HeadBlake3: digest.Blake3(last), CreatedAt: keys.FormatTime(now())}
	stmt, err := st.Encode()
	if err != nil {
		return nil, err
	}
	sig, err := anchor.Sign(id.Signer, stmt)
	if err != nil {
		return nil, err
	}
	d := anchor.Digest(stmt)
	proof, err := a.Anchor(ctx, d)
	if err != nil {
		return nil, err
	}
	body, err := anchor.NewBody(stmt, sig, a.Substrate(), proof)
	if err != nil {
		return nil, err
	}
	// The substrate's proof cost something and cannot be made again for
	// free: keep it until its receipt is written (and pushed).
	pending := filepath.Join(ws.Ledger.GitDir, "vmc", "anchors", fmt.Sprintf("pending-%x.json", d))
	if err := os.MkdirAll(filepath.Dir(pending), 0o755); err != nil {
		return nil, err
	}
	if err := fsutil.WriteFileAtomic(pending, body, 0o600); err != nil {
		return nil, err
	}
	res, err := ws.recordAnchor(id, body, remote)
	if res != nil && res.Written != nil {
		os.Remove(pending) // the receipt holds the proof now
	}
	if err != nil && (res == nil || res.Written == nil) {
		return nil, kindErr(kindOf(err), err, "the substrate's proof is kept in "+pending+"; vmc-git anchor resume "+pending+" writes its receipt")
	}
	return res, err
}

// ResumeAnchor writes the receipt of an anchor body that Anchor made but
// could not record (its proof was kept in a pending file).
func (ws *Workspace) ResumeAnchor(id Identity, body []byte, opt AnchorOptions) (*AnchorResult, error) {
	if _, err := anchor.ParseBody(body); err != nil {
		return nil, invalidErr(err)
	}
	remote, err := ws.anchorRemote(opt)
	if err != nil {
		return nil, err
	}
	return ws.recordAnchor(id, body, remote)
}

// anchorRemote is the remote of --push, synced (nil without --push).
func (ws *Workspace) anchorRemote(opt AnchorOptions) (*apply.GitRemote, error) {
	if !opt.Push {
		return nil, nil
	}
	if ws.Config == nil || ws.Root == "" {
		return nil, usagef("anchor --push needs a ledger repository with a work tree and %s", ".vmc/config.json")
	}
	name := opt.Remote
	if name == "" {
		name = "origin"
	}
	remote := apply.NewGitRemote(ws.Root, name, ws.Config.Branch, ws.Config.MainBranch)
	if err := remote.Sync(func(int) bool { return false }); err != nil {
		return nil, err
	}
	return remote, nil
}

// recordAnchor appends the anchor receipt of body and, with remote, pushes
// it; a lost race re-appends it on the remote's new tip.
func (ws *Workspace) recordAnchor(id Identity, body []byte, remote *apply.GitRemote) (*AnchorResult, error) {
	b, err := anchor.ParseBody(body)
	if err != nil {
		return nil, invalidErr(err)
	}
	st, err := anchor.Parse(b.Statement)
	if err != nil {
		return nil, invalidErr(err)
	}
	summary := fmt.Sprintf("anchor of receipts 0..%d (root %s) via %s", st.LeafCount-1, st.Root.String()[:12], b.Substrate)
	res := &AnchorResult{Statement: st, Digest: anchor.Digest(b.Statement)}
	for attempt := 0; ; attempt++ {
		w, err := ws.Ledger.Append(id.Signer, id.KID, func(*gitledger.Tip) (*gitledger.Draft, error) {
			return &gitledger.Draft{Receipt: receipt.Receipt{Kind: receipt.KindAnchor, Summary: summary, Anchor: body}}, nil
		})
		if err != nil {
			return nil, refusedIfConflict(err)
		}
		res.Written = w
		if remote == nil {
			return res, nil
		}
		err = remote.Publish()
		if err == nil {
			res.Pushed = true
			return res, nil
		}
		if !errors.Is(err, apply.ErrRaced) || attempt == 4 {
			return res, fmt.Errorf("anchor receipt %d written locally, not pushed: %w", w.Seq, err)
		}
		// Lost the race: drop our one local receipt, take the remote's tip
		// and append the same anchor again.
		if err := remote.Sync(func(localOnly int) bool { return localOnly == 1 }); err != nil {
			return nil, err
		}
	}
}

// kindOf is the Kind of err (KindError if it has none).
func kindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindError
}

// AnchorInfo is one anchor receipt as listed (not verified).
type AnchorInfo struct {
	Seq       uint64      `json:"seq"`
	CreatedAt string      `json:"created_at"`
	KID       string      `json:"kid"`
	Substrate string      `json:"substrate"`
	LeafCount uint64      `json:"leaf_count"`
	Root      merkle.Hash `json:"root"`
	Digest    string      `json:"digest"`
}

// ListAnchors returns the anchor receipts among receipts from..tip, oldest
// first.
func ListAnchors(r *gitledger.Reader, from uint64) ([]AnchorInfo, error) {
	out := []AnchorInfo{}
	for seq := from; seq <= r.Tip.Head.Seq; seq++ {
		e, err := r.Receipt(seq)
		if err != nil {
			return nil, err
		}
		if e.Receipt.Kind != receipt.KindAnchor {
			continue
		}
		info, err := anchorInfo(e.Receipt)
		if err != nil {
			return nil, err
		}
		out = append(out, *info)
	}
	return out, nil
}

func anchorInfo(rc *receipt.Receipt) (*AnchorInfo, error) {
	b, err := anchor.ParseBody(rc.Anchor)
	if err != nil {
		return nil, fmt.Errorf("receipt %d: %w", rc.Seq, err)
	}
	st, err := anchor.Parse(b.Statement)
	if err != nil {
		return nil, fmt.Errorf("receipt %d: %w", rc.Seq, err)
	}
	return &AnchorInfo{Seq: rc.Seq, CreatedAt: rc.CreatedAt, KID: rc.KID, Substrate: b.Substrate, LeafCount: st.LeafCount,
		Root: st.Root, Digest: fmt.Sprintf("%x", anchor.Digest(b.Statement))}, nil
}

// AnchorVerified is the result of VerifyAnchors for one receipt.
type AnchorVerified struct {
	Seq uint64 `json:"seq"`
	*anchor.Checked
	Live string `json:"live,omitempty"` // what the live check confirmed
}

// Anchors lists the anchor receipts, oldest first (read, not verified).
func (ws *Workspace) Anchors() ([]AnchorInfo, error) {
	r, err := ws.Ledger.NewReader()
	if err != nil {
		return nil, err
	}
	return ListAnchors(r, 1)
}

// VerifyAnchors checks the anchor receipts seqs (all when empty) offline
// and, with live, against a live endpoint for their substrate.
func (ws *Workspace) VerifyAnchors(ctx context.Context, seqs []uint64, opt *anchor.Options, live map[string]anchor.LiveChecker) ([]AnchorVerified, error) {
	l := ws.Ledger
	r, err := l.NewReader()
	if err != nil {
		return nil, err
	}
	if len(seqs) == 0 {
		all, err := ListAnchors(r, 1)
		if err != nil {
			return nil, err
		}
		for _, a := range all {
			seqs = append(seqs, a.Seq)
		}
	}
	out := []AnchorVerified{}
	for _, seq := range seqs {
		c, err := l.CheckAnchorReceipt(r, seq, opt)
		if err != nil {
			return out, invalidErr(err)
		}
		v := AnchorVerified{Seq: seq, Checked: c.Checked}
		if lc, ok := live[c.Substrate]; ok {
			e, _ := r.Receipt(seq)
			b, _ := anchor.ParseBody(e.Receipt.Anchor)
			if err := lc.CheckLive(ctx, b.Proof); err != nil {
				return out, invalidErr(&gitledger.VerifyError{Seq: seq, Rule: gitledger.RuleAnchor, Err: fmt.Errorf("anchor %s proof, live: %w", c.Substrate, err)})
			}
			v.Live = "confirmed by the live endpoint"
		}
		out = append(out, v)
	}
	return out, nil
}

// AnchorRef names an anchor receipt of a snapshot.
type AnchorRef struct {
	Seq       uint64 `json:"seq"`
	Substrate string `json:"substrate"`
}

// anchoredBy maps the last seq of each anchored snapshot to the anchor
// receipts among rs that cover it.
func anchoredBy(rs []*receipt.Receipt) map[uint64][]AnchorRef {
	out := map[uint64][]AnchorRef{}
	for _, rc := range rs {
		if rc.Kind != receipt.KindAnchor {
			continue
		}
		if info, err := anchorInfo(rc); err == nil {
			out[info.LeafCount-1] = append(out[info.LeafCount-1], AnchorRef{rc.Seq, info.Substrate})
		}
	}
	return out
}

// SnapshotAnchors lists the anchor receipts of the snapshot of size n.
func (ws *Workspace) SnapshotAnchors(n uint64) ([]AnchorInfo, error) {
	r, err := ws.Ledger.NewReader()
	if err != nil {
		return nil, err
	}
	all, err := ListAnchors(r, n)
	if err != nil {
		return nil, err
	}
	out := []AnchorInfo{}
	for _, a := range all {
		if a.LeafCount == n {
			out = append(out, a)
		}
	}
	return out, nil
}

// AnchorSeq returns the seq of receipt file bytes b, which must be this
// ledger's receipt at that seq, byte for byte.
func (ws *Workspace) AnchorSeq(b []byte) (uint64, error) {
	rc, err := receipt.Parse(b)
	if err != nil {
		return 0, invalidErr(err)
	}
	r, err := ws.Ledger.NewReader()
	if err != nil {
		return 0, err
	}
	e, err := r.Receipt(rc.Seq)
	if err != nil {
		return 0, notFoundErr(err)
	}
	if !bytes.Equal(e.Bytes, b) {
		return 0, invalidErr(fmt.Errorf("the file is not receipt %d of this ledger (the bytes differ)", rc.Seq))
	}
	return rc.Seq, nil
}
