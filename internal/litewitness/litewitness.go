// Package litewitness runs real litewitness witnesses for tests: one
// ssh-agent holding a fresh Ed25519 key, one litewitness process on a free
// 127.0.0.1 port and its SQLite database in a temporary directory, all
// stopped when the test ends. The tools come from
// filippo.io/torchwood/cmd/{litewitness,witnessctl}@Version, which
// scripts/test.sh installs; without them a test skips, or fails under CI.
package litewitness

import (
	"bufio"
	"crypto/ed25519"
	"fmt"
	"html"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/vmc-git/vmc-git/internal/nettest"
	"github.com/vmc-git/vmc-git/internal/sshagenttest"
	"github.com/vmc-git/vmc-git/witness"
)

// Version is the torchwood release whose witness the tests run.
const Version = "v0.6.1"

// A Server is one running litewitness.
type Server struct {
	Name string
	Key  ed25519.PublicKey
	VKey string // cosigner vkey (type 0x04), as litewitness prints it
	URL  string // http://127.0.0.1:PORT
	Dir  string

	t      testing.TB
	ctl    string
	bin    string
	sock   string
	fp     string
	db     string
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan error
}

// Witness returns the server as a witness.Witness.
func (s *Server) Witness() witness.Witness {
	return witness.Witness{Name: s.Name, Key: s.Key, URL: s.URL}
}

// tool finds a program on PATH or in $(go env GOPATH)/bin.
func tool(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			gopath = strings.TrimSpace(string(out))
		}
	}
	p := filepath.Join(gopath, "bin", name)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	msg := fmt.Sprintf("%s not installed: run scripts/test.sh (go install filippo.io/torchwood/cmd/%s@%s)", name, name, Version)
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// Start runs a new witness named name.
func Start(t testing.TB, name string) *Server {
	t.Helper()
	s := &Server{Name: name, t: t, bin: tool(t, "litewitness"), ctl: tool(t, "witnessctl")}
	for _, p := range []string{"ssh-agent", "ssh-add", "ssh-keygen"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("%s not found (openssh-client)", p)
		}
	}
	// A short directory: unix socket paths are limited to ~100 bytes.
	dir, err := os.MkdirTemp("", "lw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s.Dir, s.sock, s.db = dir, filepath.Join(dir, "agent.sock"), filepath.Join(dir, "witness.db")

	s.sock = sshagenttest.Start(t, nil)

	keyPath := filepath.Join(dir, "key")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", keyPath).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	add := exec.Command("ssh-add", keyPath)
	add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+s.sock)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v: %s", err, out)
	}
	pubLine, err := os.ReadFile(keyPath + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	pk, _, _, _, err := ssh.ParseAuthorizedKey(pubLine)
	if err != nil {
		t.Fatal(err)
	}
	s.fp = ssh.FingerprintSHA256(pk)
	s.Key = ed25519.PublicKey(pk.(ssh.CryptoPublicKey).CryptoPublicKey().(ed25519.PublicKey))
	if s.VKey, err = witness.VerifierKey(name, s.Key); err != nil {
		t.Fatal(err)
	}
	// Create the database before litewitness runs so witnessctl and the
	// server agree on it from the start.
	s.run("list-logs")
	s.Restart()
	t.Cleanup(s.Stop)
	return s
}

// Restart (re)starts the litewitness process on a new free port, keeping
// its database and key.
func (s *Server) Restart() {
	t := s.t
	t.Helper()
	s.Stop()
	prev := strings.TrimPrefix(s.URL, "http://")
	for try := 0; try < 5; try++ {
		addr := prev // a restart keeps its address (the URL in trust states) when it can
		if addr == "" || try > 0 {
			addr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
		}
		cmd := exec.Command(s.bin, "-name", s.Name, "-db", s.db, "-ssh-agent", s.sock, "-key", s.fp, "-listen", addr)
		var log strings.Builder
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = pw, pw
		if err := cmd.Start(); err != nil {
			t.Fatalf("litewitness: %v", err)
		}
		pw.Close()
		vkey := make(chan string, 1)
		done := make(chan struct{})
		var logMu sync.Mutex
		go func() {
			defer close(done)
			sc := bufio.NewScanner(pr)
			for sc.Scan() {
				line := sc.Text()
				logMu.Lock()
				log.WriteString(line + "\n")
				logMu.Unlock()
				if i := strings.Index(line, "vkey="); i >= 0 {
					select {
					case vkey <- strings.Trim(strings.Fields(line[i+5:])[0], `"`):
					default:
					}
				}
			}
		}()
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		deadline := time.After(90 * time.Second)
		ok := false
	wait:
		for {
			select {
			case <-exited:
				<-done
				break wait
			case <-deadline:
				cmd.Process.Kill()
				logMu.Lock()
				defer logMu.Unlock()
				t.Fatalf("litewitness did not answer on %s within 90 s; log:\n%s", addr, log.String())
			case <-time.After(50 * time.Millisecond):
				if s.answers(addr) {
					ok = true
					break wait
				}
			}
		}
		if !ok {
			logMu.Lock()
			l := log.String()
			logMu.Unlock()
			if strings.Contains(l, "address already in use") {
				continue
			}
			t.Fatalf("litewitness exited; log:\n%s", l)
		}
		select {
		case v := <-vkey:
			if v != s.VKey {
				t.Fatalf("litewitness prints vkey %s, the key gives %s", v, s.VKey)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("litewitness printed no vkey")
		}
		s.mu.Lock()
		s.cmd, s.exited = cmd, exited
		s.URL = "http://" + addr
		s.mu.Unlock()
		return
	}
	t.Fatal("litewitness: no free port after 5 tries")
}

// answers reports whether the witness listening on addr is this one: its
// index page names its verifier key. A bare connect would also succeed
// against another test's server that took the port between freePort and
// litewitness's own bind (which then fails).
func (s *Server) answers(addr string) bool {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + "/")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return err == nil && resp.StatusCode == http.StatusOK && strings.Contains(string(b), html.EscapeString(s.VKey))
}

// Stop ends the litewitness process (the database and agent remain until
// the test ends).
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
		select {
		case <-s.exited:
		case <-time.After(5 * time.Second):
		}
		s.cmd = nil
	}
}

// AddLog registers a log origin with the witness and the note verifier
// keys whose signatures it accepts for it.
func (s *Server) AddLog(origin string, logKeys ...string) {
	s.t.Helper()
	s.run("add-log", "-origin", origin)
	for _, k := range logKeys {
		s.AddKey(origin, k)
	}
}

// AddKey registers one more log key for origin.
func (s *Server) AddKey(origin, vkey string) {
	s.t.Helper()
	s.run("add-key", "-origin", origin, "-key", vkey)
}

// ListLogs returns witnessctl list-logs output (JSON lines).
func (s *Server) ListLogs() string {
	s.t.Helper()
	return s.run("list-logs")
}

func (s *Server) run(args ...string) string {
	s.t.Helper()
	cmd := exec.Command(s.ctl, append(args[:1:1], append([]string{"-db", s.db}, args[1:]...)...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		s.t.Fatalf("witnessctl %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// freePort returns a port reserved for the witness until the test ends
// (nettest.ReservePort), so a restart finds it free again.
func freePort(t testing.TB) int {
	t.Helper()
	return nettest.ReservePort(t)
}

func waitFor(t testing.TB, cond func() bool, what string) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}
