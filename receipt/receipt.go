// Package receipt defines vmc-git's ledger entries: their fields, their one
// canonical encoding, their hashes and their signatures.
//
// A receipt is a JSON object stored in RFC 8785 canonical form (package
// canon), byte for byte; a file that is not canonical, has an unknown field
// or a body that does not match its kind is rejected. Its hashes are
// BLAKE3-256 and SHA-256 of exactly those bytes. Receipts chain: receipt seq
// carries prev_blake3 = blake3 of receipt seq-1 (64 zeros for genesis, seq 0),
// and ledger, the ledger id fixed at genesis, so a receipt cannot be replayed
// into another ledger.
//
// Common fields: v (Version), ledger, seq, kind, created_at (RFC 3339 UTC,
// seconds), prev_blake3, kid (the signer's key id), summary (one line). Then
// exactly one body named after the kind: genesis, manual, keys, apply,
// attestation or anchor.
//
// The signature is a detached armored SSHSIG, namespace "vmc-receipt", over
// the receipt bytes, stored beside the receipt as <name>.json.sig.
//
// Example (genesis, wrapped here for reading; stored on one line):
//
//	{"created_at":"2026-11-26T09:00:00Z","genesis":{"admin_threshold":1,
//	 "approvals_required":1,"keys":[{"kid":"alice","public_key":"ssh-ed25519 AAAA…",
//	 "roles":["admin","applier","approver"]}]},"kid":"alice","kind":"genesis",
//	 "ledger":"github.com/acme/infra","prev_blake3":"000…000","seq":0,
//	 "summary":"genesis of github.com/acme/infra","v":1}
package receipt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/vmc-git/vmc-git/internal/canon"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/keys"
)

// Version is the receipt format version this package reads and writes.
const Version = 1

// Kind names the kind of a receipt.
type Kind string

// Receipt kinds.
const (
	KindGenesis     Kind = "genesis"
	KindApply       Kind = "apply"
	KindManual      Kind = "manual"
	KindKeys        Kind = "keys"
	KindAttestation Kind = "attestation"
	KindAnchor      Kind = "anchor"
)

// Roles lists which roles may sign a receipt of each kind.
var Roles = map[Kind][]keys.Role{
	KindGenesis:     {keys.RoleAdmin},
	KindApply:       {keys.RoleApplier},
	KindManual:      {keys.RoleAdmin, keys.RoleApplier},
	KindKeys:        {keys.RoleAdmin},
	KindAttestation: {keys.RoleApplier},
	KindAnchor:      {keys.RoleApplier},
}

// MaxSummary bounds the summary line, in characters.
const MaxSummary = 200

var ledgerRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/:-]{0,199}$`)

// ValidLedgerID checks a ledger id such as github.com/acme/infra.
func ValidLedgerID(id string) error {
	if !ledgerRE.MatchString(id) || strings.Contains(id, "..") || strings.Contains(id, "//") || strings.HasSuffix(id, "/") {
		return fmt.Errorf("invalid ledger id %q: want up to 200 of A-Z a-z 0-9 . _ / : -, like github.com/acme/infra", id)
	}
	return nil
}

// Receipt is one ledger entry.
type Receipt struct {
	V          int           `json:"v"`
	Ledger     string        `json:"ledger"`
	Seq        uint64        `json:"seq"`
	Kind       Kind          `json:"kind"`
	CreatedAt  string        `json:"created_at"`
	PrevBlake3 digest.Digest `json:"prev_blake3"`
	KID        string        `json:"kid"`
	Summary    string        `json:"summary"`

	Genesis     *Genesis        `json:"genesis,omitempty"`
	Manual      *Manual         `json:"manual,omitempty"`
	Keys        *KeysChange     `json:"keys,omitempty"`
	Apply       *Apply          `json:"apply,omitempty"`
	Attestation json.RawMessage `json:"attestation,omitempty"`
	Anchor      json.RawMessage `json:"anchor,omitempty"`
}

// Genesis is the body of receipt 0: the initial trust.
type Genesis struct {
	Keys []keys.KeySpec `json:"keys"`
	keys.Policy
}

// Manual records an operation done by hand outside vmc-git (break-glass).
type Manual struct {
	Details json.RawMessage `json:"details,omitempty"` // any JSON object the operator gives
}

// Encode validates r and returns its canonical bytes.
func (r *Receipt) Encode() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return canon.Marshal(r)
}

// Parse decodes canonical receipt bytes and validates the result.
func Parse(b []byte) (*Receipt, error) {
	// Fast path: decode, re-encode, compare. Equal bytes prove b is the one
	// encoding Encode writes (hence canonical, no duplicate or unknown
	// members, valid UTF-8); anything else takes the slow path below, which
	// names the problem.
	var fast Receipt
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if dec.Decode(&fast) == nil {
		if again, err := canon.Marshal(&fast); err == nil && bytes.Equal(again, b) {
			if err := fast.Validate(); err != nil {
				return nil, err
			}
			return &fast, nil
		}
	}
	var r Receipt
	if err := canon.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("receipt: %w", err)
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	// encoding/json matches member names case-insensitively and cannot tell
	// an omitted optional member from one written empty, so canonical JSON
	// alone leaves a receipt more than one encoding. Accept only the one
	// Encode writes.
	if again, err := canon.Marshal(&r); err != nil || !bytes.Equal(again, b) {
		return nil, fmt.Errorf("receipt %d: not the form Encode writes (a member name in another case, or an optional member written empty)", r.Seq)
	}
	return &r, nil
}

// Time returns created_at as a time (Validate has checked it).
func (r *Receipt) Time() time.Time {
	t, _ := keys.ParseTime(r.CreatedAt)
	return t
}

// Validate checks the fields of r that do not depend on other receipts.
func (r *Receipt) Validate() error {
	fail := func(format string, a ...any) error {
		return fmt.Errorf("receipt %d: %s", r.Seq, fmt.Sprintf(format, a...))
	}
	if r.V != Version {
		return fail("format version %d, want %d", r.V, Version)
	}
	if err := ValidLedgerID(r.Ledger); err != nil {
		return fail("%v", err)
	}
	if _, err := keys.ParseTime(r.CreatedAt); err != nil {
		return fail("created_at: %v", err)
	}
	if err := keys.ValidKID(r.KID); err != nil {
		return fail("kid: %v", err)
	}
	if err := ValidSummary(r.Summary); err != nil {
		return fail("%v", err)
	}
	if (r.Seq == 0) != (r.Kind == KindGenesis) {
		return fail("kind %s at seq %d: genesis is exactly receipt 0", r.Kind, r.Seq)
	}
	if (r.Seq == 0) != r.PrevBlake3.IsZero() {
		return fail("prev_blake3 %s: zero exactly for genesis", r.PrevBlake3)
	}
	bodies := map[Kind]bool{
		KindGenesis:     r.Genesis != nil,
		KindManual:      r.Manual != nil,
		KindKeys:        r.Keys != nil,
		KindApply:       r.Apply != nil,
		KindAttestation: r.Attestation != nil,
		KindAnchor:      r.Anchor != nil,
	}
	if _, known := bodies[r.Kind]; !known {
		return fail("unknown kind %q", r.Kind)
	}
	if !bodies[r.Kind] {
		return fail("kind %s without its %s body", r.Kind, r.Kind)
	}
	for _, k := range []Kind{KindGenesis, KindApply, KindManual, KindKeys, KindAttestation, KindAnchor} {
		if bodies[k] && k != r.Kind {
			return fail("kind %s carries a %s body", r.Kind, k)
		}
	}
	switch r.Kind {
	case KindGenesis:
		if _, err := keys.NewTrust(r.Genesis.Keys, r.Genesis.Policy, r.Time()); err != nil {
			return fail("%v", err)
		}
	case KindManual:
		if d := r.Manual.Details; d != nil && (len(d) == 0 || d[0] != '{') {
			return fail("manual details must be a JSON object")
		}
	case KindKeys:
		if err := r.Keys.Validate(); err != nil {
			return fail("%v", err)
		}
	case KindApply:
		if err := r.Apply.Validate(); err != nil {
			return fail("%v", err)
		}
	}
	return nil
}

// ValidSummary checks a one-line summary: 1 to MaxSummary printable characters.
func ValidSummary(s string) error {
	if s == "" || !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxSummary {
		return fmt.Errorf("summary must be 1 to %d characters of valid UTF-8", MaxSummary)
	}
	for _, c := range s {
		if !unicode.IsPrint(c) {
			return fmt.Errorf("summary has a non-printable character %U", c)
		}
	}
	return nil
}

// Path returns where receipt seq lives in the ledger tree:
// receipts/AAA/BBB/NNNNNNNNN.json with AAA = seq/1e6, BBB = (seq/1e3)%1000.
func Path(seq uint64) string {
	return fmt.Sprintf("receipts/%03d/%03d/%09d.json", seq/1_000_000, (seq/1000)%1000, seq)
}

// SigSuffix is appended to a receipt path for its signature.
const SigSuffix = ".sig"

// ErrNotHead is returned for a HEAD.json that does not match.
var ErrNotHead = errors.New("HEAD.json does not match")

// Head is HEAD.json: the pointer to the newest receipt.
type Head struct {
	V         int           `json:"v"`
	Ledger    string        `json:"ledger"`
	Seq       uint64        `json:"seq"`
	Blake3    digest.Digest `json:"blake3"`
	SHA256    digest.Digest `json:"sha256"`
	Path      string        `json:"path"`
	CreatedAt string        `json:"created_at"`
}

// HeadOf returns HEAD.json's content for receipt r with bytes b.
func HeadOf(r *Receipt, b []byte) Head {
	s := digest.Of(b)
	return Head{V: Version, Ledger: r.Ledger, Seq: r.Seq, Blake3: s.Blake3, SHA256: s.SHA256, Path: Path(r.Seq), CreatedAt: r.CreatedAt}
}

// Encode returns the canonical bytes of h.
func (h Head) Encode() ([]byte, error) { return canon.Marshal(h) }

// ParseHead decodes canonical HEAD.json bytes.
func ParseHead(b []byte) (Head, error) {
	var fast Head // fast path as in Parse
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if dec.Decode(&fast) == nil && fast.V == Version {
		if again, err := fast.Encode(); err == nil && bytes.Equal(again, b) {
			return fast, nil
		}
	}
	var h Head
	if err := canon.Unmarshal(b, &h); err != nil {
		return Head{}, fmt.Errorf("HEAD.json: %w", err)
	}
	if h.V != Version {
		return Head{}, fmt.Errorf("HEAD.json: version %d, want %d", h.V, Version)
	}
	return h, nil
}
