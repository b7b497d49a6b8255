package apply

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmc-git/vmc-git/apply/remoteref"
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

// remoteFixture: a bare origin holding a genesis by alice (all roles), a
// sandbox, and an approved plan creating the given servers.
type remoteFixture struct {
	tmp, origin string
	s           *keys.Signer
	prov        provider.Provider
	pb, sig     []byte
}

func newRemoteFixture(t *testing.T, actionDur time.Duration, servers ...string) *remoteFixture {
	t.Helper()
	f := &remoteFixture{tmp: t.TempDir()}
	priv, pub, err := keys.Generate("alice")
	if err != nil {
		t.Fatal(err)
	}
	kp := filepath.Join(f.tmp, "alice")
	if err := keys.WriteKeyPair(kp, priv, pub); err != nil {
		t.Fatal(err)
	}
	if f.s, err = keys.LoadFile(kp); err != nil {
		t.Fatal(err)
	}
	f.origin = filepath.Join(f.tmp, "origin.git")
	runGit(t, f.tmp, "init", "-q", "--bare", "-b", "main", f.origin)
	seed := filepath.Join(f.tmp, "seed")
	runGit(t, f.tmp, "init", "-q", "-b", "main", seed)
	ls, err := gitledger.Open(seed, "")
	if err != nil {
		t.Fatal(err)
	}
	g := receipt.Genesis{Keys: []keys.KeySpec{{KID: "alice", PublicKey: keys.FormatPublicKey(f.s.PublicKey()),
		Roles: []keys.Role{keys.RoleAdmin, keys.RoleApplier, keys.RoleApprover}}}, Policy: keys.Policy{ApprovalsRequired: 1, AdminThreshold: 1}}
	if _, err := ls.Init("example.com/race", f.s, "alice", g, time.Now()); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(seed, "README"), []byte("x\n"), 0o644)
	runGit(t, seed, "add", "README")
	runGit(t, seed, "commit", "-qm", "main")
	runGit(t, seed, "push", "-q", f.origin, "main", "vmc/ledger")
	sb, err := sandbox.New(sandbox.Options{Token: "tok", ActionDuration: actionDur})
	if err != nil {
		t.Fatal(err)
	}
	url, err := sb.Start("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	if f.prov, err = provider.New(provider.Config{Token: "tok", Endpoint: url, PollInterval: 5 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	tip, err := ls.Tip()
	if err != nil {
		t.Fatal(err)
	}
	var acts []provider.Action
	for _, name := range servers {
		acts = append(acts, provider.Action{Op: provider.OpCreate, Server: name, ServerType: "cx22", Image: "ubuntu-24.04"})
	}
	p, err := plans.Make(context.Background(), f.prov, plans.Request{ID: "create", Ledger: "example.com/race",
		Head: plans.LedgerRef{Seq: tip.Head.Seq, Blake3: tip.Head.Blake3}, Actions: acts})
	if err != nil {
		t.Fatal(err)
	}
	if f.pb, err = p.Encode(); err != nil {
		t.Fatal(err)
	}
	if f.sig, err = plans.Approve(f.s, f.pb); err != nil {
		t.Fatal(err)
	}
	return f
}

