package mcpserver_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/mcpserver"
	"github.com/vmc-git/vmc-git/workspace"
)

// fuzzTools are the tools FuzzToolArguments calls: all but apply (which
// would change servers if a call happened to name an approved plan; its
// arguments are the id and push that plan_status and plan_create take too).
var fuzzTools = []string{"plan_create", "plan_show", "plan_status", "ledger_head", "receipt_get", "log", "verify_chain", "servers_list"}

// FuzzToolArguments sends an agent's JSON arguments, any bytes that are
// JSON, to the server's tools and resources over the SDK (schema
// validation, decoding) into the handlers: each call answers, with a
// result or an error, within the time limit, and the server keeps serving.
func FuzzToolArguments(f *testing.F) {
	dir, err := os.MkdirTemp("", "vmc-fuzz-mcp-")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { os.RemoveAll(dir) })
	root := filepath.Join(dir, "infra")
	for _, c := range [][]string{
		{vmcBin, "init", root, "--ledger", "github.com/acme/infra", "--key", key("alice"), "--roles", "admin,applier",
			"--operator", "bob:approver:" + key("bob") + ".pub", "--operator", "carol:applier:" + key("carol") + ".pub", "--provider", "sandbox", "--no-policy"},
		{"git", "-C", root, "config", "user.name", "Test"},
		{"git", "-C", root, "config", "user.email", "test@example.com"},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			f.Fatalf("%v: %v\n%s", c, err, out)
		}
	}
	s, err := keys.Load(key("carol"))
	if err != nil {
		f.Fatal(err)
	}
	ms, err := mcpserver.New(mcpserver.Options{Dir: root, Applier: &workspace.Identity{Signer: s, KID: "carol"}, LockWait: time.Second})
	if err != nil {
		f.Fatal(err)
	}
	st, ct := mcp.NewInMemoryTransports()
	ctx, cancel := context.WithCancel(context.Background())
	ss, err := ms.Connect(ctx, st, nil)
	if err != nil {
		f.Fatal(err)
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "fuzz", Version: "1"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { cs.Close(); ss.Wait(); cancel() })

	for _, c := range [][2]string{{"plan_create", `{"id":"web-1-a","actions":[{"op":"create","server":"web-1","server_type":"cx22","image":"ubuntu-24.04"}]}`},
		{"plan_status", `{"id":"web-1-a"}`}, {"receipt_get", `{"seq":0}`}, {"verify_chain", `{"signatures":true}`}} {
		name, args := c[0], c[1]
		r, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: json.RawMessage(args)})
		if err != nil || r.IsError {
			f.Fatalf("%s %s: %v %+v", name, args, err, r)
		}
	}
	f.Add(uint8(0), []byte(`{"id":"web-1-b","actions":[{"op":"create","server":"web-1","server_type":"cx22","image":"ubuntu-24.04"}]}`))
	f.Add(uint8(1), []byte(`{"id":"web-1-a"}`))
	f.Add(uint8(2), []byte(`{"id":"web-1-a"}`))
	f.Add(uint8(3), []byte(`{}`))
	f.Add(uint8(4), []byte(`{"seq":0}`))
	f.Add(uint8(5), []byte(`{"n":1000}`))
	f.Add(uint8(6), []byte(`{"signatures":true}`))
	f.Add(uint8(7), []byte(`{"label_selector":"role=web"}`))
	f.Add(uint8(8), []byte(`"0"`))
	f.Add(uint8(9), []byte(`"web-1-a"`))
	f.Fuzz(func(t *testing.T, tool uint8, args []byte) {
		if !json.Valid(args) {
			return
		}
		cctx, done := context.WithTimeout(ctx, 20*time.Second)
		defer done()
		n := int(tool) % (len(fuzzTools) + 2)
		if n >= len(fuzzTools) { // the resources: the URI's tail is the argument
			var tail string
			if json.Unmarshal(args, &tail) != nil {
				return
			}
			prefix := mcpserver.ReceiptURIPrefix
			if n > len(fuzzTools) {
				prefix = mcpserver.PlanURIPrefix
			}
			cs.ReadResource(cctx, &mcp.ReadResourceParams{URI: prefix + tail})
		} else {
			cs.CallTool(cctx, &mcp.CallToolParams{Name: fuzzTools[n], Arguments: json.RawMessage(args)})
		}
		if cctx.Err() != nil {
			t.Fatalf("tool %d with %s: no answer within the limit", n, args)
		}
		if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "ledger_head", Arguments: map[string]any{}}); err != nil {
			t.Fatalf("the server stopped serving after tool %d with %s: %v", n, args, err)
		}
	})
}
