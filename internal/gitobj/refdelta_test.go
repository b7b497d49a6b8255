package gitobj

import (
	"bytes"
	"compress/zlib"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

// refDeltaPack hand-encodes a version 2 pack (git's pack-format.txt) whose
// objects are given in order: a full blob when base is the zero hash, else a
// REF_DELTA naming its base by SHA-1. It returns the pack bytes (with the
// SHA-1 trailer) and the offset and CRC-32 of each entry.
type refDeltaObj struct {
	base  plumbing.Hash // zero: a full blob
	bytes []byte        // the blob, or the delta against base
}

func refDeltaPack(t *testing.T, objs []refDeltaObj) ([]byte, []int64, []uint32) {
	t.Helper()
	pack := append([]byte(nil), packMagic...)
	pack = binary.BigEndian.AppendUint32(pack, packVersion)
	pack = binary.BigEndian.AppendUint32(pack, uint32(len(objs)))
	var offs []int64
	var crcs []uint32
	for _, o := range objs {
		start := len(pack)
		typ := int(plumbing.BlobObject)
		if !o.base.IsZero() {
			typ = packREFDelta
		}
		pack = appendPackHeader(pack, typ, len(o.bytes))
		if typ == packREFDelta {
			pack = append(pack, o.base[:]...)
		}
		var z bytes.Buffer
		zw := zlib.NewWriter(&z)
		zw.Write(o.bytes)
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		pack = append(pack, z.Bytes()...)
		offs = append(offs, int64(start))
		crcs = append(crcs, crc32.ChecksumIEEE(pack[start:]))
	}
	sum := sha1.Sum(pack)
	return append(pack, sum[:]...), offs, crcs
}

// writePack puts pack into a fresh repository's objects/pack, with an index
// made by the real `git index-pack` when index is true (which also checks
// that the hand-made pack is valid), or else by the package's own index
// writer from ids (for packs git refuses to index, such as a delta cycle).
func writePack(t *testing.T, pack []byte, index bool, ids []plumbing.Hash, offs []int64, crcs []uint32) (repo string) {
	t.Helper()
	repo = t.TempDir()
	run(t, repo, "git", "init", "-q", "--bare")
	packPath := filepath.Join(repo, "objects", "pack", fmt.Sprintf("pack-%x.pack", pack[len(pack)-20:]))
	if err := os.WriteFile(packPath, pack, 0o444); err != nil {
		t.Fatal(err)
	}
	if index {
		run(t, repo, "git", "index-pack", packPath)
		return repo
	}
	w := &PackWriter{}
	for i := range ids {
		w.entries = append(w.entries, packEntry{id: ids[i], off: offs[i], crc: crcs[i]})
	}
	var idx bytes.Buffer
	var sum plumbing.Hash
	copy(sum[:], pack[len(pack)-20:])
	if err := w.writeIndex(&idx, sum); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(strings.TrimSuffix(packPath, ".pack")+".idx", idx.Bytes(), 0o444); err != nil {
		t.Fatal(err)
	}
	return repo
}

// readBlob reads id with a fresh Store (no cached delta bases).
func readBlob(repo string, id plumbing.Hash) ([]byte, error) {
	s := &Store{ObjectsDir: filepath.Join(repo, "objects")}
	defer func() {
		if s.packs != nil {
			s.packs.close()
		}
	}()
	return s.Get(id, plumbing.BlobObject)
}

// lowStack lowers the goroutine stack limit for the test, so that an
// unbounded recursion would crash at once instead of growing to 1 GB.
func lowStack(t *testing.T) {
	old := debug.SetMaxStack(32 << 20)
	t.Cleanup(func() { debug.SetMaxStack(old) })
}

// TestRefDeltaChainBounded: a pack holding a chain of REF_DELTAs one longer
// than maxReadDeltaDepth. The object at the top of the chain is refused with
// the depth error (no hang, no stack overflow); the one just within the
// limit reads, and equals what `git cat-file -p` prints for it.
func TestRefDeltaChainBounded(t *testing.T) {
	lowStack(t)
	const n = maxReadDeltaDepth + 1 // deltas above the full blob
	var contents [][]byte
	var ids []plumbing.Hash
	var objs []refDeltaObj
	v := []byte("line 0\n")
	for i := 0; i <= n; i++ {
		if i > 0 {
			next := append(append([]byte(nil), v...), fmt.Sprintf("line %d\n", i)...)
			objs = append(objs, refDeltaObj{base: ids[i-1], bytes: makeDelta(v, next)})
			v = next
		} else {
			objs = append(objs, refDeltaObj{bytes: v})
		}
		contents = append(contents, v)
		ids = append(ids, HashObject(plumbing.BlobObject, v))
	}
	// Deltas first, the full blob last: each base is found by name only.
	for i, j := 0, len(objs)-1; i < j; i, j = i+1, j-1 {
		objs[i], objs[j] = objs[j], objs[i]
	}
	pack, _, _ := refDeltaPack(t, objs)
	repo := writePack(t, pack, true, nil, nil, nil)

	// Within the limit: maxReadDeltaDepth deltas above the blob.
	ok := ids[maxReadDeltaDepth]
	got, err := readBlob(repo, ok)
	if err != nil {
		t.Fatalf("chain of %d REF_DELTAs: %v", maxReadDeltaDepth, err)
	}
	want := run(t, repo, "git", "cat-file", "-p", ok.String())
	if string(got) != want || !bytes.Equal(got, contents[maxReadDeltaDepth]) {
		t.Fatalf("chain of %d REF_DELTAs: read %d bytes, git cat-file -p prints %d", maxReadDeltaDepth, len(got), len(want))
	}

	// One past the limit: refused, though git itself reads it.
	deep := ids[n]
	if want := run(t, repo, "git", "cat-file", "-p", deep.String()); want != string(contents[n]) {
		t.Fatalf("git cat-file -p of the deepest object: %d bytes, want %d", len(want), len(contents[n]))
	}
	_, err = readBlob(repo, deep)
	wantErr := fmt.Sprintf("delta chain longer than %d", maxReadDeltaDepth)
	if err == nil || !strings.Contains(err.Error(), wantErr) {
		t.Fatalf("chain of %d REF_DELTAs: got %v, want an error naming %q", n, err, wantErr)
	}
	if !strings.HasPrefix(err.Error(), "blob object "+deep.String()+": ") || strings.Count(err.Error(), ".pack") != 1 {
		t.Fatalf("chain of %d REF_DELTAs: error should name the object and the pack once: %v", n, err)
	}
}

// TestRefDeltaCycleBounded: A's base is B and B's base is A. git refuses to
// index such a pack, so the index comes from the package's own writer, as a
// hostile pusher could supply it. Reading either fails with the depth error.
func TestRefDeltaCycleBounded(t *testing.T) {
	lowStack(t)
	a := HashObject(plumbing.BlobObject, []byte("a\n"))
	b := HashObject(plumbing.BlobObject, []byte("b\n"))
	// A one-byte base to a one-byte target ("insert 1 byte").
	delta := func(c byte) []byte { return []byte{2, 2, 2, c, '\n'} }
	pack, offs, crcs := refDeltaPack(t, []refDeltaObj{
		{base: b, bytes: delta('a')},
		{base: a, bytes: delta('b')},
	})
	repo := writePack(t, pack, false, []plumbing.Hash{a, b}, offs, crcs)
	for _, id := range []plumbing.Hash{a, b} {
		_, err := readBlob(repo, id)
		wantErr := fmt.Sprintf("delta chain longer than %d", maxReadDeltaDepth)
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("REF_DELTA cycle, reading %s: got %v, want an error naming %q", id, err, wantErr)
		}
	}
}
