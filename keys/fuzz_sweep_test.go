package keys

import (
	"bytes"
	"testing"
)

// FuzzParseSignature feeds armored SSHSIGs (pushed in commits and receipt
// .sig files) to ParseSignature, which hands them to sshsig and x/crypto/ssh,
// and what it accepts to VerifyParsed; it must accept only what Armor
// writes. FuzzHookObjects reaches ParseSignature without a real signature
// to start from.
func FuzzParseSignature(f *testing.F) {
	priv, pubLine, err := Generate("fuzz")
	if err != nil {
		f.Fatal(err)
	}
	s, err := parsePrivate(priv, "fuzz")
	if err != nil {
		f.Fatal(err)
	}
	msg := []byte("tree 0000\n\nreceipt\n")
	sig, err := s.Sign("git", msg)
	if err != nil {
		f.Fatal(err)
	}
	if err := Verify(s.PublicKey(), "git", msg, sig); err != nil {
		f.Fatal(err)
	}
	f.Add(sig, pubLine)
	f.Add(sig[:len(sig)/2], []byte("ssh-ed25519 AAAA"))
	f.Fuzz(func(t *testing.T, armored, line []byte) {
		if parsed, err := ParseSignature(armored); err == nil {
			if !bytes.Equal(Armor(parsed), armored) {
				t.Fatalf("accepted a signature that is not in Armor's form:\n%s", armored)
			}
			VerifyParsed(parsed.PublicKey, "git", msg, parsed)
			VerifyParsed(s.PublicKey(), "git", msg, parsed)
		}
		if pub, _, err := ParsePublicKey(line); err == nil {
			Ed25519Public(pub)
			Verify(pub, "git", msg, armored)
		}
	})
}
