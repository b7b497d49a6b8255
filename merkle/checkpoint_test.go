package merkle

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

const testOrigin = "github.com/acme/infra"

func TestCheckpointMarshalRoundTrip(t *testing.T) {
	root := RootOf(testLeaves(5))
	c := Checkpoint{Origin: testOrigin, Size: 5, Root: root}
	want := testOrigin + "\n5\n" + base64.StdEncoding.EncodeToString(root[:]) + "\n"
	if got := string(c.Marshal()); got != want {
		t.Fatalf("Marshal = %q, want %q", got, want)
	}
	for _, c := range []Checkpoint{
		c,
		{Origin: "o", Size: 0, Root: EmptyRoot},
		{Origin: "example.com/log with spaces", Size: ^uint64(0), Root: LeafHash(nil)},
		{Origin: "ünïcode.example/λ", Size: 1234567890, Root: root},
	} {
		back, err := ParseCheckpoint(c.Marshal())
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		if back != c {
			t.Fatalf("round trip: %+v -> %+v", c, back)
		}
	}
}

func TestParseCheckpointMalformed(t *testing.T) {
	root := base64.StdEncoding.EncodeToString(EmptyRoot[:])
	short := base64.StdEncoding.EncodeToString(EmptyRoot[:31])
	// Same bytes, but with non-zero padding bits: strict base64 rejects it.
	sloppy := short[:len(short)-2] + "B="
	cases := []struct{ name, text, want string }{
		{"empty", "", "empty text"},
		{"missing final newline", testOrigin + "\n5\n" + root, "does not end with a newline"},
		{"too few lines", testOrigin + "\n5\n", "have 2 lines"},
		{"extra lines", testOrigin + "\n5\n" + root + "\nextension\n", "extra lines"},
		{"extra blank line", testOrigin + "\n5\n" + root + "\n\n", "extra lines"},
		{"empty origin", "\n5\n" + root + "\n", "empty origin"},
		{"origin control", "a\tb\n5\n" + root + "\n", "control character"},
		{"origin space", " " + testOrigin + "\n5\n" + root + "\n", "leading or trailing space"},
		{"origin invalid utf-8", "\xff\n5\n" + root + "\n", "not valid UTF-8"},
		{"non-decimal size", testOrigin + "\n0x5\n" + root + "\n", "not a decimal number"},
		{"negative size", testOrigin + "\n-5\n" + root + "\n", "not a decimal number"},
		{"empty size", testOrigin + "\n\n" + root + "\n", "empty, want a decimal number"},
		{"leading zero", testOrigin + "\n05\n" + root + "\n", "leading zero"},
		{"size overflow", testOrigin + "\n18446744073709551616\n" + root + "\n", "does not fit in 64 bits"},
		{"bad base64", testOrigin + "\n5\n" + root[:40] + "!!!=\n", "bad base64"},
		{"base64 padding bits", testOrigin + "\n5\n" + sloppy + "\n", "bad base64"},
		{"short root", testOrigin + "\n5\n" + short + "\n", "have 31 bytes"},
		{"carriage return", testOrigin + "\n5\n" + root[:20] + "\r" + root[20:] + "\n", "not canonical base64"},
	}
	seen := map[string]string{}
	for _, tc := range cases {
		_, err := ParseCheckpoint([]byte(tc.text))
		if err == nil {
			t.Errorf("%s: accepted %q", tc.name, tc.text)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %q, want it to contain %q", tc.name, err, tc.want)
		}
		if !strings.HasPrefix(err.Error(), "checkpoint: ") {
			t.Errorf("%s: err = %q lacks context prefix", tc.name, err)
		}
		// Different kinds of damage must be told apart.
		if other, ok := seen[err.Error()]; ok && other != tc.want {
			t.Errorf("%s and a %q case give the same error %q", tc.name, other, err)
		}
		seen[err.Error()] = tc.want
	}
}

// testKey is an Ed25519 key with its note signer and verifiers.
type testKey struct {
	name     string
	priv     ed25519.PrivateKey
	pub      ed25519.PublicKey
	signer   note.Signer
	verifier note.Verifier
}

func newTestKey(t testing.TB, name string) testKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewNoteSigner(name, pub, func(msg []byte) ([]byte, error) { return ed25519.Sign(priv, msg), nil })
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := VerifierKey(name, pub)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{name, priv, pub, s, v}
}

func (k testKey) verifiers() note.Verifiers { return note.VerifierList(k.verifier) }

