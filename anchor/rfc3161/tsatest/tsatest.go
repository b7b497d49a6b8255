// Package tsatest runs a real RFC 3161 TSA for tests: `openssl ts -reply`
// behind a small HTTP handler on 127.0.0.1, with a throwaway CA chain (root,
// intermediate, TSA leaf with the critical timeStamping extended key usage)
// made for the test.
package tsatest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/digitorus/timestamp"

	"github.com/vmc-git/vmc-git/anchor/internal/nodetest"
)

// Mode makes the TSA misbehave, for negative tests.
type Mode int

// Modes.
const (
	Honest      Mode = iota
	Replay           // answer every request with the first reply (wrong nonce)
	OtherDigest      // stamp another digest than the one asked for
)

// TSA is a running test TSA.
type TSA struct {
	URL    string
	Dir    string
	CAFile string // root and intermediate, PEM (what --tsa-ca takes)
	Root   *x509.Certificate
	Inter  *x509.Certificate
	Leaf   *x509.Certificate
	Mode   Mode
	// OnRequest, if set, runs before each reply (under the TSA's lock).
	OnRequest func()

	mu    sync.Mutex
	first []byte
	n     int
}

// Options for Start.
type Options struct {
	Mode     Mode
	Expired  bool // the TSA certificate's validity ended yesterday
	LeafOnly bool // the token carries only the TSA certificate, not the intermediate
}

// NeedOpenSSL skips (or, with CI set, fails) when openssl is missing.
func NeedOpenSSL(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		nodetest.Tool(t, "openssl") // skips, or fails in CI
	}
}

// Start starts a TSA; the test stops it.
func Start(t testing.TB, opt Options) *TSA {
	t.Helper()
	NeedOpenSSL(t)
	dir := t.TempDir()
	ts := &TSA{Dir: dir, Mode: opt.Mode}
	now := time.Now()
	rootKey := newKey(t)
	ts.Root = makeCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: "vmc test root"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: now.Add(-72 * time.Hour), NotAfter: now.Add(72 * time.Hour)}, nil, rootKey, rootKey)
	interKey := newKey(t)
	ts.Inter = makeCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: "vmc test intermediate"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: now.Add(-72 * time.Hour), NotAfter: now.Add(72 * time.Hour)}, ts.Root, interKey, rootKey)
	leafKey := newKey(t)
	nb, na := now.Add(-time.Hour), now.Add(24*time.Hour)
	if opt.Expired {
		nb, na = now.Add(-48*time.Hour), now.Add(-24*time.Hour)
	}
	eku, _ := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
	ts.Leaf = makeCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: "vmc test tsa"}, KeyUsage: x509.KeyUsageDigitalSignature,
		NotBefore: nb, NotAfter: na, ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: eku}}},
		ts.Inter, leafKey, interKey)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ts.CAFile = write("ca.pem", append(pemCert(ts.Root), pemCert(ts.Inter)...))
	write("tsa.crt", pemCert(ts.Leaf))
	kb, _ := x509.MarshalPKCS8PrivateKey(leafKey)
	write("tsa.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}))
	write("chain.pem", pemCert(ts.Inter))
	write("serial", []byte("01\n"))
	certs := "certs = $dir/chain.pem\n"
	if opt.LeafOnly {
		certs = ""
	}
	write("ts.cnf", []byte(fmt.Sprintf(`[ tsa ]
default_tsa = tsa1
[ tsa1 ]
dir = %s
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.crt
%ssigner_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1
other_policies = 1.3.6.1.4.1.99999.2
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
`, dir, certs)))
	srv := httptest.NewServer(http.HandlerFunc(ts.serve))
	t.Cleanup(srv.Close)
	ts.URL = srv.URL + "/tsa"
	return ts
}

// Requests returns how many requests the TSA answered.
func (ts *TSA) Requests() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.n
}

func (ts *TSA) serve(w http.ResponseWriter, r *http.Request) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.OnRequest != nil {
		ts.OnRequest()
	}
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/timestamp-query" {
		http.Error(w, "want POST application/timestamp-query", http.StatusBadRequest)
		return
	}
	q, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if ts.Mode == OtherDigest {
		req, err := timestamp.ParseRequest(q)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req.HashedMessage = bytes.Repeat([]byte{0xab}, len(req.HashedMessage))
		if q, err = req.Marshal(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	if ts.Mode == Replay && ts.first != nil {
		ts.n++
		w.Header().Set("Content-Type", "application/timestamp-reply")
		w.Write(ts.first)
		return
	}
	qf := filepath.Join(ts.Dir, "q.tsq")
	rf := filepath.Join(ts.Dir, "r.tsr")
	os.WriteFile(qf, q, 0o600)
	args := []string{"ts", "-reply", "-config", filepath.Join(ts.Dir, "ts.cnf"), "-queryfile", qf, "-out", rf}
	if out, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
		http.Error(w, fmt.Sprintf("openssl ts -reply: %v: %s", err, out), http.StatusInternalServerError)
		return
	}
	reply, err := os.ReadFile(rf)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if ts.first == nil {
		ts.first = reply
	}
	ts.n++
	w.Header().Set("Content-Type", "application/timestamp-reply")
	w.Write(reply)
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var serial atomic.Int64

func makeCert(t testing.TB, tmpl, parent *x509.Certificate, key, parentKey *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	tmpl.SerialNumber = big.NewInt(100 + serial.Add(1))
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}
