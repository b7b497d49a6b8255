package gitledger

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"golang.org/x/mod/sumdb/note"

	"github.com/vmc-git/vmc-git/internal/gitobj"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/merkle"
	"github.com/vmc-git/vmc-git/receipt"
)

// Merkle snapshots (DESIGN section 6).
//
// A snapshot of size N is the RFC 6962 tree over receipts 0..N-1 (leaf i =
// the bytes of receipt i). It is published as the annotated tag
// refs/tags/vmc/merkle/<N> on the commit of receipt N-1, created once and
// never moved. The tag's message is a C2SP tlog-checkpoint (origin = ledger
// id) signed as a sumdb/note by the operator key, with the note key name
// equal to the kid; the tag object itself is SSHSIG-signed (namespace git),
// so `git tag -v` accepts it with keys/allowed_signers. The tagger is
// "vmc-git <kid>" at the snapshot time.
//
// Incremental snapshots: the compact range of the last snapshot is kept in
// .git/vmc/merkle-state.json. It is used only after checking it against the
// ledger (the receipt at its size-1 still hashes to its leaf and blake3) and
// against the signed tag of that size (root equal); otherwise the tree is
// recomputed from all receipts. So k new receipts cost O(k + log n).

// SnapshotTagRef returns refs/tags/vmc/merkle/<n>.
func SnapshotTagRef(n uint64) plumbing.ReferenceName {
	return plumbing.ReferenceName("refs/tags/" + merkle.TagName(n))
}

// NoteSigner returns the sumdb/note signer for a key: name = kid.
func NoteSigner(s *keys.Signer, kid string) (note.Signer, error) {
	return merkle.NewNoteSigner(kid, s.Ed25519(), s.SignRaw)
}

// NoteVerifier returns the note verifier of a trusted key (name = kid).
func NoteVerifier(e *keys.Entry) (note.Verifier, error) {
	pub, err := keys.Ed25519Public(e.Pub)
	if err != nil {
		return nil, err
	}
	vk, err := merkle.VerifierKey(e.KID, pub)
	if err != nil {
		return nil, err
	}
	return note.NewVerifier(vk)
}

// LeafHashes returns the leaf hashes of receipts from..to-1, read from r.
func LeafHashes(r *Reader, from, to uint64) ([]merkle.Hash, error) {
	out := make([]merkle.Hash, 0, to-from)
	for seq := from; seq < to; seq++ {
		b, err := r.File(r.Path(seq))
		if err != nil {
			return nil, fmt.Errorf("receipt %d: %w", seq, err)
		}
		out = append(out, merkle.LeafHash(b))
	}
	return out, nil
}

// SnapshotResult is a computed (and maybe tagged) snapshot.
type SnapshotResult struct {
	merkle.Snapshot
	Commit      plumbing.Hash `json:"-"`
	Tag         plumbing.Hash `json:"-"`
	Incremental bool          `json:"-"` // the saved compact range was used
}

func (l *Ledger) statePath() string { return filepath.Join(l.GitDir, "vmc", "merkle-state.json") }

// rangeAt returns the compact range over receipts 0..size-1, from the saved
// state when it checks out, else from scratch.
func (l *Ledger) rangeAt(r *Reader, size uint64) (merkle.Range, bool, error) {
	if st, err := merkle.LoadState(l.statePath()); err == nil && st.Range.Size > 0 && st.Range.Size <= size {
		if ok := l.checkState(r, st); ok {
			rg := st.Range.Clone()
			leaves, err := LeafHashes(r, rg.Size, size)
			if err != nil {
				return merkle.Range{}, false, err
			}
			for _, h := range leaves {
				rg.Append(h)
			}
			return rg, true, nil
		}
	}
	leaves, err := LeafHashes(r, 0, size)
	if err != nil {
		return merkle.Range{}, false, err
	}
	return merkle.RangeOf(leaves), false, nil
}

