package main

import (
	"encoding/base64"
	"math/big"

	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ethcommon "github.com/ethereum/go-ethereum/common"

	"github.com/vmc-git/vmc-git/anchor"
	"github.com/vmc-git/vmc-git/anchor/btc"
	"github.com/vmc-git/vmc-git/anchor/btc/btctest"
	"github.com/vmc-git/vmc-git/anchor/eth"
	"github.com/vmc-git/vmc-git/anchor/eth/gethtest"
	"github.com/vmc-git/vmc-git/anchor/rfc3161"
	"github.com/vmc-git/vmc-git/anchor/rfc3161/tsatest"
	"github.com/vmc-git/vmc-git/receipt"
)

// anchorSetup: a ledger with genesis and two manual receipts, pushed to a
// bare origin with the pre-receive hook installed.
func anchorSetup(t *testing.T) (*repo, string) {
	t.Helper()
	r := newRepo(t, repoOpts{})
	origin := r.hookedOrigin()
	r.must("record", "--summary", "rebooted web-1", "--key", key("alice"))
	r.must("record", "--summary", "rebooted web-2", "--key", key("alice"))
	r.git("push", "-q", "origin", "main", "vmc/ledger")
	return r, origin
}

// checkAnchored runs what every substrate's end-to-end test shows after the
// anchor receipt seq landed: it is on origin, anchor verify passes (with
// extra flags), verify chain passes, and log, merkle and anchor list show
// it.
func checkAnchored(t *testing.T, r *repo, origin string, seq int, substrate string, verifyFlags ...string) {
	t.Helper()
	if got, want := strings.TrimSpace(gitIn(t, origin, "rev-parse", "refs/heads/vmc/ledger")), r.ledgerHead(); got != want {
		t.Fatalf("origin ledger at %s, local at %s", got, want)
	}
	out := r.must(append([]string{"anchor", "verify", "--json"}, verifyFlags...)...)
	var vs []struct {
		Seq       int    `json:"seq"`
		Substrate string `json:"substrate"`
		Live      string `json:"live"`
	}
	if err := json.Unmarshal([]byte(out), &vs); err != nil || len(vs) == 0 || vs[len(vs)-1].Seq != seq || vs[len(vs)-1].Substrate != substrate {
		t.Fatalf("anchor verify: %v\n%s", err, out)
	}
	r.verify(seq + 1)
	if out := r.must("verify", "chain", "--no-remember"); !strings.Contains(out, fmt.Sprintf("anchor: receipt %d anchors receipts 0..", seq)) {
		t.Fatalf("verify chain does not name the anchor:\n%s", out)
	}
	if out := r.must("verify", "chain", "--json", "--no-remember"); !strings.Contains(out, `"anchors"`) {
		t.Fatalf("verify chain --json does not report the anchor:\n%s", out)
	}
	if out := r.must("log"); !strings.Contains(out, "[anchored: "+substrate+" by receipt ") {
		t.Fatalf("log does not show the anchored snapshot:\n%s", out)
	}
	out = r.must("merkle", "receipts", "--size", "3", "--out", filepath.Join(t.TempDir(), "m.json"), "--key", key("alice"))
	if !strings.Contains(out, "anchored via "+substrate+" by receipt") {
		t.Fatalf("merkle receipts does not show the anchor:\n%s", out)
	}
	if out := r.must("anchor", "list"); !strings.Contains(out, substrate) {
		t.Fatalf("anchor list:\n%s", out)
	}
}

// anchorBody reads the anchor body of receipt seq with stock git.
func anchorBody(t *testing.T, r *repo, seq int) (*receipt.Receipt, *anchor.Body) {
	t.Helper()
	b := r.git("show", "vmc/ledger:"+receipt.PathIn(receipt.DefaultFormat, uint64(seq)))
	rc, err := receipt.Parse([]byte(b))
	if err != nil {
		t.Fatal(err)
	}
	body, err := anchor.ParseBody(rc.Anchor)
	if err != nil {
		t.Fatal(err)
	}
	return rc, body
}

