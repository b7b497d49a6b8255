package gitledger

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/receipt"
)

func TestAppendAndVerify(t *testing.T) {
	l, _, _ := newLedger(t, 20)
	rep, err := l.Verify(VerifyOptions{Signatures: true, Remember: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Receipts != 21 || rep.Head.Seq != 20 {
		t.Fatalf("report %+v", rep)
	}
}

// TestStockGitAndSSHKeygen: git verify-commit / git log --show-signature with
// the ledger's own allowed_signers, and ssh-keygen -Y verify on every receipt.
func TestStockGitAndSSHKeygen(t *testing.T) {
	// Every receipt and .sig at its documented path, in both formats.
	for _, c := range []struct {
		format int
		dir    string
	}{{receipt.Format1, "receipts/000/000/"}, {receipt.Format2, "receipts/000/00/00/0/"}} {
		t.Run(fmt.Sprintf("format%d", c.format), func(t *testing.T) { stockGitAndSSHKeygen(t, c.format, c.dir) })
	}
}

func stockGitAndSSHKeygen(t *testing.T, format int, receiptDir string) {
	l, _, dir := newLedgerIn(t, format, 5)
	as := filepath.Join(t.TempDir(), "allowed_signers")
	os.WriteFile(as, []byte(run(t, dir, "git", "show", "vmc/ledger:keys/allowed_signers")), 0o644)
	run(t, dir, "git", "config", "gpg.format", "ssh")
	run(t, dir, "git", "config", "gpg.ssh.allowedSignersFile", as)
	commits := strings.Fields(run(t, dir, "git", "rev-list", "vmc/ledger"))
	if len(commits) != 6 {
		t.Fatalf("%d commits", len(commits))
	}
	for _, c := range commits {
		out := run(t, dir, "git", "verify-commit", "-v", c)
		if !strings.Contains(out, `Good "git" signature for alice`) {
			t.Fatalf("verify-commit %s: %s", c, out)
		}
	}
	logOut := run(t, dir, "git", "log", "--show-signature", "vmc/ledger")
	if got := strings.Count(logOut, `Good "git" signature for alice`); got != 6 {
		t.Fatalf("git log --show-signature: %d good signatures, want 6\n%s", got, logOut)
	}
	for seq := 0; seq < 6; seq++ {
		p := receiptDir + "00000000" + string(rune('0'+seq)) + ".json"
		rf := filepath.Join(t.TempDir(), "r.json")
		os.WriteFile(rf, []byte(run(t, dir, "git", "show", "vmc/ledger:"+p)), 0o644)
		os.WriteFile(rf+".sig", []byte(run(t, dir, "git", "show", "vmc/ledger:"+p+".sig")), 0o644)
		cmd := "ssh-keygen -Y verify -f " + as + " -I alice -n vmc-receipt -s " + rf + ".sig < " + rf
		out := run(t, dir, "sh", "-c", cmd)
		if !strings.Contains(out, `Good "vmc-receipt" signature for alice`) {
			t.Fatalf("%s: %s", p, out)
		}
	}
	_ = l
}
