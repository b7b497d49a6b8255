// Package witness gets vmc-git's snapshot checkpoints cosigned by
// independent transparency-log witnesses (C2SP tlog-witness) and checks the
// cosignatures (C2SP tlog-cosignature), so that a fresh clone that was
// served an older ledger, or a fork, can tell. It never prints, prompts or
// exits.
//
// # What a witness adds
//
// A snapshot tag vmc/merkle/<N> is a C2SP tlog-checkpoint (origin = ledger
// id, size N, root) signed by an operator key. A git server that serves an
// older ledger and withholds the newer tags is still serving genuinely
// signed data. A witness is an independent party that remembers, for each
// log origin, the newest checkpoint it cosigned, and cosigns a new one only
// if a Merkle consistency proof shows it extends that one. A quorum of
// witness cosignatures on a checkpoint therefore says "this is the only
// history of this ledger these witnesses have seen, and it was at least N
// long at time T". A verifier that holds such a checkpoint refuses a ledger
// that is shorter or does not contain it.
//
// # Witnesses and keys
//
// A witness is a name (a schema-less URL such as witness.example.com/w1), an
// Ed25519 public key and a submission URL prefix. Its key is written as a
// C2SP signed-note verifier key (vkey) with signature type 0x04:
//
//	<name>+<key id, 8 hex digits>+<base64(0x04 || 32-byte Ed25519 key)>
//	key id = SHA-256(<name> || "\n" || 0x04 || key)[:4], big-endian
//
// (VerifierKey, ParseVerifierKey). The witness policy, the list of
// witnesses and the quorum witness_threshold, is part of the ledger's trust
// state (package keys): genesis may name witnesses, and a keys receipt
// signed by admin_threshold admins adds or removes one or changes the quorum.
//
// # Cosignatures
//
// A cosignature is a signed-note signature line
//
//	— <witness name> base64(key id || timestamp || signature)
//
// where timestamp is 8 bytes, big-endian, POSIX seconds (at most 2^63-1),
// and signature is the witness's Ed25519 signature over
//
//	cosignature/v1\n
//	time <timestamp in decimal>\n
//	<the checkpoint text, all of it, with its final newline>
//
// NewVerifier returns a golang.org/x/mod/sumdb/note Verifier for such lines,
// so a note with the operator's signature and witness cosignatures opens
// with stock note code. Check counts the valid cosignatures on a signed
// checkpoint by the witnesses of a policy and fails with a *QuorumError
// below the threshold. A cosignature by an unknown key is ignored (as
// signed-note requires), a line that claims a known witness's name and key
// id but does not verify fails the whole note, and a cosignature timestamped
// more than MaxClockSkew after the moment the caller gives is refused.
//
// # Protocol (C2SP tlog-witness)
//
//	POST <url>/add-checkpoint
//
//	old <size of the witness's latest checkpoint>\n
//	<consistency proof from that size, one base64 hash a line, at most 63>\n
//	\n
//	<the signed checkpoint note>
//
// Answers: 200 with one or more cosignature lines; 409 Conflict with
// Content-Type text/x.tlog.size and the witness's size in decimal ("old" was
// not its size, or the same size with another root); 403 (key or origin not
// known: the log is not registered); 404 (origin unknown); 422 (the
// consistency proof does not verify: a fork); 400 (malformed request).
// Client.AddCheckpoint makes one such call with a bounded time and a bounded
// response, and returns a *ConflictError, *StatusError or the cosignature
// lines. Cosign asks every witness of a policy at once: it starts from the
// size the caller believes the witness has (the previous snapshot), and
// after a 409 retries once from the size the witness reported, with a proof
// from that size; it keeps only cosignatures that verify. Probe asks a
// witness about a checkpoint the caller already has, without moving the
// witness: it tells whether the witness is at that size and agrees, or at
// another size (and which).
//
// A witness answers only with sizes, never with its root: a verifier learns
// a witness's root only from a checkpoint that witness cosigned (a tag, or a
// file given with --checkpoint).
//
// # Example
//
// A ledger github.com/acme/infra with 3 receipts and a witness w1 whose
// latest is size 2. The log sends
//
//	old 2
//	<base64 of leaf hash 2>
//
//	github.com/acme/infra
//	3
//	<base64 root>
//
//	— alice <base64 sig>
//	— github.com/acme/infra <base64 sig>
//
// and w1 answers "— witness.example/w1 <base64 of id || time || sig>". The
// snapshot tag's message is the checkpoint with all three lines.
package witness

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
)

