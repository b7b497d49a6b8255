package gitobj

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

// FuzzApplyDelta: the pack reader's delta decoder, on any base and delta,
// either refuses or returns exactly the target size its header names, and
// inverts makeDelta.
func FuzzApplyDelta(f *testing.F) {
	base := []byte(`{"created_at":"2026-12-01T00:00:00Z","ledger":"example.com/x","seq":1,"v":1}`)
	target := []byte(`{"created_at":"2026-12-01T00:00:09Z","ledger":"example.com/x","seq":2,"v":1}`)
	f.Add(base, makeDelta(base, target))
	f.Add(base, []byte{byte(len(base)), 3, 0x91, 0x00, 0x03})
	f.Add([]byte{}, []byte{0, 0})
	f.Fuzz(func(t *testing.T, base, delta []byte) {
		out, err := applyDelta(base, delta)
		if err == nil && int64(len(out)) != deltaTarget(delta) {
			t.Fatalf("delta names %d bytes, gave %d", deltaTarget(delta), len(out))
		}
		if len(delta) > 0 && len(delta) < 4096 {
			again, err := applyDelta(base, makeDelta(base, delta))
			if err != nil || !bytes.Equal(again, delta) {
				t.Fatalf("makeDelta does not round trip: %v", err)
			}
		}
	})
}

// FuzzParseCommitHeaders: a pushed commit's headers and any tree of main
// (ParseAnyTree) are read without a panic, and a tree ParseAnyTree accepts
// re-encodes to itself.
func FuzzParseCommitHeaders(f *testing.F) {
	id := plumbing.NewHash("4b825dc642cb6eb9a060e54bf8d69288fbee4904")
	c := CommitInfo{Tree: id, Parent: id, Ident: "vmc-git ci", When: 1764576000, Message: "receipt 1\n",
		Signature: "-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n"}
	f.Add(c.Encode(true))
	f.Add(EncodeTree(sampleTree()))
	f.Add([]byte("gpgsig x\n \n y\n\nm"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		tree, ps, _, err := ParseCommitHeaders(raw)
		// ParseCommitParents gives the same tree, parents and error.
		tree2, ps2, err2 := ParseCommitParents(raw)
		if tree2 != tree || !slices.Equal(ps2, ps) || fmt.Sprint(err2) != fmt.Sprint(err) {
			t.Fatalf("ParseCommitParents(%q) = %s %v %v, ParseCommitHeaders %s %v %v", raw, tree2, ps2, err2, tree, ps, err)
		}
		if es, err := ParseAnyTree(raw); err == nil {
			var b []byte
			for _, e := range es {
				b = AppendTreeEntry(b, e)
			}
			if !bytes.Equal(b, raw) {
				t.Fatalf("ParseAnyTree accepted %q, which encodes as %q", raw, b)
			}
		}
	})
}
