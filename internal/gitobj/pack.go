package gitobj

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	kzlib "github.com/klauspost/compress/zlib"
)

// Pack format constants (git's pack-format.txt, version 2 pack and index).
const (
	packVersion  = 2
	idxVersion   = 2
	packOFSDelta = 6 // object type of an offset delta in a pack

	// maxDeltaDepth bounds delta chains, as git's pack.depth does.
	maxDeltaDepth = 50
	// maxReadDeltaDepth bounds the chains the reader follows, OFS_DELTA and
	// REF_DELTA alike (room for repositories repacked with a deeper --depth).
	maxReadDeltaDepth = 10 * maxDeltaDepth
	// deltaCandidates is how many recent trees are tried as delta bases:
	// the trees of the previous commit, which a new commit's trees extend.
	deltaCandidates = 8
)

var (
	packMagic = []byte("PACK")
	idxMagic  = []byte{0xff, 't', 'O', 'c'}
)

// PackWriter writes objects into one new packfile, for writing many receipts
// at once (Generate). Trees are stored as deltas against one of the recent
// trees when they share most of their bytes with it (a receipts/AAA/BBB tree
// is the previous one plus two entries), so that the pack stays small.
//
// Objects become visible only when finish has written and fsynced the pack
// and its index and moved them into objects/pack/; abort removes the
// temporary file. put is not safe for concurrent use.
type PackWriter struct {
	packDir string
	f       *os.File
	bw      *bufio.Writer
	off     int64
	entries []packEntry
	seen    map[plumbing.Hash]struct{}
	recent  []deltaBase // ring of the last deltaCandidates trees
	next    int
	zbuf    bytes.Buffer
	zw      *zlib.Writer
	crc     hash.Hash32
	hdr     []byte
}

type packEntry struct {
	id  plumbing.Hash
	off int64
	crc uint32
}

type deltaBase struct {
	off     int64
	depth   int
	content []byte
}

// NewPackWriter starts a pack in objectsDir/pack.
func NewPackWriter(objectsDir string) (*PackWriter, error) {
	dir := filepath.Join(objectsDir, "pack")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "tmp_pack_")
	if err != nil {
		return nil, err
	}
	w := &PackWriter{packDir: dir, f: f, bw: bufio.NewWriterSize(f, 1<<20), seen: map[plumbing.Hash]struct{}{}, crc: crc32.NewIEEE()}
	w.zw, _ = zlib.NewWriterLevel(&w.zbuf, zlib.BestSpeed)
	// The object count is filled in by finish.
	hdr := binary.BigEndian.AppendUint32(append([]byte(nil), packMagic...), packVersion)
	hdr = binary.BigEndian.AppendUint32(hdr, 0)
	if _, err := w.bw.Write(hdr); err != nil {
		w.Abort()
		return nil, err
	}
	w.off = int64(len(hdr))
	return w, nil
}

// Put adds an object to the pack unless it is already in it.
func (w *PackWriter) Put(typ plumbing.ObjectType, content []byte) (plumbing.Hash, error) {
	id := HashObject(typ, content)
	if _, ok := w.seen[id]; ok {
		return id, nil
	}
	w.seen[id] = struct{}{}
	w.hdr = w.hdr[:0]
	data := content
	var base *deltaBase
	if typ == plumbing.TreeObject {
		base = w.deltaBase(content)
	}
	depth := 0
	if base != nil {
		data = makeDelta(base.content, content)
		depth = base.depth + 1
		w.hdr = appendPackHeader(w.hdr, packOFSDelta, len(data))
		w.hdr = appendOFSOffset(w.hdr, w.off-base.off)
	} else {
		w.hdr = appendPackHeader(w.hdr, int(typ), len(data))
	}
	w.zbuf.Reset()
	w.zw.Reset(&w.zbuf)
	w.zw.Write(data)
	if err := w.zw.Close(); err != nil {
		return id, err
	}
	w.crc.Reset()
	w.crc.Write(w.hdr)
	w.crc.Write(w.zbuf.Bytes())
	w.entries = append(w.entries, packEntry{id: id, off: w.off, crc: w.crc.Sum32()})
	if typ == plumbing.TreeObject {
		w.remember(deltaBase{off: w.off, depth: depth, content: content})
	}
	if _, err := w.bw.Write(w.hdr); err != nil {
		return id, err
	}
	if _, err := w.bw.Write(w.zbuf.Bytes()); err != nil {
		return id, err
	}
	w.off += int64(len(w.hdr) + w.zbuf.Len())
	return id, nil
}