// checkState verifies a saved range against the ledger and the signed tag
// of its size.
func (l *Ledger) checkState(r *Reader, st merkle.State) bool {
	last := st.Range.Size - 1
	b, err := r.File(r.Path(last))
	if err != nil {
		return false
	}
	rc, err := receipt.Parse(b)
	if err != nil {
		return false
	}
	h := receiptHead(rc, b)
	if st.Check(merkle.LeafHash(b), h) != nil {
		return false
	}
	tag, err := l.readSnapshotTag(st.Range.Size)
	if err != nil {
		return false
	}
	return st.CheckRoot(tag.checkpoint) == nil
}

func receiptHead(rc *receipt.Receipt, b []byte) string {
	return receipt.HeadOf(rc, b).Blake3.String()
}

// MakeSnapshot computes the snapshot of the first size receipts (0: all),
// signs its checkpoint and, with tag, creates the signed tag. It saves the
// compact range for the next run. Under a witness policy use
// MakeCosignedSnapshot.
func (l *Ledger) MakeSnapshot(s *keys.Signer, kid string, size uint64, tag bool, now time.Time) (*SnapshotResult, error) {
	return l.MakeCosignedSnapshot(s, kid, size, tag, now, nil)
}

// MakeCosignedSnapshot is MakeSnapshot with witnesses: when tag is set and
// the trust state at receipt size-1 names witnesses, cosign gathers their
// cosignatures into the tag's checkpoint (witness.go); with
// witness_threshold N > 0 no tag is written without N of them.
func (l *Ledger) MakeCosignedSnapshot(s *keys.Signer, kid string, size uint64, tag bool, now time.Time, cosign CosignFunc) (*SnapshotResult, error) {
	r, err := l.NewReader()
	if err != nil {
		return nil, err
	}
	n := r.Tip.Head.Seq + 1
	if size == 0 {
		size = n
	}
	if size > n {
		return nil, fmt.Errorf("snapshot of %d receipts: the ledger has %d", size, n)
	}
	if _, err := r.Tip.Trust.Authorize(kid, s.PublicKey(), now, keys.RoleApplier, keys.RoleAdmin); err != nil {
		return nil, fmt.Errorf("cannot sign a snapshot: %w", err)
	}
	rg, incr, err := l.rangeAt(r, size)
	if err != nil {
		return nil, err
	}
	lastBytes, err := r.File(r.Path(size - 1))
	if err != nil {
		return nil, err
	}
	lastRc, err := receipt.Parse(lastBytes)
	if err != nil {
		return nil, err
	}
	headB3 := receiptHead(lastRc, lastBytes)
	cp := merkle.Checkpoint{Origin: r.Tip.Head.Ledger, Size: size, Root: rg.Root()}
	ns, err := NoteSigner(s, kid)
	if err != nil {
		return nil, err
	}
	signed, err := merkle.SignCheckpoint(cp, ns)
	if err != nil {
		return nil, err
	}
	res := &SnapshotResult{Snapshot: merkle.Snapshot{Algorithm: merkle.Algorithm, Root: cp.Root, LeafCount: size,
		HeadBlake3: headB3, CreatedAt: keys.FormatTime(now), KID: kid, Checkpoint: string(signed)}, Incremental: incr}
	if res.Commit, err = l.CommitOf(r.Tip, size-1); err != nil {
		return nil, err
	}
	if tag {
		if err := l.witnessTag(res, s, kid, cp, r, cosign); err != nil {
			return nil, err
		}
		signed = []byte(res.Checkpoint)
		if _, err := l.repo.Storer.Reference(SnapshotTagRef(size)); err == nil {
			return nil, fmt.Errorf("tag %s already exists: snapshot tags are never moved or rewritten", merkle.TagName(size))
		}
		ti := tagInfo{object: res.Commit, name: merkle.TagName(size), ident: Ident + " <" + kid + ">", when: now.Unix(), message: string(signed)}
		sig, err := s.Sign(keys.NamespaceGit, ti.encode(false))
		if err != nil {
			return nil, err
		}
		ti.signature = string(sig)
		if res.Tag, err = l.objs.Put(plumbing.TagObject, ti.encode(true)); err != nil {
			return nil, err
		}
		if err := l.casRefName(SnapshotTagRef(size), plumbing.ZeroHash, res.Tag); err != nil {
			return nil, err
		}
		l.cacheTiles(r, size, cp.Root)
		// Only a tagged range can be checked later, so only then is it saved.
		st := merkle.State{}
		st.Range = rg
		st.LastLeaf = merkle.LeafHash(lastBytes)
		st.HeadBlake3 = headB3
		if err := os.MkdirAll(filepath.Dir(l.statePath()), 0o755); err != nil {
			return nil, err
		}
		if err := st.Save(l.statePath()); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// tagInfo is an annotated tag object as vmc-git writes it.
type tagInfo struct {
	object    plumbing.Hash
	name      string
	ident     string
	when      int64
	message   string
	signature string
}

func (t tagInfo) encode(sig bool) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "object %s\ntype commit\ntag %s\ntagger %s %d +0000\n\n%s", t.object, t.name, t.ident, t.when, t.message)
	if sig {
		b.WriteString(t.signature)
	}
	return b.Bytes()
}

