package eth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/vmc-git/vmc-git/anchor/eth"
	"github.com/vmc-git/vmc-git/anchor/internal/nodetest"
)

type sim struct {
	b   *simulated.Backend
	key *ecdsa.PrivateKey
}

func newSim(t *testing.T) *sim {
	key, err := eth.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	bal := new(big.Int).Mul(big.NewInt(100), big.NewInt(1e18))
	b := simulated.NewBackend(types.GenesisAlloc{crypto.PubkeyToAddress(key.PublicKey): {Balance: bal}})
	t.Cleanup(func() { b.Close() })
	return &sim{b: b, key: key}
}

func (s *sim) client(k uint64, commits int) *eth.Client {
	return &eth.Client{Node: s.b.Client(), Key: s.key, Confirmations: k, Poll: 20 * time.Millisecond,
		Sent: func(common.Hash) {
			for i := 0; i < commits; i++ {
				s.b.Commit()
			}
		}}
}

// deployReverter deploys a contract whose code is REVERT(0, 0).
func (s *sim) deployReverter(t *testing.T, ctx context.Context) common.Address {
	c := s.b.Client()
	chain, _ := c.ChainID(ctx)
	from := crypto.PubkeyToAddress(s.key.PublicKey)
	nonce, _ := c.PendingNonceAt(ctx, from)
	head, _ := c.HeaderByNumber(ctx, nil)
	tip, _ := c.SuggestGasTipCap(ctx)
	fee := new(big.Int).Add(tip, new(big.Int).Mul(head.BaseFee, big.NewInt(2)))
	initCode := common.FromHex("6460006000fd6000526005601bf3") // returns 60006000fd
	tx, err := types.SignTx(types.NewTx(&types.DynamicFeeTx{ChainID: chain, Nonce: nonce, GasTipCap: tip, GasFeeCap: fee, Gas: 100_000, Data: initCode}),
		types.LatestSignerForChainID(chain), s.key)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SendTransaction(ctx, tx); err != nil {
		t.Fatal(err)
	}
	s.b.Commit()
	rc, err := c.TransactionReceipt(ctx, tx.Hash())
	for i := 0; err != nil && i < 100; i++ { // the receipt is indexed shortly after the block
		time.Sleep(50 * time.Millisecond)
		rc, err = c.TransactionReceipt(ctx, tx.Hash())
	}
	if err != nil || rc.Status != 1 {
		t.Fatalf("deploy: %v %+v", err, rc)
	}
	return rc.ContractAddress
}

