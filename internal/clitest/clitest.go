// Package clitest builds the real vmc-git binary and the operators' keys
// for end-to-end tests.
//
// It has its own home because two test suites drive the built CLI: the
// CLI's own (cmd/vmc-git) and the MCP server's (mcpserver, where the CLI is
// the human who approves). Both need the same binary, built once per test
// binary in TestMain, and the same keys: alice, bob and carol, whose roles
// each suite gives them when it makes its ledger.
package clitest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/vmc-git/vmc-git/keys"
)

// Package is the import path of the vmc-git command.
const Package = "github.com/vmc-git/vmc-git/cmd/vmc-git"

// HookPackage is the import path of the small pre-receive binary, which
// `vmc-git hook install` takes from beside vmc-git.
const HookPackage = "github.com/vmc-git/vmc-git/cmd/vmc-git-hook"

// KIDs are the key ids Setup writes keys for.
var KIDs = []string{"alice", "bob", "carol"}

// Env is a temporary directory holding the built binary and the keys.
type Env struct {
	Dir  string
	Bin  string // the built vmc-git
	Hook string // the built vmc-git-hook, beside Bin
	Keys string // <kid> (OpenSSH private key) and <kid>.pub for each of KIDs
}

// Setup builds vmc-git (go build Package) and vmc-git-hook beside it
// (HookPackage, so that hook install installs it), and writes an Ed25519 key pair for
// each of KIDs into a new temporary directory; Close removes it.
func Setup() (*Env, error) {
	tmp, err := os.MkdirTemp("", "vmc-clitest-")
	if err != nil {
		return nil, err
	}
	e := &Env{Dir: tmp, Bin: filepath.Join(tmp, "vmc-git"), Hook: filepath.Join(tmp, "vmc-git-hook"), Keys: filepath.Join(tmp, "keys")}
	for bin, pkg := range map[string]string{e.Bin: Package, e.Hook: HookPackage} {
		if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
			e.Close()
			return nil, fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	if err := os.MkdirAll(e.Keys, 0o700); err != nil {
		e.Close()
		return nil, err
	}
	for _, kid := range KIDs {
		priv, pub, err := keys.Generate(kid)
		if err == nil {
			err = keys.WriteKeyPair(e.Key(kid), priv, pub)
		}
		if err != nil {
			e.Close()
			return nil, fmt.Errorf("key %s: %w", kid, err)
		}
	}
	return e, nil
}

// Key is the path of kid's private key (its public key is Key(kid)+".pub").
func (e *Env) Key(kid string) string { return filepath.Join(e.Keys, kid) }

// Close removes the directory.
func (e *Env) Close() { os.RemoveAll(e.Dir) }

// Main is a TestMain body: Setup, then setup(e) (e.g. setting package
// variables), then m.Run, then Close; it returns the exit code.
func Main(m *testing.M, setup func(*Env)) int {
	e, err := Setup()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer e.Close()
	setup(e)
	return m.Run()
}