// Format constants (C2SP tlog-cosignature, tlog-witness).
const (
	// AlgCosignatureV1 is the signed-note signature type of an Ed25519
	// timestamped cosignature.
	AlgCosignatureV1 = 0x04
	// CosignatureHeader is the first line of the message a witness signs.
	CosignatureHeader = "cosignature/v1\n"
	// AddCheckpointPath is appended to a witness's submission prefix.
	AddCheckpointPath = "/add-checkpoint"
	// ContentTypeSize is the Content-Type of a 409 answer.
	ContentTypeSize = "text/x.tlog.size"
	// MaxProofLines bounds the consistency proof of one request.
	MaxProofLines = 63
	// MaxClockSkew is how far after the reference time a cosignature's
	// timestamp may be.
	MaxClockSkew = 10 * time.Minute
	// MaxWitnesses bounds a policy.
	MaxWitnesses = 32
)

// timestampSize + ed25519.SignatureSize is a cosignature's signature part.
const timestampSize = 8

// A Witness is one cosigner of a witness policy.
type Witness struct {
	Name string            // cosigner name, as in its signature lines
	Key  ed25519.PublicKey // its Ed25519 public key
	URL  string            // submission prefix; add-checkpoint is URL + AddCheckpointPath
}

// KeyHash returns the note key id of a cosigner key.
func KeyHash(name string, pub ed25519.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n', AlgCosignatureV1})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// ValidName checks a cosigner name: non-empty UTF-8 of at most 200 bytes,
// no Unicode space or control character and no '+' (signed-note key name
// rules).
func ValidName(name string) error {
	switch {
	case name == "" || len(name) > 200:
		return fmt.Errorf("witness name %q: want 1 to 200 bytes", clip(name))
	case !utf8.ValidString(name):
		return fmt.Errorf("witness name %q: not valid UTF-8", clip(name))
	case strings.IndexFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return fmt.Errorf("witness name %q: contains a space or control character", clip(name))
	case strings.Contains(name, "+"):
		return fmt.Errorf("witness name %q: contains '+'", clip(name))
	}
	return nil
}

// VerifierKey returns the vkey "<name>+<key id>+<base64(0x04||pub)>".
func VerifierKey(name string, pub ed25519.PublicKey) (string, error) {
	if err := ValidName(name); err != nil {
		return "", err
	}
	if len(pub) != ed25519.PublicKeySize {
		return "", fmt.Errorf("witness %s: public key has %d bytes, want %d", name, len(pub), ed25519.PublicKeySize)
	}
	return fmt.Sprintf("%s+%08x+%s", name, KeyHash(name, pub), base64.StdEncoding.EncodeToString(append([]byte{AlgCosignatureV1}, pub...))), nil
}

// ParseVerifierKey parses a cosigner vkey strictly: a valid name, the key id
// in 8 lower-case hex digits that matches the key, canonical base64 of 0x04
// and 32 key bytes. A vkey of another type (0x01, an ordinary note key) is
// refused with a hint: a witness key is a cosignature key.
func ParseVerifierKey(vkey string) (name string, pub ed25519.PublicKey, err error) {
	name, rest, ok1 := strings.Cut(vkey, "+")
	hash, b64, ok2 := strings.Cut(rest, "+")
	if !ok1 || !ok2 {
		return "", nil, fmt.Errorf("witness key %q: want <name>+<key id>+<base64 key>", clip(vkey))
	}
	if err := ValidName(name); err != nil {
		return "", nil, fmt.Errorf("witness key: %w", err)
	}
	if len(hash) != 8 || strings.ToLower(hash) != hash {
		return "", nil, fmt.Errorf("witness key %s: key id %q: want 8 lower-case hex digits", name, clip(hash))
	}
	id, err := strconv.ParseUint(hash, 16, 32)
	if err != nil {
		return "", nil, fmt.Errorf("witness key %s: key id %q: want 8 lower-case hex digits", name, clip(hash))
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil || base64.StdEncoding.EncodeToString(raw) != b64 {
		return "", nil, fmt.Errorf("witness key %s: key is not canonical base64", name)
	}
	if len(raw) == 0 {
		return "", nil, fmt.Errorf("witness key %s: empty key", name)
	}
	if raw[0] != AlgCosignatureV1 {
		return "", nil, fmt.Errorf("witness key %s: signature type 0x%02x, want 0x%02x (an Ed25519 cosignature key, as litewitness prints it)", name, raw[0], AlgCosignatureV1)
	}
	if len(raw) != 1+ed25519.PublicKeySize {
		return "", nil, fmt.Errorf("witness key %s: %d key bytes, want %d", name, len(raw)-1, ed25519.PublicKeySize)
	}
	pub = ed25519.PublicKey(raw[1:])
	if uint32(id) != KeyHash(name, pub) {
		return "", nil, fmt.Errorf("witness key %s: key id %s does not match the key (want %08x)", name, hash, KeyHash(name, pub))
	}
	return name, pub, nil
}

// ParseWitness builds a Witness from a vkey and a URL, checking both.
func ParseWitness(vkey, rawURL string) (Witness, error) {
	name, pub, err := ParseVerifierKey(vkey)
	if err != nil {
		return Witness{}, err
	}
	if err := ValidURL(rawURL); err != nil {
		return Witness{}, fmt.Errorf("witness %s: %w", name, err)
	}
	return Witness{Name: name, Key: pub, URL: rawURL}, nil
}

// ValidURL checks a submission prefix: an absolute http or https URL
// without query, fragment or user info, and without a trailing slash.
func ValidURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || len(raw) > 500:
		return fmt.Errorf("url %q: not a URL", clip(raw))
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("url %q: want http:// or https://", clip(raw))
	case u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(raw, "/"):
		return fmt.Errorf("url %q: want scheme://host[:port][/path] without user, query, fragment or trailing slash", clip(raw))
	}
	return nil
}

