package gitobj

// A fast path for inflating the small zlib streams of a ledger's objects.
//
// A ledger object is a few hundred bytes, so the cost of a general inflater
// is its per-stream setup (a 32 KiB window, copies out of it, decoding a
// whole block when only the first bytes are wanted) more than the bytes.
// inflateInto decodes one zlib stream (RFC 1950, deflate of RFC 1951)
// straight into a buffer of the object's size, which the pack header gives:
// back-references can only point into the output, since a git object's
// stream has no preset dictionary.
//
// It is strictly a fast path: it accepts only a stream it fully understands
// and refuses (ok false) everything else, and the caller then reads the
// stream with the general inflater, whose acceptance and error messages are
// unchanged. Reading a whole object, it accepts only a stream that is
// complete and exact: the final block ends after exactly len(dst) bytes and
// the Adler-32 checksum matches, so any stream it accepts the general
// inflater accepts with the same bytes. Reading a prefix, it stops once dst
// is full. Every read of the input and write of the output is bounds
// checked; a stream's work is bounded by its input and output sizes.

import (
	"encoding/binary"
	"hash/adler32"
	"math/bits"
	"sync"
)

// Deflate's alphabets and limits (RFC 1951 3.2.5-3.2.7).
const (
	inflMaxBits  = 15  // longest code
	inflNumLit   = 288 // literal/length symbols, 286 and 287 unused
	inflNumDist  = 32  // distance symbols, 30 and 31 unused
	inflNumCL    = 19  // code length symbols
	inflTabBits  = 9   // bits a table lookup decodes; longer codes are decoded bit by bit
	inflEndBlock = 256
)

var (
	inflLenBase  = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	inflLenExtra = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	inflDstBase  = [30]uint16{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	inflDstExtra = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
	inflCLOrder  = [inflNumCL]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}
)

// huffTable decodes one canonical Huffman code: a table of the next
// inflTabBits input bits (entry: symbol<<4 | code length, 0 for a longer
// code or none), and the counts and symbols in canonical order for codes
// longer than the table.
type huffTable struct {
	tab    [1 << inflTabBits]uint16
	mask   uint64 // the table has mask+1 entries: 1<<min(longest code, inflTabBits)
	count  [inflMaxBits + 1]uint16
	symbol [inflNumLit]uint16
	long   bool // some code is longer than inflTabBits
}

// build makes the code of the given code lengths. It refuses an
// over-subscribed code and an incomplete one, except a code of one symbol
// of length 1 (which zlib writes and accepts; the other code is invalid).
func (h *huffTable) build(lengths []uint8) bool {
	h.count = [inflMaxBits + 1]uint16{}
	for _, n := range lengths {
		h.count[n]++
	}
	h.count[0] = 0
	left := 1
	for n := 1; n <= inflMaxBits; n++ {
		left = left<<1 - int(h.count[n])
		if left < 0 {
			return false
		}
	}
	if left > 0 {
		one := h.count[1] == 1
		for n := 2; n <= inflMaxBits && one; n++ {
			one = h.count[n] == 0
		}
		if !one {
			return false
		}
	}
	// The table decodes min(longest code, inflTabBits) bits: a small
	// code (code lengths, distances in a small object) fills a small table.
	longest := 1
	for n := 1; n <= inflMaxBits; n++ {
		if h.count[n] != 0 {
			longest = n
		}
	}
	size := 1 << min(longest, inflTabBits)
	h.mask = uint64(size - 1)
	clear(h.tab[:size])
	h.long = longest > inflTabBits
	// Canonical codes (RFC 1951 3.2.2): next[n] is the code of the next
	// symbol of length n. The table is indexed by the bit-reversed code
	// (deflate sends codes MSB first).
	var next [inflMaxBits + 1]int
	for n, code := 1, 0; n <= inflMaxBits; n++ {
		code = (code + int(h.count[n-1])) << 1
		next[n] = code
	}
	for sym, n := range lengths {
		if n == 0 || int(n) > inflTabBits {
			continue
		}
		e := uint16(sym)<<4 | uint16(n)
		for r := int(bits.Reverse16(uint16(next[n])) >> (16 - n)); r < size; r += 1 << n {
			h.tab[r] = e
		}
		next[n]++
	}
	if h.long {
		// The symbols in canonical order, for sym's bit-by-bit decoding.
		var offs [inflMaxBits + 2]uint16
		for n := 1; n <= inflMaxBits; n++ {
			offs[n+1] = offs[n] + h.count[n]
		}
		for sym, n := range lengths {
			if n != 0 {
				h.symbol[offs[n]] = uint16(sym)
				offs[n]++
			}
		}
	}
	return true
}

// bitReader reads deflate's LSB-first bit stream from a byte slice.
type bitReader struct {
	src  []byte
	pos  int
	bits uint64
	n    uint // bits held
}