// deltaBase picks the recent tree sharing the most leading and trailing
// bytes with content, if a delta against it saves most of the object.
func (w *PackWriter) deltaBase(content []byte) *deltaBase {
	var best *deltaBase
	bestShared := 0
	for i := range w.recent {
		b := &w.recent[i]
		if b.depth >= maxDeltaDepth {
			continue
		}
		p, s := commonEnds(b.content, content)
		if p+s > bestShared {
			best, bestShared = b, p+s
		}
	}
	if best == nil || bestShared < 64 || bestShared < len(content)/2 {
		return nil
	}
	return best
}

func (w *PackWriter) remember(b deltaBase) {
	if len(w.recent) < deltaCandidates {
		w.recent = append(w.recent, b)
		return
	}
	w.recent[w.next] = b
	w.next = (w.next + 1) % deltaCandidates
}

// commonEnds returns the lengths of the common prefix and, in what is left,
// the common suffix of a and b.
func commonEnds(a, b []byte) (prefix, suffix int) {
	n := min(len(a), len(b))
	for prefix < n && a[prefix] == b[prefix] {
		prefix++
	}
	for suffix < n-prefix && a[len(a)-1-suffix] == b[len(b)-1-suffix] {
		suffix++
	}
	return prefix, suffix
}

// makeDelta encodes target as a git delta against base: a copy of the common
// prefix, the new middle bytes, a copy of the common suffix.
func makeDelta(base, target []byte) []byte {
	p, s := commonEnds(base, target)
	d := binary.AppendUvarint(nil, uint64(len(base)))
	d = binary.AppendUvarint(d, uint64(len(target)))
	d = appendDeltaCopy(d, 0, p)
	for mid := target[p : len(target)-s]; len(mid) > 0; {
		n := min(len(mid), 0x7f)
		d = append(d, byte(n))
		d = append(d, mid[:n]...)
		mid = mid[n:]
	}
	return appendDeltaCopy(d, len(base)-s, s)
}

// appendDeltaCopy appends copy instructions for base[off:off+n], in pieces
// of at most 64 KiB.
func appendDeltaCopy(d []byte, off, n int) []byte {
	for n > 0 {
		size := min(n, 0x10000)
		op := len(d)
		d = append(d, 0x80)
		for i := 0; i < 4; i++ {
			if b := byte(off >> (8 * i)); b != 0 {
				d[op] |= 1 << i
				d = append(d, b)
			}
		}
		if size != 0x10000 { // a size of zero means 64 KiB
			for i := 0; i < 3; i++ {
				if b := byte(size >> (8 * i)); b != 0 {
					d[op] |= 0x10 << i
					d = append(d, b)
				}
			}
		}
		off += size
		n -= size
	}
	return d
}

// appendPackHeader appends an object header: type and size, 7 bits a byte.
func appendPackHeader(b []byte, typ, size int) []byte {
	c := byte(typ<<4) | byte(size&0x0f)
	size >>= 4
	for size > 0 {
		b = append(b, c|0x80)
		c = byte(size & 0x7f)
		size >>= 7
	}
	return append(b, c)
}

// appendOFSOffset appends the distance to an offset delta's base.
func appendOFSOffset(b []byte, dist int64) []byte {
	var tmp [10]byte
	i := len(tmp) - 1
	tmp[i] = byte(dist & 0x7f)
	for dist >>= 7; dist > 0; dist >>= 7 {
		dist--
		i--
		tmp[i] = 0x80 | byte(dist&0x7f)
	}
	return append(b, tmp[i:]...)
}

