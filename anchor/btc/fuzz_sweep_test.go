package btc_test

import (
	"encoding/hex"
	"encoding/json"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/chainhash"

	"github.com/vmc-git/vmc-git/anchor/btc"
	"github.com/vmc-git/vmc-git/anchor/internal/nodetest"
)

// rawProof builds a regtest proof around a raw transaction, a header and a
// branch, making txid, the header's merkle root and block_hash agree with
// them, so that every input reaches wire's transaction parser and the
// OP_RETURN script reader (FuzzVerify reaches them only through hex that
// must still hash to the stored txid).
func rawProof(tx, header []byte, index uint32, branch []byte) []byte {
	txid := chainhash.DoubleHashH(tx)
	var hashes []string
	for i := 0; i+32 <= len(branch) && len(hashes) < btc.MaxBranch; i += 32 {
		var h chainhash.Hash
		copy(h[:], branch[i:i+32])
		hashes = append(hashes, h.String())
	}
	hdr := make([]byte, 80)
	copy(hdr, header)
	root := btc.FoldBranch(txid, index, hashes)
	copy(hdr[36:68], root[:])
	p := btc.Proof{V: btc.Version, Network: "regtest", TxID: txid.String(), RawTx: hex.EncodeToString(tx),
		BlockHash: chainhash.DoubleHashH(hdr).String(), Height: 1, Header: hex.EncodeToString(hdr), Index: index,
		Branch: hashes, Confirmations: 1}
	if p.Branch == nil {
		p.Branch = []string{}
	}
	b, _ := json.Marshal(p)
	return b
}

func FuzzVerifyRawTx(f *testing.F) {
	d, raw := nodetest.ReadVector(f)
	p, err := btc.ParseProof(raw)
	if err != nil {
		f.Fatal(err)
	}
	tx, _ := hex.DecodeString(p.RawTx)
	hdr, _ := hex.DecodeString(p.Header)
	var branch []byte
	for _, s := range p.Branch {
		h, _ := chainhash.NewHashFromStr(s)
		branch = append(branch, h[:]...)
	}
	if _, err := (btc.Verifier{}).Verify(rawProof(tx, hdr, p.Index, branch), d); err != nil {
		f.Fatalf("the vector rebuilt does not verify: %v", err)
	}
	f.Add(tx, hdr, p.Index, branch)
	f.Add(tx[:len(tx)/2], hdr, uint32(0), []byte{})
	f.Fuzz(func(t *testing.T, tx, header []byte, index uint32, branch []byte) {
		if len(tx) > btc.MaxRawTx {
			return
		}
		(btc.Verifier{}).Verify(rawProof(tx, header, index, branch), d)
	})
}
