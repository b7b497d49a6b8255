package mcpserver_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/vmc-git/vmc-git/mcpserver"
	"github.com/vmc-git/vmc-git/provider"
	"github.com/vmc-git/vmc-git/provider/sandbox"
	"github.com/vmc-git/vmc-git/receipt"
	"github.com/vmc-git/vmc-git/workspace"
)

// cli runs the human's vmc-git in dir and returns its exit code, stdout
// and stderr.
func cli(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(vmcBin, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String(), errb.String()
	case err != nil:
		t.Fatal(err)
	}
	return 0, out.String(), errb.String()
}

// TestWithdrawn: a merged, approved plan a human withdrew is refused by
// apply with a message of its own, the CLI's (not "already applied"), and
// the CLI's hint; plan_status says withdrawn, by whom and why; nothing is
// written.
func TestWithdrawn(t *testing.T) {
	f := newFixture(t)
	f.ok("plan_create", createArgs("web-4-gone", "web-4"), nil)
	f.approveAndMerge("web-4-gone")
	run(t, f.root, vmcBin, "plan", "withdraw", "web-4-gone", "--reason", "not needed after all", "--key", key("bob"))
	head := f.headSeq()
	var st mcpserver.PlanStatusOutput
	f.ok("plan_status", map[string]any{"id": "web-4-gone"}, &st)
	if !st.Applied || !st.Withdrawn || st.Outcome != receipt.ApplyWithdrawn || st.Receipt != head || st.By != "bob" ||
		st.Reason != "not needed after all" || st.Policy != nil || !strings.Contains(st.Next, "withdrawn by bob") {
		t.Fatalf("plan_status of a withdrawn plan: %+v", st)
	}
	want := "plan web-4-gone was withdrawn by bob in receipt " + strconv.FormatUint(head, 10) + " (not needed after all): a withdrawn plan never applies"
	msg := f.refused("apply", map[string]any{"id": "web-4-gone"}, want)
	if strings.Contains(msg, "already applied") || !strings.Contains(msg, "hint: "+workspace.HintWithdrawn) {
		t.Fatalf("apply of a withdrawn plan: %s", msg)
	}
	if f.headSeq() != head {
		t.Fatal("apply of a withdrawn plan wrote a receipt")
	}
	// The CLI says the same, with exit code 4 (refused).
	code, _, stderr := cli(t, f.root, "apply", "--plan", "plans/web-4-gone.json", "--key", key("carol"))
	if code != 4 || !strings.Contains(stderr, want) || !strings.Contains(stderr, "vmc-git: hint: "+workspace.HintWithdrawn) || strings.Contains(stderr, "already applied") {
		t.Fatalf("vmc-git apply --plan of a withdrawn plan: exit %d\n%s", code, stderr)
	}
	if f.headSeq() != head {
		t.Fatal("the CLI's apply of a withdrawn plan wrote a receipt")
	}
	// An applied plan still says "already applied", and applied.
	f.ok("plan_create", createArgs("web-4-kept", "web-4"), nil)
	f.approveAndMerge("web-4-kept")
	f.ok("apply", map[string]any{"id": "web-4-kept"}, nil)
	f.ok("plan_status", map[string]any{"id": "web-4-kept"}, &st)
	if !st.Applied || st.Withdrawn || st.Outcome != workspace.OutcomeApplied || st.By != "carol" || st.Receipt != head+1 {
		t.Fatalf("plan_status of an applied plan: %+v", st)
	}
	if msg := f.refused("apply", map[string]any{"id": "web-4-kept"}, "plan already applied"); strings.Contains(msg, "withdrawn") {
		t.Fatalf("apply of an applied plan: %s", msg)
	}
}

// TestApplyHintsAsCLI: apply's refusals carry the CLI's hints (one
// mapping, workspace.ApplyError): unapproved and stale.
func TestApplyHintsAsCLI(t *testing.T) {
	f := newFixture(t)
	f.ok("plan_create", createArgs("web-6-a", "web-6"), nil)
	f.merge("web-6-a")
	f.refused("apply", map[string]any{"id": "web-6-a"}, "hint: "+workspace.ApproveHint("web-6-a"))
	code, _, stderr := cli(t, f.root, "apply", "--plan", "plans/web-6-a.json", "--key", key("carol"))
	if code != 4 || !strings.Contains(stderr, "vmc-git: hint: "+workspace.ApproveHint("")) {
		t.Fatalf("vmc-git apply --plan unapproved: exit %d\n%s", code, stderr)
	}
	f.ok("plan_create", createArgs("web-6-b", "web-6"), nil)
	f.approveAndMerge("web-6-b")
	f.approveAndMerge("web-6-a")
	f.ok("apply", map[string]any{"id": "web-6-a"}, nil)
	f.refused("apply", map[string]any{"id": "web-6-b"}, "hint: "+workspace.HintRetired)
}

