// Package eth anchors a digest in the calldata of an Ethereum transaction
// and verifies it offline from the block header.
//
// The transaction is an EIP-1559 transaction from the operator's key to its
// own address (or To, if set), value 0, calldata Tag || digest (36 bytes;
// package anchor). vmc-git signs it, sends it, waits until its block has K
// confirmations and stores everything needed to check it without a node:
//
//	{"block_hash":"0x…","block_number":123,"chain_id":1337,"confirmations":3,
//	 "header":"0x<RLP header>","index":0,"receipt":"0x<consensus receipt>",
//	 "receipt_proof":["0x<trie node>",…],"tx":"0x<signed transaction>",
//	 "tx_hash":"0x…","tx_proof":["0x<trie node>",…],"v":1}
//
// Offline verification: tx decodes and hashes to tx_hash, is signed for
// chain_id (the sender recovers under that chain's signer), and its
// calldata is exactly Tag || digest; header decodes and hashes to
// block_hash; tx_proof is a Merkle-Patricia proof that key rlp(index) maps to
// tx in the header's transactions root; receipt_proof proves receipt under
// the same key in the header's receipts root; and the receipt's status is
// success (a reverted transaction anchors nothing). Confirmations is what
// the anchoring node reported; a live check (CheckLive) asks a node that
// its chain id is chain_id, that block_number is block_hash on its
// canonical chain, and that the head is K-1 blocks on top.
//
// A third party looks tx_hash up in a block explorer: its input data is
// 0x766d6331 ("vmc1") followed by the statement's SHA-256.
package eth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethdb/memorydb"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"

	"github.com/vmc-git/vmc-git/anchor"
	"github.com/vmc-git/vmc-git/internal/canon"
)

// Name is the substrate name.
const Name = "eth"

// Version is the proof format version.
const Version = 1

// MaxProofNodes bounds each trie proof.
const MaxProofNodes = 64

func init() { anchor.Register(Verifier{}) }

// Proof is the stored proof.
type Proof struct {
	V             int             `json:"v"`
	ChainID       uint64          `json:"chain_id"`
	TxHash        common.Hash     `json:"tx_hash"`
	Tx            hexutil.Bytes   `json:"tx"`
	Receipt       hexutil.Bytes   `json:"receipt"`
	Header        hexutil.Bytes   `json:"header"`
	BlockHash     common.Hash     `json:"block_hash"`
	BlockNumber   uint64          `json:"block_number"`
	Index         uint64          `json:"index"`
	TxProof       []hexutil.Bytes `json:"tx_proof"`
	ReceiptProof  []hexutil.Bytes `json:"receipt_proof"`
	Confirmations uint64          `json:"confirmations"`
}

// ParseProof decodes a proof strictly.
func ParseProof(b []byte) (*Proof, error) {
	var p Proof
	if err := canon.DecodeStrict(b, &p); err != nil {
		return nil, fmt.Errorf("eth proof: %w", err)
	}
	if p.V != Version {
		return nil, fmt.Errorf("eth proof: version %d, want %d", p.V, Version)
	}
	if len(p.TxProof) > MaxProofNodes || len(p.ReceiptProof) > MaxProofNodes {
		return nil, fmt.Errorf("eth proof: trie proofs of more than %d nodes", MaxProofNodes)
	}
	return &p, nil
}

// Verifier checks eth proofs offline.
type Verifier struct {
	// ChainID, if not zero, is the only chain accepted.
	ChainID uint64
}

// Substrate implements anchor.Verifier.
func (Verifier) Substrate() string { return Name }

// ErrReverted is a transaction whose receipt says it failed.
var ErrReverted = errors.New("the transaction reverted (receipt status 0): it anchors nothing")

