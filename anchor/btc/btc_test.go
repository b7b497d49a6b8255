package btc_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/vmc-git/vmc-git/anchor/btc"
	"github.com/vmc-git/vmc-git/anchor/btc/btctest"
	"github.com/vmc-git/vmc-git/anchor/internal/nodetest"
)

// TestBranchMatchesBtcd: our Merkle branches fold to the root btcd computes,
// for every block size and position.
func TestBranchMatchesBtcd(t *testing.T) {
	for n := 1; n <= 9; n++ {
		var txs []*btcutil.Tx
		var ids []chainhash.Hash
		for i := 0; i < n; i++ {
			tx := wire.NewMsgTx(1)
			tx.AddTxOut(wire.NewTxOut(int64(i), []byte{byte(n)}))
			txs = append(txs, btcutil.NewTx(tx))
			ids = append(ids, tx.TxHash())
		}
		store := blockchain.BuildMerkleTreeStore(txs, false)
		root := *store[len(store)-1]
		for i := range ids {
			branch, idx, err := btc.Branch(ids, ids[i])
			if err != nil || idx != uint32(i) {
				t.Fatal(err)
			}
			if got := btc.FoldBranch(ids[i], idx, branch); got != root {
				t.Fatalf("n=%d i=%d: root %s, btcd %s", n, i, got, root)
			}
		}
	}
}

type regtest struct {
	node   *btctest.Node
	key    *btc.Key
	params *chaincfg.Params
}

func startRegtest(t *testing.T, blocks int) *regtest {
	params := &chaincfg.RegressionNetParams
	k, err := btc.NewKey(params)
	if err != nil {
		t.Fatal(err)
	}
	n := btctest.Start(t, k.Address.EncodeAddress())
	n.Generate(blocks)
	return &regtest{node: n, key: k, params: params}
}

func (r *regtest) client(confirmations int64, mine int) *btc.Client {
	return &btc.Client{RPC: r.node.RPC, Network: "regtest", Key: r.key, Confirmations: confirmations, Poll: 50 * time.Millisecond,
		Sent: func(string) {
			if mine > 0 {
				r.node.Generate(mine)
			}
		}}
}