// TestNoteSignerMatchesNote checks NewNoteSigner against note's own signer
// for the same key: same key hash, byte-identical signed notes.
func TestNoteSignerMatchesNote(t *testing.T) {
	k := newTestKey(t, testOrigin)
	skey := fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", k.name, NoteKeyHash(k.name, k.pub),
		base64.StdEncoding.EncodeToString(append([]byte{1}, k.priv.Seed()...)))
	ref, err := note.NewSigner(skey)
	if err != nil {
		t.Fatalf("note.NewSigner rejects our key hash: %v", err)
	}
	if ref.KeyHash() != k.signer.KeyHash() || ref.Name() != k.signer.Name() {
		t.Fatalf("key hash %08x, note computes %08x", k.signer.KeyHash(), ref.KeyHash())
	}
	vkey, _ := VerifierKey(k.name, k.pub)
	refV, err := note.NewEd25519VerifierKey(k.name, k.pub)
	if err != nil || vkey != refV {
		t.Fatalf("VerifierKey = %q, note = %q (%v)", vkey, refV, err)
	}
	c := Checkpoint{Origin: testOrigin, Size: 42, Root: RootOf(testLeaves(42))}
	ours, err := SignCheckpoint(c, k.signer)
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := note.Sign(&note.Note{Text: string(c.Marshal())}, ref)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ours, theirs) {
		t.Fatalf("signed notes differ:\n%s\n%s", ours, theirs)
	}
	got, n, err := OpenCheckpoint(ours, k.verifiers())
	if err != nil {
		t.Fatal(err)
	}
	if got != c || len(n.Sigs) != 1 || n.Sigs[0].Name != testOrigin {
		t.Fatalf("OpenCheckpoint = %+v, %+v", got, n)
	}
}

func TestNoteSignerErrors(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	ok := func(msg []byte) ([]byte, error) { return nil, nil }
	if _, err := NewNoteSigner("bad name", pub, ok); err == nil {
		t.Error("accepted a name with a space")
	}
	if _, err := NewNoteSigner("a+b", pub, ok); err == nil {
		t.Error("accepted a name with '+'")
	}
	if _, err := NewNoteSigner("n", pub[:31], ok); err == nil {
		t.Error("accepted a short public key")
	}
	if _, err := VerifierKey("", pub); err == nil {
		t.Error("VerifierKey accepted an empty name")
	}
	// The agent holds a different key: the signer must refuse, not emit a
	// checkpoint nobody can verify.
	s, err := NewNoteSigner("n", pub, func(msg []byte) ([]byte, error) { return ed25519.Sign(other, msg), nil })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := SignCheckpoint(Checkpoint{Origin: "o", Size: 1, Root: EmptyRoot}, s); err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Errorf("signing with the wrong private key: err = %v", err)
	}
	boom := errors.New("agent refused")
	s, _ = NewNoteSigner("n", pub, func(msg []byte) ([]byte, error) { return nil, boom })
	if _, err := SignCheckpoint(Checkpoint{Origin: "o", Size: 1, Root: EmptyRoot}, s); !errors.Is(err, boom) {
		t.Errorf("agent error not wrapped: %v", err)
	}
	if _, err := SignCheckpoint(Checkpoint{Origin: "", Size: 1, Root: EmptyRoot}, s); err == nil {
		t.Error("signed a checkpoint with an empty origin")
	}
}

func TestOpenCheckpointNegative(t *testing.T) {
	k := newTestKey(t, testOrigin)
	other := newTestKey(t, testOrigin) // same name, different key
	c := Checkpoint{Origin: testOrigin, Size: 7, Root: RootOf(testLeaves(7))}
	signed, err := SignCheckpoint(c, k.signer)
	if err != nil {
		t.Fatal(err)
	}
	byOther, _ := SignCheckpoint(c, other.signer)
	tamperedText := bytes.Replace(signed, []byte("\n7\n"), []byte("\n8\n"), 1)
	sigAt := bytes.LastIndex(signed, []byte(" ")) + 1
	tamperedSig := append([]byte(nil), signed...)
	if tamperedSig[sigAt+10] == 'A' {
		tamperedSig[sigAt+10] = 'B'
	} else {
		tamperedSig[sigAt+10] = 'A'
	}
	// A well-signed note whose text is not a valid checkpoint.
	badText, _ := note.Sign(&note.Note{Text: testOrigin + "\n7\n"}, k.signer)

	cases := []struct {
		name string
		msg  []byte
		want string
	}{
		{"other key", byOther, "no signature by a known key"},
		{"tampered text", tamperedText, "invalid signature"},
		{"tampered signature", tamperedSig, "invalid signature"},
		{"no signature block", c.Marshal(), "malformed note"},
		{"valid signature, bad checkpoint", badText, "checkpoint: have 2 lines"},
	}
	for _, tc := range cases {
		_, _, err := OpenCheckpoint(tc.msg, k.verifiers())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, _, err := OpenCheckpoint(signed, k.verifiers()); err != nil {
		t.Fatalf("untampered: %v", err)
	}
	// Co-signed by both keys: opens with either.
	both, err := SignCheckpoint(c, k.signer, other.signer)
	if err != nil {
		t.Fatal(err)
	}
	for _, kk := range []testKey{k, other} {
		if _, n, err := OpenCheckpoint(both, kk.verifiers()); err != nil || len(n.Sigs) != 1 || len(n.UnverifiedSigs) != 1 {
			t.Errorf("co-signed: %v", err)
		}
	}
}
