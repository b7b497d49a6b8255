package canon

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/internal/testvectors"
)

// vectorDir holds the RFC 8785 reference vectors (cyberphone/json-canonicalization).
var vectorDir, vectorErr = testvectors.Dir("jcs")

func TestVectors(t *testing.T) {
	if vectorErr != nil {
		t.Fatal(vectorErr)
	}
	inputs, err := filepath.Glob(filepath.Join(vectorDir, "input", "*.json"))
	if err != nil || len(inputs) < 6 {
		t.Fatalf("want the 6 JCS vectors under %s, found %d (%v)", vectorDir, len(inputs), err)
	}
	for _, in := range inputs {
		name := filepath.Base(in)
		t.Run(name, func(t *testing.T) {
			src, _ := os.ReadFile(in)
			want, err := os.ReadFile(filepath.Join(vectorDir, "output", name))
			if err != nil {
				t.Fatal(err)
			}
			hexText, err := os.ReadFile(filepath.Join(vectorDir, "outhex", strings.TrimSuffix(name, ".json")+".txt"))
			if err != nil {
				t.Fatal(err)
			}
			wantHex, err := hex.DecodeString(strings.Join(strings.Fields(string(hexText)), ""))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(want, wantHex) {
				t.Fatalf("vector files disagree: output vs outhex")
			}
			got, err := Canonicalize(src)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("canonical form:\n got %q\nwant %q", got, want)
			}
			if err := Check(got); err != nil {
				t.Fatalf("canonical output fails Check: %v", err)
			}
			if err := Check(src); !errors.Is(err, ErrNotCanonical) {
				t.Fatalf("pretty input passes Check: %v", err)
			}
		})
	}
}

func TestNumbers(t *testing.T) {
	for in, want := range map[string]string{
		"0": "0", "-0": "0", "1": "1", "-1": "-1", "1.0": "1", "1e0": "1",
		"0.1": "0.1", "1e21": "1e+21", "1e20": "100000000000000000000",
		"123456789012345680000": "123456789012345680000",
		"0.000001":              "0.000001", "0.0000001": "1e-7", "1.5e-7": "1.5e-7",
		"5e-324": "5e-324", "1.7976931348623157e308": "1.7976931348623157e+308",
		"9007199254740993": "9007199254740992", "-1.25E+3": "-1250",
		"333333333.33333329": "333333333.3333333", "1e-27": "1e-27",
		"0e10": "0", "-0.0e-5": "0",
	} {
		got, err := Canonicalize([]byte(in))
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if string(got) != want {
			t.Errorf("%s: got %s, want %s", in, got, want)
		}
	}
}

func TestRejects(t *testing.T) {
	for _, tc := range []struct{ name, in, msg string }{
		{"duplicate key", `{"a":1,"a":2}`, "duplicate object key"},
		{"duplicate key via escape", `{"a":1,"\u0061":2}`, "duplicate object key"},
		{"invalid utf8", "\"\xff\"", "invalid UTF-8"},
		{"overlong utf8", "\"\xc0\xaf\"", "invalid UTF-8"},
		{"lone high surrogate", `"\ud83d"`, "lone UTF-16 surrogate"},
		{"lone low surrogate", `"\ude02"`, "lone UTF-16 surrogate"},
		{"high then non-low", `"\ud83d\u0041"`, "lone UTF-16 surrogate"},
		{"overflow", `1e309`, "outside the IEEE-754 double range"},
		{"negative overflow", `-1e400`, "outside the IEEE-754 double range"},
		{"underflow", `1e-400`, "underflows"},
		{"nan", `NaN`, "unexpected character"},
		{"infinity", `Infinity`, "unexpected character"},
		{"leading zero", `01`, "trailing data"},
		{"plus sign", `+1`, "unexpected character"},
		{"bare dot", `1.`, "no digits after"},
		{"trailing comma", `[1,]`, "unexpected character"},
		{"trailing data", `{} {}`, "trailing data"},
		{"control char", "\"a\x01\"", "control character"},
		{"bad escape", `"\x"`, "invalid escape"},
		{"unterminated", `"abc`, "unterminated string"},
		{"empty", ``, "unexpected end"},
		{"single quotes", `{'a':1}`, "expected string for object key"},
		{"too deep", strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1), "nesting deeper"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Canonicalize([]byte(tc.in))
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("want *SyntaxError, got %v", err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %q does not mention %q", err, tc.msg)
			}
		})
	}
}

