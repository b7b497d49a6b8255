package rfc3161_test

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/anchor/internal/nodetest"
	"github.com/vmc-git/vmc-git/anchor/rfc3161"
	"github.com/vmc-git/vmc-git/anchor/rfc3161/tsatest"
)

func certsOf(t *testing.T, file string) []*x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := rfc3161.ParseCerts(b)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func anchorOnce(t *testing.T, tsa *tsatest.TSA, d [32]byte, certs []*x509.Certificate) (json.RawMessage, error) {
	t.Helper()
	c := &rfc3161.Client{URL: tsa.URL, Certs: certs}
	return c.Anchor(context.Background(), d)
}

// TestAnchorAndVerify stamps a digest with a real `openssl ts -reply` TSA,
// checks the proof offline, and has `openssl ts -verify` check the token.
func TestAnchorAndVerify(t *testing.T) {
	for _, leafOnly := range []bool{false, true} {
		name := "with-chain"
		if leafOnly {
			name = "leaf-only"
		}
		t.Run(name, func(t *testing.T) {
			tsa := tsatest.Start(t, tsatest.Options{LeafOnly: leafOnly})
			certs := certsOf(t, tsa.CAFile)
			d := sha256.Sum256([]byte("statement"))
			proof, err := anchorOnce(t, tsa, d, certs)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := rfc3161.Verifier{}.Verify(proof, d) // certs stored in the proof
			if err != nil {
				t.Fatal(err)
			}
			if !leafOnly {
				nodetest.WriteVector(t, d, proof)
			}
			if ev.Substrate != "rfc3161" || ev.Time.IsZero() || !strings.Contains(ev.Where, tsa.URL) {
				t.Fatalf("evidence %+v", ev)
			}
			if _, err := (rfc3161.Verifier{Certs: certs}).Verify(proof, d); err != nil {
				t.Fatal(err)
			}
			// The independent check: stock OpenSSL on the stored token.
			p, _ := rfc3161.ParseProof(proof)
			der, _ := p.TokenDER()
			dir := t.TempDir()
			tok := filepath.Join(dir, "token.der")
			os.WriteFile(tok, der, 0o644)
			args := []string{"ts", "-verify", "-digest", hex.EncodeToString(d[:]), "-token_in", "-in", tok, "-CAfile", tsa.CAFile}
			out, err := exec.Command("openssl", args...).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "Verification: OK") {
				t.Fatalf("openssl ts -verify: %v\n%s", err, out)
			}
			other := sha256.Sum256([]byte("other"))
			args[3] = hex.EncodeToString(other[:])
			if out, err := exec.Command("openssl", args...).CombinedOutput(); err == nil {
				t.Fatalf("openssl ts -verify accepted another digest: %s", out)
			}
		})
	}
}

// TestRefused: every bad token is refused, each with its own error.
func TestRefused(t *testing.T) {
	honest := tsatest.Start(t, tsatest.Options{})
	certs := certsOf(t, honest.CAFile)
	d := sha256.Sum256([]byte("statement"))
	good, err := anchorOnce(t, honest, d, certs)
	if err != nil {
		t.Fatal(err)
	}
	stranger := tsatest.Start(t, tsatest.Options{})
	strangerCerts := certsOf(t, stranger.CAFile)
	errs := map[string]error{}
	// A TSA that stamps another digest than asked.
	_, errs["other digest at anchoring"] = anchorOnce(t, tsatest.Start(t, tsatest.Options{Mode: tsatest.OtherDigest}), d, nil)
	// A TSA that replays an old reply: the nonce is not ours.
	replay := tsatest.Start(t, tsatest.Options{Mode: tsatest.Replay})
	replayCerts := certsOf(t, replay.CAFile)
	if _, err := anchorOnce(t, replay, d, replayCerts); err != nil {
		t.Fatal(err)
	}
	_, errs["replayed reply (nonce)"] = anchorOnce(t, replay, d, replayCerts)
	// A TSA certificate outside its validity at genTime.
	expired := tsatest.Start(t, tsatest.Options{Expired: true})
	_, errs["expired TSA certificate"] = anchorOnce(t, expired, d, certsOf(t, expired.CAFile))
	// A chain the verifier does not trust.
	_, errs["untrusted chain at anchoring"] = anchorOnce(t, honest, d, strangerCerts)
	_, errs["untrusted chain offline"] = rfc3161.Verifier{Certs: strangerCerts}.Verify(good, d)
	// A leaf-only TSA without the intermediate in the roots file.
	leafOnly := tsatest.Start(t, tsatest.Options{LeafOnly: true})
	_, errs["leaf only, no intermediate"] = anchorOnce(t, leafOnly, d, certsOf(t, leafOnly.CAFile)[:1])
	// The stored proof checked against another digest (the statement changed).
	other := sha256.Sum256([]byte("altered statement"))
	_, errs["token for another digest"] = rfc3161.Verifier{}.Verify(good, other)
	// Edited proofs.
	edit := func(f func(p *rfc3161.Proof)) json.RawMessage {
		p, _ := rfc3161.ParseProof(good)
		f(p)
		b, _ := json.Marshal(p)
		return b
	}
	_, errs["nonce edited in the proof"] = rfc3161.Verifier{}.Verify(edit(func(p *rfc3161.Proof) { p.Nonce = "42" }), d)
	_, errs["policy edited"] = rfc3161.Verifier{}.Verify(edit(func(p *rfc3161.Proof) { p.Policy = "1.2.3" }), d)
	_, errs["gen_time edited"] = rfc3161.Verifier{}.Verify(edit(func(p *rfc3161.Proof) { p.GenTime = "2001-01-01T00:00:00Z" }), d)
	_, errs["token bytes flipped"] = rfc3161.Verifier{}.Verify(edit(func(p *rfc3161.Proof) {
		der, _ := p.TokenDER()
		der[len(der)-10] ^= 1
		p.Token = encode(der)
	}), d)
	_, errs["unknown member"] = rfc3161.Verifier{}.Verify(json.RawMessage(strings.Replace(string(good), `{`, `{"x":1,`, 1)), d)
	_, errs["wrong version"] = rfc3161.Verifier{}.Verify(edit(func(p *rfc3161.Proof) { p.V = 2 }), d)
	seen := map[string]string{}
	for name, err := range errs {
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		t.Logf("%s: %v", name, err)
		if o, dup := seen[err.Error()]; dup {
			t.Errorf("%s and %s give the same error %q", name, o, err)
		}
		seen[err.Error()] = name
	}
	for name, want := range map[string]string{
		"other digest at anchoring": "not the statement's", "replayed reply (nonce)": "nonce", "expired TSA certificate": "outside of certificate validity",
		"untrusted chain at anchoring": "not trusted", "untrusted chain offline": "not trusted", "token for another digest": "not the statement's",
	} {
		if errs[name] != nil && !strings.Contains(errs[name].Error(), want) {
			t.Errorf("%s: %v, want it to say %q", name, errs[name], want)
		}
	}
}

