package rfc3161

import (
	"crypto/x509"
	"encoding/base64"
	"math/big"
	"testing"

	"github.com/vmc-git/vmc-git/anchor/internal/nodetest"
)

// vectorToken returns the stored vector's digest, DER token, nonce and
// trusted certificates.
func vectorToken(f *testing.F) ([32]byte, []byte, *big.Int, []*x509.Certificate) {
	d, raw := nodetest.ReadVector(f)
	p, err := ParseProof(raw)
	if err != nil {
		f.Fatal(err)
	}
	der, err := p.TokenDER()
	if err != nil {
		f.Fatal(err)
	}
	nonce, ok := new(big.Int).SetString(p.Nonce, 10)
	if !ok {
		f.Fatalf("vector nonce %q", p.Nonce)
	}
	var certs []*x509.Certificate
	for _, s := range p.Certs {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			f.Fatal(err)
		}
		c, err := x509.ParseCertificate(b)
		if err != nil {
			f.Fatal(err)
		}
		certs = append(certs, c)
	}
	return d, der, nonce, certs
}

// FuzzCheckToken feeds DER bytes straight to CheckToken (checkDER, then
// pkcs7 and timestamp), which FuzzVerify reaches only through JSON and
// base64 that a mutation mostly breaks.
func FuzzCheckToken(f *testing.F) {
	d, der, _, certs := vectorToken(f)
	if _, err := CheckToken(der, d, certs); err != nil {
		f.Fatalf("vector token: %v", err)
	}
	f.Add(der)
	f.Add(der[:len(der)/2])
	f.Fuzz(func(t *testing.T, b []byte) {
		CheckToken(b, d, certs)
		CheckToken(b, d, nil) // a token that must name its own chain
	})
}

// grantedReply wraps a token in a TimeStampResp with status granted.
func grantedReply(token []byte) []byte {
	status := []byte{0x30, 0x03, 0x02, 0x01, 0x00}
	body := append(status, token...)
	return append(derHeader(0x30, len(body)), body...)
}

func derHeader(tag byte, n int) []byte {
	switch {
	case n < 0x80:
		return []byte{tag, byte(n)}
	case n < 0x100:
		return []byte{tag, 0x81, byte(n)}
	case n < 0x10000:
		return []byte{tag, 0x82, byte(n >> 8), byte(n)}
	}
	return []byte{tag, 0x83, byte(n >> 16), byte(n >> 8), byte(n)}
}

// FuzzCheckReply feeds a TSA's reply to what Anchor checks it with: the
// TSA is a server the operator chose, but its bytes are not to be trusted.
func FuzzCheckReply(f *testing.F) {
	d, der, nonce, certs := vectorToken(f)
	c := &Client{Certs: certs}
	if _, err := c.checkReply(grantedReply(der), d, nonce); err != nil {
		f.Fatalf("vector reply: %v", err)
	}
	f.Add(grantedReply(der))
	f.Add([]byte{0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x02})
	f.Fuzz(func(t *testing.T, b []byte) {
		c.checkReply(b, d, nonce)
	})
}
