// Package nodetest finds the real tools the anchor tests run (installed by
// scripts/test.sh) and free loopback ports for them.
package nodetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/internal/nettest"
)

// Tool returns the path of a tool, from GOPATH/bin first, then PATH. When
// it is missing the test is skipped, or fails when CI is set.
func Tool(t testing.TB, name string) string {
	t.Helper()
	if gopath, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed (scripts/test.sh installs it)", name)
	}
	t.Skipf("%s is not installed; run scripts/test.sh", name)
	return ""
}

// FreePort returns a TCP port on 127.0.0.1 for a node to listen on,
// reserved for it until the test ends (nettest.ReservePort).
func FreePort(t testing.TB) int {
	t.Helper()
	return nettest.ReservePort(t)
}
