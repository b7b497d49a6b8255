package rfc3161

import (
	"errors"
	"fmt"
)

// maxDERDepth bounds the nesting checkDER follows; a TimeStampToken nests
// about a dozen levels (ContentInfo, SignedData, certificates, extensions).
const maxDERDepth = 32

// checkDER accepts exactly one DER TLV that spans b, with every nested
// constructed value again a run of complete DER TLVs: definite, minimal
// lengths that stay inside their parent, low- or high-number tags of at most
// four bytes. The BER readers below it (pkcs7's ber2der, timestamp) index
// past the end of truncated input, so nothing reaches them unchecked.
func checkDER(b []byte) error {
	n, err := derTLV(b, 0)
	if err != nil {
		return err
	}
	if n != len(b) {
		return fmt.Errorf("not DER: %d trailing bytes", len(b)-n)
	}
	return nil
}

// derTLV checks the TLV at the start of b and returns its length.
func derTLV(b []byte, depth int) (int, error) {
	if depth > maxDERDepth {
		return 0, fmt.Errorf("not DER: nested deeper than %d", maxDERDepth)
	}
	if len(b) < 2 {
		return 0, errors.New("not DER: truncated value")
	}
	constructed := b[0]&0x20 != 0
	i := 1
	if b[0]&0x1f == 0x1f { // high tag number: base-128, minimal, at most 4 bytes
		for start := i; ; i++ {
			if i >= len(b) || i-start >= 4 {
				return 0, errors.New("not DER: bad tag")
			}
			if i == start && b[i] == 0x80 {
				return 0, errors.New("not DER: tag not minimal")
			}
			if b[i]&0x80 == 0 {
				i++
				break
			}
		}
	}
	if i >= len(b) {
		return 0, errors.New("not DER: truncated length")
	}
	l := int(b[i])
	i++
	if l&0x80 != 0 {
		k := l & 0x7f
		switch {
		case k == 0:
			return 0, errors.New("not DER: indefinite length")
		case k > 3: // nothing in a token is 16 MiB
			return 0, errors.New("not DER: length too long")
		case i+k > len(b):
			return 0, errors.New("not DER: truncated length")
		case b[i] == 0:
			return 0, errors.New("not DER: length not minimal")
		}
		l = 0
		for _, c := range b[i : i+k] {
			l = l<<8 | int(c)
		}
		i += k
		if l < 0x80 {
			return 0, errors.New("not DER: length not minimal")
		}
	}
	if l > len(b)-i {
		return 0, errors.New("not DER: value runs past its end")
	}
	if constructed {
		for c := b[i : i+l]; len(c) > 0; {
			n, err := derTLV(c, depth+1)
			if err != nil {
				return 0, err
			}
			c = c[n:]
		}
	}
	return i + l, nil
}
