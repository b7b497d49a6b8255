// Package rfc3161 anchors a digest with an RFC 3161 time-stamping authority
// (TSA) and verifies the token offline.
//
// Anchoring sends a TimeStampReq over HTTP (POST, Content-Type
// application/timestamp-query) with the SHA-256 message imprint of the
// digest, a random 64-bit nonce and certReq set, and checks the reply before
// it is stored: status granted, imprint equal to the digest, the nonce
// echoed, the policy (the one asked for, if any), the CMS signature, and the
// signer certificate (a timeStamping-only critical extended key usage, valid
// at genTime, chaining to the trusted roots at genTime). A TSA that returns
// only its leaf certificate needs the intermediates in the roots file.
//
// Proof (the "proof" member of an anchor receipt with substrate "rfc3161"):
//
//	{"certs":["<base64 DER>",…],"gen_time":"2026-11-26T09:00:01Z","nonce":"1234…",
//	 "policy":"1.2.3.4.1","token":"<base64 DER TimeStampToken>","tsa":"https://tsa.example/","v":1}
//
// token is the TimeStampToken (a CMS ContentInfo), exactly what `openssl ts
// -verify -token_in` reads; certs are the roots and intermediates the
// anchoring operator trusted (the --tsa-ca file), which an offline verifier
// uses unless it is given its own (Verifier.Roots). gen_time, nonce and
// policy repeat the token's for reading; Verify checks they agree.
//
// Verify accepts one form of a token only: one DER ContentInfo, SignedData
// version 3 with exactly the signer's digest algorithm, a certificates bag
// that is exactly its certificates' DER, one SignerInfo of version 1 without
// unsigned attributes whose signature holds over the signed attributes as
// stored, and no certificate (in the token or the trusted set) that is
// neither a root nor chains to one. So no byte of a stored proof can change
// while it still verifies (the tsa URL is for reading only).
//
// A third party checks the token with stock OpenSSL:
//
//	openssl ts -verify -digest <sha256 of the statement> -token_in -in token.der -CAfile tsa-ca.pem
package rfc3161

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/digitorus/pkcs7"
	"github.com/digitorus/timestamp"

	"github.com/vmc-git/vmc-git/anchor"
	"github.com/vmc-git/vmc-git/internal/canon"
)

// Name is the substrate name.
const Name = "rfc3161"

// Version is the proof format version.
const Version = 1

// Content types of RFC 3161 over HTTP.
const (
	ContentTypeQuery = "application/timestamp-query"
	ContentTypeReply = "application/timestamp-reply"
)

// MaxReply bounds a TSA reply, in bytes.
const MaxReply = 256 << 10

func init() { anchor.Register(Verifier{}) }

// Proof is the stored proof.
type Proof struct {
	V       int      `json:"v"`
	TSA     string   `json:"tsa"`
	Token   string   `json:"token"`
	Nonce   string   `json:"nonce"`
	Policy  string   `json:"policy"`
	GenTime string   `json:"gen_time"`
	Certs   []string `json:"certs"`
}

// ParseProof decodes a proof strictly.
func ParseProof(b []byte) (*Proof, error) {
	var p Proof
	if err := canon.DecodeStrict(b, &p); err != nil {
		return nil, fmt.Errorf("rfc3161 proof: %w", err)
	}
	if p.V != Version {
		return nil, fmt.Errorf("rfc3161 proof: version %d, want %d", p.V, Version)
	}
	if p.Certs == nil {
		p.Certs = []string{}
	}
	return &p, nil
}

// TokenDER returns the DER TimeStampToken.
func (p *Proof) TokenDER() ([]byte, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(p.Token)
	if err != nil {
		return nil, fmt.Errorf("rfc3161 proof: token: %w", err)
	}
	return b, nil
}

// ParseOID reads a policy OID in dotted form ("1.2.3.4.1"): at least two
// non-negative arcs.
func ParseOID(s string) (asn1.ObjectIdentifier, error) {
	var oid asn1.ObjectIdentifier
	for _, p := range strings.Split(s, ".") {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%q is not a dotted OID", s)
		}
		oid = append(oid, n)
	}
	if len(oid) < 2 {
		return nil, fmt.Errorf("%q is not a dotted OID", s)
	}
	return oid, nil
}

