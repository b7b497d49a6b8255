package digest

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestKnownValues(t *testing.T) {
	// BLAKE3 and SHA-256 of "abc" from their specifications' test vectors.
	s := Of([]byte("abc"))
	if got, want := s.Blake3.String(), "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"; got != want {
		t.Errorf("blake3: %s want %s", got, want)
	}
	if got, want := s.SHA256.String(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; got != want {
		t.Errorf("sha256: %s want %s", got, want)
	}
}

func TestRoundTrip(t *testing.T) {
	s := Of([]byte("vmc"))
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back Sums
	if err := json.Unmarshal(b, &back); err != nil || back != s {
		t.Fatalf("round trip: %v %+v", err, back)
	}
	if Zero.String() != strings.Repeat("0", 64) || !Zero.IsZero() {
		t.Fatal("zero digest")
	}
}

func TestParseRejects(t *testing.T) {
	good := Blake3(nil).String()
	for name, in := range map[string]string{
		"short":     good[:63],
		"long":      good + "0",
		"upper":     strings.ToUpper(good),
		"non-hex":   "g" + good[1:],
		"empty":     "",
		"with 0x":   "0x" + good[2:],
		"space pad": " " + good[1:],
	} {
		d := Of([]byte("keep"))
		before := d.Blake3
		if err := d.Blake3.UnmarshalText([]byte(in)); err == nil {
			t.Errorf("%s: accepted %q", name, in)
		}
		if d.Blake3 != before {
			t.Errorf("%s: value changed on error", name)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(Blake3(nil).String())
	f.Add(strings.Repeat("0", 64))
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse(s)
		if err == nil && d.String() != s {
			t.Fatalf("round trip %q -> %q", s, d.String())
		}
	})
}