func TestUnmarshal(t *testing.T) {
	type T struct {
		A int    `json:"a"`
		B string `json:"b"`
	}
	var v T
	if err := Unmarshal([]byte(`{"a":1,"b":"x"}`), &v); err != nil || v.A != 1 || v.B != "x" {
		t.Fatalf("got %+v, %v", v, err)
	}
	if err := Unmarshal([]byte(`{"b":"x","a":1}`), &v); !errors.Is(err, ErrNotCanonical) {
		t.Fatalf("unsorted keys: %v", err)
	}
	if err := Unmarshal([]byte(`{"a":1,"b":"x","c":2}`), &v); err == nil || !strings.Contains(err.Error(), "unknown field") {
		t.Fatalf("unknown field: %v", err)
	}
	if err := Unmarshal([]byte(`{"a":1.0,"b":"x"}`), &v); !errors.Is(err, ErrNotCanonical) {
		t.Fatalf("1.0: %v", err)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	in := map[string]any{"z": []any{1, "é<>&", nil}, "a": 2.5, "\u20ac": true}
	b, err := Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a":2.5,"z":[1,"é<>&",null],"€":true}`; string(b) != want {
		t.Fatalf("got %s want %s", b, want)
	}
	again, err := Canonicalize(b)
	if err != nil || !bytes.Equal(again, b) {
		t.Fatalf("not idempotent: %s %v", again, err)
	}
}

func FuzzCanonicalize(f *testing.F) {
	inputs, _ := filepath.Glob(filepath.Join(vectorDir, "input", "*.json"))
	for _, in := range inputs {
		b, _ := os.ReadFile(in)
		f.Add(b)
	}
	f.Add([]byte(`{"a":[1,2,{"b":null}],"c":"\ud83d\ude02"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Canonicalize(b)
		// The streaming checks agree with the tree: Check passes exactly the
		// canonical texts, DecodeStrict's strictness exactly the parsable ones.
		if cerr := Check(b); (cerr == nil) != (err == nil && bytes.Equal(c, b)) {
			t.Fatalf("Check says %v, Canonicalize %v (equal %v)\n%q", cerr, err, bytes.Equal(c, b), b)
		}
		if verr := validate(b, false); (verr == nil) != (err == nil) {
			t.Fatalf("strict validation says %v, Canonicalize %v\n%q", verr, err, b)
		}
		if err != nil {
			return
		}
		// Canonical form is a fixed point and always passes Check.
		c2, err := Canonicalize(c)
		if err != nil {
			t.Fatalf("canonical output does not parse: %v\n%q", err, c)
		}
		if !bytes.Equal(c, c2) {
			t.Fatalf("not idempotent:\n%q\n%q", c, c2)
		}
		if err := Check(c); err != nil {
			t.Fatal(err)
		}
	})
}

// TestCheckStreams: checking a large canonical array allocates a small,
// fixed amount, not a tree node per element (the memory bomb a push could
// carry in a 17 KB compressed blob).
func TestCheckStreams(t *testing.T) {
	big := append([]byte("["), bytes.Repeat([]byte("0,"), 1<<20)...)
	big[len(big)-1] = ']'
	if err := Check(big); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(3, func() { Check(big) })
	if allocs > 64 {
		t.Fatalf("Check of a 2 MiB array made %v allocations, want a fixed few", allocs)
	}
}

// TestDecodeStrictFieldCase: encoding/json matches member names to fields
// case-insensitively; DecodeStrict does not, at any depth, so one value has
// one encoding. Map keys and self-decoding types are left alone.
func TestDecodeStrictFieldCase(t *testing.T) {
	type inner struct {
		Name string `json:"name"`
	}
	type outer struct {
		Kind   string            `json:"kind"`
		Inner  *inner            `json:"inner,omitempty"`
		List   []inner           `json:"list,omitempty"`
		Labels map[string]string `json:"labels,omitempty"`
		Raw    json.RawMessage   `json:"raw,omitempty"`
	}
	for _, c := range []struct{ in, err string }{
		{`{"kind":"a"}`, ""},
		{`{"inner":{"name":"x"},"kind":"a","labels":{"Env":"Prod"},"list":[{"name":"y"}],"raw":{"AnyCase":1}}`, ""},
		{`{"Kind":"a"}`, `unknown field "Kind"`},
		{`{"inner":{"NAME":"x"},"kind":"a"}`, `unknown field "NAME" in inner`},
		{`{"kind":"a","list":[{"name":"y"},{"nAme":"z"}]}`, `unknown field "nAme" in list[1]`},
	} {
		var v outer
		err := Unmarshal([]byte(c.in), &v)
		if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%s: got %v, want %q", c.in, err, c.err)
		}
	}
}