// ParseCerts reads PEM certificates (a --tsa-ca file).
func ParseCerts(pemBytes []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for rest := pemBytes; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("tsa certificates: %w", err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("tsa certificates: no PEM CERTIFICATE block")
	}
	return out, nil
}

// Verifier checks rfc3161 proofs offline.
type Verifier struct {
	// Roots and intermediates to trust (self-signed ones are roots). Nil:
	// the certs stored in the proof, else the system roots.
	Certs []*x509.Certificate
}

// Substrate implements anchor.Verifier.
func (Verifier) Substrate() string { return Name }

// Verify implements anchor.Verifier.
func (v Verifier) Verify(raw json.RawMessage, d [32]byte) (*anchor.Evidence, error) {
	p, err := ParseProof(raw)
	if err != nil {
		return nil, err
	}
	der, err := p.TokenDER()
	if err != nil {
		return nil, err
	}
	certs := v.Certs
	if certs == nil && len(p.Certs) > 0 {
		for i, s := range p.Certs {
			b, err := base64.StdEncoding.Strict().DecodeString(s)
			if err != nil {
				return nil, fmt.Errorf("rfc3161 proof: cert %d: %w", i, err)
			}
			c, err := x509.ParseCertificate(b)
			if err != nil {
				return nil, fmt.Errorf("rfc3161 proof: cert %d: %w", i, err)
			}
			certs = append(certs, c)
		}
	}
	ts, err := CheckToken(der, d, certs)
	if err != nil {
		return nil, err
	}
	switch {
	case p.Nonce != ts.Nonce.String():
		return nil, fmt.Errorf("token nonce %s is not the request's %s", ts.Nonce, p.Nonce)
	case p.Policy != ts.Policy.String():
		return nil, fmt.Errorf("token policy %s, the proof says %s", ts.Policy, p.Policy)
	case p.GenTime != ts.Time.UTC().Format(time.RFC3339):
		return nil, fmt.Errorf("token genTime %s, the proof says %s", ts.Time.UTC().Format(time.RFC3339), p.GenTime)
	}
	return &anchor.Evidence{Substrate: Name, Time: ts.Time.UTC(), Where: fmt.Sprintf("%s (serial %s, policy %s)", p.TSA, ts.SerialNumber, ts.Policy)}, nil
}

var oidExtKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37}

