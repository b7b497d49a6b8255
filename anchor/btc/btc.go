// Package btc anchors a digest in a Bitcoin transaction's OP_RETURN output
// and verifies it offline, SPV style, from the block header.
//
// The transaction spends one P2PKH output of the operator's key (a
// secp256k1 key made by `vmc-git anchor btc-keygen`, stored as WIF) and has
// two outputs: OP_RETURN <Tag || digest> (36 bytes of data, within the
// 80-byte standard limit; longer data is refused before anything is sent)
// with value 0, and the change back to the key's address. It is legacy
// (no witness), so its txid commits to every byte of it. vmc-git builds
// and signs it itself and sends it with sendrawtransaction; it then waits for
// K confirmations and builds the proof from getblock (btcd has no
// gettxoutproof).
//
// Proof (the "proof" member of an anchor receipt with substrate "btc"):
//
//	{"block_hash":"<hex, display order>","branch":["<hex>",…],"confirmations":6,
//	 "header":"<80-byte header, hex>","height":812345,"index":3,"network":"mainnet",
//	 "raw_tx":"<hex>","txid":"<hex, display order>","v":1}
//
// Offline verification: raw_tx parses, is not 64 bytes long (a 64-byte
// transaction could pose as an inner Merkle node), hashes to txid and has
// exactly one OP_RETURN output, carrying Tag || digest; header hashes to
// block_hash and meets its own proof-of-work target, which is within the
// network's limit; and branch, folded from txid by the bits of index
// (double SHA-256 of left || right), ends at the header's merkle root.
// Height and confirmations are what the anchoring node reported (a header
// does not carry its height); only a live check
// (CheckLive: the node's block at height is block_hash, and its tip is
// K-1 blocks on top) shows the block is on the best chain.
//
// A third party finds txid in any block explorer and reads the OP_RETURN
// data: 766d6331 ("vmc1") followed by the statement's SHA-256.
package btc

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/vmc-git/vmc-git/anchor"
	"github.com/vmc-git/vmc-git/internal/canon"
)

// Name is the substrate name.
const Name = "btc"

// Version is the proof format version.
const Version = 1

// MaxOpReturn is the standard limit on OP_RETURN data, in bytes.
const MaxOpReturn = 80

// MaxRawTx bounds a stored transaction, in bytes.
const MaxRawTx = 100_000

// MaxBranch bounds the Merkle branch length (a block of 2^32 transactions).
const MaxBranch = 32

func init() { anchor.Register(Verifier{}) }

// Networks by name.
var Networks = map[string]*chaincfg.Params{
	"mainnet":  &chaincfg.MainNetParams,
	"testnet3": &chaincfg.TestNet3Params,
	"regtest":  &chaincfg.RegressionNetParams,
	"signet":   &chaincfg.SigNetParams,
	"simnet":   &chaincfg.SimNetParams,
}

// Network returns the parameters of a network name.
func Network(name string) (*chaincfg.Params, error) {
	p, ok := Networks[name]
	if !ok {
		return nil, fmt.Errorf("unknown bitcoin network %q (want mainnet, testnet3, signet or regtest)", name)
	}
	return p, nil
}

// Proof is the stored proof.
type Proof struct {
	V             int      `json:"v"`
	Network       string   `json:"network"`
	TxID          string   `json:"txid"`
	RawTx         string   `json:"raw_tx"`
	BlockHash     string   `json:"block_hash"`
	Height        int64    `json:"height"`
	Header        string   `json:"header"`
	Index         uint32   `json:"index"`
	Branch        []string `json:"branch"`
	Confirmations int64    `json:"confirmations"`
}

// ParseProof decodes a proof strictly.
func ParseProof(b []byte) (*Proof, error) {
	var p Proof
	if err := canon.DecodeStrict(b, &p); err != nil {
		return nil, fmt.Errorf("btc proof: %w", err)
	}
	if p.V != Version {
		return nil, fmt.Errorf("btc proof: version %d, want %d", p.V, Version)
	}
	if len(p.Branch) > MaxBranch {
		return nil, fmt.Errorf("btc proof: merkle branch of %d hashes, at most %d", len(p.Branch), MaxBranch)
	}
	if len(p.RawTx) > 2*MaxRawTx {
		return nil, fmt.Errorf("btc proof: raw transaction over %d bytes", MaxRawTx)
	}
	return &p, nil
}

// OpReturnScript returns the script OP_RETURN <data>, refusing data over
// MaxOpReturn bytes.
func OpReturnScript(data []byte) ([]byte, error) {
	if len(data) > MaxOpReturn {
		return nil, fmt.Errorf("OP_RETURN data of %d bytes is over the %d-byte standard limit: refused before sending", len(data), MaxOpReturn)
	}
	return txscript.NewScriptBuilder().AddOp(txscript.OP_RETURN).AddData(data).Script()
}

// opReturnData returns the data of an OP_RETURN <data> script.
func opReturnData(script []byte) ([]byte, bool) {
	if len(script) == 0 || script[0] != txscript.OP_RETURN {
		return nil, false
	}
	pushes, err := txscript.PushedData(script[1:])
	if err != nil || len(pushes) != 1 {
		return nil, true
	}
	return pushes[0], true
}

// Verifier checks btc proofs offline.
type Verifier struct{}

// Substrate implements anchor.Verifier.
func (Verifier) Substrate() string { return Name }

