package gitledger

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vmc-git/vmc-git/internal/config"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/merkle"
	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/provider"
)

// The hook tests push with the real git binary into a bare repository whose
// pre-receive hook is `vmc-git hook install --repo ORIGIN`, from a clone whose
// pre-push hook is `vmc-git hook install`: every tamper case is refused by
// both, each with its own message, and the remote ref does not move; good
// pushes are accepted and verify in a fresh clone of the origin.

// hookRefusal is the line the hooks print for a refused ref.
const hookRefusal = "vmc-git: refused "

// hookMsgs replaces a tamper case's expected text where the hook sees the
// case differently from Verify: Verify catches a rewrite by the remembered
// head, the hook by the ref's old value.
var hookMsgs = map[string]string{
	"branch rolled back": "not a fast-forward: the ledger branch only grows: <id> rolls it back by 1 receipt(s) from the current tip <id>",
	"history rewritten from seq 3 with the legitimate key": "does not descend from the current tip <id>: it rewrites the history after receipt 2",
}

var (
	vmcGitOnce sync.Once
	vmcGitPath string
	vmcGitErr  error
)

// vmcGit builds cmd/vmc-git once per test run, into tmp/vmc-git, and
// cmd/vmc-git-hook beside it: hook install --repo takes it from there, so
// the origins' pre-receive hooks run vmc-git-hook (and the clients'
// pre-push hooks vmc-git).
func vmcGit(t *testing.T) string {
	t.Helper()
	vmcGitOnce.Do(func() {
		for _, cmd := range []string{"vmc-git", "vmc-git-hook"} {
			out, err := exec.Command("go", "build", "-o", "tmp/"+cmd, "../cmd/"+cmd).CombinedOutput()
			if err != nil {
				vmcGitErr = fmt.Errorf("go build ../cmd/%s: %v\n%s", cmd, err, out)
				return
			}
		}
		vmcGitPath, vmcGitErr = filepath.Abs("tmp/vmc-git")
	})
	if vmcGitErr != nil {
		t.Fatal(vmcGitErr)
	}
	return vmcGitPath
}

// hookFixture is a tamper ledger (receipts 0..4 by alice) whose main branch
// carries .vmc/config.json with the genesis pin, the client pre-push hook
// installed, and a template origin: bare, with the pre-receive hook, holding
// main (remote "origin", so refs/remotes/origin/main is there too).
type hookFixture struct {
	base   *tamperEnv
	origin string
	vmc    string
}

func newHookFixture(t *testing.T) *hookFixture {
	t.Helper()
	if testing.Short() {
		t.Skip("builds vmc-git and pushes with git")
	}
	f := &hookFixture{vmc: vmcGit(t)}
	x := newTamperLedger(t, newTamperKeys(t), testLedgerID, 4)
	b0, _ := x.receiptAt(0)
	cfg := &config.Config{V: 1, Ledger: testLedgerID, Branch: DefaultBranch, MainBranch: "main",
		GenesisBlake3: digest.Of(b0).Blake3, Provider: config.ProviderSandbox}
	x.commitMain(map[string][]byte{config.Path: mustEncode(t, cfg.Encode)})
	f.origin = filepath.Join(t.TempDir(), "origin.git")
	run(t, x.dir, "git", "init", "-q", "--bare", "-b", "main", f.origin)
	if out := f.runVmc(t, x.dir, "hook", "install", "--repo", f.origin); !strings.Contains(out, "runs "+filepath.Join(f.origin, "hooks", "vmc-git-hook")+" pre-receive") {
		t.Fatalf("hook install --repo: %s", out)
	}
	if out := f.runVmc(t, x.dir, "hook", "install"); !strings.Contains(out, "pre-push") {
		t.Fatalf("hook install: %s", out)
	}
	x.git(nil, "remote", "add", "origin", f.origin)
	x.mustPush("origin", "main")
	f.base = x
	return f
}

