package gitobj

import (
	"bytes"
	"encoding/binary"
	"os"

	"github.com/go-git/go-git/v5/plumbing"
)

// Reading a pack index without holding it.
//
// A version 2 .idx is 28 bytes an object plus a 1 KiB fanout; a ledger has
// ten objects a receipt, so a million receipts make a 280 MB index. It is
// not loaded or mapped whole: lookups read chunks of it (256 names, or
// 1024 offsets) with positioned reads into a cache of at most
// idxCacheBytes shared by the reader's packs, so memory stays flat in the
// ledger's length. A lookup interpolates within its fanout bucket (object
// ids are uniformly distributed) for a few steps before bisecting, so it
// touches two or three chunks even in a large index; a small index ends up
// wholly in the cache.

const (
	idxNamesPerChunk = 256
	idxOffsPerChunk  = 1024
	// idxCacheBytes bounds the cached chunks of all of a reader's indexes.
	idxCacheBytes = 8 << 20
	// idxInterpolations is how many interpolation steps a lookup takes
	// before bisecting (which bounds the probes of a hostile index).
	idxInterpolations = 6
)

type idxChunkKey struct {
	p     *packIndex
	off   bool // an offsets chunk, not a names chunk
	index int
}

// idxCache holds chunks of pack indexes, replaced first in, first out.
// Each index knows where its cached chunks are (packIndex.slots), so a
// lookup finds a chunk without hashing.
type idxCache struct {
	slots []idxChunkSlot
	next  int // the slot replaced next once all are used
	// last[off] is the slot of the names (offsets) chunk returned last:
	// a lookup's probes mostly land in the chunk of the one before.
	last [2]int
}

// idxCacheSlots is how many chunks the cache holds (5 KiB at most each; a
// variable for tests).
var idxCacheSlots = idxCacheBytes / (idxNamesPerChunk * 20)

type idxChunkSlot struct {
	key  idxChunkKey
	data []byte
}

// chunk returns chunk index of p's names (or offsets), or nil if it cannot
// be read.
func (c *idxCache) chunk(p *packIndex, off bool, index int) []byte {
	k := idxChunkKey{p, off, index}
	kind := 0
	per, size, base := idxNamesPerChunk, 20, p.namesAt
	if off {
		kind = 1
		per, size, base = idxOffsPerChunk, 4, p.off32At
	}
	if l := c.last[kind]; l < len(c.slots) && c.slots[l].key == k {
		return c.slots[l].data
	}
	first := index * per
	count := min(per, p.n-first)
	if index < 0 || count <= 0 {
		return nil
	}
	// p.slots[kind][index] is 1 + the slot holding the chunk, or 0.
	if p.slots[kind] == nil {
		p.slots[kind] = make([]int32, (p.n+per-1)/per)
	}
	if i := int(p.slots[kind][index]) - 1; i >= 0 && i < len(c.slots) && c.slots[i].key == k {
		c.last[kind] = i
		return c.slots[i].data
	}
	i := len(c.slots)
	var buf []byte
	if i < idxCacheSlots {
		c.slots = append(c.slots, idxChunkSlot{})
	} else {
		i = c.next
		c.next = (c.next + 1) % idxCacheSlots
		if old := c.slots[i].key; old.p != nil {
			old.p.slots[b2i(old.off)][old.index] = 0
		}
		buf = c.slots[i].data[:0]
		c.slots[i] = idxChunkSlot{}
	}
	if cap(buf) < count*size {
		buf = make([]byte, per*size)
	}
	buf = buf[:count*size]
	if _, err := p.idx.ReadAt(buf, base+int64(first*size)); err != nil {
		return nil
	}
	c.slots[i] = idxChunkSlot{k, buf}
	p.slots[kind][index] = int32(i + 1)
	c.last[kind] = i
	return buf
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// name returns the id at position m of p, or nil.
func (c *idxCache) name(p *packIndex, m int) []byte {
	ch := c.chunk(p, false, m/idxNamesPerChunk)
	if ch == nil {
		return nil
	}
	i := (m % idxNamesPerChunk) * 20
	return ch[i : i+20]
}

// find returns the offset of id in p, or -1.
func (c *idxCache) find(p *packIndex, id plumbing.Hash) int64 {
	lo, hi := 0, int(p.fanout[id[0]])
	if id[0] > 0 {
		lo = int(p.fanout[id[0]-1])
	}
	// The ids in [lo, hi) share their first byte; their next 8 bytes lie
	// in [kl, kh].
	key := binary.BigEndian.Uint64(id[1:9])
	kl, kh := uint64(0), ^uint64(0)
	for step := 0; lo < hi; step++ {
		m := lo + (hi-lo)/2
		if step < idxInterpolations && kh > kl && key >= kl && key <= kh {
			f := float64(key-kl) / float64(kh-kl)
			m = lo + min(int(f*float64(hi-lo)), hi-lo-1)
		}
		name := c.name(p, m)
		if name == nil {
			return -1
		}
		switch cmp := bytes.Compare(name, id[:]); {
		case cmp == 0:
			return c.offset(p, m)
		case cmp < 0:
			lo = m + 1
			kl = max(kl, binary.BigEndian.Uint64(name[1:9]))
		default:
			hi = m
			kh = min(kh, binary.BigEndian.Uint64(name[1:9]))
		}
	}
	return -1
}

// offset returns the pack offset of the object at position m of p, or -1.
func (c *idxCache) offset(p *packIndex, m int) int64 {
	ch := c.chunk(p, true, m/idxOffsPerChunk)
	if ch == nil {
		return -1
	}
	o := binary.BigEndian.Uint32(ch[(m%idxOffsPerChunk)*4:])
	if o&(1<<31) == 0 {
		return int64(o)
	}
	i := int64(o&^(1<<31)) * 8
	if i+8 > p.off64Len {
		return -1
	}
	var b [8]byte
	if _, err := p.idx.ReadAt(b[:], p.off64At+i); err != nil {
		return -1
	}
	return int64(binary.BigEndian.Uint64(b[:]))
}

// openIdx opens a version 2 index file and checks its header and size.
func openIdx(idxPath string) (*os.File, []byte, int64, error) {
	f, err := os.Open(idxPath)
	if err != nil {
		return nil, nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, 0, err
	}
	head := make([]byte, min(fi.Size(), 8+256*4))
	if _, err := f.ReadAt(head, 0); err != nil {
		f.Close()
		return nil, nil, 0, err
	}
	return f, head, fi.Size(), nil
}
