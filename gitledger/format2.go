package gitledger

// Ledger format 2 (receipt.Format2): smaller directories.
//
// The tree of the commit that holds receipt seq is that of format 1 except
// below receipts/:
//
//	receipts/AAA/BB/CC/D/NNNNNNNNN.json       AAA = seq/1e6, BB = (seq/1e4)%100,
//	receipts/AAA/BB/CC/D/NNNNNNNNN.json.sig   CC = (seq/100)%100, D = (seq/10)%10
//
// and HEAD.json's v is 2 (its path is the receipt's format-2 path). The
// format is the genesis commit's HEAD.json v and never changes along the
// chain. The rules are format 1's, applied at every level of the path:
// each directory on the path (receipts/ included) is the previous commit's
// with its last entry replaced by the new version of the next directory,
// or that directory appended when it is new; every other entry stays
// byte for byte; the leaf D/ is the previous leaf plus exactly the receipt
// and its .sig. So a commit rewrites receipts/ (one entry per million
// receipts), AAA/ and BB/ (at most 100 entries), CC/ (at most 10) and D/
// (at most 20), instead of format 1's directory of up to 2,000 entries;
// stock git reads every receipt and .sig at its path
// (git show vmc/ledger:receipts/000/00/00/7/000000007.json).

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vmc-git/vmc-git/internal/gitobj"
	"github.com/vmc-git/vmc-git/receipt"
)

// pathTrees2 caches, for a format-2 tip, the raw trees along its newest
// receipt's path: raws[0] is receipts/, raws[i] the directory dirs[:i],
// raws[len(dirs)] the leaf.
type pathTrees2 struct {
	dirs []string
	raws [][]byte
	// lasts[i] is the offset of the last entry in the interior tree
	// raws[i] (i < len(dirs)), when known (nil: parse raws[i] to find it).
	lasts []int
}

// lastName returns the name of the last entry of the interior tree i.
func (p *pathTrees2) lastName(i int) (string, bool) {
	raw := p.raws[i]
	if p.lasts != nil {
		e := raw[p.lasts[i]:]
		sp, nul := bytes.IndexByte(e, ' '), bytes.IndexByte(e, 0)
		if sp >= 0 && nul > sp {
			return string(e[sp+1 : nul]), true
		}
	}
	es, err := gitobj.ParseTree(raw)
	if err != nil || len(es) == 0 {
		return "", false
	}
	return es[len(es)-1].Name, true
}

// sameDir reports whether the directory at depth i (0: receipts/) of dirs
// is the one at depth i of p.
func (p *pathTrees2) sameDir(dirs []string, i int) bool {
	if p == nil || len(p.dirs) != len(dirs) {
		return false
	}
	for j := 0; j < i; j++ {
		if p.dirs[j] != dirs[j] {
			return false
		}
	}
	return true
}

// descend2 loads the path trees of receipt seq in a format-2 tree.
func (pt *pathTrees) descend2(l *Ledger, seq uint64) error {
	dirs, _ := receipt.Dirs(receipt.Format2, seq)
	e, ok := gitobj.FindEntry(pt.root, ReceiptsDir)
	if !ok || !e.IsDir() {
		return fmt.Errorf("no %s/ directory", ReceiptsDir)
	}
	p2 := &pathTrees2{dirs: dirs}
	id := e.ID
	for i := 0; ; i++ {
		raw, err := l.objs.Get(id, plumbing.TreeObject)
		if err != nil {
			return err
		}
		p2.raws = append(p2.raws, raw)
		if i == len(dirs) {
			break
		}
		es, err := gitobj.ParseTree(raw)
		if err != nil {
			return err
		}
		if n := len(es); n > 0 {
			last := es[n-1]
			p2.lasts = append(p2.lasts, len(raw)-(len(last.Mode)+1+len(last.Name)+1+20))
		} else {
			p2.lasts = append(p2.lasts, 0)
		}
		d, ok := gitobj.FindEntry(es, dirs[i])
		if !ok || !d.IsDir() {
			return fmt.Errorf("no directory %s/%s", ReceiptsDir, strings.Join(dirs[:i+1], "/"))
		}
		id = d.ID
	}
	pt.v2 = p2
	return nil
}

// writeReceipts2 writes the format-2 trees below receipts/ for receipt seq
// (blobs rid, sid) on top of pt and returns the new receipts/ tree id with
// the new path trees.
func writeReceipts2(pt *pathTrees, seq uint64, rid, sid plumbing.Hash, put putFunc) (plumbing.Hash, *pathTrees2, error) {
	var z plumbing.Hash
	dirs, name := receipt.Dirs(receipt.Format2, seq)
	m := len(dirs)
	p2 := &pathTrees2{dirs: dirs, raws: make([][]byte, m+1)}
	leaf := []byte(nil)
	if pt.v2.sameDir(dirs, m) {
		leaf = append(leaf, pt.v2.raws[m]...)
	}
	leaf = gitobj.AppendTreeEntry(leaf, gitobj.TreeEntry{Mode: gitobj.ModeFile, Name: name, ID: rid})
	leaf = gitobj.AppendTreeEntry(leaf, gitobj.TreeEntry{Mode: gitobj.ModeFile, Name: name + receipt.SigSuffix, ID: sid})
	p2.raws[m] = leaf
	child, err := put(plumbing.TreeObject, leaf)
	if err != nil {
		return z, nil, err
	}
	for i := m - 1; i >= 0; i-- {
		var es []gitobj.TreeEntry
		if pt.v2.sameDir(dirs, i) {
			if es, err = gitobj.ParseTree(pt.v2.raws[i]); err != nil {
				return z, nil, err
			}
		}
		raw := gitobj.EncodeTree(gitobj.SetEntry(es, gitobj.TreeEntry{Mode: gitobj.ModeDir, Name: dirs[i], ID: child}))
		p2.raws[i] = raw
		if child, err = put(plumbing.TreeObject, raw); err != nil {
			return z, nil, err
		}
	}
	return child, p2, nil
}

