package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vmc-git/vmc-git/apply/remoteref"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/provider"
	"github.com/vmc-git/vmc-git/provider/sandbox"
	"github.com/vmc-git/vmc-git/receipt"
)

// The apply side of issue 9: someone who can push (but holds no key) puts
// refs and files where CI reads them. Each test runs the real flow: plans
// made, approved and merged with the CLI, `apply --pending --push` in a
// second clone against a served sandbox, an origin with the pre-receive
// hook. Where the hook refuses the attack outright, the ref is then written
// into the origin behind the hook's back (a server operator, or github.com
// with no server hooks), to show that apply tolerates it too.

// behindHook sets ref in the bare origin to the object id directly, as a
// git server without the hook would let a push do. The objects come from
// dir (pushed to a scratch branch first, which the hook allows).
func behindHook(t *testing.T, dir, origin, ref, id string) {
	t.Helper()
	scratch := "refs/heads/scratch-" + strings.ReplaceAll(strings.TrimPrefix(ref, "refs/"), "/", "-")
	typ := strings.TrimSpace(gitIn(t, dir, "cat-file", "-t", id))
	if typ == "commit" {
		gitIn(t, dir, "push", "-q", "--no-verify", "origin", id+":"+scratch)
	} else {
		// Carry a blob or tree in a commit's tree.
		tree := id
		if typ == "blob" {
			tree = strings.TrimSpace(gitInStdin(t, dir, []byte("100644 blob "+id+"\tx\n"), "mktree"))
		}
		c := strings.TrimSpace(gitIn(t, dir, "-c", "user.name=m", "-c", "user.email=m@x", "commit-tree", tree, "-m", "carrier"))
		gitIn(t, dir, "push", "-q", "--no-verify", "origin", c+":"+scratch)
	}
	gitIn(t, origin, "update-ref", ref, id)
	gitIn(t, origin, "update-ref", "-d", scratch)
}

// TestRecoveryRunsFreshnessChecks (hole 1): a run dies after publishing
// its (signed) intent to power off web-1, before calling the provider. Then
// web-1 is replaced by another server of the same name. The next run, on
// another machine, adopts the intent but checks it like a new apply: the
// stale step is recorded as not run, and the new web-1 is left alone.
func TestRecoveryRunsFreshnessChecks(t *testing.T) {
	t.Parallel()
	prov, url, seed, origin := pushSetup(t, 20*time.Millisecond)
	seed.planApproved("web-1-create", "create", "web-1", "--type", "cx22", "--image", "ubuntu-24.04")
	seed.git("push", "-q", "origin", "main", "vmc/ledger")
	a := machine(t, seed, origin)
	a.must("apply", "--pending", "--push", "--key", key("alice"))
	seed.git("fetch", "-q", "origin", "vmc/ledger:vmc/ledger")
	seed.planApproved("web-1-poweroff", "poweroff", "web-1")
	seed.git("push", "-q", "origin", "main")
	if res := a.runEnv([]string{"VMC_FAULT=before-provider"}, "apply", "--pending", "--push", "--key", key("alice")); res.code != 99 {
		t.Fatalf("want the injected crash:\n%s", res)
	}
	if refs := gitIn(t, origin, "for-each-ref", "refs/vmc/intents/"); !strings.Contains(refs, "web-1-poweroff") {
		t.Fatalf("no intent on the remote:\n%s", refs)
	}
	// The world moves on: web-1 is replaced.
	ctx := context.Background()
	if res, err := prov.Apply(ctx, provider.Action{Op: provider.OpDelete, Server: "web-1"}, nil); err != nil || res.Status != provider.StatusSucceeded {
		t.Fatalf("delete: %v %+v", err, res)
	}
	if res, err := prov.Apply(ctx, provider.Action{Op: provider.OpCreate, Server: "web-1", ServerType: "cx22", Image: "ubuntu-24.04", Location: "fsn1"}, nil); err != nil || res.Status != provider.StatusSucceeded {
		t.Fatalf("create: %v %+v", err, res)
	}
	fresh, err := prov.Server(ctx, "web-1")
	if err != nil {
		t.Fatal(err)
	}
	before := serverActions(t, url, fresh.ID)
	b := machine(t, seed, origin)
	res := b.run("apply", "--pending", "--push", "--key", key("alice"), "--remote-lock-stale", "1ms")
	if !strings.Contains(res.out, "applied plan web-1-poweroff: failed (recovered)") || !strings.Contains(res.err, "recovery does not run poweroff") {
		t.Fatalf("the stale intent was not recorded as not run:\n%s", res)
	}
	if after := serverActions(t, url, fresh.ID); !slices.Equal(after, before) {
		t.Fatalf("the new web-1 was acted on: actions %v, before %v", after, before)
	}
	if s, err := prov.Server(ctx, "web-1"); err != nil || s.Status != "running" || s.ID != fresh.ID {
		t.Fatalf("the new web-1: %+v %v", s, err)
	}
	rc := b.onlyReceipt("web-1-poweroff")
	if rs := results(t, rc); len(rs) != 1 || rs[0].Status != "skipped" || !strings.Contains(rs[0].Error, "not run on recovery: plan web-1-poweroff is stale: server web-1: id planned") {
		t.Fatalf("receipt results: %+v", rs)
	}
	if refs := strings.TrimSpace(gitIn(t, origin, "for-each-ref", "refs/vmc/")); refs != "" {
		t.Fatalf("refs left on the remote:\n%s", refs)
	}
}

