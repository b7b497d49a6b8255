package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/anchor"
)

// TestLinksOnlyTheHook: the point of this binary is what it does not link.
// None of the command's heavy dependencies (policy engine, MCP, the CLI
// framework) and none of the use-case layer may come in through a new
// import.
func TestLinksOnlyTheHook(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	banned := []string{
		"github.com/vmc-git/vmc-git/workspace",
		"github.com/vmc-git/vmc-git/apply",
		"github.com/vmc-git/vmc-git/policy",
		"github.com/vmc-git/vmc-git/drift",
		"github.com/vmc-git/vmc-git/mcpserver",
		"github.com/vmc-git/vmc-git/provider/sandbox",
		"github.com/vmc-git/vmc-git/internal/demo",
		"github.com/open-policy-agent/",
		"github.com/urfave/",
		"github.com/modelcontextprotocol/",
	}
	found := map[string]bool{}
	for _, d := range deps {
		for _, b := range banned {
			if d == b || (strings.HasSuffix(b, "/") && strings.HasPrefix(d, b)) {
				found[b] = true
			}
		}
	}
	if len(found) > 0 {
		t.Fatalf("cmd/vmc-git-hook links %v (go list -deps: %d packages)", found, len(deps))
	}
	if !strings.Contains(string(out), "github.com/vmc-git/vmc-git/hooks\n") {
		t.Fatal("cmd/vmc-git-hook does not link package hooks")
	}
}

// TestRunRefusesBadUse: arguments and input git never gives are usage
// errors (exit 2), each with its own message; a missing repository is an
// error (exit 1); nothing is read from a repository before the input is
// valid.
func TestRunRefusesBadUse(t *testing.T) {
	none := filepath.Join(t.TempDir(), "none.git")
	env := func(k string) string {
		if k == "GIT_DIR" {
			return none
		}
		return ""
	}
	zero := strings.Repeat("0", 40)
	for _, c := range []struct {
		name  string
		args  []string
		stdin string
		code  int
		want  string
	}{
		{"no subcommand", nil, "", exitUsage, "usage: vmc-git-hook pre-receive"},
		{"pre-push", []string{"pre-push"}, "", exitUsage, "usage: vmc-git-hook pre-receive"},
		{"an argument", []string{"pre-receive", "origin"}, "", exitUsage, `pre-receive takes no arguments, got "origin"`},
		{"unknown flag", []string{"pre-receive", "--remote", "x"}, "", exitUsage, "flag provided but not defined: -remote"},
		{"help", []string{"pre-receive", "--help"}, "", exitOK, "-ledger-branch"},
		{"a short line", []string{"pre-receive"}, zero + " " + zero + "\n", exitUsage, `hook input: want "<old> <new> <ref>"`},
		{"a bad ref", []string{"pre-receive"}, zero + " " + zero + " main\n", exitUsage, `hook input: bad ref name "main"`},
		{"no repository", []string{"pre-receive", "--main-branch", "main"}, zero + " " + zero + " refs/heads/x\n", exitError, "vmc-git: error: open git repository at " + none},
	} {
		var stderr bytes.Buffer
		code := run(c.args, strings.NewReader(c.stdin), &stderr, env)
		if code != c.code || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%s: exit %d, want %d with %q:\n%s", c.name, code, c.code, c.want, stderr.String())
		}
	}
}

// TestLinksEveryAnchorVerifier: every anchor substrate vmc-git links
// registers its verifier here too, or the hook would refuse that
// substrate's anchor receipts that verify accepts: each package among
// cmd/vmc-git's dependencies that calls anchor.Register is linked, and the
// substrates registered in this binary are vmc-git's.
func TestLinksEveryAnchorVerifier(t *testing.T) {
	deps := func(pkg string) []string {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{.Dir}} {{join .GoFiles \",\"}}", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		return strings.Split(strings.TrimSpace(string(out)), "\n")
	}
	var ours []string
	for _, l := range deps(".") {
		ours = append(ours, strings.Fields(l)[0])
	}
	var registering []string
	for _, l := range deps("github.com/vmc-git/vmc-git/cmd/vmc-git") {
		f := strings.Fields(l)
		if len(f) < 3 || !strings.HasPrefix(f[0], "github.com/vmc-git/vmc-git/") {
			continue
		}
		for _, name := range strings.Split(f[2], ",") {
			b, err := os.ReadFile(filepath.Join(f[1], name))
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte("anchor.Register(")) {
				registering = append(registering, f[0])
				break
			}
		}
	}
	if len(registering) == 0 {
		t.Fatal("found no package of cmd/vmc-git that registers an anchor verifier")
	}
	for _, p := range registering {
		if !slices.Contains(ours, p) {
			t.Errorf("%s registers an anchor verifier in vmc-git but is not linked here: import it", p)
		}
	}
	if got := anchor.Substrates(); len(got) != len(registering) {
		t.Errorf("registered substrates %v, from packages %v", got, registering)
	}
}
