package witness_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/vmc-git/vmc-git/merkle"
	"github.com/vmc-git/vmc-git/witness"
)

// FuzzCheckCosigned feeds cosigned checkpoint notes (a snapshot tag's
// message, pushed by anyone who can push) to what the hook and verify run
// on them: merkle.OpenCheckpoint and witness.Check, both over
// x/mod/sumdb/note.
func FuzzCheckCosigned(f *testing.F) {
	const origin = "example.com/log"
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		f.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		f.Fatal(err)
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		f.Fatal(err)
	}
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	w := witness.Witness{Name: "w.example/a", Key: pub}
	leaves := []merkle.Hash{merkle.LeafHash([]byte("a")), merkle.LeafHash([]byte("b")), merkle.LeafHash([]byte("c"))}
	cp := merkle.Checkpoint{Origin: origin, Size: 3, Root: merkle.RootOf(leaves)}
	signed, err := merkle.SignCheckpoint(cp, signer)
	if err != nil {
		f.Fatal(err)
	}
	text := cp.Marshal()
	const ts = 1_800_000_000
	raw := binary.BigEndian.AppendUint32(nil, witness.KeyHash(w.Name, pub))
	raw = binary.BigEndian.AppendUint64(raw, ts)
	raw = append(raw, ed25519.Sign(priv, witness.CosignedMessage(ts, text))...)
	cosigned := append(append([]byte(nil), signed...), "— "+w.Name+" "+base64.StdEncoding.EncodeToString(raw)+"\n"...)
	now := time.Unix(ts, 0)
	if got, err := witness.Check(cosigned, []witness.Witness{w}, 1, now); err != nil || len(got) != 1 {
		f.Fatalf("the seed does not verify: %v", err)
	}
	if _, _, err := merkle.OpenCheckpoint(cosigned, note.VerifierList(verifier)); err != nil {
		f.Fatal(err)
	}
	f.Add(cosigned)
	f.Add(signed)
	f.Fuzz(func(t *testing.T, msg []byte) {
		merkle.OpenCheckpoint(msg, note.VerifierList(verifier))
		got, err := witness.Check(msg, []witness.Witness{w}, 1, now)
		if err == nil && len(got) != 1 {
			t.Fatalf("quorum of 1 met with %d cosignatures", len(got))
		}
	})
}