// parseTag splits a raw tag object into its fields.
func parseTag(raw []byte) (tagInfo, error) {
	var t tagInfo
	head, body, ok := bytes.Cut(raw, []byte("\n\n"))
	if !ok {
		return t, errors.New("tag: no message")
	}
	for _, line := range strings.Split(string(head), "\n") {
		k, v, _ := strings.Cut(line, " ")
		switch k {
		case "object":
			h, err := gitobj.ParseHash(v)
			if err != nil {
				return t, fmt.Errorf("tag: %w", err)
			}
			t.object = h
		case "tag":
			t.name = v
		case "tagger":
			i := strings.LastIndex(v, "> ")
			if i < 0 {
				return t, errors.New("tag: bad tagger")
			}
			t.ident = v[:i+1]
			ts, _, _ := strings.Cut(v[i+2:], " ")
			t.when, _ = strconv.ParseInt(ts, 10, 64)
		}
	}
	const begin = "-----BEGIN SSH SIGNATURE-----\n"
	i := bytes.Index(body, []byte(begin))
	if i < 0 {
		return t, errors.New("tag: not signed")
	}
	t.message, t.signature = string(body[:i]), string(body[i:])
	return t, nil
}

// snapshotTag is a parsed, not yet verified snapshot tag.
type snapshotTag struct {
	size       uint64
	id         plumbing.Hash
	info       tagInfo
	raw        []byte
	checkpoint merkle.Checkpoint
}

func (l *Ledger) readSnapshotTag(size uint64) (*snapshotTag, error) {
	ref, err := l.repo.Storer.Reference(SnapshotTagRef(size))
	if err != nil {
		return nil, err
	}
	raw, err := l.objs.Get(ref.Hash(), plumbing.TagObject)
	if err != nil {
		return nil, err
	}
	ti, err := parseTag(raw)
	if err != nil {
		return nil, err
	}
	body, _, _ := strings.Cut(ti.message, "\n\n")
	cp, err := merkle.ParseCheckpoint([]byte(body + "\n"))
	if err != nil {
		return nil, err
	}
	return &snapshotTag{size: size, id: ref.Hash(), info: ti, raw: raw, checkpoint: cp}, nil
}

// SnapshotSizes lists the sizes of the ledger's snapshot tags, ascending.
func (l *Ledger) SnapshotSizes() ([]uint64, error) {
	refs, err := l.repo.Storer.IterReferences()
	if err != nil {
		return nil, err
	}
	var sizes []uint64
	prefix := "refs/tags/" + merkle.TagPrefix
	err = refs.ForEach(func(r *plumbing.Reference) error {
		name := r.Name().String()
		if !strings.HasPrefix(name, prefix) {
			return nil
		}
		n, err := merkle.ParseTagName(name)
		if err != nil {
			return &TagNameError{Ref: name, Err: err}
		}
		sizes = append(sizes, n)
		return nil
	})
	sort.Slice(sizes, func(i, j int) bool { return sizes[i] < sizes[j] })
	return sizes, err
}

