package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/policy"
	"github.com/vmc-git/vmc-git/receipt"
	"github.com/vmc-git/vmc-git/workspace"
)

func (r *repo) commitPolicy(name, src string) {
	r.t.Helper()
	if err := os.WriteFile(filepath.Join(r.root, "policy", name), []byte(src), 0o644); err != nil {
		r.t.Fatal(err)
	}
	r.git("add", "policy")
	r.git("commit", "-q", "-m", "policy "+name)
}

func policyJSON(t *testing.T, res result) workspace.PolicyReport {
	t.Helper()
	var rep workspace.PolicyReport
	if err := json.Unmarshal([]byte(res.out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, res)
	}
	return rep
}

func rules(fs []policy.Finding) string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Resource+" "+f.Rule)
	}
	return strings.Join(out, ", ")
}

func TestPolicyCheck(t *testing.T) {
	t.Parallel()
	r := newRepo(t, repoOpts{policy: true})
	// init ships the default set on main.
	if got := r.git("ls-tree", "--name-only", "HEAD", "policy/"); got != "policy/firewall.rego\npolicy/labels.rego\npolicy/naming.rego\npolicy/network.rego\npolicy/protection.rego" {
		t.Fatalf("policy files on main: %q", got)
	}
	if out := r.must("policy", "check"); !strings.Contains(out, "pass: 0 deny") {
		t.Fatalf("empty provider: %s", out)
	}
	// A plan the policy denies at apply, let through by an admin's override.
	r.plan("web-1-create", "create", "web-1", "--type", "cx22", "--image", "ubuntu-24.04", "--label", "role=web", "--label", "env=production")
	r.approve("web-1-create", "bob")
	r.must("approve", "--override", "firewall-attached", "--override", "private-network", "--override", "production-delete-protection",
		r.planFile("web-1-create"), "--key", key("alice"))
	r.commit("plan web-1-create")
	r.must("apply", "--pending", "--key", key("alice"))
	if pol := r.onlyReceipt("web-1-create").Apply.Policy; pol == nil || pol.Result != receipt.PolicyOverridden || len(pol.Overrides) != 1 {
		t.Fatalf("receipt policy: %+v", pol)
	}

	res := r.run("policy", "check", "--json")
	if res.code != exitRefused {
		t.Fatalf("deny must fail: %s", res)
	}
	rep := policyJSON(t, res)
	// The provider lists firewalls and networks: web-1 has neither. Its two
	// primary IPs are resources too.
	if rules(rep.Deny) != "server/web-1 firewall-attached, server/web-1 private-network, server/web-1 production-delete-protection" ||
		rep.Pass || rep.Source != policy.SourceProvider || rep.Resources != 3 || len(rep.Warn) != 0 {
		t.Fatalf("report %+v", rep)
	}

	// The state a protect plan would leave passes; the plan is not applied.
	pf := r.plan("web-1-protect", "protect", "web-1", "--delete")
	res = r.run("policy", "check", "--plan", pf, "--json")
	if rep := policyJSON(t, res); res.code != exitRefused || rules(rep.Deny) != "server/web-1 firewall-attached, server/web-1 private-network" ||
		rep.Plan != "web-1-protect" || rep.Source != policy.SourcePlan {
		t.Fatalf("plan end state: %s", res)
	}
	// A create plan whose server breaks the naming rule.
	pf = r.plan("web-create", "create", "web", "--type", "cx22", "--image", "ubuntu-24.04", "--label", "role=web", "--label", "env=dev")
	res = r.run("policy", "check", "--plan", pf)
	if res.code != exitRefused || !strings.Contains(res.out, "DENY  server/web  [naming]") {
		t.Fatalf("naming: %s", res)
	}

	// --attest appends a signed attestation receipt that verify chain accepts.
	head := r.ledgerHead()
	res = r.run("policy", "check", "--attest", "--key", key("alice"), "--json")
	rep = policyJSON(t, res)
	if res.code != exitRefused || rep.Attestation == nil || rep.Attestation.Seq != 2 {
		t.Fatalf("attest: %s", res)
	}
	r.verify(3)
	body := r.git("show", "refs/heads/vmc/ledger:"+rep.Attestation.Path)
	rc, err := receipt.Parse([]byte(body))
	if err != nil || rc.Kind != receipt.KindAttestation {
		t.Fatalf("receipt 2: %v %+v", err, rc)
	}
	st, err := policy.ParseStatement(rc.Attestation)
	if err != nil {
		t.Fatal(err)
	}
	pred := st.Predicate.AsMap()
	if len(st.Subject) != 3 || st.Subject[0].Name != "server/web-1" || pred["policy"].(map[string]any)["blake3"] != rep.Policy.String() ||
		pred["input"].(map[string]any)["blake3"] != rep.Input.Blake3.String() {
		t.Errorf("statement: %+v", st)
	}
	if head == r.ledgerHead() {
		t.Fatal("no receipt written")
	}

	// A user's rule committed on main is evaluated; the work tree is not read.
	r.commitPolicy("types.rego", `package vmc.types

deny contains {"resource": sprintf("server/%s", [s.name]), "rule": "no-cx22", "reason": "cx22 is retired here"} if {
	some s in input.servers
	s.server_type == "cx22"
}
`)
	os.WriteFile(filepath.Join(r.root, "policy", "wip.rego"), []byte("package vmc.wip\n\ndeny contains \"wip\"\n"), 0o644)
	rep = policyJSON(t, r.run("policy", "check", "--json"))
	if rules(rep.Deny) != "server/web-1 firewall-attached, server/web-1 no-cx22, server/web-1 private-network, server/web-1 production-delete-protection" || len(rep.Files) != 6 {
		t.Fatalf("custom rule: %+v", rep)
	}
	os.Remove(filepath.Join(r.root, "policy", "wip.rego"))

	// A policy that does not compile: a clear error, and no attestation.
	head = r.ledgerHead()
	r.commitPolicy("broken.rego", "package vmc.broken\n\ndeny contains x if {\n")
	res = r.run("policy", "check", "--attest", "--key", key("alice"))
	checkError(t, res, exitInvalid, "policy does not compile", "policy/broken.rego:")
	// A policy that runs too long: the time limit, and no attestation.
	r.git("rm", "-q", "policy/broken.rego")
	r.commitPolicy("slow.rego", "package vmc.slow\n\ndeny contains \"x\" if {\n\tsome i in numbers.range(1, 100000000000)\n\ti < 0\n}\n")
	res = r.run("policy", "check", "--attest", "--key", key("alice"), "--timeout", "300ms")
	checkError(t, res, exitInvalid, "policy evaluation timed out")
	if head != r.ledgerHead() {
		t.Fatal("a failed check wrote a receipt")
	}
	r.verify(3)
}