// Finish completes the pack (object count, SHA-1 trailer), writes its
// version 2 index, fsyncs both and moves them into place, pack first. It
// returns the pack's name (its checksum).
func (w *PackWriter) Finish() (plumbing.Hash, error) {
	var sum plumbing.Hash
	defer w.Abort()
	if err := w.bw.Flush(); err != nil {
		return sum, err
	}
	var count [4]byte
	binary.BigEndian.PutUint32(count[:], uint32(len(w.entries)))
	if _, err := w.f.WriteAt(count[:], 8); err != nil {
		return sum, err
	}
	if _, err := w.f.Seek(0, io.SeekStart); err != nil {
		return sum, err
	}
	h := sha1.New()
	if _, err := io.Copy(h, w.f); err != nil {
		return sum, err
	}
	copy(sum[:], h.Sum(nil))
	if _, err := w.f.Write(sum[:]); err != nil {
		return sum, err
	}
	if err := w.f.Sync(); err != nil {
		return sum, err
	}
	if err := w.f.Close(); err != nil {
		return sum, err
	}
	idx, err := os.CreateTemp(w.packDir, "tmp_idx_")
	if err != nil {
		return sum, err
	}
	defer os.Remove(idx.Name())
	if err := w.writeIndex(idx, sum); err != nil {
		idx.Close()
		return sum, err
	}
	if err := idx.Sync(); err != nil {
		idx.Close()
		return sum, err
	}
	if err := idx.Close(); err != nil {
		return sum, err
	}
	base := filepath.Join(w.packDir, "pack-"+sum.String())
	os.Chmod(w.f.Name(), 0o444)
	os.Chmod(idx.Name(), 0o444)
	if err := os.Rename(w.f.Name(), base+".pack"); err != nil {
		return sum, err
	}
	if err := os.Rename(idx.Name(), base+".idx"); err != nil {
		return sum, err
	}
	if d, err := os.Open(w.packDir); err == nil {
		d.Sync()
		d.Close()
	}
	return sum, nil
}

// writeIndex writes the version 2 pack index of the entries.
func (w *PackWriter) writeIndex(f io.Writer, packSum plumbing.Hash) error {
	es := w.entries
	slices.SortFunc(es, func(a, b packEntry) int { return bytes.Compare(a.id[:], b.id[:]) })
	h := sha1.New()
	bw := bufio.NewWriter(io.MultiWriter(f, h))
	var b []byte
	b = append(b, idxMagic...)
	b = binary.BigEndian.AppendUint32(b, idxVersion)
	var fanout [256]uint32
	for _, e := range es {
		fanout[e.id[0]]++
	}
	n := uint32(0)
	for i := range fanout {
		n += fanout[i]
		b = binary.BigEndian.AppendUint32(b, n)
	}
	bw.Write(b)
	for _, e := range es {
		bw.Write(e.id[:])
	}
	for _, e := range es {
		bw.Write(binary.BigEndian.AppendUint32(b[:0], e.crc))
	}
	var large []byte
	for _, e := range es {
		o := uint32(e.off)
		if e.off >= 1<<31 {
			o = 1<<31 | uint32(len(large)/8)
			large = binary.BigEndian.AppendUint64(large, uint64(e.off))
		}
		bw.Write(binary.BigEndian.AppendUint32(b[:0], o))
	}
	bw.Write(large)
	bw.Write(packSum[:])
	if err := bw.Flush(); err != nil {
		return err
	}
	_, err := f.Write(h.Sum(nil))
	return err
}

// Abort removes the temporary pack file; after finish it does nothing.
func (w *PackWriter) Abort() {
	if w.f != nil {
		w.f.Close()
		os.Remove(w.f.Name())
	}
}

// packReader reads objects from the packs of one objects directory with
// plain positioned reads: each .idx is read in chunks through a bounded
// cache (idxread.go), each .pack stays open, and a small cache of recently
// resolved objects serves delta bases, which in a ledger are the trees read
// just before. Memory is those two caches, whatever the ledger's length.
type packReader struct {
	dir    string // objects/pack
	packs  []*packIndex
	loaded map[string]bool
	cache  objectCache
	br     packCursor
	win    bytes.Reader // the part of br's window an object is inflated from
	idx    idxCache
	zr     io.ReadCloser
	fast   inflater
	delta  []byte // at's buffer for a delta being applied (not shared)
}

