package main

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"

	"github.com/vmc-git/vmc-git/merkle"
	"github.com/vmc-git/vmc-git/provider/sandbox"
)

// sandboxActions returns how many actions the served sandbox has run.
func sandboxActions(t *testing.T, url string) int {
	t.Helper()
	var l schema.ActionListResponse
	sandboxGet(t, url, "/actions?per_page=50", &l)
	return len(l.Actions)
}

// TestApplyWitnessCheck: apply honours witness checkpoints like verify
// chain. Two real litewitness processes (quorum 2) cosign the snapshots; a
// server serves the ledger as of snapshot 1 with a plan merged since, and
// withholds snapshot 2. A fresh clone's `apply --pending` is refused (exit
// 3) with --witness-check and with --checkpoint (the newest cosigned
// snapshot file), before any provider call: the served sandbox has no
// server and no action. On the full ledger the same command applies the
// plan.
func TestApplyWitnessCheck(t *testing.T) {
	t.Parallel()
	sb, err := sandbox.New(sandbox.Options{Token: sandboxToken, ActionDuration: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	prov, url := serve(t, sb)
	r, _, _ := witnessedRepoWith(t, repoOpts{env: hetznerEnv(url)})

	r.record("one")
	r.must("merkle", "receipts", "--tag", "--key", key("alice"))
	n1 := r.size()
	tag1 := merkle.TagName(n1)
	// The plan is made against the ledger as of snapshot 1: fresh on the
	// rolled-back ledger too, so only the checkpoint stops it there.
	r.planApproved("web-1-create", "create", "web-1", "--type", "cx22", "--image", "ubuntu-24.04")
	r.record("two")
	newest := filepath.Join(t.TempDir(), "newest.json")
	r.must("merkle", "receipts", "--tag", "--key", key("alice"), "--out", newest)
	n2 := r.size()

	// The rolled-back server: main with the plan, the ledger and tags as of
	// snapshot 1.
	fresh := rolledBack(t, r, tag1)
	fresh.git("fetch", "-q", "origin", "vmc/ledger:vmc/ledger")

	before := sandboxActions(t, url)
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"witness-check": {[]string{"--witness-check"}, "has cosigned a checkpoint of size " + strconv.FormatUint(n2, 10)},
		"checkpoint": {[]string{"--checkpoint", newest}, "it has " + strconv.FormatUint(n1, 10) + " receipts, the checkpoint " + newest +
			" covers " + strconv.FormatUint(n2, 10) + " (its root "},
	} {
		res := fresh.run(append([]string{"apply", "--pending", "--key", key("alice")}, tc.args...)...)
		if res.code != exitInvalid || !strings.Contains(res.err, tc.want) || strings.Contains(res.out, "applied plan") {
			t.Fatalf("%s: apply on a rolled-back ledger, want exit %d and %q:\n%s", name, exitInvalid, tc.want, res)
		}
	}
	if ss := servers(t, prov); len(ss) != 0 || sandboxActions(t, url) != before {
		t.Fatalf("the provider was called on a rolled-back ledger: servers %+v, %d actions (before: %d)", ss, sandboxActions(t, url), before)
	}
	if got := fresh.git("rev-list", "--count", "vmc/ledger"); got != strconv.FormatUint(n1, 10) {
		t.Fatalf("the rolled-back clone's ledger has %s receipts, want %d (nothing written)", got, n1)
	}
	// On the full ledger: applied.
	out := r.must("apply", "--pending", "--key", key("alice"), "--witness-check", "--checkpoint", newest)
	if !strings.Contains(out, "applied plan web-1-create: succeeded -> receipt "+strconv.FormatUint(n2, 10)) ||
		!strings.Contains(out, "witness witness.test/w1: at size "+strconv.FormatUint(n2, 10)) {
		t.Fatalf("apply on the full ledger:\n%s", out)
	}
	if ss := servers(t, prov); len(ss) != 1 || ss[0].Name != "web-1" {
		t.Fatalf("servers after apply: %+v", ss)
	}
}