// fill holds at least 56 bits, or all that is left of the input.
func (b *bitReader) fill() {
	if b.n < 56 && b.pos+8 <= len(b.src) {
		b.bits |= binary.LittleEndian.Uint64(b.src[b.pos:]) << b.n
		used := (63 - b.n) / 8
		b.pos += int(used)
		b.n += used * 8
		return
	}
	for b.n <= 56 && b.pos < len(b.src) {
		b.bits |= uint64(b.src[b.pos]) << b.n
		b.pos++
		b.n += 8
	}
}

// take returns the next k (<= 32) bits; ok false past the end of the input.
func (b *bitReader) take(k uint) (uint32, bool) {
	if b.n < k {
		b.fill()
		if b.n < k {
			return 0, false
		}
	}
	v := uint32(b.bits & (1<<k - 1))
	b.bits >>= k
	b.n -= k
	return v, true
}

// sym decodes one symbol of h, or returns -1.
func (b *bitReader) sym(h *huffTable) int {
	if b.n < inflMaxBits {
		b.fill()
	}
	if e := h.tab[b.bits&h.mask]; e != 0 {
		n := uint(e & 15)
		if n > b.n {
			return -1
		}
		b.bits >>= n
		b.n -= n
		return int(e >> 4)
	}
	if !h.long {
		return -1
	}
	// Bit by bit, in canonical order (RFC 1951 3.2.2).
	code, first, index := 0, 0, 0
	for n := uint(1); n <= inflMaxBits && n <= b.n; n++ {
		code |= int(b.bits>>(n-1)) & 1
		count := int(h.count[n])
		if code-first < count {
			b.bits >>= n
			b.n -= n
			return int(h.symbol[index+code-first])
		}
		index += count
		first = (first + count) << 1
		code <<= 1
	}
	return -1
}

// inflater holds the decoding tables, reused from one stream to the next.
type inflater struct {
	lit, dist, cl huffTable
	lengths       [inflNumLit + inflNumDist]uint8
}

var (
	fixedOnce sync.Once
	fixedLit  huffTable
	fixedDist huffTable
)

func fixedTables() (*huffTable, *huffTable) {
	fixedOnce.Do(func() {
		var l [inflNumLit]uint8
		for i := range l {
			switch {
			case i < 144:
				l[i] = 8
			case i < 256:
				l[i] = 9
			case i < 280:
				l[i] = 7
			default:
				l[i] = 8
			}
		}
		fixedLit.build(l[:])
		var d [inflNumDist]uint8
		for i := range d {
			d[i] = 5
		}
		fixedDist.build(d[:])
	})
	return &fixedLit, &fixedDist
}

// inflateInto decodes the zlib stream at the start of src into dst. With
// whole set the stream must hold exactly len(dst) bytes and end with a
// matching checksum; otherwise decoding stops once dst is full. ok false:
// use the general inflater.
func (f *inflater) inflateInto(dst, src []byte, whole bool) bool {
	if len(src) < 2 {
		return false
	}
	cmf, flg := src[0], src[1]
	if cmf&0x0f != 8 || cmf>>4 > 7 || (uint16(cmf)<<8|uint16(flg))%31 != 0 || flg&0x20 != 0 {
		return false
	}
	b := bitReader{src: src, pos: 2}
	out := 0
	for {
		hdr, ok := b.take(3)
		if !ok {
			return false
		}
		final := hdr&1 != 0
		switch hdr >> 1 {
		case 0: // stored
			b.bits >>= b.n % 8
			b.n -= b.n % 8
			ln, ok1 := b.take(16)
			nln, ok2 := b.take(16)
			if !ok1 || !ok2 || uint16(ln) != ^uint16(nln) {
				return false
			}
			// Bytes still in the bit buffer come first.
			for ; ln > 0 && b.n >= 8; ln-- {
				if out == len(dst) {
					return !whole
				}
				dst[out] = byte(b.bits)
				b.bits >>= 8
				b.n -= 8
				out++
			}
			if ln == 0 {
				break
			}
			// The buffer is empty now, but may hold bits of bytes past
			// b.pos (fill reads ahead), which the copy moves b.pos past.
			b.bits, b.n = 0, 0
			if int(ln) > len(b.src)-b.pos {
				return false
			}
			n := copy(dst[out:], b.src[b.pos:b.pos+int(ln)])
			out += n
			b.pos += n
			if n < int(ln) {
				return !whole
			}
		case 1:
			lit, dist := fixedTables()
			if !f.codes(&b, dst, &out, lit, dist) {
				return !whole && out == len(dst)
			}
		case 2:
			if !f.dynamic(&b) {
				return false
			}
			if !f.codes(&b, dst, &out, &f.lit, &f.dist) {
				return !whole && out == len(dst)
			}
		default:
			return false
		}
		if !whole && out == len(dst) {
			return true
		}
		if final {
			break
		}
	}
	if out != len(dst) {
		return false
	}
	// The Adler-32 of the data, big endian, from the next byte boundary.
	b.bits >>= b.n % 8
	b.n -= b.n % 8
	sum, ok := b.take(32)
	return ok && bits.ReverseBytes32(sum) == adler32.Checksum(dst)
}