// TestForeignIntentIgnored (holes 1 and 7): an intent built from public
// data (the merged plan and its approvals) but not signed by an applier is
// refused by the hook; written behind the hook's back it is reported and
// ignored, never adopted, and never blocks the plan it squats: the plan is
// applied normally, its stale check included.
func TestForeignIntentIgnored(t *testing.T) {
	t.Parallel()
	prov, _, seed, origin := pushSetup(t, 20*time.Millisecond)
	seed.planApproved("web-1-create", "create", "web-1", "--type", "cx22", "--image", "ubuntu-24.04")
	seed.git("push", "-q", "origin", "main", "vmc/ledger")
	pb, err := os.ReadFile(seed.planFile("web-1-create"))
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := os.ReadFile(filepath.Join(seed.root, "plans", "web-1-create.approvals", "bob.sig"))
	forged, _ := json.Marshal(map[string]any{"v": 1, "plan": "web-1-create", "plan_bytes": pb, "approvals": []string{"bob"},
		"sigs": map[string][]byte{"bob": sig}, "steps": []map[string]any{{"action": map[string]any{"op": "create", "server": "web-1", "server_type": "cx22", "image": "ubuntu-24.04"}, "state": "calling"}}})
	blob := strings.TrimSpace(gitInStdin(t, seed.root, forged, "hash-object", "-w", "--stdin"))
	ref := "refs/vmc/intents/web-1-create"
	out, err := seed.pushOut("origin", blob+":"+ref)
	if err == nil || !strings.Contains(out, "vmc-git: refused "+ref+": intent ref: intent: json: unknown field") {
		t.Fatalf("the hook took an unsigned intent (%v):\n%s", err, out)
	}
	if gitIn(t, origin, "for-each-ref", ref) != "" {
		t.Fatal("the intent ref moved")
	}
	behindHook(t, seed.root, origin, ref, blob)
	b := machine(t, seed, origin)
	res := b.run("apply", "--pending", "--push", "--key", key("alice"))
	if !strings.Contains(res.err, "plan web-1-create: the intent on the remote is not an applier's") {
		t.Fatalf("the foreign intent was not reported:\n%s", res)
	}
	if !strings.Contains(res.out, "applied plan web-1-create: succeeded -> receipt 1") {
		t.Fatalf("the squatted plan was not applied normally:\n%s", res)
	}
	if ss := servers(t, prov); len(ss) != 1 {
		t.Fatalf("%d servers, want 1", len(ss))
	}
	if refs := strings.TrimSpace(gitIn(t, origin, "for-each-ref", "refs/vmc/")); refs != "" {
		t.Fatalf("refs left on the remote:\n%s", refs)
	}
}

// pushOut runs git push in r and returns its output, for refusals.
func (r *repo) pushOut(args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"push"}, args...)...)
	cmd.Dir, cmd.Env = r.root, r.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestBadEntriesDoNotBlock (holes 3 and 7): behind the hook's back, main