// TagNameError is a ref under the snapshot tag namespace whose name is not
// a snapshot tag name (merkle.ParseTagName): verification fails (exit 3).
type TagNameError struct {
	Ref string
	Err error
}

func (e *TagNameError) Error() string { return e.Err.Error() }
func (e *TagNameError) Unwrap() error { return e.Err }

// SnapshotError is a failed snapshot-tag check.
type SnapshotError struct {
	Size uint64
	Err  error
}

func (e *SnapshotError) Error() string {
	return fmt.Sprintf("snapshot %s: %v", merkle.TagName(e.Size), e.Err)
}
func (e *SnapshotError) Unwrap() error { return e.Err }

// VerifySnapshots checks every snapshot tag against the ledger whose
// commits by seq are chain (see VerifyTag), and consecutive snapshots for
// consistency.
func (l *Ledger) VerifySnapshots(chain []plumbing.Hash) error {
	if len(chain) == 0 {
		return nil
	}
	return l.verifySnapshots(chain[len(chain)-1], uint64(len(chain)), chainAt(chain))
}

// chainAt looks commits up by seq in a list.
func chainAt(chain []plumbing.Hash) func(uint64) (plumbing.Hash, error) {
	return func(seq uint64) (plumbing.Hash, error) { return chain[seq], nil }
}

// verifySnapshots is VerifySnapshots for the chain of n commits ending at
// tip whose commit of receipt seq is at(seq).
func (l *Ledger) verifySnapshots(tip plumbing.Hash, n uint64, at func(uint64) (plumbing.Hash, error)) error {
	sizes, err := l.SnapshotSizes()
	if err != nil || len(sizes) == 0 {
		return err
	}
	r, err := l.NewReaderAt(tip)
	if err != nil {
		return err
	}
	var leaves []merkle.Hash
	var prevSize uint64
	var prevRoot merkle.Hash
	for _, size := range sizes {
		ref, err := l.repo.Storer.Reference(SnapshotTagRef(size))
		if err != nil {
			return err
		}
		if size <= n {
			more, err := LeafHashes(r, uint64(len(leaves)), size)
			if err != nil {
				return err
			}
			leaves = append(leaves, more...)
		}
		root, err := l.verifyTag(r, n, at, size, ref.Hash(), leaves)
		if err != nil {
			return err
		}
		if prevSize > 0 {
			proof, err := merkle.ProveConsistency(leaves, prevSize, size)
			if err != nil {
				return err
			}
			if err := merkle.VerifyConsistency(prevSize, size, prevRoot, root, proof); err != nil {
				return &SnapshotError{size, fmt.Errorf("not consistent with %s: %v", merkle.TagName(prevSize), err)}
			}
		}
		prevSize, prevRoot = size, root
	}
	return nil
}

// VerifyTag checks one snapshot tag object (tag id, claimed size) against
// the ledger whose commits by seq are chain: it must be within the ledger,
// point at the commit of receipt size-1, be named vmc/merkle/<size>, be
// signed (tag SSHSIG and checkpoint note) by a key trusted as applier or
// admin at receipt size-1, name this ledger, and carry the root recomputed
// from the receipts.
func (l *Ledger) VerifyTag(chain []plumbing.Hash, size uint64, id plumbing.Hash) error {
	if size == 0 || size > uint64(len(chain)) {
		return &SnapshotError{size, fmt.Errorf("claims %d receipts, but the ledger has %d", size, len(chain))}
	}
	r, err := l.NewReaderAt(chain[len(chain)-1])
	if err != nil {
		return err
	}
	leaves, err := LeafHashes(r, 0, size)
	if err != nil {
		return err
	}
	_, err = l.verifyTag(r, uint64(len(chain)), chainAt(chain), size, id, leaves)
	return err
}

