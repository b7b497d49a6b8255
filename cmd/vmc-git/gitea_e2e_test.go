package main

// End-to-end test against a real forge: Gitea v1.26.0 on 127.0.0.1 with
// SQLite, built by .ci/gitea/build.sh (scripts/test.sh runs it and exports
// VMC_GITEA_DIR: the directory with the gitea binary, options/ and
// templates/). Gitea runs its own pre-receive hook and then every script in
// hooks/pre-receive.d/, where `vmc-git hook install --gitea` puts ours.

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmc-git/vmc-git/internal/nettest"
)

// giteaVersion is the Gitea release the test runs (.ci/gitea/go.mod).
const giteaVersion = "1.26.0"

type gitea struct {
	t          *testing.T
	bin, work  string
	url        string // http://127.0.0.1:PORT/
	user, pass string
	cfg        string
	cmd        *exec.Cmd
	repoRoot   string
	env        []string
	log        bytes.Buffer
}

func findGitea(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("VMC_GITEA_DIR")
	if dir == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("VMC_GITEA_DIR is not set: scripts/test.sh builds Gitea with .ci/gitea/build.sh and sets it")
		}
		t.Skip("VMC_GITEA_DIR is not set: run `export VMC_GITEA_DIR=$(bash .ci/gitea/build.sh)` (about 7 minutes cold) to run the Gitea end-to-end test")
	}
	for _, p := range []string{"gitea", "options", "templates"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Fatalf("VMC_GITEA_DIR=%s: %v", dir, err)
		}
	}
	return dir
}

