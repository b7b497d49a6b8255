package plans_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmc-git/vmc-git/apply"
	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/internal/canon"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/internal/lock"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/provider"
	"github.com/vmc-git/vmc-git/provider/sandbox"
	"github.com/vmc-git/vmc-git/receipt"
)

func ptr[T any](v T) *T { return &v }

// validPlans are hand-made plans covering every op, in struct form.
func validPlans() []*plans.Plan {
	head := plans.LedgerRef{Seq: 3, Blake3: digest.Blake3([]byte("receipt 3"))}
	existing := plans.Expect{Exists: true, ServerID: 42, Status: "running", ServerType: "cx22",
		Labels: map[string]string{"role": "web", provider.LabelPlan: "web-1-create-20261126090000"}}
	mk := func(id string, steps ...plans.Step) *plans.Plan {
		return &plans.Plan{V: plans.Version, ID: id, Ledger: "github.com/acme/infra", CreatedAt: "2026-11-26T09:00:00Z",
			CreatedBy: "alice", Summary: "summary of " + id, LedgerHead: head, Actions: steps}
	}
	on := func(a provider.Action) plans.Step { return plans.Step{Action: a, Expect: existing} }
	return []*plans.Plan{
		mk("web-1-create-20261126090000", plans.Step{Action: provider.Action{Op: provider.OpCreate, Server: "web-1",
			ServerType: "cx22", Image: "ubuntu-24.04", Location: "fsn1", Labels: map[string]string{"role": "web"},
			SSHKeys: []string{"ops"}, PublicNet: &provider.PublicNet{IPv4: true, IPv6: false}, StartAfterCreate: ptr(true)}}),
		mk("web-1-delete", on(provider.Action{Op: provider.OpDelete, Server: "web-1"})),
		mk("web-1-poweron", on(provider.Action{Op: provider.OpPoweron, Server: "web-1"})),
		mk("web-1-poweroff", on(provider.Action{Op: provider.OpPoweroff, Server: "web-1"})),
		mk("web-1-shutdown", on(provider.Action{Op: provider.OpShutdown, Server: "web-1"})),
		mk("web-1-reboot", on(provider.Action{Op: provider.OpReboot, Server: "web-1"})),
		mk("web-1-reset", on(provider.Action{Op: provider.OpReset, Server: "web-1"})),
		mk("web-1-rebuild", on(provider.Action{Op: provider.OpRebuild, Server: "web-1", Image: "debian-12"})),
		mk("web-1-resize", on(provider.Action{Op: provider.OpResize, Server: "web-1", ServerType: "cx32", UpgradeDisk: true})),
		mk("web-1-label", on(provider.Action{Op: provider.OpLabel, Server: "web-1", Labels: map[string]string{"example.com/tier": "gold", "role": ""}})),
		mk("web-1-rename", on(provider.Action{Op: provider.OpRename, Server: "web-1", NewName: "web-01"})),
		mk("web-1-protect", on(provider.Action{Op: provider.OpProtect, Server: "web-1", Delete: ptr(true), Rebuild: ptr(false)})),
		mk("two.servers_x", on(provider.Action{Op: provider.OpReboot, Server: "web-1"}),
			plans.Step{Action: provider.Action{Op: provider.OpCreate, Server: "db.internal", ServerType: "cx22", Image: "debian-12"}}),
		// A long id is fine for ops that put no vmc.plan label on the server.
		mk(strings.Repeat("p", 128), on(provider.Action{Op: provider.OpPoweroff, Server: "web-1"})),
	}
}

