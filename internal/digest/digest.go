// Package digest holds the two content hashes vmc-git puts on every file it
// signs: BLAKE3-256 (the chain hash, `prev_blake3`) and SHA-256 (for tools
// that only speak SHA-256: Merkle leaves, RFC 3161, anchors).
//
// Both are 32 bytes and written as 64 lower-case hex digits in JSON, in
// commit trailers and on the command line. The genesis receipt's
// `prev_blake3` is Zero, 64 zeros.
package digest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"lukechampine.com/blake3"
)

// Size is the length of a digest in bytes.
const Size = 32

// Digest is a 32-byte hash value.
type Digest [Size]byte

// Zero is the all-zero digest, the prev_blake3 of a genesis receipt.
var Zero Digest

// Blake3 returns BLAKE3-256(b).
func Blake3(b []byte) Digest { return Digest(blake3.Sum256(b)) }

// SHA256 returns SHA-256(b).
func SHA256(b []byte) Digest { return Digest(sha256.Sum256(b)) }

// Sums holds both hashes of one byte string.
type Sums struct {
	Blake3 Digest `json:"blake3"`
	SHA256 Digest `json:"sha256"`
}

// Of returns both hashes of b.
func Of(b []byte) Sums { return Sums{Blake3(b), SHA256(b)} }

// String returns the lower-case hex form.
func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// IsZero reports whether d is all zeros.
func (d Digest) IsZero() bool { return d == Zero }

// Parse decodes 64 lower-case hex digits.
func Parse(s string) (Digest, error) {
	var d Digest
	if len(s) != 2*Size {
		return d, fmt.Errorf("digest %q: want %d hex digits, have %d", short(s), 2*Size, len(s))
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return d, fmt.Errorf("digest %q: not lower-case hex at position %d", short(s), i)
		}
	}
	var tmp Digest
	if _, err := hex.Decode(tmp[:], []byte(s)); err != nil {
		return d, fmt.Errorf("digest %q: %w", short(s), err)
	}
	return tmp, nil
}

// MarshalText implements encoding.TextMarshaler (and so JSON strings).
func (d Digest) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler; d is unchanged on error.
func (d *Digest) UnmarshalText(b []byte) error {
	tmp, err := Parse(string(b))
	if err != nil {
		return err
	}
	*d = tmp
	return nil
}

func short(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