// pushFixture is a fixture whose repository has a bare origin with the
// pre-receive hook installed (vmc-git hook install), main and the ledger
// pushed to it.
func pushFixture(t *testing.T) (*fixture, string) {
	f := newFixture(t)
	bare := filepath.Join(t.TempDir(), "origin.git")
	run(t, "", "git", "init", "-q", "--bare", "-b", "main", bare)
	run(t, f.root, vmcBin, "hook", "install", "--repo", bare)
	run(t, f.root, "git", "remote", "add", "origin", bare)
	run(t, f.root, "git", "push", "-q", "origin", "main", "vmc/ledger")
	return f, bare
}

func originRef(t *testing.T, bare, ref string) string {
	t.Helper()
	return strings.TrimSpace(run(t, "", "git", "--git-dir", bare, "rev-parse", ref))
}

// TestApplyPush: apply with push: true publishes the receipt to the
// origin's ledger branch through its hook, as apply --pending --push does;
// a plan merged only locally is not merged on the remote and is refused
// with nothing written; an unreachable remote writes nothing.
func TestApplyPush(t *testing.T) {
	f, bare := pushFixture(t)
	head := f.headSeq()
	ledger0 := originRef(t, bare, "refs/heads/vmc/ledger")
	f.ok("plan_create", map[string]any{"id": "web-9-push", "push": true,
		"actions": []map[string]any{{"op": "create", "server": "web-9", "server_type": "cx22", "image": "ubuntu-24.04"}}}, nil)
	f.approveAndMerge("web-9-push")
	// Merged here, not on the origin: refused, nothing written anywhere.
	f.refused("apply", map[string]any{"id": "web-9-push", "push": true}, "is not merged on refs/remotes/origin/main")
	if f.headSeq() != head || originRef(t, bare, "refs/heads/vmc/ledger") != ledger0 {
		t.Fatal("a refused apply --push wrote a receipt")
	}
	// The human pushes main: applied and published.
	run(t, f.root, "git", "push", "-q", "origin", "main")
	var ap mcpserver.ApplyOutput
	f.ok("apply", map[string]any{"id": "web-9-push", "push": true}, &ap)
	if ap.Status != "succeeded" || !ap.Pushed || ap.Seq != head+1 {
		t.Fatalf("apply push: %+v", ap)
	}
	if got := originRef(t, bare, "refs/heads/vmc/ledger"); got != ap.Commit {
		t.Fatalf("origin's ledger at %s, want the receipt's commit %s", got, ap.Commit)
	}
	if refs := strings.TrimSpace(run(t, "", "git", "--git-dir", bare, "for-each-ref", "refs/vmc/")); refs != "" {
		t.Fatalf("lock or intent refs left on the origin:\n%s", refs)
	}
	// The origin's chain verifies in a fresh clone.
	check := filepath.Join(t.TempDir(), "check")
	run(t, "", "git", "clone", "-q", bare, check)
	run(t, check, "git", "fetch", "-q", "origin", "vmc/ledger:vmc/ledger")
	run(t, check, vmcBin, "verify", "chain", "--sig")
	// Replayed with push: refused as replayed.
	f.refused("apply", map[string]any{"id": "web-9-push", "push": true}, "plan already applied")
	// An unreachable remote: nothing written.
	f.ok("plan_create", createArgs("web-9-later", "web-9x"), nil)
	f.approveAndMerge("web-9-later")
	run(t, f.root, "git", "remote", "set-url", "origin", filepath.Join(t.TempDir(), "gone.git"))
	f.refused("apply", map[string]any{"id": "web-9-later", "push": true}, "gone.git")
	if f.headSeq() != head+1 {
		t.Fatal("apply push to an unreachable remote wrote a receipt")
	}
}