func encode(t testing.TB, p *plans.Plan) []byte {
	t.Helper()
	b, err := p.Encode()
	if err != nil {
		t.Fatalf("encode %s: %v", p.ID, err)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, p := range validPlans() {
		t.Run(p.ID[:min(len(p.ID), 30)], func(t *testing.T) {
			b := encode(t, p)
			if err := canon.Check(b); err != nil {
				t.Fatalf("Encode is not canonical: %v", err)
			}
			q, err := plans.Parse(b)
			if err != nil {
				t.Fatalf("Parse(Encode(p)): %v\n%s", err, b)
			}
			if again := encode(t, q); !bytes.Equal(again, b) {
				t.Fatalf("round trip changed the bytes:\n%s\n%s", b, again)
			}
			file := filepath.Join(dir, p.ID+".json")
			if err := os.WriteFile(file, b, 0o644); err != nil {
				t.Fatal(err)
			}
			lp, lb, err := plans.Load(file)
			if err != nil || lp.ID != p.ID || !bytes.Equal(lb, b) {
				t.Fatalf("Load: %v", err)
			}
			// Renderers mention the plan and every server.
			txt, md := p.Text(b), p.Markdown(b, nil, nil, []string{"x | y"})
			for _, s := range p.Servers() {
				if !strings.Contains(txt, s) || !strings.Contains(md, s) {
					t.Errorf("Text/Markdown do not mention server %s", s)
				}
			}
			if !strings.Contains(md, `x \| y`) {
				t.Errorf("Markdown does not escape table pipes")
			}
		})
	}
}

// mutate decodes b into generic JSON, applies f and re-encodes canonically,
// so that only the mutation (not the encoding) is under test.
func mutate(t *testing.T, b []byte, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	f(m)
	out, err := canon.Marshal(m)
	if err != nil {
		t.Fatalf("re-encode: %v", err)
	}
	return out
}

func action(m map[string]any) map[string]any {
	return m["actions"].([]any)[0].(map[string]any)["action"].(map[string]any)
}

func expect(m map[string]any) map[string]any {
	return m["actions"].([]any)[0].(map[string]any)["expect"].(map[string]any)
}

func TestParseRejects(t *testing.T) {
	ps := validPlans()
	create, poweroff := encode(t, ps[0]), encode(t, ps[3])
	long := strings.Repeat("a", 300)
	type tc struct {
		name string
		in   []byte
		want string // substring of the error
	}
	m := func(base []byte, f func(map[string]any)) []byte { return mutate(t, base, f) }
	cases := []tc{
		{"empty", nil, "plan:"},
		{"not json", []byte("plan"), "plan:"},
		{"array", []byte("[]"), "plan:"},
		{"whitespace", append(append([]byte{}, create...), '\n'), "canonical"},
		{"indented", func() []byte { var o bytes.Buffer; json.Indent(&o, create, "", " "); return o.Bytes() }(), "canonical"},
		{"key order", bytes.Replace(create, []byte(`{"actions":`), []byte(`{"v":1,"actions":`), 1), ""},
		{"duplicate key", bytes.Replace(create, []byte(`"v":1}`), []byte(`"v":1,"v":1}`), 1), ""},
		{"unknown field", m(create, func(m map[string]any) { m["comment"] = "hi" }), "comment"},
		{"unknown action field", m(create, func(m map[string]any) { action(m)["size"] = "xl" }), "size"},
		{"unknown expect field", m(poweroff, func(m map[string]any) { expect(m)["ip"] = "1.2.3.4" }), "ip"},
		{"unknown op", m(poweroff, func(m map[string]any) { action(m)["op"] = "explode" }), "explode"},
		{"op of another op's parameter", m(poweroff, func(m map[string]any) { action(m)["image"] = "debian-12" }), "image"},
		{"version 2", m(create, func(m map[string]any) { m["v"] = 2 }), "format version 2"},
		{"no actions", m(create, func(m map[string]any) { m["actions"] = []any{} }), "0 actions"},
		{"too many actions", m(poweroff, func(m map[string]any) {
			var as []any
			for i := 0; i <= plans.MaxActions; i++ {
				a := map[string]any{"action": map[string]any{"op": "reboot", "server": "s" + strings.Repeat("x", i%5) + string(rune('a'+i%26)) + jsonNum(i)},
					"expect": map[string]any{"exists": true, "server_id": 1}}
				as = append(as, a)
			}
			m["actions"] = as
		}), "actions, want 1 to 100"},
		{"bad created_at", m(create, func(m map[string]any) { m["created_at"] = "yesterday" }), "created_at"},
		{"bad ledger id", m(create, func(m map[string]any) { m["ledger"] = "../x" }), "ledger"},
		{"bad ledger_head blake3", m(create, func(m map[string]any) { m["ledger_head"].(map[string]any)["blake3"] = "00" }), "plan:"},
		{"empty summary", m(create, func(m map[string]any) { m["summary"] = "" }), "summary"},
		{"newline in summary", m(create, func(m map[string]any) { m["summary"] = "a\nb" }), "summary"},
		// Plan ids.
		{"id with slash", m(poweroff, func(m map[string]any) { m["id"] = "a/b" }), "invalid plan id"},
		{"id dot dot", m(poweroff, func(m map[string]any) { m["id"] = ".." }), "invalid plan id"},
		{"id with dot dot", m(poweroff, func(m map[string]any) { m["id"] = "a..b" }), `".."`},
		{"id with NUL", m(poweroff, func(m map[string]any) { m["id"] = "a\x00b" }), "invalid plan id"},
		{"id 300 chars", m(poweroff, func(m map[string]any) { m["id"] = long }), "invalid plan id"},
		{"id upper case", m(poweroff, func(m map[string]any) { m["id"] = "Web-1" }), "invalid plan id"},
		{"id empty", m(poweroff, func(m map[string]any) { m["id"] = "" }), "invalid plan id"},
		{"id leading dash", m(poweroff, func(m map[string]any) { m["id"] = "-x" }), "invalid plan id"},
		{"id too long for the vmc.plan label", m(create, func(m map[string]any) { m["id"] = strings.Repeat("c", 64) }), "label vmc.plan"},
		{"id not a label value", m(create, func(m map[string]any) { m["id"] = "web-1-" }), "label vmc.plan"},
		// Server names.
		{"server with slash", m(poweroff, func(m map[string]any) { action(m)["server"] = "a/b" }), "'/'"},
		{"server dot dot", m(poweroff, func(m map[string]any) { action(m)["server"] = ".." }), `".."`},
		{"server with dot dot", m(poweroff, func(m map[string]any) { action(m)["server"] = "a..b" }), `".."`},
		{"server with NUL", m(poweroff, func(m map[string]any) { action(m)["server"] = "a\x00b" }), "NUL"},
		{"server 300 chars", m(poweroff, func(m map[string]any) { action(m)["server"] = long }), "more than 63"},
		{"server upper case", m(poweroff, func(m map[string]any) { action(m)["server"] = "Web-1" }), "invalid character"},
		{"server .lock", m(poweroff, func(m map[string]any) { action(m)["server"] = "web.lock" }), ".lock"},
		{"server leading dash", m(poweroff, func(m map[string]any) { action(m)["server"] = "-web" }), "'-'"},
		{"server empty", m(poweroff, func(m map[string]any) { action(m)["server"] = "" }), "empty"},
		{"rename to bad name", m(poweroff, func(m map[string]any) { action(m)["op"] = "rename"; action(m)["new_name"] = "../etc" }), "new_name"},
		// Labels (Hetzner's rules).
		{"label key with space", m(create, func(m map[string]any) { action(m)["labels"] = map[string]any{"Bad Key": "x"} }), "invalid character"},
		{"label key empty", m(create, func(m map[string]any) { action(m)["labels"] = map[string]any{"": "x"} }), "empty name"},
		{"label key leading dash", m(create, func(m map[string]any) { action(m)["labels"] = map[string]any{"-k": "x"} }), "start and end"},
		{"label key 64 chars", m(create, func(m map[string]any) { action(m)["labels"] = map[string]any{strings.Repeat("k", 64): "x"} }), "more than 63"},
		{"label prefix upper case", m(create, func(m map[string]any) { action(m)["labels"] = map[string]any{"Example.com/k": "x"} }), "prefix"},
		{"label prefix reserved", m(create, func(m map[string]any) { action(m)["labels"] = map[string]any{"hetzner.cloud/k": "x"} }), "reserved by Hetzner"},
		{"label value 64 chars", m(create, func(m map[string]any) { action(m)["labels"] = map[string]any{"k": strings.Repeat("v", 64)} }), "more than 63"},
		{"label value with slash", m(create, func(m map[string]any) { action(m)["labels"] = map[string]any{"k": "a/b"} }), "invalid character"},
		{"label value with NUL", m(create, func(m map[string]any) { action(m)["labels"] = map[string]any{"k": "a\x00b"} }), "invalid character"},
		{"reserved vmc.plan label", m(create, func(m map[string]any) { action(m)["labels"] = map[string]any{provider.LabelPlan: "x"} }), "reserved for vmc-git"},
		{"reserved vmc.ledger label", m(create, func(m map[string]any) { action(m)["labels"] = map[string]any{provider.LabelLedger: "x"} }), "reserved for vmc-git"},
		{"empty label set on label op", m(poweroff, func(m map[string]any) { action(m)["op"] = "label"; action(m)["labels"] = map[string]any{} }), "labels"},
		// Expectations.
		{"create expects existing", m(create, func(m map[string]any) {
			m["actions"].([]any)[0].(map[string]any)["expect"] = map[string]any{"exists": true, "server_id": 7}
		}), "create expects server web-1 not to exist"},
		{"poweroff expects absent", m(poweroff, func(m map[string]any) {
			m["actions"].([]any)[0].(map[string]any)["expect"] = map[string]any{"exists": false}
		}), "expects server web-1 to exist"},
		{"absent with an id", m(create, func(m map[string]any) { expect(m)["server_id"] = 7 }), "expect must be"},
		{"absent with a status", m(create, func(m map[string]any) { expect(m)["status"] = "running" }), "expect must be"},
		{"existing without id", m(poweroff, func(m map[string]any) { delete(expect(m), "server_id") }), "expect must be"},
		{"zero value spelled out", m(poweroff, func(m map[string]any) { action(m)["upgrade_disk"] = false }), ""},
		{"duplicate server", m(poweroff, func(m map[string]any) {
			as := m["actions"].([]any)
			m["actions"] = append(as, map[string]any{"action": map[string]any{"op": "reboot", "server": "web-1"},
				"expect": map[string]any{"exists": true, "server_id": 42}})
		}), "must be the state action 0 leaves"},
		{"step after a create", m(create, func(m map[string]any) {
			as := m["actions"].([]any)
			m["actions"] = append(as, map[string]any{"action": map[string]any{"op": "reboot", "server": "web-1"},
				"expect": map[string]any{"exists": true, "server_id": 42}})
		}), "appears again after action 0 creates it"},
	}
	seen := map[string]string{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := plans.Parse(c.in)
			if err == nil {
				t.Fatalf("Parse accepted it: %+v\n%q", p, c.in)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not mention %q", err, c.want)
			}
			if strings.Contains(err.Error(), "\x00") {
				t.Errorf("error carries a raw NUL: %q", err)
			}
			// Different rules give different errors.
			if prev, dup := seen[err.Error()]; dup && prev != c.want && c.want != "" && c.want != "plan:" {
				t.Errorf("same error as a case about %q: %v", prev, err)
			}
			seen[err.Error()] = c.want
		})
	}
}