// maxDeltaBuffer bounds the delta buffer a packReader keeps.
const maxDeltaBuffer = 1 << 20

// packIndex is one version 2 pack index (read through an idxCache) and its
// open pack.
type packIndex struct {
	name     string
	idx      *os.File
	pack     *os.File
	fanout   [256]uint32
	n        int
	namesAt  int64 // file offsets of the tables
	off32At  int64
	off64At  int64
	off64Len int64
	// slots[0] (names) and slots[1] (offsets) give for each chunk of the
	// index 1 + its slot in the reader's idxCache, or 0 (idxread.go).
	slots [2][]int32
}

// load opens the packs not loaded yet; it reports whether there were any.
func (r *packReader) load() (bool, error) {
	idxs, err := filepath.Glob(filepath.Join(r.dir, "pack-*.idx"))
	if err != nil {
		return false, err
	}
	if r.loaded == nil {
		r.loaded = map[string]bool{}
	}
	added := false
	for _, idx := range idxs {
		if r.loaded[idx] {
			continue
		}
		p, err := openPackIndex(idx)
		if errors.Is(err, os.ErrNotExist) {
			continue // removed meanwhile (git gc)
		}
		if err != nil {
			return added, err
		}
		r.loaded[idx] = true
		r.packs = append(r.packs, p)
		added = true
	}
	return added, nil
}

func openPackIndex(idxPath string) (*packIndex, error) {
	f, b, size, err := openIdx(idxPath)
	if err != nil {
		return nil, err
	}
	bad := func(why string) error {
		f.Close()
		return fmt.Errorf("pack index %s: %s", filepath.Base(idxPath), why)
	}
	const head = 8 + 256*4
	if size < head+40 || len(b) < head || !bytes.Equal(b[:4], idxMagic) || binary.BigEndian.Uint32(b[4:8]) != idxVersion {
		return nil, bad("not a version 2 pack index")
	}
	p := &packIndex{name: idxPath, idx: f}
	for i := range p.fanout {
		p.fanout[i] = binary.BigEndian.Uint32(b[8+4*i:])
		if i > 0 && p.fanout[i] < p.fanout[i-1] {
			return nil, bad("fanout not sorted")
		}
	}
	p.n = int(p.fanout[255])
	rest := size - head
	if rest < int64(p.n)*28+40 {
		return nil, bad("truncated")
	}
	// Lookups read the file in chunks (idxread.go): opening a large
	// ledger's index costs no copy (the hook starts in the same time on 1k
	// and 100k), and memory stays flat.
	p.namesAt = head
	p.off32At = head + 24*int64(p.n)
	p.off64At = head + 28*int64(p.n)
	p.off64Len = size - 40 - p.off64At
	if p.off64Len%8 != 0 {
		return nil, bad("bad large offset table")
	}
	if p.pack, err = os.Open(strings.TrimSuffix(idxPath, ".idx") + ".pack"); err != nil {
		f.Close()
		return nil, err
	}
	return p, nil
}

// Get returns the type and content of id if it is in a pack.
//
// limit bounds the object's size (checked before inflating); depth counts
// the deltas already followed to reach it, so that a chain of REF_DELTAs is
// bounded like a chain of OFS_DELTAs.
func (r *packReader) Get(id plumbing.Hash, limit int64, depth int) (plumbing.ObjectType, []byte, bool, error) {
	p, typ, b, found, err := r.get(id, limit, depth)
	if err != nil {
		return 0, nil, true, fmt.Errorf("%s: %w", filepath.Base(p.pack.Name()), err)
	}
	return typ, b, found, nil
}

// get is Get without the pack's name in the error, for REF_DELTA bases:
// a chain names its pack once, not once a delta.
func (r *packReader) get(id plumbing.Hash, limit int64, depth int) (*packIndex, plumbing.ObjectType, []byte, bool, error) {
	for _, p := range r.packs {
		if off := r.idx.find(p, id); off >= 0 {
			typ, b, err := r.at(p, off, depth, limit)
			return p, typ, b, true, err
		}
	}
	return nil, 0, nil, false, nil
}

