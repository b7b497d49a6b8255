package gitobj

import (
	"path/filepath"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// AddQuarantine makes s read, besides its own objects, those of git's
// object quarantine directory (where a pushed pack waits during
// pre-receive). The repository is searched first, with the same pack and
// loose-object reader as outside a hook, together with the pushed packs, and
// the quarantine's loose objects only for what it lacks: the other way
// round, each of the repository's objects was first looked for in the
// quarantine (a failed open and a directory scan each) and then read through
// go-git, which loads the whole index of a large ledger's pack. The store is
// then for reading: an object it wrote would bypass the quarantine.
func (s *Store) AddQuarantine(quarantine string) error {
	s.Read = storeObjects{s.Read, &Store{ObjectsDir: quarantine, Read: s.Read}}
	// The pushed packs (more than receive.unpackLimit objects) are
	// searched with the repository's, so that their objects are not
	// misses of the repository's store, which cost a failed open and a
	// scan of objects/pack each.
	main := &packReader{dir: filepath.Join(s.ObjectsDir, "pack")}
	pushed := &packReader{dir: filepath.Join(quarantine, "pack")}
	if _, err := main.load(); err != nil {
		return err
	}
	if _, err := pushed.load(); err != nil {
		return err
	}
	main.packs = append(main.packs, pushed.packs...)
	s.packs = main
	return nil
}

// storeObjects serves a Store's misses from another Store; every other
// method is go-git's.
type storeObjects struct {
	storer.EncodedObjectStorer
	objs *Store
}

func (r storeObjects) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	typ, b, err := r.objs.getAny(h)
	if err != nil {
		return nil, err
	}
	if t != plumbing.AnyObject && t != typ {
		return nil, plumbing.ErrObjectNotFound
	}
	o := &plumbing.MemoryObject{}
	o.SetType(typ)
	o.SetSize(int64(len(b)))
	if _, err := o.Write(b); err != nil {
		return nil, err
	}
	return o, nil
}

func (r storeObjects) HasEncodedObject(h plumbing.Hash) error {
	_, _, err := r.objs.getAny(h)
	return err
}
