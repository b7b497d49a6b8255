package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/provider/sandbox"
)

// TestPolicyPinTreeAttacks: through a real bare origin with the hook, a
// pusher of main (no operator key) pushes hand-made policy/ trees (git
// mktree) that keep the pinned default files and add a deny-all under the
// same name (a duplicate entry), as a symlink, and as a submodule. CI's
// apply --pending judges nothing with them: the merged plan (which the
// pinned policy denies) stays pending, no receipt, no provider call.
func TestPolicyPinTreeAttacks(t *testing.T) {
	t.Parallel()
	prov, _, seed, origin := hookedSetup(t, sandbox.Options{}, repoOpts{policy: true})
	seed.git("push", "-q", "origin", "main", "vmc/ledger")
	ci := machine(t, seed, origin)
	seed.planApproved("web-1-create", "create", "web-1", "--type", "cx22", "--image", "ubuntu-24.04", "--label", "role=web", "--label", "env=dev")
	seed.git("push", "-q", "origin", "main")
	ledgerTip := func() string { return strings.TrimSpace(gitIn(t, origin, "rev-parse", "refs/heads/vmc/ledger")) }
	before := ledgerTip()

	stdin := func(in string, args ...string) string {
		t.Helper()
		return strings.TrimSpace(gitInStdin(t, seed.root, []byte(in), args...))
	}
	var pinned []string // the default files' entries, as main holds them
	for _, e := range strings.Split(strings.TrimRight(seed.git("ls-tree", "-z", "HEAD", "policy/"), "\x00"), "\x00") {
		pinned = append(pinned, strings.Replace(e, "\tpolicy/", "\t", 1))
	}
	parent := seed.git("rev-parse", "HEAD")
	evil := stdin("package vmc.evil\n\ndeny contains \"evil\" if true\n", "hash-object", "-w", "--stdin")
	for _, c := range []struct {
		name  string
		extra string
		code  int
		want  string
	}{
		{"duplicate naming.rego", "100644 blob " + evil + "\tnaming.rego", exitRefused, " (6 files), but that is not the pinned bundle "},
		{"symlink", "120000 blob " + stdin("naming.rego", "hash-object", "-w", "--stdin") + "\tevil.rego", exitInvalid,
			"plan web-1-create: policy: policy/evil.rego on refs/remotes/origin/main is a symlink (mode 120000), want a file (mode 100644 or 100755); nothing was applied"},
		{"submodule", "160000 commit " + strings.Repeat("1", 40) + "\tevil.rego", exitInvalid,
			"plan web-1-create: policy: policy/evil.rego on refs/remotes/origin/main is a submodule (mode 160000), want a file (mode 100644 or 100755); nothing was applied"},
		{"tree", "040000 tree " + stdin("", "mktree") + "\tevil.rego", exitInvalid,
			"plan web-1-create: policy: policy/evil.rego on refs/remotes/origin/main is a directory (mode 040000), want a file (mode 100644 or 100755); nothing was applied"},
	} {
		pol := stdin(strings.Join(append(append([]string{}, pinned...), c.extra), "\x00")+"\x00", "mktree", "-z", "--missing")
		var root []string
		for _, e := range strings.Split(strings.TrimRight(seed.git("ls-tree", "-z", parent), "\x00"), "\x00") {
			if !strings.HasSuffix(e, "\tpolicy") {
				root = append(root, e)
			}
		}
		tree := stdin(strings.Join(append(root, "040000 tree "+pol+"\tpolicy"), "\x00")+"\x00", "mktree", "-z", "--missing")
		commit := stdin(c.name, "commit-tree", tree, "-p", parent)
		seed.git("push", "-q", "origin", commit+":refs/heads/main")
		parent = commit

		ci.git("fetch", "-q", "origin") // apply --push reads origin/main; a checkout of such a tree may fail
		res := ci.run("apply", "--pending", "--push", "--key", key("carol"))
		if res.code == 0 || !strings.Contains(res.err, "nothing was applied") || strings.Contains(res.err, "denied by policy") || strings.Contains(res.err, "recorded as refused") {
			t.Fatalf("%s: the plan was judged or the message lacks why:\n%s", c.name, res)
		}
		checkError(t, res, c.code, c.want)
		if ledgerTip() != before {
			t.Fatalf("%s: a receipt was written", c.name)
		}
		if ss := servers(t, prov); len(ss) != 0 {
			t.Fatalf("%s: the provider was called: %+v", c.name, ss)
		}
	}
}

// TestPolicyPinRefusesOutsideReads: a policy whose outcome would depend on
// a file beside it (json.match_schema with a $ref to an absolute file://
// URL: the checkout's policy/server.schema.json, which no digest covers and
// any pusher of main changes) cannot be pinned: it does not compile.
func TestPolicyPinRefusesOutsideReads(t *testing.T) {
	t.Parallel()
	r := newRepo(t, repoOpts{})
	os.MkdirAll(filepath.Join(r.root, "policy"), 0o755)
	os.WriteFile(filepath.Join(r.root, "policy", "server.schema.json"), []byte(`{"type":"object"}`), 0o644)
	r.commitPolicy("schema.rego", fmt.Sprintf("package vmc.schema\n\ndeny contains \"bad server\" if {\n\tsome s in input.servers\n\tnot json.match_schema(s, {\"$ref\": %q})[0]\n}\n",
		"file://"+filepath.Join(r.root, "policy", "server.schema.json")))
	checkError(t, r.run("policy", "pin", "--key", key("alice")), exitInvalid, "does not compile, so it is not pinned", "json.match_schema")
	if st := pinStatus(t, r.run("policy", "status", "--json")); st.Pinned != keys.PolicyBundleNone || !strings.Contains(st.CompileError, "json.match_schema") {
		t.Fatalf("status: %+v", st)
	}
}
