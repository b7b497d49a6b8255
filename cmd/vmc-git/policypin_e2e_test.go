package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/provider/sandbox"
	"github.com/vmc-git/vmc-git/receipt"
	"github.com/vmc-git/vmc-git/workspace"
)

// setPolicyDir replaces policy/ with files (none: removes it), commits and
// pushes to origin, as anyone who may push to main can.
func (r *repo) setPolicyDir(msg string, files map[string]string) {
	r.t.Helper()
	dir := filepath.Join(r.root, "policy")
	if err := os.RemoveAll(dir); err != nil {
		r.t.Fatal(err)
	}
	for name, src := range files {
		os.MkdirAll(dir, 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	r.git("add", "-A", "policy")
	r.git("commit", "-q", "--allow-empty", "-m", msg)
	r.git("push", "-q", "origin", "main")
}

func pinStatus(t *testing.T, res result) workspace.PolicyPinStatus {
	t.Helper()
	var st workspace.PolicyPinStatus
	if err := json.Unmarshal([]byte(res.out), &st); err != nil {
		t.Fatalf("%v\n%s", err, res)
	}
	return st
}

// TestPolicyPinAttacks: the trust state pins the policy bundle, so a pusher
// of policy/*.rego to main (no operator key) can neither lift the policy
// nor retire plans. With a merged plan the pinned default policy would deny:
// deleting policy/, pushing a deny-everything policy, and pushing one that
// does not compile each keep the plan pending, with its own message naming
// both bundles and the command to pin, and no receipt, no provider call.
// An approver's and an applier's pin are refused; a bundle that does not
// compile cannot be pinned; the admin's pin of a reviewed new policy lets
// CI judge the plan with it (recorded with the pinned blake3); a fresh
// clone verifies.
func TestPolicyPinAttacks(t *testing.T) {
	t.Parallel()
	prov, _, seed, origin := hookedSetup(t, sandbox.Options{}, repoOpts{policy: true})
	seed.git("push", "-q", "origin", "main", "vmc/ledger")
	ci := machine(t, seed, origin)

	// init pinned the default set it wrote.
	st := pinStatus(t, seed.run("policy", "status", "--json"))
	defaults := st.Pinned
	if !st.Match || len(defaults) != 64 || st.Bundle != defaults || len(st.Files) != 5 {
		t.Fatalf("status after init: %+v", st)
	}

	// A merged plan the default policy denies (public, no firewall, no
	// private network).
	seed.planApproved("web-1-create", "create", "web-1", "--type", "cx22", "--image", "ubuntu-24.04", "--label", "role=web", "--label", "env=dev")
	seed.git("push", "-q", "origin", "main")
	ledgerTip := func() string { return strings.TrimSpace(gitIn(t, origin, "rev-parse", "refs/heads/vmc/ledger")) }
	before := ledgerTip()
	pending := func(name string, want ...string) {
		t.Helper()
		ci.git("pull", "-q")
		res := ci.run("apply", "--pending", "--push", "--key", key("carol"))
		checkError(t, res, exitRefused, append([]string{"plan web-1-create: policy: ", "the plan stays pending, nothing was applied", "vmc-git policy pin"}, want...)...)
		if strings.Contains(res.err, "recorded as refused") || strings.Contains(res.err, "denied by policy") {
			t.Fatalf("%s: a plan was judged:\n%s", name, res)
		}
		if now := ledgerTip(); now != before {
			t.Fatalf("%s: a receipt was written", name)
		}
		if ss := servers(t, prov); len(ss) != 0 {
			t.Fatalf("%s: the provider was called: %+v", name, ss)
		}
	}

	// (a) Deleting policy/ does not lift the policy.
	seed.setPolicyDir("no more policy", nil)
	pending("policy deleted", "refs/remotes/origin/main has no policy/*.rego, but the trust state pins policy bundle "+defaults+": removing the policy on the main branch does not lift it",
		"restore the pinned policy on the main branch")

	// (b) A deny-everything policy does not retire the plan.
	denyAll := map[string]string{"evil.rego": "package vmc.evil\n\ndeny contains \"everything is denied\" if true\n"}
	seed.setPolicyDir("deny everything", denyAll)
	ci.git("pull", "-q")
	st = pinStatus(t, ci.run("policy", "status", "--json"))
	evil := st.Bundle
	if st.Match || st.Pinned != defaults || len(evil) != 64 || evil == defaults || st.CompileError != "" {
		t.Fatalf("status under deny-all: %+v", st)
	}
	checkError(t, ci.run("policy", "status"), exitRefused, "policy status: refs/heads/main holds bundle "+evil+", the trust state pins "+defaults)
	pending("deny-all", "the policy bundle on refs/remotes/origin/main is "+evil+" (1 files), but that is not the pinned bundle "+defaults+": a policy no admin pinned does not judge plans")
	// policy check still reports it, and says it is not the pinned one.
	rep := policyJSON(t, ci.run("policy", "check", "--json"))
	if rep.Pinned || rep.Pin != defaults || rep.Policy.String() != evil || rep.Pass {
		t.Fatalf("policy check under deny-all: %+v", rep)
	}

	// (c) One that does not compile (it is never compiled by apply: the
	// digest differs first) keeps plans pending, and cannot be pinned.
	seed.setPolicyDir("broken policy", map[string]string{"broken.rego": "package vmc.broken\n\ndeny contains {\n"})
	ci.git("pull", "-q")
	broken := pinStatus(t, ci.run("policy", "status", "--json"))
	if broken.Match || broken.CompileError == "" || broken.Bundle == evil {
		t.Fatalf("status of a broken policy: %+v", broken)
	}
	pending("broken", "the policy bundle on refs/remotes/origin/main is "+broken.Bundle+" (1 files), but that is not the pinned bundle "+defaults)
	checkError(t, seed.run("policy", "pin", "--key", key("alice")), exitInvalid,
		"policy pin: the bundle "+broken.Bundle+" on refs/heads/main does not compile, so it is not pinned: policy does not compile: ")

	// The operators replace it with a reviewed policy (warn only).
	reviewed := map[string]string{"size.rego": `package vmc.size

warn contains {"resource": sprintf("server/%s", [s.name]), "rule": "small", "reason": "a small server"} if {
	some s in input.servers
	s.server_type == "cx22"
}
`}
	seed.setPolicyDir("a reviewed policy", reviewed)
	pending("reviewed, not yet pinned", "that is not the pinned bundle "+defaults)

	// Only an admin pins: an approver and an applier are refused.
	checkError(t, seed.run("policy", "pin", "--key", key("bob"), "--as", "bob"), exitRefused, "key bob has roles [approver], needs admin")
	checkError(t, seed.run("policy", "pin", "--key", key("carol"), "--as", "carol"), exitRefused, "key carol has roles [applier], needs admin")
	if now := ledgerTip(); now != before {
		t.Fatal("a refused pin wrote a receipt")
	}
	var pinned struct {
		Pinned, Previous string
		Files            []string
		Receipt          struct{ Seq uint64 }
	}
	if err := json.Unmarshal([]byte(seed.must("policy", "pin", "--key", key("alice"), "--push", "--json")), &pinned); err != nil {
		t.Fatal(err)
	}
	if pinned.Previous != defaults || len(pinned.Pinned) != 64 || pinned.Pinned == defaults || len(pinned.Files) != 1 || pinned.Files[0] != "policy/size.rego" {
		t.Fatalf("policy pin --json: %+v", pinned)
	}
	checkError(t, seed.run("policy", "pin", "--key", key("alice")), exitRefused, "is pinned already")
	if out := seed.must("policy", "status"); !strings.Contains(out, "apply judges plans with it") {
		t.Fatalf("status after the pin:\n%s", out)
	}

	// CI now judges the plan with the pinned policy: it passes.
	ci.git("pull", "-q")
	ci.must("apply", "--pending", "--push", "--key", key("carol"))
	rc := ci.onlyReceipt("web-1-create")
	if pol := rc.Apply.Policy; rc.Apply.Status != "" || pol == nil || pol.Result != receipt.PolicyPass || pol.Blake3 == nil || pol.Blake3.String() != pinned.Pinned {
		t.Fatalf("receipt under the pinned policy: %+v %+v", rc.Apply, pol)
	}
	if ss := servers(t, prov); len(ss) != 1 || ss[0].Name != "web-1" {
		t.Fatalf("servers: %+v", ss)
	}

	// A fresh clone verifies it all, the pin included.
	fresh := machine(t, seed, origin)
	if out := fresh.must("verify", "chain", "--sig", "--no-remember"); !strings.HasPrefix(out, "ok: ") {
		t.Fatalf("verify: %s", out)
	}
}

// TestInitPinsPolicy: init pins the default set it writes, or none with
// --no-policy (then a policy committed later is not judged with until an
// admin pins it, and pinning after removing it again pins none); with
// admin_threshold 2 a pin is a proposal (policy pin -o) two admins
// co-sign (keys cosign, keys apply).
func TestInitPinsPolicy(t *testing.T) {
	t.Parallel()
	r := newRepo(t, repoOpts{})
	st := pinStatus(t, r.run("policy", "status", "--json"))
	if !st.Match || st.Pinned != keys.PolicyBundleNone || st.Bundle != keys.PolicyBundleNone || len(st.Files) != 0 {
		t.Fatalf("init --no-policy: %+v", st)
	}
	os.MkdirAll(filepath.Join(r.root, "policy"), 0o755)
	r.commitPolicy("size.rego", "package vmc.size\n\nwarn contains \"a warning\" if true\n")
	checkError(t, r.run("policy", "status"), exitRefused, "the trust state pins no policy (none)")
	out := r.must("policy", "pin", "--key", key("alice"))
	if !strings.Contains(out, "pinned policy bundle ") || !strings.Contains(out, "was none") || !strings.Contains(out, "(policy/size.rego)") {
		t.Fatalf("policy pin:\n%s", out)
	}
	r.git("rm", "-q", "-r", "policy")
	r.git("commit", "-q", "-m", "no policy")
	if out := r.must("policy", "pin", "--key", key("alice")); !strings.Contains(out, "pinned policy bundle none (no policy files)") {
		t.Fatalf("policy pin of no policy:\n%s", out)
	}
	// With admin_threshold 2, a pin is a proposal two admins co-sign.
	dave := newKey(t, "dave")
	r.must("keys", "trust", dave+".pub", "--kid", "dave", "--role", "admin", "--key", key("alice"))
	r.must("keys", "policy", "--admin-threshold", "2", "--key", key("alice"))
	os.MkdirAll(filepath.Join(r.root, "policy"), 0o755)
	r.commitPolicy("size.rego", "package vmc.size\n\nwarn contains \"another warning\" if true\n")
	checkError(t, r.run("policy", "pin", "--key", key("alice")), exitRefused, "trust changes need 2 admin signatures", "vmc-git policy pin -o change.json")
	change := filepath.Join(t.TempDir(), "pin.json")
	if out := r.must("policy", "pin", "-o", change); !strings.Contains(out, "NOT PINNED") || !strings.Contains(out, "wrote proposal "+change+" (needs 2 admin signatures)") {
		t.Fatalf("policy pin -o:\n%s", out)
	}
	r.must("keys", "cosign", change, "--key", key("alice"), "--as", "alice")
	checkError(t, r.run("keys", "apply", change, "--key", key("alice"), "--as", "alice"), exitRefused, "1 admin signatures (alice), admin_threshold is 2")
	r.must("keys", "cosign", change, "--key", dave, "--as", "dave")
	if out := r.must("keys", "apply", change, "--key", dave, "--as", "dave"); !strings.Contains(out, "(keys)") {
		t.Fatalf("keys apply:\n%s", out)
	}
	if out := r.must("policy", "status"); !strings.Contains(out, "apply judges plans with it") {
		t.Fatalf("status after the co-signed pin:\n%s", out)
	}
	if out := r.must("log", "-n", "1"); !strings.Contains(out, "pin policy bundle ") {
		t.Fatalf("log:\n%s", out)
	}
	if out := r.must("policy", "pin", "--help"); !strings.Contains(out, "never compiled or run") || !strings.Contains(out, "vmc-git policy pin --key") {
		t.Fatalf("policy pin --help:\n%s", out)
	}
}
