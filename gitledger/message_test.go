package gitledger

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/receipt"
)

func messageSeeds() []string {
	var d1, d2 digest.Digest
	for i := range d1 {
		d1[i], d2[i] = byte(i), byte(255-i)
	}
	rs := []receipt.Receipt{
		{Seq: 0, Kind: receipt.KindGenesis, Summary: "genesis of github.com/acme/infra", KID: "alice"},
		{Seq: 1, Kind: receipt.KindManual, Summary: "rebooted web-1 by hand", PrevBlake3: d1, KID: "ops@acme.example"},
		{Seq: 42, Kind: receipt.KindApply, Summary: "apply plan 2026-01-02.a: 3 actions", PrevBlake3: d2, KID: "ci"},
		{Seq: 18446744073709551615, Kind: receipt.KindKeys, Summary: "trust bob (approver) — ünïcode", PrevBlake3: d1, KID: "a.b_c-d"},
	}
	var out []string
	for i := range rs {
		out = append(out, Message(&rs[i], d2))
	}
	return out
}

// TestMessageRoundTrip: ParseMessage reads back what Message writes.
func TestMessageRoundTrip(t *testing.T) {
	var sum digest.Digest
	sum[0] = 0xab
	r := receipt.Receipt{Seq: 7, Kind: receipt.KindAttestation, Summary: "drift report: 0 servers differ", PrevBlake3: digest.Of([]byte("x")).Blake3, KID: "ci"}
	msg := Message(&r, sum)
	want := "vmc: 7 attestation drift report: 0 servers differ\n\nVmc-Seq: 7\nVmc-Blake3: ab" + strings.Repeat("0", 62) +
		"\nVmc-Prev-Blake3: " + r.PrevBlake3.String() + "\nVmc-Kid: ci\n"
	if msg != want {
		t.Fatalf("Message:\n%q\nwant\n%q", msg, want)
	}
	got, err := ParseMessage(msg)
	if err != nil {
		t.Fatal(err)
	}
	if (got != Trailers{Seq: 7, Blake3: sum, PrevBlake3: r.PrevBlake3, KID: "ci", Kind: receipt.KindAttestation, Summary: r.Summary}) {
		t.Fatalf("ParseMessage: %+v", got)
	}
	for _, m := range messageSeeds() {
		if err := roundTripMessage(m); err != nil {
			t.Errorf("%q: %v", m, err)
		}
	}
}

// roundTripMessage checks that a message ParseMessage accepts is exactly the
// one Message renders for what was parsed: one message per receipt.
func roundTripMessage(msg string) error {
	tr, err := ParseMessage(msg)
	if err != nil {
		return err
	}
	r := receipt.Receipt{Seq: tr.Seq, Kind: tr.Kind, Summary: tr.Summary, PrevBlake3: tr.PrevBlake3, KID: tr.KID}
	if again := Message(&r, tr.Blake3); again != msg {
		return &roundTripError{msg, again}
	}
	return nil
}

type roundTripError struct{ in, out string }

func (e *roundTripError) Error() string {
	return "accepted " + quote(e.in) + " but renders it as " + quote(e.out)
}

func quote(s string) string { return strings.ReplaceAll(s, "\n", `\n`) }