// TestAnchorSimulated: a digest anchored through go-ethereum's simulated
// backend verifies offline and live; every broken proof is refused with its
// own error.
func TestAnchorSimulated(t *testing.T) {
	s := newSim(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d := sha256.Sum256([]byte("statement"))
	proof, err := s.client(3, 3).Anchor(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := eth.Verifier{}.Verify(proof, d)
	if err != nil {
		t.Fatal(err)
	}
	nodetest.WriteVector(t, d, proof)
	p, _ := eth.ParseProof(proof)
	if p.ChainID != 1337 || p.Confirmations < 3 || ev.Block != p.BlockNumber || !strings.Contains(ev.Where, p.TxHash.Hex()) {
		t.Fatalf("proof %+v evidence %+v", p, ev)
	}
	live := &eth.Live{Node: s.b.Client(), Confirmations: 3}
	if err := live.CheckLive(ctx, proof); err != nil {
		t.Fatal(err)
	}
	edit := func(f func(p *eth.Proof)) json.RawMessage {
		q, _ := eth.ParseProof(proof)
		f(q)
		b, _ := json.Marshal(q)
		return b
	}
	errs := map[string]error{}
	errs["other calldata"] = verify(proof, sha256.Sum256([]byte("altered")))
	errs["another chain id"] = verify(edit(func(p *eth.Proof) { p.ChainID = 1 }), d)
	_, errs["verifier pinned to another chain"] = eth.Verifier{ChainID: 1}.Verify(proof, d)
	errs["tampered transaction trie proof"] = verify(edit(func(p *eth.Proof) { p.TxProof[0][len(p.TxProof[0])/2] ^= 1 }), d)
	errs["tampered receipt trie proof"] = verify(edit(func(p *eth.Proof) { p.ReceiptProof[0][len(p.ReceiptProof[0])/2] ^= 1 }), d)
	errs["missing trie nodes"] = verify(edit(func(p *eth.Proof) { p.TxProof = p.TxProof[:0] }), d)
	errs["tx hash mismatch"] = verify(edit(func(p *eth.Proof) { p.TxHash[0] ^= 1 }), d)
	errs["header edited"] = verify(edit(func(p *eth.Proof) { p.Header[len(p.Header)-1] ^= 1 }), d)
	errs["wrong block number"] = verify(edit(func(p *eth.Proof) { p.BlockNumber++ }), d)
	errs["wrong index"] = verify(edit(func(p *eth.Proof) { p.Index++ }), d)
	errs["receipt edited"] = verify(edit(func(p *eth.Proof) { p.Receipt[len(p.Receipt)-1] ^= 1 }), d)
	// A header off the canonical chain: same transactions, another extra
	// field. Offline it is consistent; the node knows better.
	fork := edit(func(p *eth.Proof) {
		var h types.Header
		rlp.DecodeBytes(p.Header, &h)
		h.Extra = []byte("fork")
		p.Header, _ = rlp.EncodeToBytes(&h)
		p.BlockHash = h.Hash()
	})
	if err := verify(fork, d); err != nil {
		t.Fatalf("forked header offline: %v", err)
	}
	errs["header not canonical"] = live.CheckLive(ctx, fork)
	errs["too few confirmations (live)"] = (&eth.Live{Node: s.b.Client(), Confirmations: 100}).CheckLive(ctx, proof)
	// The wait ends a while after the one block committed once the
	// transaction is sent (not at a deadline that a slow send could reach
	// first).
	short, cancelShort := context.WithCancel(ctx)
	few := s.client(5, 1)
	commit := few.Sent
	few.Sent = func(h common.Hash) { commit(h); time.AfterFunc(500*time.Millisecond, cancelShort) }
	_, errs["too few confirmations (anchoring)"] = few.Anchor(short, d)
	cancelShort()
	if !errors.Is(errs["too few confirmations (anchoring)"], eth.ErrTooFewConfirmations) {
		t.Errorf("anchoring wait: %v", errs["too few confirmations (anchoring)"])
	}
	// A reverted transaction: sent to a contract that always reverts.
	rev := s.deployReverter(t, ctx)
	rc := s.client(1, 1)
	rc.To = &rev
	_, errs["reverted (anchoring)"] = rc.Anchor(ctx, d)
	tx, err := rc.Send(ctx, hexutil.MustDecode("0x766d6331"+hexutil.Encode(d[:])[2:]))
	if err != nil {
		t.Fatal(err)
	}
	rp, err := rc.WaitProof(ctx, tx.Hash())
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := json.Marshal(rp)
	errs["reverted (offline)"] = verify(rb, d)
	if !errors.Is(errs["reverted (offline)"], eth.ErrReverted) {
		t.Errorf("reverted: %v", errs["reverted (offline)"])
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
		"other calldata": "calldata", "another chain id": "signed for chain 1337", "tampered transaction trie proof": "transaction trie proof",
		"tampered receipt trie proof": "receipt trie proof", "header not canonical": "not canonical", "reverted (anchoring)": "reverted",
		"too few confirmations (live)": "too few confirmations",
	} {
		if errs[name] != nil && !strings.Contains(errs[name].Error(), want) {
			t.Errorf("%s: %v, want %q", name, errs[name], want)
		}
	}
}

func verify(p json.RawMessage, d [32]byte) error {
	_, err := eth.Verifier{}.Verify(p, d)
	return err
}

// TestVector: a proof made through go-ethereum (testdata/proof.json)
// verifies offline, and every byte of it changed is refused.
func TestVector(t *testing.T) {
	d, proof := nodetest.ReadVector(t)
	if _, err := (eth.Verifier{}).Verify(proof, d); err != nil {
		t.Fatal(err)
	}
	nodetest.FlipEveryByte(t, proof, func(b []byte) error { _, err := (eth.Verifier{}).Verify(b, d); return err }, "confirmations")
}

func FuzzVerify(f *testing.F) {
	d, proof := nodetest.ReadVector(f)
	f.Add([]byte(proof))
	f.Fuzz(func(t *testing.T, b []byte) { (eth.Verifier{}).Verify(b, d) })
}
