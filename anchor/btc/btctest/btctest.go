// Package btctest runs a real btcd on regtest for tests, on 127.0.0.1 with
// HOME and its data in temporary directories, mining with btcctl.
package btctest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vmc-git/vmc-git/anchor/btc"
	"github.com/vmc-git/vmc-git/anchor/internal/nodetest"
)

// Node is a running btcd.
type Node struct {
	t      testing.TB
	URL    string // http://user:pass@127.0.0.1:port
	RPC    *btc.RPC
	Addr   string // 127.0.0.1:port
	home   string
	btcctl string
	user   string
	pass   string
}

// Start starts btcd --regtest mining to miningAddr; the test stops it.
func Start(t testing.TB, miningAddr string) *Node {
	t.Helper()
	btcd := nodetest.Tool(t, "btcd")
	// A password of its own: the readiness check below must not take
	// another test's btcd (that got the port between FreePort and this
	// one's bind) for this one.
	var nonce [8]byte
	rand.Read(nonce[:])
	n := &Node{t: t, btcctl: nodetest.Tool(t, "btcctl"), home: t.TempDir(), user: "vmc", pass: "vmc-test-" + hex.EncodeToString(nonce[:])}
	port := nodetest.FreePort(t)
	n.Addr = fmt.Sprintf("127.0.0.1:%d", port)
	n.URL = fmt.Sprintf("http://%s:%s@%s", n.user, n.pass, n.Addr)
	n.RPC = &btc.RPC{URL: n.URL}
	data := filepath.Join(n.home, "data")
	cmd := exec.Command(btcd, "--regtest", "--notls", "--rpclisten="+n.Addr, "--rpcuser="+n.user, "--rpcpass="+n.pass,
		"--txindex", "--miningaddr="+miningAddr, "--nolisten", "--datadir="+data, "--logdir="+filepath.Join(n.home, "logs"),
		"--configfile=/dev/null")
	cmd.Env = append(os.Environ(), "HOME="+n.home)
	logf, _ := os.Create(filepath.Join(n.home, "btcd.out"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		logf.Close()
	})
	deadline := time.Now().Add(120 * time.Second)
	for {
		var h int64
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := n.RPC.Call(ctx, "getblockcount", &h)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(filepath.Join(n.home, "btcd.out"))
			t.Fatalf("btcd did not start: %v\n%s", err, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return n
}

// Ctl runs btcctl against the node.
func (n *Node) Ctl(args ...string) string {
	n.t.Helper()
	full := append([]string{"-C", "/dev/null", "--regtest", "--notls", "--rpcserver=" + n.Addr, "--rpcuser=" + n.user, "--rpcpass=" + n.pass}, args...)
	cmd := exec.Command(n.btcctl, full...)
	cmd.Env = append(os.Environ(), "HOME="+n.home)
	out, err := cmd.CombinedOutput()
	if err != nil {
		n.t.Fatalf("btcctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// Generate mines k blocks.
func (n *Node) Generate(k int) { n.t.Helper(); n.Ctl("generate", strconv.Itoa(k)) }

// Height returns the node's block count.
func (n *Node) Height() int64 {
	n.t.Helper()
	h, err := strconv.ParseInt(n.Ctl("getblockcount"), 10, 64)
	if err != nil {
		n.t.Fatal(err)
	}
	return h
}