// dynamic reads a dynamic block's code definitions into f.lit and f.dist.
func (f *inflater) dynamic(b *bitReader) bool {
	v, ok := b.take(14)
	if !ok {
		return false
	}
	nlit, ndist, ncl := int(v&31)+257, int(v>>5&31)+1, int(v>>10)+4
	if nlit > 286 || ndist > 30 {
		return false
	}
	var cl [inflNumCL]uint8
	for i := 0; i < ncl; i++ {
		n, ok := b.take(3)
		if !ok {
			return false
		}
		cl[inflCLOrder[i]] = uint8(n)
	}
	if !f.cl.build(cl[:]) {
		return false
	}
	lengths := f.lengths[:nlit+ndist]
	for i := 0; i < len(lengths); {
		s := b.sym(&f.cl)
		if s < 0 {
			return false
		}
		if s < 16 {
			lengths[i] = uint8(s)
			i++
			continue
		}
		var rep uint32
		var val uint8
		switch s {
		case 16:
			if i == 0 {
				return false
			}
			val = lengths[i-1]
			r, ok := b.take(2)
			rep = 3 + r
			if !ok {
				return false
			}
		case 17:
			r, ok := b.take(3)
			rep = 3 + r
			if !ok {
				return false
			}
		default:
			r, ok := b.take(7)
			rep = 11 + r
			if !ok {
				return false
			}
		}
		if i+int(rep) > len(lengths) {
			return false
		}
		for ; rep > 0; rep-- {
			lengths[i] = val
			i++
		}
	}
	if lengths[inflEndBlock] == 0 {
		return false
	}
	return f.lit.build(lengths[:nlit]) && f.dist.build(lengths[nlit:])
}

// codes decodes a compressed block's symbols into dst from *out on. It
// returns true at the block's end, false on anything else (including dst
// full with more to come). The bit buffer is kept in locals (the hot loop
// of the fast path); a code longer than the tables goes through b.sym.
func (f *inflater) codes(b *bitReader, dst []byte, out *int, lit, dist *huffTable) bool {
	o := *out
	bb, n, pos, src := b.bits, b.n, b.pos, b.src
	ok := false
loop:
	for {
		// A length and distance pair takes at most 15+5+15+13 = 48 bits.
		if n < 48 {
			if pos+8 <= len(src) {
				bb |= binary.LittleEndian.Uint64(src[pos:]) << n
				used := (63 - n) / 8
				pos += int(used)
				n += used * 8
			} else {
				for n <= 56 && pos < len(src) {
					bb |= uint64(src[pos]) << n
					pos++
					n += 8
				}
			}
		}
		var s int
		if e := lit.tab[bb&lit.mask]; e != 0 && uint(e&15) <= n {
			k := uint(e & 15)
			bb >>= k
			n -= k
			s = int(e >> 4)
		} else {
			b.bits, b.n, b.pos = bb, n, pos
			s = b.sym(lit)
			bb, n, pos = b.bits, b.n, b.pos
		}
		switch {
		case s < 0:
			break loop
		case s < inflEndBlock:
			if o == len(dst) {
				break loop
			}
			dst[o] = byte(s)
			o++
			continue
		case s == inflEndBlock:
			ok = true
			break loop
		case s > 285:
			break loop
		}
		s -= 257
		k := uint(inflLenExtra[s])
		if k > n {
			break loop
		}
		ln := int(inflLenBase[s]) + int(bb&(1<<k-1))
		bb >>= k
		n -= k
		var d int
		if e := dist.tab[bb&dist.mask]; e != 0 && uint(e&15) <= n {
			k := uint(e & 15)
			bb >>= k
			n -= k
			d = int(e >> 4)
		} else {
			b.bits, b.n, b.pos = bb, n, pos
			d = b.sym(dist)
			bb, n, pos = b.bits, b.n, b.pos
		}
		if d < 0 || d >= 30 {
			break loop
		}
		k = uint(inflDstExtra[d])
		if k > n {
			break loop
		}
		back := int(inflDstBase[d]) + int(bb&(1<<k-1))
		bb >>= k
		n -= k
		if back > o {
			break loop
		}
		if ln > len(dst)-o {
			// Fill what fits (a prefix read stops here).
			for ; o < len(dst); o++ {
				dst[o] = dst[o-back]
			}
			break loop
		}
		if back >= ln {
			copy(dst[o:o+ln], dst[o-back:])
			o += ln
		} else {
			for end := o + ln; o < end; o++ {
				dst[o] = dst[o-back]
			}
		}
	}
	b.bits, b.n, b.pos, *out = bb, n, pos, o
	return ok
}