// cosigVerifier is a note.Verifier for timestamped Ed25519 cosignatures.
type cosigVerifier struct {
	name string
	hash uint32
	pub  ed25519.PublicKey
}

// NewVerifier returns a note.Verifier that accepts cosignatures by w: its
// Verify takes the 72-byte timestamp || signature and the checkpoint text.
func NewVerifier(w Witness) (note.Verifier, error) {
	if err := ValidName(w.Name); err != nil {
		return nil, err
	}
	if len(w.Key) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("witness %s: public key has %d bytes, want %d", w.Name, len(w.Key), ed25519.PublicKeySize)
	}
	return &cosigVerifier{name: w.Name, hash: KeyHash(w.Name, w.Key), pub: w.Key}, nil
}

func (v *cosigVerifier) Name() string    { return v.name }
func (v *cosigVerifier) KeyHash() uint32 { return v.hash }
func (v *cosigVerifier) Verify(msg, sig []byte) bool {
	if len(sig) != timestampSize+ed25519.SignatureSize {
		return false
	}
	ts := binary.BigEndian.Uint64(sig)
	if ts > 1<<63-1 {
		return false
	}
	return ed25519.Verify(v.pub, CosignedMessage(ts, msg), sig[timestampSize:])
}

// CosignedMessage returns the bytes a witness signs for checkpoint text at
// POSIX time ts.
func CosignedMessage(ts uint64, text []byte) []byte {
	m := make([]byte, 0, len(CosignatureHeader)+32+len(text))
	m = append(m, CosignatureHeader...)
	m = append(m, "time "...)
	m = strconv.AppendUint(m, ts, 10)
	m = append(m, '\n')
	return append(m, text...)
}

