package gitobj

import (
	"bytes"
	"compress/zlib"
	"io"
	"testing"

	kzlib "github.com/klauspost/compress/zlib"
)

// BenchmarkInflateSmall compares the fast path with klauspost/compress on a
// commit-sized object written as the ledger writes it (BestSpeed).
func BenchmarkInflateSmall(b *testing.B) {
	data := inflateSamples()[6]
	z := deflate(b, data, zlib.BestSpeed, false)
	dst := make([]byte, len(data))
	b.Run("fast", func(b *testing.B) {
		var f inflater
		for i := 0; i < b.N; i++ {
			if !f.inflateInto(dst, z, true) {
				b.Fatal("refused")
			}
		}
	})
	b.Run("klauspost", func(b *testing.B) {
		var br bytes.Reader
		br.Reset(z)
		zr, _ := kzlib.NewReader(&br)
		for i := 0; i < b.N; i++ {
			br.Reset(z)
			zr.(kzlib.Resetter).Reset(&br, nil)
			io.ReadFull(zr, dst)
		}
	})
}
