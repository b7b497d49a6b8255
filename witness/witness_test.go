package witness_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/vmc-git/vmc-git/internal/litewitness"
	"github.com/vmc-git/vmc-git/merkle"
	"github.com/vmc-git/vmc-git/witness"
)

// testLog is a log of n leaves whose checkpoints are signed by one key
// named after the origin.
type testLog struct {
	origin string
	leaves []merkle.Hash
	signer note.Signer
	vkey   string
}

func newLog(t *testing.T, origin string, n int) *testLog {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	l := &testLog{origin: origin, signer: s, vkey: vkey}
	l.grow(n, "")
	return l
}

func (l *testLog) grow(k int, salt string) {
	for i := 0; i < k; i++ {
		l.leaves = append(l.leaves, merkle.LeafHash([]byte(fmt.Sprintf("%s leaf %d%s", l.origin, len(l.leaves), salt))))
	}
}

// fork returns a log with the same key and first n leaves, then others.
func (l *testLog) fork(n, more int) *testLog {
	f := &testLog{origin: l.origin, signer: l.signer, vkey: l.vkey, leaves: append([]merkle.Hash(nil), l.leaves[:n]...)}
	f.grow(more, " (fork)")
	return f
}

func (l *testLog) signed(t *testing.T, size uint64) (merkle.Checkpoint, []byte) {
	t.Helper()
	cp := merkle.Checkpoint{Origin: l.origin, Size: size, Root: merkle.RootOf(l.leaves[:size])}
	b, err := merkle.SignCheckpoint(cp, l.signer)
	if err != nil {
		t.Fatal(err)
	}
	return cp, b
}

func (l *testLog) request(t *testing.T, size, old uint64) witness.Request {
	cp, b := l.signed(t, size)
	return witness.Request{Checkpoint: cp, Signed: b, OldSize: old, Prove: func(o uint64) ([]merkle.Hash, error) {
		return merkle.ProveConsistency(l.leaves[:size], o, size)
	}}
}

func TestVerifierKeyRoundTrip(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	vk, err := witness.VerifierKey("witness.example/w1", pub)
	if err != nil {
		t.Fatal(err)
	}
	name, got, err := witness.ParseVerifierKey(vk)
	if err != nil || name != "witness.example/w1" || !bytes.Equal(got, pub) {
		t.Fatalf("round trip: %v %q %x", err, name, got)
	}
	// The C2SP example key id rule: SHA-256(name || "\n" || 0x04 || key)[:4].
	raw, _ := base64.StdEncoding.DecodeString(strings.SplitN(vk, "+", 3)[2])
	if raw[0] != 0x04 {
		t.Fatalf("type byte %x", raw[0])
	}
}

