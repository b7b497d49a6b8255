// Package nodetest finds the real tools the anchor tests run (installed by
// scripts/test.sh) and free loopback ports for them.
package nodetest

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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

// FreePort returns a TCP port free on 127.0.0.1 when it was asked.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
