package mcpserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/vmc-git/vmc-git/internal/clitest"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/mcpserver"
	"github.com/vmc-git/vmc-git/receipt"
	"github.com/vmc-git/vmc-git/workspace"
)

var (
	vmcBin  string
	keysDir string
)

// TestMain builds the real vmc-git (the human's CLI: init, approve) and the
// keys (internal/clitest, shared with the CLI's tests): alice (admin,
// applier), bob (approver), carol (applier: the agent's).
func TestMain(m *testing.M) {
	os.Exit(clitest.Main(m, func(e *clitest.Env) {
		vmcBin, keysDir = e.Bin, e.Keys
		os.Setenv("HOME", filepath.Join(e.Dir, "home"))
		// The lock directory too: a CI that sets XDG_CACHE_HOME would
		// otherwise share it with every other suite running at the time.
		os.Setenv("XDG_CACHE_HOME", filepath.Join(e.Dir, "cache"))
		os.Setenv("GIT_CONFIG_NOSYSTEM", "1")
		os.Setenv(workspace.EnvSandboxActionMS, "20")
		for _, k := range []string{"VMC_SIGNING_KEY", "VMC_SIGNING_KEY_PEM", "VMC_KID", "VMC_REPO", "VMC_BRANCH", "HCLOUD_ENDPOINT", "HCLOUD_TOKEN"} {
			os.Unsetenv(k)
		}
	}))
}

func key(kid string) string { return filepath.Join(keysDir, kid) }

// fixture is a ledger made by vmc-git init and an MCP client connected to
// the server (in memory) as carol.
type fixture struct {
	t    *testing.T
	root string
	cs   *mcp.ClientSession
	mu   sync.Mutex
	prog []string
}

func run(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// newLedger makes a ledger repository with vmc-git init.
func newLedger(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "infra")
	run(t, filepath.Dir(root), vmcBin, "init", root, "--ledger", "github.com/acme/infra", "--key", key("alice"), "--roles", "admin,applier",
		"--operator", "bob:approver:"+key("bob")+".pub", "--operator", "carol:applier:"+key("carol")+".pub", "--provider", "sandbox", "--no-policy")
	run(t, root, "git", "config", "user.name", "Test")
	run(t, root, "git", "config", "user.email", "test@example.com")
	return root
}

func identity(t *testing.T, kid string) *workspace.Identity {
	t.Helper()
	s, err := keys.Load(key(kid))
	if err != nil {
		t.Fatal(err)
	}
	return &workspace.Identity{Signer: s, KID: kid}
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, root: newLedger(t)}
	f.connect(mcpserver.Options{Dir: f.root, Applier: identity(t, "carol"), LockWait: 5 * time.Second})
	return f
}

func (f *fixture) connect(o mcpserver.Options) {
	t := f.t
	ms, err := mcpserver.New(o)
	if err != nil {
		t.Fatal(err)
	}
	st, ct := mcp.NewInMemoryTransports()
	ctx, cancel := context.WithCancel(context.Background())
	ss, err := ms.Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, r *mcp.ProgressNotificationClientRequest) {
			f.mu.Lock()
			f.prog = append(f.prog, r.Params.Message)
			f.mu.Unlock()
		}})
	cs, err := client.Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.cs = cs
	t.Cleanup(func() { cs.Close(); ss.Wait(); cancel() })
}

// call calls a tool with raw arguments; it fails the test on a protocol
// error (a tool error is a result).
func (f *fixture) call(name string, args any) *mcp.CallToolResult {
	f.t.Helper()
	res, err := f.cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		f.t.Fatalf("%s: protocol error: %v", name, err)
	}
	return res
}

func text(r *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range r.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// ok calls a tool that must succeed and decodes its structured output.
func (f *fixture) ok(name string, args any, out any) {
	f.t.Helper()
	r := f.call(name, args)
	if r.IsError {
		f.t.Fatalf("%s: tool error: %s", name, text(r))
	}
	b, err := json.Marshal(r.StructuredContent)
	if err != nil {
		f.t.Fatal(err)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			f.t.Fatalf("%s: %v: %s", name, err, b)
		}
	}
}

