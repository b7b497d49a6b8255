package main

// Regression tests for issue 11 ("a team, not one clone"): each failure a
// new team met, with the message the user now sees.

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/receipt"
)

// teamSetup: origin (HEAD master, with the hook unless noHook), alice's
// clone with the ledger pushed, and bob's clone.
func teamSetup(t *testing.T, noHook bool) (origin string, alice, bob *repo) {
	t.Helper()
	origin, env, _ := teamOrigin(t)
	alice = teamClone(t, origin, "alice", env)
	if !noHook {
		alice.must("hook", "install", "--repo", origin)
	}
	alice.must("init", "--ledger", testLedgerID, "--key", key("alice"), "--roles", "admin,applier",
		"--operator", "bob:approver:"+key("bob")+".pub", "--operator", "carol:applier:"+key("carol")+".pub", "--no-policy")
	alice.git("push", "-q", "origin", "master", "vmc/ledger")
	bob = teamClone(t, origin, "bob", env)
	return origin, alice, bob
}

// Item 1: the remote's main branch missing is named, with the fix.
func TestTeamMissingRemoteMain(t *testing.T) {
	t.Parallel()
	origin, env, _ := teamOrigin(t)
	a := teamClone(t, origin, "alice", env)
	a.must("init", "--ledger", testLedgerID, "--key", key("alice"))
	a.git("push", "-q", "origin", "vmc/ledger") // master not pushed
	res := a.run("apply", "--pending", "--push", "--key", key("alice"))
	checkError(t, res, exitNotFound, "the remote origin has no branch master (main_branch in .vmc/config.json)", "vmc-git: hint: push it: git push origin master")
}

// Item 2: a failed init leaves the directory as it was, and can be retried.
func TestTeamInitAtomic(t *testing.T) {
	t.Parallel()
	r := &repo{t: t, root: t.TempDir()}
	r.env = append(os.Environ(), "HOME="+filepath.Join(r.root, "home"))
	dir := filepath.Join(r.root, "infra")
	res := r.run("init", dir, "--ledger", testLedgerID, "--key", key("alice"), "--provider", "aws")
	checkError(t, res, exitUsage, `provider "aws", want sandbox or hetzner`, "vmc-git: hint: --provider hetzner")
	if exists(dir) {
		t.Fatalf("a failed init left %s", dir)
	}
	res = r.run("init", dir, "--ledger", testLedgerID, "--key", key("alice"), "--roles", "admin,wizard")
	checkError(t, res, exitUsage, "genesis:", "wizard")
	if exists(dir) {
		t.Fatalf("an init with an unknown role left %s", dir)
	}
	// In an existing repository: nothing of the failed init stays.
	gitIn(t, "", "init", "-q", "-b", "trunk", dir)
	res = r.run("init", dir, "--ledger", "not a ledger id!", "--key", key("alice"))
	checkError(t, res, exitUsage)
	res = r.run("init", dir, "--ledger", testLedgerID, "--key", key("bob"), "--roles", "approver", "--operator", "alice:admin:"+key("alice")+".pub")
	checkError(t, res, exitUsage, "the signing key must be the admin bob of the genesis")
	if out := gitIn(t, dir, "for-each-ref"); out != "" || exists(filepath.Join(dir, ".vmc")) {
		t.Fatalf("a failed init left refs or files:\n%s", out)
	}
	out := r.must("init", dir, "--ledger", testLedgerID, "--key", key("alice"))
	if !strings.Contains(out, "on trunk") {
		t.Fatalf("init should use the repository's branch trunk:\n%s", out)
	}
	res = r.run("init", dir, "--ledger", testLedgerID, "--key", key("alice"))
	checkError(t, res, exitRefused, "already exists")
}

