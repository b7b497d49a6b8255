package keys

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"
)

// sameSignature compares two parsed signatures field by field.
func sameSignature(a, b *sshsig.Signature) bool {
	return a.Version == b.Version && a.Namespace == b.Namespace && a.HashAlgorithm == b.HashAlgorithm &&
		a.PublicKey.Type() == b.PublicKey.Type() && bytes.Equal(a.PublicKey.Marshal(), b.PublicKey.Marshal()) &&
		a.Signature.Format == b.Signature.Format && bytes.Equal(a.Signature.Blob, b.Signature.Blob) &&
		len(a.Signature.Rest) == len(b.Signature.Rest) && fmt.Sprintf("%T", a.PublicKey) == fmt.Sprintf("%T", b.PublicKey)
}

// wireSig builds an SSHSIG blob field by field, for the fuzz seeds.
func wireSig(version uint32, keyAlg string, key []byte, ns, reserved, hash, sigAlg string, sig, after, inner []byte) []byte {
	str := func(b []byte, s []byte) []byte { return append(binary.BigEndian.AppendUint32(b, uint32(len(s))), s...) }
	var k, s []byte
	k = str(str(k, []byte(keyAlg)), key)
	s = append(str(str(s, []byte(sigAlg)), sig), inner...)
	b := binary.BigEndian.AppendUint32([]byte("SSHSIG"), version)
	b = str(str(str(str(b, k), []byte(ns)), []byte(reserved)), []byte(hash))
	return append(str(b, s), after...)
}

// armorRaw armors raw bytes the way Armor does.
func armorRaw(raw []byte) []byte {
	b64 := base64.StdEncoding.EncodeToString(raw)
	var b bytes.Buffer
	b.WriteString(armorBegin)
	for len(b64) > armorWidth {
		b.WriteString(b64[:armorWidth] + "\n")
		b64 = b64[armorWidth:]
	}
	b.WriteString(b64 + "\n" + armorEnd)
	return b.Bytes()
}

// checkParseSame: ParseSignature (with its fast paths) and the reference
// give the same signature or the same error message.
func checkParseSame(t *testing.T, armored []byte) {
	got, err := ParseSignature(armored)
	want, werr := parseSignatureGeneral(armored)
	switch {
	case (err == nil) != (werr == nil):
		t.Fatalf("ParseSignature: %v; reference: %v (input %q)", err, werr, armored)
	case err != nil && err.Error() != werr.Error():
		t.Fatalf("ParseSignature: %q; reference: %q (input %q)", err, werr, armored)
	case err == nil && !sameSignature(got, want):
		t.Fatalf("ParseSignature and the reference differ on %q", armored)
	}
	// The wire fast path alone: what it accepts, the library accepts as
	// the same signature, within the strict rules.
	if raw := armored; len(raw) > 0 {
		if w := parseWire(raw); w != nil {
			ref, err := sshsig.ParseSignature(raw)
			if err != nil || ref.HashAlgorithm != hashAlg || strictEncoding(ref) != nil || !bytes.Equal(ref.Marshal(), raw) || !sameSignature(w, ref) {
				t.Fatalf("parseWire accepted %x, which the general parse refuses or reads differently (%v)", raw, err)
			}
		}
	}
}

func sigSeeds(t testing.TB) [][]byte {
	_, priv, _ := ed25519.GenerateKey(nil)
	signer, _ := ssh.NewSignerFromKey(priv)
	good, err := sshsig.Sign(bytes.NewReader([]byte("m")), signer, hashAlg, NamespaceReceipt)
	if err != nil {
		t.Fatal(err)
	}
	raw := good.Marshal()
	key, sig := make([]byte, 32), make([]byte, 64)
	var out [][]byte
	for _, r := range [][]byte{
		raw,
		wireSig(1, "ssh-ed25519", key, "git", "", "sha512", "ssh-ed25519", sig, nil, nil),
		wireSig(2, "ssh-ed25519", key, "git", "", "sha512", "ssh-ed25519", sig, nil, nil),
		wireSig(1, "ssh-ed25519", key[:31], "git", "", "sha512", "ssh-ed25519", sig, nil, nil),
		wireSig(1, "ssh-ed25519", key, "git", "x", "sha512", "ssh-ed25519", sig, nil, nil),
		wireSig(1, "ssh-ed25519", key, "git", "", "sha256", "ssh-ed25519", sig, nil, nil),
		wireSig(1, "ssh-ed25519", key, "git", "", "sha512", "ssh-rsa", sig, nil, nil),
		wireSig(1, "ssh-ed25519", key, "git", "", "sha512", "ssh-ed25519", sig[:63], nil, nil),
		wireSig(1, "ssh-ed25519", key, "git", "", "sha512", "ssh-ed25519", sig, []byte{0}, nil),
		wireSig(1, "ssh-ed25519", key, "git", "", "sha512", "ssh-ed25519", sig, nil, []byte{0, 0, 0, 0}),
		wireSig(1, "ssh-rsa", key, "git", "", "sha512", "ssh-ed25519", sig, nil, nil),
		raw[:len(raw)-1],
	} {
		out = append(out, r, armorRaw(r))
	}
	return append(out, Armor(good), []byte(armorBegin+armorEnd), []byte(armorBegin+"\n"+armorEnd))
}

// TestParseSignatureFastPaths: the fast paths give the reference's answer
// on the good signature and on each field broken in turn.
func TestParseSignatureFastPaths(t *testing.T) {
	seeds := sigSeeds(t)
	if parseWire(seeds[0]) == nil || parseWire(seeds[2]) == nil {
		t.Fatal("parseWire refused a good signature")
	}
	for i := 4; i < 24; i += 2 {
		if parseWire(seeds[i]) != nil {
			t.Fatalf("parseWire accepted bad seed %d", i/2)
		}
	}
	for _, s := range seeds {
		checkParseSame(t, s)
	}
}

// FuzzParseSignatureFastPaths is a differential fuzz of ParseSignature (with the
// direct armor and wire parsers) against the general parse.
func FuzzParseSignatureFastPaths(f *testing.F) {
	for _, s := range sigSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		checkParseSame(t, in)
		if len(in) > 0 && in[0] == 'S' { // also as a blob, armored
			checkParseSame(t, armorRaw(in))
		}
	})
}