func (f *hookFixture) runVmc(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(f.vmc, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("vmc-git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// clone copies the fixture: the ledger repository and its own origin.
func (f *hookFixture) clone(t *testing.T) (*tamperEnv, string) {
	t.Helper()
	x := f.base.clone(t)
	origin := filepath.Join(t.TempDir(), "origin.git")
	if out, err := exec.Command("cp", "-a", f.origin, origin).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	x.git(nil, "remote", "set-url", "origin", origin)
	return x, origin
}

func mustEncode(t *testing.T, enc func() ([]byte, error)) []byte {
	t.Helper()
	b, err := enc()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// commitMain commits edits (path -> content, nil removes) on top of main and
// moves main to the new commit, which it returns.
func (x *tamperEnv) commitMain(edits map[string][]byte) string {
	x.t.Helper()
	tree := x.git(nil, "mktree")
	var parent []string
	if c := x.rev("refs/heads/main"); c != "" {
		tree = x.git(nil, "rev-parse", c+"^{tree}")
		parent = []string{"-p", c}
	}
	tree = x.editFiles(tree, edits)
	env := []string{"GIT_AUTHOR_NAME=dev", "GIT_AUTHOR_EMAIL=dev@example.com",
		"GIT_COMMITTER_NAME=dev", "GIT_COMMITTER_EMAIL=dev@example.com"}
	c := x.gitEnv(env, nil, append(append([]string{"commit-tree", tree}, parent...), "-m", "main")...)
	x.git(nil, "update-ref", "refs/heads/main", c)
	return c
}

// rev returns the value of ref in the repository, "" if there is none.
func (x *tamperEnv) rev(ref string) string { return revAt(x.dir, ref) }

func revAt(dir, ref string) string {
	out, err := exec.Command("git", "-C", dir, "rev-parse", "-q", "--verify", ref).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// push runs git push and returns its output (stdout and stderr).
func (x *tamperEnv) push(args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"push"}, args...)...)
	cmd.Dir = x.dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+x.dir, "GIT_TERMINAL_PROMPT=0")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (x *tamperEnv) mustPush(args ...string) {
	x.t.Helper()
	if out, err := x.push(args...); err != nil {
		x.t.Fatalf("git push %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// refusal returns the hook's refusal line for ref in git push output,
// without git's "remote: " prefix and padding, and whether it came from the
// remote.
func refusal(out, ref string) (line string, remote bool) {
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		l, remote = strings.CutPrefix(l, "remote: ")
		if strings.HasPrefix(l, hookRefusal+ref+": ") {
			return strings.TrimSpace(l), remote
		}
	}
	return "", false
}

// pushRefused pushes twice, and wants both refused with want in the
// refusal line for ref and origin's ref unmoved: first through the client's
// pre-push hook, which must refuse before anything is sent, then with
// --no-verify, as someone without the client hook would, where the server's
// pre-receive hook must refuse. It returns the server's line.
func (x *tamperEnv) pushRefused(origin, ref, want string, args ...string) string {
	x.t.Helper()
	before := revAt(origin, ref)
	var lines [2]string
	for i, verify := range []bool{true, false} {
		a := args
		if !verify {
			a = append([]string{"--no-verify"}, args...)
		}
		out, err := x.push(a...)
		line, remote := refusal(out, ref)
		switch {
		case err == nil:
			x.t.Fatalf("git push %s: accepted\n%s", strings.Join(a, " "), out)
		case line == "":
			x.t.Fatalf("git push %s: no %q line\n%s", strings.Join(a, " "), hookRefusal+ref, out)
		case !strings.Contains(line, want) && !strings.Contains(shape(line), want):
			x.t.Fatalf("git push %s:\n got %s\nwant %q", strings.Join(a, " "), line, want)
		case verify && (remote || strings.Contains(out, "remote:")):
			x.t.Fatalf("the pre-push hook let the push through to the remote:\n%s", out)
		case !verify && (!remote || !strings.Contains(out, "pre-receive hook declined")):
			x.t.Fatalf("not refused by the pre-receive hook:\n%s", out)
		}
		if after := revAt(origin, ref); after != before {
			x.t.Fatalf("git push %s: the remote's %s moved from %q to %q", strings.Join(a, " "), ref, before, after)
		}
		lines[i] = line
	}
	if shape(lines[0]) != shape(lines[1]) {
		x.t.Errorf("pre-push and pre-receive say different things:\n pre-push:    %s\n pre-receive: %s", lines[0], lines[1])
	}
	return lines[1]
}

// distinct records a refusal line's shape and fails if another case had it.
type distinct struct {
	mu   sync.Mutex
	seen map[string]string
}

func (d *distinct) add(t *testing.T, name, line string) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.seen == nil {
		d.seen = map[string]string{}
	}
	s := shape(line)
	if other, dup := d.seen[s]; dup {
		t.Errorf("same refusal as %q: %s", other, s)
	}
	d.seen[s] = name
}

// TestHookPushTamper pushes every tamper case: the good prefix of the ledger
// (everything the tampered history shares with the real one) is accepted,
// then the tampered branch is refused by the pre-push and the pre-receive
// hook, with the case's own message, and the remote ref stays where it was.
func TestHookPushTamper(t *testing.T) {
	f := newHookFixture(t)
	names := map[string]bool{}
	for _, tc := range tamperCases {
		names[tc.name] = true
	}
	for name := range hookMsgs {
		if !names[name] {
			t.Fatalf("hookMsgs names no tamper case %q", name)
		}
	}
	var d distinct
	for _, tc := range tamperCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			x, origin := f.clone(t)
			ref := x.ref()
			want, ok := hookMsgs[tc.name]
			if !ok {
				want = tc.msg
			}
			// A rewrite needs the history it rewrites on the remote first.
			rewrite := tc.rule == RuleFork
			if rewrite {
				x.mustPush("origin", x.chain[4]+":"+ref)
			}
			tc.tamper(x)
			tip := x.rev(ref)
			if !rewrite {
				if base, err := exec.Command("git", "-C", x.dir, "merge-base", tip, x.chain[4]).Output(); err == nil {
					x.mustPush("origin", strings.TrimSpace(string(base))+":"+ref)
				}
			}
			args := []string{"origin", tip + ":" + ref}
			if rewrite {
				args = append([]string{"--force"}, args...)
			}
			line := x.pushRefused(origin, ref, want, args...)
			d.add(t, tc.name, line)
			t.Logf("%s", shape(line))
		})
	}
}