// at reads and resolves the object at off in p.
func (r *packReader) at(p *packIndex, off int64, depth int, limit int64) (plumbing.ObjectType, []byte, error) {
	if e, ok := r.cache.get(p, off); ok {
		if int64(len(e.data)) > limit {
			return 0, nil, &TooLargeError{Size: int64(len(e.data)), Limit: limit}
		}
		return e.typ, e.data, nil
	}
	if depth > maxReadDeltaDepth {
		return 0, nil, fmt.Errorf("object at %d: delta chain longer than %d", off, maxReadDeltaDepth)
	}
	r.br.seek(p.pack, off)
	c, err := r.br.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	typ := int(c>>4) & 7
	size := int64(c & 0x0f)
	for shift := 4; c&0x80 != 0; shift += 7 {
		if c, err = r.br.ReadByte(); err != nil {
			return 0, nil, err
		}
		if shift > 56 {
			return 0, nil, errors.New("object size overflows")
		}
		size |= int64(c&0x7f) << shift
	}
	var baseOff int64 = -1
	var baseID plumbing.Hash
	switch typ {
	case packOFSDelta:
		if c, err = r.br.ReadByte(); err != nil {
			return 0, nil, err
		}
		dist := int64(c & 0x7f)
		for c&0x80 != 0 {
			if c, err = r.br.ReadByte(); err != nil {
				return 0, nil, err
			}
			if dist > 1<<55 {
				return 0, nil, errors.New("delta offset overflows")
			}
			dist = (dist+1)<<7 | int64(c&0x7f)
		}
		if baseOff = off - dist; dist <= 0 || baseOff < 12 {
			return 0, nil, fmt.Errorf("object at %d: bad delta base offset", off)
		}
	case packREFDelta:
		if _, err := io.ReadFull(&r.br, baseID[:]); err != nil {
			return 0, nil, err
		}
	case int(plumbing.CommitObject), int(plumbing.TreeObject), int(plumbing.BlobObject), int(plumbing.TagObject):
	default:
		return 0, nil, fmt.Errorf("object at %d: unknown pack object type %d", off, typ)
	}
	isDelta := typ == packOFSDelta || typ == packREFDelta
	switch {
	case size > maxObjectSize:
		return 0, nil, fmt.Errorf("object at %d: %d bytes is too large for a ledger", off, size)
	case !isDelta && size > limit:
		return 0, nil, &TooLargeError{Size: size, Limit: limit}
	case isDelta && size > 2*limit+64:
		// A delta is at most about its target's size plus its opcodes.
		return 0, nil, &TooLargeError{Size: size, Limit: limit}
	}
	var data []byte
	if isDelta {
		// A delta is only read to apply it: into a buffer kept for the next.
		if int64(cap(r.delta)) < size {
			r.delta = make([]byte, max(size, 4096))
		}
		data = r.delta[:size]
	} else {
		data = make([]byte, size)
	}
	if err := r.inflate(data); err != nil {
		return 0, nil, fmt.Errorf("object at %d: %w", off, err)
	}
	objType := plumbing.ObjectType(typ)
	if typ == packOFSDelta || typ == packREFDelta {
		var base []byte
		// Git deltas an object only against one of similar size (at most
		// 32 times larger): bound the base accordingly.
		baseLimit := min(32*limit, maxObjectSize)
		if tgt := deltaTarget(data); tgt > limit {
			return 0, nil, &TooLargeError{Size: tgt, Limit: limit}
		}
		// Resolving the base may read other deltas into r.delta: keep
		// this one aside meanwhile (a base is mostly in the cache).
		r.delta = nil
		if typ == packOFSDelta {
			objType, base, err = r.at(p, baseOff, depth+1, baseLimit)
		} else {
			var found bool
			_, objType, base, found, err = r.get(baseID, baseLimit, depth+1)
			if err == nil && !found {
				err = fmt.Errorf("delta base %s not in a pack", baseID)
			}
		}
		if err != nil {
			return 0, nil, err
		}
		delta := data
		if data, err = applyDelta(base, delta); err != nil {
			return 0, nil, fmt.Errorf("object at %d: %w", off, err)
		}
		if cap(delta) > cap(r.delta) && cap(delta) <= maxDeltaBuffer {
			r.delta = delta
		}
	}
	r.cache.put(p, off, objType, data)
	return objType, data, nil
}

