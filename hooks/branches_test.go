package hooks

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/internal/config"
	"github.com/vmc-git/vmc-git/internal/digest"
)

func gitT(t *testing.T, dir, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(cmd.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t.invalid", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t.invalid")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v: %s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestHeadBranches: the branches a hook guards, read in-process, are what
// `git symbolic-ref --short HEAD` and `git show HEAD:.vmc/config.json`
// give: HEAD's branch (unborn too) and vmc/ledger, else the config's, and
// the given names win.
func TestHeadBranches(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "origin.git")
	gitT(t, "", "", "init", "-q", "--bare", "-b", "trunk", dir)
	l, err := gitledger.OpenGitDir(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	got := HeadBranches(l, Branches{})
	if got.Main != "trunk" || got.Ledger != gitledger.DefaultBranch {
		t.Fatalf("unborn trunk: %+v", got)
	}
	if sym := gitT(t, dir, "", "symbolic-ref", "--short", "HEAD"); sym != got.Main {
		t.Fatalf("git says %q, HeadBranches %q", sym, got.Main)
	}

	// A config on HEAD names other branches.
	cfg := &config.Config{V: 1, Ledger: "github.com/acme/infra", Branch: "vmc/other", MainBranch: "prod",
		GenesisBlake3: digest.Of([]byte("g")).Blake3, Provider: "sandbox"}
	cb, err := cfg.Encode()
	if err != nil {
		t.Fatal(err)
	}
	blob := gitT(t, dir, string(cb), "hash-object", "-w", "--stdin")
	vmc := gitT(t, dir, "100644 blob "+blob+"\tconfig.json\n", "mktree")
	root := gitT(t, dir, "040000 tree "+vmc+"\t.vmc\n", "mktree")
	c := gitT(t, dir, "", "commit-tree", root, "-m", "init")
	gitT(t, dir, "", "update-ref", "refs/heads/trunk", c)
	if l, err = gitledger.OpenGitDir(dir, ""); err != nil {
		t.Fatal(err)
	}
	if got := HeadBranches(l, Branches{}); got.Main != "prod" || got.Ledger != "vmc/other" {
		t.Fatalf("with config: %+v", got)
	}
	if got := HeadBranches(l, Branches{Main: "m", Ledger: "vmc/l"}); got.Main != "m" || got.Ledger != "vmc/l" {
		t.Fatalf("given: %+v", got)
	}

	// A config that does not parse is ignored here: HEAD's branch.
	bad := gitT(t, dir, "{not json", "hash-object", "-w", "--stdin")
	vmc = gitT(t, dir, "100644 blob "+bad+"\tconfig.json\n", "mktree")
	root = gitT(t, dir, "040000 tree "+vmc+"\t.vmc\n", "mktree")
	c = gitT(t, dir, "", "commit-tree", root, "-p", c, "-m", "bad")
	gitT(t, dir, "", "update-ref", "refs/heads/trunk", c)
	if got := HeadBranches(l, Branches{}); got.Main != "trunk" || got.Ledger != gitledger.DefaultBranch {
		t.Fatalf("bad config: %+v", got)
	}
	if got := HeadBranches(nil, Branches{Ledger: "vmc/x"}); got.Main != "main" || got.Ledger != "vmc/x" {
		t.Fatalf("no repository: %+v", got)
	}
}
