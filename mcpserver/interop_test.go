package mcpserver_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestTypeScriptClient runs internal/mcpinterop/interop.mjs: the official
// TypeScript client (@modelcontextprotocol/sdk, pinned by the lock file,
// installed by scripts/test.sh with npm ci) spawns vmc-git mcp serve over
// stdio and over HTTP, lists the tools, creates a plan, sees apply refused,
// has the human approve with the CLI, applies, reads the receipt and
// verifies the chain; reads the policy result of plan_create, and sees a
// plan the human withdrew refused as withdrawn.
func TestTypeScriptClient(t *testing.T) {
	dir, _ := filepath.Abs("../internal/mcpinterop")
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "node_modules", "@modelcontextprotocol", "sdk", "package.json"))
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("node or the TypeScript MCP SDK is missing (scripts/test.sh runs npm ci in %s): %v", dir, err)
		}
		t.Skipf("node or the TypeScript MCP SDK is missing: run npm ci in %s (%v)", dir, err)
	}
	for _, mode := range []string{"stdio", "http"} {
		t.Run(mode, func(t *testing.T) {
			root := newLedger(t)
			cmd := exec.Command(node, "interop.mjs")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "VMC_BIN="+vmcBin, "VMC_REPO="+root, "MODE="+mode,
				"ADMIN_KEY="+key("alice"), "APPLIER_KEY="+key("carol"), "APPROVER_KEY="+key("bob"), "PLAN_ID=web-7-"+mode, "SERVER=web-7")
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "ok: "+mode) {
				t.Fatalf("interop %s: %v\n%s", mode, err, out)
			}
			t.Logf("%s", strings.TrimSpace(string(out)))
		})
	}
}
