package gitobj

import (
	"errors"
	"fmt"
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
const MergeFanIn = 16

// writtenPack is a pack this Store wrote (PackBatch or MergePacks) and may
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
// whole. A pack that cannot be read (git gc removed it) is no longer this
// Store's to merge.
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
		p := s.packs.packs[i]
		type obj struct {
			off int64
			id  plumbing.Hash
		}
		objs := make([]obj, 0, p.n)
		for m := 0; m < p.n; m++ {
			name, off := s.packs.idx.name(p, m), s.packs.idx.offset(p, m)
			if name == nil || off < 0 {
				return nil, fmt.Errorf("merge packs: %s: unreadable index", filepath.Base(p.name))
			}
			objs = append(objs, obj{off, plumbing.Hash(name)})
		}
		slices.SortFunc(objs, func(a, b obj) int { return int(a.off - b.off) })
		for _, o := range objs {
			typ, data, err := s.packs.at(p, o.off, 0, maxObjectSize)
			if err != nil {
				return nil, fmt.Errorf("merge packs: %s: %w", filepath.Base(p.name), err)
			}
			if id, err := b.add(typ, data); err != nil {
				return nil, err
			} else if id != o.id {
				return nil, fmt.Errorf("merge packs: %s: object %s reads as %s", filepath.Base(p.name), o.id, id)
			}
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
		p.pack.Close()
		p.idx.Close()
		delete(r.loaded, p.name)
		for i := range r.cache.entries {
			if e := &r.cache.entries[i]; e.pack == p {
				r.cache.bytes -= len(e.data)
				*e = cacheEntry{}
			}
		}
		for k, i := range r.idx.at {
			if k.p == p {
				delete(r.idx.at, k)
				r.idx.slots[i] = idxChunkSlot{}
			}
		}
		return true
	})
}
