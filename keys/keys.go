// Package keys is vmc-git's identity layer: operator keys, key ids, SSH
// signatures (SSHSIG) and the trust state that binds them to roles.
//
// Keys are OpenSSH Ed25519 keys. A private key lives in a file readable by
// ssh-keygen, in the environment (VMC_SIGNING_KEY_PEM, for CI secrets), or in
// ssh-agent (give the public key file and set SSH_AUTH_SOCK). Private key
// material is never printed or put into an error message.
//
// Every signature is an armored SSHSIG (PROTOCOL.sshsig) over SHA-512 of the
// message, so stock OpenSSH verifies it:
//
//	ssh-keygen -Y verify -f allowed_signers -I <kid> -n <namespace> -s F.sig < F
//
// Namespaces keep signatures for one purpose from being replayed for another:
// NamespaceGit (commits and tags), NamespaceReceipt, NamespacePlan
// (approvals), NamespaceAnchor, NamespaceKeys (trust-change co-signatures) and
// NamespaceOverride (policy overrides).
//
// A signature file must be exactly the armoring this package writes, which is
// the one ssh-keygen -Y sign writes (PEM type SSH SIGNATURE, base64 in lines
// of 70 columns, one trailing newline): any other encoding of the same
// signature is rejected, so a .sig file has one valid form. Ed25519 SSHSIG
// signatures are deterministic, so this package and ssh-keygen produce the
// same bytes for the same key, namespace and message.
//
// What a keys receipt does to the trust state (trust, revoke and rotate,
// with admin co-signatures) is package trust's: it needs the receipt
// format, which itself builds on this package.
package keys

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strings"

	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// SSHSIG namespaces, one per kind of signed object.
const (
	NamespaceGit     = "git"
	NamespaceReceipt = "vmc-receipt"
	NamespacePlan    = "vmc-plan"
	NamespaceAnchor  = "vmc-anchor"
	NamespaceKeys    = "vmc-keys"
	// NamespaceOverride: an admin's override of policy rules for a plan
	// (receipt.OverrideStatement). Not in allowed_signers' namespaces=,
	// whose derived bytes older ledgers pin.
	NamespaceOverride = "vmc-override"
)

// Environment variables that name the signing key.
const (
	EnvKeyPath = "VMC_SIGNING_KEY"     // path to a private key (or .pub with ssh-agent)
	EnvKeyPEM  = "VMC_SIGNING_KEY_PEM" // the OpenSSH private key itself
	EnvAgent   = "SSH_AUTH_SOCK"
)

// hashAlg is the SSHSIG message hash; sha512 is what ssh-keygen uses.
const hashAlg = sshsig.HashSHA512

var kidRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{0,63}$`)

// ValidKID checks a key id (principal name) against ^[a-z0-9][a-z0-9._@-]{0,63}$.
func ValidKID(kid string) error {
	if !kidRE.MatchString(kid) {
		return fmt.Errorf("invalid key id %q: want 1-64 characters of a-z 0-9 . _ @ -, starting with a letter or digit", clip(kid))
	}
	return nil
}

// Signer signs with one operator key. The private half may be in memory or
// in ssh-agent; callers see only the public key.
type Signer struct {
	ssh  ssh.Signer
	pub  ed25519.PublicKey
	from string // where the key came from, for messages; never key material
}

// NewSigner wraps an ssh.Signer for an Ed25519 key.
func NewSigner(s ssh.Signer, from string) (*Signer, error) {
	pub, err := Ed25519Public(s.PublicKey())
	if err != nil {
		return nil, fmt.Errorf("key from %s: %w", from, err)
	}
	return &Signer{ssh: s, pub: pub, from: from}, nil
}

// PublicKey returns the signer's SSH public key.
func (s *Signer) PublicKey() ssh.PublicKey { return s.ssh.PublicKey() }

// Ed25519 returns the raw Ed25519 public key.
func (s *Signer) Ed25519() ed25519.PublicKey { return s.pub }

// Source says where the key was loaded from (a path, "VMC_SIGNING_KEY_PEM"
// or "ssh-agent"), for messages.
func (s *Signer) Source() string { return s.from }

// Sign returns the armored SSHSIG signature of msg in namespace ns.
func (s *Signer) Sign(ns string, msg []byte) ([]byte, error) {
	sig, err := sshsig.Sign(bytes.NewReader(msg), s.ssh, hashAlg, ns)
	if err != nil {
		return nil, fmt.Errorf("sign (%s) with key from %s: %w", ns, s.from, err)
	}
	return Armor(sig), nil
}

// SignRaw returns a raw Ed25519 signature of msg (for sumdb/note checkpoints).
func (s *Signer) SignRaw(msg []byte) ([]byte, error) {
	sig, err := s.ssh.Sign(rand.Reader, msg)
	if err != nil {
		return nil, fmt.Errorf("sign with key from %s: %w", s.from, err)
	}
	if sig.Format != ssh.KeyAlgoED25519 || len(sig.Blob) != ed25519.SignatureSize {
		return nil, fmt.Errorf("sign with key from %s: unexpected signature format %q", s.from, sig.Format)
	}
	return sig.Blob, nil
}

// GitSigner returns a signer for go-git's CommitOptions/CreateTagOptions and
// for raw commit and tag objects: SSHSIG in namespace "git".
func (s *Signer) GitSigner() GitSigner { return GitSigner{s} }

// GitSigner adapts Signer to go-git's Signer interface.
type GitSigner struct{ s *Signer }

// Sign implements go-git's Signer.
func (g GitSigner) Sign(message io.Reader) ([]byte, error) {
	b, err := io.ReadAll(message)
	if err != nil {
		return nil, err
	}
	return g.s.Sign(NamespaceGit, b)
}

// armorWidth is the base64 line length of OpenSSH's signature armor
// (sshsig.c: sshbuf_dtob64 with wrap), not PEM's 64.
const armorWidth = 70

// Armor renders a signature in the one form this package accepts: OpenSSH's
// own armor, byte for byte what ssh-keygen -Y sign writes.
func Armor(sig *sshsig.Signature) []byte {
	b64 := base64.StdEncoding.EncodeToString(sig.Marshal())
	var b bytes.Buffer
	b.WriteString("-----BEGIN " + sshsig.PEMType + "-----\n")
	for len(b64) > armorWidth {
		b.WriteString(b64[:armorWidth] + "\n")
		b64 = b64[armorWidth:]
	}
	b.WriteString(b64 + "\n-----END " + sshsig.PEMType + "-----\n")
	return b.Bytes()
}

// Armor's framing lines.
const (
	armorBegin = "-----BEGIN " + sshsig.PEMType + "-----\n"
	armorEnd   = "-----END " + sshsig.PEMType + "-----\n"
)

// ParseSignature decodes an armored SSHSIG and requires it to be in the
// exact form Armor writes.
func ParseSignature(armored []byte) (*sshsig.Signature, error) {
	if sig := parseArmored(armored); sig != nil {
		return sig, nil
	}
	// Not accepted by the direct check: decode the general way, which
	// names what is wrong (or accepts what the direct check left out).
	return parseSignatureGeneral(armored)
}

// parseSignatureGeneral is ParseSignature without its fast path: PEM
// decode, the library's wire parse, the re-armor check and the strict
// encoding rules. The fast path must accept and refuse exactly as it does
// (FuzzParseSignatureFastPaths).
func parseSignatureGeneral(armored []byte) (*sshsig.Signature, error) {
	blk, rest := pem.Decode(armored)
	if blk == nil {
		return nil, errors.New("signature: not an armored SSH signature")
	}
	if len(rest) != 0 {
		return nil, errors.New("signature: trailing data after the armored block")
	}
	if blk.Type != sshsig.PEMType || len(blk.Headers) != 0 {
		return nil, fmt.Errorf("signature: PEM block %q is not an SSH SIGNATURE", blk.Type)
	}
	sig, err := sshsig.ParseSignature(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	if !bytes.Equal(Armor(sig), armored) {
		return nil, errors.New("signature: not in canonical armored form")
	}
	if sig.HashAlgorithm != hashAlg {
		return nil, fmt.Errorf("signature: hash %s, want %s", sig.HashAlgorithm, hashAlg)
	}
	if err := strictEncoding(sig); err != nil {
		return nil, err
	}
	return sig, nil
}

// parseArmored returns the signature if armored is byte for byte
// Armor(sig) for a signature that ParseSignature accepts, and nil otherwise.
// It checks the framing and line layout directly and compares the base64
// text with the encoding of the decoded bytes, and sig.Marshal() with those
// bytes, instead of decoding PEM and re-armoring.
func parseArmored(armored []byte) *sshsig.Signature {
	if !bytes.HasPrefix(armored, []byte(armorBegin)) || !bytes.HasSuffix(armored, []byte(armorEnd)) || len(armored) < len(armorBegin)+len(armorEnd) {
		return nil
	}
	body := armored[len(armorBegin) : len(armored)-len(armorEnd)]
	// body is lines of armorWidth characters and a last one of 1 to
	// armorWidth, each ending in a newline: join them.
	var buf [1024]byte
	text := buf[:0]
	for len(body) > armorWidth+1 {
		if body[armorWidth] != '\n' {
			return nil
		}
		text = append(text, body[:armorWidth]...)
		body = body[armorWidth+1:]
	}
	if len(body) < 2 || body[len(body)-1] != '\n' {
		return nil
	}
	text = append(text, body[:len(body)-1]...)
	raw := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
	n, err := base64.StdEncoding.Decode(raw, text)
	if err != nil {
		return nil
	}
	raw = raw[:n]
	// One encoding of raw: rejects newlines or carriage returns inside a
	// line (which the decoder skips), missing padding and non-zero
	// padding bits.
	var enc [1024]byte
	if base64.StdEncoding.EncodedLen(n) != len(text) || len(text) > len(enc) {
		return nil
	}
	base64.StdEncoding.Encode(enc[:len(text)], raw)
	if !bytes.Equal(enc[:len(text)], text) {
		return nil
	}
	if sig := parseWire(raw); sig != nil {
		return sig
	}
	sig, err := sshsig.ParseSignature(raw)
	if err != nil || sig.HashAlgorithm != hashAlg || strictEncoding(sig) != nil || !bytes.Equal(sig.Marshal(), raw) {
		return nil
	}
	return sig
}

// strictEncoding refuses what a re-encoding would not reproduce but
// sig.Marshal() does: bytes after the signature blob inside the signature
// field (ssh.Signature.Rest), which OpenSSH refuses, and a signature format
// that is not the key's own algorithm (Ed25519 keys only: a 64-byte blob).
func strictEncoding(sig *sshsig.Signature) error {
	s := sig.Signature
	switch {
	case s == nil:
		return errors.New("signature: no signature")
	case len(s.Rest) != 0:
		return fmt.Errorf("signature: %d bytes after the signature inside the signature blob", len(s.Rest))
	case sig.PublicKey.Type() != ssh.KeyAlgoED25519:
		return fmt.Errorf("signature: key type %s, want %s", sig.PublicKey.Type(), ssh.KeyAlgoED25519)
	case s.Format != ssh.KeyAlgoED25519 || len(s.Blob) != ed25519.SignatureSize:
		return fmt.Errorf("signature: format %s with %d bytes, want %s with %d", s.Format, len(s.Blob), ssh.KeyAlgoED25519, ed25519.SignatureSize)
	}
	return nil
}

// Verify checks an armored SSHSIG over msg in namespace ns by pub.
func Verify(pub ssh.PublicKey, ns string, msg, armored []byte) error {
	sig, err := ParseSignature(armored)
	if err != nil {
		return err
	}
	return VerifyParsed(pub, ns, msg, sig)
}

// VerifyParsed is Verify for a signature already parsed.
func VerifyParsed(pub ssh.PublicKey, ns string, msg []byte, sig *sshsig.Signature) error {
	if sig.Namespace != ns {
		return fmt.Errorf("signature: namespace %q, want %q", sig.Namespace, ns)
	}
	if !bytes.Equal(sig.PublicKey.Marshal(), pub.Marshal()) {
		return fmt.Errorf("signature: made by key %s, want %s", Fingerprint(sig.PublicKey), Fingerprint(pub))
	}
	if err := sshsig.Verify(bytes.NewReader(msg), sig, pub, hashAlg, ns); err != nil {
		return fmt.Errorf("signature: does not verify: %w", err)
	}
	return nil
}

// Fingerprint is the SHA256:… fingerprint ssh-keygen -l prints.
func Fingerprint(pub ssh.PublicKey) string { return ssh.FingerprintSHA256(pub) }

// Ed25519Public returns the raw key of an ssh-ed25519 public key.
func Ed25519Public(pub ssh.PublicKey) (ed25519.PublicKey, error) {
	if pub.Type() != ssh.KeyAlgoED25519 {
		return nil, fmt.Errorf("key type %s: vmc-git uses Ed25519 keys only", pub.Type())
	}
	cp, ok := pub.(ssh.CryptoPublicKey)
	if !ok {
		// ssh-agent's keys (*agent.Key) only carry the wire form.
		parsed, err := ssh.ParsePublicKey(pub.Marshal())
		if err != nil {
			return nil, errors.New("cannot read Ed25519 public key")
		}
		if cp, ok = parsed.(ssh.CryptoPublicKey); !ok {
			return nil, errors.New("cannot read Ed25519 public key")
		}
	}
	k, ok := cp.CryptoPublicKey().(ed25519.PublicKey)
	if !ok {
		return nil, errors.New("cannot read Ed25519 public key")
	}
	return k, nil
}

// ParsePublicKey parses one OpenSSH public key line ("ssh-ed25519 AAAA… [comment]").
func ParsePublicKey(line []byte) (ssh.PublicKey, string, error) {
	pub, comment, _, rest, err := ssh.ParseAuthorizedKey(line)
	if err != nil {
		return nil, "", fmt.Errorf("public key: %w", err)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, "", errors.New("public key: more than one key given")
	}
	if _, err := Ed25519Public(pub); err != nil {
		return nil, "", err
	}
	return pub, comment, nil
}

// FormatPublicKey renders pub as "ssh-ed25519 AAAA…" without comment.
func FormatPublicKey(pub ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
}

// LoadPublicKey reads a public key from a file or, when arg itself looks like
// a key line, from arg.
func LoadPublicKey(arg string) (ssh.PublicKey, error) {
	if strings.HasPrefix(arg, "ssh-") {
		pub, _, err := ParsePublicKey([]byte(arg))
		return pub, err
	}
	b, err := os.ReadFile(arg)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	pub, _, err := ParsePublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", arg, err)
	}
	return pub, nil
}

// Load finds the signing key: the path given (usually --key), else
// $VMC_SIGNING_KEY, else $VMC_SIGNING_KEY_PEM. A path ending in .pub, or a
// public key file, is used through ssh-agent ($SSH_AUTH_SOCK).
func Load(path string) (*Signer, error) {
	if path == "" {
		path = os.Getenv(EnvKeyPath)
	}
	if path != "" {
		return LoadFile(path)
	}
	if pemText := os.Getenv(EnvKeyPEM); pemText != "" {
		s, err := parsePrivate([]byte(pemText), EnvKeyPEM)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	return nil, ErrNoKey
}

// ErrNoKey means no signing key was named.
var ErrNoKey = errors.New("no signing key: give --key FILE or set VMC_SIGNING_KEY (a path) or VMC_SIGNING_KEY_PEM (the key)")

// LoadFile loads a private key file, or a public key file whose private half
// is in ssh-agent.
func LoadFile(path string) (*Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	pub, _, err := ParsePublicKey(b)
	if err == nil {
		return fromAgent(pub, path)
	}
	if _, _, _, _, perr := ssh.ParseAuthorizedKey(b); perr == nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err) // a public key, but not one we use
	}
	return parsePrivate(b, path)
}

func parsePrivate(b []byte, from string) (*Signer, error) {
	raw, err := ssh.ParseRawPrivateKey(b)
	if err != nil {
		var pp *ssh.PassphraseMissingError
		if errors.As(err, &pp) {
			return nil, fmt.Errorf("signing key %s is encrypted: load it into ssh-agent (ssh-add) and pass the .pub file", from)
		}
		// Never wrap the parser's error text: keep key bytes out of messages.
		return nil, fmt.Errorf("signing key %s: not an OpenSSH private key", from)
	}
	k, ok := raw.(*ed25519.PrivateKey)
	if !ok {
		if k2, ok2 := raw.(ed25519.PrivateKey); ok2 {
			k = &k2
			ok = true
		}
	}
	if !ok {
		return nil, fmt.Errorf("signing key %s: not an Ed25519 key", from)
	}
	s, err := ssh.NewSignerFromKey(*k)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", from, err)
	}
	return NewSigner(s, from)
}

func fromAgent(pub ssh.PublicKey, from string) (*Signer, error) {
	sock := os.Getenv(EnvAgent)
	if sock == "" {
		return nil, fmt.Errorf("signing key %s is a public key: set SSH_AUTH_SOCK to an ssh-agent that holds its private half", from)
	}
	conn, err := net.Dial("unix", sock)
	if err != nil {
		return nil, fmt.Errorf("ssh-agent at $SSH_AUTH_SOCK: %w", err)
	}
	signers, err := agent.NewClient(conn).Signers()
	if err != nil {
		return nil, fmt.Errorf("ssh-agent: %w", err)
	}
	for _, s := range signers {
		if bytes.Equal(s.PublicKey().Marshal(), pub.Marshal()) {
			return NewSigner(s, "ssh-agent ("+Fingerprint(pub)+")")
		}
	}
	return nil, fmt.Errorf("ssh-agent does not hold the key of %s (%s): ssh-add it first", from, Fingerprint(pub))
}

// Generate makes a new Ed25519 key pair and returns the OpenSSH private key
// file and the public key line, both with comment kid.
func Generate(kid string) (private, public []byte, err error) {
	if err := ValidKID(kid); err != nil {
		return nil, nil, err
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	blk, err := ssh.MarshalPrivateKey(priv, kid)
	if err != nil {
		return nil, nil, err
	}
	spub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, nil, err
	}
	line := FormatPublicKey(spub) + " " + kid + "\n"
	return pem.EncodeToMemory(blk), []byte(line), nil
}

// WriteKeyPair writes private (mode 0600, refusing to overwrite) and
// private+".pub".
func WriteKeyPair(path string, private, public []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write key: %w", err)
	}
	if _, err := f.Write(private); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.WriteFile(path+".pub", public, 0o644)
}

func clip(s string) string {
	if len(s) > 70 {
		return s[:70] + "…"
	}
	return s
}