// Verify implements anchor.Verifier.
func (Verifier) Verify(raw json.RawMessage, d [32]byte) (*anchor.Evidence, error) {
	p, err := ParseProof(raw)
	if err != nil {
		return nil, err
	}
	params, err := Network(p.Network)
	if err != nil {
		return nil, fmt.Errorf("btc proof: %w", err)
	}
	txb, err := hex.DecodeString(p.RawTx)
	if err != nil {
		return nil, fmt.Errorf("btc proof: raw_tx: %w", err)
	}
	if len(txb) == 64 {
		return nil, errors.New("btc proof: a 64-byte transaction is refused (it could pose as an inner Merkle node)")
	}
	var tx wire.MsgTx
	rd := bytes.NewReader(txb)
	if err := tx.DeserializeNoWitness(rd); err != nil || rd.Len() != 0 {
		return nil, fmt.Errorf("btc proof: raw_tx is not one legacy transaction (%v, %d bytes left)", err, rd.Len())
	}
	txid := tx.TxHash()
	if txid.String() != p.TxID {
		return nil, fmt.Errorf("btc proof: raw transaction hashes to %s, the proof names %s", txid, p.TxID)
	}
	var found [][]byte
	for _, o := range tx.TxOut {
		if data, ok := opReturnData(o.PkScript); ok {
			found = append(found, data)
		}
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("btc proof: transaction %s has %d OP_RETURN outputs, want exactly 1", txid, len(found))
	}
	if want := anchor.Payload(d); !bytes.Equal(found[0], want) {
		return nil, fmt.Errorf("btc proof: OP_RETURN of %s carries %x, not the statement's %x", txid, found[0], want)
	}
	hb, err := hex.DecodeString(p.Header)
	if err != nil || len(hb) != wire.MaxBlockHeaderPayload {
		return nil, fmt.Errorf("btc proof: header is not %d bytes of hex", wire.MaxBlockHeaderPayload)
	}
	var h wire.BlockHeader
	if err := h.Deserialize(bytes.NewReader(hb)); err != nil {
		return nil, fmt.Errorf("btc proof: header: %w", err)
	}
	bh := h.BlockHash()
	if bh.String() != p.BlockHash {
		return nil, fmt.Errorf("btc proof: header hashes to %s, the proof names block %s", bh, p.BlockHash)
	}
	target := blockchain.CompactToBig(h.Bits)
	if target.Sign() <= 0 || target.Cmp(params.PowLimit) > 0 {
		return nil, fmt.Errorf("btc proof: header target %064x is outside %s's proof-of-work limit", target, p.Network)
	}
	if blockchain.HashToBig(&bh).Cmp(target) > 0 {
		return nil, fmt.Errorf("btc proof: block %s does not meet its own proof-of-work target", bh)
	}
	root, err := foldBranch(txid, p.Index, p.Branch)
	if err != nil {
		return nil, err
	}
	if root != h.MerkleRoot {
		return nil, fmt.Errorf("btc proof: merkle branch of transaction %s (index %d) leads to %s, but block %s has merkle root %s: the branch is broken or the transaction is not in this block",
			txid, p.Index, root, bh, h.MerkleRoot)
	}
	return &anchor.Evidence{Substrate: Name, Time: h.Timestamp.UTC(), Block: uint64(p.Height),
		Where: fmt.Sprintf("bitcoin %s tx %s in block %s (height %d)", p.Network, txid, bh, p.Height)}, nil
}

// foldBranch computes the Merkle root from a txid, its index and branch.
func foldBranch(txid chainhash.Hash, index uint32, branch []string) (chainhash.Hash, error) {
	if len(branch) < 32 && index>>len(branch) != 0 {
		return chainhash.Hash{}, fmt.Errorf("btc proof: index %d needs more than %d branch levels", index, len(branch))
	}
	h := txid
	for i, s := range branch {
		sib, err := chainhash.NewHashFromStr(s)
		if err != nil || len(s) != 64 {
			return chainhash.Hash{}, fmt.Errorf("btc proof: branch %d: not a 32-byte hash", i)
		}
		var buf [64]byte
		if index>>i&1 == 1 {
			copy(buf[:32], sib[:])
			copy(buf[32:], h[:])
		} else {
			copy(buf[:32], h[:])
			copy(buf[32:], sib[:])
		}
		h = chainhash.DoubleHashH(buf[:])
	}
	return h, nil
}

// Branch returns the Merkle branch and index of txid among the block's
// txids (in block order), as bitcoin builds the tree (an odd level repeats
// its last hash).
func Branch(txids []chainhash.Hash, txid chainhash.Hash) ([]string, uint32, error) {
	idx := -1
	for i, t := range txids {
		if t == txid {
			idx = i
		}
	}
	if idx < 0 {
		return nil, 0, fmt.Errorf("transaction %s is not in the block", txid)
	}
	var branch []string
	level := append([]chainhash.Hash(nil), txids...)
	for i := idx; len(level) > 1; i /= 2 {
		if len(level)%2 == 1 {
			level = append(level, level[len(level)-1])
		}
		branch = append(branch, level[i^1].String())
		next := make([]chainhash.Hash, len(level)/2)
		for j := range next {
			var buf [64]byte
			copy(buf[:32], level[2*j][:])
			copy(buf[32:], level[2*j+1][:])
			next[j] = chainhash.DoubleHashH(buf[:])
		}
		level = next
	}
	return branch, uint32(idx), nil
}