// refused calls a tool that must fail with a tool error containing want.
func (f *fixture) refused(name string, args any, want string) string {
	f.t.Helper()
	r := f.call(name, args)
	if !r.IsError {
		f.t.Fatalf("%s %v: want a tool error, got %s", name, args, text(r))
	}
	if !strings.Contains(text(r), want) {
		f.t.Fatalf("%s %v: error %q does not contain %q", name, args, text(r), want)
	}
	return text(r)
}

func (f *fixture) headSeq() uint64 {
	f.t.Helper()
	var h mcpserver.LedgerHeadOutput
	f.ok("ledger_head", map[string]any{}, &h)
	return h.Seq
}

// approveAndMerge is the human: review the branch, approve with the CLI as
// bob, commit the approval, merge into main.
func (f *fixture) approveAndMerge(id string) {
	f.t.Helper()
	f.approveOnBranch(id)
	f.merge(id)
}

func (f *fixture) approveOnBranch(id string) {
	f.t.Helper()
	run(f.t, f.root, "git", "switch", "-q", "plan/"+id)
	run(f.t, f.root, vmcBin, "approve", "plans/"+id+".json", "--key", key("bob"))
	run(f.t, f.root, "git", "add", "plans")
	run(f.t, f.root, "git", "commit", "-q", "-m", "approve "+id)
	run(f.t, f.root, "git", "switch", "-q", "main")
}

func (f *fixture) merge(id string) {
	f.t.Helper()
	run(f.t, f.root, "git", "merge", "-q", "--no-edit", "plan/"+id)
}

func createArgs(id, server string) map[string]any {
	return map[string]any{"id": id, "summary": "web server " + server,
		"actions": []map[string]any{{"op": "create", "server": server, "server_type": "cx22", "image": "ubuntu-24.04", "location": "fsn1"}}}
}

