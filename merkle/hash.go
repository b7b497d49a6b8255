package merkle

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// Format constants of the tree. They are part of the wire format: changing
// any of them changes every root.
const (
	// Algorithm names the tree hash in snapshot and proof files.
	Algorithm = "rfc6962-sha256"

	// LeafPrefix is prepended to a leaf's bytes before hashing (RFC 6962 §2.1).
	LeafPrefix byte = 0x00

	// NodePrefix is prepended to the two child hashes of an interior node.
	NodePrefix byte = 0x01

	// HashSize is the size of a Hash in bytes.
	HashSize = sha256.Size
)

// A Hash is a SHA-256 hash: a leaf hash, an interior node hash or a tree root.
// Its text and JSON form is 64 lower-case hex digits.
type Hash [HashSize]byte

// EmptyRoot is the root of the tree with no leaves: SHA-256 of the empty string.
var EmptyRoot = Hash(sha256.Sum256(nil))

// LeafHash returns the RFC 6962 leaf hash SHA-256(0x00 || data).
func LeafHash(data []byte) Hash {
	h := sha256.New()
	h.Write([]byte{LeafPrefix})
	h.Write(data)
	var out Hash
	h.Sum(out[:0])
	return out
}

// NodeHash returns the RFC 6962 interior node hash SHA-256(0x01 || l || r).
func NodeHash(l, r Hash) Hash {
	var b [1 + 2*HashSize]byte
	b[0] = NodePrefix
	copy(b[1:], l[:])
	copy(b[1+HashSize:], r[:])
	return sha256.Sum256(b[:])
}

// String returns h as 64 lower-case hex digits.
func (h Hash) String() string {
	return hex.EncodeToString(h[:])
}

// IsZero reports whether h is all zero bytes (the zero value, never a real hash).
func (h Hash) IsZero() bool {
	return h == Hash{}
}

// ParseHash parses 64 lower-case hex digits. Upper-case digits are rejected so
// that every hash has exactly one text form.
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != 2*HashSize {
		return h, fmt.Errorf("parse hash %q: have %d hex digits, want %d", abbrev(s), len(s), 2*HashSize)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return h, fmt.Errorf("parse hash %q: byte %d (%q) is not a lower-case hex digit", abbrev(s), i, c)
		}
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return Hash{}, fmt.Errorf("parse hash %q: %w", abbrev(s), err)
	}
	return h, nil
}

// MarshalText implements encoding.TextMarshaler (lower-case hex).
func (h Hash) MarshalText() ([]byte, error) {
	return []byte(h.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with the rules of ParseHash.
func (h *Hash) UnmarshalText(text []byte) error {
	tmp, err := ParseHash(string(text))
	if err != nil {
		return err
	}
	*h = tmp
	return nil
}

// MarshalJSON encodes h as a JSON string of 64 lower-case hex digits.
func (h Hash) MarshalJSON() ([]byte, error) {
	return json.Marshal(h.String())
}

// UnmarshalJSON decodes a JSON string of 64 lower-case hex digits. On error h
// is left unchanged.
func (h *Hash) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("parse hash: want a JSON string of hex digits: %w", err)
	}
	tmp, err := ParseHash(s)
	if err != nil {
		return err
	}
	*h = tmp
	return nil
}

// abbrev shortens s for error messages.
func abbrev(s string) string {
	const max = 80
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