// TestHookPushAccepts: pushes of a new ledger, of 1 and of 500 receipts are
// accepted by both hooks, and a fresh clone of the origin verifies.
func TestHookPushAccepts(t *testing.T) {
	f := newHookFixture(t)
	x, origin := f.clone(t)
	ref := x.ref()
	pushed := func(want string, also ...string) {
		t.Helper()
		x.mustPush(append([]string{"origin", ref + ":" + ref}, also...)...)
		if got := revAt(origin, ref); got != want {
			t.Fatalf("origin's %s is %q, want %q", ref, got, want)
		}
		for _, r := range also {
			if got := revAt(origin, r); got == "" || got != x.rev(r) {
				t.Fatalf("origin's %s is %q, want %q", r, got, x.rev(r))
			}
		}
	}
	pushed(x.chain[4]) // a new ledger branch: checked from genesis, with the pin
	w := appendManual(t, x.l, x.k.signer["alice"], "alice", "one more")
	pushed(w.Commit.String())
	w, err := Generate(x.l, x.k.signer["alice"], "alice", 500, GenerateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// With the snapshot of all 506 receipts in the same push: the tag is
	// checked against the ledger as the push leaves it.
	f.runVmc(t, x.dir, "merkle", "receipts", "--tag", "--key", x.k.path["alice"], "--kid", "alice",
		"--out", filepath.Join(t.TempDir(), "merkle.json"))
	pushed(w.Commit.String(), SnapshotTagRef(506).String())

	dir := filepath.Join(t.TempDir(), "clone")
	run(t, x.dir, "git", "clone", "-q", origin, dir)
	run(t, dir, "git", "branch", DefaultBranch, "origin/"+DefaultBranch)
	out := f.runVmc(t, dir, "verify", "chain", "--sig")
	if !strings.Contains(out, "ok: "+testLedgerID+", 506 receipts") || strings.Contains(out, "not pinned") {
		t.Fatalf("verify chain --sig in a clone of the origin:\n%s", out)
	}
}

// TestHookPushRules: the other push rules, one refused push each (and the
// good pushes around them accepted), on an origin holding the ledger.
func TestHookPushRules(t *testing.T) {
	f := newHookFixture(t)
	x, origin := f.clone(t)
	ref := x.ref()
	x.mustPush("origin", ref+":"+ref)
	alice := x.k.signer["alice"]
	var d distinct
	refused := func(name, ref, want string, args ...string) {
		t.Helper()
		line := x.pushRefused(origin, ref, want, args...)
		d.add(t, name, line)
		t.Logf("%s: %s", name, shape(line))
	}

	// The ledger branch.
	x.setTip(x.chain[2])
	appendManual(t, x.l, alice, "alice", "rewritten")
	appendManual(t, x.l, alice, "alice", "rewritten")
	refused("force-push rewriting history", ref, "it rewrites the history after receipt 2", "--force", "origin", ref+":"+ref)
	x.setTip(x.chain[4])
	refused("deleted ledger branch", ref, "the ledger branch is never deleted", "origin", ":"+ref)

	// Snapshot tags: created once by vmc-git merkle receipts --tag.
	tag3 := SnapshotTagRef(3).String()
	f.runVmc(t, x.dir, "merkle", "receipts", "--tag", "--size", "3", "--key", x.k.path["alice"], "--kid", "alice",
		"--out", filepath.Join(t.TempDir(), "merkle-3.json"))
	x.mustPush("origin", tag3)
	if got := revAt(origin, tag3); got == "" || got != x.rev(tag3) {
		t.Fatalf("origin's %s is %q, want %q", tag3, got, x.rev(tag3))
	}
	// The same snapshot signed again a minute later: another tag object.
	x.git(nil, "update-ref", "-d", tag3)
	if _, err := x.l.MakeSnapshot(alice, "alice", 3, true, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	refused("snapshot tag moved", tag3, "snapshot tags are never moved or rewritten", "--force", "origin", tag3)
	refused("snapshot tag deleted", tag3, "snapshot tags are never deleted", "origin", ":"+tag3)
	tag4 := SnapshotTagRef(4).String()
	x.forgeSnapshotTag(4, merkle.RootOf(nil))
	refused("snapshot tag forged", tag4, "snapshot vmc/merkle/4: root <id> does not match the ledger's root <id> at size 4", "origin", tag4)

	// Main: plans are immutable once merged, the genesis pin never changes.
	merged := x.commitMain(map[string][]byte{plans.Path("web-1-create-20261126090000"): x.plan("web-1", "create web-1")})
	x.mustPush("origin", "main")
	x.commitMain(map[string][]byte{plans.Path("web-1-create-20261126090000"): x.plan("web-1", "create web-1, edited")})
	refused("plan edited after merge", "refs/heads/main", "plans/web-1-create-20261126090000.json: changed after merge", "origin", "main")
	x.git(nil, "update-ref", "refs/heads/main", merged)
	cfgBytes := x.file(merged, config.Path)
	cfg, err := config.Parse(cfgBytes)
	if err != nil {
		t.Fatal(err)
	}
	cfg.GenesisBlake3[0] ^= 1
	x.commitMain(map[string][]byte{config.Path: mustEncode(t, cfg.Encode)})
	refused("genesis pin changed", "refs/heads/main", "genesis_blake3 changes from <id> to <id>", "origin", "main")
	x.git(nil, "update-ref", "refs/heads/main", merged)
	var indented bytes.Buffer
	if err := json.Indent(&indented, x.plan("web-2", "create web-2"), "", "  "); err != nil {
		t.Fatal(err)
	}
	x.commitMain(map[string][]byte{plans.Path("web-2-create-20261126090000"): indented.Bytes()})
	refused("non-canonical new plan", "refs/heads/main", "plans/web-2-create-20261126090000.json: plan: ", "origin", "main")
	x.git(nil, "update-ref", "refs/heads/main", merged)

	// Locks: created, refreshed (the holder's heartbeat) and released, under
	// valid server names only, signed by an applier.
	lock := "refs/vmc/locks/web-1"
	now := time.Now()
	x.mustPush("origin", x.lockBlob("alice", "web-1", "p", now)+":"+lock)
	refused("lock ref with a bad server name", "refs/vmc/locks/Web_1", "lock ref: ", "origin", x.lockBlob("alice", "Web_1", "p", now)+":refs/vmc/locks/Web_1")
	x.mustPush("--force", "origin", x.lockBlob("alice", "web-1", "p", now.Add(time.Second))+":"+lock)
	x.mustPush("origin", ":"+lock)
	if got := revAt(origin, lock); got != "" {
		t.Fatalf("lock not released: %s", got)
	}
}

// plan returns the canonical bytes of a plan to create server.
func (x *tamperEnv) plan(server, summary string) []byte {
	x.t.Helper()
	b4, _ := x.receiptAt(4)
	p := plans.Plan{V: plans.Version, ID: server + "-create-20261126090000", Ledger: testLedgerID,
		CreatedAt: "2026-11-26T09:00:00Z", CreatedBy: "alice", Summary: summary,
		LedgerHead: plans.LedgerRef{Seq: 4, Blake3: digest.Of(b4).Blake3},
		Actions: []plans.Step{{Action: provider.Action{Op: provider.OpCreate, Server: server, ServerType: "cx22",
			Image: "ubuntu-24.04", Location: "fsn1"}}}}
	b, err := p.Encode()
	if err != nil {
		x.t.Fatal(err)
	}
	return b
}

// forgeSnapshotTag writes the tag vmc/merkle/<size> as vmc-git would, signed
// by alice, but with root in its checkpoint.
func (x *tamperEnv) forgeSnapshotTag(size uint64, root merkle.Hash) {
	x.t.Helper()
	ns, err := NoteSigner(x.k.signer["alice"], "alice")
	if err != nil {
		x.t.Fatal(err)
	}
	signed, err := merkle.SignCheckpoint(merkle.Checkpoint{Origin: testLedgerID, Size: size, Root: root}, ns)
	if err != nil {
		x.t.Fatal(err)
	}
	ti := tagInfo{object: plumbing.NewHash(x.chain[size-1]), name: merkle.TagName(size), ident: Ident + " <alice>",
		when: time.Now().Unix(), message: string(signed)}
	sig, err := x.k.signer["alice"].Sign(keys.NamespaceGit, ti.encode(false))
	if err != nil {
		x.t.Fatal(err)
	}
	ti.signature = string(sig)
	id := x.git(ti.encode(true), "hash-object", "-t", "tag", "-w", "--stdin")
	x.git(nil, "update-ref", SnapshotTagRef(size).String(), id)
}
