package receipt

import (
	"os"
	"strings"
	"testing"
)

// TestAnchorBodyShape: the anchor body is refused unless it has exactly
// its four members, each of its type.
func TestAnchorBodyShape(t *testing.T) {
	b, err := os.ReadFile("testdata/valid/5-anchor.json")
	if err != nil {
		t.Fatal(err)
	}
	good, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"extra member":       `{"extra":1,"proof":{},"signature":"s","statement":{},"substrate":"rfc3161"}`,
		"no signature":       `{"proof":{},"statement":{},"substrate":"rfc3161"}`,
		"no substrate":       `{"proof":{},"signature":"s","statement":{}}`,
		"statement a string": `{"proof":{},"signature":"s","statement":"x","substrate":"rfc3161"}`,
		"proof an array":     `{"proof":[],"signature":"s","statement":{},"substrate":"rfc3161"}`,
	}
	seen := map[string]string{}
	for name, body := range cases {
		r := *good
		r.Anchor = []byte(body)
		err := r.Validate()
		if err == nil || !strings.Contains(err.Error(), "anchor:") {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if o, dup := seen[err.Error()]; dup {
			t.Errorf("%s and %s: same error %v", name, o, err)
		}
		seen[err.Error()] = name
	}
}
