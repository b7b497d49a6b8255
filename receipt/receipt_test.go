package receipt

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/internal/canon"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/keys"
)

// vector is one file of testdata/valid with its SUMS line.
type vector struct {
	name  string
	bytes []byte
	sums  digest.Sums
}

func loadVectors(t testing.TB) []vector {
	t.Helper()
	dir := filepath.Join("testdata", "valid")
	list, err := os.ReadFile(filepath.Join(dir, "SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	var vs []vector
	for _, line := range strings.Split(strings.TrimSpace(string(list)), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			t.Fatalf("SUMS: bad line %q", line)
		}
		b, err := os.ReadFile(filepath.Join(dir, f[2]))
		if err != nil {
			t.Fatal(err)
		}
		v := vector{name: f[2], bytes: b}
		if v.sums.Blake3, err = digest.Parse(f[0]); err != nil {
			t.Fatal(err)
		}
		if v.sums.SHA256, err = digest.Parse(f[1]); err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	if len(vs) != 6 {
		t.Fatalf("%d vectors, want one per kind (6)", len(vs))
	}
	return vs
}

// TestVectors: each vector parses, re-encodes to the same bytes, has the
// listed hashes, and chains to the one before.
func TestVectors(t *testing.T) {
	prev := digest.Zero
	for i, v := range loadVectors(t) {
		t.Run(v.name, func(t *testing.T) {
			r, err := Parse(v.bytes)
			if err != nil {
				t.Fatal(err)
			}
			if want := strings.TrimSuffix(v.name[strings.IndexByte(v.name, '-')+1:], ".json"); string(r.Kind) != want {
				t.Fatalf("kind %s, want %s", r.Kind, want)
			}
			if r.Seq != uint64(i) || r.PrevBlake3 != prev {
				t.Fatalf("seq %d prev %s, want %d %s", r.Seq, r.PrevBlake3, i, prev)
			}
			b, err := r.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, v.bytes) {
				t.Fatalf("Encode(Parse(v)):\n%s\nwant\n%s", b, v.bytes)
			}
			if got := digest.Of(v.bytes); got != v.sums {
				t.Fatalf("sums %s %s, SUMS says %s %s", got.Blake3, got.SHA256, v.sums.Blake3, v.sums.SHA256)
			}
			h := HeadOf(r, v.bytes)
			if h.Blake3 != v.sums.Blake3 || h.SHA256 != v.sums.SHA256 || h.Path != Path(r.Seq) || h.Seq != r.Seq || h.CreatedAt != r.CreatedAt {
				t.Fatalf("HeadOf: %+v", h)
			}
			hb, err := h.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if h2, err := ParseHead(hb); err != nil || h2 != h {
				t.Fatalf("ParseHead(Encode(h)) = %+v, %v", h2, err)
			}
		})
		prev = digest.Of(v.bytes).Blake3
	}
}

// TestKeysVectorCosigs: the keys vector's co-signatures verify, with stock
// semantics, against the genesis keys (what trust.ApplyKeys checks).
func TestKeysVectorCosigs(t *testing.T) {
	vs := loadVectors(t)
	g, _ := Parse(vs[0].bytes)
	k, _ := Parse(vs[2].bytes)
	msg, err := canon.Marshal(k.Keys.Proposal)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range k.Keys.Signatures {
		pub, _, err := keys.ParsePublicKey([]byte(g.Genesis.Keys[i].PublicKey))
		if err != nil {
			t.Fatal(err)
		}
		if err := keys.Verify(pub, keys.NamespaceKeys, msg, []byte(s.Sig)); err != nil {
			t.Errorf("co-signature by %s: %v", s.KID, err)
		}
	}
}

// TestParseRejects: corruptions of the vectors, each with its own error.
func TestParseRejects(t *testing.T) {
	vs := loadVectors(t)
	gen, manual, keysV, apply := string(vs[0].bytes), string(vs[1].bytes), string(vs[2].bytes), string(vs[3].bytes)
	rep := func(s, old, new string) string {
		if !strings.Contains(s, old) {
			t.Fatalf("vector has no %q", old)
		}
		return strings.Replace(s, old, new, 1)
	}
	for _, tc := range []struct{ name, in, err string }{
		{"not canonical: space", rep(manual, `"seq":1,`, `"seq": 1,`), "not in canonical JSON form"},
		{"not canonical: member order", rep(manual, `"kid":"alice","kind":"manual"`, `"kind":"manual","kid":"alice"`), "not in canonical JSON form"},
		{"not canonical: number form", rep(manual, `"seq":1,`, `"seq":1.0,`), "not in canonical JSON form"},
		{"not canonical: escaped letter", rep(manual, `"summary":"rebooted`, `"summary":"\u0072ebooted`), "not in canonical JSON form"},
		{"not canonical: trailing newline", manual + "\n", "not in canonical JSON form"},
		{"duplicate member", rep(manual, `"seq":1,`, `"seq":1,"seq":1,`), "duplicate"},
		{"unknown member", rep(manual, `"v":1}`, `"v":1,"w":1}`), `unknown field "w"`},
		{"unknown member in a body", rep(apply, `"path":"plans/20260102-a.json"`, `"path":"plans/20260102-a.json","q":1`), `unknown field "q"`},
		{"member name in another case", rep(manual, `"kid":"alice",`, `"kiD":"mallory","kid":"alice",`), "not the form Encode writes"},
		{"member name only in another case", rep(manual, `"created_at":"2026-01-02T15:04:06Z",`, `"Created_at":"2026-01-02T15:04:06Z",`), "not the form Encode writes"},
		{"optional member written empty", rep(apply, `"plan":{`, `"forced_locks":[],"plan":{`), "not the form Encode writes"},
		{"optional member written false", rep(apply, `}},"created_at"`, `},"recovered":false},"created_at"`), "not the form Encode writes"},
		{"version 2", rep(manual, `"v":1}`, `"v":2}`), "format version 2, want 1"},
		{"genesis kind at seq 1", rep(manual, `"kind":"manual"`, `"kind":"genesis"`), "genesis is exactly receipt 0"},
		{"genesis with a prev_blake3", rep(gen, `"prev_blake3":"0000`, `"prev_blake3":"0100`), "zero exactly for genesis"},
		{"kind without its body", rep(manual, `"kind":"manual"`, `"kind":"anchor"`), "kind anchor without its anchor body"},
		{"two bodies", rep(manual, `"kid":"alice"`, `"genesis":{"admin_threshold":1,"approvals_required":1,"keys":[]},"kid":"alice"`), "kind manual carries a genesis body"},
		{"unknown kind", rep(manual, `"kind":"manual"`, `"kind":"magic"`), `unknown kind "magic"`},
		{"created_at with offset", rep(manual, `15:04:06Z`, `16:04:06+01:00`), "created_at: time"},
		{"created_at with fraction", rep(manual, `15:04:06Z`, `15:04:06.5Z`), "created_at: time"},
		{"kid upper case", rep(manual, `"kid":"alice"`, `"kid":"Alice"`), `kid: invalid key id "Alice"`},
		{"summary empty", rep(manual, `"summary":"rebooted web-1 by hand (kernel panic)"`, `"summary":""`), "summary must be 1 to 200"},
		{"summary two lines", rep(manual, `by hand`, `by\nhand`), "non-printable character U+000A"},
		{"summary too long", rep(manual, `by hand`, strings.Repeat("x", 200)), "summary must be 1 to 200"},
		{"ledger id bad", rep(manual, `"ledger":"github.com/acme/infra"`, `"ledger":"github.com/../infra"`), "invalid ledger id"},
		{"manual details not an object", rep(manual, `"manual":{"details":{"reason":"kernel panic","server":"web-1","ticket":"OPS-1234"}}`, `"manual":{"details":[1]}`), "manual details must be a JSON object"},
		{"manual details null", rep(manual, `"manual":{"details":{"reason":"kernel panic","server":"web-1","ticket":"OPS-1234"}}`, `"manual":{"details":null}`), "manual details must be a JSON object"},
		{"apply plan path", rep(apply, `"path":"plans/20260102-a.json"`, `"path":"plans/other.json"`), `apply: plan path "plans/other.json"`},
		{"apply plan id", rep(rep(apply, `"id":"20260102-a"`, `"id":"../x"`), `"path":"plans/20260102-a.json"`, `"path":"plans/../x.json"`), `invalid plan id "../x"`},
		{"apply plan commit", rep(apply, `"commit":"0123456789abcdef0123456789abcdef01234567"`, `"commit":"main"`), `plan commit "main" is not a commit id`},
		{"apply approvals unsorted", rep(apply, `"approvals":["alice","bob"]`, `"approvals":["bob","alice"]`), "approvals must be sorted and distinct"},
		{"apply no actions", apply[:strings.Index(apply, `"actions":[`)+len(`"actions":[`)] + apply[strings.Index(apply, `],"plan"`):], "apply: no actions"},
		{"apply blake3 upper case", strings.Replace(apply, `"blake3":"83047750fb`, `"blake3":"83047750FB`, 1), "not lower-case hex"},
		{"keys signatures unsorted", rep(keysV, `{"kid":"alice","sig"`, `{"kid":"zed","sig"`), "signatures must be sorted by kid"},
		{"keys unknown op", rep(keysV, `"op":"trust"`, `"op":"grant"`), `keys: unknown op "grant"`},
		{"keys trust with kid", rep(keysV, `"ledger":"github.com/acme/infra","op":"trust"`, `"kid":"ci","ledger":"github.com/acme/infra","op":"trust"`), "keys: trust takes key only"},
		{"genesis key with a comment", rep(gen, `","roles":["admin","approver"]},{"kid":"bob"`, ` alice","roles":["admin","approver"]},{"kid":"bob"`), "public_key must be"},
		{"genesis threshold too high", rep(gen, `"admin_threshold":2`, `"admin_threshold":3`), "admin_threshold 3 but only 2 admin keys"},
		{"truncated", manual[:len(manual)-1], "unexpected end"},
		{"empty", "", "unexpected end"},
		{"not an object", `[]`, "cannot unmarshal array"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("Parse = %v, want an error with %q\ninput: %s", err, tc.err, tc.in)
			}
		})
	}
}

