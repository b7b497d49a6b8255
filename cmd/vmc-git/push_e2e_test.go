package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmc-git/vmc-git/provider"
	"github.com/vmc-git/vmc-git/provider/sandbox"
)

// TestTwoAppliersPush: two clones ("machines") run apply --pending --push
// against the same bare origin, with the pre-receive hook installed, at the
// same time. Both finish, every plan is applied exactly once, and the remote
// holds one linear, valid chain.
func TestTwoAppliersPush(t *testing.T) {
	t.Parallel()
	prov, url, seed, origin := pushSetup(t, 100*time.Millisecond)
	ids := []string{"web-1-create", "web-2-create", "web-3-create", "web-4-create"}
	for i, id := range ids {
		seed.planApproved(id, "create", fmt.Sprintf("web-%d", i+1), "--type", "cx22", "--image", "ubuntu-24.04")
	}
	seed.git("push", "-q", "origin", "main", "vmc/ledger")

	// Two machines: separate clones, separate lock directories.
	var clones [2]*repo
	for i := range clones {
		clones[i] = machine(t, seed, origin)
	}
	outs := runAll(clones[0].command(nil, "apply", "--pending", "--push", "--key", key("alice")),
		clones[1].command(nil, "apply", "--pending", "--push", "--key", key("alice")))
	if outs[0].code != 0 || outs[1].code != 0 {
		t.Fatalf("an applier failed:\n%s\n%s", outs[0], outs[1])
	}
	all := outs[0].out + outs[1].out
	for _, id := range ids {
		if n := strings.Count(all, "applied plan "+id+": succeeded"); n != 1 {
			t.Errorf("plan %s applied %d times:\n%s\n%s", id, n, outs[0], outs[1])
		}
	}
	// The remote: one linear chain of genesis + 4 applies, valid.
	if n := strings.TrimSpace(gitIn(t, origin, "rev-list", "--count", "refs/heads/vmc/ledger")); n != "5" {
		t.Fatalf("origin ledger has %s commits, want 5", n)
	}
	if m := strings.TrimSpace(gitIn(t, origin, "rev-list", "--merges", "refs/heads/vmc/ledger")); m != "" {
		t.Fatalf("merge commits on the remote ledger: %s", m)
	}
	check := &repo{t: t, root: filepath.Join(t.TempDir(), "check"), env: seed.env}
	gitIn(t, "", "clone", "-q", origin, check.root)
	check.git("fetch", "-q", "origin", "vmc/ledger:vmc/ledger")
	check.verify(5)
	ss := servers(t, prov)
	if len(ss) != len(ids) {
		t.Fatalf("%d servers, want %d", len(ss), len(ids))
	}
	for _, s := range ss {
		if got := serverActions(t, url, s.ID); !slices.Equal(got, []string{"create_server", "start_server"}) {
			t.Errorf("server %s: actions %v (created more than once?)", s.Name, got)
		}
	}
	// No lock refs left on the remote.
	if refs := strings.TrimSpace(gitIn(t, origin, "for-each-ref", "refs/vmc/locks/")); refs != "" {
		t.Errorf("lock refs left on origin: %s", refs)
	}
}

func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	return gitInStdin(t, dir, nil, args...)
}

// TestApplyRefusesUnverifiedLedger: a commit pushed onto the ledger branch
// by hand (here: one that makes mallory an approver in keys/trust.json)
// must not take effect: apply verifies the ledger first and changes nothing.
func TestApplyRefusesUnverifiedLedger(t *testing.T) {
	t.Parallel()
	r := newRepo(t, repoOpts{})
	r.planApproved("web-1-create", "create", "web-1", "--type", "cx22", "--image", "ubuntu-24.04")
	// Forge: a plain git commit on the ledger branch that edits trust.json.
	wt := filepath.Join(t.TempDir(), "wt")
	r.git("worktree", "add", "-q", wt, "vmc/ledger")
	gitIn(t, wt, "-c", "user.name=m", "-c", "user.email=m@x", "commit", "-q", "--allow-empty", "-m", "vmc: 1 keys trust mallory")
	head := r.ledgerHead()
	res := r.run("apply", "--pending", "--key", key("alice"))
	checkError(t, res, exitInvalid, "the ledger does not verify; nothing was applied")
	if r.ledgerHead() != head {
		t.Fatal("the ledger moved")
	}
	if exists(filepath.Join(r.root, ".git", "vmc", "sandbox.json")) {
		prov, _ := r.sandboxState()
		if ss := servers(t, prov); len(ss) != 0 {
			t.Fatalf("the provider was called: %v", ss)
		}
	}
}

