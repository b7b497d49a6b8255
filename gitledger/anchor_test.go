package gitledger

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vmc-git/vmc-git/anchor"
	"github.com/vmc-git/vmc-git/anchor/rfc3161"
	"github.com/vmc-git/vmc-git/anchor/rfc3161/tsatest"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/merkle"
	"github.com/vmc-git/vmc-git/receipt"
)

// anchorKit makes anchor bodies for receipts 0..size-1 of a tamper ledger,
// stamped by a real openssl TSA.
type anchorKit struct {
	x     *tamperEnv
	tsa   *tsatest.TSA
	certs []*x509.Certificate
}

func newAnchorKit(t *testing.T, x *tamperEnv) *anchorKit {
	tsa := tsatest.Start(t, tsatest.Options{})
	b, err := os.ReadFile(tsa.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := rfc3161.ParseCerts(b)
	if err != nil {
		t.Fatal(err)
	}
	return &anchorKit{x: x, tsa: tsa, certs: certs}
}

// statement is the true statement of the first size receipts.
func (k *anchorKit) statement(size int) *anchor.Statement {
	var leaves []merkle.Hash
	var last []byte
	for i := 0; i < size; i++ {
		last, _ = k.x.receiptAt(i)
		leaves = append(leaves, merkle.LeafHash(last))
	}
	return &anchor.Statement{V: anchor.Version, Ledger: testLedgerID, Root: merkle.RootOf(leaves), LeafCount: uint64(size),
		HeadBlake3: digest.Blake3(last), CreatedAt: keys.FormatTime(time.Now())}
}

// body signs st (as signer), stamps stamped (the statement bytes sent to the
// TSA; nil: the signed ones) and returns the anchor body.
func (k *anchorKit) body(st *anchor.Statement, signer string, stamped []byte, substrate string) json.RawMessage {
	k.x.t.Helper()
	b, err := st.Encode()
	if err != nil {
		k.x.t.Fatal(err)
	}
	sig, err := anchor.Sign(k.x.k.signer[signer], b)
	if err != nil {
		k.x.t.Fatal(err)
	}
	if stamped == nil {
		stamped = b
	}
	proof, err := (&rfc3161.Client{URL: k.tsa.URL, Certs: k.certs}).Anchor(context.Background(), anchor.Digest(stamped))
	if err != nil {
		k.x.t.Fatal(err)
	}
	body, err := canonBody(b, sig, substrate, proof)
	if err != nil {
		k.x.t.Fatal(err)
	}
	return body
}

func canonBody(stmt, sig []byte, substrate string, proof json.RawMessage) (json.RawMessage, error) {
	return anchor.NewBody(stmt, sig, substrate, proof)
}

// forgeAnchor replaces receipt 4 with an anchor receipt carrying body,
// everything else made as vmc-git makes it, signed by alice.
func (k *anchorKit) forgeAnchor(body json.RawMessage) {
	k.x.t.Helper()
	_, r := k.x.receiptAt(4)
	r.Kind, r.Manual, r.Anchor, r.Summary = receipt.KindAnchor, nil, body, "anchor"
	b, err := r.Encode()
	if err != nil {
		k.x.t.Fatal(err)
	}
	k.x.forge(k.x.chain[3], b, "alice", nil)
}

// TestAnchorReceipt: a real anchor receipt written by Append verifies, is
// reported, and is checked by CheckAnchorReceipt; the writer refuses what
// the verifier would.
func TestAnchorReceipt(t *testing.T) {
	k := newTamperKeys(t)
	x := newTamperLedger(t, k, testLedgerID, 3)
	kit := newAnchorKit(t, x)
	body := kit.body(kit.statement(4), "alice", nil, rfc3161.Name)
	w, err := x.l.Append(k.signer["alice"], "alice", func(*Tip) (*Draft, error) {
		return &Draft{Receipt: receipt.Receipt{Kind: receipt.KindAnchor, Summary: "anchor", Anchor: body}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := x.l.Verify(VerifyOptions{Signatures: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Anchors) != 1 || rep.Anchors[0].Seq != w.Seq || rep.Anchors[0].Statement.LeafCount != 4 || rep.Anchors[0].Evidence.Time.IsZero() {
		t.Fatalf("report anchors: %+v", rep.Anchors)
	}
	r, _ := x.l.NewReader()
	if _, err := x.l.CheckAnchorReceipt(r, w.Seq, nil); err != nil {
		t.Fatal(err)
	}
	// The writer refuses a statement whose root is not the ledger's.
	bad := kit.statement(4)
	bad.Root = merkle.LeafHash([]byte("x"))
	badBody := kit.body(bad, "alice", nil, rfc3161.Name)
	before := x.git(nil, "rev-parse", x.ref())
	_, err = x.l.Append(k.signer["alice"], "alice", func(*Tip) (*Draft, error) {
		return &Draft{Receipt: receipt.Receipt{Kind: receipt.KindAnchor, Summary: "anchor", Anchor: badBody}}, nil
	})
	if err == nil || !strings.Contains(err.Error(), "is not the ledger's root") {
		t.Fatalf("writer: %v", err)
	}
	if after := x.git(nil, "rev-parse", x.ref()); after != before {
		t.Fatal("refused anchor moved the branch")
	}
}

// TestAnchorTamper: forged anchor receipts (every other rule holding) are
// refused by Verify under rule anchor, each with its own error.
func TestAnchorTamper(t *testing.T) {
	k := newTamperKeys(t)
	base := newTamperLedger(t, k, testLedgerID, 4)
	kit := newAnchorKit(t, base)
	good := kit.statement(4)
	alteredAfter := func() json.RawMessage { // the statement changed after it was signed and stamped
		b := kit.body(good, "alice", nil, rfc3161.Name)
		other := *good
		other.CreatedAt = "2001-01-01T00:00:00Z"
		ob, _ := other.Encode()
		var body anchor.Body
		json.Unmarshal(b, &body)
		nb, err := anchor.NewBody(ob, []byte(body.Signature), body.Substrate, body.Proof)
		if err != nil {
			t.Fatal(err)
		}
		return nb
	}
	resigned := func() json.RawMessage { // re-signed after the TSA stamped the original
		gb, _ := good.Encode()
		other := *good
		other.CreatedAt = "2001-01-01T00:00:00Z"
		return kit.body(&other, "alice", gb, rfc3161.Name)
	}
	withStatement := func(f func(s *anchor.Statement)) func() json.RawMessage {
		return func() json.RawMessage {
			s := *good
			f(&s)
			return kit.body(&s, "alice", nil, rfc3161.Name)
		}
	}
	cases := []struct {
		name string
		body func() json.RawMessage
		msg  string
	}{
		{"statement altered after anchoring", alteredAfter, "was the statement altered after it was signed?"},
		{"statement re-signed after anchoring", resigned, "token is for digest"},
		{"root not the ledger's", withStatement(func(s *anchor.Statement) { s.Root = merkle.LeafHash([]byte("x")) }), "is not the ledger's root"},
		{"root of another size", withStatement(func(s *anchor.Statement) { s.LeafCount = 3 }), "is not the ledger's root"},
		{"head_blake3 wrong", withStatement(func(s *anchor.Statement) { s.HeadBlake3 = digest.Blake3([]byte("x")) }), "is not the blake3"},
		{"covers the anchor itself", withStatement(func(s *anchor.Statement) { s.LeafCount = 5 }), "a statement covers only receipts before it"},
		{"other ledger", withStatement(func(s *anchor.Statement) { s.Ledger = "example.com/other" }), "for ledger"},
		{"signed by another key", func() json.RawMessage { return kit.body(good, "bob", nil, rfc3161.Name) }, "signature (namespace vmc-anchor)"},
		{"unknown substrate", func() json.RawMessage { return kit.body(good, "alice", nil, "carrier-pigeon") }, "no verifier for this substrate"},
	}
	seen := map[string]string{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := base.clone(t)
			kit.x = x
			kit.forgeAnchor(tc.body())
			_, err := x.l.Verify(VerifyOptions{Signatures: true})
			var ve *VerifyError
			if !errors.As(err, &ve) || ve.Rule != RuleAnchor || ve.Seq != 4 || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want rule anchor at receipt 4 with %q", err, tc.msg)
			}
			t.Logf("%v", err)
			if o, dup := seen[err.Error()]; dup {
				t.Errorf("same error as %q", o)
			}
			seen[err.Error()] = tc.name
		})
	}
}
