package gitobj

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"

	"github.com/go-git/go-git/v5/plumbing"
)

// Merging packs. One small pack a receipt would make every object lookup
// slower as a batch of appends goes on (each pack's index is searched in
// turn), so a PackBatch also absorbs, once MergeFanIn packs of one level
// written by this Store are there, their objects: its pack is one level
// higher, and they are removed once it is durable. A pack of level k holds
// the objects of about MergeFanIn^k appends, so a run of n appends leaves
// at most MergeFanIn-1 packs a level, O(log n) in all, and each object is
// copied O(log n) times; the copies cost no fsync of their own (they ride
// in an append's pack). Only packs this Store wrote are merged, never
// packs that git or another process wrote and may be reading through an
// index it loaded: the packs earlier runs left are git's to consolidate
// (git gc --auto, at gc.autoPackLimit packs, 50 by default).

// MergeFanIn is how many packs of one level a PackBatch absorbs into one
// pack of the next level. A PackBatch that absorbs nothing is level 0.
const MergeFanIn = 8

// writtenPack is a pack this Store wrote (a PackBatch) and may
// therefore merge and remove.
type writtenPack struct {
	base  string // objects/pack/pack-<sum>, without the extension
	level int
}

// noteWritten records a pack this store wrote.
func (s *Store) noteWritten(sum plumbing.Hash, level int) {
	s.written = append(s.written, writtenPack{base: filepath.Join(s.ObjectsDir, "pack", "pack-"+sum.String()), level: level})
}

// due returns the packs the next PackBatch absorbs, with the level of the
// pack it makes: the packs of the lowest level of which this Store wrote
// MergeFanIn or more (nil, 0: none is due).
func (s *Store) due() ([]writtenPack, int) {
	for level := 0; slices.ContainsFunc(s.written, func(w writtenPack) bool { return w.level >= level }); level++ {
		var group []writtenPack
		for _, w := range s.written {
			if w.level == level {
				group = append(group, w)
			}
		}
		if len(group) >= MergeFanIn {
			return group, level + 1
		}
	}
	return nil, 0
}

// absorb adds the objects of the packs in group to b (in the order they
// were written, whatever else holds them), and returns the packs it read
// whole. Their entries are copied as they are (a PackBatch's entries are
// whole objects, never deltas), each checked against the CRC-32 its index
// records, as git checks what it reuses when it repacks. A pack that is
// gone (git gc removed it) or fails a check is no longer this Store's to
// merge, and is left where it is.
func (b *PackBatch) absorb(group []writtenPack) ([]writtenPack, error) {
	s := b.s
	if err := s.loadPacks(); err != nil {
		return nil, err
	}
	if _, err := s.packs.load(); err != nil {
		return nil, err
	}
	var read []writtenPack
	for _, g := range group {
		i := slices.IndexFunc(s.packs.packs, func(p *packIndex) bool { return p.name == g.base+".idx" })
		if i < 0 {
			s.written = slices.DeleteFunc(s.written, func(w writtenPack) bool { return w.base == g.base })
			continue
		}
		n, size := len(b.entries), len(b.pack)
		if err := b.copyPack(s.packs.packs[i]); err != nil {
			// Left as it is (git fsck and gc will see what is wrong with
			// it) and no longer merged: the append goes on without it.
			for _, e := range b.entries[n:] {
				delete(b.seen, e.id)
			}
			b.entries, b.pack = b.entries[:n], b.pack[:size]
			s.written = slices.DeleteFunc(s.written, func(w writtenPack) bool { return w.base == g.base })
			b.skipped = append(b.skipped, fmt.Errorf("merge packs: %s: %w", filepath.Base(g.base), err))
			continue
		}
		read = append(read, g)
	}
	return read, nil
}

// removePacks removes the packs of group (their objects are durable in
// another pack this Store wrote), index first so that a reader listing
// packs by their index never finds one without its pack; a pack already
// gone is no error.
func (s *Store) removePacks(group []writtenPack) error {
	var errs []error
	for _, g := range group {
		for _, ext := range []string{".idx", ".pack"} {
			if err := os.Remove(g.base + ext); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
		s.written = slices.DeleteFunc(s.written, func(w writtenPack) bool { return w.base == g.base })
	}
	if s.packs != nil {
		s.packs.forget(func(p *packIndex) bool {
			return slices.ContainsFunc(group, func(g writtenPack) bool { return p.name == g.base+".idx" })
		})
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("merge packs: %w", err)
	}
	return nil
}

// forget closes and drops the packs drop selects (removed from disk: their
// objects are in another pack the reader has loaded).
func (r *packReader) forget(drop func(*packIndex) bool) {
	r.packs = slices.DeleteFunc(r.packs, func(p *packIndex) bool {
		if !drop(p) {
			return false
		}
		// Closed aside: the last close of a removed file frees it, which
		// can wait on the filesystem journal, and nothing needs to wait.
		go func() {
			p.pack.Close()
			p.idx.Close()
		}()
		delete(r.loaded, p.name)
		for i := range r.cache.entries {
			if e := &r.cache.entries[i]; e.pack == p {
				r.cache.bytes -= len(e.data)
				*e = cacheEntry{}
			}
		}
		for i := range r.idx.slots {
			if r.idx.slots[i].key.p == p {
				r.idx.slots[i] = idxChunkSlot{}
			}
		}
		return true
	})
}

// copyPack appends every entry of p, a pack a PackBatch wrote, to b, in
// pack order, unless b holds the object already.
func (b *PackBatch) copyPack(p *packIndex) error {
	fi, err := p.pack.Stat()
	if err != nil {
		return err
	}
	data := make([]byte, fi.Size())
	if _, err := p.pack.ReadAt(data, 0); err != nil {
		return err
	}
	if len(data) < 12+20 || binary.BigEndian.Uint32(data[8:12]) != uint32(p.n) {
		return errors.New("pack and index disagree")
	}
	crcs := make([]byte, 4*p.n)
	if _, err := p.idx.ReadAt(crcs, p.namesAt+20*int64(p.n)); err != nil {
		return err
	}
	es := make([]packEntry, p.n)
	for m := range es {
		name, off := b.s.packs.idx.name(p, m), b.s.packs.idx.offset(p, m)
		if name == nil || off < 12 || off >= int64(len(data)-20) {
			return errors.New("unreadable index")
		}
		es[m] = packEntry{id: plumbing.Hash(name), off: off, crc: binary.BigEndian.Uint32(crcs[4*m:])}
	}
	slices.SortFunc(es, func(x, y packEntry) int { return cmp.Compare(x.off, y.off) })
	for i, e := range es {
		end := int64(len(data) - 20)
		if i+1 < len(es) {
			end = es[i+1].off
		}
		raw := data[e.off:end]
		if len(raw) == 0 || crc32.ChecksumIEEE(raw) != e.crc {
			return fmt.Errorf("object %s: CRC mismatch", e.id)
		}
		if t := plumbing.ObjectType(raw[0] >> 4 & 7); t < plumbing.CommitObject || t > plumbing.TagObject {
			return fmt.Errorf("object %s: a delta (type %d), not written by a pack batch", e.id, t)
		}
		if b.seen[e.id] {
			continue
		}
		b.entries = append(b.entries, packEntry{id: e.id, off: int64(len(b.pack)), crc: e.crc})
		b.pack = append(b.pack, raw...)
		b.seen[e.id] = true
	}
	return nil
}