func TestParseVerifierKeyRejects(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	good, _ := witness.VerifierKey("w.example/a", pub)
	parts := strings.SplitN(good, "+", 3)
	ordinary, _ := note.NewEd25519VerifierKey("w.example/a", pub)
	short := base64.StdEncoding.EncodeToString(append([]byte{0x04}, pub[:31]...))
	for name, tc := range map[string]struct{ vkey, want string }{
		"note key type 1": {ordinary, "signature type 0x01, want 0x04"},
		"wrong key id":    {parts[0] + "+00000000+" + parts[2], "does not match the key"},
		"upper-case id":   {parts[0] + "+ABCDEF12+" + parts[2], "lower-case hex"},
		"short key":       {parts[0] + "+" + parts[1] + "+" + short, "31 key bytes"},
		"bad base64":      {parts[0] + "+" + parts[1] + "+" + parts[2][:10] + "!", "not canonical base64"},
		"space in name":   {"w example+" + parts[1] + "+" + parts[2], "space"},
		"two fields":      {parts[0] + "+" + parts[1], "want <name>+<key id>+<base64 key>"},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := witness.ParseVerifierKey(tc.vkey)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestValidURL(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:7380", "https://w.example/witness"} {
		if err := witness.ValidURL(u); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	for _, u := range []string{"ftp://x", "http://", "https://w.example/", "https://u@w.example", "https://w.example?x=1", "w.example"} {
		if err := witness.ValidURL(u); err == nil {
			t.Errorf("%s accepted", u)
		}
	}
}

// cosignLocal makes a cosignature line as a witness would, for tests of
// Check that need cosignatures a real witness would never make (future
// timestamps).
func cosignLocal(t *testing.T, name string, priv ed25519.PrivateKey, text []byte, ts uint64) string {
	sig := ed25519.Sign(priv, witness.CosignedMessage(ts, text))
	raw := binary.BigEndian.AppendUint32(nil, witness.KeyHash(name, priv.Public().(ed25519.PublicKey)))
	raw = binary.BigEndian.AppendUint64(raw, ts)
	raw = append(raw, sig...)
	return "— " + name + " " + base64.StdEncoding.EncodeToString(raw) + "\n"
}

func TestCheckFutureTimestamp(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	w := witness.Witness{Name: "w.example/a", Key: pub}
	l := newLog(t, "example.com/log", 3)
	cp, signed := l.signed(t, 3)
	now := time.Unix(1_800_000_000, 0)
	ok := append(bytes.Clone(signed), cosignLocal(t, w.Name, priv, cp.Marshal(), uint64(now.Unix()))...)
	if got, err := witness.Check(ok, []witness.Witness{w}, 1, now); err != nil || len(got) != 1 || !got[0].Time.Equal(now) {
		t.Fatalf("valid cosignature: %v %v", got, err)
	}
	late := append(bytes.Clone(signed), cosignLocal(t, w.Name, priv, cp.Marshal(), uint64(now.Add(time.Hour).Unix()))...)
	if _, err := witness.Check(late, []witness.Witness{w}, 1, now); !errors.Is(err, witness.ErrFutureCosignature) {
		t.Fatalf("future cosignature: %v", err)
	}
	// The stock note verifier reads the cosigned note (and ignores the
	// cosignature it has no key for).
	v, _ := note.NewVerifier(l.vkey)
	if _, err := note.Open(ok, note.VerifierList(v)); err != nil {
		t.Fatalf("note.Open with the log key only: %v", err)
	}
}

// TestLitewitness runs the client against a real litewitness: first
// cosignature, 409 and retry, a fork refused with 422, an unregistered
// origin, and the negative cases of Check on real cosignatures.
func TestLitewitness(t *testing.T) {
	lw := litewitness.Start(t, "witness.test/w1")
	lw2 := litewitness.Start(t, "witness.test/w2")
	l := newLog(t, "example.com/log", 5)
	other := newLog(t, "example.com/other", 5)
	lw.AddLog(l.origin, l.vkey)
	lw.AddLog(other.origin, other.vkey)
	w := lw.Witness()
	c := &witness.Client{Timeout: 10 * time.Second}
	ctx := context.Background()
	now := time.Now()

	// First cosignature: the witness starts at 0; the caller guesses 0.
	note5, res, err := witness.Cosign(ctx, c, []witness.Witness{w}, 1, l.request(t, 5, 0), now)
	if err != nil {
		t.Fatalf("cosign size 5: %v (%+v)", err, res)
	}
	got, err := witness.Check(note5, []witness.Witness{w}, 1, now)
	if err != nil || len(got) != 1 || got[0].Witness != w.Name {
		t.Fatalf("check: %v %+v", err, got)
	}
	// The stock note verifier opens the cosigned note with both keys.
	lv, _ := note.NewVerifier(l.vkey)
	wv, _ := witness.NewVerifier(w)
	if n, err := note.Open(note5, note.VerifierList(lv, wv)); err != nil || len(n.Sigs) != 2 {
		t.Fatalf("note.Open: %v", err)
	}

	// Growth with a wrong guess of the old size: 409 with 5, then a retry.
	l.grow(4, "")
	req := l.request(t, 9, 2)
	if _, err := c.AddCheckpoint(ctx, w, 2, must(merkle.ProveConsistency(l.leaves, 2, 9)), req.Signed); err == nil {
		t.Fatal("old size 2 accepted")
	} else {
		var ce *witness.ConflictError
		if !errors.As(err, &ce) || ce.Size != 5 {
			t.Fatalf("want 409 with size 5, got %v", err)
		}
	}
	note9, _, err := witness.Cosign(ctx, c, []witness.Witness{w}, 1, req, now)
	if err != nil {
		t.Fatalf("cosign 9 after a 409: %v", err)
	}

	// A fork of size 12 from size 7: the witness refuses it (422).
	f := l.fork(7, 5)
	_, res, err = witness.Cosign(ctx, c, []witness.Witness{w}, 1, f.request(t, 12, 9), now)
	var qe *witness.QuorumError
	if !errors.As(err, &qe) || !strings.Contains(res[0].Error, "fork") {
		t.Fatalf("fork cosigned: %v %+v", err, res)
	}
	// A rollback: the witness has 9, the offered checkpoint 7.
	_, res, _ = witness.Cosign(ctx, c, []witness.Witness{w}, 1, l.request(t, 7, 5), now)
	if !errors.Is(res[0].Err, witness.ErrWitnessAhead) {
		t.Fatalf("rollback: %v", res[0].Err)
	}

	// Probe: agrees at 9, reports 9 for an older checkpoint, fork at 9.
	cp9, _ := l.signed(t, 9)
	if p := witness.Probe(ctx, c, w, note9, cp9, now); p.Err != nil || !p.Agrees || p.Size != 9 {
		t.Fatalf("probe 9: %+v", p)
	}
	cp7, s7 := l.signed(t, 7)
	if p := witness.Probe(ctx, c, w, s7, cp7, now); p.Err != nil || p.Agrees || p.Fork || p.Size != 9 {
		t.Fatalf("probe 7: %+v", p)
	}
	fk := l.fork(7, 2)
	fcp, fs := fk.signed(t, 9)
	if p := witness.Probe(ctx, c, w, fs, fcp, now); p.Err != nil || !p.Fork {
		t.Fatalf("probe fork 9: %+v", p)
	}

	// A log the witness does not know: 403.
	stranger := newLog(t, "example.com/stranger", 2)
	_, res, _ = witness.Cosign(ctx, c, []witness.Witness{w}, 1, stranger.request(t, 2, 0), now)
	var se *witness.StatusError
	if !errors.As(res[0].Err, &se) || se.Code != http.StatusForbidden {
		t.Fatalf("unknown origin: %v", res[0].Err)
	}
	// A known origin signed by a key the witness was not given: 403.
	impostor := newLog(t, l.origin, 10)
	_, res, _ = witness.Cosign(ctx, c, []witness.Witness{w}, 1, impostor.request(t, 10, 9), now)
	if !errors.As(res[0].Err, &se) || se.Code != http.StatusForbidden {
		t.Fatalf("unknown log key: %v", res[0].Err)
	}

	// Negative cases of Check on real cosignatures.
	ocp, osigned := other.signed(t, 5)
	noteOther, _, err := witness.Cosign(ctx, c, []witness.Witness{w}, 1, witness.Request{Checkpoint: ocp, Signed: osigned}, now)
	if err != nil {
		t.Fatal(err)
	}
	lines := func(n []byte) string { return string(n[bytes.LastIndex(n, []byte("\n\n"))+2:]) }
	wline := func(n []byte) string {
		for _, ln := range strings.SplitAfter(lines(n), "\n") {
			if strings.HasPrefix(ln, "— "+w.Name+" ") {
				return ln
			}
		}
		t.Fatal("no witness line")
		return ""
	}
	_, s9 := l.signed(t, 9)
	_, s5 := l.signed(t, 5)
	policy := []witness.Witness{w, lw2.Witness()}
	for name, tc := range map[string]struct {
		msg       []byte
		threshold int
		want      string
	}{
		"another origin's cosignature": {append(bytes.Clone(s9), wline(noteOther)...), 1, "does not verify"},
		"another root's cosignature":   {append(bytes.Clone(s9), wline(note5)...), 1, "does not verify"},
		"no cosignature":               {s9, 1, "quorum not met: 0 valid cosignatures, witness_threshold is 1"},
		"quorum 2 of 1":                {note9, 2, "quorum not met: 1 valid cosignatures, witness_threshold is 2 (cosigned by witness.test/w1); none from witness.test/w2"},
		"flipped signature byte":       {flip(note5, len(note5)-10), 1, "does not verify"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := witness.Check(tc.msg, policy, tc.threshold, now)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	// An unknown witness's cosignature counts for nothing.
	if _, err := witness.Check(note5, []witness.Witness{lw2.Witness()}, 1, now); !errors.As(err, &qe) || qe.Have != 0 {
		t.Fatalf("unknown witness counted: %v", err)
	}
	_ = s5
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	// Flip a base64 character into another valid one.
	if c[i] == 'A' {
		c[i] = 'B'
	} else {
		c[i] = 'A'
	}
	return c
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestMisbehavingWitness: answers that do not follow the protocol, and a
// witness that never answers, each fail in bounded time with their own
// error.
func TestMisbehavingWitness(t *testing.T) {
	l := newLog(t, "example.com/log", 3)
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	hang := make(chan struct{})
	defer close(hang)
	handlers := map[string]http.HandlerFunc{
		"garbage 200": func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hello\n") },
		"no newline":  func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "— w.example/a AAAA") },
		"409 without size type": func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusConflict)
			fmt.Fprint(w, "5\n")
		},
		"409 bad size": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", witness.ContentTypeSize)
			w.WriteHeader(http.StatusConflict)
			fmt.Fprint(w, "05\n")
		},
		"huge answer": func(w http.ResponseWriter, r *http.Request) {
			w.Write(bytes.Repeat([]byte("— w.example/a AAAA\n"), 2000))
		},
		"cosignature by another key": func(w http.ResponseWriter, r *http.Request) {
			_, other, _ := ed25519.GenerateKey(rand.Reader)
			cp, _ := l.signed(t, 3)
			fmt.Fprint(w, cosignLocal(t, "w.example/a", other, cp.Marshal(), uint64(time.Now().Unix())))
		},
		"500": func(w http.ResponseWriter, r *http.Request) { http.Error(w, "database is locked", 500) },
		"hanging": func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body) // lets the server notice the client leave
			select {
			case <-hang:
			case <-r.Context().Done():
			}
		},
	}
	want := map[string]string{
		"garbage 200":                "is not a signature line",
		"no newline":                 "without newline-terminated signature lines",
		"409 without size type":      "want text/x.tlog.size",
		"409 bad size":               "is not a size",
		"huge answer":                "answer longer than",
		"cosignature by another key": "the answer has no cosignature by its key",
		"500":                        "HTTP 500",
		"hanging":                    "no answer within 300ms",
	}
	for name, h := range handlers {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(h)
			defer srv.Close()
			w := witness.Witness{Name: "w.example/a", Key: pub, URL: srv.URL}
			// Only the hanging witness meets the short timeout: an answer
			// that a loaded machine takes longer than 300 ms to make must
			// still be judged for what it says.
			c := &witness.Client{Timeout: time.Minute}
			if name == "hanging" {
				c.Timeout = 300 * time.Millisecond
			}
			start := time.Now()
			_, res, err := witness.Cosign(context.Background(), c, []witness.Witness{w}, 1, l.request(t, 3, 0), time.Now())
			if err == nil || res[0].Err == nil || !strings.Contains(res[0].Err.Error(), want[name]) {
				t.Fatalf("err = %v, want %q", res[0].Err, want[name])
			}
			if d := time.Since(start); d > 30*time.Second {
				t.Fatalf("took %s", d)
			}
		})
	}
}

func FuzzParseVerifierKey(f *testing.F) {
	pub := make([]byte, 32)
	vk, _ := witness.VerifierKey("w.example/a", pub)
	f.Add(vk)
	f.Add("a+00000000+BA==")
	f.Fuzz(func(t *testing.T, s string) {
		name, key, err := witness.ParseVerifierKey(s)
		if err != nil {
			return
		}
		again, err := witness.VerifierKey(name, key)
		if err != nil || again != s {
			t.Fatalf("%q re-encodes to %q (%v)", s, again, err)
		}
	})
}
