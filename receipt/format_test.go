package receipt

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/internal/digest"
)

func TestPathIn(t *testing.T) {
	for seq, want := range map[uint64]string{
		0:           "receipts/000/00/00/0/000000000.json",
		7:           "receipts/000/00/00/0/000000007.json",
		10:          "receipts/000/00/00/1/000000010.json",
		1234:        "receipts/000/00/12/3/000001234.json",
		99_999:      "receipts/000/09/99/9/000099999.json",
		123_456_789: "receipts/123/45/67/8/123456789.json",
	} {
		if got := PathIn(Format2, seq); got != want {
			t.Errorf("PathIn(2, %d) = %s, want %s", seq, got, want)
		}
		dirs, name := Dirs(Format2, seq)
		if got := "receipts/" + strings.Join(dirs, "/") + "/" + name; got != want {
			t.Errorf("Dirs(2, %d) = %s, want %s", seq, got, want)
		}
		if PathIn(Format1, seq) != Path(seq) {
			t.Errorf("PathIn(1, %d) = %s, want Path's %s", seq, PathIn(Format1, seq), Path(seq))
		}
		if got := FileName(seq); got != fmt.Sprintf("%09d.json", seq) {
			t.Fatalf("FileName(%d) = %s", seq, got)
		}
		dirs, name = Dirs(Format1, seq)
		if got := "receipts/" + strings.Join(dirs, "/") + "/" + name; got != Path(seq) {
			t.Errorf("Dirs(1, %d) = %s, want %s", seq, got, Path(seq))
		}
	}
}

func TestHeadFormats(t *testing.T) {
	r := &Receipt{Ledger: "github.com/acme/infra", Seq: 12, CreatedAt: "2026-01-01T00:00:00Z"}
	for _, f := range []int{Format1, Format2} {
		h := HeadIn(f, r, digest.Sums{})
		b, err := h.Encode()
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseHead(b)
		if err != nil || back != h || back.V != f || back.Path != PathIn(f, 12) {
			t.Fatalf("format %d: %+v, %v", f, back, err)
		}
	}
	h := HeadIn(Format2, r, digest.Sums{})
	h.V = 3
	b, _ := h.Encode()
	if _, err := ParseHead(b); err == nil {
		t.Fatal("HEAD.json v 3 accepted")
	}
}

// TestPathsAsFmt: the paths built without fmt are fmt's, for any seq (the
// widths are minimums: a seq past 999,999,999 widens its fields).
func TestPathsAsFmt(t *testing.T) {
	seqs := []uint64{0, 1, 9, 10, 99, 100, 999, 1000, 9999, 10_000, 999_999, 1_000_000, 123_456_789, 999_999_999, 1_000_000_000, 1<<64 - 1}
	for s := uint64(1); s < 1<<62; s = s*7 + 3 {
		seqs = append(seqs, s)
	}
	for v := uint64(0); v < 1100; v++ {
		for w := 1; w <= 4; w++ {
			if got, want := padded(v, w), fmt.Sprintf("%0*d", w, v); got != want {
				t.Fatalf("padded(%d, %d) = %q, want %q", v, w, got, want)
			}
		}
	}
	for _, seq := range seqs {
		want := fmt.Sprintf("receipts/%03d/%02d/%02d/%d/%09d.json", seq/1_000_000, (seq/10_000)%100, (seq/100)%100, (seq/10)%10, seq)
		if got := PathIn(Format2, seq); got != want {
			t.Fatalf("PathIn(2, %d) = %s, want %s", seq, got, want)
		}
		dirs, name := Dirs(Format2, seq)
		if got := "receipts/" + strings.Join(dirs, "/") + "/" + name; got != want {
			t.Fatalf("Dirs(2, %d) = %s, want %s", seq, got, want)
		}
		if got := FileName(seq); got != fmt.Sprintf("%09d.json", seq) {
			t.Fatalf("FileName(%d) = %s", seq, got)
		}
		dirs, name = Dirs(Format1, seq)
		want = fmt.Sprintf("%03d/%03d/%09d.json", seq/1_000_000, (seq/1000)%1000, seq)
		if got := strings.Join(dirs, "/") + "/" + name; got != want {
			t.Fatalf("Dirs(1, %d) = %s, want %s", seq, got, want)
		}
	}
}
