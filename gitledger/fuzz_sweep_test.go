package gitledger

import (
	"bytes"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vmc-git/vmc-git/merkle"
)

// FuzzParseTag: a pushed snapshot tag object is split into its fields (and
// its message's checkpoint read) without a panic, and a tag as vmc-git
// writes it parses back to its fields.
func FuzzParseTag(f *testing.F) {
	cp := merkle.Checkpoint{Origin: "github.com/acme/infra", Size: 5, Root: merkle.EmptyRoot}
	ti := tagInfo{object: plumbing.NewHash("4b825dc642cb6eb9a060e54bf8d69288fbee4904"), name: "vmc/merkle/5", ident: "vmc-git <alice>",
		when: 1764576000, message: string(cp.Marshal()) + "\n— github.com/acme/infra AAAA\n",
		signature: "-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n"}
	f.Add(ti.encode(true))
	f.Add([]byte("tagger x> \n\n-----BEGIN SSH SIGNATURE-----\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, err := parseTag(raw)
		if err != nil {
			return
		}
		if !bytes.HasSuffix(raw, []byte(got.signature)) || !strings.HasPrefix(got.signature, "-----BEGIN SSH SIGNATURE-----\n") {
			t.Fatalf("signature %q is not the end of the tag", got.signature)
		}
		body, _, _ := strings.Cut(got.message, "\n\n")
		merkle.ParseCheckpoint([]byte(body + "\n"))
		if got.ident == "" { // no tagger line: not a tag vmc-git writes
			return
		}
		if again, err := parseTag(got.encode(true)); err != nil || again != got {
			t.Fatalf("%+v encodes to a tag that parses as %+v (%v)", got, again, err)
		}
	})
}