// Item 3: a remote-tracking ledger that does not verify is refused loudly
// and the local ledger stays; one that verifies is followed.
func TestTeamFollowRefusesForgedRemote(t *testing.T) {
	t.Parallel()
	origin, alice, bob := teamSetup(t, true) // no hook: the forgery lands on origin
	wt := filepath.Join(t.TempDir(), "wt")
	bob.git("fetch", "-q", "origin", "vmc/ledger:vmc/ledger")
	bob.git("worktree", "add", "-q", wt, "vmc/ledger")
	gitIn(t, wt, "-c", "user.name=m", "-c", "user.email=m@x", "commit", "-q", "--allow-empty", "-m", "vmc: 1 keys trust mallory")
	gitIn(t, wt, "push", "-q", "origin", "vmc/ledger")
	before := alice.ledgerHead()
	alice.git("pull", "-q")
	res := alice.run("log")
	checkError(t, res, exitInvalid, "the ledger on origin (refs/remotes/origin/vmc/ledger) does not verify, so the local ledger stays at receipt 0",
		"vmc-git: hint: someone pushed receipts that break the chain")
	if alice.ledgerHead() != before {
		t.Fatal("the local ledger followed a forged remote")
	}
	_ = origin
}

// Items 5 and 6: keys, snapshots and withdrawals publish with --push; a
// withdrawn plan is never applied; only approvers withdraw.
func TestTeamPushAndWithdraw(t *testing.T) {
	t.Parallel()
	origin, alice, bob := teamSetup(t, false)
	dave := newKey(t, "dave")
	dir := filepath.Dir(dave)
	alice.must("keys", "trust", filepath.Join(dir, "dave.pub"), "--kid", "dave", "--role", "approver", "--key", key("alice"), "--push")
	if l := originLedger(t, origin); !strings.Contains(l[len(l)-1], "keys trust dave") {
		t.Fatalf("keys --push did not reach origin: %q", l)
	}
	alice.must("merkle", "receipts", "--tag", "--push", "--key", key("alice"), "--out", filepath.Join(dir, "m.json"))
	if out := gitIn(t, origin, "tag", "-l", "vmc/merkle/*"); !strings.Contains(out, "vmc/merkle/2") {
		t.Fatalf("merkle --tag --push did not push the tag: %q", out)
	}
	// A merged plan, withdrawn by bob from his clone.
	bob.git("pull", "-q")
	bob.plan("web-9-create", "create", "web-9", "--type", "cx22", "--image", "ubuntu-24.04")
	bob.commit("plan web-9")
	bob.git("push", "-q", "origin", "master")
	res := alice.run("plan", "withdraw", "web-9-create", "--reason", "not needed", "--key", key("alice"), "--push")
	checkError(t, res, exitRefused, "cannot sign a apply receipt")
	out := bob.must("plan", "withdraw", "web-9-create", "--reason", "not needed after all", "--key", key("bob"), "--push")
	if !strings.Contains(out, "(apply)") {
		t.Fatalf("withdraw: %s", out)
	}
	alice.git("pull", "-q")
	if out := alice.must("apply", "--pending", "--push", "--key", key("alice")); !strings.Contains(out, "nothing to apply") {
		t.Fatalf("a withdrawn plan is applied: %s", out)
	}
	rc := alice.onlyReceipt("web-9-create")
	if rc.Apply.Status != receipt.ApplyWithdrawn || rc.KID != "bob" || rc.Apply.Reason != "not needed after all" {
		t.Fatalf("withdrawn receipt: %+v", rc.Apply)
	}
	res = bob.run("plan", "withdraw", "web-9-create", "--reason", "again", "--key", key("bob"))
	checkError(t, res, exitRefused, "already in the ledger")
	// Unapproved past the deadline: recorded as refused.
	bob.git("pull", "-q")
	bob.plan("web-8-create", "create", "web-8", "--type", "cx22", "--image", "ubuntu-24.04")
	bob.commit("plan web-8")
	bob.git("push", "-q", "origin", "master")
	alice.git("pull", "-q")
	res = alice.run("apply", "--pending", "--push", "--key", key("alice"), "--unapproved-deadline", "1ns")
	checkError(t, res, exitRefused, "plan web-8-create refused and recorded as refused", "unapproved 1ns after it was merged")
	alice.must("verify", "chain", "--sig")
}