// TestRunnerDiesAfterProvider: an applier on one machine (a CI runner) dies
// right after the provider created the server, before any receipt. Its
// local journal dies with it. The next run, on another machine, finds the
// intent it published on the remote, takes over its stale locks and writes
// exactly one receipt, marked recovered.
func TestRunnerDiesAfterProvider(t *testing.T) {
	t.Parallel()
	prov, url, seed, origin := pushSetup(t, 20*time.Millisecond)
	seed.planApproved("web-1-create", "create", "web-1", "--type", "cx22", "--image", "ubuntu-24.04")
	seed.git("push", "-q", "origin", "main", "vmc/ledger")
	a := machine(t, seed, origin)
	res := a.runEnv([]string{"VMC_FAULT=after-provider"}, "apply", "--pending", "--push", "--key", key("alice"))
	if res.code != 99 {
		t.Fatalf("want the injected crash (exit 99):\n%s", res)
	}
	if refs := gitIn(t, origin, "for-each-ref", "refs/vmc/"); !strings.Contains(refs, "refs/vmc/intents/web-1-create") || !strings.Contains(refs, "refs/vmc/locks/web-1") {
		t.Fatalf("the dead run left no intent or lock on the remote:\n%s", refs)
	}
	b := machine(t, seed, origin) // the runner is gone: a fresh machine takes over
	out := b.must("apply", "--pending", "--push", "--key", key("alice"), "--remote-lock-stale", "1ms")
	if !strings.Contains(out, "applied plan web-1-create: succeeded (recovered)") {
		t.Fatalf("no recovered receipt:\n%s", out)
	}
	if refs := strings.TrimSpace(gitIn(t, origin, "for-each-ref", "refs/vmc/")); refs != "" {
		t.Fatalf("intent or lock refs left on the remote:\n%s", refs)
	}
	if n := strings.TrimSpace(gitIn(t, origin, "rev-list", "--count", "refs/heads/vmc/ledger")); n != "2" {
		t.Fatalf("origin ledger has %s commits, want 2 (genesis + one receipt)", n)
	}
	ss := servers(t, prov)
	if len(ss) != 1 {
		t.Fatalf("%d servers, want 1", len(ss))
	}
	if got := serverActions(t, url, ss[0].ID); !slices.Equal(got, []string{"create_server", "start_server"}) {
		t.Fatalf("server actions %v: the create ran more than once", got)
	}
	// A further run has nothing to do.
	if out := b.must("apply", "--pending", "--push", "--key", key("alice")); !strings.Contains(out, "nothing to apply") {
		t.Fatalf("second run:\n%s", out)
	}
}

