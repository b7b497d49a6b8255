package receipt

import (
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