// A Cosignature is one verified cosignature.
type Cosignature struct {
	Witness string    `json:"witness"`
	Time    time.Time `json:"time"`
	Line    string    `json:"-"` // the signature line, with "— " and "\n"
}

// QuorumError says a checkpoint has fewer valid cosignatures than the
// policy needs.
type QuorumError struct {
	Have, Want int
	Cosigned   []string // witnesses whose cosignature verified
	Missing    []string // policy witnesses without one
}

func (e *QuorumError) Error() string {
	s := fmt.Sprintf("witness quorum not met: %d valid cosignatures, witness_threshold is %d", e.Have, e.Want)
	if len(e.Cosigned) > 0 {
		s += " (cosigned by " + strings.Join(e.Cosigned, ", ") + ")"
	}
	if len(e.Missing) > 0 {
		s += "; none from " + strings.Join(e.Missing, ", ")
	}
	return s
}

// ErrFutureCosignature is wrapped by Check for a cosignature timestamped
// more than MaxClockSkew after the reference time.
var ErrFutureCosignature = errors.New("cosignature timestamped in the future")

// Check verifies the witness cosignatures on msg, a signed checkpoint note,
// against the witnesses ws and returns those that verify, in the order of
// ws. It fails if a line that names a witness of ws with its key id does
// not verify (a forged or corrupted cosignature), if a cosignature's time
// is more than MaxClockSkew after notAfter, or, with a *QuorumError, if
// fewer than threshold distinct witnesses cosigned. Lines by other keys
// (the operator's, unknown witnesses') are ignored. Check does not verify
// the operator's signature or parse the checkpoint: the caller does both.
func Check(msg []byte, ws []Witness, threshold int, notAfter time.Time) ([]Cosignature, error) {
	vs := make([]note.Verifier, 0, len(ws))
	for _, w := range ws {
		v, err := NewVerifier(w)
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	var got []Cosignature
	if len(vs) > 0 {
		n, err := note.Open(msg, note.VerifierList(vs...))
		var unverified *note.UnverifiedNoteError
		switch {
		case errors.As(err, &unverified):
			// No cosignature by a policy witness: an empty set.
		case err != nil:
			var bad *note.InvalidSignatureError
			if errors.As(err, &bad) {
				return nil, fmt.Errorf("cosignature by %s does not verify: forged or corrupted", bad.Name)
			}
			return nil, fmt.Errorf("cosigned checkpoint: %w", err)
		default:
			seen := map[string]bool{}
			for _, s := range n.Sigs {
				raw, err := base64.StdEncoding.DecodeString(s.Base64)
				if err != nil || len(raw) != 4+timestampSize+ed25519.SignatureSize {
					return nil, fmt.Errorf("cosignature by %s: malformed", s.Name)
				}
				ts := binary.BigEndian.Uint64(raw[4:])
				at := time.Unix(int64(ts), 0).UTC()
				if !notAfter.IsZero() && at.After(notAfter.Add(MaxClockSkew)) {
					return nil, fmt.Errorf("cosignature by %s at %s, after %s: %w", s.Name, at.Format(time.RFC3339), notAfter.UTC().Format(time.RFC3339), ErrFutureCosignature)
				}
				if seen[s.Name] {
					continue
				}
				seen[s.Name] = true
				got = append(got, Cosignature{Witness: s.Name, Time: at, Line: "— " + s.Name + " " + s.Base64 + "\n"})
			}
		}
	}
	order := map[string]int{}
	for i, w := range ws {
		order[w.Name] = i
	}
	sort.Slice(got, func(i, j int) bool { return order[got[i].Witness] < order[got[j].Witness] })
	if len(got) < threshold {
		qe := &QuorumError{Have: len(got), Want: threshold}
		have := map[string]bool{}
		for _, c := range got {
			qe.Cosigned = append(qe.Cosigned, c.Witness)
			have[c.Witness] = true
		}
		for _, w := range ws {
			if !have[w.Name] {
				qe.Missing = append(qe.Missing, w.Name)
			}
		}
		return got, qe
	}
	return got, nil
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}