func jsonNum(i int) string { return string(rune('a' + i/26)) }

func TestLoadChecksFileName(t *testing.T) {
	dir := t.TempDir()
	p := validPlans()[3]
	b := encode(t, p)
	for name, want := range map[string]string{
		"other-id.json":  "must match the file name",
		p.ID + ".JSON":   "must match the file name",
		p.ID + ".json~":  "must match the file name",
		"missing/x.json": "no such file",
	} {
		f := filepath.Join(dir, name)
		if !strings.HasPrefix(name, "missing") {
			if err := os.WriteFile(f, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := plans.Load(f); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load(%s): %v, want %q", name, err, want)
		}
	}
}

func TestValidID(t *testing.T) {
	good := []string{"a", "0", "web-1-create-20261126090000", "a.b_c-d", strings.Repeat("x", 128)}
	bad := []string{"", ".", "..", "a..b", "a/b", "/a", "a\\b", "a\x00", "A", "-a", "_a", ".a", "a b", strings.Repeat("x", 129), strings.Repeat("y", 300), "é"}
	for _, id := range good {
		if err := plans.ValidID(id); err != nil {
			t.Errorf("ValidID(%q): %v", id, err)
		}
	}
	for _, id := range bad {
		if err := plans.ValidID(id); err == nil {
			t.Errorf("ValidID(%q) accepted it", id)
		}
	}
}

func TestNewID(t *testing.T) {
	at := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	for _, srv := range []string{"web-1", strings.Repeat("a", 63), "a." + strings.Repeat("b", 60), strings.Repeat("c", 38) + ".d-e"} {
		for _, op := range provider.Ops {
			a := provider.Action{Op: op, Server: srv}
			id := plans.NewID(a, at)
			if err := plans.ValidIDFor(id, []provider.Action{{Op: provider.OpCreate}}); err != nil {
				t.Errorf("NewID(%s %s) = %q: %v", op, srv, id, err)
			}
			if !strings.HasSuffix(id, "-"+string(op)+"-20261126090000") {
				t.Errorf("NewID(%s %s) = %q: lost the op or time", op, srv, id)
			}
		}
	}
	if id := plans.NewID(provider.Action{Op: provider.OpReboot, Server: "web-1"}, at); id != "web-1-reboot-20261126090000" {
		t.Errorf("NewID = %q", id)
	}
}

func FuzzParsePlan(f *testing.F) {
	for _, p := range validPlans() {
		b, err := p.Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"v":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := plans.Parse(b)
		if err != nil {
			return
		}
		// Anything accepted is canonical, valid, and encodes to itself.
		again, err := p.Encode()
		if err != nil {
			t.Fatalf("Parse accepted a plan that Encode refuses: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("Parse accepted non-canonical bytes:\n%q\n%q", b, again)
		}
		for _, s := range p.Servers() {
			if err := provider.CheckServerName(s); err != nil {
				t.Fatalf("accepted server name: %v", err)
			}
		}
		if err := plans.ValidID(p.ID); err != nil {
			t.Fatal(err)
		}
	})
}

// world is a real ledger and a real sandbox behind the hcloud client.
type world struct {
	t      *testing.T
	ledger *gitledger.Ledger
	prov   provider.Provider
	alice  *keys.Signer // admin, applier
	bob    *keys.Signer // approver
	carol  *keys.Signer // applier only: her approvals do not count
	locks  *lock.Locks
	url    string // the sandbox's API
}

const testLedger = "example.com/test/infra"

func signer(t *testing.T, kid string) (*keys.Signer, string) {
	priv, pub, err := keys.Generate(kid)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), kid)
	if err := keys.WriteKeyPair(path, priv, pub); err != nil {
		t.Fatal(err)
	}
	s, err := keys.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return s, keys.FormatPublicKey(s.PublicKey())
}

