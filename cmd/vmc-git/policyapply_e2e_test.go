package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/provider/sandbox"
	"github.com/vmc-git/vmc-git/receipt"
)

// TestApplyPolicyPush: policy at apply through the binary and a hooked
// origin. A merged plan the default policy denies is refused by CI's apply
// --pending --push, recorded as refused with the rules, and nothing is
// created; an approver cannot sign an override; the same change in a new
// plan carrying an admin's override is applied and its receipt records the
// override; a malformed override file is refused by the hook; a fresh
// clone verifies it all.
func TestApplyPolicyPush(t *testing.T) {
	t.Parallel()
	prov, _, seed, origin := hookedSetup(t, sandbox.Options{}, repoOpts{policy: true})
	seed.git("push", "-q", "origin", "main", "vmc/ledger")
	ci := machine(t, seed, origin)

	create := []string{"--type", "cx22", "--image", "ubuntu-24.04", "--label", "role=web", "--label", "env=dev"}
	seed.plan("web-1-create", "create", "web-1", create...)
	seed.approve("web-1-create", "bob")
	checkError(t, seed.run("approve", "--override", "firewall-attached", seed.planFile("web-1-create"), "--key", key("bob")),
		exitRefused, "override would not count", "bob", "needs admin")
	seed.commit("plan web-1-create")
	seed.git("push", "-q", "origin", "main")

	ci.git("pull", "-q")
	res := ci.run("apply", "--pending", "--push", "--key", key("carol"))
	checkError(t, res, exitRefused, "plan web-1-create refused and recorded as refused", "denied by policy",
		"[firewall-attached] server/web-1: server has a public address and no firewall", "[private-network] server/web-1",
		"vmc-git approve --override firewall-attached --override private-network plans/web-1-create.json")
	if ss := servers(t, prov); len(ss) != 0 {
		t.Fatalf("a denied plan reached the provider: %+v", ss)
	}
	rc := ci.onlyReceipt("web-1-create")
	if pol := rc.Apply.Policy; rc.Apply.Status != receipt.ApplyRefused || pol == nil || pol.Result != receipt.PolicyDenied ||
		strings.Join(pol.Rules, ",") != "firewall-attached,private-network" {
		t.Fatalf("refused receipt: %+v %+v", rc.Apply, pol)
	}

	// The same server in a new plan, with alice's override.
	seed.git("fetch", "-q", "origin")
	seed.git("pull", "-q", "origin", "main")
	seed.plan("web-1-create-2", "create", "web-1", create...)
	seed.approve("web-1-create-2", "bob")
	out := seed.must("approve", "--override", "private-network", "--override", "firewall-attached", "--reason", "a test server",
		seed.planFile("web-1-create-2"), "--key", key("alice"))
	if !strings.Contains(out, "override of firewall-attached, private-network for plan web-1-create-2 signed by admin alice") {
		t.Fatalf("approve --override: %s", out)
	}
	seed.commit("plan web-1-create-2")
	if review := seed.must("plan", "review", "--base", "origin/main"); !strings.Contains(review, "policy at apply: overridden by alice (firewall-attached, private-network)") {
		t.Fatalf("review:\n%s", review)
	}
	seed.git("push", "-q", "origin", "main")
	ci.git("pull", "-q")
	ci.must("apply", "--pending", "--push", "--key", key("carol"))
	rc = ci.onlyReceipt("web-1-create-2")
	pol := rc.Apply.Policy
	if pol == nil || pol.Result != receipt.PolicyOverridden || len(pol.Overrides) != 1 || pol.Overrides[0].KID != "alice" ||
		pol.Overrides[0].Reason != "a test server" || pol.Blake3 == nil {
		t.Fatalf("overridden receipt: %+v", pol)
	}
	if ss := servers(t, prov); len(ss) != 1 || ss[0].Name != "web-1" {
		t.Fatalf("servers: %+v", ss)
	}

	// A malformed override file is refused by the hook.
	dir := filepath.Join(seed.root, "plans", "web-1-create-2"+plans.OverridesSuffix)
	os.WriteFile(filepath.Join(dir, "carol.json"), []byte(`{"kid":"carol"}`), 0o644)
	seed.commit("a bad override")
	cmd := exec.Command("git", "push", "-q", "origin", "main")
	cmd.Dir = seed.root
	if b, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(b), "plans/web-1-create-2.overrides/carol.json: override: ") {
		t.Fatalf("push of a bad override: %v\n%s", err, b)
	}

	// A fresh clone verifies the ledger, overrides included.
	fresh := machine(t, seed, origin)
	if out := fresh.must("verify", "chain", "--sig", "--no-remember"); !strings.HasPrefix(out, "ok: ") || !strings.Contains(out, "3 receipts") {
		t.Fatalf("verify: %s", out)
	}
}
