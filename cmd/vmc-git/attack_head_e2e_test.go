package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/plans"
)

// The hook picks the branches it guards from the bare repository's HEAD
// and the .vmc/config.json there, each time it runs (hooks.HeadBranches).
// These tests point HEAD somewhere odd and push as someone without a key.

// TestHookUnbornHeadRefusesMain: a server made with `git init --bare` and
// no -b has HEAD at an unborn master, so a hook installed without branch
// flags guards master and vmc/ledger. The main branch, whose config names
// it main, must not then go unchecked: its push is refused with the fix.
func TestHookUnbornHeadRefusesMain(t *testing.T) {
	t.Parallel()
	r := newRepo(t, repoOpts{})
	origin := filepath.Join(t.TempDir(), "origin.git")
	gitIn(t, "", "init", "-q", "--bare", "-b", "master", origin)
	r.must("hook", "install", "--repo", origin)
	r.git("remote", "add", "origin", origin)
	out, err := r.pushOut("origin", "main")
	if err == nil || !strings.Contains(out, ".vmc/config.json on main names it as the main branch main and ledger branch vmc/ledger, but the hook guards master and vmc/ledger") {
		t.Fatalf("main pushed past a hook guarding master (%v):\n%s", err, out)
	}
	// Deleting such a branch is refused as well (its current config).
	behindHook(t, r.root, origin, "refs/heads/main", r.git("rev-parse", "main"))
	if out, err := r.pushOut("origin", ":main"); err == nil || !strings.Contains(out, "names it as the main branch main") {
		t.Fatalf("main deleted past a hook guarding master (%v):\n%s", err, out)
	}
	// With HEAD at main the same push goes through.
	gitIn(t, origin, "update-ref", "-d", "refs/heads/main")
	gitIn(t, origin, "symbolic-ref", "HEAD", "refs/heads/main")
	r.git("push", "-q", "origin", "main", "vmc/ledger")
}