// TestForgedIntentRefused: a ref pushed as refs/vmc/intents/<plan> is not
// trusted: an intent whose plan is not merged on main (or not approved) is
// reported, never executed, and the merged plans still apply.
func TestForgedIntentRefused(t *testing.T) {
	t.Parallel()
	prov, _, seed, origin := pushSetup(t, 20*time.Millisecond)
	seed.planApproved("web-1-create", "create", "web-1", "--type", "cx22", "--image", "ubuntu-24.04")
	// An approved plan that is never merged: only its intent is pushed.
	seed.plan("web-9-create", "create", "web-9", "--type", "cx22", "--image", "ubuntu-24.04")
	seed.approve("web-9-create", "bob")
	pb, err := os.ReadFile(seed.planFile("web-9-create"))
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := os.ReadFile(filepath.Join(seed.root, "plans", "web-9-create.approvals", "bob.sig"))
	forged, _ := json.Marshal(map[string]any{"v": 1, "plan": "web-9-create", "plan_bytes": pb, "approvals": []string{"bob"},
		"sigs": map[string][]byte{"bob": sig}, "steps": []map[string]any{{"action": map[string]any{"op": "create", "server": "web-9", "server_type": "cx22", "image": "ubuntu-24.04"}, "state": "pending"}}})
	blob := strings.TrimSpace(gitInStdin(t, seed.root, forged, "hash-object", "-w", "--stdin"))
	seed.git("push", "-q", "origin", "main", "vmc/ledger")
	// The hook refuses an unsigned intent; a server without it would not.
	behindHook(t, seed.root, origin, "refs/vmc/intents/web-9-create", blob)

	b := &repo{t: t, root: filepath.Join(t.TempDir(), "infra"), env: seed.env}
	gitIn(t, "", "clone", "-q", origin, b.root)
	res := b.run("apply", "--pending", "--push", "--key", key("alice"))
	if res.code == 0 || !strings.Contains(res.err, "plan web-9-create: the intent on the remote is not an applier's") {
		t.Fatalf("forged intent not reported:\n%s", res)
	}
	if !strings.Contains(res.out, "applied plan web-1-create: succeeded") {
		t.Fatalf("the merged plan was not applied:\n%s", res)
	}
	for _, s := range servers(t, prov) {
		if s.Name == "web-9" {
			t.Fatal("the forged intent was executed")
		}
	}
}