func TestToolsAndBoundary(t *testing.T) {
	f := newFixture(t)
	lt, err := f.cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*mcp.Tool{}
	for _, tl := range lt.Tools {
		got[tl.Name] = tl
		for _, bad := range []string{"approve", "trust", "lock", "withdraw", "force", "record"} {
			if strings.Contains(tl.Name, bad) {
				t.Errorf("tool %s: an agent must not %s", tl.Name, bad)
			}
		}
		if tl.InputSchema == nil {
			t.Errorf("tool %s: no input schema", tl.Name)
		}
		if tl.OutputSchema == nil {
			t.Errorf("tool %s: no output schema", tl.Name)
		}
	}
	for _, want := range []string{"plan_create", "plan_show", "plan_status", "apply", "ledger_head", "receipt_get", "log", "verify_chain", "servers_list"} {
		if got[want] == nil {
			t.Errorf("tool %s missing", want)
		}
	}
	for _, n := range []string{"plan_create", "plan_status", "apply"} {
		if d := got[n].Description; !strings.Contains(d, "vmc-git approve plans/<id>.json") || !strings.Contains(d, "cannot approve") {
			t.Errorf("tool %s: description does not tell the agent who approves: %q", n, d)
		}
	}
	// An apply's input has only the plan id: no force, no lock, no key.
	b, _ := json.Marshal(got["apply"].InputSchema)
	for _, bad := range []string{"force", "lock", "key"} {
		if strings.Contains(string(b), `"`+bad) {
			t.Errorf("apply input schema has %q: %s", bad, b)
		}
	}
	rt, err := f.cs.ListResourceTemplates(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var uris []string
	for _, r := range rt.ResourceTemplates {
		uris = append(uris, r.URITemplate)
	}
	if strings.Join(uris, " ") != "vmc://plan/{id} vmc://receipt/{seq}" && strings.Join(uris, " ") != "vmc://receipt/{seq} vmc://plan/{id}" {
		t.Errorf("resource templates %v", uris)
	}
}

// TestPlanApproveApply is the whole flow through MCP, with the human's CLI
// between: every refusal before the approval writes no receipt.
func TestPlanApproveApply(t *testing.T) {
	f := newFixture(t)
	head0 := f.headSeq()
	var pc mcpserver.PlanCreateOutput
	f.ok("plan_create", createArgs("web-1-first", "web-1"), &pc)
	if pc.Branch != "plan/web-1-first" || pc.Path != "plans/web-1-first.json" || len(pc.Commit) != 40 || !strings.Contains(pc.Review, "web-1") {
		t.Fatalf("plan_create: %+v", pc)
	}
	// The work tree, index and HEAD are untouched; the branch holds the plan.
	if st := run(t, f.root, "git", "status", "--porcelain"); st != "" {
		t.Fatalf("work tree changed: %q", st)
	}
	if h := strings.TrimSpace(run(t, f.root, "git", "symbolic-ref", "--short", "HEAD")); h != "main" {
		t.Fatalf("HEAD is %s", h)
	}
	if b := run(t, f.root, "git", "show", "plan/web-1-first:plans/web-1-first.json"); !strings.Contains(b, `"web-1-first"`) {
		t.Fatalf("plan not on its branch: %s", b)
	}
	var show mcpserver.PlanShowOutput
	f.ok("plan_show", map[string]any{"id": "web-1-first"}, &show)
	if show.Where != workspace.PlanOnBranch || show.Blake3 != pc.Blake3 || show.SHA256 != pc.SHA256 {
		t.Fatalf("plan_show: %+v", show)
	}
	var st mcpserver.PlanStatusOutput
	f.ok("plan_status", map[string]any{"id": "web-1-first"}, &st)
	if st.Approved || st.Applied || st.Stale || st.Approvals.Missing != 1 || !strings.Contains(st.Next, "vmc-git approve plans/web-1-first.json") {
		t.Fatalf("plan_status before approval: %+v", st)
	}
	// Not merged: refused.
	f.refused("apply", map[string]any{"id": "web-1-first"}, "is not merged on refs/heads/main")
	// Merged without approval: the CLI's message, and who approves.
	f.merge("web-1-first")
	msg := f.refused("apply", map[string]any{"id": "web-1-first"}, "plan not approved")
	if !strings.Contains(msg, "vmc-git approve plans/web-1-first.json") {
		t.Fatalf("refusal does not say who approves: %s", msg)
	}
	if f.headSeq() != head0 {
		t.Fatal("a refused apply wrote a receipt")
	}
	// A second plan, approved on its branch but not merged: refused.
	f.ok("plan_create", createArgs("web-2-first", "web-2"), nil)
	f.approveOnBranch("web-2-first")
	f.ok("plan_status", map[string]any{"id": "web-2-first"}, &st)
	if !st.Approved || st.Where != workspace.PlanOnBranch || !strings.Contains(st.Next, "not merged") {
		t.Fatalf("plan_status approved on branch: %+v", st)
	}
	f.refused("apply", map[string]any{"id": "web-2-first"}, "is not merged")
	if f.headSeq() != head0 {
		t.Fatal("a refused apply wrote a receipt")
	}
	// The human approves web-1-first (a second branch commit) and merges.
	f.approveAndMerge("web-1-first")
	f.ok("plan_status", map[string]any{"id": "web-1-first"}, &st)
	if !st.Approved || st.Where != workspace.PlanOnMain || !strings.HasPrefix(st.Next, "ready: call apply") {
		t.Fatalf("plan_status approved: %+v", st)
	}
	var ap mcpserver.ApplyOutput
	f.ok("apply", map[string]any{"id": "web-1-first"}, &ap)
	if ap.Status != "succeeded" || ap.Seq != head0+1 || ap.Plan != "web-1-first" {
		t.Fatalf("apply: %+v", ap)
	}
	rc := ap.Receipt
	if rc["kid"] != "carol" || rc["kind"] != "apply" {
		t.Fatalf("receipt not carol's apply receipt: %v", ap.Receipt)
	}
	// The receipt, three ways, agree.
	var rg mcpserver.ReceiptOutput
	f.ok("receipt_get", map[string]any{"seq": ap.Seq}, &rg)
	if rg.Blake3 != ap.Blake3 || !strings.Contains(rg.Signature, "BEGIN SSH SIGNATURE") {
		t.Fatalf("receipt_get: %+v", rg)
	}
	rr, err := f.cs.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: fmt.Sprintf("vmc://receipt/%d", ap.Seq)})
	if err != nil || len(rr.Contents) != 1 || !strings.Contains(rr.Contents[0].Text, `"web-1-first"`) {
		t.Fatalf("receipt resource: %v %v", rr, err)
	}
	pr, err := f.cs.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: "vmc://plan/web-1-first"})
	if err != nil || !strings.Contains(pr.Contents[0].Text, `"web-1-first"`) {
		t.Fatalf("plan resource: %v %v", pr, err)
	}
	var lg mcpserver.LogOutput
	f.ok("log", map[string]any{"n": 2}, &lg)
	if len(lg.Entries) != 2 || lg.Entries[0].Seq != ap.Seq || lg.Entries[0].Kind != "apply" {
		t.Fatalf("log: %+v", lg)
	}
	var vc mcpserver.VerifyOutput
	f.ok("verify_chain", map[string]any{"signatures": true}, &vc)
	if !vc.OK || vc.HeadSeq != ap.Seq || vc.HeadBlake3 != ap.Blake3 {
		t.Fatalf("verify_chain: %+v", vc)
	}
	var sl struct {
		Servers []struct{ Name, Status string } `json:"servers"`
	}
	f.ok("servers_list", map[string]any{}, &sl)
	if len(sl.Servers) != 1 || sl.Servers[0].Name != "web-1" {
		t.Fatalf("servers_list: %+v", sl)
	}
	// Replayed: refused, no receipt.
	f.refused("apply", map[string]any{"id": "web-1-first"}, "plan already applied")
	f.ok("plan_status", map[string]any{"id": "web-1-first"}, &st)
	if !st.Applied || st.Where != workspace.PlanOnMain {
		t.Fatalf("plan_status applied: %+v", st)
	}
	// Plans are immutable: the same id again is refused.
	f.refused("plan_create", map[string]any{"id": "web-1-first", "actions": []map[string]any{{"op": "poweroff", "server": "web-1"}}}, "plan web-1-first is in the ledger already")
	if f.headSeq() != ap.Seq {
		t.Fatal("a refusal wrote a receipt")
	}
}

