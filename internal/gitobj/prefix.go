package gitobj

import (
	"bytes"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
)

// commitParentPrefix is how much of a commit FirstParent inflates: the tree
// line, one parent line and the start of the next line.
const commitParentPrefix = len("tree ") + 41 + len("parent ") + 41 + len("author ")

// FirstParent returns the first parent of commit c, or false when it has
// none, reading only the start of the commit when it is stored whole in a
// pack (walking a chain back then inflates about a hundred bytes a commit,
// not the whole signed commit). It reports the parents as
// ParseCommitHeaders does; whenever the start alone does not settle them
// (no parent line right after the tree line, a delta, a loose object,
// anything unexpected) it reads and parses the whole commit, so that its
// errors are ParseCommitHeaders' and Get's.
func (s *Store) FirstParent(c plumbing.Hash) (plumbing.Hash, bool, error) {
	if p, ok := s.firstParentPrefix(c); ok {
		return p, true, nil
	}
	raw, err := s.Get(c, plumbing.CommitObject)
	if err != nil {
		return plumbing.ZeroHash, false, err
	}
	_, ps, _, err := ParseCommitHeaders(raw)
	if err != nil {
		return plumbing.ZeroHash, false, fmt.Errorf("commit %s: %w", c, err)
	}
	if len(ps) == 0 {
		return plumbing.ZeroHash, false, nil
	}
	return ps[0], true, nil
}

// firstParentPrefix is FirstParent from the commit's first bytes; ok false:
// read the whole commit.
func (s *Store) firstParentPrefix(c plumbing.Hash) (plumbing.Hash, bool) {
	var z plumbing.Hash
	if s.loadPacks() != nil {
		return z, false
	}
	var buf [commitParentPrefix]byte
	b, ok := s.packs.prefix(c, buf[:])
	if !ok {
		return z, false
	}
	// "tree <hex>\nparent <hex>\n" and more: the first parent line is
	// the first parent ParseCommitHeaders finds.
	rest, ok := bytes.CutPrefix(b, []byte("tree "))
	if !ok || len(rest) < 41 || rest[40] != '\n' {
		return z, false
	}
	if _, err := parseHashBytes(rest[:40]); err != nil {
		return z, false
	}
	rest, ok = bytes.CutPrefix(rest[41:], []byte("parent "))
	if !ok || len(rest) < 41 || rest[40] != '\n' {
		return z, false
	}
	p, err := parseHashBytes(rest[:40])
	if err != nil {
		return z, false
	}
	s.reads++
	return p, true
}

// prefix inflates the first len(buf) bytes of id if it is a commit stored
// whole (not as a delta) in a pack; ok false otherwise or on any error.
func (r *packReader) prefix(id plumbing.Hash, buf []byte) ([]byte, bool) {
	for _, p := range r.packs {
		off := r.idx.find(p, id)
		if off < 0 {
			continue
		}
		if e, ok := r.cache.get(p, off); ok {
			if e.typ != plumbing.CommitObject {
				return nil, false
			}
			return e.data[:min(len(buf), len(e.data))], true
		}
		r.br.seek(p.pack, off)
		c, err := r.br.ReadByte()
		if err != nil || int(c>>4)&7 != int(plumbing.CommitObject) {
			return nil, false
		}
		size := int64(c & 0x0f)
		for shift := 4; c&0x80 != 0; shift += 7 {
			if c, err = r.br.ReadByte(); err != nil || shift > 56 {
				return nil, false
			}
			size |= int64(c&0x7f) << shift
		}
		if size > MaxCommitSize {
			return nil, false
		}
		buf = buf[:min(int64(len(buf)), size)]
		if err := r.inflatePart(buf, false); err != nil {
			return nil, false
		}
		return buf, true
	}
	return nil, false
}
