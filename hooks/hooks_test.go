package hooks

import (
	"bytes"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vmc-git/vmc-git/apply/remoteref"
	"github.com/vmc-git/vmc-git/internal/config"
	"github.com/vmc-git/vmc-git/internal/gitobj"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/merkle"
	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/receipt"
)

const (
	a = "1111111111111111111111111111111111111111"
	b = "2222222222222222222222222222222222222222"
	z = "0000000000000000000000000000000000000000"
)

func TestParseUpdates(t *testing.T) {
	ups, err := ParseUpdates(strings.NewReader(a + " " + b + " refs/heads/vmc/ledger\n\n" + z + " " + a + " refs/tags/vmc/merkle/5\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ups) != 2 || ups[0].Old != plumbing.NewHash(a) || ups[0].New != plumbing.NewHash(b) || !ups[1].Old.IsZero() || ups[1].Ref != "refs/tags/vmc/merkle/5" {
		t.Fatalf("%+v", ups)
	}
	// pre-push lines: <local ref> <local id> <remote ref> <remote id>
	pp, err := ParsePrePush(strings.NewReader("refs/heads/x " + b + " refs/heads/vmc/ledger " + a + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(pp) != 1 || pp[0].Old != plumbing.NewHash(a) || pp[0].New != plumbing.NewHash(b) || pp[0].Ref != "refs/heads/vmc/ledger" {
		t.Fatalf("%+v", pp)
	}
	for name, in := range map[string]string{
		"two fields":  a + " " + b,
		"four fields": a + " " + b + " r x",
		"short id":    a[:39] + " " + b + " r",
		"upper hex":   strings.ToUpper("abcdef"+a[6:]) + " " + b + " r",
		"not hex":     "g" + a[1:] + " " + b + " r",
	} {
		if _, err := ParseUpdates(strings.NewReader(in)); err == nil {
			t.Errorf("%s: accepted %q", name, in)
		}
	}
	if _, err := ParsePrePush(strings.NewReader(a + " " + b + " r")); err == nil {
		t.Error("pre-push: three fields accepted")
	}
}

// TestShadowNames: refs that stock git would resolve in place of the main
// branch, the ledger branch or a vmc/ name are refused; others pass.
func TestShadowNames(t *testing.T) {
	c := &checker{branches: Branches{Main: "main", Ledger: "vmc/ledger"}}
	for _, ref := range []string{"refs/tags/vmc/ledger", "refs/tags/main", "refs/heads/vmc/merkle/5", "refs/tags/vmc/merkle",
		"refs/remotes/vmc/ledger", "refs/remotes/main/HEAD", "refs/main", "refs/heads/vmc", "refs/tags/vmc/anything"} {
		if err := c.checkShadow(ref); err == nil {
			t.Errorf("%s: accepted", ref)
		}
	}
	for _, ref := range []string{"refs/heads/plan-web-1", "refs/tags/v1.2.3", "refs/heads/mainline", "refs/pull/1/head", "refs/tags/vmcx"} {
		if err := c.checkShadow(ref); err != nil {
			t.Errorf("%s: %v", ref, err)
		}
	}
}

// TestInputBounds: hook input git would never send is refused before any
// object is read: bad ref names, overlong lines, too many lines.
func TestInputBounds(t *testing.T) {
	for name, in := range map[string]string{
		"not under refs/": a + " " + b + " HEAD",
		"dot dot":         a + " " + b + " refs/heads/../x",
		"control byte":    a + " " + b + " refs/heads/a\x01",
		"long line":       a + " " + b + " refs/heads/" + strings.Repeat("x", MaxLineLen),
		"too many lines":  strings.Repeat(a+" "+b+" refs/heads/x\n", MaxLines+1),
	} {
		if _, err := ParseUpdates(strings.NewReader(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// FuzzParseUpdates: any input either parses into updates with valid ids and
// ref names, or is refused; never a panic.
func FuzzParseUpdates(f *testing.F) {
	f.Add([]byte(a + " " + b + " refs/heads/vmc/ledger\n" + z + " " + a + " refs/tags/vmc/merkle/5\n"))
	f.Add([]byte(z + " " + a + " refs/vmc/locks/web-1\n"))
	f.Add([]byte("\n\n" + a + " " + b + " refs/vmc/intents/web-1-create"))
	f.Fuzz(func(t *testing.T, in []byte) {
		ups, err := ParseUpdates(bytes.NewReader(in))
		if err != nil {
			return
		}
		for _, u := range ups {
			if checkRefName(u.Ref) != nil {
				t.Fatalf("accepted ref %q", u.Ref)
			}
		}
		c := &checker{branches: Branches{Main: "main", Ledger: "vmc/ledger"}}
		for _, u := range ups {
			c.checkShadow(u.Ref)
		}
	})
}

func TestRefusalLine(t *testing.T) {
	r := Refusal{Ref: "refs/heads/vmc/ledger", Err: errString("receipt 3: boom")}
	if got, want := r.String(), "vmc-git: refused refs/heads/vmc/ledger: receipt 3: boom"; got != want {
		t.Fatalf("%q want %q", got, want)
	}
}

type errString string

func (e errString) Error() string { return string(e) }

// FuzzHookObjects: every object the hook reads from a push, as the parser
// it goes through (a blob can be pushed as any of them): a bounded strict
// parse or a clean refusal, never a panic.
func FuzzHookObjects(f *testing.F) {
	f.Add([]byte(`{"branch":"vmc/ledger","genesis_blake3":"` + strings.Repeat("0", 64) + `","ledger":"example.com/x","main_branch":"main","provider":"sandbox","v":1}`))
	f.Add([]byte(`{"created_at":"2026-12-01T00:00:00Z","ledger":"example.com/x","path":"receipts/000/000/000000000.json","seq":0,"v":1}`))
	f.Add([]byte("100644 x\x00" + strings.Repeat("\x01", 20)))
	f.Add([]byte("tree " + strings.Repeat("a", 40) + "\nparent " + strings.Repeat("b", 40) + "\n\nmsg\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		config.Parse(b)
		receipt.ParseHead(b)
		receipt.Parse(b)
		plans.Parse(b)
		remoteref.ParseLock(b)
		remoteref.ParseIntent(b)
		gitobj.ParseTree(b)
		gitobj.ParseCommitHeaders(b)
		merkle.ParseTagName(string(b))
		keys.ParseSignature(b)
	})
}
