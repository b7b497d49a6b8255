// Package sshagenttest starts a real OpenSSH ssh-agent for tests.
//
// It has its own home because three test suites (keys, the CLI's end-to-end
// tests and the litewitness harness) need the same agent, and the same wait:
// ssh-agent creates its socket file (bind) a moment before it accepts
// connections (listen), so a test that only waits for the file races the
// agent on a loaded machine. Start returns only once a connection succeeds.
package sshagenttest

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Start runs `ssh-agent -D -a SOCK` on a socket in a short temporary
// directory of its own (unix socket paths are limited to about 100 bytes),
// waits until the agent accepts connections and returns the socket path,
// for SSH_AUTH_SOCK. The agent is killed and the directory removed when the
// test ends. env, when not nil, is the agent's environment.
func Start(t testing.TB, env []string) string {
	t.Helper()
	if _, err := exec.LookPath("ssh-agent"); err != nil {
		t.Fatalf("ssh-agent not found (Debian package openssh-client): %v", err)
	}
	dir, err := os.MkdirTemp("", "vmc-agent-")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "agent.sock")
	cmd := exec.Command("ssh-agent", "-D", "-a", sock)
	cmd.Env = env
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		t.Fatalf("ssh-agent: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		os.RemoveAll(dir)
	})
	for end := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return sock
		} else if time.Now().After(end) {
			t.Fatalf("ssh-agent does not accept connections on %s: %v", sock, err)
		}
	}
}
