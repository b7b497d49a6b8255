package gitobj

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/zlib"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/storer"
	kzlib "github.com/klauspost/compress/zlib"
)

// Git file modes used in ledger trees.
const (
	ModeFile = "100644"
	ModeDir  = "40000"
)

// Store reads loose and packed objects itself (see packReader), falls
// back to go-git for anything else (alternates), and writes loose objects
// itself, so that each write is fsynced before the ref that makes it
// reachable moves. It is not safe for concurrent use, like go-git's storage.
type Store struct {
	ObjectsDir string
	Read       storer.EncodedObjectStorer
	packs      *packReader
	zr         io.ReadCloser
	zw         *zlib.Writer
	reads      int           // objects read with Get (a counter for tests and benchmarks)
	written    []writtenPack // packs written and not merged yet (packmerge.go)
	pzw        *kzlib.Writer // PackBatch's compressor, reused
}

// Reads returns the number of objects read with Get so far.
func (s *Store) Reads() int { return s.reads }

// Get returns the content of object h, which must be of type want. The
// bytes may be shared with a cache: callers must not modify them.
func (s *Store) Get(h plumbing.Hash, want plumbing.ObjectType) ([]byte, error) {
	return s.GetLimit(h, want, DefaultLimit(want))
}

// GetLimit is Get with a size limit, checked from the object's header
// before it is inflated (see the limits in limits.go).
func (s *Store) GetLimit(h plumbing.Hash, want plumbing.ObjectType, limit int64) ([]byte, error) {
	s.reads++
	typ, b, err := s.getAnyLimit(h, limit)
	if err != nil {
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			return nil, fmt.Errorf("%s object %s: not in the repository", want, h)
		}
		return nil, fmt.Errorf("%s object %s: %w", want, h, err)
	}
	if typ != want {
		return nil, fmt.Errorf("%s object %s: not in the repository (it is a %s)", want, h, typ)
	}
	return b, nil
}

// getAny looks in the packs, then among loose objects, then in packs added
// since, then asks go-git.
func (s *Store) getAny(h plumbing.Hash) (plumbing.ObjectType, []byte, error) {
	return s.getAnyLimit(h, maxObjectSize)
}

// loadPacks opens the packs on first use.
func (s *Store) loadPacks() error {
	if s.packs != nil {
		return nil
	}
	s.packs = &packReader{dir: filepath.Join(s.ObjectsDir, "pack")}
	_, err := s.packs.load()
	return err
}

func (s *Store) getAnyLimit(h plumbing.Hash, limit int64) (plumbing.ObjectType, []byte, error) {
	if err := s.loadPacks(); err != nil {
		return 0, nil, err
	}
	if typ, b, ok, err := s.packs.Get(h, limit, 0); ok || err != nil {
		return typ, b, err
	}
	typ, b, err := s.loose(h, limit)
	if !errors.Is(err, os.ErrNotExist) {
		return typ, b, err
	}
	if added, err := s.packs.load(); err != nil {
		return 0, nil, err
	} else if added {
		if typ, b, ok, err := s.packs.Get(h, limit, 0); ok || err != nil {
			return typ, b, err
		}
	}
	o, err := s.Read.EncodedObject(plumbing.AnyObject, h)
	if err != nil {
		return 0, nil, err
	}
	r, err := o.Reader()
	if err != nil {
		return 0, nil, err
	}
	defer r.Close()
	if o.Size() > limit {
		return 0, nil, &TooLargeError{Size: o.Size(), Limit: limit}
	}
	b = make([]byte, o.Size())
	if _, err := io.ReadFull(r, b); err != nil {
		return 0, nil, err
	}
	return o.Type(), b, nil
}