// checkReceiptTrees2 is checkReceiptTrees for format 2: below receipts/, the
// commit adds exactly receipt seq and its signature to prev's tree.
func (l *Ledger) checkReceiptTrees2(prev *state, root []gitobj.TreeEntry, seq uint64) (*pathTrees, plumbing.Hash, plumbing.Hash, error) {
	var z plumbing.Hash
	dirs, name := receipt.Dirs(receipt.Format2, seq)
	m := len(dirs)
	var pp *pathTrees2
	if prev.trees != nil {
		pp = prev.trees.v2
	}
	e, ok := gitobj.FindEntry(root, ReceiptsDir)
	if !ok || !e.IsDir() {
		return nil, z, z, fmt.Errorf("no %s/ directory", ReceiptsDir)
	}
	p2 := &pathTrees2{dirs: dirs, raws: make([][]byte, m+1), lasts: make([]int, m)}
	path := func(i int) string { return strings.Join(append([]string{ReceiptsDir}, dirs[:i]...), "/") + "/" }
	id := e.ID
	for i := 0; i < m; i++ {
		raw, err := l.objs.Get(id, plumbing.TreeObject)
		if err != nil {
			return nil, z, z, err
		}
		p2.raws[i] = raw
		// The previous version of this directory with its last entry (the
		// next directory on our path) replaced, or that directory appended.
		base := []byte(nil)
		if pp.sameDir(dirs, i) {
			base = pp.raws[i]
			if name, ok := pp.lastName(i); ok && name == dirs[i] {
				base = base[:len(base)-(len(gitobj.ModeDir)+1+len(dirs[i])+1+20)]
			}
		}
		if !bytes.HasPrefix(raw, base) {
			return nil, z, z, fmt.Errorf("commit changes %s, which holds older receipts", path(i))
		}
		tail, err := gitobj.ParseTree(raw[len(base):])
		if err != nil || len(tail) != 1 || tail[0].Name != dirs[i] || !tail[0].IsDir() {
			return nil, z, z, fmt.Errorf("commit changes %s beyond %s", path(i), path(i+1))
		}
		p2.lasts[i] = len(base)
		id = tail[0].ID
	}
	leaf, err := l.objs.Get(id, plumbing.TreeObject)
	if err != nil {
		return nil, z, z, err
	}
	p2.raws[m] = leaf
	// The leaf: the previous leaf plus exactly NNN.json and NNN.json.sig.
	base := []byte(nil)
	if pp.sameDir(dirs, m) {
		base = pp.raws[m]
	}
	if !bytes.HasPrefix(leaf, base) {
		return nil, z, z, fmt.Errorf("commit changes or removes older receipts in %s", path(m))
	}
	added, err := gitobj.ParseTree(leaf[len(base):])
	if err != nil {
		return nil, z, z, fmt.Errorf("%s: %v", path(m), err)
	}
	if len(added) != 2 || added[0].Name != name || added[1].Name != name+receipt.SigSuffix || added[0].IsDir() || added[1].IsDir() {
		names := make([]string, len(added))
		for i, e := range added {
			names[i] = e.Name
		}
		return nil, z, z, fmt.Errorf("commit adds %v to %s, want exactly %s and %s%s", names, path(m), name, name, receipt.SigSuffix)
	}
	if len(base) > 0 {
		// base ends with receipt seq-1's .sig (checked at the previous step,
		// or the trusted start state): the new entries must sort after it.
		if prevName := receipt.FileName(seq - 1); prevName+receipt.SigSuffix >= added[0].Name {
			return nil, z, z, fmt.Errorf("%s: entries out of order", path(m))
		}
	}
	return &pathTrees{root: root, v2: p2}, added[0].ID, added[1].ID, nil
}

// receiptTrees checks the trees below receipts/ for receipt seq in a ledger
// of the given format.
func (l *Ledger) receiptTrees(format int, prev *state, root []gitobj.TreeEntry, seq uint64) (*pathTrees, plumbing.Hash, plumbing.Hash, error) {
	if format == receipt.Format2 {
		return l.checkReceiptTrees2(prev, root, seq)
	}
	return l.checkReceiptTrees(prev, root, seq)
}

// Path returns where receipt seq is in r's ledger (its format's path).
func (r *Reader) Path(seq uint64) string { return receipt.PathIn(r.Tip.Head.V, seq) }

// formatOrDefault is the format Init writes.
func (l *Ledger) formatOrDefault() int {
	if l.Format == 0 {
		return receipt.DefaultFormat
	}
	return l.Format
}
