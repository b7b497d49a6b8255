// Package gethtest runs a real geth in --dev mode for tests: in memory (no
// datadir), chain id 1337, HTTP JSON-RPC on 127.0.0.1 at a free port, a
// block every second, and a funded, unlocked dev account.
package gethtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/vmc-git/vmc-git/anchor/internal/nodetest"
)

// Node is a running geth --dev.
type Node struct {
	URL string
	RPC *rpc.Client
	Dev common.Address // the funded dev account
	log string
}

// Start starts geth; the test stops it.
func Start(t testing.TB) *Node {
	t.Helper()
	geth := nodetest.Tool(t, "geth")
	home := t.TempDir()
	port, auth := nodetest.FreePort(t), nodetest.FreePort(t)
	n := &Node{URL: fmt.Sprintf("http://127.0.0.1:%d", port), log: filepath.Join(home, "geth.out")}
	// A name of its own, which web3_clientVersion reports: the readiness
	// check below must not take another test's geth (that got the port
	// between FreePort and this one's bind) for this one.
	var nonce [8]byte
	rand.Read(nonce[:])
	identity := "vmc-test-" + hex.EncodeToString(nonce[:])
	cmd := exec.Command(geth, "--dev", "--dev.period", "1", "--identity", identity, "--http", "--http.addr", "127.0.0.1", "--http.port", fmt.Sprint(port),
		"--http.api", "eth,net,web3", "--authrpc.addr", "127.0.0.1", "--authrpc.port", fmt.Sprint(auth),
		"--port", "0", "--nodiscover", "--maxpeers", "0", "--ipcdisable", "--verbosity", "2")
	cmd.Env = append(os.Environ(), "HOME="+home)
	logf, _ := os.Create(n.log)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if n.RPC != nil {
			n.RPC.Close()
		}
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		logf.Close()
	})
	deadline := time.Now().Add(120 * time.Second)
	for {
		c, err := rpc.Dial(n.URL)
		if err == nil {
			var version string
			var accts []common.Address
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err = c.CallContext(ctx, &version, "web3_clientVersion")
			if err == nil && !strings.Contains(version, identity) {
				err = fmt.Errorf("another node answers on the port: %s", version)
			}
			if err == nil {
				err = c.CallContext(ctx, &accts, "eth_accounts")
			}
			cancel()
			if err == nil && len(accts) > 0 {
				n.RPC, n.Dev = c, accts[0]
				return n
			}
			c.Close()
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(n.log)
			t.Fatalf("geth did not start: %v\n%s", err, out)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// Fund sends wei from the dev account to addr and waits for the receipt.
func (n *Node) Fund(t testing.TB, addr common.Address, wei *big.Int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var hash common.Hash
	if err := n.RPC.CallContext(ctx, &hash, "eth_sendTransaction", map[string]any{"from": n.Dev, "to": addr, "value": (*hexutil.Big)(wei)}); err != nil {
		t.Fatalf("fund %s: %v", addr, err)
	}
	for {
		var rc map[string]any
		if err := n.RPC.CallContext(ctx, &rc, "eth_getTransactionReceipt", hash); err == nil && rc != nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("fund %s: no receipt for %s", addr, hash)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