// Item 9: the hook runs its own copy of vmc-git-hook (beside vmcBin), not a
// path that vanishes.
func TestTeamHookCopiesBinary(t *testing.T) {
	t.Parallel()
	bare := filepath.Join(t.TempDir(), "o.git")
	gitIn(t, "", "init", "-q", "--bare", "-b", "master", bare)
	r := &repo{t: t, root: t.TempDir(), env: os.Environ()}
	res := r.run("hook", "install", "--repo", bare)
	if res.code != 0 || !strings.Contains(res.err, "may vanish") {
		t.Fatalf("hook install of a binary in a temporary directory should say it runs a copy:\n%s", res)
	}
	script, err := os.ReadFile(filepath.Join(bare, "hooks", "pre-receive"))
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(bare, "hooks", "vmc-git-hook")
	if !bytes.Contains(script, []byte(copyPath)) || bytes.Contains(script, []byte(filepath.Dir(vmcBin))) {
		t.Fatalf("the hook should run %s:\n%s", copyPath, script)
	}
	a, _ := os.ReadFile(hookBin())
	b, _ := os.ReadFile(copyPath)
	if !bytes.Equal(a, b) {
		t.Fatal("the copy differs from the running binary")
	}
}

// Items 10 and 11: -C re-bases paths; exit codes, hints and help.
func TestTeamCLI(t *testing.T) {
	t.Parallel()
	r := newRepo(t, repoOpts{})
	r.plan("web-1-create", "create", "web-1", "--type", "cx22", "--image", "ubuntu-24.04")
	parent := &repo{t: t, root: filepath.Dir(r.root), env: r.env}
	if out := parent.must("-C", "infra", "approve", "plans/web-1-create.json", "--key", key("bob")); !strings.Contains(out, "approved plan web-1-create as bob") {
		t.Fatalf("-C infra approve plans/...: %s", out)
	}
	checkError(t, r.run("approve", "plans/nope.json", "--key", key("bob")), exitNotFound, "no such file")
	res := r.run("plna")
	checkError(t, res, exitUsage, "unknown command", "vmc-git: hint: did you mean: vmc-git plan?")
	res = r.run("plan", "server", "create", "a", "b", "--type", "cx22", "--image", "ubuntu-24.04")
	checkError(t, res, exitUsage, "see vmc-git plan server create --help")
	if out := r.must("plan", "server", "rename", "--help"); !strings.Contains(out, "the new name (required)") {
		t.Fatalf("rename --help does not list --new-name as required:\n%s", out)
	}
	for _, args := range [][]string{{"show", "0", "--json"}, {"lock", "release", "nothing", "--json"}} {
		res := r.run(args...)
		if strings.Contains(res.err, "flag provided but not defined") {
			t.Fatalf("%v: no --json: %s", args, res)
		}
	}
	if out := r.must("show", "0", "--json"); !strings.Contains(out, `"kind": "genesis"`) {
		t.Fatalf("show --json: %s", out)
	}
	// A rotated key whose comment names another kid signs as the kid the
	// trust state binds it to.
	bob2 := newKey(t, "bob2")
	dir := filepath.Dir(bob2)
	r.must("keys", "rotate", "bob", "--new-key", filepath.Join(dir, "bob2.pub"), "--key", key("alice"))
	r.plan("web-2-create", "create", "web-2", "--type", "cx22", "--image", "ubuntu-24.04")
	res = r.run("approve", r.planFile("web-2-create"), "--key", filepath.Join(dir, "bob2"))
	if res.code != 0 || !strings.Contains(res.err, "the ledger's trust binds this key to bob: signing as bob") || !strings.Contains(res.out, "as bob") {
		t.Fatalf("approve with the rotated key:\n%s", res)
	}
	res = r.run("approve", r.planFile("web-2-create"), "--key", filepath.Join(dir, "bob2"), "--kid", "bob2")
	checkError(t, res, exitRefused, "this key is bound to bob in the ledger's trust", "vmc-git: hint: sign as that key id: --kid bob")
}