// TestStale: a merged, approved plan whose server changed since its dry run
// is refused with the CLI's message, and, as with `apply --pending`, recorded
// once as a refused apply receipt (no provider call) so it never blocks or
// runs again.
func TestStale(t *testing.T) {
	f := newFixture(t)
	f.ok("plan_create", createArgs("web-3-a", "web-3"), nil)
	f.approveAndMerge("web-3-a")
	f.ok("plan_create", createArgs("web-3-b", "web-3"), nil)
	f.approveAndMerge("web-3-b")
	f.ok("apply", map[string]any{"id": "web-3-a"}, nil)
	head := f.headSeq()
	var st mcpserver.PlanStatusOutput
	f.ok("plan_status", map[string]any{"id": "web-3-b"}, &st)
	if !st.Stale || len(st.StaleWhy) == 0 || !strings.Contains(st.Next, "stale") {
		t.Fatalf("plan_status of a stale plan: %+v", st)
	}
	f.refused("apply", map[string]any{"id": "web-3-b"}, "stale")
	if f.headSeq() != head+1 {
		t.Fatalf("a stale apply: head %d, want one refused receipt after %d", f.headSeq(), head)
	}
	var rg mcpserver.ReceiptOutput
	f.ok("receipt_get", map[string]any{"seq": head + 1}, &rg)
	body, _ := rg.Receipt["apply"].(map[string]any)
	if rg.Receipt["kind"] != "apply" || body["status"] != receipt.ApplyRefused || !strings.Contains(fmt.Sprint(body["reason"]), "stale") {
		t.Fatalf("the stale plan's receipt is not a refusal: %v", rg.Receipt)
	}
	if acts, ok := body["actions"].([]any); ok && len(acts) != 0 {
		t.Fatalf("a refused plan recorded provider actions: %v", acts)
	}
	// Recorded once: asking again is a replay, and writes nothing.
	f.refused("apply", map[string]any{"id": "web-3-b"}, "plan already applied")
	if f.headSeq() != head+1 {
		t.Fatal("a second apply of the refused plan wrote a receipt")
	}
}