// inflate fills data with the zlib stream at the reader's position.
//
// The stream is decoded from the cursor's window in place when it fits
// there (a bytes.Reader, which klauspost/compress's inflater reads without
// an interface call a byte; ledger objects are a few hundred bytes), and
// through the cursor otherwise.
func (r *packReader) inflate(data []byte) error {
	return r.inflatePart(data, true)
}

// inflatePart is inflate; with whole false it reads only the first
// len(data) bytes of the object. The fast path (inflate.go) decodes from
// the window when it can; anything it refuses is read by the general
// inflater, which gives the errors.
func (r *packReader) inflatePart(data []byte, whole bool) error {
	start := r.br.next
	if r.br.window(int64(len(data)) + inflateSlack) {
		if r.fast.inflateInto(data, r.br.buf[r.br.next-r.br.base:], whole) {
			return nil
		}
		r.win.Reset(r.br.buf[r.br.next-r.br.base:])
		if err := r.inflateFrom(&r.win, data); err == nil {
			return nil
		}
		r.br.next = start // ran past the window, or is broken: say so from the stream
	}
	return r.inflateFrom(&r.br, data)
}

// inflateSlack is how many bytes past an object's size its zlib stream is
// expected to need at most (header, block headers, checksum).
const inflateSlack = 256

func (r *packReader) inflateFrom(src io.Reader, data []byte) error {
	var err error
	if r.zr == nil {
		r.zr, err = kzlib.NewReader(src)
	} else {
		err = r.zr.(kzlib.Resetter).Reset(src, nil)
	}
	if err != nil {
		return err
	}
	if _, err := io.ReadFull(r.zr, data); err != nil {
		return err
	}
	return nil
}

// packWindow is how much of a pack packCursor reads at a time.
const packWindow = 64 << 10

// packCursor reads a pack file from a position through a window that it
// keeps from one object to the next: a ledger's objects are read in about
// the order they were written (forward when verifying, backward when
// walking the chain), so most objects need no system call. It is an
// io.ByteReader, which the zlib reader needs so as not to read past the
// end of a stream.
type packCursor struct {
	f    *os.File
	buf  []byte // the window: the file's bytes from base on
	base int64
	next int64 // file offset of the next byte to read
}

// seek makes the cursor read f from off on.
func (c *packCursor) seek(f *os.File, off int64) {
	if f != c.f {
		c.f, c.buf, c.base = f, c.buf[:0], 0
	}
	c.next = off
}

// fill reads a window holding c.next: starting there, or, when reading
// backward, ending a little past it.
func (c *packCursor) fill() error {
	if c.buf == nil {
		c.buf = make([]byte, packWindow)
	}
	start := c.next
	if c.next < c.base {
		start = max(c.next-packWindow+4096, 0)
	}
	n, err := c.f.ReadAt(c.buf[:cap(c.buf)], start)
	c.buf, c.base = c.buf[:n], start
	if c.next < c.base+int64(n) {
		return nil
	}
	if err == nil {
		err = io.EOF
	}
	return err
}

// window makes the window hold n bytes from the position on (fewer at the
// end of the file) and reports whether it does.
func (c *packCursor) window(n int64) bool {
	n = min(n, packWindow)
	if c.next >= c.base && c.next+n <= c.base+int64(len(c.buf)) {
		return true
	}
	if c.buf == nil {
		c.buf = make([]byte, packWindow)
	}
	m, err := c.f.ReadAt(c.buf[:cap(c.buf)], c.next)
	c.buf, c.base = c.buf[:m], c.next
	return int64(m) >= n || (err == io.EOF && m > 0)
}

func (c *packCursor) ReadByte() (byte, error) {
	if c.next < c.base || c.next >= c.base+int64(len(c.buf)) {
		if err := c.fill(); err != nil {
			return 0, err
		}
	}
	b := c.buf[c.next-c.base]
	c.next++
	return b, nil
}