// Items 12 and 14: the demo runs the team flow, and every command it
// suggests afterwards works when pasted into a shell in its directory.
func TestTeamDemoCommandsWork(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "demo")
	r := &repo{t: t, root: filepath.Dir(dir)}
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !strings.HasPrefix(k, "HCLOUD_") && !strings.HasPrefix(k, "VMC_") && k != "PATH" {
			r.env = append(r.env, kv)
		}
	}
	r.env = append(r.env, "PATH="+filepath.Dir(vmcBin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	out := r.must("demo", dir)
	for _, want := range []string{"install the pre-receive hook on origin", "bob approves it in his clone", "applied plan web-1-create: succeeded",
		"ledger follows origin", "pre-receive hook declined", "a fresh clone verifies", "ok: example.com/demo/infra, 2 receipts"} {
		if !strings.Contains(out, want) {
			t.Fatalf("the demo does not show %q:\n%s", want, out)
		}
	}
	_, after, ok := strings.Cut(out, "Look around")
	if !ok {
		t.Fatalf("no look-around section:\n%s", out)
	}
	n := 0
	for _, line := range strings.Split(after, "\n") {
		cmdline, ok := strings.CutPrefix(strings.TrimSpace(line), "$ ")
		if !ok {
			continue
		}
		n++
		cmd := exec.Command("sh", "-c", cmdline)
		cmd.Dir, cmd.Env = dir, r.env
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("pasted %q: %v\n%s", cmdline, err, b)
		}
		if strings.Contains(cmdline, "--show-signature") && !strings.Contains(string(b), `Good "git" signature`) {
			t.Fatalf("pasted %q: no good signature:\n%s", cmdline, b)
		}
	}
	if n < 5 {
		t.Fatalf("only %d commands suggested", n)
	}
}

// Item 13: roles and thresholds change after genesis; a proposal survives
// receipts of other kinds landing meanwhile, and dies (re-checked at apply)
// when the trust state changes.
func TestTeamTrustChanges(t *testing.T) {
	t.Parallel()
	r := newRepo(t, repoOpts{})
	out := r.must("keys", "roles", "bob", "--role", "approver", "--role", "admin", "--key", key("alice"))
	if !strings.Contains(out, "(keys)") {
		t.Fatalf("keys roles: %s", out)
	}
	r.must("keys", "policy", "--admin-threshold", "2", "--key", key("alice"))
	res := r.run("keys", "trust", key("carol")+".pub", "--kid", "carol2", "--role", "approver", "--key", key("alice"))
	checkError(t, res, exitRefused, "trust changes need 2 admin signatures")
	dave := newKey(t, "dave")
	dir := filepath.Dir(dave)
	change := filepath.Join(dir, "change.json")
	r.must("keys", "propose", "trust", filepath.Join(dir, "dave.pub"), "--kid", "dave", "--role", "approver", "-o", change)
	r.must("keys", "cosign", change, "--key", key("alice"))
	r.must("record", "--summary", "a receipt of another kind lands meanwhile", "--key", key("alice"))
	r.must("keys", "cosign", change, "--key", key("bob"))
	if out := r.must("keys", "apply", change, "--key", key("bob")); !strings.Contains(out, "(keys)") {
		t.Fatalf("keys apply: %s", out)
	}
	// A proposal whose trust state changed meanwhile is refused.
	stale := filepath.Join(dir, "stale.json")
	r.must("keys", "propose", "revoke", "dave", "--reason", "retired", "-o", stale)
	other := filepath.Join(dir, "other.json")
	r.must("keys", "propose", "policy", "--approvals-required", "2", "-o", other)
	r.must("keys", "cosign", other, "--key", key("alice"))
	r.must("keys", "cosign", other, "--key", key("bob"))
	r.must("keys", "apply", other, "--key", key("alice"))
	checkError(t, r.run("keys", "cosign", stale, "--key", key("alice")), exitRefused, "the trust state has changed since", "another trust change landed")
	r.must("verify", "chain", "--sig")
	if out := r.must("keys", "list"); !strings.Contains(out, "dave") {
		t.Fatalf("keys list lacks dave:\n%s", out)
	}
}