// loose reads a loose object; the error is os.ErrNotExist if there is none.
func (s *Store) loose(h plumbing.Hash, limit int64) (plumbing.ObjectType, []byte, error) {
	hx := h.String()
	f, err := os.Open(filepath.Join(s.ObjectsDir, hx[:2], hx[2:]))
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 4096)
	if s.zr == nil {
		s.zr, err = zlib.NewReader(br)
	} else {
		err = s.zr.(zlib.Resetter).Reset(br, nil)
	}
	if err != nil {
		return 0, nil, fmt.Errorf("loose object: %w", err)
	}
	var hdr [32]byte
	n, err := io.ReadAtLeast(s.zr, hdr[:], 1)
	if err != nil && n == 0 {
		return 0, nil, fmt.Errorf("loose object: %w", err)
	}
	sp, nul := bytes.IndexByte(hdr[:n], ' '), bytes.IndexByte(hdr[:n], 0)
	if sp < 0 || nul < sp {
		return 0, nil, errors.New("loose object: bad header")
	}
	typ, err := plumbing.ParseObjectType(string(hdr[:sp]))
	if err != nil {
		return 0, nil, fmt.Errorf("loose object: %w", err)
	}
	size, err := strconv.ParseInt(string(hdr[sp+1:nul]), 10, 64)
	if err != nil || size < 0 {
		return 0, nil, errors.New("loose object: bad size")
	}
	if size > limit {
		return 0, nil, &TooLargeError{Size: size, Limit: limit}
	}
	b := make([]byte, size)
	got := copy(b, hdr[nul+1:n])
	if int64(got) < size {
		if _, err := io.ReadFull(s.zr, b[got:]); err != nil {
			return 0, nil, fmt.Errorf("loose object: %w", err)
		}
	} else if n-(nul+1) > int(size) {
		return 0, nil, errors.New("loose object: longer than its header says")
	}
	return typ, b, nil
}

// Reindex makes the readers see packs written since they first looked.
func (s *Store) Reindex() {
	if s.packs != nil {
		s.packs.load()
	}
	if r, ok := s.Read.(interface{ Reindex() }); ok {
		r.Reindex()
	}
}

// HashObject returns git's SHA-1 object id of content with type typ.
func HashObject(typ plumbing.ObjectType, content []byte) plumbing.Hash {
	var hdr [32]byte
	head := append(strconv.AppendInt(append(append(hdr[:0], typ.String()...), ' '), int64(len(content)), 10), 0)
	if len(content) <= smallObject {
		// One sum over a buffer on the stack: no allocation for the
		// small objects verify hashes once a receipt.
		var buf [32 + smallObject]byte
		return plumbing.Hash(sha1.Sum(append(append(buf[:0], head...), content...)))
	}
	h := sha1.New()
	h.Write(head)
	h.Write(content)
	var id plumbing.Hash
	copy(id[:], h.Sum(nil))
	return id
}

// smallObject is the largest object HashObject hashes from the stack.
const smallObject = 1024

// Put writes a loose object (zlib, fsync, rename) unless it exists and
// returns its id.
func (s *Store) Put(typ plumbing.ObjectType, content []byte) (plumbing.Hash, error) {
	id := HashObject(typ, content)
	hx := id.String()
	dir := filepath.Join(s.ObjectsDir, hx[:2])
	final := filepath.Join(dir, hx[2:])
	if s.has(id, final) {
		return id, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return id, err
	}
	f, err := os.CreateTemp(dir, "tmp_obj_")
	if err != nil {
		return id, err
	}
	defer os.Remove(f.Name())
	if s.zw == nil {
		s.zw, _ = zlib.NewWriterLevel(f, zlib.BestSpeed)
	} else {
		s.zw.Reset(f) // one writer (and its 256 KB of state) for every object
	}
	zw := s.zw
	fmt.Fprintf(zw, "%s %d\x00", typ, len(content))
	zw.Write(content)
	if err := zw.Close(); err != nil {
		f.Close()
		return id, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return id, err
	}
	if err := f.Close(); err != nil {
		return id, err
	}
	os.Chmod(f.Name(), 0o444)
	if err := os.Rename(f.Name(), final); err != nil {
		return id, err
	}
	return id, nil
}

// TreeEntry is one entry of a git tree object.
type TreeEntry struct {
	Mode string
	Name string
	ID   plumbing.Hash
}

// IsDir reports whether the entry is a tree.
func (e TreeEntry) IsDir() bool { return e.Mode == ModeDir }

// sortKey orders entries as git does: directories compare as name + "/".
func (e TreeEntry) sortKey() string {
	if e.IsDir() {
		return e.Name + "/"
	}
	return e.Name
}

// EncodeTree sorts es in git's order and returns the tree object's content.
func EncodeTree(es []TreeEntry) []byte {
	sort.Slice(es, func(i, j int) bool { return es[i].sortKey() < es[j].sortKey() })
	var b bytes.Buffer
	for _, e := range es {
		b.WriteString(e.Mode)
		b.WriteByte(' ')
		b.WriteString(e.Name)
		b.WriteByte(0)
		b.Write(e.ID[:])
	}
	return b.Bytes()
}

// AppendTreeEntry appends one encoded entry to a tree object's content
// (the caller keeps git's order).
func AppendTreeEntry(b []byte, e TreeEntry) []byte {
	b = append(b, e.Mode...)
	b = append(b, ' ')
	b = append(b, e.Name...)
	b = append(b, 0)
	return append(b, e.ID[:]...)
}

