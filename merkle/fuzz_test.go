package merkle

import (
	"bytes"
	"encoding/base64"
	"reflect"
	"testing"
)

// FuzzParseCheckpoint: whatever parses must re-marshal to the same bytes
// (one text form per checkpoint), and Marshal output must parse back.
func FuzzParseCheckpoint(f *testing.F) {
	root := RootOf(testLeaves(5))
	f.Add(Checkpoint{Origin: testOrigin, Size: 5, Root: root}.Marshal())
	f.Add(Checkpoint{Origin: "o", Size: 0, Root: EmptyRoot}.Marshal())
	f.Add(Checkpoint{Origin: "log.example/λ", Size: ^uint64(0), Root: root}.Marshal())
	f.Add([]byte(testOrigin + "\n05\n" + base64.StdEncoding.EncodeToString(root[:]) + "\n"))
	f.Add([]byte(testOrigin + "\n5\n" + base64.StdEncoding.EncodeToString(root[:]) + "\next\n"))
	f.Add([]byte(testOrigin + "\n5\n" + base64.StdEncoding.EncodeToString(root[:])))
	f.Fuzz(func(t *testing.T, text []byte) {
		c, err := ParseCheckpoint(text)
		if err != nil {
			return
		}
		if out := c.Marshal(); !bytes.Equal(out, text) {
			t.Fatalf("ParseCheckpoint accepted a non-canonical text:\n%q\nre-marshals to\n%q", text, out)
		}
		back, err := ParseCheckpoint(c.Marshal())
		if err != nil || back != c {
			t.Fatalf("round trip: %+v -> %+v, %v", c, back, err)
		}
	})
}

// FuzzParseProofs: whatever parses must re-marshal and re-parse to the same
// value, and Verify must not panic.
func FuzzParseProofs(f *testing.F) {
	leaves := testLeaves(23)
	hs, _ := ProveInclusion(leaves, 9, 23)
	ip, _ := InclusionProof{Algorithm: Algorithm, Index: 9, Size: 23, LeafHash: leaves[9], Hashes: hs, Root: RootOf(leaves)}.Marshal()
	f.Add(ip)
	hs, _ = ProveConsistency(leaves, 6, 23)
	cp, _ := ConsistencyProof{Algorithm: Algorithm, Size1: 6, Size2: 23, Root1: RootOf(leaves[:6]), Root2: RootOf(leaves), Hashes: hs}.Marshal()
	f.Add(cp)
	f.Add([]byte(`{"algorithm":"rfc6962-sha256","index":0,"tree_size":1,"leaf_hash":"` + leaves[0].String() + `","hashes":null,"root":"` + leaves[0].String() + `"}`))
	f.Add([]byte(`{"algorithm":"rfc6962-sha256","size1":1,"size2":1,"root1":"` + leaves[0].String() + `","root2":"` + leaves[0].String() + `","hashes":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if p, err := ParseInclusionProof(data); err == nil {
			_ = p.Verify()
			b, err := p.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			back, err := ParseInclusionProof(b)
			if err != nil || !reflect.DeepEqual(back, p) {
				t.Fatalf("inclusion round trip: %+v -> %+v, %v", p, back, err)
			}
		}
		if p, err := ParseConsistencyProof(data); err == nil {
			_ = p.Verify()
			b, err := p.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			back, err := ParseConsistencyProof(b)
			if err != nil || !reflect.DeepEqual(back, p) {
				t.Fatalf("consistency round trip: %+v -> %+v, %v", p, back, err)
			}
		}
	})
}
