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
// An apply body may carry a policy member: the policy bundle's blake3 and
// the outcome at apply (none, pass, overridden with the admin overrides
// used, or denied for a refused plan); see type Policy for its format and
// what verify checks. It is optional: older receipts have none.
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
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"

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

// Size limits, checked before a file is parsed (a push is hostile input).
const (
	// MaxSize bounds a receipt file.
	MaxSize = 1 << 20
	// MaxHeadSize bounds HEAD.json.
	MaxHeadSize = 4 << 10
	// MaxPlanSize bounds a plan file (plans/<id>.json); package plans uses it.
	MaxPlanSize = 256 << 10
)

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
	if len(b) > MaxSize {
		return nil, fmt.Errorf("receipt: %d bytes, more than the limit of %d", len(b), MaxSize)
	}
	// Fast path: decode, re-encode, compare. Equal bytes prove b is the one
	// encoding Encode writes (hence canonical, no duplicate or unknown
	// members, nothing after the object, valid UTF-8: an unknown member
	// is dropped by the decode and so missing from the re-encoding);
	// anything else takes the slow path below, which names the problem.
	var fast Receipt
	if json.Unmarshal(b, &fast) == nil {
		if again, err := fast.canonical(); err == nil && bytes.Equal(again, b) {
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
	case KindAttestation:
		if err := validateStatement(r.Attestation); err != nil {
			return fail("attestation: %v", err)
		}
	case KindAnchor:
		if err := validateAnchor(r.Anchor); err != nil {
			return fail("anchor: %v", err)
		}
	}
	return nil
}