// Item 13: an apply whose approval was made with a key after its
// compromise (as a later revocation says) is flagged, and --strict fails.
func TestTeamStrictFlagsCompromisedApprovals(t *testing.T) {
	t.Parallel()
	r := newRepo(t, repoOpts{})
	r.planApproved("web-1-create", "create", "web-1", "--type", "cx22", "--image", "ubuntu-24.04")
	r.must("apply", "--pending", "--key", key("alice"))
	rc := r.onlyReceipt("web-1-create")
	r.must("keys", "roles", "carol", "--role", "applier", "--role", "approver", "--key", key("alice")) // someone must still approve
	r.must("keys", "revoke", "bob", "--reason", "compromised", "--at", rc.CreatedAt, "--key", key("alice"))
	out := r.must("verify", "chain", "--sig")
	if !strings.Contains(out, "INVALIDATED: receipt 1 applied a plan approved by bob, whose key was compromised from") {
		t.Fatalf("the approval by a compromised key is not flagged:\n%s", out)
	}
	checkError(t, r.run("verify", "chain", "--sig", "--strict"), exitInvalid, "1 receipt(s) signed, or approved, by compromised keys")
}

// Item 8: a ledger on the embedded sandbox says so in its apply receipts,
// its log lines and its review.
func TestTeamSandboxSaysSo(t *testing.T) {
	t.Parallel()
	r := newRepo(t, repoOpts{provider: "sandbox"})
	r.git("switch", "-q", "-c", "pr")
	r.plan("web-1-create", "create", "web-1", "--type", "cx22", "--image", "ubuntu-24.04")
	r.approve("web-1-create", "bob")
	r.commit("plan")
	if out := r.must("plan", "review", "--base", "main"); !strings.Contains(out, "[sandbox] this ledger's provider is the embedded sandbox") {
		t.Fatalf("review does not say sandbox:\n%s", out)
	}
	r.git("switch", "-q", "main")
	r.git("merge", "-q", "pr")
	if out := r.must("apply", "--pending", "--key", key("alice")); !strings.Contains(out, "succeeded -> receipt 1") || !strings.Contains(out, "[sandbox]") {
		t.Fatalf("apply output does not say sandbox:\n%s", out)
	}
	if rc := r.onlyReceipt("web-1-create"); !strings.HasSuffix(rc.Summary, "[sandbox]") {
		t.Fatalf("receipt summary %q", rc.Summary)
	}
	// Receipts of every other kind say so too: manual and keys.
	r.must("record", "--summary", "rebooted by hand", "--key", key("alice"))
	r.must("keys", "revoke", "carol", "--reason", "retired", "--key", key("alice"))
	var rows []struct {
		Kind    string `json:"kind"`
		Summary string `json:"summary"`
	}
	if err := json.Unmarshal([]byte(r.must("log", "--json")), &rows); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, x := range rows {
		kinds[x.Kind] = true
		if x.Kind != "genesis" && !strings.HasSuffix(x.Summary, "[sandbox]") {
			t.Fatalf("%s receipt summary %q does not end with [sandbox]", x.Kind, x.Summary)
		}
	}
	if !kinds["manual"] || !kinds["keys"] || !kinds["apply"] {
		t.Fatalf("log has kinds %v, want manual, keys and apply", kinds)
	}
	for _, line := range strings.Split(strings.TrimSpace(r.must("log")), "\n") {
		if !strings.HasSuffix(line, "[sandbox]") {
			t.Fatalf("log line without [sandbox]: %q", line)
		}
	}
}
