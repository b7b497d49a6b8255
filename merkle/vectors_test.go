package merkle

import (
	"crypto/sha256"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/internal/testvectors"
)

// vectorDir holds the RFC 6962 vectors from transparency-dev/merkle, shared
// by the whole repository (see ../shared/vectors/README.md from the repo).
var vectorDir, vectorErr = testvectors.Dir("rfc6962")

// vectorBytes is a base64 byte string in a vector file. Vectors feed
// arbitrary byte strings ("WrongRoot", "") where this package takes a
// 32-byte Hash, so the test adapts them at the type boundary. A string that
// is not 32 bytes maps to SHA-256 of the string under a test-only tag, one
// tag for roots and another for leaf and proof hashes. The mapping is
// injective in practice: equal inputs stay equal, unequal ones unequal, and
// a mapped value never equals a real hash or a value mapped under the other
// tag. So the verifier sees exactly the comparisons the vector intends:
// "sizes are equal and the roots match" passes even for made-up roots, while
// a made-up leaf hash never matches anything, as in transparency-dev's
// verifier, which refuses a leaf hash of the wrong size.
//
// In production a non-32-byte value never reaches the verifier: ParseHash
// and the proof files reject it. The tests also check that every vector with
// such a leaf or proof hash expects an error.
type vectorBytes []byte

func (b vectorBytes) mapped(tag string) Hash {
	if len(b) == HashSize {
		return Hash(b)
	}
	return sha256.Sum256(append([]byte("vmc-test: not a 32-byte "+tag+"\x00"), b...))
}

func (b vectorBytes) root() Hash { return b.mapped("root") }

func (b vectorBytes) hash() (Hash, bool) { return b.mapped("hash"), len(b) == HashSize }

func hashes(bs []vectorBytes) ([]Hash, bool) {
	out := []Hash{}
	wellFormed := true
	for _, b := range bs {
		h, ok := b.hash()
		wellFormed = wellFormed && ok
		out = append(out, h)
	}
	return out, wellFormed
}

type inclusionVector struct {
	LeafIdx  uint64        `json:"leafIdx"`
	TreeSize uint64        `json:"treeSize"`
	Root     vectorBytes   `json:"root"`
	LeafHash vectorBytes   `json:"leafHash"`
	Proof    []vectorBytes `json:"proof"`
	Desc     string        `json:"desc"`
	WantErr  bool          `json:"wantErr"`
}

type consistencyVector struct {
	Size1   uint64        `json:"size1"`
	Size2   uint64        `json:"size2"`
	Root1   vectorBytes   `json:"root1"`
	Root2   vectorBytes   `json:"root2"`
	Proof   []vectorBytes `json:"proof"`
	Desc    string        `json:"desc"`
	WantErr bool          `json:"wantErr"`
}

func vectorFiles(t *testing.T, sub string) []string {
	t.Helper()
	if vectorErr != nil {
		t.Fatal(vectorErr)
	}
	dir := filepath.Join(vectorDir, sub)
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("RFC 6962 vectors missing (want them at %s): %v", dir, err)
	}
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".json") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 50 {
		t.Fatalf("only %d vector files under %s, want the full set", len(files), dir)
	}
	return files
}

func readVector(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func TestRFC6962InclusionVectors(t *testing.T) {
	accepted := 0
	for _, path := range vectorFiles(t, "inclusion") {
		rel, _ := filepath.Rel(vectorDir, path)
		t.Run(rel, func(t *testing.T) {
			var v inclusionVector
			readVector(t, path, &v)
			leaf, ok1 := v.LeafHash.hash()
			proof, ok2 := hashes(v.Proof)
			if (!ok1 || !ok2) && !v.WantErr {
				t.Fatalf("%s: vector has a malformed leaf or proof hash but wantErr is false", v.Desc)
			}
			err := VerifyInclusion(leaf, v.LeafIdx, v.TreeSize, proof, v.Root.root())
			if (err != nil) != v.WantErr {
				t.Fatalf("%s: VerifyInclusion err = %v, wantErr %v", v.Desc, err, v.WantErr)
			}
			if err == nil {
				accepted++
			}
		})
	}
	if accepted == 0 {
		t.Fatal("no inclusion vector was accepted")
	}
}

func TestRFC6962ConsistencyVectors(t *testing.T) {
	accepted := 0
	for _, path := range vectorFiles(t, "consistency") {
		rel, _ := filepath.Rel(vectorDir, path)
		t.Run(rel, func(t *testing.T) {
			var v consistencyVector
			readVector(t, path, &v)
			proof, ok := hashes(v.Proof)
			if !ok && !v.WantErr {
				t.Fatalf("%s: vector has a malformed proof hash but wantErr is false", v.Desc)
			}
			err := VerifyConsistency(v.Size1, v.Size2, v.Root1.root(), v.Root2.root(), proof)
			if (err != nil) != v.WantErr {
				t.Fatalf("%s: VerifyConsistency err = %v, wantErr %v", v.Desc, err, v.WantErr)
			}
			if err == nil {
				accepted++
			}
		})
	}
	if accepted == 0 {
		t.Fatal("no consistency vector was accepted")
	}
}

// TestRFC6962ProofLengths checks that every accepted vector has the proof
// length this package's generator produces for its sizes.
func TestRFC6962ProofLengths(t *testing.T) {
	for _, path := range vectorFiles(t, "inclusion") {
		var v inclusionVector
		readVector(t, path, &v)
		if v.WantErr {
			continue
		}
		var dirs [64]bool
		if n := inclusionPath(v.LeafIdx, v.TreeSize, &dirs); n != len(v.Proof) {
			t.Errorf("%s: proof length %d, computed %d", path, len(v.Proof), n)
		}
	}
	for _, path := range vectorFiles(t, "consistency") {
		var v consistencyVector
		readVector(t, path, &v)
		if v.WantErr {
			continue
		}
		if n := consistencyProofLen(v.Size1, v.Size2); n != len(v.Proof) {
			t.Errorf("%s: proof length %d, computed %d", path, len(v.Proof), n)
		}
	}
}