func encode(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// TestVector: a token made by openssl ts -reply (testdata/proof.json)
// verifies offline (the chain is checked at genTime, so it stays valid),
// and every byte of it changed is refused.
func TestVector(t *testing.T) {
	d, proof := nodetest.ReadVector(t)
	if _, err := (rfc3161.Verifier{}).Verify(proof, d); err != nil {
		t.Fatal(err)
	}
	nodetest.FlipEveryByte(t, proof, func(b []byte) error { _, err := (rfc3161.Verifier{}).Verify(b, d); return err }, "tsa")
}

func FuzzVerify(f *testing.F) {
	d, proof := nodetest.ReadVector(f)
	f.Add([]byte(proof))
	f.Fuzz(func(t *testing.T, b []byte) { (rfc3161.Verifier{}).Verify(b, d) })
}

func TestParseOID(t *testing.T) {
	oid, err := rfc3161.ParseOID("1.2.3.4.1")
	if err != nil || oid.String() != "1.2.3.4.1" {
		t.Fatalf("ParseOID = %v, %v", oid, err)
	}
	for _, bad := range []string{"", "1", "1..2", "1.-2", "1.x", "1.2."} {
		if _, err := rfc3161.ParseOID(bad); err == nil || !strings.Contains(err.Error(), "is not a dotted OID") {
			t.Errorf("ParseOID(%q) = %v, want 'is not a dotted OID'", bad, err)
		}
	}
}

// TestTruncatedDER: truncated and non-DER tokens are refused with an error;
// pkcs7's BER reader indexes past the end of such input (FuzzVerify found
// a 3-byte token that panicked it), so they must never reach it.
func TestTruncatedDER(t *testing.T) {
	var d [32]byte
	for name, tc := range map[string]struct {
		der  []byte
		want string
	}{
		"empty":                {nil, "truncated value"},
		"long length cut":      {[]byte{0x30, 0x82, 0x01}, "truncated length"},
		"high tag cut":         {[]byte{0x3f, 0x81, 0x81}, "bad tag"},
		"high tag not minimal": {[]byte{0x3f, 0x80, 0x01, 0x00}, "tag not minimal"},
		"indefinite":           {[]byte{0x30, 0x80, 0x00, 0x00}, "indefinite length"},
		"length not minimal":   {[]byte{0x30, 0x81, 0x01, 0x00}, "length not minimal"},
		"leading zero length":  {[]byte{0x30, 0x82, 0x00, 0x81}, "length not minimal"},
		"runs past its end":    {[]byte{0x30, 0x05, 0x02, 0x01}, "runs past its end"},
		"child runs past":      {[]byte{0x30, 0x03, 0x02, 0x05, 0x00}, "runs past its end"},
		"trailing bytes":       {[]byte{0x05, 0x00, 0x00}, "trailing bytes"},
		"huge length":          {[]byte{0x30, 0x84, 0x7f, 0xff, 0xff, 0xff}, "length too long"},
	} {
		_, err := rfc3161.CheckToken(tc.der, d, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want it to say %q", name, err, tc.want)
		}
	}
	deep := []byte{}
	for range 40 {
		deep = append([]byte{0x30, byte(len(deep))}, deep...)
		if len(deep) > 120 {
			break
		}
	}
	if _, err := rfc3161.CheckToken(deep, d, nil); err == nil || !strings.Contains(err.Error(), "nested deeper") {
		t.Errorf("deep nesting: %v", err)
	}
}