// TestBadInput: hostile arguments through MCP are tool errors, never a
// crash, never a receipt, never a branch.
func TestBadInput(t *testing.T) {
	f := newFixture(t)
	head := f.headSeq()
	big := strings.Repeat("a", mcpserver.MaxArgumentBytes+10)
	act := func(kv ...any) []map[string]any {
		m := map[string]any{"op": "create", "server": "web-1", "server_type": "cx22", "image": "ubuntu-24.04"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return []map[string]any{m}
	}
	cases := []struct {
		tool string
		args any
		want string
	}{
		{"plan_create", map[string]any{"actions": "web-1"}, "validating"},
		{"plan_create", map[string]any{"actions": []any{5}}, "validating"},
		{"plan_create", map[string]any{"id": 5, "actions": act()}, "validating"},
		{"plan_create", map[string]any{}, "validating"},
		{"plan_create", map[string]any{"actions": []any{}}, "at least one action"},
		{"plan_create", map[string]any{"actions": act(), "force": true}, "validating"},
		{"plan_create", map[string]any{"actions": act("op", "explode")}, "explode"},
		{"plan_create", map[string]any{"actions": act("server", "../../etc/passwd")}, "server"},
		{"plan_create", map[string]any{"actions": act("server", "Web 1")}, "server"},
		{"plan_create", map[string]any{"actions": act("new_name", "x")}, "new_name"},
		{"plan_create", map[string]any{"id": "../../x", "actions": act()}, "id"},
		{"plan_create", map[string]any{"id": "web-1-x/../../y", "actions": act()}, "id"},
		{"plan_create", map[string]any{"summary": strings.Repeat("s", 5000), "actions": act()}, "summary"},
		{"plan_create", map[string]any{"summary": "two\nlines", "actions": act()}, "summary"},
		{"plan_create", map[string]any{"actions": []map[string]any{{"op": "delete", "server": "ghost-1"}}}, "ghost-1"},
		{"plan_create", map[string]any{"actions": []map[string]any{{"op": "poweroff", "server": "ghost-1"}}}, "ghost-1"},
		{"plan_create", map[string]any{"summary": big, "actions": act()}, "more than"},
		{"plan_show", map[string]any{"id": "../../../etc/passwd"}, "id"},
		{"plan_show", map[string]any{"id": "web-1/../../x"}, "id"},
		{"plan_show", map[string]any{"id": strings.Repeat("w", 10000)}, "id"},
		{"plan_show", map[string]any{"id": "ghost-1-nothing"}, "no plan ghost-1-nothing"},
		{"plan_show", map[string]any{"id": 7}, "validating"},
		{"plan_status", map[string]any{"id": ".."}, "id"},
		{"plan_status", map[string]any{"id": "ghost-1-nothing"}, "no plan"},
		{"plan_status", map[string]any{}, "validating"},
		{"apply", map[string]any{"id": "../plans/x"}, "id"},
		{"apply", map[string]any{"id": "ghost-1-nothing"}, "not merged"},
		{"apply", map[string]any{"id": "web-1-x", "force": true}, "validating"},
		{"apply", map[string]any{"id": []string{"a"}}, "validating"},
		{"receipt_get", map[string]any{"seq": "0"}, "validating"},
		{"receipt_get", map[string]any{"seq": -1}, "validating"},
		{"receipt_get", map[string]any{"seq": 1.5}, "validating"},
		{"receipt_get", map[string]any{"seq": 999999}, "999999"},
		{"log", map[string]any{"n": -1}, "want 1 to"},
		{"log", map[string]any{"n": 1000000}, "want 1 to"},
		{"log", map[string]any{"n": "all"}, "validating"},
		{"verify_chain", map[string]any{"signatures": "yes"}, "validating"},
		{"servers_list", map[string]any{"label_selector": strings.Repeat("k", 5000)}, "more than 1024"},
		{"servers_list", map[string]any{"label_selector": "role in ("}, ""},
		{"ledger_head", map[string]any{"x": 1}, "validating"},
	}
	for i, c := range cases {
		t.Run(fmt.Sprintf("%d-%s", i, c.tool), func(t *testing.T) {
			f.t = t
			f.refused(c.tool, c.args, c.want)
		})
	}
	f.t = t
	if f.headSeq() != head {
		t.Fatal("bad input wrote a receipt")
	}
	if br := run(t, f.root, "git", "branch", "--list", "plan/*"); br != "" {
		t.Fatalf("bad input made branches: %s", br)
	}
	if st := run(t, f.root, "git", "status", "--porcelain"); st != "" {
		t.Fatalf("bad input changed the work tree: %q", st)
	}
	for _, uri := range []string{"vmc://receipt/-1", "vmc://receipt/01", "vmc://receipt/99999", "vmc://receipt/x", "vmc://plan/../x",
		"vmc://plan/ghost-1-nothing", "vmc://plan/" + strings.Repeat("a", 5000)} {
		if _, err := f.cs.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: uri}); err == nil {
			t.Errorf("resource %s: want an error", uri)
		}
	}
	// Still serving.
	f.headSeq()
}

