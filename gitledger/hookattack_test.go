package gitledger

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vmc-git/vmc-git/apply/remoteref"
	"github.com/vmc-git/vmc-git/internal/config"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/receipt"
)

// TestHookPushAttacks: what someone who can push but holds no operator key
// tried against the hook (issue 9), each pushed with the real git into the
// hooked origin (and through the client's pre-push hook), each refused with
// its own message, the remote ref unmoved.
func TestHookPushAttacks(t *testing.T) {
	f := newHookFixture(t)
	x, origin := f.clone(t)
	ref := x.ref()
	x.mustPush("origin", ref+":"+ref)
	var d distinct
	refused := func(name, ref, want string, args ...string) {
		t.Helper()
		line := x.pushRefused(origin, ref, want, args...)
		d.add(t, name, line)
		t.Logf("%s: %s", name, shape(line))
	}
	now := time.Now()

	// Hole 2: a snapshot tag name that wraps around uint64 (it parsed as 3).
	f.runVmc(t, x.dir, "merkle", "receipts", "--tag", "--size", "3", "--key", x.k.path["alice"], "--kid", "alice",
		"--out", filepath.Join(t.TempDir(), "merkle-3.json"))
	tag3 := x.rev(SnapshotTagRef(3).String())
	refused("snapshot tag size overflowing 64 bits", "refs/tags/vmc/merkle/18446744073709551619", "size overflows 64 bits",
		"origin", tag3+":refs/tags/vmc/merkle/18446744073709551619")
	refused("snapshot tag size with a leading zero", "refs/tags/vmc/merkle/03", "leading zero", "origin", tag3+":refs/tags/vmc/merkle/03")

	// Hole 10: plain refs where a namespace is.
	refused("plain refs/tags/vmc/merkle", "refs/tags/vmc/merkle", `the short name "vmc/merkle" is reserved`, "origin", tag3+":refs/tags/vmc/merkle")
	refused("plain refs/vmc/locks", "refs/vmc/locks", "refs/vmc/ holds only locks/<server> and intents/<plan>", "origin", x.chain[1]+":refs/vmc/locks")
	// Hole 8: a tag named like the ledger branch shadows it for stock git.
	refused("tag shadowing the ledger branch", "refs/tags/vmc/ledger", `the short name "vmc/ledger" is reserved`, "origin", x.chain[4]+":refs/tags/vmc/ledger")
	refused("tag shadowing main", "refs/tags/main", `the short name "main" is reserved`, "origin", x.chain[4]+":refs/tags/main")

	// Hole 7: refs under refs/vmc/ that are no applier's.
	refused("intent ref that is a commit", "refs/vmc/intents/web-1-create", "intent ref: blob object <id>: not in the repository (it is a commit)",
		"origin", x.chain[1]+":refs/vmc/intents/web-1-create")
	refused("intent ref of garbage", "refs/vmc/intents/web-2-create", "intent ref: intent: json: ",
		"origin", x.blob([]byte("garbage"))+":refs/vmc/intents/web-2-create")
	refused("lock ref unsigned", "refs/vmc/locks/web-1", "lock ref: lock: unsigned",
		"origin", x.blob([]byte(`{"holder":"m","host":"h","kid":"mallory","ledger":"`+testLedgerID+`","nonce":"","pid":1,"plan":"p","server":"web-1","time":"2026-12-01T00:00:00Z","v":1}`))+":refs/vmc/locks/web-1")
	refused("lock ref signed by an untrusted key", "refs/vmc/locks/web-3", "lock ref: signer: key mallory is not trusted",
		"origin", x.lockBlob("mallory", "web-3", "p", now)+":refs/vmc/locks/web-3")
	refused("ref under refs/vmc/ outside locks and intents", "refs/vmc/other/x", "refs/vmc/ holds only", "origin", x.chain[1]+":refs/vmc/other/x")
	// Hole 11: a lock dated in the far future would never go stale.
	refused("lock dated in the future", "refs/vmc/locks/web-4", "lock ref: lock: dated ", "origin",
		x.lockBlob("alice", "web-4", "p", now.Add(24*time.Hour))+":refs/vmc/locks/web-4")
	refused("old lock replayed", "refs/vmc/locks/web-5", "more than 15m0s ago (an old lock replayed?)", "origin",
		x.lockBlob("alice", "web-5", "p", now.Add(-time.Hour))+":refs/vmc/locks/web-5")

	// Hole 5: a running apply's lock and intent (valid, signed by the
	// applier alice) cannot be deleted before the plan's receipt.
	plan := "web-1-create-20261126090000"
	lock := "refs/vmc/locks/web-1"
	intentRef := remoteref.IntentPrefix + plan
	x.mustPush("origin", x.lockBlob("alice", "web-1", plan, now)+":"+lock)
	x.mustPush("origin", x.intentBlob("alice", plan, now)+":"+intentRef)
	refused("deleting a running apply's intent", intentRef, "the intent of plan "+plan+" is live (no receipt yet)", "origin", ":"+intentRef)
	refused("deleting a running apply's lock", lock, "the lock of a running apply (plan "+plan+", intent published, no receipt yet) is never deleted", "origin", ":"+lock)
	refused("overwriting an intent", intentRef, "an intent is published or dropped, never overwritten", "--force", "origin", x.intentBlob("alice", plan, now.Add(time.Second))+":"+intentRef)
	refused("lock replaced by an older one", lock, "not after the lock it replaces", "--force", "origin", x.lockBlob("alice", "web-1", plan, now.Add(-time.Minute))+":"+lock)
	// The holder's heartbeat (a newer lock) is fine.
	x.mustPush("--force", "origin", x.lockBlob("alice", "web-1", plan, now.Add(time.Second))+":"+lock)

	// Hole 13: a receipt dated far ahead would pin the ledger clock.
	tip, err := x.l.Tip()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.l.appendOnce(tip, x.k.signer["alice"], "alice", func(*Tip) (*Draft, error) {
		return &Draft{Receipt: receipt.Receipt{Kind: receipt.KindManual, Summary: "from the future", Manual: &receipt.Manual{}}}, nil
	}, now.Add(365*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	refused("receipt dated a year ahead", ref, "receipt 5 is dated ", "origin", ref+":"+ref)
	// verify reports it (every rule holds; the clock is what is wrong).
	if out := f.runVmc(t, x.dir, "verify", "chain", "--no-remember"); !strings.Contains(out, "WARNING: receipt 5 is dated ") {
		t.Fatalf("verify does not report the receipt dated ahead:\n%s", out)
	}
	// The writer refuses one, too.
	if _, err := x.l.Append(x.k.signer["alice"], "alice", func(*Tip) (*Draft, error) {
		return &Draft{Receipt: receipt.Receipt{Kind: receipt.KindManual, Summary: "later", Manual: &receipt.Manual{}}}, nil
	}); err == nil || !strings.Contains(err.Error(), "ahead of this clock") {
		t.Fatalf("Append on a future-dated tip: %v", err)
	}
	x.setTip(x.chain[4])

	// Hole 12: main only fast-forwards.
	merged := x.rev("refs/heads/main")
	base := x.commitMain(map[string][]byte{"README": []byte("one\n")})
	x.mustPush("origin", "main")
	x.git(nil, "update-ref", "refs/heads/main", merged)
	x.commitMain(map[string][]byte{"README": []byte("rewritten\n")})
	refused("main force-pushed", "refs/heads/main", "not a fast-forward: <id> does not descend from the current main <id>", "--force", "origin", "main")
	x.git(nil, "update-ref", "refs/heads/main", base)

	// Hole 6 (a ledger whose genesis pins no provider): the provider on
	// main never changes.
	cfg, err := config.Parse(x.file(base, config.Path))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Provider = config.ProviderHetzner
	x.commitMain(map[string][]byte{config.Path: mustEncode(t, cfg.Encode)})
	refused("provider flipped on main", "refs/heads/main", `provider changes from "sandbox" to "hetzner"`, "origin", "main")
	x.git(nil, "update-ref", "refs/heads/main", base)

	// Hole 3: a directory or a gitlink inside plans/<id>.approvals/, and a
	// plan too large to parse cheaply (hole 4).
	pb := x.plan("web-1", "create web-1")
	empty := x.git(nil, "mktree")
	for _, tc := range []struct{ name, entry, want string }{
		{"approval that is a directory", "040000 tree " + empty, "mode 40000: an approval is a regular file"},
		{"approval that is a gitlink", "160000 commit " + x.chain[1], "mode 160000: an approval is a regular file"},
	} {
		approvals := x.git([]byte(tc.entry+"\tbob.sig\n"), "mktree")
		x.commitPlans(fmt.Sprintf("100644 blob %s\t%s.json\n040000 tree %s\t%s%s\n", x.blob(pb), plan, approvals, plan, plans.ApprovalsSuffix))
		refused(tc.name, "refs/heads/main", "plans/"+plan+".approvals/bob.sig: "+tc.want, "origin", "main")
		x.git(nil, "update-ref", "refs/heads/main", base)
	}
	x.commitPlans(fmt.Sprintf("120000 blob %s\t%s.json\n", x.blob([]byte("../etc/passwd")), plan))
	refused("plan that is a symlink", "refs/heads/main", "mode 120000: a plan is a regular file", "origin", "main")
	x.git(nil, "update-ref", "refs/heads/main", base)
	big := bytes.Repeat([]byte(" "), plans.MaxSize+1)
	x.commitMain(map[string][]byte{plans.Path(plan): big})
	refused("plan of more than MaxSize", "refs/heads/main", fmt.Sprintf("%d bytes, more than the limit of %d", plans.MaxSize+1, plans.MaxSize), "origin", "main")
	x.git(nil, "update-ref", "refs/heads/main", base)
	x.commitMain(map[string][]byte{plans.Path(plan) + ".orig": pb})
	refused("stray file under plans/", "refs/heads/main", "plans/ holds only <id>.json files and <id>.approvals/ directories", "origin", "main")
	x.git(nil, "update-ref", "refs/heads/main", base)
}

// lockBlob writes a remote lock signed by kid and returns its blob id.
func (x *tamperEnv) lockBlob(kid, server, plan string, at time.Time) string {
	x.t.Helper()
	nonce := make([]byte, 4)
	copy(nonce, at.Format(".000"))
	b, err := remoteref.Lock{Ledger: testLedgerID, Server: server, Plan: plan, Holder: kid, Host: "h", PID: 1, Time: at,
		Nonce: hex.EncodeToString(nonce), KID: kid}.Encode(x.k.signer[kid])
	if err != nil {
		x.t.Fatal(err)
	}
	return x.blob(b)
}

// intentBlob writes an intent for plan, signed by kid against the tip.
func (x *tamperEnv) intentBlob(kid, plan string, at time.Time) string {
	x.t.Helper()
	tip, err := x.l.Tip()
	if err != nil {
		x.t.Fatal(err)
	}
	pb := x.plan("web-1", "create web-1")
	b, err := remoteref.Intent{Ledger: testLedgerID, Plan: plan, PlanBlake3: digest.Of(pb).Blake3,
		Head: remoteref.Head{Seq: tip.Head.Seq, Blake3: tip.Head.Blake3}, KID: kid, CreatedAt: at, Journal: []byte(`{}`)}.Encode(x.k.signer[kid])
	if err != nil {
		x.t.Fatal(err)
	}
	return x.blob(b)
}

// commitPlans commits, on top of main, main's tree with plans/ replaced by
// the tree mktree makes of entries (ls-tree lines).
func (x *tamperEnv) commitPlans(entries string) {
	x.t.Helper()
	pt := x.git([]byte(entries), "mktree")
	main := x.rev("refs/heads/main")
	var lines []string
	for _, l := range strings.Split(x.git(nil, "ls-tree", main), "\n") {
		if l != "" && !strings.HasSuffix(l, "\t"+plans.Dir) {
			lines = append(lines, l)
		}
	}
	lines = append(lines, "040000 tree "+pt+"\t"+plans.Dir)
	tree := x.git([]byte(strings.Join(lines, "\n")+"\n"), "mktree")
	env := []string{"GIT_AUTHOR_NAME=dev", "GIT_AUTHOR_EMAIL=dev@example.com", "GIT_COMMITTER_NAME=dev", "GIT_COMMITTER_EMAIL=dev@example.com"}
	c := x.gitEnv(env, nil, "commit-tree", tree, "-p", main, "-m", "plans")
	x.git(nil, "update-ref", "refs/heads/main", c)
}

// TestMalformedCommitIsNotAFastForwardError: a pushed ledger commit whose
// parent cannot be read is reported as a malformed commit (rule commit),
// not as "not a fast-forward", which would send its pusher looking for a
// rewrite.
func TestMalformedCommitIsNotAFastForwardError(t *testing.T) {
	x := newTamperLedger(t, newTamperKeys(t), testLedgerID, 2)
	tree := x.git(nil, "rev-parse", x.chain[2]+"^{tree}")
	raw := "tree " + tree + "\nparent " + strings.Repeat("ab", 20) + "\nauthor a <a> 1 +0000\ncommitter a <a> 1 +0000\n\nbad\n"
	bad := x.git([]byte(raw), "hash-object", "-t", "commit", "-w", "--literally", "--stdin")
	_, err := x.l.VerifyUpdate(plumbingHash(x.chain[2]), plumbingHash(bad), nil)
	var ve *VerifyError
	if err == nil || strings.Contains(err.Error(), "not a fast-forward") || !errors.As(err, &ve) || ve.Rule != RuleCommit {
		t.Fatalf("malformed commit: %v", err)
	}
}

func plumbingHash(s string) plumbing.Hash { return plumbing.NewHash(s) }
