package keys

// A direct parser for the one SSHSIG wire form this package accepts.
//
// ParseSignature accepts only what Armor writes for an Ed25519 signature
// with hash sha512 (see strictEncoding): after the armor, the blob is
// exactly, in SSH wire encoding (PROTOCOL.sshsig; string = uint32 length,
// then the bytes):
//
//	"SSHSIG" uint32(1)
//	string(string("ssh-ed25519") string(32-byte key))
//	string(namespace) string("") string("sha512")
//	string(string("ssh-ed25519") string(64-byte signature))
//
// and nothing after. parseWire reads that layout field by field, every
// length checked against what is left, instead of the reflection-based
// ssh.Unmarshal and the re-marshal that proves the blob canonical. It is a
// fast path: whatever it refuses goes to the general parse, which keeps
// every acceptance rule and message; what it accepts, the general parse
// accepts as the same signature (FuzzParseSignatureFastPaths checks both).

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"

	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"
)

// SSHSIG wire constants.
const (
	sigMagic   = "SSHSIG"
	sigVersion = 1
)

// wireReader reads SSH wire fields from a byte slice.
type wireReader struct {
	b  []byte
	ok bool
}

// uint32 reads a big-endian uint32.
func (r *wireReader) uint32() uint32 {
	if !r.ok || len(r.b) < 4 {
		r.ok = false
		return 0
	}
	v := binary.BigEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

// string reads a length-prefixed string, which must fit in what is left.
func (r *wireReader) string() []byte {
	n := r.uint32()
	if !r.ok || uint64(n) > uint64(len(r.b)) {
		r.ok = false
		return nil
	}
	s := r.b[:n:n]
	r.b = r.b[n:]
	return s
}

// exact reads a string that must be want.
func (r *wireReader) exact(want string) {
	if s := r.string(); r.ok && string(s) != want {
		r.ok = false
	}
}

// parseWire returns the signature if raw is exactly the wire form above,
// and nil otherwise.
func parseWire(raw []byte) *sshsig.Signature {
	if !bytes.HasPrefix(raw, []byte(sigMagic)) {
		return nil
	}
	r := wireReader{b: raw[len(sigMagic):], ok: true}
	if r.uint32() != sigVersion {
		return nil
	}
	key := wireReader{b: r.string(), ok: r.ok}
	key.exact(ssh.KeyAlgoED25519)
	pub := key.string()
	namespace := r.string()
	r.exact("")
	r.exact(string(hashAlg))
	sig := wireReader{b: r.string(), ok: r.ok}
	sig.exact(ssh.KeyAlgoED25519)
	blob := sig.string()
	if !r.ok || !key.ok || !sig.ok || len(r.b) != 0 || len(key.b) != 0 || len(sig.b) != 0 ||
		len(pub) != ed25519.PublicKeySize || len(blob) != ed25519.SignatureSize {
		return nil
	}
	pk, err := ssh.NewPublicKey(ed25519.PublicKey(bytes.Clone(pub)))
	if err != nil {
		return nil
	}
	return &sshsig.Signature{
		Version:       sigVersion,
		PublicKey:     pk,
		Namespace:     string(namespace),
		HashAlgorithm: hashAlg,
		Signature:     &ssh.Signature{Format: ssh.KeyAlgoED25519, Blob: bytes.Clone(blob)},
	}
}