// TestRoundTrip: Parse(Encode(r)) is r, for receipts built in Go.
func TestRoundTrip(t *testing.T) {
	for _, v := range loadVectors(t) {
		r, err := Parse(v.bytes)
		if err != nil {
			t.Fatal(err)
		}
		// Rebuild through a generic map to lose Go's field state.
		var m map[string]any
		json.Unmarshal(v.bytes, &m)
		m["summary"] = "changed — and ünïcode"
		cb, err := canon.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := Parse(cb)
		if err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		r.Summary = r2.Summary
		if !reflect.DeepEqual(r, r2) {
			t.Fatalf("%s: changing the summary changed more:\n%+v\n%+v", v.name, r, r2)
		}
		b, err := r2.Encode()
		if err != nil || !bytes.Equal(b, cb) {
			t.Fatalf("%s: Encode(Parse(b)) != b: %v\n%s\n%s", v.name, err, b, cb)
		}
	}
	// Encode refuses what Validate refuses.
	bad := Receipt{V: 1, Ledger: "x", Seq: 1, Kind: KindManual, CreatedAt: "2026-01-02T15:04:05Z", PrevBlake3: digest.Of(nil).Blake3, KID: "alice", Summary: "s"}
	if _, err := bad.Encode(); err == nil || !strings.Contains(err.Error(), "kind manual without its manual body") {
		t.Fatalf("Encode of an invalid receipt: %v", err)
	}
}