// TestApplyFailed: the provider refuses the create; apply writes the failed
// receipt and the tool error says so as the CLI does (workspace.OutcomeError):
// the receipt, and each action that failed with the provider's code and
// message.
func TestApplyFailed(t *testing.T) {
	sb, err := sandbox.New(sandbox.Options{Token: "mcp-sandbox-token", ActionDuration: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	url, err := sb.Start("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	t.Setenv(provider.EnvEndpoint, url)
	t.Setenv(provider.EnvToken, "mcp-sandbox-token")
	f := newFixture(t)
	head := f.headSeq()
	f.ok("plan_create", createArgs("web-2-fail", "web-2"), nil)
	f.approveAndMerge("web-2-fail")
	sb.Inject(sandbox.Fault{Method: "POST", Path: "/servers", Status: 403, Code: "resource_limit_exceeded", Message: "project server limit reached"})
	msg := f.refused("apply", map[string]any{"id": "web-2-fail"}, "plan web-2-fail: failed (recorded in receipt "+strconv.FormatUint(head+1, 10)+")")
	if !strings.Contains(msg, "action 1 (create web-2): failed [resource_limit_exceeded]: ") || !strings.Contains(msg, "project server limit reached") {
		t.Fatalf("failed apply: %s", msg)
	}
	var st mcpserver.PlanStatusOutput
	f.ok("plan_status", map[string]any{"id": "web-2-fail"}, &st)
	if f.headSeq() != head+1 || !st.Applied || st.Outcome != workspace.OutcomeApplied || st.Receipt != head+1 {
		t.Fatalf("the failed apply's receipt: head %d, status %+v", f.headSeq(), st)
	}
}

// TestApplyPushRefusedKept: the origin's hook declines the ledger push (a
// wrapper around vmc-git's hook, switched on by a file): apply writes the
// receipt locally and says the push failed; the next apply with push
// publishes it (the same path as apply --pending --push) and refuses the
// replay.
func TestApplyPushRefusedKept(t *testing.T) {
	f, bare := pushFixture(t)
	head := f.headSeq()
	ledger0 := originRef(t, bare, "refs/heads/vmc/ledger")
	f.ok("plan_create", createArgs("web-3-kept", "web-3"), nil)
	f.approveAndMerge("web-3-kept")
	run(t, f.root, "git", "push", "-q", "origin", "main")
	hooks := filepath.Join(bare, "hooks")
	if err := os.Rename(filepath.Join(hooks, "pre-receive"), filepath.Join(hooks, "pre-receive.vmc")); err != nil {
		t.Fatal(err)
	}
	flag := filepath.Join(t.TempDir(), "refuse-ledger")
	wrapper := "#!/bin/sh\nin=$(cat)\ncase \"$in\" in *' refs/heads/vmc/ledger'*) if [ -e '" + flag + "' ]; then echo 'test: ledger pushes declined' >&2; exit 1; fi;; esac\n" +
		"printf '%s\\n' \"$in\" | exec '" + filepath.Join(hooks, "pre-receive.vmc") + "' \"$@\"\n"
	if err := os.WriteFile(filepath.Join(hooks, "pre-receive"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	msg := f.refused("apply", map[string]any{"id": "web-3-kept", "push": true}, "push ledger to origin")
	if want := "hint: receipt " + strconv.FormatUint(head+1, 10) + " is in this repository's ledger, not on origin: the next apply with push publishes it first"; !strings.Contains(msg, want) {
		t.Fatalf("a declined push does not say where the receipt is: %s", msg)
	}
	if f.headSeq() != head+1 || originRef(t, bare, "refs/heads/vmc/ledger") != ledger0 {
		t.Fatalf("a declined push: local head %d (want %d), origin moved: %v", f.headSeq(), head+1, originRef(t, bare, "refs/heads/vmc/ledger") != ledger0)
	}
	var st mcpserver.PlanStatusOutput
	f.ok("plan_status", map[string]any{"id": "web-3-kept"}, &st)
	if !st.Applied || st.Receipt != head+1 {
		t.Fatalf("plan_status after a declined push: %+v", st)
	}
	// The hook accepts again: the next apply with push publishes the receipt.
	os.Remove(flag)
	f.refused("apply", map[string]any{"id": "web-3-kept", "push": true}, "plan already applied")
	var lh mcpserver.LedgerHeadOutput
	f.ok("ledger_head", map[string]any{}, &lh)
	if lh.Seq != head+1 || originRef(t, bare, "refs/heads/vmc/ledger") != lh.Commit {
		t.Fatalf("the kept receipt was not published: local %+v, origin %s", lh, originRef(t, bare, "refs/heads/vmc/ledger"))
	}
}

// TestServeRemoteFlag: vmc-git mcp serve --remote NAME (over stdio, the
// real command) is the remote of plan_create's and apply's push, through
// the remote's hook.
func TestServeRemoteFlag(t *testing.T) {
	f, bare := pushFixture(t)
	run(t, f.root, "git", "remote", "rename", "origin", "upstream")
	cmd := exec.Command(vmcBin, "-C", f.root, "mcp", "serve", "--key", key("carol"), "--remote", "upstream")
	client := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil)
	cs, err := client.Connect(context.Background(), &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	f.cs = cs
	var pc mcpserver.PlanCreateOutput
	f.ok("plan_create", map[string]any{"id": "web-5-up", "push": true,
		"actions": []map[string]any{{"op": "create", "server": "web-5", "server_type": "cx22", "image": "ubuntu-24.04"}}}, &pc)
	if !pc.Pushed || originRef(t, bare, "refs/heads/plan/web-5-up") != pc.Commit {
		t.Fatalf("plan_create push to upstream: %+v", pc)
	}
	f.approveAndMerge("web-5-up")
	run(t, f.root, "git", "push", "-q", "upstream", "main")
	var ap mcpserver.ApplyOutput
	f.ok("apply", map[string]any{"id": "web-5-up", "push": true}, &ap)
	if !ap.Pushed || originRef(t, bare, "refs/heads/vmc/ledger") != ap.Commit {
		t.Fatalf("apply push to upstream: %+v", ap)
	}
}