// freePort returns a port reserved for Gitea until the test ends
// (nettest.ReservePort).
func freePort(t *testing.T) int {
	t.Helper()
	return nettest.ReservePort(t)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// startGitea configures a fresh Gitea in a temporary work directory,
// migrates its database, creates an admin user and starts the web server.
func startGitea(t *testing.T) *gitea {
	dir := findGitea(t)
	g := &gitea{t: t, bin: filepath.Join(dir, "gitea"), work: t.TempDir(), user: "vmcadmin", pass: "pw-" + randomHex(8)}
	for _, sub := range []string{"options", "templates"} {
		if err := os.Symlink(filepath.Join(dir, sub), filepath.Join(g.work, sub)); err != nil {
			t.Fatal(err)
		}
	}
	port := freePort(t)
	g.url = fmt.Sprintf("http://127.0.0.1:%d/", port)
	g.repoRoot = filepath.Join(g.work, "repositories")
	runUser := "root"
	if u, err := user.Current(); err == nil {
		runUser = u.Username
	}
	ini := fmt.Sprintf(`APP_NAME = vmc-git e2e
RUN_USER = %s
RUN_MODE = prod
WORK_PATH = %s
I_AM_BEING_UNSAFE_RUNNING_AS_ROOT = true

[database]
DB_TYPE = sqlite3
PATH = %s/data/gitea.db

[repository]
ROOT = %s

[server]
PROTOCOL = http
HTTP_ADDR = 127.0.0.1
HTTP_PORT = %d
ROOT_URL = %s
LOCAL_ROOT_URL = %s
DISABLE_SSH = true
START_SSH_SERVER = false
OFFLINE_MODE = true
APP_DATA_PATH = %s/data
LFS_START_SERVER = false

[security]
INSTALL_LOCK = true
SECRET_KEY = %s
INTERNAL_TOKEN = %s

[oauth2]
ENABLED = false

[service]
DISABLE_REGISTRATION = true

[mailer]
ENABLED = false

[session]
PROVIDER = memory

[cache]
ADAPTER = memory

[indexer]
REPO_INDEXER_ENABLED = false

[cron]
ENABLED = false

[actions]
ENABLED = false

[log]
MODE = file
LEVEL = Warn
ROOT_PATH = %s/log
`, runUser, g.work, g.work, g.repoRoot, port, g.url, g.url, g.work, randomHex(32), randomHex(32), g.work)
	g.cfg = filepath.Join(g.work, "custom", "conf", "app.ini")
	if err := os.MkdirAll(filepath.Dir(g.cfg), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(g.cfg, []byte(ini), 0o600); err != nil {
		t.Fatal(err)
	}
	g.env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + filepath.Join(g.work, "home"), "GITEA_WORK_DIR=" + g.work, "USER=" + runUser}
	g.run("migrate")
	g.run("admin", "user", "create", "--username", g.user, "--password", g.pass, "--email", "admin@example.invalid",
		"--admin", "--must-change-password=false")
	start := time.Now()
	g.cmd = exec.Command(g.bin, "web", "--config", g.cfg, "--work-path", g.work)
	g.cmd.Dir, g.cmd.Env = g.work, g.env
	g.cmd.Stdout, g.cmd.Stderr = &g.log, &g.log
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		g.cmd.Process.Kill()
		g.cmd.Wait()
	})
	for {
		resp, err := http.Get(g.url + "api/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Since(start) > 180*time.Second {
			t.Fatalf("gitea web did not answer at %s within 180s: %v\n%s", g.url, err, g.log.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("gitea %s web up in %s at %s", giteaVersion, time.Since(start).Round(time.Millisecond), g.url)
	return g
}

func (g *gitea) run(args ...string) string {
	g.t.Helper()
	cmd := exec.Command(g.bin, append(args, "--config", g.cfg, "--work-path", g.work)...)
	cmd.Dir, cmd.Env = g.work, g.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		g.t.Fatalf("gitea %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// api calls Gitea's REST API as the admin user.
func (g *gitea) api(method, path string, body any) (int, []byte) {
	g.t.Helper()
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
	}
	req, err := http.NewRequest(method, g.url+"api/v1"+path, bytes.NewReader(b))
	if err != nil {
		g.t.Fatal(err)
	}
	req.SetBasicAuth(g.user, g.pass)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	out.ReadFrom(resp.Body)
	return resp.StatusCode, out.Bytes()
}

// remote is the repository's HTTP URL with the admin's credentials.
func (g *gitea) remote(repo string) string {
	return strings.Replace(g.url, "http://", "http://"+g.user+":"+g.pass+"@", 1) + g.user + "/" + repo + ".git"
}

// refs lists the repository's refs as Gitea's API reports them.
func (g *gitea) refs(repo string) map[string]string {
	g.t.Helper()
	code, b := g.api("GET", "/repos/"+g.user+"/"+repo+"/git/refs", nil)
	out := map[string]string{}
	if code == http.StatusNotFound {
		return out // an empty repository
	}
	if code != http.StatusOK {
		g.t.Fatalf("list refs: %d %s", code, b)
	}
	var refs []struct {
		Ref    string `json:"ref"`
		Object struct {
			SHA string `json:"sha"`
		} `json:"object"`
	}
	if err := json.Unmarshal(b, &refs); err != nil {
		g.t.Fatalf("list refs: %v: %s", err, b)
	}
	for _, r := range refs {
		out[r.Ref] = r.Object.SHA
	}
	return out
}

// TestGitea: a ledger pushed over HTTP to Gitea with vmc-git's hook in
// hooks/pre-receive.d/; forged pushes are refused, Gitea's refs do not move,
// and the pusher sees vmc-git's message.
func TestGitea(t *testing.T) {
	g := startGitea(t)
	if code, b := g.api("POST", "/user/repos", map[string]any{"name": "infra", "private": true, "auto_init": false}); code != http.StatusCreated {
		t.Fatalf("create repository: %d %s", code, b)
	}
	bare := filepath.Join(g.repoRoot, g.user, "infra.git")
	if _, err := os.Stat(filepath.Join(bare, "hooks", "pre-receive.d", "gitea")); err != nil {
		t.Fatalf("not Gitea's hook layout: %v", err)
	}
	r := newRepo(t, repoOpts{})
	out := r.must("hook", "install", "--gitea", "--repo", bare, "--main-branch", "main", "--ledger-branch", "vmc/ledger")
	if !strings.Contains(out, filepath.Join(bare, "hooks", "pre-receive.d", "vmc-git")) {
		t.Fatalf("hook install --gitea: %s", out)
	}
	if res := r.run("hook", "install", "--gitea", "--repo", r.root); res.code != exitUsage {
		t.Fatalf("hook install --gitea in a work tree: %s", res)
	}

	// A good ledger: a create plan, applied; pushed over HTTP.
	r.planApproved("web-1-create", "create", "web-1", "--type", "cx22", "--image", "ubuntu-24.04")
	r.must("apply", "--pending", "--key", key("alice"))
	r.git("remote", "add", "gitea", g.remote("infra"))
	r.git("push", "-q", "gitea", "main", "vmc/ledger")
	good := g.refs("infra")
	if good["refs/heads/vmc/ledger"] != r.ledgerHead() || good["refs/heads/main"] != r.git("rev-parse", "main") {
		t.Fatalf("Gitea's refs after the good push: %v", good)
	}

	push := func(what string, want string, refspecs ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"push", "gitea"}, refspecs...)...)
		cmd.Dir, cmd.Env = r.root, r.env
		outb, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatalf("%s: the push was accepted\n%s", what, outb)
		}
		if !strings.Contains(string(outb), "remote: vmc-git: refused") || !strings.Contains(string(outb), want) {
			t.Fatalf("%s: the pusher did not see vmc-git's refusal %q:\n%s", what, want, outb)
		}
		for _, line := range strings.Split(string(outb), "\n") {
			if strings.Contains(line, "vmc-git: refused") {
				t.Logf("%s: %s", what, line)
			}
		}
		if now := g.refs("infra"); now["refs/heads/vmc/ledger"] != good["refs/heads/vmc/ledger"] || now["refs/heads/main"] != good["refs/heads/main"] {
			t.Fatalf("%s: Gitea's refs moved: %v, were %v", what, now, good)
		}
	}
	tip := r.ledgerHead()
	// 1. A commit on the ledger branch that is not a receipt.
	tree := r.git("rev-parse", tip+"^{tree}")
	forged := r.git("commit-tree", tree, "-p", tip, "-m", "vmc: 2 apply forged")
	push("unsigned ledger commit", "refs/heads/vmc/ledger", forged+":refs/heads/vmc/ledger")
	// 2. History rewritten: the ledger moved back to genesis (force push).
	push("ledger rewound", "refs/heads/vmc/ledger", "+"+tip+"~1:refs/heads/vmc/ledger")
	// 3. A merged plan edited on main.
	r.git("checkout", "-q", "main")
	plan := r.planFile("web-1-create")
	b, _ := os.ReadFile(plan)
	os.WriteFile(plan, bytes.Replace(b, []byte(`"summary":"`), []byte(`"summary":"x`), 1), 0o644)
	r.git("commit", "-q", "-am", "edit a merged plan")
	push("merged plan edited", "plans/web-1-create.json", "main")
	t.Logf("Gitea refused every forged push; refs stayed %v", good)

	// The control: a Gitea repository without vmc-git's hook takes the
	// forged ledger commit, so the refusals above were vmc-git's.
	if code, b := g.api("POST", "/user/repos", map[string]any{"name": "control", "private": true}); code != http.StatusCreated {
		t.Fatalf("create repository: %d %s", code, b)
	}
	r.git("remote", "add", "control", g.remote("control"))
	r.git("push", "-q", "control", tip+":refs/heads/vmc/ledger")
	r.git("push", "-q", "control", forged+":refs/heads/vmc/ledger")
	if got := g.refs("control")["refs/heads/vmc/ledger"]; got != forged {
		t.Fatalf("control repository: ledger at %s, want the forged %s", got, forged)
	}
}
