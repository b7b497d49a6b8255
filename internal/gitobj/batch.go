package gitobj

import (
	"compress/zlib"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
)

// Batch writes the loose objects of one commit with one durability
// barrier instead of one fsync each: Put writes each object to a temporary
// file in its objects/xx/ directory, Flush fsyncs all of them at once (in
// parallel: the filesystem journal commits them together, so a ledger
// append waits for about one fsync instead of about fifteen), then renames
// each into place and fsyncs the directories it renamed into. An object
// appears under its final name only once its bytes are durable, as with
// Store.Put; a crash before Flush returns leaves temporary files and
// unreferenced objects, never a ref to a missing one, because the caller
// moves the ref only after Flush returned nil. A batch is used once and is
// not safe for concurrent use.
type Batch struct {
	s       *Store
	pending []pendingObject
	seen    map[plumbing.Hash]bool
	done    bool
}

type pendingObject struct {
	f     *os.File
	final string
}

// MaxParallelSyncs bounds the fsyncs a Batch runs at once.
const MaxParallelSyncs = 32

// NewBatch starts a batch of loose objects written into s.
func (s *Store) NewBatch() *Batch { return &Batch{s: s, seen: map[plumbing.Hash]bool{}} }

// Put writes content as an object of type typ to a temporary file, unless
// the repository (its loose objects or its packs) or the batch holds it
// already, and returns its id. The object is durable and visible only once
// Flush has returned nil.
func (b *Batch) Put(typ plumbing.ObjectType, content []byte) (plumbing.Hash, error) {
	id := HashObject(typ, content)
	if b.done {
		return id, errors.New("write object: batch already flushed or aborted")
	}
	if b.seen[id] {
		return id, nil
	}
	hx := id.String()
	dir := filepath.Join(b.s.ObjectsDir, hx[:2])
	final := filepath.Join(dir, hx[2:])
	if b.s.has(id, final) {
		return id, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return id, err
	}
	f, err := os.CreateTemp(dir, "tmp_obj_")
	if err != nil {
		return id, err
	}
	if b.s.zw == nil {
		b.s.zw, _ = zlib.NewWriterLevel(f, zlib.BestSpeed)
	} else {
		b.s.zw.Reset(f)
	}
	zw := b.s.zw
	fmt.Fprintf(zw, "%s %d\x00", typ, len(content))
	zw.Write(content)
	if err := zw.Close(); err != nil {
		f.Close()
		os.Remove(f.Name())
		return id, err
	}
	b.pending = append(b.pending, pendingObject{f: f, final: final})
	b.seen[id] = true
	return id, nil
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

// Flush makes every object of the batch durable and visible: it fsyncs the
// temporary files (at most MaxParallelSyncs at a time), renames each into
// place and fsyncs the directories renamed into. On an error the objects
// not yet renamed are removed; the caller must not move a ref to them.
func (b *Batch) Flush() error {
	wait, err := b.FlushStart()
	if err != nil {
		return err
	}
	return wait()
}

// FlushStart is Flush that returns once the objects are durable and renamed
// into place, with the fsyncs of their directories still running: wait
// returns when those are done (their error, if any). A caller overlaps
// them with its own durable write (CASRefAfter: the ref's lock file) and
// calls wait before that write becomes visible; it calls wait on every
// path, whatever else failed.
func (b *Batch) FlushStart() (wait func() error, err error) {
	if b.done {
		return nil, errors.New("flush objects: batch already flushed or aborted")
	}
	b.done = true
	defer b.cleanup()
	files := make([]func() error, len(b.pending))
	for i, p := range b.pending {
		files[i] = func() error {
			if err := p.f.Sync(); err != nil {
				return err
			}
			return p.f.Close()
		}
	}
	if err := parallel(files); err != nil {
		return nil, fmt.Errorf("write objects: %w", err)
	}
	dirs := map[string]bool{}
	for i := range b.pending {
		p := &b.pending[i]
		os.Chmod(p.f.Name(), 0o444)
		if err := os.Rename(p.f.Name(), p.final); err != nil {
			return nil, fmt.Errorf("write objects: %w", err)
		}
		p.f = nil
		dirs[filepath.Dir(p.final)] = true
	}
	var syncs []func() error
	for d := range dirs {
		syncs = append(syncs, func() error { return syncDir(d) })
	}
	done := make(chan error, 1)
	go func() { done <- parallel(syncs) }()
	var once sync.Once
	var werr error
	return func() error {
		once.Do(func() {
			if err := <-done; err != nil {
				werr = fmt.Errorf("write objects: %w", err)
			}
		})
		return werr
	}, nil
}

// Abort drops the batch: its temporary files are removed.
func (b *Batch) Abort() {
	b.done = true
	b.cleanup()
}

func (b *Batch) cleanup() {
	for _, p := range b.pending {
		if p.f != nil {
			p.f.Close()
			os.Remove(p.f.Name())
		}
	}
	b.pending = nil
}

// Len returns the number of objects the batch will write.
func (b *Batch) Len() int { return len(b.pending) }

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// parallel runs fs, at most MaxParallelSyncs at a time, and returns the
// first error.
func parallel(fs []func() error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	sem := make(chan struct{}, MaxParallelSyncs)
	for _, f := range fs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := f(); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}