// Verify implements anchor.Verifier.
func (v Verifier) Verify(raw json.RawMessage, d [32]byte) (*anchor.Evidence, error) {
	p, err := ParseProof(raw)
	if err != nil {
		return nil, err
	}
	if v.ChainID != 0 && p.ChainID != v.ChainID {
		return nil, fmt.Errorf("eth proof: for chain %d, want chain %d", p.ChainID, v.ChainID)
	}
	var tx types.Transaction
	if err := tx.UnmarshalBinary(p.Tx); err != nil {
		return nil, fmt.Errorf("eth proof: tx: %w", err)
	}
	if tx.Hash() != p.TxHash {
		return nil, fmt.Errorf("eth proof: transaction hashes to %s, the proof names %s", tx.Hash(), p.TxHash)
	}
	chain := new(big.Int).SetUint64(p.ChainID)
	if tx.ChainId().Cmp(chain) != 0 {
		return nil, fmt.Errorf("eth proof: transaction is signed for chain %s, the proof says chain %d", tx.ChainId(), p.ChainID)
	}
	from, err := types.Sender(types.LatestSignerForChainID(chain), &tx)
	if err != nil {
		return nil, fmt.Errorf("eth proof: transaction signature: %w", err)
	}
	if want := anchor.Payload(d); !bytes.Equal(tx.Data(), want) {
		return nil, fmt.Errorf("eth proof: calldata of %s is %x, not the statement's %x", p.TxHash, tx.Data(), want)
	}
	var h types.Header
	if err := rlp.DecodeBytes(p.Header, &h); err != nil {
		return nil, fmt.Errorf("eth proof: header: %w", err)
	}
	if h.Hash() != p.BlockHash {
		return nil, fmt.Errorf("eth proof: header hashes to %s, the proof names block %s", h.Hash(), p.BlockHash)
	}
	if h.Number == nil || h.Number.Uint64() != p.BlockNumber {
		return nil, fmt.Errorf("eth proof: header is block %v, the proof says %d", h.Number, p.BlockNumber)
	}
	key := rlp.AppendUint64(nil, p.Index)
	got, err := proveValue(h.TxHash, key, p.TxProof)
	if err != nil {
		return nil, fmt.Errorf("eth proof: transaction trie proof against the header's transactions root %s: %w", h.TxHash, err)
	}
	if !bytes.Equal(got, p.Tx) {
		return nil, fmt.Errorf("eth proof: the transactions root holds another transaction at index %d", p.Index)
	}
	got, err = proveValue(h.ReceiptHash, key, p.ReceiptProof)
	if err != nil {
		return nil, fmt.Errorf("eth proof: receipt trie proof against the header's receipts root %s: %w", h.ReceiptHash, err)
	}
	if !bytes.Equal(got, p.Receipt) {
		return nil, fmt.Errorf("eth proof: the receipts root holds another receipt at index %d", p.Index)
	}
	var rc types.Receipt
	if err := rc.UnmarshalBinary(p.Receipt); err != nil {
		return nil, fmt.Errorf("eth proof: receipt: %w", err)
	}
	if rc.Status != types.ReceiptStatusSuccessful {
		return nil, fmt.Errorf("eth proof: %s: %w", p.TxHash, ErrReverted)
	}
	return &anchor.Evidence{Substrate: Name, Time: time.Unix(int64(h.Time), 0).UTC(), Block: p.BlockNumber,
		Where: fmt.Sprintf("ethereum chain %d tx %s from %s in block %s (number %d)", p.ChainID, p.TxHash, from, p.BlockHash, p.BlockNumber)}, nil
}

// proveValue checks a Merkle-Patricia proof of key under root.
func proveValue(root common.Hash, key []byte, nodes []hexutil.Bytes) ([]byte, error) {
	if len(nodes) == 0 {
		return nil, errors.New("the proof has no trie nodes")
	}
	db := memorydb.New()
	for _, n := range nodes {
		if err := db.Put(crypto.Keccak256(n), n); err != nil {
			return nil, err
		}
	}
	v, err := trie.VerifyProof(root, key, db)
	if err != nil {
		return nil, fmt.Errorf("%w (a node was altered or left out)", err)
	}
	if v == nil {
		return nil, errors.New("the key is absent")
	}
	return v, nil
}