func newWorld(t *testing.T) *world {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("git", "init", "-q", dir).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v %s", err, out)
	}
	l, err := gitledger.Open(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, ledger: l, locks: lock.New(filepath.Join(dir, "locks"))}
	var apub, bpub, cpub string
	w.alice, apub = signer(t, "alice")
	w.bob, bpub = signer(t, "bob")
	w.carol, cpub = signer(t, "carol")
	g := receipt.Genesis{Keys: []keys.KeySpec{
		{KID: "alice", PublicKey: apub, Roles: []keys.Role{keys.RoleAdmin, keys.RoleApplier}},
		{KID: "bob", PublicKey: bpub, Roles: []keys.Role{keys.RoleApprover}},
		{KID: "carol", PublicKey: cpub, Roles: []keys.Role{keys.RoleApplier}},
	}, Policy: keys.Policy{ApprovalsRequired: 1, AdminThreshold: 1}}
	if _, err := l.Init(testLedger, w.alice, "alice", g, time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	sb, err := sandbox.New(sandbox.Options{Token: "test-token", ActionDuration: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	url, err := sb.Start("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	w.url = url
	if w.prov, err = provider.New(provider.Config{Token: "test-token", Endpoint: url, PollInterval: 5 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) head() plans.LedgerRef {
	tip, err := w.ledger.Tip()
	if err != nil {
		w.t.Fatal(err)
	}
	return plans.LedgerRef{Seq: tip.Head.Seq, Blake3: tip.Head.Blake3}
}

func (w *world) plan(id string, a provider.Action) (*plans.Plan, []byte) {
	w.t.Helper()
	p, err := plans.Make(context.Background(), w.prov, plans.Request{ID: id, Ledger: testLedger, Head: w.head(), Actions: []provider.Action{a}})
	if err != nil {
		w.t.Fatalf("plan %s: %v", id, err)
	}
	return p, encode(w.t, p)
}

// apply approves (as bob) and applies a plan with the real Applier.
func (w *world) apply(b []byte) *apply.Outcome {
	w.t.Helper()
	sig, err := plans.Approve(w.bob, b)
	if err != nil {
		w.t.Fatal(err)
	}
	ap := apply.New(apply.Options{Ledger: w.ledger, Provider: w.prov, Signer: w.alice, KID: "alice", Locks: w.locks})
	o, err := ap.Apply(context.Background(), apply.Input{Bytes: b, Approvals: map[string][]byte{"bob": sig}})
	if err != nil {
		w.t.Fatalf("apply: %v", err)
	}
	if o.Status != provider.StatusSucceeded {
		w.t.Fatalf("apply: %+v", o)
	}
	return o
}

func (w *world) checkFresh(p *plans.Plan) error {
	view, err := apply.NewLedgerView(w.ledger)
	if err != nil {
		w.t.Fatal(err)
	}
	return plans.CheckFresh(context.Background(), w.prov, view, p)
}

func create(name string) provider.Action {
	return provider.Action{Op: provider.OpCreate, Server: name, ServerType: "cx22", Image: "ubuntu-24.04", Location: "fsn1",
		Labels: map[string]string{"role": "web"}}
}

func TestMakeAndCheckFresh(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()

	// Dry runs refuse what cannot work, and change nothing.
	if _, err := plans.Make(ctx, w.prov, plans.Request{Ledger: testLedger, Head: w.head(),
		Actions: []provider.Action{{Op: provider.OpPoweroff, Server: "web-1"}}}); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("plan poweroff of a missing server: %v", err)
	}
	if _, err := plans.Make(ctx, w.prov, plans.Request{Ledger: testLedger, Head: w.head(),
		Actions: []provider.Action{{Op: provider.OpPoweroff, Server: "a/b"}}}); !errors.Is(err, provider.ErrInvalidAction) {
		t.Fatalf("plan for server a/b: %v", err)
	}
	if _, err := plans.Make(ctx, w.prov, plans.Request{ID: strings.Repeat("x", 64), Ledger: testLedger, Head: w.head(),
		Actions: []provider.Action{create("web-9")}}); err == nil || !strings.Contains(err.Error(), "label vmc.plan") {
		t.Fatalf("create plan with a 64-character id: %v", err)
	}
	if ss, _ := w.prov.Servers(ctx, ""); len(ss) != 0 {
		t.Fatalf("dry runs created servers: %v", ss)
	}

	// A fresh create plan, applied.
	p1, b1 := w.plan("web-1-create", create("web-1"))
	if err := w.checkFresh(p1); err != nil {
		t.Fatalf("fresh plan: %v", err)
	}
	o := w.apply(b1)
	if err := w.checkFresh(p1); err == nil || !strings.Contains(err.Error(), "now exists") {
		t.Fatalf("create plan after the server exists: %v", err)
	}

	// Two plans made at the same head on web-1; applying one makes the other stale.
	_, b2 := w.plan("web-1-poweroff", provider.Action{Op: provider.OpPoweroff, Server: "web-1"})
	p3, _ := w.plan("web-1-reboot", provider.Action{Op: provider.OpReboot, Server: "web-1"})
	// A plan for another server, made at the same head, stays fresh.
	p4, _ := w.plan("web-2-create", create("web-2"))
	w.apply(b2)
	err := w.checkFresh(p3)
	var se *plans.StaleError
	if !errors.As(err, &se) {
		t.Fatalf("reboot after poweroff: %v, want a StaleError", err)
	}
	msg := err.Error()
	for _, want := range []string{"plan web-1-reboot is stale", "status planned running, now off", "changed server web-1 after this plan was made", "plan web-1-poweroff"} {
		if !strings.Contains(msg, want) {
			t.Errorf("stale error %q does not say %q", msg, want)
		}
	}
	if err := w.checkFresh(p4); err != nil {
		t.Fatalf("plan for an untouched server went stale: %v", err)
	}

	// Changed behind vmc-git's back: labels, type (needs off: it is off now).
	if _, err := w.prov.Apply(ctx, provider.Action{Op: provider.OpResize, Server: "web-1", ServerType: "cx32"}, nil); err != nil {
		t.Fatal(err)
	}
	p5, _ := w.plan("web-1-protect", provider.Action{Op: provider.OpProtect, Server: "web-1", Delete: ptr(true)})
	if _, err := w.prov.Apply(ctx, provider.Action{Op: provider.OpLabel, Server: "web-1", Labels: map[string]string{"role": "db"}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.checkFresh(p5); err == nil || !strings.Contains(err.Error(), "labels planned") {
		t.Fatalf("labels changed: %v", err)
	}
	p6, _ := w.plan("web-1-poweron", provider.Action{Op: provider.OpPoweron, Server: "web-1"})
	if _, err := w.prov.Apply(ctx, provider.Action{Op: provider.OpResize, Server: "web-1", ServerType: "cx42"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.checkFresh(p6); err == nil || !strings.Contains(err.Error(), "type planned cx32, now cx42") {
		t.Fatalf("type changed: %v", err)
	}
	// Deleted and re-created under the same name: the id differs.
	p7, _ := w.plan("web-1-poweron-2", provider.Action{Op: provider.OpPoweron, Server: "web-1"})
	if _, err := w.prov.Apply(ctx, provider.Action{Op: provider.OpDelete, Server: "web-1"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.checkFresh(p7); err == nil || !strings.Contains(err.Error(), "no longer exists") {
		t.Fatalf("deleted: %v", err)
	}
	if _, err := w.prov.Apply(ctx, create("web-1"), nil); err != nil {
		t.Fatal(err)
	}
	if err := w.checkFresh(p7); err == nil || !strings.Contains(err.Error(), "(replaced)") {
		t.Fatalf("replaced: %v", err)
	}

	// The ledger: a head from another ledger (or rewritten history), a head beyond the tip.
	p8, _ := w.plan("web-1-reset", provider.Action{Op: provider.OpReset, Server: "web-1"})
	p8.LedgerHead.Blake3 = digest.Blake3([]byte("another ledger"))
	if err := w.checkFresh(p8); err == nil || !strings.Contains(err.Error(), "another ledger or rewritten history") {
		t.Fatalf("foreign head: %v", err)
	}
	p8.LedgerHead.Seq = o.Seq + 100
	if err := w.checkFresh(p8); err == nil || !strings.Contains(err.Error(), "but the ledger ends at") {
		t.Fatalf("head beyond tip: %v", err)
	}
}

func TestApprovalSet(t *testing.T) {
	w := newWorld(t)
	_, b := w.plan("web-1-create", create("web-1"))
	tip, err := w.ledger.Tip()
	if err != nil {
		t.Fatal(err)
	}
	sign := func(s *keys.Signer, msg []byte) []byte {
		sig, err := plans.Approve(s, msg)
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	now := time.Now()
	if st := plans.CheckApprovalSet(tip.Trust, b, map[string][]byte{"bob": sign(w.bob, b)}, now); !st.Approved() || len(st.Valid) != 1 {
		t.Fatalf("bob's approval: %+v", st)
	}
	if st := plans.CheckApprovalSet(tip.Trust, b, nil, now); st.Approved() || st.Missing != 1 {
		t.Fatalf("no approvals: %+v", st)
	}
	// carol is not an approver; alice's signature filed as bob's is not bob's.
	st := plans.CheckApprovalSet(tip.Trust, b, map[string][]byte{"carol": sign(w.carol, b), "bob": sign(w.alice, b), "mallory": sign(w.alice, b)}, now)
	if st.Approved() || len(st.Invalid) != 3 {
		t.Fatalf("bad approvals counted: %+v", st)
	}
	// Edited after approval: one byte of the summary, still canonical.
	edited := bytes.Replace(b, []byte(`"summary":"create`), []byte(`"summary":"Create`), 1)
	if _, err := plans.Parse(edited); err != nil {
		t.Fatal(err)
	}
	if st := plans.CheckApprovalSet(tip.Trust, edited, map[string][]byte{"bob": sign(w.bob, b)}, now); st.Approved() {
		t.Fatalf("approval of other bytes counted: %+v", st)
	}
	// A receipt signature (other namespace) is not an approval.
	rs, err := w.bob.Sign(keys.NamespaceReceipt, b)
	if err != nil {
		t.Fatal(err)
	}
	if st := plans.CheckApprovalSet(tip.Trust, b, map[string][]byte{"bob": rs}, now); st.Approved() {
		t.Fatalf("signature in namespace %s counted as approval", keys.NamespaceReceipt)
	}
	// Approve refuses to sign what is not a valid plan.
	if _, err := plans.Approve(w.bob, append(b, ' ')); err == nil {
		t.Fatal("Approve signed a non-canonical plan")
	}
}

func TestLoadApprovals(t *testing.T) {
	dir := t.TempDir()
	ad := filepath.Join(dir, "p"+plans.ApprovalsSuffix)
	if got, err := plans.LoadApprovals(dir, "p"); err != nil || len(got) != 0 {
		t.Fatalf("no approvals dir: %v %v", got, err)
	}
	os.MkdirAll(ad, 0o755)
	os.WriteFile(filepath.Join(ad, "bob.sig"), []byte("sig"), 0o644)
	if got, err := plans.LoadApprovals(dir, "p"); err != nil || string(got["bob"]) != "sig" {
		t.Fatalf("LoadApprovals: %v %v", got, err)
	}
	os.WriteFile(filepath.Join(ad, "Bad Kid.sig"), []byte("sig"), 0o644)
	if _, err := plans.LoadApprovals(dir, "p"); err == nil || !strings.Contains(err.Error(), "not an approval") {
		t.Fatalf("bad approval file name: %v", err)
	}
}