// TestApplierKeyOnly: the server refuses a key trusted as approver or admin,
// and without a key apply refuses.
func TestApplierKeyOnly(t *testing.T) {
	root := newLedger(t)
	for _, kid := range []string{"alice", "bob"} {
		_, err := mcpserver.New(mcpserver.Options{Dir: root, Applier: identity(t, kid)})
		var we *workspace.Error
		if !errors.As(err, &we) || we.Kind != workspace.KindRefused || !strings.Contains(err.Error(), "applier key only") {
			t.Errorf("key %s: want a refusal, got %v", kid, err)
		}
	}
	f := &fixture{t: t, root: root}
	f.connect(mcpserver.Options{Dir: root})
	f.refused("apply", map[string]any{"id": "web-1-x"}, "no applier key")
}

// TestApplyProgressAndCancel: an apply sends progress; a cancelled call
// stops waiting and the apply still writes its receipt.
func TestApplyProgressAndCancel(t *testing.T) {
	f := newFixture(t)
	f.ok("plan_create", createArgs("web-5-slow", "web-5"), nil)
	f.approveAndMerge("web-5-slow")
	head := f.headSeq()
	t.Setenv(workspace.EnvSandboxActionMS, "1500")
	ctx, cancel := context.WithCancel(context.Background())
	p := &mcp.CallToolParams{Name: "apply", Arguments: map[string]any{"id": "web-5-slow"}}
	p.SetProgressToken("apply-1")
	done := make(chan error, 1)
	go func() {
		_, err := f.cs.CallTool(ctx, p)
		done <- err
	}()
	// Waits, not speed checks: generous for a loaded machine.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		f.mu.Lock()
		n := len(f.prog)
		f.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no progress notification")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("cancelled call returned no error")
		}
	case <-time.After(time.Minute):
		t.Fatal("cancel did not stop the waiting")
	}
	// The apply finishes in the server: its receipt appears.
	deadline = time.Now().Add(2 * time.Minute)
	var st mcpserver.PlanStatusOutput
	for !st.Applied {
		if time.Now().After(deadline) {
			t.Fatal("the cancelled apply wrote no receipt")
		}
		time.Sleep(100 * time.Millisecond)
		f.ok("plan_status", map[string]any{"id": "web-5-slow"}, &st)
	}
	if f.headSeq() != head+1 {
		t.Fatal("want exactly one receipt")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !strings.Contains(f.prog[0], "web-5-slow") {
		t.Fatalf("progress: %q", f.prog)
	}
}

// TestPlanCreatePush: push: true puts the plan branch on the remote (for a
// pull request); the local work tree stays as it was.
func TestPlanCreatePush(t *testing.T) {
	f := newFixture(t)
	bare := filepath.Join(t.TempDir(), "origin.git")
	run(t, "", "git", "init", "-q", "--bare", bare)
	run(t, f.root, "git", "remote", "add", "origin", bare)
	var pc mcpserver.PlanCreateOutput
	f.ok("plan_create", map[string]any{"id": "web-8-pushed", "push": true,
		"actions": []map[string]any{{"op": "create", "server": "web-8", "server_type": "cx22", "image": "ubuntu-24.04"}}}, &pc)
	if !pc.Pushed {
		t.Fatalf("not pushed: %+v", pc)
	}
	if got := run(t, "", "git", "--git-dir", bare, "rev-parse", "refs/heads/plan/web-8-pushed"); strings.TrimSpace(got) != pc.Commit {
		t.Fatalf("remote branch at %s, want %s", got, pc.Commit)
	}
	if st := run(t, f.root, "git", "status", "--porcelain"); st != "" {
		t.Fatalf("work tree changed: %q", st)
	}
}