// TestAnchorRegtest: a digest anchored through a real btcd verifies offline
// and live; every broken proof is refused with its own error.
func TestAnchorRegtest(t *testing.T) {
	r := startRegtest(t, 105)
	d := sha256.Sum256([]byte("statement"))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Two more transactions in the block, so the branch has two levels.
	others := r.spendOthers(t, ctx, 2)
	proof, err := r.client(2, 2).Anchor(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	nodetest.WriteVector(t, d, proof)
	p, _ := btc.ParseProof(proof)
	if len(p.Branch) < 2 {
		t.Fatalf("branch of %d levels: the block has fewer transactions than expected", len(p.Branch))
	}
	_ = others
	ev, err := btc.Verifier{}.Verify(proof, d)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Block != uint64(p.Height) || !strings.Contains(ev.Where, p.TxID) {
		t.Fatalf("evidence %+v", ev)
	}
	live := &btc.Live{RPC: r.node.RPC, Confirmations: 2}
	if err := live.CheckLive(ctx, proof); err != nil {
		t.Fatal(err)
	}
	// The same digest anchored again, in a later block.
	proof2, err := r.client(1, 1).Anchor(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := btc.ParseProof(proof2)
	// --utxo: a given output is spent, or refused when it is spent already.
	var cb3 string
	r.node.RPC.Call(ctx, "getblockhash", &cb3, 3)
	var blk3 struct {
		Tx []string `json:"tx"`
	}
	r.node.RPC.Call(ctx, "getblock", &blk3, cb3, 1)
	given := r.client(1, 1)
	if given.UTXO, err = btc.ParseOutPoint(blk3.Tx[0] + ":0"); err != nil {
		t.Fatal(err)
	}
	pg, err := given.Anchor(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if err := verify(pg, d); err != nil {
		t.Fatal(err)
	}

	edit := func(f func(p *btc.Proof)) json.RawMessage {
		q, _ := btc.ParseProof(proof)
		f(q)
		b, _ := json.Marshal(q)
		return b
	}
	errs := map[string]error{}
	errs["merkle branch with a flipped bit"] = verify(edit(func(p *btc.Proof) { p.Branch[0] = flipHex(p.Branch[0]) }), d)
	errs["transaction not in the block"] = verify(edit(func(p *btc.Proof) { p.RawTx, p.TxID = p2.RawTx, p2.TxID }), d)
	errs["raw tx not the txid"] = verify(edit(func(p *btc.Proof) { p.TxID = p2.TxID }), d)
	errs["another digest"] = verify(proof, sha256.Sum256([]byte("altered")))
	errs["header edited"] = verify(edit(func(p *btc.Proof) { p.Header = flipHex(p.Header) }), d)
	errs["header below its target"] = verify(edit(func(p *btc.Proof) {
		h := header(t, p.Header)
		for { // a header that misses its target
			h.Nonce++
			if bh := h.BlockHash(); blockchain.HashToBig(&bh).Cmp(blockchain.CompactToBig(h.Bits)) > 0 {
				break
			}
		}
		p.Header, p.BlockHash = hexHeader(h), h.BlockHash().String()
	}), d)
	errs["wrong index"] = verify(edit(func(p *btc.Proof) { p.Index ^= 1 }), d)
	errs["index beyond the branch"] = verify(edit(func(p *btc.Proof) { p.Index = 1 << 20 }), d)
	errs["other network"] = verify(edit(func(p *btc.Proof) { p.Network = "mainnet" }), d)
	errs["unknown network"] = verify(edit(func(p *btc.Proof) { p.Network = "dogecoin" }), d)
	_, errs["given output already spent"] = given.Anchor(ctx, d)
	errs["trailing bytes after the tx"] = verify(edit(func(p *btc.Proof) { p.RawTx += "00" }), d)
	// A header not on the best chain: the same transactions under a header
	// mined apart from the chain (regtest work is easy). SPV offline cannot
	// tell; the node can.
	fork := edit(func(p *btc.Proof) {
		h := header(t, p.Header)
		h.Timestamp = h.Timestamp.Add(time.Second)
		for bh := h.BlockHash(); blockchain.HashToBig(&bh).Cmp(blockchain.CompactToBig(h.Bits)) > 0; bh = h.BlockHash() {
			h.Nonce++
		}
		p.Header, p.BlockHash = hexHeader(h), h.BlockHash().String()
	})
	if err := verify(fork, d); err != nil {
		t.Fatalf("forked header offline: %v", err)
	}
	errs["header not on the best chain"] = live.CheckLive(ctx, fork)
	errs["too few confirmations (live)"] = (&btc.Live{RPC: r.node.RPC, Confirmations: 50}).CheckLive(ctx, proof)
	// Waiting for more confirmations than come: the wait ends a while after
	// the one block mined once the transaction is sent (not at a deadline
	// that a slow send could reach first).
	short, cancelShort := context.WithCancel(ctx)
	few := r.client(5, 1)
	mine := few.Sent
	few.Sent = func(txid string) { mine(txid); time.AfterFunc(time.Second, cancelShort) }
	_, errs["too few confirmations (anchoring)"] = few.Anchor(short, d)
	cancelShort()
	if !errors.Is(errs["too few confirmations (anchoring)"], btc.ErrTooFewConfirmations) {
		t.Errorf("anchoring wait: %v", errs["too few confirmations (anchoring)"])
	}
	// OP_RETURN data over 80 bytes is refused before anything is sent.
	var before []string
	r.node.RPC.Call(ctx, "getrawmempool", &before)
	pk, _ := txscript.PayToAddrScript(r.key.Address)
	_, errs["OP_RETURN over 80 bytes"] = btc.BuildTx(r.key, wire.OutPoint{}, 50_0000_0000, pk, bytes.Repeat([]byte{1}, 81), 2)
	var after []string
	r.node.RPC.Call(ctx, "getrawmempool", &after)
	if len(after) != len(before) {
		t.Errorf("mempool grew from %d to %d", len(before), len(after))
	}
	seen := map[string]string{}
	for name, err := range errs {
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		t.Logf("%s: %v", name, err)
		if o, dup := seen[err.Error()]; dup {
			t.Errorf("%s and %s: same error %q", name, o, err)
		}
		seen[err.Error()] = name
	}
	for name, want := range map[string]string{
		"merkle branch with a flipped bit": "leads to", "transaction not in the block": "not in this block",
		"header not on the best chain": "not on the node's best chain", "OP_RETURN over 80 bytes": "over the 80-byte standard limit",
		"another digest": "not the statement's",
	} {
		if errs[name] != nil && !strings.Contains(errs[name].Error(), want) {
			t.Errorf("%s: %v, want %q", name, errs[name], want)
		}
	}
}

// spendOthers sends k plain transactions from the key's other coinbases.
func (r *regtest) spendOthers(t *testing.T, ctx context.Context, k int) []string {
	var ids []string
	pk, _ := txscript.PayToAddrScript(r.key.Address)
	for h := int64(1); len(ids) < k; h++ {
		var hash string
		if err := r.node.RPC.Call(ctx, "getblockhash", &hash, h); err != nil {
			t.Fatal(err)
		}
		var blk struct {
			Tx []string `json:"tx"`
		}
		if err := r.node.RPC.Call(ctx, "getblock", &blk, hash, 1); err != nil {
			t.Fatal(err)
		}
		id, _ := chainhash.NewHashFromStr(blk.Tx[0])
		var out struct {
			Value float64 `json:"value"`
		}
		if err := r.node.RPC.Call(ctx, "gettxout", &out, blk.Tx[0], 0, true); err != nil {
			t.Fatal(err)
		}
		v, _ := btcutil.NewAmount(out.Value)
		tx, err := btc.BuildTx(r.key, wire.OutPoint{Hash: *id, Index: 0}, int64(v), pk, []byte("other"), 2)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		tx.Serialize(&buf)
		var txid string
		if err := r.node.RPC.Call(ctx, "sendrawtransaction", &txid, hex.EncodeToString(buf.Bytes())); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, txid)
	}
	return ids
}

func verify(p json.RawMessage, d [32]byte) error {
	_, err := btc.Verifier{}.Verify(p, d)
	return err
}

func flipHex(s string) string {
	b, _ := hex.DecodeString(s)
	b[len(b)/2] ^= 1
	return hex.EncodeToString(b)
}

func header(t *testing.T, s string) *wire.BlockHeader {
	b, _ := hex.DecodeString(s)
	var h wire.BlockHeader
	if err := h.Deserialize(bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	return &h
}

func hexHeader(h *wire.BlockHeader) string {
	var buf bytes.Buffer
	h.Serialize(&buf)
	return hex.EncodeToString(buf.Bytes())
}

// TestVector: a proof made by btcd (testdata/proof.json) verifies offline,
// and every byte of it flipped is refused or still names the same anchor.
func TestVector(t *testing.T) {
	d, proof := nodetest.ReadVector(t)
	if _, err := (btc.Verifier{}).Verify(proof, d); err != nil {
		t.Fatal(err)
	}
	nodetest.FlipEveryByte(t, proof, func(b []byte) error { _, err := (btc.Verifier{}).Verify(b, d); return err }, "height", "confirmations")
}

func FuzzVerify(f *testing.F) {
	d, proof := nodetest.ReadVector(f)
	f.Add([]byte(proof))
	f.Fuzz(func(t *testing.T, b []byte) { (btc.Verifier{}).Verify(b, d) })
}
