package eth

import (
	"encoding/binary"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/vmc-git/vmc-git/anchor/internal/nodetest"
)

// splitNodes cuts b into trie nodes, each prefixed by a 2-byte length.
func splitNodes(b []byte) []hexutil.Bytes {
	var out []hexutil.Bytes
	for len(b) >= 2 && len(out) < MaxProofNodes {
		n := int(binary.BigEndian.Uint16(b))
		b = b[2:]
		n = min(n, len(b))
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

func joinNodes(nodes []hexutil.Bytes) []byte {
	var b []byte
	for _, n := range nodes {
		b = binary.BigEndian.AppendUint16(b, uint16(len(n)))
		b = append(b, n...)
	}
	return b
}

// FuzzProofParts feeds hostile bytes to each go-ethereum decoder Verify
// uses, directly: FuzzVerify reaches the header, trie and receipt decoders
// only behind a transaction that is signed and carries the digest, which a
// mutation never keeps. The trie proof is checked against its first
// node's hash, so the walk starts.
func FuzzProofParts(f *testing.F) {
	_, raw := nodetest.ReadVector(f)
	p, err := ParseProof(raw)
	if err != nil {
		f.Fatal(err)
	}
	ns := splitNodes(joinNodes(p.TxProof))
	if v, err := proveValue(crypto.Keccak256Hash(ns[0]), rlp.AppendUint64(nil, p.Index), ns); err != nil || string(v) != string(p.Tx) {
		f.Fatalf("the vector's transaction proof, split and joined: %x, %v", v, err)
	}
	f.Add([]byte(p.Tx), []byte(p.Header), []byte(p.Receipt), joinNodes(p.TxProof), p.Index)
	f.Add([]byte(p.Tx), []byte(p.Header), []byte(p.Receipt), joinNodes(p.ReceiptProof), uint64(1))
	f.Fuzz(func(t *testing.T, txb, header, receipt, nodes []byte, index uint64) {
		var tx types.Transaction
		if tx.UnmarshalBinary(txb) == nil {
			tx.Hash()
			if id := tx.ChainId(); id != nil && id.IsUint64() {
				types.Sender(types.LatestSignerForChainID(id), &tx)
			}
			tx.Data()
		}
		var h types.Header
		if rlp.DecodeBytes(header, &h) == nil {
			h.Hash()
		}
		var rc types.Receipt
		rc.UnmarshalBinary(receipt)
		ns := splitNodes(nodes)
		var root common.Hash
		if len(ns) > 0 {
			root = crypto.Keccak256Hash(ns[0])
		}
		proveValue(root, rlp.AppendUint64(nil, index), ns)
	})
}
