package main

// The team flow, as a new team runs it: a bare origin whose HEAD is master
// with the pre-receive hook, a clone each for alice (admin), bob (approver)
// and CI (carol, applier), and one served sandbox as the shared Hetzner
// endpoint (provider hetzner, HCLOUD_ENDPOINT). Every step is the real
// binary and the real git, as an operator would type it.

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmc-git/vmc-git/provider"
	"github.com/vmc-git/vmc-git/provider/sandbox"
	"github.com/vmc-git/vmc-git/receipt"
)

// teamOrigin makes the bare origin (HEAD master) with the hook, and the
// shared served sandbox; it returns the origin and the sandbox's env.
func teamOrigin(t *testing.T) (origin string, env []string, url string) {
	t.Helper()
	sb, err := sandbox.New(sandbox.Options{Token: sandboxToken, ActionDuration: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, url = serve(t, sb)
	origin = filepath.Join(t.TempDir(), "origin.git")
	gitIn(t, "", "init", "-q", "--bare", "-b", "master", origin)
	return origin, hetznerEnv(url), url
}

// teamClone clones origin as one person's machine: own HOME, lock
// directory and git identity.
func teamClone(t *testing.T, origin, who string, env []string) *repo {
	t.Helper()
	dir := t.TempDir()
	c := &repo{t: t, root: filepath.Join(dir, who), env: append(isolatedEnv(dir), env...)}
	cmd := exec.Command("git", "clone", "-q", origin, c.root)
	cmd.Env = c.env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	c.git("config", "user.name", who)
	c.git("config", "user.email", who+"@example.com")
	c.git("config", "pull.ff", "only")
	return c
}

// originLedger lists the kinds and summaries of origin's ledger, oldest first.
func originLedger(t *testing.T, origin string) []string {
	t.Helper()
	out := gitIn(t, origin, "log", "--reverse", "--format=%s", "refs/heads/vmc/ledger")
	return strings.Split(strings.TrimSpace(out), "\n")
}

func TestTeamFlow(t *testing.T) {
	t.Parallel()
	origin, env, url := teamOrigin(t)
	prov, err := provider.New(provider.Config{Token: sandboxToken, Endpoint: url, PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}

	// alice sets up the ledger in her clone of the empty origin (HEAD
	// master), with the hook installed on origin first.
	alice := teamClone(t, origin, "alice", env)
	out := alice.must("hook", "install", "--repo", origin)
	if !strings.Contains(out, "guards master and vmc/ledger") {
		t.Fatalf("the hook on an empty origin whose HEAD is master should guard master:\n%s", out)
	}
	out = alice.must("init", "--ledger", testLedgerID, "--key", key("alice"), "--roles", "admin",
		"--operator", "bob:approver:"+key("bob")+".pub", "--operator", "carol:applier:"+key("carol")+".pub", "--no-policy")
	if !strings.Contains(out, ".vmc/config.json on master") || !strings.Contains(out, "provider       hetzner") {
		t.Fatalf("init should commit on master with provider hetzner:\n%s", out)
	}
	if b := alice.git("rev-parse", "--abbrev-ref", "HEAD"); b != "master" {
		t.Fatalf("alice is on %s", b)
	}
	alice.git("push", "-q", "origin", "master", "vmc/ledger")
	bob := teamClone(t, origin, "bob", env)
	ci := teamClone(t, origin, "ci", env)

	// alice plans in a branch; bob reviews and approves in his clone; bob
	// merges; CI applies with --push.
	alice.git("switch", "-q", "-c", "web-1")
	alice.plan("web-1-create", "create", "web-1", "--type", "cx22", "--image", "ubuntu-24.04")
	alice.commit("plan web-1")
	alice.git("push", "-q", "origin", "web-1")
	bob.git("fetch", "-q", "origin")
	bob.git("switch", "-q", "web-1")
	if out := bob.must("plan", "review", "--base", "origin/master"); !strings.Contains(out, "web-1-create") {
		t.Fatalf("review does not show the plan:\n%s", out)
	}
	bob.approve("web-1-create", "bob")
	bob.commit("approve web-1-create")
	bob.git("push", "-q", "origin", "web-1")
	merge(bob, "web-1")
	ci.git("pull", "-q")
	if out := ci.must("apply", "--pending", "--push", "--key", key("carol")); !strings.Contains(out, "applied plan web-1-create: succeeded") {
		t.Fatalf("CI did not apply:\n%s", out)
	}

	// git pull in alice's clone: log, review and approve see the new ledger.
	alice.git("switch", "-q", "master")
	alice.git("pull", "-q")
	res := alice.run("log")
	if res.code != 0 || !strings.Contains(res.out, "apply web-1-create: succeeded") || !strings.Contains(res.err, "ledger follows origin") {
		t.Fatalf("alice's log does not follow origin's ledger:\n%s", res)
	}
	// Three plans in one pull request: two for web-1 made against the same
	// state (the second goes stale when the first lands) and one for web-2.
	alice.git("switch", "-q", "-c", "batch")
	alice.plan("a-web-1-label", "label", "web-1", "--label", "env=prod")
	alice.plan("b-web-1-label", "label", "web-1", "--label", "env=staging")
	alice.plan("c-web-2-create", "create", "web-2", "--type", "cx22", "--image", "ubuntu-24.04")
	alice.commit("batch")
	alice.git("push", "-q", "origin", "batch")
	bob.git("switch", "-q", "master")
	bob.git("pull", "-q")
	bob.git("fetch", "-q", "origin")
	bob.git("switch", "-q", "batch")
	rv := bob.must("plan", "review", "--base", "origin/master")
	if strings.Contains(rv, "STALE") {
		t.Fatalf("bob's review calls fresh plans stale (his ledger did not follow origin):\n%s", rv)
	}
	for _, id := range []string{"a-web-1-label", "b-web-1-label", "c-web-2-create"} {
		bob.approve(id, "bob")
	}
	bob.commit("approve batch")
	bob.git("push", "-q", "origin", "batch")
	merge(bob, "batch")
	ci.git("pull", "-q")
	res = ci.run("apply", "--pending", "--push", "--key", key("carol"))
	checkError(t, res, exitRefused, "plan b-web-1-label refused and recorded as refused in receipt", "stale")
	if !strings.Contains(res.out, "applied plan a-web-1-label: succeeded") || !strings.Contains(res.out, "applied plan c-web-2-create: succeeded") {
		t.Fatalf("the stale plan stopped the others:\n%s", res)
	}
	// Recorded once: the next run has nothing to do.
	if out := ci.must("apply", "--pending", "--push", "--key", key("carol")); !strings.Contains(out, "nothing to apply") {
		t.Fatalf("the refused plan is tried again:\n%s", out)
	}
	rs := ci.applyReceipts()["b-web-1-label"]
	if len(rs) != 1 || rs[0].Apply.Status != receipt.ApplyRefused || !strings.Contains(rs[0].Apply.Reason, "stale") || len(rs[0].Apply.Actions) != 0 {
		t.Fatalf("want one refused receipt without actions for the stale plan, got %+v", rs)
	}

	// A record made while CI pushed: refused on push, then sync writes it
	// again on top of origin's ledger and pushes it.
	alice.git("fetch", "-q", "origin")
	alice.git("switch", "-q", "-c", "web-2-off", "origin/master")
	alice.plan("web-2-poweroff", "poweroff", "web-2")
	alice.approve("web-2-poweroff", "bob")
	alice.commit("web-2 poweroff")
	alice.git("push", "-q", "origin", "HEAD:master")
	alice.must("record", "--summary", "rebooted web-2 from the console", "--key", key("alice"))
	ci.git("pull", "-q")
	ci.must("apply", "--pending", "--push", "--key", key("carol"))
	if res := alice.run("sync"); res.code != exitRefused || !strings.Contains(res.err, "give --key") {
		t.Fatalf("sync without a key should refuse to re-write:\n%s", res)
	}
	out = alice.must("sync", "--key", key("alice"), "--push")
	if !regexp.MustCompile(`your receipt \d+ \(manual: rebooted web-2 from the console\) written again as receipt \d+`).MatchString(out) || !strings.Contains(out, "pushed to origin") {
		t.Fatalf("sync did not re-write the stranded receipt:\n%s", out)
	}
	if l := originLedger(t, origin); !strings.Contains(l[len(l)-1], "manual rebooted web-2") || !strings.Contains(l[len(l)-2], "apply web-2-poweroff") {
		t.Fatalf("origin's ledger should end with the apply, then the re-written record: %q", l)
	}
	alice.must("verify", "chain", "--sig")

	// record --push racing CI's apply --push: both land.
	alice.git("switch", "-q", "master")
	alice.git("pull", "-q")
	alice.git("switch", "-q", "-c", "web-2-on")
	alice.plan("web-2-poweron", "poweron", "web-2")
	alice.approve("web-2-poweron", "bob")
	alice.commit("web-2 poweron")
	alice.git("push", "-q", "origin", "HEAD:master")
	ci.git("pull", "-q")
	var wg sync.WaitGroup
	var rec, app result
	wg.Add(2)
	go func() {
		defer wg.Done()
		rec = runQuiet(alice, "record", "--summary", "racing CI", "--key", key("alice"), "--push")
	}()
	go func() { defer wg.Done(); app = runQuiet(ci, "apply", "--pending", "--push", "--key", key("carol")) }()
	wg.Wait()
	if rec.code != 0 || app.code != 0 {
		t.Fatalf("a racing writer failed:\n%s\n%s", rec, app)
	}
	l := originLedger(t, origin)
	tail := strings.Join(l[len(l)-2:], "\n")
	if !strings.Contains(tail, "manual racing CI") || !strings.Contains(tail, "apply web-2-poweron") {
		t.Fatalf("origin lacks one of the racing receipts: %q", l)
	}

	// A three-action plan, built with --into, applied as one unit: one
	// receipt with a result per action.
	alice.git("switch", "-q", "master")
	alice.git("pull", "-q")
	alice.git("switch", "-q", "-c", "three")
	// Power off, resize, power on: each step planned against the state the
	// one before it leaves.
	three := alice.plan("web-3-setup", "poweroff", "web-1")
	alice.must("plan", "server", "resize", "web-1", "--type", "cx32", "--into", three)
	out = alice.must("plan", "server", "poweron", "web-1", "--into", three, "--kid", "alice")
	if !strings.Contains(out, "extended") || !strings.Contains(out, "3 actions") {
		t.Fatalf("--into did not extend the plan:\n%s", out)
	}
	alice.approve("web-3-setup", "bob")
	res = alice.run("plan", "server", "reboot", "web-1", "--into", three)
	checkError(t, res, exitRefused, "plan web-3-setup has 1 approval(s)", "another action would void them")
	alice.commit("three steps")
	alice.git("push", "-q", "origin", "HEAD:master")
	ci.git("pull", "-q")
	if out := ci.must("apply", "--pending", "--push", "--key", key("carol")); !strings.Contains(out, "applied plan web-3-setup: succeeded") {
		t.Fatalf("the three-action plan did not apply:\n%s", out)
	}
	rc := ci.onlyReceipt("web-3-setup")
	if ss := servers(t, prov); !slices.ContainsFunc(ss, func(s provider.Server) bool {
		return s.Name == "web-1" && s.ServerType == "cx32" && s.Status == "running"
	}) {
		t.Fatalf("web-1 should be a running cx32 now: %+v", ss)
	}
	if rs := results(t, rc); len(rs) != 3 {
		t.Fatalf("want 3 action results in one receipt, got %d", len(rs))
	} else {
		for i, r := range rs {
			if r.Status != "succeeded" {
				t.Fatalf("action %d: %s", i, r.Status)
			}
		}
	}

	// A forged push (a hand-made ledger commit) is refused by the hook.
	forger := teamClone(t, origin, "mallory", env)
	forger.git("fetch", "-q", "origin", "vmc/ledger:vmc/ledger")
	wt := filepath.Join(t.TempDir(), "wt")
	forger.git("worktree", "add", "-q", wt, "vmc/ledger")
	gitIn(t, wt, "-c", "user.name=m", "-c", "user.email=m@x", "commit", "-q", "--allow-empty", "-m", "vmc: 99 manual forged")
	cmd := exec.Command("git", "push", "origin", "vmc/ledger")
	cmd.Dir = wt
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "hook declined") {
		t.Fatalf("the forged push was not refused: %v\n%s", err, out)
	}

	// A fresh clone verifies everything.
	fresh := teamClone(t, origin, "auditor", env)
	out = fresh.must("verify", "chain", "--sig")
	n := len(originLedger(t, origin))
	if !strings.HasPrefix(out, "ok: ") || !strings.Contains(out, strconv.Itoa(n)+" receipts") {
		t.Fatalf("fresh clone: verify chain --sig: %s (want %d receipts)", out, n)
	}
}

// merge merges branch into master (the pull request) and pushes master.
func merge(r *repo, branch string) {
	r.t.Helper()
	r.git("switch", "-q", "master")
	r.git("pull", "-q")
	r.git("merge", "-q", "--no-edit", branch)
	r.git("push", "-q", "origin", "master")
}

// runQuiet runs vmc-git without failing the test (for goroutines).
func runQuiet(r *repo, args ...string) result {
	cmd := r.command(nil, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	res := result{args: args, out: o.String(), err: e.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		res.code = ee.ExitCode()
	} else if err != nil {
		res.code = -1
		res.err += err.Error()
	}
	return res
}
