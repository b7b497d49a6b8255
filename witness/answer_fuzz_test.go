package witness

import (
	"strconv"
	"testing"
)

// FuzzAnswers: the parsers of a witness's answers never panic, and a size
// answer that parses is the one canonical spelling of its number.
func FuzzAnswers(f *testing.F) {
	f.Add([]byte("5\n"))
	f.Add([]byte("— witness.example/w1 CMp+6LWBU0anHGH5aNDTJkH/gj79sG+T6+iP2ThYN5krrDJbR1HDnucjL39QsZTSvVjyQLrdk3DXDqI5G2HgLatVs0pWh6Up69HVOw==\n"))
	f.Add([]byte("0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if n, err := parseSizeAnswer(ContentTypeSize, b); err == nil && strconv.FormatUint(n, 10)+"\n" != string(b) {
			t.Fatalf("%q parsed as %d", b, n)
		}
		_ = checkSigLines(b)
	})
}
