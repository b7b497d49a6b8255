package main

// End-to-end tests: the real binary, the real git, real process kills.
//
// TestMain builds vmc-git once. Every test makes its own ledger repository
// with "vmc-git init", with HOME and XDG_CACHE_HOME (so the lock directory)
// in its own temporary directory. Plans are made with "vmc-git plan server",
// approved with "vmc-git approve", committed with git, and applied by running
// "vmc-git apply" as a subprocess, against the embedded sandbox (provider
// sandbox, state in .git/vmc/sandbox.json) or against a sandbox this test
// process serves (HCLOUD_ENDPOINT), which is how faults are injected and how
// two appliers run truly at the same time (the embedded sandbox serializes
// processes with an flock).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/apply"
	"github.com/vmc-git/vmc-git/internal/clitest"
	"github.com/vmc-git/vmc-git/internal/nettest"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/provider"
	"github.com/vmc-git/vmc-git/provider/sandbox"
	"github.com/vmc-git/vmc-git/receipt"
)

var (
	vmcBin  string // the built binary
	keysDir string // alice (admin, applier), bob (approver), carol (applier)
)

const (
	testLedgerID  = "example.com/test/infra"
	otherLedgerID = "example.com/other/infra"
	sandboxToken  = "e2e-sandbox-token"
)

func TestMain(m *testing.M) {
	os.Exit(clitest.Main(m, func(e *clitest.Env) { vmcBin, keysDir = e.Bin, e.Keys }))
}

func key(kid string) string { return filepath.Join(keysDir, kid) }

// result is one finished vmc-git process.
type result struct {
	args     []string
	code     int
	out, err string
	took     time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("vmc-git %s: exit %d\nstdout:\n%sstderr:\n%s", strings.Join(r.args, " "), r.code, r.out, r.err)
}

// repo is a ledger repository made by vmc-git init.
type repo struct {
	t    *testing.T
	root string
	env  []string
}

type repoOpts struct {
	ledger   string
	provider string   // config provider (default sandbox)
	env      []string // extra environment
	policy   bool     // keep init's default policy set (else init --no-policy)
}

func newRepo(t *testing.T, o repoOpts) *repo {
	t.Helper()
	if o.ledger == "" {
		o.ledger = testLedgerID
	}
	if o.provider == "" {
		o.provider = "sandbox"
	}
	dir := t.TempDir()
	r := &repo{t: t, root: filepath.Join(dir, "infra"), env: append(isolatedEnv(dir), "VMC_SANDBOX_ACTION_MS=20")}
	r.env = append(r.env, o.env...)
	args := []string{"init", r.root, "--ledger", o.ledger, "--key", key("alice"), "--roles", "admin,applier",
		"--operator", "bob:approver:" + key("bob") + ".pub", "--operator", "carol:applier:" + key("carol") + ".pub",
		"--provider", o.provider}
	if !o.policy {
		args = append(args, "--no-policy")
	}
	r.must(args...)
	r.git("config", "user.name", "Test")
	r.git("config", "user.email", "test@example.com")
	return r
}