func TestPath(t *testing.T) {
	for seq, want := range map[uint64]string{
		0:             "receipts/000/000/000000000.json",
		999:           "receipts/000/000/000000999.json",
		1000:          "receipts/000/001/000001000.json",
		1_234_567:     "receipts/001/234/001234567.json",
		999_999_999:   "receipts/999/999/999999999.json",
		1_000_000_000: "receipts/1000/000/1000000000.json",
	} {
		if got := Path(seq); got != want {
			t.Errorf("Path(%d) = %s, want %s", seq, got, want)
		}
	}
}

func TestParseHeadRejects(t *testing.T) {
	vs := loadVectors(t)
	r, _ := Parse(vs[1].bytes)
	hb, _ := HeadOf(r, vs[1].bytes).Encode()
	h := string(hb)
	for _, tc := range []struct{ name, in, err string }{
		{"version", strings.Replace(h, `"v":1`, `"v":3`, 1), "HEAD.json: version 3, want 1 or 2"},
		{"not canonical", strings.Replace(h, `"seq":1`, `"seq": 1`, 1), "HEAD.json: not in canonical JSON form"},
		{"unknown field", strings.Replace(h, `"v":1}`, `"v":1,"x":0}`, 1), `unknown field "x"`},
		{"bad digest", strings.Replace(h, `"sha256":"`, `"sha256":"X`, 1), "HEAD.json: json: digest"},
	} {
		if _, err := ParseHead([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: ParseHead = %v, want %q", tc.name, err, tc.err)
		}
	}
}

// FuzzReceiptParse: Parse never panics, and a receipt it accepts has one
// encoding: Encode(Parse(b)) == b.
func FuzzReceiptParse(f *testing.F) {
	for _, v := range loadVectors(f) {
		f.Add(v.bytes)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Parse(b)
		if err != nil {
			return
		}
		again, err := r.Encode()
		if err != nil {
			t.Fatalf("Parse accepted %q but Encode fails: %v", b, err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("Parse accepted\n%s\nbut Encode writes\n%s", b, again)
		}
	})
}