// TestReviewPolicy: plan review shows the base branch's policy findings
// for the state a plan would leave.
func TestReviewPolicy(t *testing.T) {
	t.Parallel()
	r := newRepo(t, repoOpts{policy: true})
	r.git("checkout", "-q", "-b", "pr")
	r.plan("web-create", "create", "web", "--type", "cx22", "--image", "ubuntu-24.04", "--label", "role=web", "--label", "env=production")
	r.approve("web-create", "bob")
	r.commit("a plan the policy denies")
	out := r.must("plan", "review", "--base", "main")
	for _, want := range []string{"POLICY DENY: server/web [naming]", "POLICY DENY: server/web [production-delete-protection]", "POLICY DENY: server/web [firewall-attached]"} {
		if !strings.Contains(out, want) {
			t.Errorf("review does not show %q:\n%s", want, out)
		}
	}
	md := r.must("plan", "review", "--base", "main", "--markdown")
	if !strings.Contains(md, ":x: policy denies its end state") || !strings.Contains(md, `:x: deny: server/web \[naming\]`) {
		t.Fatalf("markdown:\n%s", md)
	}
	// A policy on the PR branch does not govern its own review: the base's does.
	r.commitPolicy("naming.rego", "package vmc.naming\n")
	if out := r.must("plan", "review", "--base", "main"); !strings.Contains(out, "[naming]") {
		t.Errorf("the PR's own policy change was used:\n%s", out)
	}
}

// TestAttestPush: policy check --attest --push publishes the attestation
// receipt through a hooked origin, written again on top of a receipt another
// clone pushed first; --push alone is a usage error.
func TestAttestPush(t *testing.T) {
	t.Parallel()
	r := newRepo(t, repoOpts{policy: true})
	origin := r.hookedOrigin()
	r.git("push", "-q", "origin", "main", "vmc/ledger")
	checkError(t, r.run("policy", "check", "--push", "--key", key("alice")), exitUsage, "--push publishes the attestation: give --attest too")

	other := machine(t, r, origin)
	other.must("record", "--summary", "meanwhile", "--key", key("alice"), "--push")
	res := r.run("policy", "check", "--attest", "--push", "--key", key("alice"), "--json")
	rep := policyJSON(t, res)
	if res.code != 0 && res.code != exitRefused || rep.Attestation == nil || rep.Attestation.Seq != 2 {
		t.Fatalf("policy check --attest --push: %s", res)
	}
	tip := strings.TrimSpace(gitIn(t, origin, "rev-parse", "refs/heads/vmc/ledger"))
	if rep.Attestation.Commit != tip {
		t.Fatalf("origin's ledger is at %s, the attestation at %s", tip, rep.Attestation.Commit)
	}
	if msg := gitIn(t, origin, "log", "-1", "--format=%s", "refs/heads/vmc/ledger"); !strings.HasPrefix(msg, "vmc: 2 attestation ") {
		t.Fatalf("origin's newest receipt: %q", msg)
	}
	if body := gitIn(t, origin, "show", "refs/heads/vmc/ledger:"+rep.Attestation.Path); !strings.Contains(body, `"kind":"attestation"`) {
		t.Fatalf("%s on the origin: %s", rep.Attestation.Path, body)
	}
}
