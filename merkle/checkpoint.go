package merkle

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
)

// A Checkpoint is the body of a C2SP tlog-checkpoint: the origin (for
// vmc-git, the ledger id), the tree size and the root hash.
//
// Its text form is exactly three lines, each ending in "\n":
//
//	<origin>
//	<size in decimal>
//	<root in standard base64 with padding>
//
// The C2SP spec allows extension lines after the root; vmc-git neither
// writes nor accepts them.
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   Hash
}

// Marshal returns the checkpoint text ("<origin>\n<size>\n<base64 root>\n").
// It does not validate c; SignCheckpoint does.
func (c Checkpoint) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString(c.Origin)
	b.WriteByte('\n')
	b.WriteString(strconv.FormatUint(c.Size, 10))
	b.WriteByte('\n')
	b.WriteString(base64.StdEncoding.EncodeToString(c.Root[:]))
	b.WriteByte('\n')
	return b.Bytes()
}

// checkOrigin enforces the origin rules: non-empty valid UTF-8 without
// control characters and without leading or trailing space.
func checkOrigin(origin string) error {
	switch {
	case origin == "":
		return errors.New("checkpoint: empty origin line")
	case !utf8.ValidString(origin):
		return errors.New("checkpoint: origin is not valid UTF-8")
	case strings.IndexFunc(origin, unicode.IsControl) >= 0:
		return fmt.Errorf("checkpoint: origin %q contains a control character", abbrev(origin))
	case strings.TrimSpace(origin) != origin:
		return fmt.Errorf("checkpoint: origin %q has leading or trailing space", abbrev(origin))
	}
	return nil
}

// ParseCheckpoint parses checkpoint text strictly: exactly three lines, each
// ending in a newline; a non-empty origin; a size in canonical decimal (no
// sign, no leading zeros) that fits in 64 bits; a root in canonical standard
// base64 that decodes to 32 bytes. Extension lines are rejected.
func ParseCheckpoint(text []byte) (Checkpoint, error) {
	if len(text) == 0 {
		return Checkpoint{}, errors.New("checkpoint: empty text")
	}
	if text[len(text)-1] != '\n' {
		return Checkpoint{}, errors.New("checkpoint: text does not end with a newline")
	}
	lines := strings.Split(string(text[:len(text)-1]), "\n")
	if len(lines) < 3 {
		return Checkpoint{}, fmt.Errorf("checkpoint: have %d lines, want 3 (origin, size, root)", len(lines))
	}
	if len(lines) > 3 {
		return Checkpoint{}, fmt.Errorf("checkpoint: %d extra lines after the root line (extension lines are not supported)", len(lines)-3)
	}
	var c Checkpoint
	c.Origin = lines[0]
	if err := checkOrigin(c.Origin); err != nil {
		return Checkpoint{}, err
	}
	size, err := parseDecimal(lines[1])
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint: size line %q: %w", abbrev(lines[1]), err)
	}
	c.Size = size
	root, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint: root line %q: bad base64: %w", abbrev(lines[2]), err)
	}
	if len(root) != HashSize {
		return Checkpoint{}, fmt.Errorf("checkpoint: root line %q: have %d bytes, want %d", abbrev(lines[2]), len(root), HashSize)
	}
	if base64.StdEncoding.EncodeToString(root) != lines[2] {
		// Strict decoding still skips CR and LF; insist on one spelling.
		return Checkpoint{}, fmt.Errorf("checkpoint: root line %q: not canonical base64", abbrev(lines[2]))
	}
	copy(c.Root[:], root)
	return c, nil
}

// parseDecimal parses a canonical unsigned decimal number.
func parseDecimal(s string) (uint64, error) {
	if s == "" {
		return 0, errors.New("empty, want a decimal number")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New("not a decimal number")
		}
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, errors.New("leading zero in decimal number")
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, errors.New("number does not fit in 64 bits")
	}
	return n, nil
}

// SignCheckpoint returns c as a signed note (the checkpoint text, a blank
// line and one signature line per signer). C2SP recommends that the signer
// name equals the origin; vmc-git uses the ledger id for both.
func SignCheckpoint(c Checkpoint, signers ...note.Signer) ([]byte, error) {
	if err := checkOrigin(c.Origin); err != nil {
		return nil, fmt.Errorf("sign %w", err)
	}
	if len(signers) == 0 {
		return nil, errors.New("sign checkpoint: no signer")
	}
	msg, err := note.Sign(&note.Note{Text: string(c.Marshal())}, signers...)
	if err != nil {
		return nil, fmt.Errorf("sign checkpoint: %w", err)
	}
	return msg, nil
}

