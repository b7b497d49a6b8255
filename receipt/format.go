package receipt

import (
	"strconv"
	"sync"

	"github.com/vmc-git/vmc-git/internal/digest"
)

// Ledger formats: where receipts live in the ledger tree, named by HEAD.json's
// v (a receipt's own v stays Version). A ledger keeps the format of its
// genesis commit's HEAD.json for every commit.
//
//	1  receipts/AAA/BBB/NNNNNNNNN.json    AAA = seq/1e6, BBB = (seq/1e3)%1000
//	2  receipts/AAA/BB/CC/D/NNNNNNNNN.json
//	                                      AAA = seq/1e6, BB = (seq/1e4)%100,
//	                                      CC = (seq/100)%100, D = (seq/10)%10
//
// N is seq zero-padded to 9 digits in both, and the signature is the same
// path plus SigSuffix. In format 1 each commit rewrites a directory of up to
// 2,000 entries (BBB); in format 2 no directory a commit rewrites holds more
// than 100 entries below receipts/ (a leaf D holds 10 receipts, 20 entries),
// so a clone hashes about 15 times fewer tree bytes. In format 2 the path is
// the receipt number's digits in order: receipt 123456789 is
// receipts/123/45/67/8/123456789.json.
const (
	Format1       = 1
	Format2       = 2
	DefaultFormat = Format2
)

// PathIn returns the path of receipt seq in a ledger of the given format
// (Format1 or Format2).
func PathIn(format int, seq uint64) string {
	if format == Format2 {
		// receipts/%03d/%02d/%02d/%d/%09d.json, without fmt (once a receipt
		// when verifying).
		b := make([]byte, 0, 48)
		b = append(b, "receipts/"...)
		b = append(zeroPad(b, seq/1_000_000, 3), '/')
		b = append(zeroPad(b, (seq/10_000)%100, 2), '/')
		b = append(zeroPad(b, (seq/100)%100, 2), '/')
		b = append(zeroPad(b, (seq/10)%10, 1), '/')
		return string(append(zeroPad(b, seq, 9), ".json"...))
	}
	return Path(seq)
}

// zeroPad appends v in decimal, padded with zeros to width digits: fmt's
// %0<width>d for an unsigned value.
func zeroPad(b []byte, v uint64, width int) []byte {
	var d [20]byte
	n := strconv.AppendUint(d[:0], v, 10)
	for i := len(n); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, n...)
}

func padded(v uint64, width int) string {
	if width >= 1 && width <= 3 && v < pow10[width] {
		// A slice of the table of every width-digit string: no allocation
		// for the directory names verify computes twice a receipt.
		all := paddedAll()[width]
		return all[int(v)*width : int(v+1)*width]
	}
	return string(zeroPad(nil, v, width))
}

var pow10 = [4]uint64{1, 10, 100, 1000}

// paddedAll returns, for widths 1 to 3, the strings 0 to 10^width-1
// zero-padded to width, one after another.
var paddedAll = sync.OnceValue(func() (all [4]string) {
	for w := 1; w <= 3; w++ {
		b := make([]byte, 0, w*int(pow10[w]))
		for v := uint64(0); v < pow10[w]; v++ {
			b = zeroPad(b, v, w)
		}
		all[w] = string(b)
	}
	return all
})

// FileName returns the name of receipt seq's file in its directory (in
// every format): seq zero-padded to 9 digits, then ".json".
func FileName(seq uint64) string {
	var buf [32]byte
	return string(append(zeroPad(buf[:0], seq, 9), ".json"...))
}

// Dirs returns the directory names between receipts/ and receipt seq's file
// in a ledger of the given format, and the file name.
func Dirs(format int, seq uint64) (dirs []string, name string) {
	name = FileName(seq)
	if format == Format2 {
		return []string{padded(seq/1_000_000, 3), padded((seq/10_000)%100, 2), padded((seq/100)%100, 2), padded((seq/10)%10, 1)}, name
	}
	return []string{padded(seq/1_000_000, 3), padded((seq/1000)%1000, 3)}, name
}

// ValidFormat reports whether f is a ledger format this package knows.
func ValidFormat(f int) bool { return f == Format1 || f == Format2 }

// HeadIn is HeadOfSums for a ledger of the given format: v is the format
// and path the receipt's path in it.
func HeadIn(format int, r *Receipt, s digest.Sums) Head {
	h := HeadOfSums(r, s)
	h.V, h.Path = format, PathIn(format, r.Seq)
	return h
}