// gets a plan whose approvals directory holds a directory, and refs/vmc/
// gets a tree as an intent and garbage as a lock. apply --pending reports
// each and applies the good plan anyway.
func TestBadEntriesDoNotBlock(t *testing.T) {
	t.Parallel()
	prov, _, seed, origin := pushSetup(t, 20*time.Millisecond)
	seed.planApproved("web-2-create", "create", "web-2", "--type", "cx22", "--image", "ubuntu-24.04")
	seed.planApproved("web-4-create", "create", "web-4", "--type", "cx22", "--image", "ubuntu-24.04")
	seed.git("push", "-q", "origin", "main", "vmc/ledger")
	// Hole 11: a lock on web-4, signed by the applier but dated a day
	// ahead, would never go stale: refused by the hook, stale for apply.
	alice, err := keys.LoadFile(key("alice"))
	if err != nil {
		t.Fatal(err)
	}
	lb, err := remoteref.Lock{Ledger: testLedgerID, Server: "web-4", Plan: "web-4-create", Holder: "alice", Host: "elsewhere", PID: 1,
		Time: time.Now().Add(24 * time.Hour), Nonce: "00", KID: "alice"}.Encode(alice)
	if err != nil {
		t.Fatal(err)
	}
	future := strings.TrimSpace(gitInStdin(t, seed.root, lb, "hash-object", "-w", "--stdin"))
	if out, err := seed.pushOut("origin", future+":refs/vmc/locks/web-4"); err == nil || !strings.Contains(out, "lock ref: lock: dated ") {
		t.Fatalf("the hook took a lock dated ahead (%v):\n%s", err, out)
	}
	behindHook(t, seed.root, origin, "refs/vmc/locks/web-4", future)
	// A plan with a directory where an approval should be, pushed through
	// the hook: refused.
	seed.plan("web-1-create", "create", "web-1", "--type", "cx22", "--image", "ubuntu-24.04")
	if err := os.MkdirAll(filepath.Join(seed.root, "plans", "web-1-create.approvals", "bob.sig"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(seed.root, "plans", "web-1-create.approvals", "bob.sig", "x"), []byte("x"), 0o644)
	seed.commit("plan web-1 with a directory as an approval")
	head := seed.git("rev-parse", "HEAD")
	if out, err := seed.pushOut("origin", "main"); err == nil || !strings.Contains(out, "plans/web-1-create.approvals/bob.sig: mode 40000: an approval is a regular file") {
		t.Fatalf("the hook took it (%v):\n%s", err, out)
	}
	behindHook(t, seed.root, origin, "refs/heads/main", head)
	behindHook(t, seed.root, origin, "refs/vmc/intents/web-3-create", seed.git("rev-parse", "HEAD^{tree}"))
	behindHook(t, seed.root, origin, "refs/vmc/locks/web-2", strings.TrimSpace(gitInStdin(t, seed.root, []byte("garbage"), "hash-object", "-w", "--stdin")))

	b := machine(t, seed, origin)
	res := b.run("apply", "--pending", "--push", "--key", key("alice"), "--lock-wait", "2s")
	for _, want := range []string{
		"plan web-1-create: plans/web-1-create.approvals/bob.sig: mode 40000: an approval is a regular file (mode 100644)",
		"plan web-3-create: refs/vmc/intents/web-3-create is not a blob of at most",
	} {
		if !strings.Contains(res.err, want) {
			t.Errorf("not reported: %q\n%s", want, res)
		}
	}
	if !strings.Contains(res.out, "applied plan web-2-create: succeeded") || !strings.Contains(res.out, "applied plan web-4-create: succeeded") {
		t.Fatalf("a good plan was blocked:\n%s", res)
	}
	if ss := servers(t, prov); len(ss) != 2 {
		t.Fatalf("servers %+v", ss)
	}
}

// TestProviderPinned (hole 6): genesis pins the provider. Flipping
// .vmc/config.json's provider is refused by the hook; done behind its back,
// apply refuses to run (no provider call, no receipt). An admin-signed keys
// receipt changes the pin, and then the config may follow.
func TestProviderPinned(t *testing.T) {
	t.Parallel()
	prov, _, seed, origin := pushSetup(t, 20*time.Millisecond)
	seed.planApproved("web-1-create", "create", "web-1", "--type", "cx22", "--image", "ubuntu-24.04")
	seed.git("push", "-q", "origin", "main", "vmc/ledger")
	good := seed.git("rev-parse", "HEAD")
	cfgPath := filepath.Join(seed.root, ".vmc", "config.json")
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	flipped := strings.Replace(string(cfg), `"provider":"sandbox"`, `"provider":"hetzner"`, 1)
	os.WriteFile(cfgPath, []byte(flipped), 0o644)
	seed.git("commit", "-q", "-am", "provider: hetzner")
	head := seed.git("rev-parse", "HEAD")
	if out, err := seed.pushOut("origin", "main"); err == nil || !strings.Contains(out, `.vmc/config.json: provider "hetzner", but the ledger pins "sandbox"`) {
		t.Fatalf("the hook took the flipped provider (%v):\n%s", err, out)
	}
	behindHook(t, seed.root, origin, "refs/heads/main", head)
	b := machine(t, seed, origin)
	ledger := strings.TrimSpace(gitIn(t, origin, "rev-parse", "refs/heads/vmc/ledger"))
	res := b.run("apply", "--pending", "--push", "--key", key("alice"))
	if res.code == 0 || !strings.Contains(res.err, `the configuration disagrees with the ledger: .vmc/config.json says provider "hetzner", the ledger pins "sandbox": nothing was applied`) {
		t.Fatalf("apply ran under a flipped provider:\n%s", res)
	}
	if ss := servers(t, prov); len(ss) != 0 {
		t.Fatalf("the provider was called: %+v", ss)
	}
	if now := strings.TrimSpace(gitIn(t, origin, "rev-parse", "refs/heads/vmc/ledger")); now != ledger {
		t.Fatal("a receipt was written")
	}
	// verify refuses the disagreeing config too.
	checkError(t, b.run("verify", "chain", "--sig"), exitInvalid, `.vmc/config.json says provider "hetzner", the ledger pins "sandbox"`)
	// The admin changes the pin with a keys receipt; then the same config
	// goes through the hook.
	gitIn(t, origin, "update-ref", "refs/heads/main", good)
	seed.git("reset", "-q", "--hard", good)
	seed.must("keys", "provider", "hetzner", "--key", key("alice"))
	seed.git("push", "-q", "origin", "vmc/ledger")
	os.WriteFile(cfgPath, []byte(flipped), 0o644)
	seed.git("commit", "-q", "-am", "provider: hetzner")
	if out, err := seed.pushOut("origin", "main"); err != nil {
		t.Fatalf("the config following the pinned provider was refused:\n%s", out)
	}
}

// TestRollbackToAFreshClone (hole 14): the git server serves an older
// ledger. A fresh clone verifies it (every rule holds) and says what it
// relied on; given the size or the checkpoint file known from elsewhere, it
// refuses the shorter ledger (exit 3). And merkle verify-proof names and
// checks the checkpoint's origin.
func TestRollbackToAFreshClone(t *testing.T) {
	t.Parallel()
	r := newRepo(t, repoOpts{})
	for i := 0; i < 3; i++ {
		r.must("record", "--summary", "maintenance", "--key", key("alice"))
	}
	snap := filepath.Join(t.TempDir(), "merkle-4.json")
	r.must("merkle", "receipts", "--key", key("alice"), "--out", snap)
	origin := filepath.Join(t.TempDir(), "origin.git")
	gitIn(t, "", "init", "-q", "--bare", "-b", "main", origin)
	var hk struct {
		Path   string `json:"path"`
		Hook   string `json:"hook"`
		Main   string `json:"main_branch"`
		Ledger string `json:"ledger_branch"`
	}
	if out := r.must("hook", "install", "--repo", origin, "--json"); json.Unmarshal([]byte(out), &hk) != nil ||
		hk.Path != filepath.Join(origin, "hooks", "pre-receive") || hk.Hook != "pre-receive" || hk.Main == "" || hk.Ledger == "" {
		t.Fatalf("hook install --json: %+v\n%s", hk, out)
	}
	r.git("remote", "add", "origin", origin)
	r.git("push", "-q", "origin", "main", "vmc/ledger")
	fresh := func() *repo {
		c := &repo{t: t, root: filepath.Join(t.TempDir(), "infra"), env: r.env}
		gitIn(t, "", "clone", "-q", origin, c.root)
		return c
	}
	out := fresh().must("verify", "chain", "--sig")
	if !strings.Contains(out, "relies on: tip: the ledger tip as the server sent it, 4 receipts") || !strings.Contains(out, "a server can serve an older ledger") {
		t.Fatalf("verify does not say what it relies on:\n%s", out)
	}
	if out := fresh().must("verify", "chain", "--sig", "--checkpoint", snap); !strings.Contains(out, "relies on: checkpoint: "+snap+", 4 receipts") {
		t.Fatalf("with --checkpoint:\n%s", out)
	}
	// The server operator rolls the ledger back to receipt 1.
	gitIn(t, origin, "update-ref", "refs/heads/vmc/ledger", r.git("rev-parse", "vmc/ledger~2"))
	c := fresh()
	if out := c.must("verify", "chain", "--sig", "--no-remember"); !strings.Contains(out, "ok: "+testLedgerID+", 2 receipts") {
		t.Fatalf("the rolled-back ledger:\n%s", out)
	}
	checkError(t, c.run("verify", "chain", "--sig", "--no-remember", "--checkpoint", snap), exitInvalid,
		"the ledger is older than a checkpoint known to the verifier (a rollback, or withheld receipts): it has 2 receipts, the checkpoint "+snap+" covers 4")
	checkError(t, c.run("verify", "chain", "--sig", "--no-remember", "--min-size", "4"), exitInvalid,
		"it has 2 receipts, the floor given (--min-size) is 4")

	// merkle verify-proof: the checkpoint's origin is the receipt's ledger.
	dir := t.TempDir()
	proof := filepath.Join(dir, "proof.json")
	os.WriteFile(proof, []byte(r.must("merkle", "prove", "1", "--size", "4")), 0o644)
	rcpt := filepath.Join(dir, "000000001.json")
	os.WriteFile(rcpt, []byte(r.git("show", "vmc/ledger:receipts/000/00/00/0/000000001.json")), 0o644)
	out = r.must("merkle", "verify-proof", proof, "--receipt", rcpt, "--checkpoint", snap, "--key", key("alice")+".pub", "--kid", "alice")
	if !strings.Contains(out, "ok: receipt 1 (000000001.json) is in the signed tree of size 4 of ledger "+testLedgerID+" (checkpoint origin "+testLedgerID) {
		t.Fatalf("verify-proof:\n%s", out)
	}
	checkError(t, r.run("merkle", "verify-proof", proof, "--receipt", rcpt, "--checkpoint", snap, "--key", key("alice")+".pub", "--kid", "alice", "--origin", "example.com/other"),
		exitInvalid, `checkpoint origin "`+testLedgerID+`", want "example.com/other" (--origin)`)
	// --json: the same facts for scripts.
	var vp struct {
		OK     bool   `json:"ok"`
		Seq    uint64 `json:"seq"`
		Size   uint64 `json:"size"`
		Ledger string `json:"ledger"`
		Origin string `json:"origin"`
		Root   string `json:"root"`
	}
	out = r.must("merkle", "verify-proof", proof, "--receipt", rcpt, "--checkpoint", snap, "--key", key("alice")+".pub", "--kid", "alice", "--json")
	if err := json.Unmarshal([]byte(out), &vp); err != nil || !vp.OK || vp.Seq != 1 || vp.Size != 4 || vp.Ledger != testLedgerID || vp.Origin != testLedgerID || len(vp.Root) == 0 {
		t.Fatalf("verify-proof --json: %+v %v\n%s", vp, err, out)
	}
}

// TestVanishedLockRecordsWhatHappened (hole 5): the hook refuses deleting
// a running apply's lock and intent (TestHookPushAttacks); if they vanish
// anyway (the server operator), the run stops before its next provider
// call and records what it already did from its own journal: the action
// that happened ends up in a receipt, the next one is not attempted.
func TestVanishedLockRecordsWhatHappened(t *testing.T) {
	t.Parallel()
	// The sandbox's clock stands still until the lock and intent are gone,
	// so web-1's actions cannot finish (and the run cannot go on to web-2)
	// before that, however slow the machine is.
	t0 := time.Now()
	var running atomic.Bool
	clock := func() time.Time {
		if running.Load() {
			return time.Now()
		}
		return t0
	}
	prov, _, seed, origin := hookedSetup(t, sandbox.Options{ActionDuration: 1500 * time.Millisecond, Now: clock}, repoOpts{})
	seed.git("push", "-q", "origin", "main", "vmc/ledger")
	var head receipt.Head
	head, err := receipt.ParseHead([]byte(seed.git("show", "vmc/ledger:HEAD.json")))
	if err != nil {
		t.Fatal(err)
	}
	id := "web-1-and-2"
	p, err := plans.Make(context.Background(), prov, plans.Request{ID: id, Ledger: testLedgerID, Head: plans.LedgerRef{Seq: head.Seq, Blake3: head.Blake3},
		CreatedBy: "alice", Actions: []provider.Action{
			{Op: provider.OpCreate, Server: "web-1", ServerType: "cx22", Image: "ubuntu-24.04"},
			{Op: provider.OpCreate, Server: "web-2", ServerType: "cx22", Image: "ubuntu-24.04"}}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(seed.root, "plans"), 0o755)
	os.WriteFile(seed.planFile(id), b, 0o644)
	seed.approve(id, "bob")
	seed.commit("plan " + id)
	seed.git("push", "-q", "origin", "main")

	a := machine(t, seed, origin)
	done := make(chan result, 1)
	go func() { done <- a.run("apply", "--pending", "--push", "--key", key("alice")) }()
	// Once web-1's create is under way, the lock and intent vanish.
	deadline := time.Now().Add(20 * time.Second)
	for {
		if s, err := prov.Server(context.Background(), "web-1"); err == nil && s != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the apply never started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, ref := range []string{"refs/vmc/intents/" + id, "refs/vmc/locks/web-1", "refs/vmc/locks/web-2"} {
		gitIn(t, origin, "update-ref", "-d", ref)
	}
	running.Store(true)
	res := <-done
	if !strings.Contains(res.out, "applied plan "+id+": failed -> receipt 1") || !strings.Contains(res.err, "its intent is gone from the remote: recording what this run did") {
		t.Fatalf("the run did not record what it did:\n%s", res)
	}
	if n := strings.TrimSpace(gitIn(t, origin, "rev-list", "--count", "refs/heads/vmc/ledger")); n != "2" {
		t.Fatalf("origin ledger has %s commits, want 2", n)
	}
	rs := results(t, a.onlyReceipt(id))
	if len(rs) != 2 || rs[0].Status != provider.StatusSucceeded || rs[1].Status != "skipped" || !strings.Contains(rs[1].Error, "lost its remote lock") {
		t.Fatalf("receipt results: %+v", rs)
	}
	if _, err := prov.Server(context.Background(), "web-2"); err == nil {
		t.Fatal("web-2 was created after the lock was lost")
	}
}

// TestBadSnapshotTagNameExit3: a ref under the snapshot namespace that is
// no snapshot tag name (the hook refuses it; a clone may still get one) is
// a verification failure, exit 3, naming the problem.
func TestBadSnapshotTagNameExit3(t *testing.T) {
	t.Parallel()
	r := newRepo(t, repoOpts{})
	r.git("update-ref", "refs/tags/vmc/merkle/18446744073709551619", r.ledgerHead())
	checkError(t, r.run("verify", "chain", "--sig"), exitInvalid, `snapshot tag name "refs/tags/vmc/merkle/18446744073709551619": size overflows 64 bits`)
}

// TestVerifyReceiptVerifiesTheTip: verify receipt --sig trusts the key the
// ledger tip binds only after verifying the ledger up to that tip: a
// commit pushed onto the ledger branch by hand is refused first.
func TestVerifyReceiptVerifiesTheTip(t *testing.T) {
	t.Parallel()
	r := newRepo(t, repoOpts{})
	r.must("record", "--summary", "maintenance", "--key", key("alice"))
	r.must("verify", "receipt", "1", "--sig")
	wt := filepath.Join(t.TempDir(), "wt")
	r.git("worktree", "add", "-q", wt, "vmc/ledger")
	gitIn(t, wt, "-c", "user.name=m", "-c", "user.email=m@x", "commit", "-q", "--allow-empty", "-m", "vmc: 2 keys trust mallory")
	checkError(t, r.run("verify", "receipt", "1", "--sig"), exitInvalid, "receipt 2")
}
