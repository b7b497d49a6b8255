package gitobj

import (
	"bytes"
	"compress/zlib"
	"io"
	"math/rand"
	"strings"
	"testing"

	kzlib "github.com/klauspost/compress/zlib"
)

// zlibLevels are the writers' levels the fast path must read: stored,
// Huffman only, git's BestSpeed (dynamic blocks) and the default (fixed
// blocks for small objects).
var zlibLevels = []int{zlib.NoCompression, zlib.HuffmanOnly, zlib.BestSpeed, zlib.DefaultCompression, zlib.BestCompression}

// writers are reused (a deflate writer allocates about 1 MB).
var writers = map[[2]int]interface {
	io.WriteCloser
	Reset(io.Writer)
}{}

func deflate(t testing.TB, data []byte, level int, klaus bool) []byte {
	var b bytes.Buffer
	k := [2]int{level, 0}
	if klaus {
		k[1] = 1
	}
	w, ok := writers[k]
	if ok {
		w.Reset(&b)
	} else {
		var err error
		if klaus {
			w, err = kzlib.NewWriterLevel(&b, level)
		} else {
			w, err = zlib.NewWriterLevel(&b, level)
		}
		if err != nil {
			t.Fatal(err)
		}
		writers[k] = w
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// general is what the reader did before the fast path: the first n bytes of
// the stream through klauspost/compress.
func general(src []byte, n int) ([]byte, error) {
	zr, err := kzlib.NewReader(bytes.NewReader(src))
	if err != nil {
		return nil, err
	}
	out := make([]byte, n)
	if _, err := io.ReadFull(zr, out); err != nil {
		return nil, err
	}
	return out, nil
}

func inflateSamples() [][]byte {
	rnd := rand.New(rand.NewSource(1))
	random := make([]byte, 3000)
	rnd.Read(random)
	var text []byte
	for i := 0; i < 300; i++ {
		text = append(text, []byte(strings.Repeat("ab", rnd.Intn(5))+"receipt "+string(rune('a'+rnd.Intn(26))))...)
	}
	commit := []byte("tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nparent 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n" +
		"author vmc-git <alice> 1700000000 +0000\ncommitter vmc-git <alice> 1700000000 +0000\ngpgsig -----BEGIN SSH SIGNATURE-----\n " +
		strings.Repeat("U1NIU0lHAAAAAQAAADMAAAALc3NoLWVkMjU1MTkAAAAg", 8) + "\n -----END SSH SIGNATURE-----\n\nmanual: maintenance\n\nVmc-Blake3: 00\n")
	// Skewed: byte frequencies in a Fibonacci sequence, so that the rare
	// bytes get codes longer than the tables (decoded bit by bit).
	var skewed []byte
	for i, a, b := 0, 1, 1; i < 20; i, a, b = i+1, b, a+b {
		skewed = append(skewed, bytes.Repeat([]byte{'A' + byte(i)}, a)...)
	}
	rnd.Shuffle(len(skewed), func(i, j int) { skewed[i], skewed[j] = skewed[j], skewed[i] })
	return [][]byte{skewed, nil, {0}, []byte("x"), []byte(strings.Repeat("a", 70000)), random, text, commit, random[:200], append(text[:100:100], random[:300]...)}
}

// TestInflateInto: the fast path reads what the writers write, whole and
// as prefixes, with the bytes the general inflater gives.
func TestInflateInto(t *testing.T) {
	var f inflater
	if !f.inflateInto(make([]byte, len(inflateSamples()[0])), deflate(t, inflateSamples()[0], zlib.HuffmanOnly, false), true) || !f.lit.long {
		t.Fatal("the skewed sample does not exercise codes longer than the table")
	}
	for i, data := range inflateSamples() {
		for _, level := range zlibLevels {
			for _, klaus := range []bool{false, true} {
				z := deflate(t, data, level, klaus)
				dst := make([]byte, len(data))
				if !f.inflateInto(dst, z, true) || !bytes.Equal(dst, data) {
					t.Fatalf("sample %d level %d klauspost %v: whole read refused or wrong", i, level, klaus)
				}
				for _, n := range []int{0, 1, 96, len(data) / 2, len(data)} {
					if n > len(data) {
						continue
					}
					p := make([]byte, n)
					if !f.inflateInto(p, z, false) || !bytes.Equal(p, data[:n]) {
						t.Fatalf("sample %d level %d: prefix %d refused or wrong", i, level, n)
					}
				}
				// A size that is not the stream's, a bad checksum, a cut
				// stream: refused, for the general inflater to report.
				if len(data) > 0 && f.inflateInto(make([]byte, len(data)-1), z, true) {
					t.Fatalf("sample %d: accepted one byte short", i)
				}
				if f.inflateInto(make([]byte, len(data)+1), z, true) {
					t.Fatalf("sample %d: accepted one byte long", i)
				}
				bad := bytes.Clone(z)
				bad[len(bad)-1] ^= 1
				if f.inflateInto(make([]byte, len(data)), bad, true) {
					t.Fatalf("sample %d: accepted a bad checksum", i)
				}
				if f.inflateInto(make([]byte, len(data)), z[:len(z)-1], true) {
					t.Fatalf("sample %d: accepted a cut stream", i)
				}
			}
		}
	}
}

// checkSameAsGeneral is the fast path's contract on any input: what it
// accepts, the general inflater accepts with the same bytes.
func checkSameAsGeneral(t *testing.T, f *inflater, src []byte, n int) {
	dst := make([]byte, n)
	if f.inflateInto(dst, src, true) {
		want, err := general(src, n)
		if err != nil || !bytes.Equal(dst, want) {
			t.Fatalf("whole: fast path accepted %x (n=%d) as %q; general: %q, %v", src, n, dst, want, err)
		}
	}
	p := make([]byte, n)
	if f.inflateInto(p, src, false) {
		// The general inflater decodes a whole block before giving the
		// first bytes, so it may refuse a stream broken later on; where
		// it reads the prefix, the bytes agree.
		if want, err := general(src, n); err == nil && !bytes.Equal(p, want) {
			t.Fatalf("prefix: fast path read %x (n=%d) as %q; general: %q", src, n, p, want)
		}
	}
}

// FuzzInflate is a differential fuzz of the fast path against
// klauspost/compress: streams the writers make are read back exactly, and
// on arbitrary (and mutated) streams the fast path accepts nothing the
// general inflater would refuse or read differently.
func FuzzInflate(f *testing.F) {
	for _, s := range inflateSamples() {
		if len(s) < 4000 {
			f.Add(s, uint8(2), uint16(len(s)), uint16(0))
		}
	}
	f.Add(deflate(f, []byte("hello hello hello"), 1, false), uint8(255), uint16(17), uint16(0))
	f.Add(deflate(f, []byte("tree 0000\nparent 1111\n"), 6, false), uint8(255), uint16(23), uint16(40))
	var fl inflater
	f.Fuzz(func(t *testing.T, data []byte, level uint8, n uint16, flip uint16) {
		if len(data) > 8192 {
			return
		}
		if level < uint8(len(zlibLevels)) {
			z := deflate(t, data, zlibLevels[level], n&1 == 1)
			dst := make([]byte, len(data))
			if !fl.inflateInto(dst, z, true) || !bytes.Equal(dst, data) {
				t.Fatalf("level %d: stream of %q refused or read wrong", zlibLevels[level], data)
			}
			if len(z) > 0 {
				z[int(flip)%len(z)] ^= byte(1 << (flip >> 13))
			}
			checkSameAsGeneral(t, &fl, z, len(data))
			return
		}
		checkSameAsGeneral(t, &fl, data, int(n)%5000)
	})
}