// CheckToken parses a DER TimeStampToken and checks that it stamps digest d
// (SHA-256) with a valid signature by a time-stamping certificate that
// chains to certs (self-signed ones as roots, the rest as intermediates;
// nil: the system roots), all at the token's genTime.
func CheckToken(der []byte, d [32]byte, certs []*x509.Certificate) (*timestamp.Timestamp, error) {
	if err := checkDER(der); err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	ts, err := timestamp.Parse(der)
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	if ts.HashAlgorithm != crypto.SHA256 {
		return nil, fmt.Errorf("token imprint uses %v, want SHA-256", ts.HashAlgorithm)
	}
	if !bytes.Equal(ts.HashedMessage, d[:]) {
		return nil, fmt.Errorf("token is for digest %x, not the statement's %x", ts.HashedMessage, d)
	}
	if ts.Nonce == nil {
		return nil, errors.New("token has no nonce")
	}
	p7, err := pkcs7.Parse(der)
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	tokenCerts := len(p7.Certificates)
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, c := range p7.Certificates {
		inter.AddCert(c)
	}
	for _, c := range certs {
		if isRoot(c) {
			roots.AddCert(c)
		} else {
			inter.AddCert(c)
			p7.Certificates = append(p7.Certificates, c) // a token without certs names its signer here
		}
	}
	if certs == nil {
		if roots, err = x509.SystemCertPool(); err != nil {
			return nil, fmt.Errorf("system roots: %w", err)
		}
	}
	signer := p7.GetOnlySigner()
	if signer == nil {
		return nil, errors.New("token: not exactly one signer with its certificate (give the TSA certificate in the roots file)")
	}
	if err := p7.Verify(); err != nil {
		return nil, fmt.Errorf("token signature: %w", err)
	}
	gen := ts.Time
	if gen.Before(signer.NotBefore) || gen.After(signer.NotAfter) {
		return nil, fmt.Errorf("token genTime %s is outside the TSA certificate's validity %s to %s", gen.UTC().Format(time.RFC3339),
			signer.NotBefore.UTC().Format(time.RFC3339), signer.NotAfter.UTC().Format(time.RFC3339))
	}
	critical := false
	for _, e := range signer.Extensions {
		if e.Id.Equal(oidExtKeyUsage) {
			critical = e.Critical
		}
	}
	if !critical || len(signer.ExtKeyUsage) != 1 || signer.ExtKeyUsage[0] != x509.ExtKeyUsageTimeStamping || len(signer.UnknownExtKeyUsage) != 0 {
		return nil, fmt.Errorf("TSA certificate %q is not a time-stamping certificate (RFC 3161 wants exactly the critical extended key usage timeStamping)", signer.Subject)
	}
	if _, err := signer.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: gen,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}}); err != nil {
		return nil, fmt.Errorf("TSA certificate chain is not trusted at genTime: %w", err)
	}
	// Every certificate, given or in the token, must be a root or chain to
	// one: a stored proof has no unused or damaged certificates.
	for i, c := range p7.Certificates {
		if !isRoot(c) {
			if _, err := c.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: gen, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
				return nil, fmt.Errorf("certificate %d (%q) of the token or the trusted file is neither a root nor chains to one: %w", i, c.Subject, err)
			}
		}
	}
	if err := checkSignedData(der, p7, tokenCerts, signer); err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	return ts, nil
}

// The unsigned frame of a TimeStampToken (CMS ContentInfo with SignedData).
type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,tag:0"`
}

type signedData struct {
	Version          int
	DigestAlgorithms []pkix.AlgorithmIdentifier `asn1:"set"`
	EncapContentInfo asn1.RawValue
	Certificates     asn1.RawValue   `asn1:"optional,tag:0"`
	CRLs             asn1.RawValue   `asn1:"optional,tag:1"`
	SignerInfos      []asn1.RawValue `asn1:"set"`
}

var (
	oidSignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidTSTInfo    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
)