// ClipSummary clips s to MaxSummary characters (ending "…" where it cut),
// keeping mark, if not empty, at its end after a space: a ledger on the
// embedded sandbox ends every summary with its mark.
func ClipSummary(s, mark string) string {
	if mark != "" {
		mark = " " + mark
	}
	if r := []rune(s); len(r)+len([]rune(mark)) > MaxSummary {
		s = string(r[:MaxSummary-len([]rune(mark))-1]) + "…"
	}
	return s + mark
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
func HeadOf(r *Receipt, b []byte) Head { return HeadOfSums(r, digest.Of(b)) }

// HeadOfSums is HeadOf for a receipt whose hashes s are already known.
func HeadOfSums(r *Receipt, s digest.Sums) Head {
	return Head{V: Version, Ledger: r.Ledger, Seq: r.Seq, Blake3: s.Blake3, SHA256: s.SHA256, Path: Path(r.Seq), CreatedAt: r.CreatedAt}
}

// Encode returns the canonical bytes of h.
func (h Head) Encode() ([]byte, error) {
	if b, ok := h.appendCanonical(nil); ok {
		return b, nil
	}
	return canon.Marshal(h)
}

// appendCanonical appends canon.Marshal(h) to dst without reflection when
// every string of h is plain (see plainString) and its numbers are exact
// integers; otherwise it reports false and the caller uses canon.Marshal.
// Members in canonical order: blake3, created_at, ledger, path, seq, sha256, v.
func (h Head) appendCanonical(dst []byte) ([]byte, bool) {
	if !plainString(h.CreatedAt) || !plainString(h.Ledger) || !plainString(h.Path) || !exactInt(h.Seq) || h.V < 0 || !exactInt(uint64(h.V)) {
		return nil, false
	}
	dst = append(dst, `{"blake3":"`...)
	dst = hex.AppendEncode(dst, h.Blake3[:])
	dst = append(dst, `","created_at":"`...)
	dst = append(dst, h.CreatedAt...)
	dst = append(dst, `","ledger":"`...)
	dst = append(dst, h.Ledger...)
	dst = append(dst, `","path":"`...)
	dst = append(dst, h.Path...)
	dst = append(dst, `","seq":`...)
	dst = strconv.AppendUint(dst, h.Seq, 10)
	dst = append(dst, `,"sha256":"`...)
	dst = hex.AppendEncode(dst, h.SHA256[:])
	dst = append(dst, `","v":`...)
	dst = strconv.AppendInt(dst, int64(h.V), 10)
	return append(dst, '}'), true
}

// parseHeadPlain reads b as the exact layout appendCanonical writes, with no
// escapes in strings. It only proposes a value: the caller accepts it only
// if appendCanonical gives back b, byte for byte.
func parseHeadPlain(b []byte) (Head, bool) {
	var h Head
	rest := b
	lit := func(s string) bool {
		if !bytes.HasPrefix(rest, []byte(s)) {
			return false
		}
		rest = rest[len(s):]
		return true
	}
	str := func() (string, bool) { // after the opening quote; up to the next quote
		i := bytes.IndexByte(rest, '"')
		if i < 0 {
			return "", false
		}
		s := string(rest[:i])
		rest = rest[i+1:]
		return s, true
	}
	dig := func() (digest.Digest, bool) {
		s, ok := str()
		if !ok {
			return digest.Zero, false
		}
		d, err := digest.Parse(s)
		return d, err == nil
	}
	num := func() (uint64, bool) {
		i := 0
		for i < len(rest) && i < 16 && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		n, err := strconv.ParseUint(string(rest[:i]), 10, 64)
		rest = rest[i:]
		return n, err == nil && exactInt(n)
	}
	var ok bool
	if !lit(`{"blake3":"`) {
		return h, false
	}
	if h.Blake3, ok = dig(); !ok || !lit(`,"created_at":"`) {
		return h, false
	}
	if h.CreatedAt, ok = str(); !ok || !lit(`,"ledger":"`) {
		return h, false
	}
	if h.Ledger, ok = str(); !ok || !lit(`,"path":"`) {
		return h, false
	}
	if h.Path, ok = str(); !ok || !lit(`,"seq":`) {
		return h, false
	}
	if h.Seq, ok = num(); !ok || !lit(`,"sha256":"`) {
		return h, false
	}
	if h.SHA256, ok = dig(); !ok || !lit(`,"v":`) {
		return h, false
	}
	v, ok := num()
	if !ok || !lit("}") || len(rest) != 0 {
		return h, false
	}
	h.V = int(v)
	return h, true
}

// plainString reports whether s is written as itself between quotes by both
// encoding/json and canon (printable ASCII other than '"', '\\', '<', '>'
// and '&'), so that its canonical encoding is '"' + s + '"'.
func plainString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// exactInt reports whether n is an integer that canon writes in plain
// decimal (a double holds it exactly, and it is below 1e21).
func exactInt(n uint64) bool { return n <= 1<<53 }

// canonical returns canon.Marshal(r). The members common to all kinds are
// written directly when plain (see Head.appendCanonical); the body, if any,
// goes through canon.Marshal on its own, which gives the same bytes as
// within the whole receipt (canonical form is per value).
func (r *Receipt) canonical() ([]byte, error) {
	if b, ok := r.appendCanonical(make([]byte, 0, 512)); ok {
		return b, nil
	}
	return canon.Marshal(r)
}

// appendCanonical: members in canonical order: anchor, apply, attestation,
// created_at, genesis, keys, kid, kind, ledger, manual, prev_blake3, seq,
// summary, v (the bodies only when present, as omitempty has it).
func (r *Receipt) appendCanonical(dst []byte) ([]byte, bool) {
	if !plainString(r.CreatedAt) || !plainString(r.KID) || !plainString(string(r.Kind)) || !plainString(r.Ledger) || !plainString(r.Summary) ||
		!exactInt(r.Seq) || r.V < 0 || !exactInt(uint64(r.V)) {
		return nil, false
	}
	ok := true
	body := func(name string, present bool, v any) {
		if !ok || !present {
			return
		}
		b, err := canon.Marshal(v)
		if err != nil {
			ok = false
			return
		}
		dst = append(dst, `"`+name+`":`...)
		dst = append(dst, b...)
		dst = append(dst, ',')
	}
	dst = append(dst, '{')
	body("anchor", len(r.Anchor) != 0, r.Anchor)
	body("apply", r.Apply != nil, r.Apply)
	body("attestation", len(r.Attestation) != 0, r.Attestation)
	dst = append(dst, `"created_at":"`...)
	dst = append(dst, r.CreatedAt...)
	dst = append(dst, `",`...)
	body("genesis", r.Genesis != nil, r.Genesis)
	body("keys", r.Keys != nil, r.Keys)
	dst = append(dst, `"kid":"`...)
	dst = append(dst, r.KID...)
	dst = append(dst, `","kind":"`...)
	dst = append(dst, r.Kind...)
	dst = append(dst, `","ledger":"`...)
	dst = append(dst, r.Ledger...)
	dst = append(dst, `",`...)
	if r.Manual != nil && r.Manual.Details == nil {
		dst = append(dst, `"manual":{},`...) // the body of most manual receipts
	} else {
		body("manual", r.Manual != nil, r.Manual)
	}
	dst = append(dst, `"prev_blake3":"`...)
	dst = hex.AppendEncode(dst, r.PrevBlake3[:])
	dst = append(dst, `","seq":`...)
	dst = strconv.AppendUint(dst, r.Seq, 10)
	dst = append(dst, `,"summary":"`...)
	dst = append(dst, r.Summary...)
	dst = append(dst, `","v":`...)
	dst = strconv.AppendInt(dst, int64(r.V), 10)
	return append(dst, '}'), ok
}

// ParseHead decodes canonical HEAD.json bytes.
func ParseHead(b []byte) (Head, error) {
	if len(b) > MaxHeadSize {
		return Head{}, fmt.Errorf("HEAD.json: %d bytes, more than the limit of %d", len(b), MaxHeadSize)
	}
	// Fastest path: the plain layout Encode writes, read without reflection
	// and accepted only if it encodes back to b.
	if h, ok := parseHeadPlain(b); ok && ValidFormat(h.V) {
		if again, ok := h.appendCanonical(make([]byte, 0, len(b))); ok && bytes.Equal(again, b) {
			return h, nil
		}
	}
	var fast Head // fast path as in Parse
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if dec.Decode(&fast) == nil && ValidFormat(fast.V) {
		if again, err := fast.Encode(); err == nil && bytes.Equal(again, b) {
			return fast, nil
		}
	}
	var h Head
	if err := canon.Unmarshal(b, &h); err != nil {
		return Head{}, fmt.Errorf("HEAD.json: %w", err)
	}
	if !ValidFormat(h.V) {
		return Head{}, fmt.Errorf("HEAD.json: version %d, want %d or %d", h.V, Format1, Format2)
	}
	return h, nil
}

// InTotoStatement is the _type of an in-toto Statement v1.
const InTotoStatement = "https://in-toto.io/Statement/v1"

// validateStatement checks an attestation body is an in-toto Statement v1:
// exactly _type, subject (at least one {name, digest: {alg: hex}}),
// predicateType and predicate (an object).
func validateStatement(b json.RawMessage) error {
	var st struct {
		Type    string `json:"_type"`
		Subject []struct {
			Name   string            `json:"name"`
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
		PredicateType string          `json:"predicateType"`
		Predicate     json.RawMessage `json:"predicate"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return fmt.Errorf("not an in-toto Statement: %v", err)
	}
	switch {
	case st.Type != InTotoStatement:
		return fmt.Errorf("_type %q, want %q", st.Type, InTotoStatement)
	case len(st.Subject) == 0:
		return errors.New("no subject")
	case st.PredicateType == "":
		return errors.New("no predicateType")
	case len(st.Predicate) == 0 || st.Predicate[0] != '{':
		return errors.New("predicate must be an object")
	}
	for i, sub := range st.Subject {
		if sub.Name == "" || len(sub.Digest) == 0 {
			return fmt.Errorf("subject %d: name and digest are required", i)
		}
		for alg, hx := range sub.Digest {
			if alg == "" || hx == "" || strings.Trim(hx, "0123456789abcdef") != "" {
				return fmt.Errorf("subject %d: digest %s must be lower-case hex", i, alg)
			}
		}
	}
	// And as the in-toto library reads it (digest lengths of known
	// algorithms, the predicate as a protobuf Struct).
	var its intoto.Statement
	if err := protojson.Unmarshal(b, &its); err != nil {
		return fmt.Errorf("in-toto: %v", err)
	}
	if err := its.Validate(); err != nil {
		return fmt.Errorf("in-toto: %v", err)
	}
	return nil
}
