package gitobj

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	kzlib "github.com/klauspost/compress/zlib"
)

// PackBatch writes the objects of one commit as one small pack and its
// version 2 index instead of one loose object each: two files to fsync
// (at once) and one directory, where a ledger receipt's fifteen loose
// objects had fifteen files and about as many directories. Put builds the
// pack in memory (no deltas: a receipt's objects are small, and a pack in
// objects/pack must not refer to objects outside it); FlushStart writes
// the pack and index to temporary files in objects/pack, fsyncs both,
// renames the pack, then the index (readers find packs by their index),
// and fsyncs the directory. As with Store.Put, the objects appear only once
// their bytes are durable, and a caller moves the ref only after the wait
// FlushStart returns gave nil, so a crash leaves at most temporary files
// or an unreferenced pack, never a ref to a missing object.
//
// Stock git and go-git read such packs as any other; their number is kept
// down by the merging in packmerge.go: a batch absorbs the small packs this
// Store wrote before it. A PackBatch is used once and is not safe for
// concurrent use.
type PackBatch struct {
	s       *Store
	pack    []byte // header and objects so far (the count is set at flush)
	entries []packEntry
	seen    map[plumbing.Hash]bool
	zbuf    bytes.Buffer
	done    bool
	skipped []error // packs due for merging that were left as they are
}

// NewPackBatch starts a pack of objects written into s.
func (s *Store) NewPackBatch() *PackBatch {
	hdr := binary.BigEndian.AppendUint32(append(make([]byte, 0, 8<<10), packMagic...), packVersion)
	return &PackBatch{s: s, pack: binary.BigEndian.AppendUint32(hdr, 0), seen: map[plumbing.Hash]bool{}}
}

// Put adds content as an object of type typ to the pack, unless the
// repository (its loose objects or its packs) or the batch holds it
// already, and returns its id. The object is durable and visible only once
// FlushStart's wait has returned nil.
func (b *PackBatch) Put(typ plumbing.ObjectType, content []byte) (plumbing.Hash, error) {
	id := HashObject(typ, content)
	if b.done {
		return id, errors.New("write object: pack already flushed or aborted")
	}
	if b.seen[id] {
		return id, nil
	}
	hx := id.String()
	if b.s.has(id, filepath.Join(b.s.ObjectsDir, hx[:2], hx[2:])) {
		return id, nil
	}
	return b.add(typ, content)
}

// add appends an object to the pack unless the batch holds it already.
func (b *PackBatch) add(typ plumbing.ObjectType, content []byte) (plumbing.Hash, error) {
	id := HashObject(typ, content)
	if b.seen[id] {
		return id, nil
	}
	b.zbuf.Reset()
	if b.s.pzw == nil {
		b.s.pzw, _ = kzlib.NewWriterLevel(&b.zbuf, kzlib.BestSpeed)
	} else {
		b.s.pzw.Reset(&b.zbuf) // the store's one writer, for every batch
	}
	b.s.pzw.Write(content)
	if err := b.s.pzw.Close(); err != nil {
		return id, err
	}
	off := int64(len(b.pack))
	b.pack = appendPackHeader(b.pack, int(typ), len(content))
	b.pack = append(b.pack, b.zbuf.Bytes()...)
	b.entries = append(b.entries, packEntry{id: id, off: off, crc: crc32.ChecksumIEEE(b.pack[off:])})
	b.seen[id] = true
	return id, nil
}

// Skipped returns why packs due for merging into this batch's pack were
// left as they are (nil: none was). It is no error of the batch: its own
// objects are written all the same.
func (b *PackBatch) Skipped() []error { return b.skipped }

// Len returns the number of objects the batch will write.
func (b *PackBatch) Len() int { return len(b.entries) }

// Abort drops the batch; nothing was written to disk.
func (b *PackBatch) Abort() { b.done = true }

// Flush is FlushStart followed by its wait.
func (b *PackBatch) Flush() error {
	wait, err := b.FlushStart()
	if err != nil {
		return err
	}
	return wait()
}

