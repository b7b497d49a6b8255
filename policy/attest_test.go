package policy

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vmc-git/vmc-git/internal/canon"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/receipt"
)

func attestationReceipt(st []byte) *receipt.Receipt {
	return &receipt.Receipt{V: receipt.Version, Ledger: "example.com/l", Seq: 1, Kind: receipt.KindAttestation,
		CreatedAt: time.Now().UTC().Format(time.RFC3339), Summary: "policy check", KID: "ci", PrevBlake3: digest.Blake3([]byte("x")), Attestation: st}
}

func TestStatement(t *testing.T) {
	b := defaults(t)
	s := good("web-1")
	s.Protection.Delete = false
	doc := observedDoc([]Server{s, good("db-1")})
	res, err := b.Eval(context.Background(), doc, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := Statement(b, "", doc, res)
	if err != nil {
		t.Fatal(err)
	}
	if err := canon.Check(st); err != nil {
		t.Fatalf("not canonical: %v", err)
	}
	parsed, err := ParseStatement(st)
	if err != nil {
		t.Fatal(err)
	}
	if len(parsed.Subject) != 2 || parsed.Subject[0].Name != "server/web-1" || parsed.PredicateType != PredicateType {
		t.Fatalf("statement %s", st)
	}
	one, _ := canon.Marshal(doc.Servers[0])
	if parsed.Subject[0].Digest["sha256"] != digest.SHA256(one).String() || parsed.Subject[0].Digest["blake3"] != digest.Blake3(one).String() {
		t.Error("subject digest is not that of the resource's canonical JSON")
	}
	pred := parsed.Predicate.AsMap()
	if pred["policy"].(map[string]any)["blake3"] != b.Blake3().String() || pred["result"].(map[string]any)["pass"] != false {
		t.Errorf("predicate %v", pred)
	}
	if err := attestationReceipt(st).Validate(); err != nil {
		t.Errorf("receipt with the statement: %v", err)
	}

	// An empty input still has a subject: the input itself.
	empty := observedDoc([]Server{})
	res, _ = b.Eval(context.Background(), empty, Limits{})
	st, err = Statement(b, "", empty, res)
	if err != nil || !strings.Contains(string(st), `"name":"input"`) {
		t.Errorf("empty input: %v %s", err, st)
	}
}

// TestStatementRejected: statements a receipt must not carry, each refused
// by the in-toto library or the receipt's own checks.
func TestStatementRejected(t *testing.T) {
	ok := `{"_type":"https://in-toto.io/Statement/v1","predicate":{"a":1},"predicateType":"x","subject":[{"digest":{"sha256":"` + strings.Repeat("ab", 32) + `"},"name":"server/a"}]}`
	if err := attestationReceipt([]byte(ok)).Validate(); err != nil {
		t.Fatalf("good statement: %v", err)
	}
	for name, tc := range map[string]struct{ st, want string }{
		"short sha256":    {strings.Replace(ok, strings.Repeat("ab", 32), "abcd", 1), "in-toto"},
		"wrong type":      {strings.Replace(ok, "Statement/v1", "Statement/v9", 1), "_type"},
		"no subject":      {`{"_type":"https://in-toto.io/Statement/v1","predicate":{},"predicateType":"x","subject":[]}`, "no subject"},
		"array predicate": {strings.Replace(ok, `{"a":1}`, `[1]`, 1), "predicate"},
		"unknown field":   {strings.Replace(ok, `"predicate"`, `"extra":1,"predicate"`, 1), "not an in-toto Statement"},
	} {
		err := attestationReceipt([]byte(tc.st)).Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}

// TestStatementPin: the predicate says which bundle the ledger pinned and
// whether the evaluated one is it; Digest is the bundle's digest without
// compiling (the same bytes as Bundle.Blake3, in any file order).
func TestStatementPin(t *testing.T) {
	b := defaults(t)
	doc := observedDoc([]Server{good("web-1")})
	res, err := b.Eval(context.Background(), doc, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	files := b.Files()
	reversed := make([]File, len(files))
	for i, f := range files {
		reversed[len(files)-1-i] = f
	}
	if Digest(reversed) != b.Blake3() || Digest(files[1:]) == b.Blake3() {
		t.Fatal("Digest is not the bundle's digest")
	}
	other := digest.Blake3([]byte("another bundle")).String()
	for _, tc := range []struct {
		pin    string
		pinned bool
	}{{b.Blake3().String(), true}, {other, false}, {"none", false}, {"", false}} {
		st, err := Statement(b, tc.pin, doc, res)
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := ParseStatement(st)
		if err != nil {
			t.Fatal(err)
		}
		pol := parsed.Predicate.AsMap()["policy"].(map[string]any)
		pin, hasPin := pol["pin"]
		if pol["pinned"] != tc.pinned || (tc.pin == "") == hasPin || (hasPin && pin != tc.pin) {
			t.Errorf("pin %q: predicate policy %v", tc.pin, pol)
		}
	}
}