func gitInStdin(t *testing.T, dir string, stdin []byte, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestCrashAfterCommitLeavesNoBlockingLock: a run dies after writing its
// receipt locally but before pushing it. The next run on the same machine
// publishes the receipt; the dead run's remote lock on the server is taken
// over (its process is gone, its plan applied), so the next plan on that
// server is not blocked.
func TestCrashAfterCommitLeavesNoBlockingLock(t *testing.T) {
	t.Parallel()
	_, _, seed, origin := pushSetup(t, 20*time.Millisecond)
	seed.planApproved("web-1-create", "create", "web-1", "--type", "cx22", "--image", "ubuntu-24.04")
	seed.git("push", "-q", "origin", "main", "vmc/ledger")
	a := machine(t, seed, origin)
	if res := a.runEnv([]string{"VMC_FAULT=after-commit"}, "apply", "--pending", "--push", "--key", key("alice")); res.code != 99 {
		t.Fatalf("want the injected crash:\n%s", res)
	}
	out := a.must("apply", "--pending", "--push", "--key", key("alice"))
	if n := strings.TrimSpace(gitIn(t, origin, "rev-list", "--count", "refs/heads/vmc/ledger")); n != "2" {
		t.Fatalf("origin ledger has %s commits, want 2:\n%s", n, out)
	}
	// The next plan on web-1, merged on main.
	seed.git("fetch", "-q", "origin", "vmc/ledger:vmc/ledger")
	seed.planApproved("web-1-poweroff", "poweroff", "web-1")
	seed.git("push", "-q", "origin", "main")
	// No waiting at all: the dead run's lock must be taken over at once,
	// not waited out (a held lock with --lock-wait 0s is refused).
	out = a.must("apply", "--pending", "--push", "--key", key("alice"), "--lock-wait", "0s")
	if !strings.Contains(out, "applied plan web-1-poweroff: succeeded") {
		t.Fatalf("the next plan on web-1 did not apply:\n%s", out)
	}
	if refs := strings.TrimSpace(gitIn(t, origin, "for-each-ref", "refs/vmc/")); refs != "" {
		t.Fatalf("refs left on the remote:\n%s", refs)
	}
}

// pushSetup serves a sandbox (actions taking dur) and makes a ledger
// repository using it, with a bare origin that has the pre-receive hook.
func pushSetup(t *testing.T, dur time.Duration) (provider.Provider, string, *repo, string) {
	t.Helper()
	return hookedSetup(t, sandbox.Options{ActionDuration: dur}, repoOpts{})
}

// hookedSetup is pushSetup with the sandbox's and the repository's options
// (the sandbox's token and the repository's env are set here).
func hookedSetup(t *testing.T, so sandbox.Options, o repoOpts) (provider.Provider, string, *repo, string) {
	t.Helper()
	so.Token = sandboxToken
	sb, err := sandbox.New(so)
	if err != nil {
		t.Fatal(err)
	}
	prov, url := serve(t, sb)
	o.env = append(o.env, hetznerEnv(url)...)
	seed := newRepo(t, o)
	origin := seed.hookedOrigin()
	return prov, url, seed, origin
}

// hookedOrigin makes a bare repository (HEAD at main) with the pre-receive
// hook installed by r, and adds it to r as remote origin.
func (r *repo) hookedOrigin() string {
	r.t.Helper()
	origin := filepath.Join(r.t.TempDir(), "origin.git")
	gitIn(r.t, "", "init", "-q", "--bare", "-b", "main", origin)
	r.must("hook", "install", "--repo", origin)
	r.git("remote", "add", "origin", origin)
	return origin
}

// machine clones origin as another machine would: its own work tree and
// lock directory.
func machine(t *testing.T, seed *repo, origin string) *repo {
	t.Helper()
	dir := t.TempDir()
	c := &repo{t: t, root: filepath.Join(dir, "infra"), env: append(slices.Clone(seed.env), "XDG_CACHE_HOME="+filepath.Join(dir, "cache"))}
	gitIn(t, "", "clone", "-q", origin, c.root)
	c.git("config", "user.name", "Test")
	c.git("config", "user.email", "test@example.com")
	return c
}

// TestForgedStepsIgnored: an intent ref carrying a real, approved, merged
// plan but other steps (an extra server), not signed by an applier, is
// ignored (it got past no hook: written behind it): the plan is applied
// normally, replacing the squatting ref, and only the plan's actions run.
func TestForgedStepsIgnored(t *testing.T) {
	t.Parallel()
	prov, _, seed, origin := pushSetup(t, 20*time.Millisecond)
	seed.planApproved("web-1-create", "create", "web-1", "--type", "cx22", "--image", "ubuntu-24.04")
	pb, err := os.ReadFile(seed.planFile("web-1-create"))
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := os.ReadFile(filepath.Join(seed.root, "plans", "web-1-create.approvals", "bob.sig"))
	forged, _ := json.Marshal(map[string]any{"v": 1, "plan": "web-1-create", "plan_bytes": pb, "approvals": []string{},
		"sigs": map[string][]byte{"bob": sig}, "forced": []string{"web-1"},
		"steps": []map[string]any{{"action": map[string]any{"op": "create", "server": "evil-1", "server_type": "cx22", "image": "ubuntu-24.04"}, "state": "pending"}}})
	blob := strings.TrimSpace(gitInStdin(t, seed.root, forged, "hash-object", "-w", "--stdin"))
	seed.git("push", "-q", "origin", "main", "vmc/ledger")
	behindHook(t, seed.root, origin, "refs/vmc/intents/web-1-create", blob)
	b := machine(t, seed, origin)
	res := b.run("apply", "--pending", "--push", "--key", key("alice"))
	if !strings.Contains(res.out, "applied plan web-1-create: succeeded -> receipt 1") || strings.Contains(res.out, "recovered") {
		t.Fatalf("the plan was not applied normally:\n%s", res)
	}
	var names []string
	for _, s := range servers(t, prov) {
		names = append(names, s.Name)
	}
	if !slices.Equal(names, []string{"web-1"}) {
		t.Fatalf("servers %v, want only web-1 (the forged step must not run)", names)
	}
	rc := b.onlyReceipt("web-1-create")
	if len(rc.Apply.Forced) != 0 || !slices.Equal(rc.Apply.Plan.Approvals, []string{"bob"}) {
		t.Fatalf("receipt carries forged fields: forced %v, approvals %v", rc.Apply.Forced, rc.Apply.Plan.Approvals)
	}
}