func (c *packCursor) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if c.next < c.base || c.next >= c.base+int64(len(c.buf)) {
		if err := c.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, c.buf[c.next-c.base:])
	c.next += int64(n)
	return n, nil
}

// Pack object types and limits of the reader.
const (
	packREFDelta  = 7
	maxObjectSize = 1 << 30
)

// deltaTarget reads the target size from a delta's header.
func deltaTarget(delta []byte) int64 {
	_, n := binary.Uvarint(delta)
	if n <= 0 {
		return -1
	}
	t, m := binary.Uvarint(delta[n:])
	if m <= 0 || t > maxObjectSize {
		return maxObjectSize + 1
	}
	return int64(t)
}

// errBadDelta is applyDelta's error.
var errBadDelta = errors.New("malformed delta")

// applyDelta applies a git delta to base.
func applyDelta(base, delta []byte) ([]byte, error) {
	errBad := errBadDelta
	srcSize, n := binary.Uvarint(delta)
	if n <= 0 || srcSize != uint64(len(base)) {
		return nil, errBad
	}
	delta = delta[n:]
	dstSize, n := binary.Uvarint(delta)
	if n <= 0 || dstSize > maxObjectSize {
		return nil, errBad
	}
	delta = delta[n:]
	out := make([]byte, 0, dstSize)
	for len(delta) > 0 {
		op := delta[0]
		delta = delta[1:]
		switch {
		case op&0x80 != 0:
			var off, size uint64
			for i := 0; i < 4; i++ {
				if op&(1<<i) != 0 {
					if len(delta) == 0 {
						return nil, errBad
					}
					off |= uint64(delta[0]) << (8 * i)
					delta = delta[1:]
				}
			}
			for i := 0; i < 3; i++ {
				if op&(0x10<<i) != 0 {
					if len(delta) == 0 {
						return nil, errBad
					}
					size |= uint64(delta[0]) << (8 * i)
					delta = delta[1:]
				}
			}
			if size == 0 {
				size = 0x10000
			}
			if off+size > uint64(len(base)) || uint64(len(out))+size > dstSize {
				return nil, errBad
			}
			out = append(out, base[off:off+size]...)
		case op != 0:
			if int(op) > len(delta) || uint64(len(out))+uint64(op) > dstSize {
				return nil, errBad
			}
			out = append(out, delta[:op]...)
			delta = delta[op:]
		default:
			return nil, errBad
		}
	}
	if uint64(len(out)) != dstSize {
		return nil, errBad
	}
	return out, nil
}

// close closes the open packs.
func (r *packReader) close() {
	for _, p := range r.packs {
		p.pack.Close()
		p.idx.Close()
	}
	r.idx = idxCache{}
	r.packs, r.loaded = nil, nil
}

// objectCache keeps the last few objects read from packs, by position, for
// delta bases. Its entries are shared: callers must not modify them.
type objectCache struct {
	entries [cacheEntries]cacheEntry
	next    int
	bytes   int
}

const (
	cacheEntries = 64
	cacheBytes   = 16 << 20
)

type cacheEntry struct {
	pack *packIndex
	off  int64
	typ  plumbing.ObjectType
	data []byte
}

func (c *objectCache) get(p *packIndex, off int64) (*cacheEntry, bool) {
	for i := range c.entries {
		if e := &c.entries[i]; e.pack == p && e.off == off {
			return e, true
		}
	}
	return nil, false
}

// Put adds an entry in place of the oldest one (and of more if the cache
// holds too many bytes).
func (c *objectCache) put(p *packIndex, off int64, typ plumbing.ObjectType, data []byte) {
	if len(data) > cacheBytes/4 {
		return
	}
	for {
		e := &c.entries[c.next]
		c.bytes -= len(e.data)
		*e = cacheEntry{}
		if c.bytes+len(data) <= cacheBytes {
			break
		}
		c.next = (c.next + 1) % cacheEntries
	}
	c.entries[c.next] = cacheEntry{pack: p, off: off, typ: typ, data: data[:len(data):len(data)]}
	c.bytes += len(data)
	c.next = (c.next + 1) % cacheEntries
}
