package nodetest

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// Vector is a substrate proof made by the real tool, stored as a file so
// that offline verification is tested without the tool (testdata/proof.json).
type Vector struct {
	Digest string          `json:"digest"` // hex
	Proof  json.RawMessage `json:"proof"`
}

// VectorFile is where a substrate package keeps its vector.
const VectorFile = "testdata/proof.json"

// EnvWriteVectors makes the real-tool tests rewrite their vectors.
const EnvWriteVectors = "VMC_WRITE_ANCHOR_VECTORS"

// WriteVector writes the vector when EnvWriteVectors is set.
func WriteVector(t testing.TB, d [32]byte, proof json.RawMessage) {
	t.Helper()
	if os.Getenv(EnvWriteVectors) == "" {
		return
	}
	b, err := json.MarshalIndent(Vector{Digest: hex.EncodeToString(d[:]), Proof: proof}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Dir(VectorFile), 0o755)
	if err := os.WriteFile(VectorFile, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// ReadVector reads the package's vector.
func ReadVector(t testing.TB) ([32]byte, json.RawMessage) {
	t.Helper()
	b, err := os.ReadFile(VectorFile)
	if err != nil {
		t.Fatal(err)
	}
	var v Vector
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	var d [32]byte
	if n, err := hex.Decode(d[:], []byte(v.Digest)); err != nil || n != 32 {
		t.Fatalf("%s: digest %q", VectorFile, v.Digest)
	}
	return d, v.Proof
}

// FlipEveryByte changes each letter or digit of proof in turn to another
// (so the JSON stays well formed) and checks that verify refuses every
// result, except inside the values of the members named unbound: those a
// proof carries for reading only (the substrate does not sign them; the
// package doc says which, and what checks them live).
func FlipEveryByte(t *testing.T, proof json.RawMessage, verify func([]byte) error, unbound ...string) {
	t.Helper()
	skip := make([]bool, len(proof))
	for _, name := range unbound {
		re := regexp.MustCompile(`"` + regexp.QuoteMeta(name) + `":\s*("[^"]*"|[^,}\s]*)`)
		for _, m := range re.FindAllSubmatchIndex(proof, -1) {
			for i := m[2]; i < m[3]; i++ {
				skip[i] = true
			}
		}
	}
	accepted := 0
	for i := range proof {
		if skip[i] {
			continue
		}
		b := append([]byte(nil), proof...)
		c := b[i]
		switch {
		case c >= '0' && c <= '8', c >= 'a' && c <= 'e', c >= 'A' && c <= 'Y':
			b[i] = c + 1
		case c == '9':
			b[i] = '0'
		case c == 'f':
			b[i] = 'a'
		default:
			continue
		}
		if verify(b) == nil {
			accepted++
			if accepted <= 5 {
				t.Errorf("flipped byte %d (%q -> %q) accepted: ...%s...", i, c, b[i], b[max(0, i-20):min(len(b), i+20)])
			}
		}
	}
	if accepted > 0 {
		t.Errorf("%d flipped proofs accepted", accepted)
	}
}