// FlushStart writes the pack and its index, fsynced, under their final
// names, and returns with the fsync of objects/pack still running: wait
// returns when it is done (its error, if any). A caller overlaps it with
// its own durable write (CASRefAfter: the ref's lock file) and calls wait
// before that write becomes visible, on every path. A batch without
// objects writes nothing.
func (b *PackBatch) FlushStart() (wait func() error, err error) {
	if b.done {
		return nil, errors.New("flush objects: pack already flushed or aborted")
	}
	b.done = true
	if len(b.entries) == 0 {
		return func() error { return nil }, nil
	}
	group, level := b.s.due()
	if group != nil {
		if group, err = b.absorb(group); err != nil {
			return nil, err
		}
		if len(group) == 0 {
			level = 0
		}
	}
	binary.BigEndian.PutUint32(b.pack[8:12], uint32(len(b.entries)))
	sum := sha1.Sum(b.pack)
	b.pack = append(b.pack, sum[:]...)
	var idx bytes.Buffer
	if err := (&PackWriter{entries: b.entries}).writeIndex(&idx, sum); err != nil {
		return nil, fmt.Errorf("write objects: %w", err)
	}
	dir := filepath.Join(b.s.ObjectsDir, "pack")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("write objects: %w", err)
	}
	// Both files are created first (named in order), then written and
	// fsynced at once: the filesystem journal commits them together.
	data := [][]byte{b.pack, idx.Bytes()}
	fs := make([]*os.File, 0, 2)
	defer func() {
		for _, f := range fs {
			if f != nil {
				f.Close()
				os.Remove(f.Name()) // not renamed into place
			}
		}
	}()
	for _, pattern := range []string{"tmp_pack_", "tmp_idx_"} {
		f, err := createReadOnly(dir, pattern)
		if err != nil {
			return nil, fmt.Errorf("write objects: %w", err)
		}
		fs = append(fs, f)
	}
	jobs := make([]func() error, len(fs))
	for i, f := range fs {
		jobs[i] = func() error {
			if _, err := f.Write(data[i]); err != nil {
				return err
			}
			return f.Sync()
		}
	}
	if err := parallel(jobs); err != nil {
		return nil, fmt.Errorf("write objects: %w", err)
	}
	base := filepath.Join(dir, fmt.Sprintf("pack-%x", sum))
	for i, ext := range []string{".pack", ".idx"} { // the pack first
		f := fs[i]
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("write objects: %w", err)
		}
		if err := os.Rename(f.Name(), base+ext); err != nil {
			os.Remove(f.Name())
			fs[i] = nil
			return nil, fmt.Errorf("write objects: %w", err)
		}
		fs[i] = nil
	}
	b.s.noteWritten(sum, level)
	done := make(chan error, 1)
	go func() { done <- syncDir(dir) }()
	var once sync.Once
	var werr error
	return func() error {
		once.Do(func() {
			if err := <-done; err != nil {
				werr = fmt.Errorf("write objects: %w", err)
				return
			}
			// The absorbed packs' objects are durable in this one: they
			// go. Failing to remove one only leaves it (valid) in place.
			b.s.removePacks(group)
		})
		return werr
	}, nil
}

// createReadOnly creates a new file named pattern and a random suffix in
// dir, open for writing but with mode 0444 from the start (git's mode for
// packs and indexes), which spares a chmod, one more metadata change for
// the filesystem journal, per file.
func createReadOnly(dir, pattern string) (*os.File, error) {
	for range 100 {
		var r [8]byte
		rand.Read(r[:])
		f, err := os.OpenFile(filepath.Join(dir, pattern+hex.EncodeToString(r[:])), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
		if !errors.Is(err, os.ErrExist) {
			return f, err
		}
	}
	return nil, fmt.Errorf("create a temporary file in %s: too many names taken", dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// parallel runs each of fs in its own goroutine (a batch has two: the pack
// and its index, whose fsyncs the filesystem journal commits together) and
// returns their errors, joined.
func parallel(fs []func() error) error {
	errs := make([]error, len(fs))
	var wg sync.WaitGroup
	for i, f := range fs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