// ParseTree decodes a tree object strictly: known modes, sorted, unique
// names (a file and a directory of one name sort apart, so git mktree
// accepts both; git fsck calls that duplicateEntries), no empty or
// path-like names.
func ParseTree(b []byte) ([]TreeEntry, error) {
	// One string for all names: ledger trees have up to 2000 entries, and
	// verify parses one per receipt.
	all := string(b)
	es := make([]TreeEntry, 0, len(b)/42+1) // a receipt entry is 42 or 46 bytes
	for pos := 0; pos < len(all); {
		rest := all[pos:]
		sp := strings.IndexByte(rest, ' ')
		if sp < 0 {
			return nil, errors.New("tree: malformed entry")
		}
		var mode string
		switch rest[:sp] {
		case ModeFile:
			mode = ModeFile
		case ModeDir:
			mode = ModeDir
		default:
			return nil, fmt.Errorf("tree: entry mode %s not allowed in a ledger", rest[:sp])
		}
		rest = rest[sp+1:]
		nul := strings.IndexByte(rest, 0)
		if nul < 0 || len(rest) < nul+1+20 {
			return nil, errors.New("tree: malformed entry")
		}
		name := rest[:nul]
		if name == "" || name == "." || name == ".." || strings.ContainsRune(name, '/') {
			return nil, fmt.Errorf("tree: bad entry name %q", name)
		}
		var id plumbing.Hash
		copy(id[:], rest[nul+1:nul+21])
		pos += sp + 1 + nul + 21
		e := TreeEntry{mode, name, id}
		if n := len(es); n > 0 && compareTreeEntries(es[n-1], e) >= 0 {
			return nil, fmt.Errorf("tree: entries not sorted or duplicated at %q", name)
		}
		es = append(es, e)
	}
	// A file and a directory of the same name are not neighbours in git's
	// order ("x" < "x.json" < "x/"): look for the file of each directory.
	for i, e := range es {
		if !e.IsDir() {
			continue
		}
		j := sort.Search(i, func(k int) bool {
			return compareTreeEntries(es[k], TreeEntry{ModeFile, e.Name, plumbing.ZeroHash}) >= 0
		})
		if j < i && es[j].Name == e.Name {
			return nil, fmt.Errorf("tree: duplicate entry %q (a file and a directory)", e.Name)
		}
	}
	return es, nil
}

// compareTreeEntries orders entries as git does, like comparing sortKeys
// (names never contain "/").
func compareTreeEntries(a, b TreeEntry) int {
	n := min(len(a.Name), len(b.Name))
	if c := strings.Compare(a.Name[:n], b.Name[:n]); c != 0 {
		return c
	}
	return cmp.Compare(keyByte(a, n), keyByte(b, n))
}

// keyByte is byte i of e's sort key (name, plus "/" for a directory), or -1
// past its end.
func keyByte(e TreeEntry, i int) int {
	switch {
	case i < len(e.Name):
		return int(e.Name[i])
	case i == len(e.Name) && e.IsDir():
		return '/'
	}
	return -1
}

// FindEntry returns the entry called name.
func FindEntry(es []TreeEntry, name string) (TreeEntry, bool) {
	for _, e := range es {
		if e.Name == name {
			return e, true
		}
	}
	return TreeEntry{}, false
}

// SetEntry replaces or inserts an entry by name.
func SetEntry(es []TreeEntry, e TreeEntry) []TreeEntry {
	out := make([]TreeEntry, 0, len(es)+1)
	for _, x := range es {
		if x.Name != e.Name {
			out = append(out, x)
		}
	}
	return append(out, e)
}

// CommitInfo is a ledger commit's content.
type CommitInfo struct {
	Tree      plumbing.Hash
	Parent    plumbing.Hash // zero for genesis
	Ident     string        // "vmc-git <kid>"
	When      int64         // unix seconds, UTC
	Message   string
	Signature string // armored SSHSIG (namespace git); empty in the payload
}

// Encode renders the commit object. With sig false it renders the payload
// that the signature covers (git's form: the commit without gpgsig).
func (c CommitInfo) Encode(sig bool) []byte {
	return c.AppendEncode(make([]byte, 0, 200+len(c.Ident)*2+len(c.Message)+len(c.Signature)*9/8), sig)
}