// checkSignedData checks what the CMS signature does not cover, so that a
// stored token has exactly one form: one DER ContentInfo with SignedData
// version 3 (RFC 5652, eContentType id-ct-TSTInfo in an OCTET STRING);
// digestAlgorithms exactly the signer's; the certificates bag exactly the
// DER of the n certificates parsed from it; one SignerInfo of version 1;
// and its signature valid over the signed attributes exactly as stored
// (a parser that re-encodes them would accept other bytes).
func checkSignedData(der []byte, p7 *pkcs7.PKCS7, n int, signer *x509.Certificate) error {
	var ci contentInfo
	if rest, err := asn1.Unmarshal(der, &ci); err != nil || len(rest) != 0 || !ci.ContentType.Equal(oidSignedData) {
		return fmt.Errorf("not one DER ContentInfo with SignedData (%v)", err)
	}
	var sd signedData
	if rest, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil || len(rest) != 0 {
		return fmt.Errorf("SignedData: %v", err)
	}
	if sd.Version != 3 {
		return fmt.Errorf("SignedData version %d, want 3", sd.Version)
	}
	var enc struct {
		EContentType asn1.ObjectIdentifier
		EContent     asn1.RawValue `asn1:"tag:0"`
	}
	if rest, err := asn1.Unmarshal(sd.EncapContentInfo.FullBytes, &enc); err != nil || len(rest) != 0 || !enc.EContentType.Equal(oidTSTInfo) {
		return fmt.Errorf("encapsulated content is not id-ct-TSTInfo (%v)", enc.EContentType)
	}
	var octets asn1.RawValue
	if rest, err := asn1.Unmarshal(enc.EContent.Bytes, &octets); err != nil || len(rest) != 0 ||
		octets.Class != asn1.ClassUniversal || octets.Tag != asn1.TagOctetString || octets.IsCompound {
		return errors.New("encapsulated TSTInfo is not in a primitive OCTET STRING")
	}
	var signedType asn1.ObjectIdentifier
	if err := p7.UnmarshalSignedAttribute(pkcs7.OIDAttributeContentType, &signedType); err != nil || !signedType.Equal(oidTSTInfo) {
		return fmt.Errorf("signed content-type attribute %v is not id-ct-TSTInfo (%v)", signedType, err)
	}
	if len(sd.SignerInfos) != 1 || len(p7.Signers) != 1 {
		return fmt.Errorf("%d signers, want 1", len(sd.SignerInfos))
	}
	want := p7.Signers[0].DigestAlgorithm
	if len(sd.DigestAlgorithms) != 1 || !sd.DigestAlgorithms[0].Algorithm.Equal(want.Algorithm) ||
		!bytes.Equal(sd.DigestAlgorithms[0].Parameters.FullBytes, want.Parameters.FullBytes) {
		return errors.New("digestAlgorithms is not exactly the signer's digest algorithm")
	}
	var bag []byte
	for _, c := range p7.Certificates[:n] {
		bag = append(bag, c.Raw...)
	}
	if !bytes.Equal(bag, sd.Certificates.Bytes) {
		return errors.New("the certificates bag is not exactly the DER of its certificates")
	}
	var si struct {
		Version            int
		SID                asn1.RawValue
		DigestAlgorithm    pkix.AlgorithmIdentifier
		SignedAttrs        asn1.RawValue `asn1:"tag:0"`
		SignatureAlgorithm pkix.AlgorithmIdentifier
		Signature          []byte
		UnsignedAttrs      asn1.RawValue `asn1:"optional,tag:1"`
	}
	if rest, err := asn1.Unmarshal(sd.SignerInfos[0].FullBytes, &si); err != nil || len(rest) != 0 {
		return fmt.Errorf("SignerInfo: %v", err)
	}
	if si.Version != 1 {
		return fmt.Errorf("SignerInfo version %d, want 1", si.Version)
	}
	if len(si.UnsignedAttrs.FullBytes) != 0 {
		return errors.New("SignerInfo has unsigned attributes")
	}
	alg, err := signatureAlgorithm(si.SignatureAlgorithm.Algorithm, si.DigestAlgorithm.Algorithm)
	if err != nil {
		return err
	}
	signed := append([]byte(nil), si.SignedAttrs.FullBytes...)
	signed[0] = 0x31 // the signature is over the attributes as a DER SET OF
	if err := signer.CheckSignature(alg, signed, si.Signature); err != nil {
		return fmt.Errorf("signature over the signed attributes as stored: %w", err)
	}
	return nil
}

var (
	oidSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
)

// signatureAlgorithm maps a SignerInfo's signature and digest algorithms
// to x509's: ECDSA or RSA PKCS #1 v1.5 with SHA-256, -384 or -512.
func signatureAlgorithm(sig, dig asn1.ObjectIdentifier) (x509.SignatureAlgorithm, error) {
	type pair struct{ ecdsa, rsa x509.SignatureAlgorithm }
	var p pair
	switch {
	case dig.Equal(oidSHA256):
		p = pair{x509.ECDSAWithSHA256, x509.SHA256WithRSA}
	case dig.Equal(oidSHA384):
		p = pair{x509.ECDSAWithSHA384, x509.SHA384WithRSA}
	case dig.Equal(oidSHA512):
		p = pair{x509.ECDSAWithSHA512, x509.SHA512WithRSA}
	default:
		return 0, fmt.Errorf("signer digest algorithm %v is not SHA-256, -384 or -512", dig)
	}
	ecdsaOIDs := map[string]x509.SignatureAlgorithm{"1.2.840.10045.4.3.2": x509.ECDSAWithSHA256, "1.2.840.10045.4.3.3": x509.ECDSAWithSHA384,
		"1.2.840.10045.4.3.4": x509.ECDSAWithSHA512}
	rsaOIDs := map[string]x509.SignatureAlgorithm{"1.2.840.113549.1.1.11": x509.SHA256WithRSA, "1.2.840.113549.1.1.12": x509.SHA384WithRSA,
		"1.2.840.113549.1.1.13": x509.SHA512WithRSA}
	switch s := sig.String(); {
	case s == "1.2.840.10045.2.1": // id-ecPublicKey: the digest says which
		return p.ecdsa, nil
	case s == "1.2.840.113549.1.1.1": // rsaEncryption
		return p.rsa, nil
	case ecdsaOIDs[s] == p.ecdsa:
		return p.ecdsa, nil
	case rsaOIDs[s] == p.rsa:
		return p.rsa, nil
	}
	return 0, fmt.Errorf("signature algorithm %v with digest %v is not supported", sig, dig)
}

