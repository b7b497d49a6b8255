package gitledger

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/receipt"
)

const testLedgerID = "github.com/acme/infra"

// testKey makes a key pair on disk (so ssh-keygen can use it too).
func testKey(t testing.TB, dir, kid string) (*keys.Signer, string) {
	t.Helper()
	priv, pub, err := keys.Generate(kid)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, kid)
	if err := keys.WriteKeyPair(path, priv, pub); err != nil {
		t.Fatal(err)
	}
	s, err := keys.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return s, path
}

func spec(s *keys.Signer, kid string, roles ...keys.Role) keys.KeySpec {
	return keys.KeySpec{KID: kid, PublicKey: keys.FormatPublicKey(s.PublicKey()), Roles: roles}
}

func run(t testing.TB, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// newLedger makes a git repository with a genesis receipt signed by alice
// (all roles) and n manual receipts.
func newLedger(t testing.TB, n int) (*Ledger, *keys.Signer, string) {
	t.Helper()
	return newLedgerIn(t, 0, n)
}

// newLedgerIn is newLedger for a ledger of the given format (0: the default).
func newLedgerIn(t testing.TB, format, n int) (*Ledger, *keys.Signer, string) {
	t.Helper()
	dir := t.TempDir()
	run(t, dir, "git", "init", "-q", "-b", "main")
	s, _ := testKey(t, t.TempDir(), "alice")
	l, err := Open(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	l.Format = format
	g := receipt.Genesis{Keys: []keys.KeySpec{spec(s, "alice", keys.RoleAdmin, keys.RoleApplier, keys.RoleApprover)},
		Policy: keys.Policy{ApprovalsRequired: 1, AdminThreshold: 1}}
	if _, err := l.Init(testLedgerID, s, "alice", g, time.Now()); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		appendManual(t, l, s, "alice", "maintenance")
	}
	return l, s, dir
}

func appendManual(t testing.TB, l *Ledger, s *keys.Signer, kid, summary string) *Written {
	t.Helper()
	w, err := l.Append(s, kid, func(*Tip) (*Draft, error) {
		return &Draft{Receipt: receipt.Receipt{Kind: receipt.KindManual, Summary: summary, Manual: &receipt.Manual{}}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}