// OpenCheckpoint verifies the signed note msg with the known verifiers and
// parses its text as a checkpoint. It fails unless at least one known key
// signed the note and no known key's signature is invalid (note.Open rules;
// signatures by unknown keys are ignored and listed in UnverifiedSigs). The
// caller checks the origin against the ledger it expects.
func OpenCheckpoint(msg []byte, known note.Verifiers) (Checkpoint, *note.Note, error) {
	n, err := note.Open(msg, known)
	if err != nil {
		var unverified *note.UnverifiedNoteError
		if errors.As(err, &unverified) {
			var names []string
			for _, s := range unverified.Note.UnverifiedSigs {
				names = append(names, fmt.Sprintf("%s+%08x", s.Name, s.Hash))
			}
			return Checkpoint{}, nil, fmt.Errorf("checkpoint signature: no signature by a known key (signed by: %s): %w",
				strings.Join(names, ", "), err)
		}
		return Checkpoint{}, nil, fmt.Errorf("checkpoint signature: %w", err)
	}
	c, err := ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return Checkpoint{}, nil, err
	}
	return c, n, nil
}

// algEd25519 is the note signature algorithm byte for Ed25519.
const algEd25519 = 1

// isValidKeyName mirrors note's rule for key names: non-empty UTF-8 without
// Unicode spaces or '+'.
func isValidKeyName(name string) bool {
	return name != "" && utf8.ValidString(name) && strings.IndexFunc(name, unicode.IsSpace) < 0 && !strings.Contains(name, "+")
}

// NoteKeyHash returns the note key hash of an Ed25519 key: the first four
// bytes, big-endian, of SHA-256(name || "\n" || 0x01 || pub).
func NoteKeyHash(name string, pub ed25519.PublicKey) uint32 {
	h := sha256.New()
	io.WriteString(h, name)
	h.Write([]byte{'\n', algEd25519})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

type noteSigner struct {
	name string
	hash uint32
	pub  ed25519.PublicKey
	sign func([]byte) ([]byte, error)
}

func (s *noteSigner) Name() string    { return s.name }
func (s *noteSigner) KeyHash() uint32 { return s.hash }

func (s *noteSigner) Sign(msg []byte) ([]byte, error) {
	sig, err := s.sign(msg)
	if err != nil {
		return nil, fmt.Errorf("note signer %s: %w", s.name, err)
	}
	if len(sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("note signer %s: signature has %d bytes, want %d", s.name, len(sig), ed25519.SignatureSize)
	}
	if !ed25519.Verify(s.pub, msg, sig) {
		return nil, fmt.Errorf("note signer %s: signature does not verify with the public key (is the right key loaded in ssh-agent?)", s.name)
	}
	return sig, nil
}

// NewNoteSigner returns a note.Signer for an Ed25519 key whose private half
// is reachable only through sign (for example ssh-agent). sign must return a
// plain 64-byte Ed25519 signature of msg; every signature is checked against
// pub before it is used, so a wrong key in the agent fails loudly.
func NewNoteSigner(name string, pub ed25519.PublicKey, sign func(msg []byte) ([]byte, error)) (note.Signer, error) {
	if !isValidKeyName(name) {
		return nil, fmt.Errorf("note signer: invalid key name %q (want non-empty, no spaces, no '+')", name)
	}
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("note signer %s: public key has %d bytes, want %d", name, len(pub), ed25519.PublicKeySize)
	}
	if sign == nil {
		return nil, fmt.Errorf("note signer %s: nil sign function", name)
	}
	return &noteSigner{name: name, hash: NoteKeyHash(name, pub), pub: append(ed25519.PublicKey(nil), pub...), sign: sign}, nil
}

// VerifierKey returns the note verifier key "<name>+<hash hex>+<base64(0x01||pub)>"
// for an Ed25519 public key; note.NewVerifier accepts it.
func VerifierKey(name string, pub ed25519.PublicKey) (string, error) {
	if !isValidKeyName(name) {
		return "", fmt.Errorf("verifier key: invalid key name %q (want non-empty, no spaces, no '+')", name)
	}
	k, err := note.NewEd25519VerifierKey(name, pub)
	if err != nil {
		return "", fmt.Errorf("verifier key %s: %w", name, err)
	}
	return k, nil
}

// decodeStrict decodes one JSON value into v, rejecting unknown fields and
// trailing data.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after JSON value")
	}
	return nil
}
