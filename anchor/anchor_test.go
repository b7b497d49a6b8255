package anchor

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/internal/canon"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/merkle"
)

func signer(t *testing.T, dir string) (*keys.Signer, string) {
	t.Helper()
	priv, pub, err := keys.Generate("alice")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "alice")
	if err := keys.WriteKeyPair(p, priv, pub); err != nil {
		t.Fatal(err)
	}
	s, err := keys.LoadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return s, string(pub)
}

func statement() *Statement {
	leaves := []merkle.Hash{merkle.LeafHash([]byte("r0")), merkle.LeafHash([]byte("r1"))}
	return &Statement{V: Version, Ledger: "github.com/acme/infra", Root: merkle.RootOf(leaves), LeafCount: 2,
		HeadBlake3: digest.Blake3([]byte("r1")), CreatedAt: "2026-11-26T09:00:00Z"}
}

func TestRoundTripAndSign(t *testing.T) {
	dir := t.TempDir()
	s, pubLine := signer(t, dir)
	st := statement()
	b, err := st.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(b)
	if err != nil || *back != *st {
		t.Fatalf("round trip: %v %+v", err, back)
	}
	sig, err := Sign(s, b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(s.PublicKey(), b, sig, st.Root, 2); err != nil {
		t.Fatal(err)
	}
	// Stock OpenSSH accepts the signature in namespace vmc-anchor.
	os.WriteFile(filepath.Join(dir, "st.json"), b, 0o644)
	os.WriteFile(filepath.Join(dir, "st.json.sig"), sig, 0o644)
	os.WriteFile(filepath.Join(dir, "allowed"), []byte("alice "+pubLine), 0o644)
	cmd := exec.Command("sh", "-c", "ssh-keygen -Y verify -f allowed -I alice -n vmc-anchor -s st.json.sig < st.json")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "Good") {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
}

func TestRejects(t *testing.T) {
	s, _ := signer(t, t.TempDir())
	st := statement()
	b, _ := st.Encode()
	sig, _ := Sign(s, b)
	other := statement()
	other.LeafCount = 3
	ob, _ := other.Encode()
	cases := map[string]func() error{
		"non-canonical": func() error { _, err := Parse([]byte(strings.Replace(string(b), ":", ": ", 1))); return err },
		"unknown field": func() error { _, err := Parse([]byte(strings.Replace(string(b), `{`, `{"extra":1,`, 1))); return err },
		"wrong root": func() error {
			_, err := Verify(s.PublicKey(), b, sig, merkle.LeafHash([]byte("x")), 2)
			return err
		},
		"wrong size":      func() error { _, err := Verify(s.PublicKey(), b, sig, st.Root, 5); return err },
		"other statement": func() error { _, err := Verify(s.PublicKey(), ob, sig, st.Root, 3); return err },
		"zero leaves":     func() error { z := statement(); z.LeafCount = 0; _, err := z.Encode(); return err },
		"bad ledger id":   func() error { z := statement(); z.Ledger = "../x"; _, err := z.Encode(); return err },
		"wrong namespace": func() error {
			rs, _ := s.Sign(keys.NamespaceReceipt, b)
			_, err := Verify(s.PublicKey(), b, rs, st.Root, 2)
			return err
		},
		"bad time": func() error { z := statement(); z.CreatedAt = "yesterday"; _, err := z.Encode(); return err },
	}
	seen := map[string]string{}
	for name, f := range cases {
		err := f()
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if other, dup := seen[err.Error()]; dup {
			t.Errorf("%s and %s give the same error %q", name, other, err)
		}
		seen[err.Error()] = name
	}
	if Digest(b) == Digest(ob) {
		t.Fatal("different statements, same digest")
	}
}

// FuzzParseBody: ParseBody and CheckBody never panic, and what ParseBody
// accepts is the canonical form it reads.
func FuzzParseBody(f *testing.F) {
	b, err := os.ReadFile("../receipt/testdata/valid/5-anchor.json")
	if err != nil {
		f.Fatal(err)
	}
	var r struct {
		Anchor json.RawMessage `json:"anchor"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(r.Anchor))
	f.Fuzz(func(t *testing.T, b []byte) {
		body, err := ParseBody(b)
		if err != nil {
			return
		}
		again, err := canon.Marshal(body)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("accepted a body that is not its canonical form: %s", b)
		}
		root := func(uint64) (merkle.Hash, digest.Digest, error) { return merkle.Hash{}, digest.Zero, nil }
		CheckBody(b, "github.com/acme/infra", 10, nil, root, nil)
	})
}