func (r *repo) command(extraEnv []string, args ...string) *exec.Cmd {
	cmd := exec.Command(vmcBin, args...)
	cmd.Dir = r.root
	if cmd.Dir == "" || !exists(cmd.Dir) {
		cmd.Dir = filepath.Dir(r.root)
	}
	cmd.Env = append(slices.Clone(r.env), extraEnv...)
	return cmd
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// runEnv runs vmc-git with extra environment variables.
func (r *repo) runEnv(extraEnv []string, args ...string) result {
	r.t.Helper()
	cmd := r.command(extraEnv, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	res := result{args: args, out: out.String(), err: errb.String(), took: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	case err != nil:
		r.t.Fatalf("run vmc-git: %v", err)
	}
	if strings.Contains(res.err, "panic:") || strings.Contains(res.err, "goroutine ") {
		r.t.Fatalf("vmc-git panicked:\n%s", res)
	}
	return res
}

func (r *repo) run(args ...string) result { r.t.Helper(); return r.runEnv(nil, args...) }

func (r *repo) must(args ...string) string {
	r.t.Helper()
	res := r.run(args...)
	if res.code != 0 {
		r.t.Fatalf("%s", res)
	}
	return res.out
}

func (r *repo) git(args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = r.root
	cmd.Env = r.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func (r *repo) ledgerHead() string { r.t.Helper(); return r.git("rev-parse", "refs/heads/vmc/ledger") }

func (r *repo) planFile(id string) string { return filepath.Join(r.root, "plans", id+".json") }

// plan makes plan id with "plan server OP SERVER ARGS..." and returns its file.
func (r *repo) plan(id string, op, server string, args ...string) string {
	r.t.Helper()
	r.must(append([]string{"plan", "server", op, server, "--id", id, "--kid", "alice"}, args...)...)
	return r.planFile(id)
}

func (r *repo) approve(id, kid string) {
	r.t.Helper()
	r.must("approve", r.planFile(id), "--key", key(kid))
}

// planApproved makes, approves (bob) and commits a plan on main.
func (r *repo) planApproved(id string, op, server string, args ...string) {
	r.t.Helper()
	r.plan(id, op, server, args...)
	r.approve(id, "bob")
	r.commit("plan " + id)
}

func (r *repo) commit(msg string) {
	r.t.Helper()
	r.git("add", "plans")
	r.git("commit", "-q", "-m", msg)
}

// applyReceipts returns every apply receipt, by plan id.
func (r *repo) applyReceipts() map[string][]*receipt.Receipt {
	r.t.Helper()
	var rows []struct {
		Seq  uint64 `json:"seq"`
		Kind string `json:"kind"`
	}
	if err := json.Unmarshal([]byte(r.must("log", "--json", "-n", "0")), &rows); err != nil {
		r.t.Fatal(err)
	}
	out := map[string][]*receipt.Receipt{}
	for _, row := range rows {
		if row.Kind != string(receipt.KindApply) {
			continue
		}
		rc, err := receipt.Parse([]byte(r.must("show", strconv.FormatUint(row.Seq, 10), "--raw")))
		if err != nil {
			r.t.Fatalf("receipt %d: %v", row.Seq, err)
		}
		out[rc.Apply.Plan.ID] = append(out[rc.Apply.Plan.ID], rc)
	}
	return out
}

// onlyReceipt returns the one apply receipt of plan id.
func (r *repo) onlyReceipt(id string) *receipt.Receipt {
	r.t.Helper()
	rs := r.applyReceipts()[id]
	if len(rs) != 1 {
		r.t.Fatalf("plan %s has %d apply receipts, want exactly 1", id, len(rs))
	}
	return rs[0]
}

func results(t *testing.T, rc *receipt.Receipt) []provider.Result {
	t.Helper()
	var out []provider.Result
	for _, a := range rc.Apply.Actions {
		var res provider.Result
		if err := json.Unmarshal(a.Result, &res); err != nil {
			t.Fatal(err)
		}
		out = append(out, res)
	}
	return out
}

// verify checks the whole chain with signatures, and that the ledger branch
// is one linear chain of n commits.
func (r *repo) verify(n int) {
	r.t.Helper()
	out := r.must("verify", "chain", "--sig", "--no-remember")
	if !strings.HasPrefix(out, "ok: ") {
		r.t.Fatalf("verify chain: %s", out)
	}
	if got := r.git("rev-list", "--count", "refs/heads/vmc/ledger"); got != strconv.Itoa(n) {
		r.t.Fatalf("ledger has %s commits, want %d", got, n)
	}
	if merges := r.git("rev-list", "--min-parents=2", "refs/heads/vmc/ledger"); merges != "" {
		r.t.Fatalf("ledger has merge commits: %s", merges)
	}
}

// noLeftovers checks that no intent journal or lock file is left.
func (r *repo) noLeftovers() {
	r.t.Helper()
	if ents, _ := os.ReadDir(filepath.Join(r.root, ".git", "vmc", "intents")); len(ents) > 0 {
		r.t.Errorf("intent journal left: %v", ents)
	}
	if out := strings.TrimSpace(r.must("lock", "list", "--json")); out != "[]" {
		r.t.Errorf("locks left: %s", out)
	}
}

// sandboxState serves a copy of the embedded sandbox's state (after every
// vmc-git process has exited) and returns a provider on it and the base URL.
func (r *repo) sandboxState() (provider.Provider, string) {
	r.t.Helper()
	b, err := os.ReadFile(filepath.Join(r.root, ".git", "vmc", "sandbox.json"))
	if err != nil {
		r.t.Fatal(err)
	}
	cp := filepath.Join(r.t.TempDir(), "sandbox.json")
	if err := os.WriteFile(cp, b, 0o644); err != nil {
		r.t.Fatal(err)
	}
	sb, err := sandbox.New(sandbox.Options{Token: sandboxToken, StatePath: cp, ActionDuration: 20 * time.Millisecond})
	if err != nil {
		r.t.Fatal(err)
	}
	return serve(r.t, sb)
}

func serve(t *testing.T, sb *sandbox.Server) (provider.Provider, string) {
	t.Helper()
	url, err := sb.Start("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	p, err := provider.New(provider.Config{Token: sandboxToken, Endpoint: url, PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return p, url
}

func servers(t *testing.T, p provider.Provider) []provider.Server {
	t.Helper()
	ss, err := p.Servers(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

// serverActions lists the commands of every action the sandbox ran on a server.
func serverActions(t *testing.T, url string, id int64) []string {
	t.Helper()
	var l schema.ActionListResponse
	sandboxGet(t, url, fmt.Sprintf("/servers/%d/actions?per_page=50", id), &l)
	var cmds []string
	for _, a := range l.Actions {
		cmds = append(cmds, a.Command)
	}
	slices.Sort(cmds)
	return cmds
}

func hetznerEnv(url string) []string {
	return []string{"HCLOUD_ENDPOINT=" + url, "HCLOUD_TOKEN=" + sandboxToken}
}

// checkError checks the CLI's error format and exit code.
func checkError(t *testing.T, res result, code int, want ...string) {
	t.Helper()
	if res.code != code {
		t.Fatalf("exit %d, want %d\n%s", res.code, code, res)
	}
	if !strings.HasPrefix(res.err, "vmc-git: error: ") && !strings.Contains(res.err, "\nvmc-git: error: ") {
		t.Fatalf("no \"vmc-git: error: \" line\n%s", res)
	}
	for _, w := range want {
		if !strings.Contains(res.err, w) {
			t.Fatalf("stderr does not say %q\n%s", w, res)
		}
	}
	for _, line := range strings.Split(strings.TrimRight(res.err, "\n"), "\n") {
		if !strings.HasPrefix(line, "vmc-git: ") {
			t.Errorf("stderr line without the vmc-git: prefix: %q", line)
		}
	}
}

func TestHappyPath(t *testing.T) {
	t.Parallel()
	r := newRepo(t, repoOpts{})
	type step struct {
		id, op, server string
		args           []string
	}
	steps := []step{
		{"web-1-create", "create", "web-1", []string{"--type", "cx22", "--image", "ubuntu-24.04", "--location", "fsn1", "--label", "role=web", "--label", "example.com/tier=gold"}},
		{"web-1-poweroff", "poweroff", "web-1", nil},
		{"web-1-resize", "resize", "web-1", []string{"--type", "cx32"}},
		{"web-1-poweron", "poweron", "web-1", nil},
		{"web-1-reboot", "reboot", "web-1", nil},
		{"web-1-label", "label", "web-1", []string{"--label", "role=db"}},
		{"web-1-protect", "protect", "web-1", []string{"--delete"}},
		{"web-1-unprotect", "protect", "web-1", []string{"--delete=false", "--rebuild=false"}},
		{"web-1-rebuild", "rebuild", "web-1", []string{"--image", "debian-12"}},
		{"web-1-rename", "rename", "web-1", []string{"--new-name", "db-1"}},
		{"db-1-shutdown", "shutdown", "db-1", nil},
		{"db-1-delete", "delete", "db-1", nil},
	}
	for i, s := range steps {
		r.planApproved(s.id, s.op, s.server, s.args...)
		status := r.must("plan", "status", r.planFile(s.id))
		if !strings.Contains(status, "ready to apply") {
			t.Fatalf("plan status before apply: %s", status)
		}
		out := r.must("apply", "--pending", "--key", key("alice"))
		want := fmt.Sprintf("applied plan %s: succeeded -> receipt %d", s.id, i+1)
		if !strings.Contains(out, want) {
			t.Fatalf("apply output %q does not say %q", out, want)
		}
		if s.id == "web-1-label" {
			p, _ := r.sandboxState()
			ss := servers(t, p)
			if len(ss) != 1 || ss[0].Labels["role"] != "db" || ss[0].Labels["example.com/tier"] != "" ||
				ss[0].Labels[provider.LabelPlan] != "web-1-label" || ss[0].Labels[provider.LabelLedger] != provider.LabelValue(testLedgerID) {
				t.Fatalf("labels after the label plan: %+v", ss)
			}
		}
	}
	if !strings.Contains(r.must("plan", "status", r.planFile("web-1-create")), "applied: yes") {
		t.Error("plan status does not report the plan applied")
	}
	if out := r.must("apply", "--pending", "--key", key("alice")); out != "nothing to apply\n" {
		t.Fatalf("second apply --pending: %q", out)
	}
	r.verify(len(steps) + 1)
	r.noLeftovers()
	for _, s := range steps {
		rc := r.onlyReceipt(s.id)
		if rc.Apply.Recovered || !slices.Equal(rc.Apply.Plan.Approvals, []string{"bob"}) || len(rc.Apply.Plan.Commit) != 40 {
			t.Errorf("receipt of %s: %+v", s.id, rc.Apply.Plan)
		}
		for _, res := range results(t, rc) {
			if res.Status != provider.StatusSucceeded {
				t.Errorf("plan %s: %+v", s.id, res)
			}
		}
		// The ledger keeps the exact plan bytes and the approval.
		want, _ := os.ReadFile(r.planFile(s.id))
		if got := r.git("show", "refs/heads/vmc/ledger:plans/"+s.id+".json"); got != strings.TrimSpace(string(want)) {
			t.Errorf("plan copy of %s differs", s.id)
		}
		r.git("cat-file", "-e", "refs/heads/vmc/ledger:plans/"+s.id+".approvals/bob.sig")
	}
	p, _ := r.sandboxState()
	if ss := servers(t, p); len(ss) != 0 {
		t.Fatalf("servers left after the delete: %+v", ss)
	}
	// git itself accepts every ledger commit signature.
	as := filepath.Join(t.TempDir(), "allowed_signers")
	os.WriteFile(as, []byte(r.git("show", "refs/heads/vmc/ledger:keys/allowed_signers")+"\n"), 0o644)
	r.git("-c", "gpg.format=ssh", "-c", "gpg.ssh.allowedSignersFile="+as, "verify-commit", "refs/heads/vmc/ledger")
}

// TestCrash kills apply (VMC_FAULT: exit 99) at each step, for a create and a
// poweroff plan; the next apply --pending must write exactly one receipt.
func TestCrash(t *testing.T) {
	t.Parallel()
	steps := []string{apply.StepBeforeProvider, apply.StepAfterProvider, apply.StepBeforeCommit, apply.StepAfterCommit}
	for _, op := range []string{"create", "poweroff"} {
		for _, step := range steps {
			t.Run(op+"/"+step, func(t *testing.T) {
				t.Parallel()
				r := newRepo(t, repoOpts{})
				receipts := 1
				if op == "poweroff" {
					r.planApproved("web-1-create", "create", "web-1", "--type", "cx22", "--image", "ubuntu-24.04")
					r.must("apply", "--pending", "--key", key("alice"))
					receipts++
					r.planApproved("web-1-poweroff", "poweroff", "web-1")
				} else {
					r.planApproved("web-1-create", "create", "web-1", "--type", "cx22", "--image", "ubuntu-24.04", "--label", "role=web")
				}
				id := "web-1-" + op
				before := r.ledgerHead()
				res := r.runEnv([]string{"VMC_FAULT=" + step}, "apply", "--pending", "--key", key("alice"))
				if res.code != 99 || !strings.Contains(res.err, "fault injected at "+step) {
					t.Fatalf("crash run: %s", res)
				}
				if !exists(filepath.Join(r.root, ".git", "vmc", "intents", id+".json")) {
					t.Fatalf("no intent journal after a crash at %s", step)
				}
				moved := r.ledgerHead() != before
				if moved != (step == apply.StepAfterCommit) {
					t.Fatalf("crash at %s: ledger moved = %v", step, moved)
				}
				// The crashed process left its locks behind; they are stale.
				if out := r.must("lock", "list"); !strings.Contains(out, "(stale)") {
					t.Fatalf("lock list after the crash: %s", out)
				}

				if step == apply.StepAfterCommit {
					// apply --plan of the plan whose receipt the crashed run wrote:
					// a replay, refused (this used to dereference a nil outcome).
					res := r.run("apply", "--plan", r.planFile(id), "--key", key("alice"))
					checkError(t, res, exitRefused, "plan already applied")
				}
				res = r.run("apply", "--pending", "--key", key("alice"))
				if res.code != 0 {
					t.Fatalf("recovery run: %s", res)
				}
				wantRecovered := step != apply.StepAfterCommit
				if wantRecovered != strings.Contains(res.out, "applied plan "+id+": succeeded (recovered)") {
					t.Fatalf("recovery run output (recovered: %v):\n%s", wantRecovered, res)
				}
				if out := r.must("apply", "--pending", "--key", key("alice")); out != "nothing to apply\n" {
					t.Fatalf("third run: %q", out)
				}
				rc := r.onlyReceipt(id)
				if rc.Apply.Recovered != wantRecovered {
					t.Errorf("receipt recovered = %v, want %v", rc.Apply.Recovered, wantRecovered)
				}
				for _, res := range results(t, rc) {
					if res.Status != provider.StatusSucceeded || res.Observed == nil {
						t.Errorf("result %+v", res)
					}
				}
				r.verify(receipts + 1)
				r.noLeftovers()

				p, url := r.sandboxState()
				ss := servers(t, p)
				if len(ss) != 1 {
					t.Fatalf("sandbox has %d servers, want 1: %+v", len(ss), ss)
				}
				s := ss[0]
				if s.Labels[provider.LabelPlan] != "web-1-create" || s.Labels[provider.LabelLedger] != provider.LabelValue(testLedgerID) {
					t.Errorf("labels %v", s.Labels)
				}
				want := []string{"create_server", "start_server"}
				if op == "poweroff" {
					want = []string{"create_server", "start_server", "stop_server"}
					if s.Status != "off" {
						t.Errorf("status %s, want off", s.Status)
					}
				}
				if got := serverActions(t, url, s.ID); !slices.Equal(got, want) {
					t.Errorf("provider actions %v, want %v (each exactly once)", got, want)
				}
			})
		}
	}
}

// TestConcurrentPending starts two apply --pending processes at once on one
// repository with three pending plans.
func TestConcurrentPending(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"embedded", "served"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			var env []string
			var url string
			var prov provider.Provider
			if mode == "served" {
				// No sandbox flock: the two processes really overlap, and
				// only the locks and the ledger's compare-and-swap keep them apart.
				sb, err := sandbox.New(sandbox.Options{Token: sandboxToken, ActionDuration: 150 * time.Millisecond})
				if err != nil {
					t.Fatal(err)
				}
				prov, url = serve(t, sb)
				env = hetznerEnv(url)
			}
			r := newRepo(t, repoOpts{env: env})
			ids := []string{"web-1-create", "web-2-create", "web-3-create"}
			for i, id := range ids {
				r.planApproved(id, "create", fmt.Sprintf("web-%d", i+1), "--type", "cx22", "--image", "ubuntu-24.04")
			}
			outs := startTogether(t, r, nil, nil)
			all := outs[0].out + outs[1].out
			for _, id := range ids {
				if n := strings.Count(all, "applied plan "+id+": succeeded"); n != 1 {
					t.Errorf("plan %s applied %d times by the two processes:\n%s\n%s", id, n, outs[0], outs[1])
				}
				r.onlyReceipt(id)
			}
			r.verify(len(ids) + 1)
			r.noLeftovers()
			if mode == "embedded" {
				prov, url = r.sandboxState()
			}
			ss := servers(t, prov)
			if len(ss) != 3 {
				t.Fatalf("%d servers, want 3", len(ss))
			}
			for _, s := range ss {
				if got := serverActions(t, url, s.ID); !slices.Equal(got, []string{"create_server", "start_server"}) {
					t.Errorf("server %s: actions %v", s.Name, got)
				}
			}
		})
	}
}

// startTogether runs two vmc-git apply --pending processes at once and
// expects both to succeed.
func startTogether(t *testing.T, r *repo, env1, env2 []string) [2]result {
	t.Helper()
	var outs [2]result
	copy(outs[:], runAll(r.command(env1, "apply", "--pending", "--key", key("alice")), r.command(env2, "apply", "--pending", "--key", key("alice"))))
	for _, o := range outs {
		if o.code != 0 {
			t.Fatalf("concurrent apply failed:\n%s", o)
		}
	}
	return outs
}

// TestConcurrentRecovery: an apply crashed before calling the provider; two
// appliers then recover it at the same time. The action runs once.
func TestConcurrentRecovery(t *testing.T) {
	t.Parallel()
	sb, err := sandbox.New(sandbox.Options{Token: sandboxToken, ActionDuration: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	prov, url := serve(t, sb)
	r := newRepo(t, repoOpts{env: hetznerEnv(url)})
	r.planApproved("web-1-create", "create", "web-1", "--type", "cx22", "--image", "ubuntu-24.04")
	r.must("apply", "--pending", "--key", key("alice"))
	r.planApproved("web-1-poweroff", "poweroff", "web-1")
	if res := r.runEnv([]string{"VMC_FAULT=" + apply.StepBeforeProvider}, "apply", "--pending", "--key", key("alice")); res.code != 99 {
		t.Fatalf("crash run: %s", res)
	}
	outs := startTogether(t, r, nil, nil)
	if n := strings.Count(outs[0].out+outs[1].out, "applied plan web-1-poweroff: succeeded (recovered)"); n != 1 {
		t.Errorf("recovered %d times:\n%s\n%s", n, outs[0], outs[1])
	}
	r.onlyReceipt("web-1-poweroff")
	r.verify(3)
	r.noLeftovers()
	ss := servers(t, prov)
	if len(ss) != 1 || ss[0].Status != "off" {
		t.Fatalf("servers %+v", ss)
	}
	if got := serverActions(t, url, ss[0].ID); !slices.Equal(got, []string{"create_server", "start_server", "stop_server"}) {
		t.Errorf("provider actions %v: the poweroff must run exactly once", got)
	}
}

// TestRefusals: each refusal has its own clear message and exit code 4, and
// changes neither the ledger nor the servers.
func TestRefusals(t *testing.T) {
	t.Parallel()
	r := newRepo(t, repoOpts{})
	r.planApproved("web-1-create", "create", "web-1", "--type", "cx22", "--image", "ubuntu-24.04")
	r.must("apply", "--pending", "--key", key("alice"))

	// Plans made now, all against web-1 running.
	r.plan("p-unapproved", "poweroff", "web-1")
	r.plan("p-carol", "reboot", "web-1")
	sig := approveWith(t, "carol", r.planFile("p-carol"))
	os.MkdirAll(filepath.Join(r.root, "plans", "p-carol.approvals"), 0o755)
	os.WriteFile(filepath.Join(r.root, "plans", "p-carol.approvals", "carol.sig"), sig, 0o644)
	r.plan("p-edited", "reset", "web-1")
	r.approve("p-edited", "bob")
	b, _ := os.ReadFile(r.planFile("p-edited"))
	edited := bytes.Replace(b, []byte(`"summary":"reset`), []byte(`"summary":"Reset`), 1)
	if bytes.Equal(edited, b) {
		t.Fatal("edit did not change the plan")
	}
	os.WriteFile(r.planFile("p-edited"), edited, 0o644)
	r.plan("p-off", "poweroff", "web-1", "--summary", "turn web-1 off")
	r.approve("p-off", "bob")
	r.plan("p-stale", "reboot", "web-1", "--summary", "reboot web-1")
	r.approve("p-stale", "bob")
	r.plan("p-outside", "protect", "web-1", "--delete")
	r.approve("p-outside", "bob")
	// A plan of another ledger, with a valid approval there.
	o := newRepo(t, repoOpts{ledger: otherLedgerID})
	o.planApproved("web-1-create", "create", "web-1", "--type", "cx22", "--image", "ubuntu-24.04")
	o.must("apply", "--pending", "--key", key("alice"))
	o.plan("p-foreign", "poweroff", "web-1")
	o.approve("p-foreign", "bob")
	copyTree(t, filepath.Join(o.root, "plans"), filepath.Join(r.root, "plans"), "p-foreign")

	refuse := func(id string, want ...string) string {
		t.Helper()
		before := r.ledgerHead()
		res := r.run("apply", "--plan", r.planFile(id), "--key", key("alice"))
		checkError(t, res, exitRefused, want...)
		if after := r.ledgerHead(); after != before {
			t.Fatalf("refused plan %s moved the ledger", id)
		}
		if exists(filepath.Join(r.root, ".git", "vmc", "intents", id+".json")) {
			t.Fatalf("refused plan %s left an intent", id)
		}
		return res.err
	}
	msgs := map[string]string{}
	msgs["unapproved"] = refuse("p-unapproved", "plan not approved", "0 of 1 required approvals", "vmc-git: hint: approvers sign with")
	msgs["non-approver"] = refuse("p-carol", "plan not approved", "carol:", "approver")
	msgs["edited"] = refuse("p-edited", "plan not approved", "bob:")
	msgs["other ledger"] = refuse("p-foreign", "plan is for another ledger", "is for ledger "+otherLedgerID+", this is "+testLedgerID)

	// Apply one, then replay it; the plan made alongside it is now stale.
	out := r.must("apply", "--plan", r.planFile("p-off"), "--key", key("alice"))
	if !strings.Contains(out, "applied plan p-off: succeeded -> receipt 2") {
		t.Fatalf("apply p-off: %s", out)
	}
	msgs["replayed"] = refuse("p-off", "plan already applied", "receipt 2", "applies at most once")
	msgs["stale"] = refuse("p-stale", "plan p-stale is stale", "status planned running, now off",
		"receipt 2 (plan p-off) changed server web-1", "vmc-git: hint: make a new plan")

	// Changed outside vmc-git (no receipt): the server no longer matches.
	p, _ := r.sandboxStateLive()
	if _, err := p.Apply(context.Background(), provider.Action{Op: provider.OpLabel, Server: "web-1", Labels: map[string]string{"owner": "mallory"}}, nil); err != nil {
		t.Fatal(err)
	}
	p.close()
	msgs["changed outside"] = refuse("p-outside", "plan p-outside is stale", "labels planned", "owner=mallory")

	seen := map[string]string{}
	for what, m := range msgs {
		if prev, dup := seen[m]; dup {
			t.Errorf("%s and %s give the same message: %s", what, prev, m)
		}
		seen[m] = what
	}

	// Committed on main, the same plans are refused by apply --pending too,
	// which still applies what it can and exits 4. The ones that can never
	// apply (stale, another ledger's) are recorded once as refused; the
	// unapproved ones (within --unapproved-deadline) wait for approvals.
	r.planApproved("web-1-poweron", "poweron", "web-1") // commits every plan above too
	before := r.applyReceipts()
	res := r.run("apply", "--pending", "--key", key("alice"))
	checkError(t, res, exitRefused, "plan p-unapproved: plan not approved", "plan p-carol: plan not approved", "plan p-edited: plan not approved",
		"plan p-foreign refused and recorded as refused in receipt", "plan p-stale refused and recorded as refused in receipt", "plan p-outside refused and recorded as refused in receipt")
	if !strings.Contains(res.out, "applied plan web-1-poweron: succeeded") {
		t.Fatalf("the good plan was not applied:\n%s", res)
	}
	after := r.applyReceipts()
	if len(after) != len(before)+4 {
		t.Fatalf("apply --pending wrote %d receipts, want 4 (one applied, three refused)", len(after)-len(before))
	}
	for _, id := range []string{"p-foreign", "p-stale", "p-outside"} {
		if rs := after[id]; len(rs) != 1 || rs[0].Apply.Status != receipt.ApplyRefused || len(rs[0].Apply.Actions) != 0 {
			t.Fatalf("plan %s: want one refused receipt without actions, got %+v", id, rs)
		}
	}
	// Never tried again; the unapproved ones still wait.
	head := r.ledgerHead()
	res = r.run("apply", "--pending", "--key", key("alice"))
	checkError(t, res, exitRefused, "plan p-unapproved: plan not approved")
	if strings.Contains(res.err, "p-stale") || r.ledgerHead() != head {
		t.Fatalf("a refused plan was tried again:\n%s", res)
	}
	r.verify(7)
	r.noLeftovers()
}

// sandboxStateLive opens the embedded sandbox's real state file (no vmc-git
// process may run meanwhile); close writes it back.
type liveSandbox struct {
	provider.Provider
	sb *sandbox.Server
}

func (l liveSandbox) close() { l.sb.Close() }

func (r *repo) sandboxStateLive() (liveSandbox, string) {
	r.t.Helper()
	sb, err := sandbox.New(sandbox.Options{Token: sandboxToken, StatePath: filepath.Join(r.root, ".git", "vmc", "sandbox.json"), ActionDuration: 10 * time.Millisecond})
	if err != nil {
		r.t.Fatal(err)
	}
	p, url := serve(r.t, sb)
	return liveSandbox{p, sb}, url
}

func approveWith(t *testing.T, kid, file string) []byte {
	t.Helper()
	s, err := keys.LoadFile(key(kid))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := plans.Approve(s, b)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// copyTree copies plans/<id>.json and plans/<id>.approvals/.
func copyTree(t *testing.T, from, to, id string) {
	t.Helper()
	for _, rel := range []string{id + ".json", id + ".approvals/bob.sig"} {
		b, err := os.ReadFile(filepath.Join(from, rel))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(filepath.Join(to, rel)), 0o755)
		if err := os.WriteFile(filepath.Join(to, rel), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBadInput: a clear error, exit 2 or 3, no file written, ledger unchanged.
func TestBadInput(t *testing.T) {
	t.Parallel()
	r := newRepo(t, repoOpts{})
	head := r.ledgerHead()
	create := []string{"--type", "cx22", "--image", "ubuntu-24.04"}
	long := strings.Repeat("a", 300)
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"slash in server", append([]string{"plan", "server", "create", "a/b"}, create...), exitUsage, "contains '/'"},
		{"dot dot server", append([]string{"plan", "server", "create", ".."}, create...), exitUsage, `".."`},
		{"dot dot inside server", []string{"plan", "server", "poweroff", "a..b"}, exitUsage, `".."`},
		{"300-character server", append([]string{"plan", "server", "create", long}, create...), exitUsage, "more than 63"},
		{"upper-case server", append([]string{"plan", "server", "create", "Web-1"}, create...), exitUsage, "invalid character"},
		{"bad label key", append([]string{"plan", "server", "create", "web-1", "--label", "Bad Key=x"}, create...), exitUsage, "invalid character"},
		{"bad label value", append([]string{"plan", "server", "create", "web-1", "--label", "k=a/b"}, create...), exitUsage, "invalid character"},
		{"long label value", append([]string{"plan", "server", "create", "web-1", "--label", "k=" + strings.Repeat("v", 64)}, create...), exitUsage, "more than 63"},
		{"reserved label prefix", append([]string{"plan", "server", "create", "web-1", "--label", "hetzner.cloud/x=1"}, create...), exitUsage, "reserved by Hetzner"},
		{"reserved vmc label", append([]string{"plan", "server", "create", "web-1", "--label", "vmc.plan=x"}, create...), exitUsage, "reserved for vmc-git"},
		{"label without =", append([]string{"plan", "server", "create", "web-1", "--label", "novalue"}, create...), exitUsage, "want KEY=VALUE"},
		{"label twice", append([]string{"plan", "server", "create", "web-1", "--label", "k=1", "--label", "k=2"}, create...), exitUsage, "given twice"},
		{"slash in plan id", append([]string{"plan", "server", "create", "web-1", "--id", "a/b"}, create...), exitUsage, "invalid plan id"},
		{"dot dot plan id", append([]string{"plan", "server", "create", "web-1", "--id", ".."}, create...), exitUsage, "invalid plan id"},
		{"dot dot inside plan id", append([]string{"plan", "server", "create", "web-1", "--id", "x..y"}, create...), exitUsage, `".."`},
		{"300-character plan id", append([]string{"plan", "server", "create", "web-1", "--id", long}, create...), exitUsage, "invalid plan id"},
		{"plan id too long for its label", append([]string{"plan", "server", "create", "web-1", "--id", strings.Repeat("p", 64)}, create...), exitUsage, "label vmc.plan"},
		{"missing required flag", []string{"plan", "server", "create", "web-1"}, exitUsage, "Required flag"},
		{"unknown flag", append([]string{"plan", "server", "create", "web-1", "--size", "xl"}, create...), exitUsage, "flag provided but not defined"},
		{"unknown op", []string{"plan", "server", "explode", "web-1"}, exitUsage, "unknown command 'explode'"},
		{"unknown command", []string{"frobnicate"}, exitUsage, "unknown command 'frobnicate'"},
		{"two servers", []string{"plan", "server", "poweroff", "web-1", "web-2"}, exitUsage, "want 1 argument"},
		{"server op without --dry-run", []string{"server", "poweroff", "web-1"}, exitRefused, "servers change only through approved plans"},
		{"apply without a mode", []string{"apply", "--key", key("alice")}, exitUsage, "exactly one of --plan FILE or --pending"},
		{"bad show seq", []string{"show", "../1"}, exitUsage, "SEQ must be a receipt number"},
	}
	for _, c := range cases {
		res := r.run(c.args...)
		t.Run(c.name, func(t *testing.T) { checkError(t, res, c.code, c.want) })
	}
	if exists(filepath.Join(r.root, "plans")) {
		ents, _ := os.ReadDir(filepath.Join(r.root, "plans"))
		t.Fatalf("bad input wrote plan files: %v", ents)
	}

	// Hand-written plan files: unknown field, unknown op, not canonical,
	// id that does not match the file name.
	good := r.plan("web-1-create", "create", "web-1", create...)
	gb, _ := os.ReadFile(good)
	os.Remove(good)
	bad := map[string][]byte{
		"unknown-field": withID(t, gb, "unknown-field", func(m map[string]any) { m["note"] = "hi" }),
		"unknown-op": withID(t, gb, "unknown-op", func(m map[string]any) {
			m["actions"].([]any)[0].(map[string]any)["action"].(map[string]any)["op"] = "explode"
		}),
		"not-canonical": append(withID(t, gb, "not-canonical", nil), '\n'),
		"wrong-name":    withID(t, gb, "other-name", nil),
	}
	wants := map[string]string{"unknown-field": `unknown field "note"`, "unknown-op": `unknown op "explode"`,
		"not-canonical": "canonical", "wrong-name": "must match the file name"}
	for name, b := range bad {
		f := r.planFile(name)
		os.WriteFile(f, b, 0o644)
		for _, args := range [][]string{{"plan", "show", f}, {"approve", f, "--key", key("bob")}, {"apply", "--plan", f, "--key", key("alice")}} {
			res := r.run(args...)
			t.Run(name+"/"+args[0], func(t *testing.T) { checkError(t, res, exitInvalid, wants[name]) })
		}
		if exists(filepath.Join(r.root, "plans", name+".approvals")) {
			t.Errorf("approve wrote an approval for bad plan %s", name)
		}
	}
	if r.ledgerHead() != head {
		t.Fatal("bad input moved the ledger")
	}
	// Committed on main: apply --pending reports each one clearly and
	// records it once as refused (invalid), without calling the provider,
	// so that it never blocks later runs.
	delete(bad, "wrong-name")
	os.Remove(r.planFile("wrong-name"))
	r.commit("bad plans")
	res := r.run("apply", "--pending", "--key", key("alice"))
	checkError(t, res, exitRefused, "plan unknown-field refused and recorded as refused", "plan unknown-op refused and recorded as refused",
		"plan not-canonical refused and recorded as refused", "invalid plan")
	r.verify(4)
	if out := r.must("apply", "--pending", "--key", key("alice")); !strings.Contains(out, "nothing to apply") {
		t.Fatalf("refused plans tried again: %s", out)
	}
	r.verify(4)
	r.noLeftovers()
}

// withID decodes a plan, sets its id, applies f and re-encodes it canonically.
func withID(t *testing.T, b []byte, id string, f func(map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	m["id"] = id
	if f != nil {
		f(m)
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.Encode(m) // encoding/json sorts keys; drop the newline for canonical form
	return bytes.TrimSuffix(out.Bytes(), []byte("\n"))
}

// TestProviderErrors: unreachable endpoint, a missing token, a 500, a dropped
// connection and a definite 4xx. Receipts never claim more than is known.
func TestProviderErrors(t *testing.T) {
	t.Parallel()
	sb, err := sandbox.New(sandbox.Options{Token: sandboxToken, ActionDuration: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	prov, url := serve(t, sb)
	r := newRepo(t, repoOpts{provider: "hetzner", env: hetznerEnv(url)})
	r.planApproved("web-1-create", "create", "web-1", "--type", "cx22", "--image", "ubuntu-24.04")
	head := r.ledgerHead()

	t.Run("unreachable", func(t *testing.T) {
		closed := "http://" + nettest.RefusedAddr(t) + "/v1"
		res := r.runEnv(hetznerEnv(closed), "apply", "--pending", "--key", key("alice"))
		checkError(t, res, exitError, "plan web-1-create:", "read server web-1", "connection refused")
		if res.took > 10*time.Second {
			t.Errorf("took %s to report an unreachable endpoint", res.took)
		}
		if r.ledgerHead() != head {
			t.Fatal("ledger moved")
		}
		res = r.runEnv(hetznerEnv(closed), "plan", "server", "poweroff", "web-1")
		checkError(t, res, exitError, "connection refused")
		if res.code == exitRefused {
			t.Error("an unreachable provider is not a refusal")
		}
	})
	t.Run("no token", func(t *testing.T) {
		res := r.runEnv([]string{"HCLOUD_TOKEN="}, "apply", "--pending", "--key", key("alice"))
		checkError(t, res, exitUsage, "no API token", "vmc-git: hint: set HCLOUD_TOKEN")
	})
	t.Run("wrong token", func(t *testing.T) {
		res := r.runEnv([]string{"HCLOUD_TOKEN=wrong-token"}, "apply", "--pending", "--key", key("alice"))
		checkError(t, res, exitError, "unable to authenticate")
		if strings.Contains(res.err, "wrong-token") || strings.Contains(res.out, "wrong-token") {
			t.Error("the token appears in the output")
		}
	})
	if r.ledgerHead() != head {
		t.Fatal("ledger moved")
	}

	t.Run("500 on create", func(t *testing.T) {
		sb.Inject(sandbox.Fault{Method: "POST", Path: "/servers", Times: 1, Status: 500, Code: "server_error", Message: "injected"})
		res := r.run("apply", "--pending", "--key", key("alice"))
		checkError(t, res, exitError, "plan web-1-create: unknown (recorded in receipt 1)")
		got := results(t, r.onlyReceipt("web-1-create"))
		if got[0].Status != provider.StatusUnknown || !strings.Contains(got[0].Error, "server_error") {
			t.Fatalf("result %+v, want status unknown naming the error", got[0])
		}
		if ss := servers(t, prov); len(ss) != 0 {
			t.Fatalf("servers %+v", ss)
		}
	})
	t.Run("dropped connection on create", func(t *testing.T) {
		r.planApproved("web-2-create", "create", "web-2", "--type", "cx22", "--image", "ubuntu-24.04")
		sb.Inject(sandbox.Fault{Method: "POST", Path: "/servers", Times: 1, Drop: true})
		res := r.run("apply", "--pending", "--key", key("alice"))
		checkError(t, res, exitError, "plan web-2-create: unknown")
		got := results(t, r.onlyReceipt("web-2-create"))
		if got[0].Status != provider.StatusUnknown {
			t.Fatalf("result %+v, want unknown: the create may have happened", got[0])
		}
		// It did happen; the receipt does not deny it.
		s, err := prov.Server(context.Background(), "web-2")
		if err != nil || s.Labels[provider.LabelPlan] != "web-2-create" {
			t.Fatalf("server web-2: %v %+v", err, s)
		}
	})
	t.Run("definite 4xx", func(t *testing.T) {
		// The dry run refuses an unknown image now, so the provider's
		// definite refusal comes from an injected fault.
		res := r.run("plan", "server", "create", "web-3", "--type", "cx22", "--image", "no-such-image")
		checkError(t, res, exitRefused, "dry run refused: image no-such-image does not exist")
		r.planApproved("web-3-create", "create", "web-3", "--type", "cx22", "--image", "ubuntu-24.04")
		sb.Inject(sandbox.Fault{Method: "POST", Path: "/servers", Times: 1, Status: 422, Code: "invalid_input", Message: "image not found"})
		res = r.run("apply", "--pending", "--key", key("alice"))
		checkError(t, res, exitError, "plan web-3-create: failed", "[invalid_input]", "image not found")
		got := results(t, r.onlyReceipt("web-3-create"))
		if got[0].Status != provider.StatusFailed || got[0].Error == "" {
			t.Fatalf("result %+v, want failed with the error", got[0])
		}
		if _, err := prov.Server(context.Background(), "web-3"); !errors.Is(err, provider.ErrNotFound) {
			t.Fatalf("server web-3: %v", err)
		}
	})
	r.verify(4)
	r.noLeftovers()
}

// TestHelpExamples walks the command tree: every --help shows an EXAMPLE.
func TestHelpExamples(t *testing.T) {
	var paths [][]string
	var walk func(prefix []string, cs []*cli.Command)
	walk = func(prefix []string, cs []*cli.Command) {
		for _, c := range cs {
			if c.Hidden {
				continue
			}
			p := append(slices.Clone(prefix), c.Name)
			paths = append(paths, p)
			walk(p, c.Subcommands)
		}
	}
	paths = append(paths, nil)
	walk(nil, commands())
	if len(paths) < 20 {
		t.Fatalf("only %d commands found", len(paths))
	}
	for _, p := range paths {
		var out, errb bytes.Buffer
		code := run(append(append([]string{"vmc-git"}, p...), "--help"), &out, &errb)
		name := strings.Join(append([]string{"vmc-git"}, p...), " ")
		if code != 0 || !strings.Contains(out.String(), "EXAMPLE") {
			t.Errorf("%s --help: exit %d, no EXAMPLE:\n%s%s", name, code, out.String(), errb.String())
		}
	}
}