func TestAnchorRFC3161(t *testing.T) {
	t.Parallel()
	tsa := tsatest.Start(t, tsatest.Options{LeafOnly: true})
	r, origin := anchorSetup(t)
	out := r.must("anchor", "rfc3161", "--tsa", tsa.URL, "--tsa-ca", tsa.CAFile, "--push", "--key", key("alice"), "--json")
	var res struct {
		Seq    int    `json:"seq"`
		Pushed bool   `json:"pushed"`
		Digest string `json:"digest"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Seq != 3 || !res.Pushed {
		t.Fatalf("anchor rfc3161: %v\n%s", err, out)
	}
	checkAnchored(t, r, origin, 3, "rfc3161")
	r.must("anchor", "verify", "3", "--tsa-ca", tsa.CAFile)
	// A receipt file of this ledger, read with stock git.
	rf := filepath.Join(t.TempDir(), "r.json")
	os.WriteFile(rf, []byte(r.git("show", "vmc/ledger:"+receipt.PathIn(receipt.DefaultFormat, 3))), 0o644)
	r.must("anchor", "verify", rf)

	// A third party: the token and the statement digest, checked by openssl.
	_, body := anchorBody(t, r, 3)
	if d := anchor.Digest(body.Statement); hex.EncodeToString(d[:]) != res.Digest {
		t.Fatalf("digest %x, the command said %s", d, res.Digest)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "statement.json"), body.Statement, 0o644)
	os.WriteFile(filepath.Join(dir, "statement.json.sig"), []byte(body.Signature), 0o644)
	os.WriteFile(filepath.Join(dir, "allowed_signers"), []byte(r.git("show", "vmc/ledger:keys/allowed_signers")+"\n"), 0o644)
	sk := exec.Command("sh", "-c", "ssh-keygen -Y verify -f allowed_signers -I alice -n vmc-anchor -s statement.json.sig < statement.json")
	sk.Dir = dir
	if out, err := sk.CombinedOutput(); err != nil || !strings.Contains(string(out), "Good") {
		t.Fatalf("ssh-keygen -Y verify of the statement: %v\n%s", err, out)
	}
	p, err := rfc3161.ParseProof(body.Proof)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := base64.StdEncoding.DecodeString(p.Token)
	tok := filepath.Join(t.TempDir(), "token.der")
	os.WriteFile(tok, der, 0o644)
	if out, err := exec.Command("openssl", "ts", "-verify", "-digest", res.Digest, "-token_in", "-in", tok, "-CAfile", tsa.CAFile).CombinedOutput(); err != nil || !strings.Contains(string(out), "Verification: OK") {
		t.Fatalf("openssl ts -verify: %v\n%s", err, out)
	}

	// Refusals: another TSA's roots, an untrusted TSA at anchoring time, a
	// replaying TSA; nothing is written.
	stranger := tsatest.Start(t, tsatest.Options{})
	checkError(t, r.run("anchor", "verify", "3", "--tsa-ca", stranger.CAFile), exitInvalid, "TSA certificate chain is not trusted")
	head := r.ledgerHead()
	checkError(t, r.run("anchor", "rfc3161", "--tsa", tsa.URL, "--tsa-ca", stranger.CAFile, "--key", key("alice")), exitError, "not trusted")
	replay := tsatest.Start(t, tsatest.Options{Mode: tsatest.Replay})
	r.must("anchor", "rfc3161", "--tsa", replay.URL, "--tsa-ca", replay.CAFile, "--key", key("alice"))
	head = r.ledgerHead()
	checkError(t, r.run("anchor", "rfc3161", "--tsa", replay.URL, "--tsa-ca", replay.CAFile, "--key", key("alice")), exitError, "nonce")
	if r.ledgerHead() != head {
		t.Fatal("a refused anchor moved the ledger")
	}
	checkError(t, r.run("anchor", "rfc3161", "--tsa", tsa.URL, "--size", "99", "--key", key("alice")), exitUsage, "the ledger has")
	checkError(t, r.run("anchor", "verify", "1"), exitInvalid, "not an anchor")
}

// runMining runs vmc-git in the background, calling mine every interval
// until it exits.
func runMining(t *testing.T, r *repo, mine func(), args ...string) result {
	t.Helper()
	cmd := r.command(nil, args...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.After(5 * time.Minute) // a wait, not a speed check
	for {
		select {
		case err := <-done:
			res := result{args: args, out: out.String(), err: errb.String()}
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				res.code = ee.ExitCode()
			}
			return res
		case <-deadline:
			cmd.Process.Kill()
			t.Fatalf("vmc-git %s did not finish", strings.Join(args, " "))
		case <-time.After(300 * time.Millisecond):
			mine()
		}
	}
}

func TestAnchorBTC(t *testing.T) {
	t.Parallel()
	r, origin := anchorSetup(t)
	wif := filepath.Join(t.TempDir(), "btc.wif")
	addr := strings.TrimSpace(r.must("anchor", "btc-keygen", "--out", wif, "--network", "regtest"))
	node := btctest.Start(t, addr)
	node.Generate(101)
	res := runMining(t, r, func() { node.Generate(1) }, "anchor", "btc", "--rpc", node.URL, "--wallet-key", wif, "--network", "regtest",
		"--confirmations", "2", "--push", "--key", key("alice"), "--json")
	if res.code != 0 || !strings.Contains(res.out, `"pushed": true`) {
		t.Fatalf("%s", res)
	}
	checkAnchored(t, r, origin, 3, "btc", "--rpc", node.URL, "--confirmations", "2")
	out := r.must("anchor", "verify", "3", "--json")
	if strings.Contains(out, `"live"`) {
		t.Fatalf("offline verify claims a live check:\n%s", out)
	}
	// A third party reads the OP_RETURN data from the node (a block explorer).
	_, body := anchorBody(t, r, 3)
	p, err := btc.ParseProof(body.Proof)
	if err != nil {
		t.Fatal(err)
	}
	d := anchor.Digest(body.Statement)
	raw := node.Ctl("getrawtransaction", p.TxID, "1")
	if !strings.Contains(raw, "OP_RETURN 766d6331"+hex.EncodeToString(d[:])) {
		t.Fatalf("the node's view of %s does not carry the digest:\n%s", p.TxID, raw)
	}
	checkError(t, r.run("anchor", "verify", "3", "--rpc", node.URL, "--confirmations", "1000"), exitInvalid, "too few confirmations")
	checkError(t, r.run("anchor", "btc", "--rpc", node.URL, "--wallet-key", wif, "--network", "mainnet", "--key", key("alice")), exitUsage, "not for network")
}

func TestAnchorETH(t *testing.T) {
	t.Parallel()
	node := gethtest.Start(t)
	r, origin := anchorSetup(t)
	keyFile := filepath.Join(t.TempDir(), "eth.key")
	addr := strings.TrimSpace(r.must("anchor", "eth-keygen", "--out", keyFile))
	node.Fund(t, ethcommon.HexToAddress(addr), new(big.Int).Mul(big.NewInt(10), big.NewInt(1e18)))
	res := r.run("anchor", "eth", "--rpc", node.URL, "--eth-key", keyFile, "--confirmations", "2", "--push", "--key", key("alice"), "--json")
	if res.code != 0 || !strings.Contains(res.out, `"pushed": true`) {
		t.Fatalf("%s", res)
	}
	checkAnchored(t, r, origin, 3, "eth", "--rpc", node.URL, "--confirmations", "2")
	// A third party: the node (a block explorer) shows the calldata.
	_, body := anchorBody(t, r, 3)
	p, err := eth.ParseProof(body.Proof)
	if err != nil {
		t.Fatal(err)
	}
	var tx struct {
		Input string `json:"input"`
	}
	if err := node.RPC.Call(&tx, "eth_getTransactionByHash", p.TxHash); err != nil {
		t.Fatal(err)
	}
	d := anchor.Digest(body.Statement)
	if tx.Input != "0x766d6331"+hex.EncodeToString(d[:]) {
		t.Fatalf("calldata %s", tx.Input)
	}
	checkError(t, r.run("anchor", "verify", "3", "--rpc", node.URL, "--confirmations", "100000"), exitInvalid, "too few confirmations")
	// An unfunded key: refused by the node, nothing written.
	poor := filepath.Join(t.TempDir(), "poor.key")
	r.must("anchor", "eth-keygen", "--out", poor)
	head := r.ledgerHead()
	checkError(t, r.run("anchor", "eth", "--rpc", node.URL, "--eth-key", poor, "--key", key("alice")), exitError)
	if r.ledgerHead() != head {
		t.Fatal("a failed anchor moved the ledger")
	}
}

// TestAnchorResume: when the receipt cannot be written after the TSA
// answered (another writer holds the ledger ref's lock), the proof is kept
// and anchor resume writes it.
func TestAnchorResume(t *testing.T) {
	t.Parallel()
	tsa := tsatest.Start(t, tsatest.Options{})
	r, _ := anchorSetup(t)
	lock := filepath.Join(r.root, ".git", "refs", "heads", "vmc", "ledger.lock")
	tsa.OnRequest = func() { os.WriteFile(lock, nil, 0o644) }
	res := r.run("anchor", "rfc3161", "--tsa", tsa.URL, "--tsa-ca", tsa.CAFile, "--key", key("alice"))
	checkError(t, res, exitRefused, "vmc-git anchor resume ")
	pending := ""
	for _, line := range strings.Split(res.err, "\n") {
		if _, after, ok := strings.Cut(line, "vmc-git anchor resume "); ok {
			pending = strings.Fields(after)[0]
		}
	}
	if !exists(pending) {
		t.Fatalf("no pending proof %q:\n%s", pending, res)
	}
	os.Remove(lock)
	out := r.must("anchor", "resume", pending, "--key", key("alice"), "--json")
	if !strings.Contains(out, `"seq": 3`) || exists(pending) {
		t.Fatalf("resume: %s (pending left: %v)", out, exists(pending))
	}
	r.verify(4)
	checkError(t, r.run("anchor", "resume", filepath.Join(t.TempDir(), "none.json"), "--key", key("alice")), exitUsage)
}