// clone makes a clone of the origin with the ledger branch.
func (f *remoteFixture) clone(t *testing.T, name string) (string, *gitledger.Ledger) {
	t.Helper()
	dir := filepath.Join(f.tmp, name)
	runGit(t, f.tmp, "clone", "-q", f.origin, dir)
	runGit(t, dir, "fetch", "-q", "origin", "vmc/ledger:vmc/ledger")
	l, err := gitledger.Open(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	return dir, l
}

// TestPublishLosesRace: another writer pushes while a plan is being applied.
// The applier re-reads the remote, writes its receipt again on the new head
// and pushes; the provider action ran once and the chain stays linear.
func TestPublishLosesRace(t *testing.T) {
	f := newRemoteFixture(t, 10*time.Millisecond, "web-1")
	tmp, origin, s, prov, pb, sig := f.tmp, f.origin, f.s, f.prov, f.pb, f.sig
	// Two clones: A applies a plan, B records a manual receipt meanwhile.
	dirA, la := f.clone(t, "A")
	dirB, lb := f.clone(t, "B")
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
	if _, err := os.Stat(filepath.Join(la.GitDir, "vmc", "intents", "create.json")); !os.IsNotExist(err) {
		t.Fatalf("intent left behind: %v", err)
	}
	ss, err := prov.Servers(context.Background(), "")
	if err != nil || len(ss) != 1 {
		t.Fatalf("servers %v %v: want exactly one", ss, err)
	}
}

// TestRemoteLockHeartbeatAndFence: while a run is between two provider
// calls for longer than RemoteLockAge, its remote locks are refreshed, so
// another run cannot take them over as stale; and when one is lost anyway,
// the run stops before its next provider call, keeping its journal.
//
// The run is held between its two calls by the fault hook (not by a slow
// sandbox action), and the takeover is tried just after the test saw a
// refreshed lock dated past the point where the first lock went stale:
// nothing depends on how fast the machine is, only on the heartbeat
// refreshing within RemoteLockAge/3 plus one push.
func TestRemoteLockHeartbeatAndFence(t *testing.T) {
	// The takeover below is tried on a lock refreshed a moment ago; it may
	// succeed only if that moment (the refresh's push, two fetches) lasts
	// longer than age, which 6 s keeps far from a loaded machine's git.
	const age = 6 * time.Second
	f := newRemoteFixture(t, 10*time.Millisecond, "web-1", "web-2")
	dirA, la := f.clone(t, "A")
	dirB, _ := f.clone(t, "B")
	between, resume := make(chan struct{}), make(chan struct{})
	calls := 0
	ap := New(Options{Ledger: la, Provider: f.prov, Signer: f.s, KID: "alice", Locks: lock.New(filepath.Join(f.tmp, "locks")),
		LockWait: time.Second, RemoteLockAge: age, Log: t.Logf,
		Remote: NewGitRemote(dirA, "origin", gitledger.DefaultBranch, "main"),
		Fault: func(step string) {
			if step == StepAfterProvider {
				if calls++; calls == 1 { // web-1 created, web-2 not yet
					close(between)
					<-resume
				}
			}
		}})
	done := make(chan error, 1)
	go func() {
		_, err := ap.Apply(context.Background(), Input{Bytes: f.pb, Approvals: map[string][]byte{"alice": f.sig}})
		done <- err
	}()
	select {
	case <-between:
	case err := <-done:
		t.Fatalf("apply ended before its second call: %v", err)
	case <-time.After(2 * time.Minute):
		t.Fatal("the applier never made its first call")
	}
	other := NewGitRemote(dirB, "origin", gitledger.DefaultBranch, "main")
	other.Signer, other.KID, other.LedgerID = f.s, "alice", "example.com/race"
	other.LockValid = func(*remoteref.Lock) bool { return true } // alice's own locks
	lockAt := func() (string, time.Time) {
		cur, b, ok := other.fetchBlob(LockRefPrefix+"web-1", remoteref.MaxLockSize)
		if !ok {
			t.Fatalf("no lock on web-1 on the remote (%q)", cur)
		}
		l, err := remoteref.ParseLock(b)
		if err != nil {
			t.Fatal(err)
		}
		return cur, l.Time
	}
	first, firstAt := lockAt()
	// Wait for a refreshed lock dated later than the moment the first one
	// went stale (firstAt + age): without the heartbeat it would be the
	// first one, older than age, and the takeover below would succeed.
	var cur string
	for deadline := time.Now().Add(time.Minute); ; {
		var at time.Time
		if cur, at = lockAt(); cur != first && at.After(firstAt.Add(age)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the lock on web-1 was not refreshed past %s (still %s at %s)", firstAt.Add(age), cur, at)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !time.Now().After(firstAt.Add(age)) {
		t.Fatal("the first lock is not yet stale: the check below would prove nothing")
	}
	var he *lock.HeldError
	if err := other.TakeOverLock("web-1", "bob", "create", age, func(string) bool { return true }); !errors.As(err, &he) {
		t.Fatalf("a live run's refreshed lock was taken over: %v", err)
	}
	// Now lose the web-2 lock behind the run's back: it must stop before
	// creating web-2.
	// (The heartbeat may be refreshing the same ref at this instant: retry.)
	for i := 0; ; i++ {
		if err := runGitOK(dirB, "push", "-q", "origin", ":refs/vmc/locks/web-2"); err == nil {
			break
		} else if i == 20 {
			t.Fatalf("delete the lock: %v", err)
		}
		time.Sleep(25 * time.Millisecond)
	}
	close(resume)
	err := <-done
	if !errors.Is(err, ErrLockLost) {
		t.Fatalf("apply after losing a lock: %v, want ErrLockLost", err)
	}
	ss, err := f.prov.Servers(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 1 || ss[0].Name != "web-1" {
		t.Fatalf("servers %v: want only web-1 (web-2 fenced off)", ss)
	}
	it, _, err := ap.loadIntent("create")
	if err != nil || it == nil {
		t.Fatalf("the journal of the fenced run is gone: %v", err)
	}
	if it.Steps[0].State != stateDone || it.Steps[1].State != statePending {
		t.Fatalf("the fenced run's journal: %s, %s; want web-1 done, web-2 pending", it.Steps[0].State, it.Steps[1].State)
	}
}

func runGitOK(dir string, args ...string) error {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	return cmd.Run()
}