func (l *Ledger) verifyTag(r *Reader, n uint64, at func(uint64) (plumbing.Hash, error), size uint64, id plumbing.Hash, leaves []merkle.Hash) (merkle.Hash, error) {
	if size == 0 || size > n {
		return merkle.Hash{}, &SnapshotError{size, fmt.Errorf("claims %d receipts, but the ledger has %d", size, n)}
	}
	c, err := at(size - 1)
	if err != nil {
		return merkle.Hash{}, err
	}
	return l.verifyTagAt(r, c, size, id, func() (merkle.Hash, error) { return merkle.RootOf(leaves[:size]), nil })
}

// verifyTagAt is verifyTag for the tag of size whose receipt size-1 is in
// commit at, with the ledger's root at size computed by root (called last,
// after every other check).
func (l *Ledger) verifyTagAt(r *Reader, at plumbing.Hash, size uint64, id plumbing.Hash, root func() (merkle.Hash, error)) (merkle.Hash, error) {
	var z merkle.Hash
	fail := func(format string, a ...any) (merkle.Hash, error) {
		return z, &SnapshotError{size, fmt.Errorf(format, a...)}
	}
	raw, err := l.objs.Get(id, plumbing.TagObject)
	if err != nil {
		return fail("%v", err)
	}
	ti, err := parseTag(raw)
	if err != nil {
		return fail("%v", err)
	}
	if ti.object != at {
		return fail("points at %s, not at the commit of receipt %d (%s): the tag was moved or forged", ti.object, size-1, at)
	}
	if ti.name != merkle.TagName(size) {
		return fail("tag object is named %q", ti.name)
	}
	kid, ok := strings.CutPrefix(ti.ident, Ident+" <")
	kid, ok2 := strings.CutSuffix(kid, ">")
	if !ok || !ok2 {
		return fail("tagger %q is not vmc-git <kid>", ti.ident)
	}
	if !bytes.Equal(ti.encode(true), raw) {
		return fail("tag object is not in the form vmc-git writes")
	}
	trust, err := l.trustAtCommit(at)
	if err != nil {
		return z, err
	}
	e, err := trust.Authorize(kid, nil, time.Unix(ti.when, 0), keys.RoleApplier, keys.RoleAdmin)
	if err != nil {
		return fail("%v", err)
	}
	if err := keys.Verify(e.Pub, keys.NamespaceGit, ti.encode(false), []byte(ti.signature)); err != nil {
		return fail("tag signature: %v", err)
	}
	v, err := NoteVerifier(e)
	if err != nil {
		return z, err
	}
	cp, _, err := merkle.OpenCheckpoint([]byte(ti.message), note.VerifierList(v))
	if err != nil {
		return fail("checkpoint: %v", err)
	}
	if cp.Origin != r.Tip.Head.Ledger {
		return fail("checkpoint origin %q, want the ledger id %q", cp.Origin, r.Tip.Head.Ledger)
	}
	if err := checkTagWitnesses(trust, []byte(ti.message), time.Unix(ti.when, 0)); err != nil {
		return fail("%v", err)
	}
	if cp.Size != size {
		return fail("checkpoint size %d in tag of size %d", cp.Size, size)
	}
	want, err := root()
	if err != nil {
		return z, err
	}
	if cp.Root != want {
		return fail("root %s does not match the ledger's root %s at size %d", cp.Root, want, size)
	}
	return want, nil
}

func (l *Ledger) trustAtCommit(c plumbing.Hash) (*keys.Trust, error) {
	t, err := l.tipAt(c)
	if err != nil {
		return nil, err
	}
	return t.Trust, nil
}

// NewReaderAt reads receipts from the tree of ledger commit c.
func (l *Ledger) NewReaderAt(c plumbing.Hash) (*Reader, error) {
	tip, err := l.tipAt(c)
	if err != nil {
		return nil, err
	}
	return &Reader{l: l, Tip: tip, dirCache: map[string][]gitobj.TreeEntry{}}, nil
}

// casRefName creates or moves any ref with git's lock-file protocol.
func (l *Ledger) casRefName(name plumbing.ReferenceName, old, new plumbing.Hash) error {
	err := l.casRefTo(name, old, new)
	if errors.Is(err, errRaced) {
		return fmt.Errorf("%s already exists", name)
	}
	return err
}
