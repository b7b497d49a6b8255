package gitledger

import (
	"fmt"
	"path"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/receipt"

	"github.com/vmc-git/vmc-git/internal/gitobj"
)

// Entry is one stored receipt with its signature, as read from the tip's
// tree (which holds every receipt). Reading does not verify; Verify does.
type Entry struct {
	Receipt *receipt.Receipt
	Bytes   []byte
	Sig     []byte
}

// Reader reads receipts from one ledger tree, caching the shard trees it
// walked last.
type Reader struct {
	l        *Ledger
	Tip      *Tip
	dirCache map[string][]gitobj.TreeEntry
}

// NewReader reads from the ledger's current tip.
func (l *Ledger) NewReader() (*Reader, error) {
	tip, err := l.Tip()
	if err != nil {
		return nil, err
	}
	return &Reader{l: l, Tip: tip, dirCache: map[string][]gitobj.TreeEntry{}}, nil
}

// File reads a file by its path in the tip's tree.
func (r *Reader) File(p string) ([]byte, error) {
	dir, name := path.Split(p)
	es, err := r.dir(strings.TrimSuffix(dir, "/"))
	if err != nil {
		return nil, err
	}
	return r.l.blobAt(es, name, fileLimit(p))
}

func (r *Reader) dir(p string) ([]gitobj.TreeEntry, error) {
	if p == "" {
		return r.Tip.trees.root, nil
	}
	if es, ok := r.dirCache[p]; ok {
		return es, nil
	}
	parent, name := path.Split(p)
	pes, err := r.dir(strings.TrimSuffix(parent, "/"))
	if err != nil {
		return nil, err
	}
	e, ok := gitobj.FindEntry(pes, name)
	if !ok || !e.IsDir() {
		return nil, fmt.Errorf("no directory %s", p)
	}
	es, err := r.l.tree(e.ID)
	if err != nil {
		return nil, err
	}
	if len(r.dirCache) > 64 {
		r.dirCache = map[string][]gitobj.TreeEntry{}
	}
	r.dirCache[p] = es
	return es, nil
}

// Receipt reads receipt seq and its signature.
func (r *Reader) Receipt(seq uint64) (*Entry, error) {
	if seq > r.Tip.Head.Seq {
		return nil, fmt.Errorf("receipt %d: the ledger ends at receipt %d", seq, r.Tip.Head.Seq)
	}
	p := r.Path(seq)
	b, err := r.File(p)
	if err != nil {
		return nil, fmt.Errorf("receipt %d: %w", seq, err)
	}
	sig, err := r.File(p + receipt.SigSuffix)
	if err != nil {
		return nil, fmt.Errorf("receipt %d: %w", seq, err)
	}
	rc, err := receipt.Parse(b)
	if err != nil {
		return nil, err
	}
	return &Entry{Receipt: rc, Bytes: b, Sig: sig}, nil
}

// CommitOf returns the commit that added receipt seq (walking back from the tip).
func (l *Ledger) CommitOf(tip *Tip, seq uint64) (plumbing.Hash, error) {
	if seq > tip.Head.Seq {
		return plumbing.ZeroHash, fmt.Errorf("receipt %d: the ledger ends at receipt %d", seq, tip.Head.Seq)
	}
	c := tip.Commit
	for i := tip.Head.Seq; i > seq; i-- {
		var err error
		if c, err = l.parentOf(c); err != nil {
			return c, err
		}
	}
	return c, nil
}

// TrustAt returns the trust state after receipt seq.
func (l *Ledger) TrustAt(tip *Tip, seq uint64) (*keys.Trust, error) {
	if seq == tip.Head.Seq {
		return tip.Trust, nil
	}
	c, err := l.CommitOf(tip, seq)
	if err != nil {
		return nil, err
	}
	t, err := l.tipAt(c)
	if err != nil {
		return nil, err
	}
	return t.Trust, nil
}

// VerifyEntry checks a receipt's signature against the trust state in force
// before it (after receipt seq-1, or the genesis keys for receipt 0).
func (l *Ledger) VerifyEntry(tip *Tip, rc *receipt.Receipt, body, sig []byte) error {
	var t *keys.Trust
	var err error
	if rc.Seq == 0 {
		if t, err = keys.NewTrust(rc.Genesis.Keys, rc.Genesis.Policy, rc.Time()); err != nil {
			return err
		}
	} else if t, err = l.TrustAt(tip, rc.Seq-1); err != nil {
		return err
	}
	e, err := t.Authorize(rc.KID, nil, rc.Time(), receipt.Roles[rc.Kind]...)
	if err != nil {
		return fmt.Errorf("receipt %d: %w", rc.Seq, err)
	}
	if err := keys.Verify(e.Pub, keys.NamespaceReceipt, body, sig); err != nil {
		return fmt.Errorf("receipt %d: %w", rc.Seq, err)
	}
	return nil
}

// fileLimit is the size limit for a file of the ledger tree, by its path.
func fileLimit(p string) int64 {
	switch {
	case p == HeadFile:
		return MaxHeadSize
	case strings.HasSuffix(p, receipt.SigSuffix):
		return MaxSigSize
	case strings.HasPrefix(p, KeysDir+"/"):
		return MaxTrustSize
	case strings.HasPrefix(p, "receipts/"):
		return MaxReceiptSize
	case strings.HasPrefix(p, "plans/"):
		return receipt.MaxPlanSize
	}
	return MaxBlobSize
}