func TestParseMessageRejects(t *testing.T) {
	good := messageSeeds()[1]
	lines := strings.Split(good, "\n")
	for _, tc := range []struct{ name, msg, err string }{
		{"empty", "", "no blank line after the subject"},
		{"no trailers", "vmc: 1 manual x\n", "no blank line after the subject"},
		{"wrong prefix", "VMC: 1 manual x\n\n", "does not start with"},
		{"subject two lines", "vmc: 1 manual x\ny\n\n", "does not start with"},
		{"subject too short", "vmc: 1 manual\n\n", "want \"vmc: <seq> <kind> <summary>\""},
		{"subject seq leading zero", strings.Replace(good, "vmc: 1 ", "vmc: 01 ", 1), `subject: bad seq "01"`},
		{"subject seq sign", strings.Replace(good, "vmc: 1 ", "vmc: +1 ", 1), `subject: bad seq "+1"`},
		{"no final newline", strings.TrimSuffix(good, "\n"), "no final newline"},
		{"extra blank line at the end", good + "\n", "5 trailer lines, want 4"},
		{"trailer missing", strings.Join(append(lines[:3:3], lines[4:]...), "\n"), "3 trailer lines, want 4"},
		{"trailers swapped", strings.Join([]string{lines[0], lines[1], lines[3], lines[2], lines[4], lines[5], ""}, "\n"), "trailer 1 is \"Vmc-Blake3"},
		{"trailer without space", strings.Replace(good, "Vmc-Kid: ", "Vmc-Kid:", 1), `trailer 4 is "Vmc-Kid:ops`},
		{"trailer key case", strings.Replace(good, "Vmc-Kid: ", "vmc-kid: ", 1), "want Vmc-Kid"},
		{"seq differs", strings.Replace(good, "Vmc-Seq: 1", "Vmc-Seq: 2", 1), "Vmc-Seq 2 differs from the subject's 1"},
		{"blake3 upper case", strings.Replace(good, "Vmc-Blake3: ff", "Vmc-Blake3: FF", 1), "not lower-case hex at position 0"},
		{"blake3 short", strings.Replace(good, "Vmc-Blake3: ff", "Vmc-Blake3: f", 1), "want 64 hex digits, have 63"},
		{"prev_blake3 bad", strings.Replace(good, "Vmc-Prev-Blake3: 00", "Vmc-Prev-Blake3: 0g", 1), "Vmc-Prev-Blake3: digest"},
		{"kid invalid", strings.Replace(good, "Vmc-Kid: ops", "Vmc-Kid: Ops", 1), "Vmc-Kid: invalid key id"},
		{"trailing space", strings.Replace(good, "Vmc-Kid: ops@acme.example", "Vmc-Kid: ops@acme.example ", 1), "Vmc-Kid: invalid key id"},
		{"CRLF", strings.ReplaceAll(good, "\n", "\r\n"), "no blank line after the subject"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseMessage(tc.msg)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("ParseMessage(%q) = %v, want an error with %q", tc.msg, err, tc.err)
			}
			if !strings.HasPrefix(err.Error(), "commit message") {
				t.Errorf("error %q does not say it is about the commit message", err)
			}
		})
	}
}

// FuzzParseMessage: ParseMessage never panics, and what it accepts is
// exactly what Message renders (no second spelling of a message).
func FuzzParseMessage(f *testing.F) {
	for _, m := range messageSeeds() {
		f.Add(m)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		if err := roundTripMessage(msg); err != nil {
			if _, ok := err.(*roundTripError); ok {
				t.Fatal(err)
			}
		}
	})
}

// TestMessageAsFmt: Message writes what its format string says, and
// messageKID finds the kid ParseMessage finds.
func TestMessageAsFmt(t *testing.T) {
	for i, r := range []receipt.Receipt{
		{Seq: 0, Kind: receipt.KindGenesis, Summary: "genesis", KID: "alice"},
		{Seq: 123456789, Kind: receipt.KindApply, Summary: "apply plan x: create server web-1 (a: b)", KID: "ci-bot", PrevBlake3: digest.Digest{1, 2, 3}},
		{Seq: 1<<64 - 1, Kind: receipt.KindManual, Summary: "", KID: "k"},
	} {
		sum := digest.Digest{0xff, 9}
		want := fmt.Sprintf("%s%d %s %s\n\n%s: %d\n%s: %s\n%s: %s\n%s: %s\n",
			subjectPrefix, r.Seq, r.Kind, r.Summary,
			TrailerSeq, r.Seq, TrailerBlake3, sum, TrailerPrevBlake3, r.PrevBlake3, TrailerKid, r.KID)
		if got := Message(&r, sum); got != want {
			t.Fatalf("%d: Message\n%q, want\n%q", i, got, want)
		}
		raw := []byte("tree x\n\n" + want)
		kid, ok := messageKID(raw)
		if tr, err := ParseMessage(want); err == nil && (!ok || kid != tr.KID) {
			t.Fatalf("%d: messageKID %q %v, ParseMessage's %q", i, kid, ok, tr.KID)
		}
	}
	for _, raw := range []string{"", "\n", "Vmc-Kid: a", "x\nVmc-Kid: a\n\n", "x\nVmc-Kid:a\n", "x\nvmc-kid: a\n"} {
		if kid, ok := messageKID([]byte(raw)); ok {
			t.Fatalf("messageKID(%q) = %q", raw, kid)
		}
	}
	if kid, ok := messageKID([]byte("a\nVmc-Kid: bob\n")); !ok || kid != "bob" {
		t.Fatalf("messageKID: %q %v", kid, ok)
	}
}