// TestHookHeadOnOtherBranch: HEAD names a branch dev that is not the main
// branch, holding a copy of main's config. Whoever pushes dev could rename
// the main and ledger branches in that config, and the next push would
// guard those instead (a bad plan onto main, unchecked). A push to HEAD's
// branch is refused unless it is the main branch.
func TestHookHeadOnOtherBranch(t *testing.T) {
	t.Parallel()
	r := newRepo(t, repoOpts{})
	origin := r.hookedOrigin()
	r.git("push", "-q", "origin", "main", "vmc/ledger")
	gitIn(t, origin, "update-ref", "refs/heads/dev", r.git("rev-parse", "main"))
	gitIn(t, origin, "symbolic-ref", "HEAD", "refs/heads/dev")

	r.git("checkout", "-q", "-b", "dev")
	cfg, err := os.ReadFile(filepath.Join(r.root, ".vmc", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(cfg), `"main_branch":"main"`, `"main_branch":"prod"`, 1)
	s = strings.Replace(s, `"branch":"vmc/ledger"`, `"branch":"vmc/prod"`, 1)
	if s == string(cfg) {
		t.Fatalf("config not rewritten: %s", cfg)
	}
	os.WriteFile(filepath.Join(r.root, ".vmc", "config.json"), []byte(s), 0o644)
	r.git("commit", "-qam", "rename the guarded branches")
	out, err := r.pushOut("origin", "dev")
	if err == nil || !strings.Contains(out, "HEAD names branch dev, but the hook guards main branch main and ledger branch vmc/ledger") {
		t.Fatalf("HEAD's branch pushed (%v):\n%s", err, out)
	}
	// And main stays guarded: a plan file that does not parse is refused.
	r.git("checkout", "-q", "main")
	os.MkdirAll(filepath.Join(r.root, "plans"), 0o755)
	os.WriteFile(filepath.Join(r.root, "plans", "junk.json"), []byte("{"), 0o644)
	r.commit("junk plan")
	if out, err := r.pushOut("origin", "main"); err == nil || !strings.Contains(out, "plans/junk.json") {
		t.Fatalf("a bad plan reached main (%v):\n%s", err, out)
	}
	// HEAD at the ledger branch: the hook would guard vmc/ledger as both;
	// main, whose config claims it, is refused rather than left unchecked.
	gitIn(t, origin, "symbolic-ref", "HEAD", "refs/heads/vmc/ledger")
	if out, err := r.pushOut("origin", "main"); err == nil || !strings.Contains(out, ".vmc/config.json on main names it as the main branch main") {
		t.Fatalf("main pushed with HEAD at the ledger branch (%v):\n%s", err, out)
	}
}

// TestHookDuplicateTreeEntries: git mktree (and a git server without
// receive.fsckObjects) takes a tree naming an entry twice. A merged plan
// followed by a second entry of the same name, with other bytes, must not
// slip past the add-only rule, nor a second approvals or overrides
// directory past the entry checks.
func TestHookDuplicateTreeEntries(t *testing.T) {
	t.Parallel()
	r := newRepo(t, repoOpts{})
	r.hookedOrigin()
	r.planApproved("web-1-create", "create", "web-1", "--type", "cx22", "--image", "ubuntu-24.04")
	r.git("push", "-q", "origin", "main", "vmc/ledger")

	plansTree := r.git("rev-parse", "main:plans")
	ls := strings.TrimRight(r.git("ls-tree", plansTree), "\n")
	junk := strings.TrimSpace(gitInStdin(t, r.root, []byte("{}"), "hash-object", "-w", "--stdin"))
	empty := strings.TrimSpace(gitInStdin(t, r.root, nil, "mktree"))
	for _, x := range []struct{ name, extra, want string }{
		{"a second plan file", "100644 blob " + junk + "\tweb-1-create.json", "plans/: web-1-create.json: named twice in a tree"},
		{"a second approvals directory", "040000 tree " + empty + "\tweb-1-create.approvals", "plans/: web-1-create.approvals: named twice in a tree"},
	} {
		// mktree sorts its input: the duplicate lands beside the original.
		pt := strings.TrimSpace(gitInStdin(t, r.root, []byte(ls+"\n"+x.extra+"\n"), "mktree"))
		root := strings.TrimSpace(gitInStdin(t, r.root, []byte(strings.Replace(r.git("ls-tree", "main"), plansTree, pt, 1)), "mktree"))
		c := strings.TrimSpace(gitIn(t, r.root, "commit-tree", root, "-p", r.git("rev-parse", "main"), "-m", x.name))
		if out, err := r.pushOut("origin", c+":refs/heads/main"); err == nil || !strings.Contains(out, x.want) {
			t.Errorf("%s: pushed (%v):\n%s", x.name, err, out)
		}
	}
}

// TestHookOverrideSquatting: an overrides directory is add-only and holds
// at most receipt.MaxOverrides files. A pusher without an admin key who
// puts a well-formed but forged plans/<id>.overrides/alice.json on main
// (signed by another key, or by an approver) would keep alice's real
// override out for good. The hook takes only an admin's valid override;
// alice's own goes through.
func TestHookOverrideSquatting(t *testing.T) {
	t.Parallel()
	r := newRepo(t, repoOpts{})
	r.hookedOrigin()
	r.planApproved("web-1-create", "create", "web-1", "--type", "cx22", "--image", "ubuntu-24.04")
	r.git("push", "-q", "origin", "main", "vmc/ledger")
	pb, err := os.ReadFile(r.planFile("web-1-create"))
	if err != nil {
		t.Fatal(err)
	}
	priv, pub, err := keys.Generate("mallory")
	if err != nil {
		t.Fatal(err)
	}
	mpath := filepath.Join(t.TempDir(), "mallory")
	if err := keys.WriteKeyPair(mpath, priv, pub); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(r.root, "plans", "web-1-create"+plans.OverridesSuffix)
	for _, x := range []struct{ keyPath, kid, want string }{
		{mpath, "alice", "override by alice: signature: made by key SHA256:"},
		{key("bob"), "bob", "override: key bob has roles [approver], needs admin"},
	} {
		s, err := keys.LoadFile(x.keyPath)
		if err != nil {
			t.Fatal(err)
		}
		b, err := plans.SignOverride(s, x.kid, pb, []string{"ssh-from-anywhere"}, "")
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(dir, 0o755)
		f := filepath.Join(dir, x.kid+".json")
		os.WriteFile(f, b, 0o644)
		r.commit("override by " + x.kid)
		if out, err := r.pushOut("origin", "main"); err == nil || !strings.Contains(out, x.want) || !strings.Contains(out, "only an admin's valid override is taken") {
			t.Errorf("%s's forged override pushed (%v):\n%s", x.kid, err, out)
		}
		r.git("reset", "-q", "--hard", "origin/main")
	}
	r.must("approve", "--override", "ssh-from-anywhere", r.planFile("web-1-create"), "--key", key("alice"))
	r.commit("alice's override")
	r.git("push", "-q", "origin", "main")
}

// TestHookApprovalSquatting: the same for approvals added after a plan is
// merged: a forged plans/<id>.approvals/bob.sig (signed by another key)
// would keep bob's real approval out for good. Refused; bob's own goes
// through.
func TestHookApprovalSquatting(t *testing.T) {
	t.Parallel()
	r := newRepo(t, repoOpts{})
	r.hookedOrigin()
	r.plan("web-1-create", "create", "web-1", "--type", "cx22", "--image", "ubuntu-24.04")
	r.commit("plan web-1, not yet approved")
	r.git("push", "-q", "origin", "main", "vmc/ledger")
	pb, err := os.ReadFile(r.planFile("web-1-create"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := keys.LoadFile(key("alice"))
	if err != nil {
		t.Fatal(err)
	}
	sig, err := s.Sign(keys.NamespacePlan, pb)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(r.root, "plans", "web-1-create"+plans.ApprovalsSuffix)
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "bob.sig"), sig, 0o644)
	r.commit("a forged approval in bob's name")
	if out, err := r.pushOut("origin", "main"); err == nil || !strings.Contains(out, "plans/web-1-create.approvals/bob.sig: approval by bob: signature: made by key") ||
		!strings.Contains(out, "only a valid approval is taken") {
		t.Fatalf("a forged approval pushed (%v):\n%s", err, out)
	}
	r.git("reset", "-q", "--hard", "origin/main")
	r.approve("web-1-create", "bob")
	r.commit("bob's approval")
	r.git("push", "-q", "origin", "main")
}
