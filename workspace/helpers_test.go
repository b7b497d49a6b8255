package workspace

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/internal/config"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/provider"
	"github.com/vmc-git/vmc-git/receipt"
)

const testLedger = "example.com/acme/infra"

// world is a ledger repository made by Init, with operator keys.
type world struct {
	t     *testing.T
	root  string
	keys  string // directory of the key files
	locks string // per-server lock directory
	ids   map[string]Identity
}

// key makes an operator key pair in w.keys and loads it.
func (w *world) key(kid string) Identity {
	w.t.Helper()
	priv, pub, err := keys.Generate(kid)
	if err != nil {
		w.t.Fatal(err)
	}
	path := filepath.Join(w.keys, kid)
	if err := keys.WriteKeyPair(path, priv, pub); err != nil {
		w.t.Fatal(err)
	}
	s, err := keys.Load(path)
	if err != nil {
		w.t.Fatal(err)
	}
	w.ids[kid] = Identity{Signer: s, KID: kid}
	return w.ids[kid]
}

func spec(id Identity, roles ...keys.Role) keys.KeySpec {
	return keys.KeySpec{KID: id.KID, PublicKey: keys.FormatPublicKey(id.Signer.PublicKey()), Roles: roles}
}

// newWorld initializes a ledger with the embedded sandbox: alice (admin,
// applier, approver) and bob (approver), or with adminThreshold 2 carol as
// a second admin.
func newWorld(t *testing.T, adminThreshold int) *world {
	t.Helper()
	t.Setenv(EnvSandboxActionMS, "0")
	t.Setenv(provider.EnvEndpoint, "")
	dir := t.TempDir()
	w := &world{t: t, root: filepath.Join(dir, "infra"), keys: filepath.Join(dir, "keys"), locks: filepath.Join(dir, "locks"), ids: map[string]Identity{}}
	os.MkdirAll(w.keys, 0o700)
	alice, bob := w.key("alice"), w.key("bob")
	specs := []keys.KeySpec{spec(alice, keys.RoleAdmin, keys.RoleApplier, keys.RoleApprover), spec(bob, keys.RoleApprover)}
	if adminThreshold > 1 {
		specs = append(specs, spec(w.key("carol"), keys.RoleAdmin))
	}
	_, err := Init(InitRequest{Dir: w.root, Ledger: testLedger, Branch: DefaultBranch, MainBranch: "main", Provider: config.ProviderSandbox, NoPolicy: true,
		Genesis: receipt.Genesis{Keys: specs, Policy: keys.Policy{ApprovalsRequired: 1, AdminThreshold: adminThreshold}}}, alice)
	if err != nil {
		t.Fatalf("init: %v", err)
	}
	return w
}

func (w *world) open() *Workspace {
	w.t.Helper()
	ws, err := Open(w.root, "", nil)
	if err != nil {
		w.t.Fatalf("open: %v", err)
	}
	w.t.Cleanup(ws.Close)
	return ws
}

// git runs the real git in the repository.
func (w *world) git(args ...string) string {
	w.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = w.root
	out, err := cmd.CombinedOutput()
	if err != nil {
		w.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func createAction(server string) provider.Action {
	return provider.Action{Op: provider.OpCreate, Server: server, ServerType: "cx22", Image: "ubuntu-24.04"}
}

// plan makes plan id, has bob approve it and, with merge, commits it on main.
func (w *world) plan(ws *Workspace, id string, merge bool, actions ...provider.Action) *MadePlan {
	w.t.Helper()
	m, err := ws.MakePlan(context.Background(), PlanRequest{ID: id, CreatedBy: "alice", Actions: actions})
	if err != nil {
		w.t.Fatalf("plan %s: %v", id, err)
	}
	if _, err := Approve(ws, m.Path, m.Plan, m.Bytes, w.ids["bob"]); err != nil {
		w.t.Fatalf("approve %s: %v", id, err)
	}
	if merge {
		if err := CommitFiles(w.root, "alice", "plan "+id, "plans"); err != nil {
			w.t.Fatal(err)
		}
	}
	return m
}

func (w *world) applyReq() ApplyRequest {
	return ApplyRequest{LockDir: w.locks, LockWait: 0}
}
