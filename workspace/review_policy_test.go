package workspace

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/policy"
)

// TestReviewPolicyChange: a pull request that changes policy/ is reported
// (Review.PolicyChange, not a broken rule) with the files, the head's
// bundle beside the trust state's pin, and what an admin must do, each
// case with its own message: a policy where none is pinned, a pinned
// policy edited, the pinned policy removed, a pull request that restores
// the pinned bundle, and policy files apply cannot take. A pull request
// that leaves policy/ alone has no finding.
func TestReviewPolicyChange(t *testing.T) {
	w := newWorld(t, 1)
	ws := w.open()
	ctx := context.Background()
	const (
		v1 = "package vmc.p\n\ndeny contains \"one\" if false\n"
		v2 = "package vmc.p\n\ndeny contains \"two\" if false\n"
	)
	digestOf := func(src string) string {
		return policy.Digest([]policy.File{{Name: "policy/p.rego", Data: []byte(src)}}).String()
	}
	review := func(what string) *plans.Review {
		t.Helper()
		rv, err := ws.Review(ctx, "main", "HEAD")
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if !rv.OK() {
			t.Fatalf("%s: a policy change is not a broken rule: %+v", what, rv.Violations)
		}
		return rv
	}
	check := func(what string, pc *plans.PolicyChange, files []plans.ChangedFile, pinned, bundle string, matches bool, msg ...string) {
		t.Helper()
		if pc == nil {
			t.Fatalf("%s: no policy change reported", what)
		}
		if len(pc.Files) != len(files) {
			t.Errorf("%s: files %+v, want %+v", what, pc.Files, files)
		}
		for i := range files {
			if i < len(pc.Files) && pc.Files[i] != files[i] {
				t.Errorf("%s: file %d is %+v, want %+v", what, i, pc.Files[i], files[i])
			}
		}
		if pc.Pinned != pinned || pc.Bundle != bundle || pc.MatchesPin != matches {
			t.Errorf("%s: pinned %q bundle %q matches %t, want %q %q %t", what, pc.Pinned, pc.Bundle, pc.MatchesPin, pinned, bundle, matches)
		}
		for _, m := range msg {
			if !strings.Contains(pc.Message+"\n"+pc.Hint, m) {
				t.Errorf("%s: %q\n%q\nwant %q", what, pc.Message, pc.Hint, m)
			}
		}
	}
	pr := func(name string) {
		t.Helper()
		w.git("checkout", "-q", "main")
		w.git("checkout", "-q", "-b", name)
	}

	pr("no-policy-change")
	w.plan(ws, "web-1-create", true, createAction("web-1"))
	if rv := review("no policy change"); rv.PolicyChange != nil {
		t.Fatalf("no policy change: %+v", rv.PolicyChange)
	}

	pr("add-policy")
	w.commitPolicy("p.rego", []byte(v1))
	rv := review("a policy where none is pinned")
	check("a policy where none is pinned", rv.PolicyChange, []plans.ChangedFile{{Status: "A", File: "policy/p.rego"}}, keys.PolicyBundleNone, digestOf(v1), false,
		"this pull request changes policy/ (A policy/p.rego): the bundle after merge is "+digestOf(v1)+", but the trust state pins none (keys/trust.json policy_bundle), which no longer matches",
		"keeps every plan pending until an admin pins it", "vmc-git policy pin --key KEY")
	md, _ := rv.Markdown(plans.MaxComment)
	if !strings.Contains(md, ":warning: **policy change**: this pull request changes policy/ (A policy/p.rego)") || !strings.Contains(md, "vmc-git policy pin --key KEY") {
		t.Errorf("markdown:\n%s", md)
	}

	// main gets v1, pinned.
	w.git("checkout", "-q", "main")
	w.commitPolicy("p.rego", []byte(v1))
	w.pinPolicy(ws)

	pr("edit-policy")
	w.commitPolicy("p.rego", []byte(v2))
	check("the pinned policy edited", review("edit").PolicyChange, []plans.ChangedFile{{Status: "M", File: "policy/p.rego"}}, digestOf(v1), digestOf(v2), false,
		"changes policy/ (M policy/p.rego): the bundle after merge is "+digestOf(v2)+", but the trust state pins "+digestOf(v1)+" (keys/trust.json policy_bundle), which no longer matches")

	pr("remove-policy")
	w.git("rm", "-q", "-r", "policy")
	w.git("commit", "-q", "-m", "no policy")
	check("the pinned policy removed", review("remove").PolicyChange, []plans.ChangedFile{{Status: "D", File: "policy/p.rego"}}, digestOf(v1), keys.PolicyBundleNone, false,
		"changes policy/ (D policy/p.rego) and removes every policy file, but the trust state pins "+digestOf(v1)+" (keys/trust.json policy_bundle) and removing the policy does not lift the pin",
		"vmc-git policy pin --key KEY (it pins none)")

	// Someone pushed v2 to main unpinned; a pull request puts v1 back.
	w.git("checkout", "-q", "main")
	w.commitPolicy("p.rego", []byte(v2))
	pr("restore-policy")
	w.commitPolicy("p.rego", []byte(v1))
	rv = review("restore")
	check("the pinned bundle restored", rv.PolicyChange, []plans.ChangedFile{{Status: "M", File: "policy/p.rego"}}, digestOf(v1), digestOf(v1), true,
		"its bundle "+digestOf(v1)+" is the one the trust state pins (keys/trust.json policy_bundle): nothing to pin")
	if rv.PolicyChange.Hint != "" {
		t.Errorf("restore: a hint when nothing is to be done: %q", rv.PolicyChange.Hint)
	}

	pr("bad-policy")
	os.WriteFile(filepath.Join(w.root, "policy", "Bad.rego"), []byte(v1), 0o644)
	w.git("add", "policy")
	w.git("commit", "-q", "-m", "bad name")
	check("policy files apply cannot take", review("bad").PolicyChange, []plans.ChangedFile{{Status: "A", File: "policy/Bad.rego"}}, digestOf(v1), "", false,
		"changes policy/ (A policy/Bad.rego), and its policy files are not a bundle apply can take: policy file \"policy/Bad.rego\"",
		"fix policy/ in this pull request")
}
