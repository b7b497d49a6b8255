package mcpserver_test

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/vmc-git/vmc-git/mcpserver"
	"github.com/vmc-git/vmc-git/workspace"
)

// TestApplyCheckpoint: MCP apply runs the CLI's rollback checks, through the
// one workspace path of every apply (ApplyRequest.Checkpoints). A server
// given a checkpoint the ledger does not extend (another clone's snapshot,
// one receipt ahead) refuses apply before any provider call, over the
// in-memory transport (Options.Checkpoints) and over stdio (vmc-git mcp
// serve --checkpoint), with the words vmc-git apply --checkpoint uses (exit
// 3); no receipt, no server. With a checkpoint the ledger extends, apply
// goes on and says the check passed.
func TestApplyCheckpoint(t *testing.T) {
	f := newFixture(t)
	f.ok("plan_create", createArgs("web-7-cp", "web-7"), nil)
	f.approveAndMerge("web-7-cp")
	head := f.headSeq()

	other := filepath.Join(t.TempDir(), "other")
	run(t, "", "git", "clone", "-q", f.root, other)
	run(t, other, "git", "branch", "-q", "vmc/ledger", "origin/vmc/ledger")
	run(t, other, vmcBin, "record", "--summary", "a receipt the applier's clone never saw", "--key", key("alice"))
	ahead := filepath.Join(t.TempDir(), "ahead.json")
	run(t, other, vmcBin, "merkle", "receipts", "--key", key("alice"), "--out", ahead)
	want := "it has " + strconv.FormatUint(head+1, 10) + " receipts, the checkpoint " + ahead +
		" covers " + strconv.FormatUint(head+2, 10) + " (its root "
	nothing := func(how string) {
		t.Helper()
		if f.headSeq() != head {
			t.Fatalf("%s: apply on a rolled-back ledger wrote a receipt", how)
		}
		var ss mcpserver.ServersOutput
		f.ok("servers_list", map[string]any{}, &ss)
		if len(ss.Servers) != 0 {
			t.Fatalf("%s: the provider was called on a rolled-back ledger: %+v", how, ss.Servers)
		}
	}

	// Without the checkpoint the server knows nothing to refuse; with it,
	// in memory:
	f.connect(mcpserver.Options{Dir: f.root, Applier: identity(t, "carol"), LockWait: 5 * time.Second,
		Checkpoints: workspace.ApplyCheckpoints{CheckpointFile: ahead}})
	msg := f.refused("apply", map[string]any{"id": "web-7-cp"}, want)
	nothing("in memory")

	// The CLI says the same, exit 3.
	code, _, stderr := cli(t, f.root, "apply", "--pending", "--key", key("carol"), "--checkpoint", ahead)
	if code != 3 || !strings.Contains(stderr, want) {
		t.Fatalf("vmc-git apply --checkpoint on a rolled-back ledger: exit %d\n%s", code, stderr)
	}
	if first := strings.SplitN(msg, "\n", 2)[0]; !strings.Contains(stderr, first) {
		t.Fatalf("MCP says %q, the CLI:\n%s", first, stderr)
	}
	nothing("CLI")

	// Over stdio, the real command with the flag.
	cmd := exec.Command(vmcBin, "-C", f.root, "mcp", "serve", "--key", key("carol"), "--checkpoint", ahead)
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).Connect(context.Background(), &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.cs = cs
	f.refused("apply", map[string]any{"id": "web-7-cp"}, want)
	nothing("stdio")
	cs.Close()

	// A checkpoint of this ledger: extended, so apply goes on.
	own := filepath.Join(t.TempDir(), "own.json")
	run(t, f.root, vmcBin, "merkle", "receipts", "--key", key("alice"), "--out", own)
	f.connect(mcpserver.Options{Dir: f.root, Applier: identity(t, "carol"), LockWait: 5 * time.Second,
		Checkpoints: workspace.ApplyCheckpoints{CheckpointFile: own}})
	res, err := f.cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "apply", Arguments: map[string]any{"id": "web-7-cp"}, Meta: mcp.Meta{"progressToken": "cp"}})
	if err != nil || res.IsError {
		t.Fatalf("apply with a checkpoint the ledger extends: %v %s", err, text(res))
	}
	var ap mcpserver.ApplyOutput
	if b, err := json.Marshal(res.StructuredContent); err != nil || json.Unmarshal(b, &ap) != nil || ap.Seq != head+1 || ap.Status != "succeeded" || f.headSeq() != head+1 {
		t.Fatalf("apply with a good checkpoint: %+v, head %d, want receipt %d", ap, f.headSeq(), head+1)
	}
	f.mu.Lock()
	prog := slices.Clone(f.prog)
	f.mu.Unlock()
	if !slices.ContainsFunc(prog, func(p string) bool { return strings.HasPrefix(p, "rollback checks passed: 1 checkpoint file(s)") }) {
		t.Errorf("progress %q: no word of the rollback check", prog)
	}
}