// AppendEncode appends Encode(sig) to b.
func (c CommitInfo) AppendEncode(b []byte, sig bool) []byte {
	b = append(b, "tree "...)
	b = hex.AppendEncode(b, c.Tree[:])
	b = append(b, '\n')
	if !c.Parent.IsZero() {
		b = append(b, "parent "...)
		b = hex.AppendEncode(b, c.Parent[:])
		b = append(b, '\n')
	}
	for _, role := range []string{"author ", "committer "} {
		b = append(b, role...)
		b = append(b, c.Ident...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, c.When, 10)
		b = append(b, " +0000\n"...)
	}
	if sig && c.Signature != "" {
		// The signature's lines, continued with a leading space.
		b = append(b, "gpgsig "...)
		for _, ch := range []byte(strings.TrimSuffix(c.Signature, "\n")) {
			b = append(b, ch)
			if ch == '\n' {
				b = append(b, ' ')
			}
		}
		b = append(b, '\n')
	}
	b = append(b, '\n')
	return append(b, c.Message...)
}

// ParseCommitHeaders reads the fields a verifier needs from a raw commit:
// tree, parents, committer time and the gpgsig value. The caller then
// re-encodes the expected commit and compares bytes, which rejects every
// other header and any other formatting.
func ParseCommitHeaders(raw []byte) (tree plumbing.Hash, parents []plumbing.Hash, sig string, err error) {
	return parseCommitHeaders(raw, true)
}

// ParseCommitParents is ParseCommitHeaders without the signature: the same
// tree, parents and error, for a walk that only follows parents.
func ParseCommitParents(raw []byte) (tree plumbing.Hash, parents []plumbing.Hash, err error) {
	tree, parents, _, err = parseCommitHeaders(raw, false)
	return tree, parents, err
}

func parseCommitHeaders(raw []byte, withSig bool) (tree plumbing.Hash, parents []plumbing.Hash, sig string, err error) {
	head, _, ok := bytes.Cut(raw, []byte("\n\n"))
	if !ok {
		return tree, nil, "", errors.New("commit: no message")
	}
	nl := []byte("\n")
	for rest, more := head, true; more; {
		var line []byte
		line, rest, more = bytes.Cut(rest, nl)
		k, v, _ := bytes.Cut(line, []byte(" "))
		switch string(k) {
		case "tree":
			tree, err = parseHashBytes(v)
		case "parent":
			var p plumbing.Hash
			p, err = parseHashBytes(v)
			parents = append(parents, p)
		case "gpgsig":
			if !withSig {
				// Skip the continuation lines, as below.
				for more && len(rest) > 0 && rest[0] == ' ' {
					_, rest, more = bytes.Cut(rest, nl)
				}
				break
			}
			// The value, then each following line that starts with a
			// space, without that space; each line ends in a newline.
			b := make([]byte, 0, len(v)+1+len(rest))
			b = append(append(b, v...), '\n')
			for more && len(rest) > 0 && rest[0] == ' ' {
				line, rest, more = bytes.Cut(rest, nl)
				b = append(append(b, line[1:]...), '\n')
			}
			sig = string(b)
		}
		if err != nil {
			return tree, nil, "", fmt.Errorf("commit: %w", err)
		}
	}
	return tree, parents, sig, nil
}

// parseHashBytes is ParseHash for bytes, without a copy when b is valid.
func parseHashBytes(b []byte) (plumbing.Hash, error) {
	var h plumbing.Hash
	if len(b) == 2*len(h) {
		lower := true
		for _, c := range b {
			lower = lower && (c >= '0' && c <= '9' || c >= 'a' && c <= 'f')
		}
		if _, err := hex.Decode(h[:], b); lower && err == nil {
			return h, nil
		}
	}
	return ParseHash(string(b))
}

// ParseHash parses a lower-case hex object id.
func ParseHash(s string) (plumbing.Hash, error) {
	var h plumbing.Hash
	if len(s) != 40 {
		return h, fmt.Errorf("bad object id %q", s)
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil || strings.ToLower(s) != s {
		return h, fmt.Errorf("bad object id %q", s)
	}
	return h, nil
}

// has reports whether object id is already stored: as a loose object at
// final or in a pack this store reads. (Objects only in an alternate are
// written again, loose: harmless, and it spares loading go-git's index of
// every pack.)
func (s *Store) has(id plumbing.Hash, final string) bool {
	if _, err := os.Stat(final); err == nil {
		return true
	}
	if s.loadPacks() != nil {
		return false
	}
	for _, p := range s.packs.packs {
		if s.packs.idx.find(p, id) >= 0 {
			return true
		}
	}
	return false
}
