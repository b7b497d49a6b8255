package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/vmc-git/vmc-git/keys"
)

// Fixtures the end-to-end tests share.

// writeKey makes the operator key pair kid in dir (dir/kid, dir/kid.pub)
// and returns the private key's path.
func writeKey(dir, kid string) (string, error) {
	priv, pub, err := keys.Generate(kid)
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, kid)
	return p, keys.WriteKeyPair(p, priv, pub)
}

// newKey is writeKey in a new temporary directory of t.
func newKey(t *testing.T, kid string) string {
	t.Helper()
	p, err := writeKey(t.TempDir(), kid)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// isolatedEnv is this process's environment without what would reach
// outside a test (HCLOUD_*, VMC_*, GIT_*, HOME, the XDG directories, and
// the names in drop), with HOME and XDG_CACHE_HOME (so the lock directory)
// under dir and no system git config.
func isolatedEnv(dir string, drop ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "HCLOUD_") || strings.HasPrefix(k, "VMC_") || strings.HasPrefix(k, "GIT_") ||
			k == "HOME" || k == "XDG_CACHE_HOME" || k == "XDG_CONFIG_HOME" {
			continue
		}
		isDropped := false
		for _, d := range drop {
			isDropped = isDropped || k == d
		}
		if !isDropped {
			env = append(env, kv)
		}
	}
	return append(env, "HOME="+filepath.Join(dir, "home"), "XDG_CACHE_HOME="+filepath.Join(dir, "cache"), "GIT_CONFIG_NOSYSTEM=1")
}

// sandboxGet decodes the served sandbox's answer to GET url+path into v.
func sandboxGet(t *testing.T, url, path string, v any) {
	t.Helper()
	req, _ := http.NewRequest("GET", url+path, nil)
	req.Header.Set("Authorization", "Bearer "+sandboxToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// runAll starts cmds at the same moment and waits for them all; their
// results, in order (code -1: the process did not run).
func runAll(cmds ...*exec.Cmd) []result {
	outs := make([]result, len(cmds))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, cmd := range cmds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			<-start
			err := cmd.Run()
			outs[i] = result{args: cmd.Args[1:], out: out.String(), err: errb.String()}
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				outs[i].code = ee.ExitCode()
			} else if err != nil {
				outs[i].code = -1
			}
		}()
	}
	close(start)
	wg.Wait()
	return outs
}

// rolledBack makes a server that serves r's main and r's ledger as of tag
// (withholding what came after it) and returns a fresh clone of it.
func rolledBack(t *testing.T, r *repo, tag string) *repo {
	t.Helper()
	rolled := filepath.Join(t.TempDir(), "rolled.git")
	gitIn(t, "", "init", "-q", "--bare", "-b", "main", rolled)
	c := r.git("rev-list", "-n", "1", tag)
	r.git("push", "-q", rolled, "main", c+":refs/heads/vmc/ledger", "refs/tags/"+tag)
	fresh := &repo{t: t, root: filepath.Join(t.TempDir(), "fresh"), env: r.env}
	gitIn(t, "", "clone", "-q", rolled, fresh.root)
	return fresh
}
