package apply

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/internal/lock"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/provider"
	"github.com/vmc-git/vmc-git/provider/sandbox"
	"github.com/vmc-git/vmc-git/receipt"
)

func runGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// racingRemote pushes another writer's receipt to the remote just before
// the first Publish, so that Publish loses the compare-and-swap.
type racingRemote struct {
	*GitRemote
	before func()
	raced  bool
}

func (r *racingRemote) Publish() error {
	if !r.raced {
		r.raced = true
		r.before()
	}
	return r.GitRemote.Publish()
}

// TestPublishLosesRace: another writer pushes while a plan is being applied.
// The applier re-reads the remote, writes its receipt again on the new head
// and pushes; the provider action ran once and the chain stays linear.
func TestPublishLosesRace(t *testing.T) {
	tmp := t.TempDir()
	priv, pub, err := keys.Generate("alice")
	if err != nil {
		t.Fatal(err)
	}
	kp := filepath.Join(tmp, "alice")
	if err := keys.WriteKeyPair(kp, priv, pub); err != nil {
		t.Fatal(err)
	}
	s, err := keys.LoadFile(kp)
	if err != nil {
		t.Fatal(err)
	}
	// origin, with a genesis pushed from a seed clone
	origin := filepath.Join(tmp, "origin.git")
	runGit(t, tmp, "init", "-q", "--bare", "-b", "main", origin)
	seed := filepath.Join(tmp, "seed")
	runGit(t, tmp, "init", "-q", "-b", "main", seed)
	ls, err := gitledger.Open(seed, "")
	if err != nil {
		t.Fatal(err)
	}
	g := receipt.Genesis{Keys: []keys.KeySpec{{KID: "alice", PublicKey: keys.FormatPublicKey(s.PublicKey()),
		Roles: []keys.Role{keys.RoleAdmin, keys.RoleApplier, keys.RoleApprover}}}, Policy: keys.Policy{ApprovalsRequired: 1, AdminThreshold: 1}}
	if _, err := ls.Init("example.com/race", s, "alice", g, time.Now()); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(seed, "README"), []byte("x\n"), 0o644)
	runGit(t, seed, "add", "README")
	runGit(t, seed, "commit", "-qm", "main")
	runGit(t, seed, "push", "-q", origin, "main", "vmc/ledger")

	// Two clones: A applies a plan, B records a manual receipt meanwhile.
	clone := func(name string) (string, *gitledger.Ledger) {
		dir := filepath.Join(tmp, name)
		runGit(t, tmp, "clone", "-q", origin, dir)
		runGit(t, dir, "fetch", "-q", "origin", "vmc/ledger:vmc/ledger")
		l, err := gitledger.Open(dir, "")
		if err != nil {
			t.Fatal(err)
		}
		return dir, l
	}
	dirA, la := clone("A")
	dirB, lb := clone("B")

	sb, err := sandbox.New(sandbox.Options{Token: "tok", ActionDuration: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	url, err := sb.Start("")
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	prov, err := provider.New(provider.Config{Token: "tok", Endpoint: url, PollInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	tip, err := la.Tip()
	if err != nil {
		t.Fatal(err)
	}
	p, err := plans.Make(context.Background(), prov, plans.Request{ID: "web-1-create", Ledger: "example.com/race",
		Head: plans.LedgerRef{Seq: tip.Head.Seq, Blake3: tip.Head.Blake3}, Actions: []provider.Action{{Op: provider.OpCreate, Server: "web-1", ServerType: "cx22", Image: "ubuntu-24.04"}}})
	if err != nil {
		t.Fatal(err)
	}
	pb, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	sig, err := plans.Approve(s, pb)
	if err != nil {
		t.Fatal(err)
	}
	rem := &racingRemote{GitRemote: NewGitRemote(dirA, "origin", gitledger.DefaultBranch, "main"), before: func() {
		if _, err := lb.Append(s, "alice", func(*gitledger.Tip) (*gitledger.Draft, error) {
			return &gitledger.Draft{Receipt: receipt.Receipt{Kind: receipt.KindManual, Summary: "meanwhile", Manual: &receipt.Manual{}}}, nil
		}); err != nil {
			t.Fatal(err)
		}
		runGit(t, dirB, "push", "-q", "origin", "vmc/ledger")
	}}
	ap := New(Options{Ledger: la, Provider: prov, Signer: s, KID: "alice", Locks: lock.New(filepath.Join(tmp, "locks")),
		LockWait: time.Second, Remote: rem, Log: t.Logf})
	out, err := ap.Apply(context.Background(), Input{Bytes: pb, Approvals: map[string][]byte{"alice": sig}})
	if err != nil {
		t.Fatal(err)
	}
	if !rem.raced {
		t.Fatal("the race was not provoked")
	}
	if out.Seq != 2 {
		t.Fatalf("receipt written at seq %d, want 2 (after the other writer's 1)", out.Seq)
	}
	if n := runGit(t, origin, "rev-list", "--count", "vmc/ledger"); n != "3" {
		t.Fatalf("origin ledger has %s commits, want 3", n)
	}
	if _, err := la.Verify(gitledger.VerifyOptions{Signatures: true}); err != nil {
		t.Fatal(err)
	}
	if got := runGit(t, dirA, "rev-parse", "vmc/ledger"); got != runGit(t, origin, "rev-parse", "vmc/ledger") {
		t.Fatal("local and remote ledgers differ after publish")
	}
	if _, err := os.Stat(filepath.Join(la.GitDir, "vmc", "intents", "web-1-create.json")); !os.IsNotExist(err) {
		t.Fatalf("intent left behind: %v", err)
	}
	ss, err := prov.Servers(context.Background(), "")
	if err != nil || len(ss) != 1 {
		t.Fatalf("servers %v %v: want exactly one", ss, err)
	}
}
