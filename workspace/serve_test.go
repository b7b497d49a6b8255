package workspace

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/hooks"
)

// runGit runs git in dir with env added and returns its trimmed stdout.
func runGit(t *testing.T, dir string, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	return strings.TrimSpace(string(out)), err
}

func mustGit(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	out, err := runGit(t, dir, env, args...)
	if err != nil {
		t.Fatalf("git %v: %v", args, err)
	}
	return out
}

// fakeExe is an executable file for InstallHook to copy.
func fakeExe(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "vmc-git")
	if err := os.WriteFile(p, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// hook install on a bare repository sets every key of hooks.ServeConfig,
// keeps a value the repository's config already has, and reports both; in
// a clone it sets none.
func TestInstallHookServeConfig(t *testing.T) {
	bare := filepath.Join(t.TempDir(), "origin.git")
	mustGit(t, ".", nil, "init", "-q", "--bare", bare)
	kept := hooks.ServeConfig[1].Key
	mustGit(t, bare, nil, "config", "--local", kept, "false")
	h, err := InstallHook(HookRequest{Repo: bare, Exe: fakeExe(t), MainBranch: "main", LedgerBranch: "vmc/ledger"})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Serve) != len(hooks.ServeConfig) {
		t.Fatalf("serve config %+v, want the %d keys of hooks.ServeConfig", h.Serve, len(hooks.ServeConfig))
	}
	for i, c := range hooks.ServeConfig {
		got := mustGit(t, bare, nil, "config", "--local", "--get", c.Key)
		want, set := c.Value, true
		if c.Key == kept {
			want, set = "false", false
		}
		if got != want || h.Serve[i] != (ServeSetting{Key: c.Key, Value: want, Set: set}) {
			t.Errorf("%s: config %q, reported %+v; want %q (set %v)", c.Key, got, h.Serve[i], want, set)
		}
	}
	// Again: nothing to set, everything kept.
	h, err = InstallHook(HookRequest{Repo: bare, Exe: fakeExe(t), MainBranch: "main", LedgerBranch: "vmc/ledger"})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range h.Serve {
		if s.Set {
			t.Errorf("second install set %s again", s.Key)
		}
	}

	clone := filepath.Join(t.TempDir(), "clone")
	mustGit(t, ".", nil, "init", "-q", clone)
	h, err = InstallHook(HookRequest{Repo: clone, Exe: fakeExe(t), MainBranch: "main", LedgerBranch: "vmc/ledger"})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Serve) != 0 {
		t.Errorf("a clone's pre-push install set %+v", h.Serve)
	}
	if v, err := runGit(t, clone, nil, "config", "--local", "--get", hooks.ServeConfig[0].Key); err == nil {
		t.Errorf("clone has %s=%s", hooks.ServeConfig[0].Key, v)
	}
}

// The serving config is what makes the server's git gc write a bitmap and
// a commit-graph, even where the server's global config turns both off.
func TestServeConfigGCWritesBitmap(t *testing.T) {
	global := filepath.Join(t.TempDir(), "gitconfig")
	if err := os.WriteFile(global, []byte("[repack]\n\twriteBitmaps = false\n[gc]\n\twriteCommitGraph = false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"GIT_CONFIG_GLOBAL=" + global, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t.invalid", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t.invalid"}
	work := filepath.Join(t.TempDir(), "work")
	mustGit(t, ".", env, "init", "-q", "-b", "main", work)
	for i := 0; i < 3; i++ {
		if err := os.WriteFile(filepath.Join(work, "f"), []byte(strings.Repeat("x", i+1)), 0o644); err != nil {
			t.Fatal(err)
		}
		mustGit(t, work, env, "add", "f")
		mustGit(t, work, env, "commit", "-q", "-m", "c")
	}
	gc := func(serve bool) (bitmap, graph bool) {
		bare := filepath.Join(t.TempDir(), "origin.git")
		mustGit(t, ".", env, "clone", "-q", "--bare", "--no-local", work, bare)
		if serve {
			if _, err := ApplyServeConfig(bare); err != nil {
				t.Fatal(err)
			}
		}
		mustGit(t, bare, env, "gc", "-q")
		bm, _ := filepath.Glob(filepath.Join(bare, "objects", "pack", "*.bitmap"))
		_, err := os.Stat(filepath.Join(bare, "objects", "info", "commit-graph"))
		return len(bm) == 1, err == nil
	}
	if bitmap, graph := gc(false); bitmap || graph {
		t.Fatalf("without the serving config, git gc wrote a bitmap (%v) or a commit-graph (%v): the test can't tell", bitmap, graph)
	}
	if bitmap, graph := gc(true); !bitmap || !graph {
		t.Errorf("with the serving config, git gc wrote bitmap %v, commit-graph %v; want both", bitmap, graph)
	}
}