// isRoot reports whether c is a self-signed CA certificate.
func isRoot(c *x509.Certificate) bool {
	return c.IsCA && bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil
}

// Client anchors digests with one TSA.
type Client struct {
	URL    string
	Certs  []*x509.Certificate // trusted roots and intermediates (nil: system roots)
	Policy asn1.ObjectIdentifier
	HTTP   *http.Client // nil: a client with a 30 s timeout
}

// Substrate implements anchor.Anchorer.
func (c *Client) Substrate() string { return Name }

// Anchor implements anchor.Anchorer.
func (c *Client) Anchor(ctx context.Context, d [32]byte) (json.RawMessage, error) {
	nonce, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return nil, err
	}
	req := timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: d[:], Certificates: true, Nonce: nonce, TSAPolicyOID: c.Policy}
	body, err := req.Marshal()
	if err != nil {
		return nil, err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("tsa %s: %w", c.URL, err)
	}
	hr.Header.Set("Content-Type", ContentTypeQuery)
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("tsa %s: %w", c.URL, err)
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(io.LimitReader(resp.Body, MaxReply+1))
	if err != nil {
		return nil, fmt.Errorf("tsa %s: %w", c.URL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("tsa %s: HTTP %s", c.URL, resp.Status)
	}
	if len(reply) > MaxReply {
		return nil, fmt.Errorf("tsa %s: reply over %d bytes", c.URL, MaxReply)
	}
	ts, err := c.checkReply(reply, d, nonce)
	if err != nil {
		return nil, fmt.Errorf("tsa %s: %w", c.URL, err)
	}
	p := Proof{V: Version, TSA: c.URL, Token: base64.StdEncoding.EncodeToString(ts.RawToken), Nonce: nonce.String(),
		Policy: ts.Policy.String(), GenTime: ts.Time.UTC().Format(time.RFC3339), Certs: []string{}}
	for _, crt := range c.Certs {
		p.Certs = append(p.Certs, base64.StdEncoding.EncodeToString(crt.Raw))
	}
	return canon.Marshal(p)
}

// checkReply checks a TSA's reply (a DER TimeStampResp) to a request for
// d with nonce: granted, the nonce echoed, the policy asked for (if any),
// and a token CheckToken accepts.
func (c *Client) checkReply(reply []byte, d [32]byte, nonce *big.Int) (*timestamp.Timestamp, error) {
	if err := checkDER(reply); err != nil {
		return nil, fmt.Errorf("reply: %w", err)
	}
	ts, err := timestamp.ParseResponse(reply)
	if err != nil {
		return nil, fmt.Errorf("reply: %w", err)
	}
	if ts.Nonce == nil || ts.Nonce.Cmp(nonce) != 0 {
		return nil, fmt.Errorf("reply nonce %v is not the request's %s (a replayed or foreign token)", ts.Nonce, nonce)
	}
	if len(c.Policy) > 0 && !ts.Policy.Equal(c.Policy) {
		return nil, fmt.Errorf("reply policy %s, asked for %s", ts.Policy, c.Policy)
	}
	if _, err := CheckToken(ts.RawToken, d, c.Certs); err != nil {
		return nil, err
	}
	return ts, nil
}

// PEMCerts returns certs in PEM (for `openssl ts -verify -CAfile`).
func PEMCerts(certs []*x509.Certificate) []byte {
	var b strings.Builder
	for _, c := range certs {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return []byte(b.String())
}
