package gitledger

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/receipt"
)

// Commit message trailer keys.
const (
	TrailerSeq        = "Vmc-Seq"
	TrailerBlake3     = "Vmc-Blake3"
	TrailerPrevBlake3 = "Vmc-Prev-Blake3"
	TrailerKid        = "Vmc-Kid"
)

// subjectPrefix starts every ledger commit's subject line.
const subjectPrefix = "vmc: "

// Trailers are the machine-readable lines of a ledger commit message.
type Trailers struct {
	Seq        uint64
	Blake3     digest.Digest
	PrevBlake3 digest.Digest
	KID        string
	Kind       receipt.Kind
	Summary    string
}

// Message renders the commit message for a receipt with blake3 sum:
//
//	vmc: <seq> <kind> <summary>
//
//	Vmc-Seq: <seq>
//	Vmc-Blake3: <hex>
//	Vmc-Prev-Blake3: <hex>
//	Vmc-Kid: <kid>
func Message(r *receipt.Receipt, sum digest.Digest) string {
	// Appended, not formatted: verify renders one message a receipt.
	b := make([]byte, 0, 2*len(subjectPrefix)+len(r.Kind)+len(r.Summary)+len(r.KID)+2*20+2*64+64)
	b = strconv.AppendUint(append(b, subjectPrefix...), r.Seq, 10)
	b = append(append(append(append(append(b, ' '), r.Kind...), ' '), r.Summary...), "\n\n"...)
	b = append(strconv.AppendUint(append(b, TrailerSeq+": "...), r.Seq, 10), '\n')
	b = append(hex.AppendEncode(append(b, TrailerBlake3+": "...), sum[:]), '\n')
	b = append(hex.AppendEncode(append(b, TrailerPrevBlake3+": "...), r.PrevBlake3[:]), '\n')
	b = append(append(append(b, TrailerKid+": "...), r.KID...), '\n')
	return string(b)
}

// messageKID returns the kid of the last trailer of a raw ledger commit
// (what ParseMessage returns as KID when it accepts the message), or false.
func messageKID(raw []byte) (string, bool) {
	body, ok := bytes.CutSuffix(raw, []byte("\n"))
	if !ok {
		return "", false
	}
	line := body[bytes.LastIndexByte(body, '\n')+1:]
	kid, ok := bytes.CutPrefix(line, []byte(TrailerKid+": "))
	return string(kid), ok
}

// ParseMessage reads a ledger commit message strictly: the exact layout
// Message writes, nothing before, between or after.
func ParseMessage(msg string) (Trailers, error) {
	var t Trailers
	subject, rest, ok := strings.Cut(msg, "\n\n")
	if !ok {
		return t, fmt.Errorf("commit message: no blank line after the subject")
	}
	if !strings.HasPrefix(subject, subjectPrefix) || strings.Contains(subject, "\n") {
		return t, fmt.Errorf("commit message: subject %q does not start with %q", clip(subject), subjectPrefix)
	}
	f := strings.SplitN(strings.TrimPrefix(subject, subjectPrefix), " ", 3)
	if len(f) != 3 {
		return t, fmt.Errorf("commit message: subject %q: want %q", clip(subject), "vmc: <seq> <kind> <summary>")
	}
	seq, err := parseSeq(f[0])
	if err != nil {
		return t, fmt.Errorf("commit message: subject: %w", err)
	}
	t.Kind, t.Summary = receipt.Kind(f[1]), f[2]
	if !strings.HasSuffix(rest, "\n") {
		return t, fmt.Errorf("commit message: no final newline")
	}
	lines := strings.Split(strings.TrimSuffix(rest, "\n"), "\n")
	want := []string{TrailerSeq, TrailerBlake3, TrailerPrevBlake3, TrailerKid}
	if len(lines) != len(want) {
		return t, fmt.Errorf("commit message: %d trailer lines, want %d", len(lines), len(want))
	}
	for i, line := range lines {
		k, v, ok := strings.Cut(line, ": ")
		if !ok || k != want[i] {
			return t, fmt.Errorf("commit message: trailer %d is %q, want %s", i+1, clip(line), want[i])
		}
		switch k {
		case TrailerSeq:
			if t.Seq, err = parseSeq(v); err == nil && t.Seq != seq {
				err = fmt.Errorf("%s %d differs from the subject's %d", TrailerSeq, t.Seq, seq)
			}
		case TrailerBlake3:
			t.Blake3, err = digest.Parse(v)
		case TrailerPrevBlake3:
			t.PrevBlake3, err = digest.Parse(v)
		case TrailerKid:
			t.KID, err = v, keys.ValidKID(v)
		}
		if err != nil {
			return t, fmt.Errorf("commit message: %s: %w", k, err)
		}
	}
	return t, nil
}

func parseSeq(s string) (uint64, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || strconv.FormatUint(n, 10) != s {
		return 0, fmt.Errorf("bad seq %q", clip(s))
	}
	return n, nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
