package btc

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcjson"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/vmc-git/vmc-git/anchor"
	"github.com/vmc-git/vmc-git/internal/canon"
	"github.com/vmc-git/vmc-git/internal/fsutil"
)

// RPC is a minimal JSON-RPC client for a bitcoin node (btcd or bitcoind):
// URL http://user:pass@host:port.
type RPC struct {
	URL  string
	HTTP *http.Client
	id   atomic.Int64
}

// MaxRPCReply bounds a node's reply, in bytes.
const MaxRPCReply = 64 << 20

// Call calls method with params and decodes the result into out.
func (c *RPC) Call(ctx context.Context, method string, out any, params ...any) error {
	u, err := url.Parse(c.URL)
	if err != nil {
		return fmt.Errorf("btc rpc: %w", err)
	}
	user := u.User
	u.User = nil
	if params == nil {
		params = []any{}
	}
	body, _ := json.Marshal(map[string]any{"jsonrpc": "1.0", "id": c.id.Add(1), "method": method, "params": params})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("btc rpc %s: %w", method, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if user != nil {
		pw, _ := user.Password()
		req.SetBasicAuth(user.Username(), pw)
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: time.Minute}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("btc rpc %s: %w", method, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxRPCReply))
	if err != nil {
		return fmt.Errorf("btc rpc %s: %w", method, err)
	}
	var r struct {
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("btc rpc %s: HTTP %s: %.200s", method, resp.Status, b)
	}
	if r.Error != nil {
		return fmt.Errorf("btc rpc %s: %s (code %d)", method, r.Error.Message, r.Error.Code)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(r.Result, out); err != nil {
		return fmt.Errorf("btc rpc %s: result: %w", method, err)
	}
	return nil
}

// Key is the operator's bitcoin key.
type Key struct {
	WIF     *btcutil.WIF
	Params  *chaincfg.Params
	Address *btcutil.AddressPubKeyHash
}

// NewKey makes a key for network params.
func NewKey(params *chaincfg.Params) (*Key, error) {
	priv, err := btcec.NewPrivateKey()
	if err != nil {
		return nil, err
	}
	w, err := btcutil.NewWIF(priv, params, true)
	if err != nil {
		return nil, err
	}
	return keyOf(w, params)
}

func keyOf(w *btcutil.WIF, params *chaincfg.Params) (*Key, error) {
	a, err := btcutil.NewAddressPubKeyHash(btcutil.Hash160(w.SerializePubKey()), params)
	if err != nil {
		return nil, err
	}
	return &Key{WIF: w, Params: params, Address: a}, nil
}

// WriteKey writes k as WIF to path (mode 0600, never over an existing file).
func WriteKey(path string, k *Key) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("%s exists: not overwriting a key", path)
	}
	return fsutil.WriteFileAtomic(path, []byte(k.WIF.String()+"\n"), 0o600)
}

// LoadKey reads a WIF key file for network params.
func LoadKey(path string, params *chaincfg.Params) (*Key, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	w, err := btcutil.DecodeWIF(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("%s: not a WIF key: %w", path, err)
	}
	if !w.IsForNet(params) {
		return nil, fmt.Errorf("%s: the key is not for network %s", path, params.Name)
	}
	return keyOf(w, params)
}

// Client anchors digests in OP_RETURN outputs.
type Client struct {
	RPC           *RPC
	Network       string
	Key           *Key
	Confirmations int64          // wait for this many (at least 1)
	FeeRate       int64          // satoshi per byte
	ScanBlocks    int64          // how far back to look for a spendable output of Key
	UTXO          *wire.OutPoint // if set, spend this output of Key instead of looking
	Poll          time.Duration  // how often to ask the node while waiting
	// Sent, if set, is called with the txid once the node accepted it.
	Sent func(txid string)
}

// Substrate implements anchor.Anchorer.
func (c *Client) Substrate() string { return Name }

// utxo is a spendable output of the key.
type utxo struct {
	op    wire.OutPoint
	value int64
	pk    []byte
}

// CoinbaseMaturity is how many confirmations a coinbase output needs.
const CoinbaseMaturity = 100

// findUTXO looks through the last ScanBlocks blocks for an unspent output
// to the key's address worth at least need satoshi.
func (c *Client) findUTXO(ctx context.Context, need int64) (*utxo, error) {
	pk, err := txscript.PayToAddrScript(c.Key.Address)
	if err != nil {
		return nil, err
	}
	if c.UTXO != nil {
		var out *btcjson.GetTxOutResult
		if err := c.RPC.Call(ctx, "gettxout", &out, c.UTXO.Hash.String(), c.UTXO.Index, true); err != nil {
			return nil, err
		}
		if out == nil {
			return nil, fmt.Errorf("output %s is spent or unknown to the node", c.UTXO)
		}
		if out.ScriptPubKey.Hex != hex.EncodeToString(pk) {
			return nil, fmt.Errorf("output %s does not pay %s", c.UTXO, c.Key.Address.EncodeAddress())
		}
		if out.Coinbase && out.Confirmations < CoinbaseMaturity {
			return nil, fmt.Errorf("output %s is a coinbase with %d confirmations, spendable at %d", c.UTXO, out.Confirmations, CoinbaseMaturity)
		}
		v, err := btcutil.NewAmount(out.Value)
		if err != nil || int64(v) < need {
			return nil, fmt.Errorf("output %s is worth %v, the anchor needs %d satoshi", c.UTXO, out.Value, need)
		}
		return &utxo{op: *c.UTXO, value: int64(v), pk: pk}, nil
	}
	var tip int64
	if err := c.RPC.Call(ctx, "getblockcount", &tip); err != nil {
		return nil, err
	}
	scan := c.ScanBlocks
	if scan <= 0 {
		scan = 1000
	}
	for h := tip; h >= 0 && h > tip-scan; h-- {
		var hash string
		if err := c.RPC.Call(ctx, "getblockhash", &hash, h); err != nil {
			return nil, err
		}
		var blk btcjson.GetBlockVerboseTxResult
		if err := c.RPC.Call(ctx, "getblock", &blk, hash, 2); err != nil {
			return nil, err
		}
		txs := blk.Tx
		if len(txs) == 0 {
			txs = blk.RawTx // btcd's name for them
		}
		for _, t := range txs {
			for n, o := range t.Vout {
				if o.ScriptPubKey.Hex != hex.EncodeToString(pk) {
					continue
				}
				var out *btcjson.GetTxOutResult
				if err := c.RPC.Call(ctx, "gettxout", &out, t.Txid, n, true); err != nil {
					return nil, err
				}
				if out == nil || (out.Coinbase && out.Confirmations < CoinbaseMaturity) {
					continue
				}
				v, err := btcutil.NewAmount(out.Value)
				if err != nil || int64(v) < need {
					continue
				}
				id, err := chainhash.NewHashFromStr(t.Txid)
				if err != nil {
					return nil, err
				}
				return &utxo{op: wire.OutPoint{Hash: *id, Index: uint32(n)}, value: int64(v), pk: pk}, nil
			}
		}
	}
	return nil, fmt.Errorf("no spendable output of %s worth %d satoshi in the last %d blocks (fund the address; coinbase outputs need %d confirmations)",
		c.Key.Address.EncodeAddress(), need, scan, CoinbaseMaturity)
}

// DustLimit is the smallest change output kept, in satoshi.
const DustLimit = 546

// BuildTx builds and signs the anchor transaction spending u to OP_RETURN
// data and change: data over MaxOpReturn bytes is refused.
func BuildTx(k *Key, prev wire.OutPoint, prevValue int64, prevScript []byte, data []byte, feeRate int64) (*wire.MsgTx, error) {
	script, err := OpReturnScript(data)
	if err != nil {
		return nil, err
	}
	change, err := txscript.PayToAddrScript(k.Address)
	if err != nil {
		return nil, err
	}
	tx := wire.NewMsgTx(wire.TxVersion)
	tx.AddTxIn(wire.NewTxIn(&prev, nil, nil))
	tx.AddTxOut(wire.NewTxOut(0, script))
	const sigScriptSize = 107 // a DER signature with sighash byte, and a compressed key
	size := int64(tx.SerializeSize()) + sigScriptSize + 9 + int64(len(change))
	fee := size * feeRate
	if prevValue-fee >= DustLimit {
		tx.AddTxOut(wire.NewTxOut(prevValue-fee, change))
	} else if prevValue < fee {
		return nil, fmt.Errorf("output worth %d satoshi does not pay the fee of %d", prevValue, fee)
	}
	sig, err := txscript.SignatureScript(tx, 0, prevScript, txscript.SigHashAll, k.WIF.PrivKey, true)
	if err != nil {
		return nil, err
	}
	tx.TxIn[0].SignatureScript = sig
	vm, err := txscript.NewEngine(prevScript, tx, 0, txscript.StandardVerifyFlags, nil, nil, prevValue, txscript.NewCannedPrevOutputFetcher(prevScript, prevValue))
	if err != nil {
		return nil, err
	}
	if err := vm.Execute(); err != nil {
		return nil, fmt.Errorf("the signed transaction does not verify: %w", err)
	}
	return tx, nil
}

// Anchor implements anchor.Anchorer.
func (c *Client) Anchor(ctx context.Context, d [32]byte) (json.RawMessage, error) {
	fee := c.FeeRate
	if fee <= 0 {
		fee = 2
	}
	u, err := c.findUTXO(ctx, 400*fee+DustLimit)
	if err != nil {
		return nil, err
	}
	tx, err := BuildTx(c.Key, u.op, u.value, u.pk, anchor.Payload(d), fee)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tx.SerializeNoWitness(&buf)
	var txid string
	if err := c.RPC.Call(ctx, "sendrawtransaction", &txid, hex.EncodeToString(buf.Bytes())); err != nil {
		return nil, err
	}
	if txid != tx.TxHash().String() {
		return nil, fmt.Errorf("the node accepted %s, but the transaction is %s", txid, tx.TxHash())
	}
	if c.Sent != nil {
		c.Sent(txid)
	}
	p, err := c.wait(ctx, txid)
	if err != nil {
		return nil, err
	}
	p.RawTx = hex.EncodeToString(buf.Bytes())
	if _, err := (Verifier{}).Verify(mustMarshal(p), d); err != nil {
		return nil, fmt.Errorf("the proof built for %s does not verify: %w", txid, err)
	}
	return canon.Marshal(p)
}

func mustMarshal(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// ErrTooFewConfirmations is returned when the wait ends before K confirmations.
var ErrTooFewConfirmations = errors.New("too few confirmations")

// wait polls until txid has the confirmations, then builds the proof.
func (c *Client) wait(ctx context.Context, txid string) (*Proof, error) {
	want := c.Confirmations
	if want < 1 {
		want = 1
	}
	poll := c.Poll
	if poll <= 0 {
		poll = 2 * time.Second
	}
	var seen int64
	for {
		var t btcjson.TxRawResult
		err := c.RPC.Call(ctx, "getrawtransaction", &t, txid, 1)
		if err == nil && t.BlockHash != "" && int64(t.Confirmations) >= want {
			return c.proofOf(ctx, txid, t.BlockHash)
		}
		if err == nil {
			seen = int64(t.Confirmations)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("transaction %s: %w (%d of %d) when the wait ended: %v", txid, ErrTooFewConfirmations, seen, want, ctx.Err())
		case <-time.After(poll):
		}
	}
}

// proofOf builds the proof of txid in block hash.
func (c *Client) proofOf(ctx context.Context, txid, hash string) (*Proof, error) {
	var blk btcjson.GetBlockVerboseResult
	if err := c.RPC.Call(ctx, "getblock", &blk, hash, 1); err != nil {
		return nil, err
	}
	var header string
	if err := c.RPC.Call(ctx, "getblockheader", &header, hash, false); err != nil {
		return nil, err
	}
	ids := make([]chainhash.Hash, len(blk.Tx))
	for i, s := range blk.Tx {
		h, err := chainhash.NewHashFromStr(s)
		if err != nil {
			return nil, err
		}
		ids[i] = *h
	}
	id, err := chainhash.NewHashFromStr(txid)
	if err != nil {
		return nil, err
	}
	branch, idx, err := Branch(ids, *id)
	if err != nil {
		return nil, err
	}
	return &Proof{V: Version, Network: c.Network, TxID: txid, BlockHash: hash, Height: blk.Height, Header: header,
		Index: idx, Branch: branch, Confirmations: blk.Confirmations}, nil
}

// Live checks btc proofs against a node.
type Live struct {
	RPC           *RPC
	Confirmations int64
}

// CheckLive implements anchor.LiveChecker.
func (l *Live) CheckLive(ctx context.Context, raw json.RawMessage) error {
	p, err := ParseProof(raw)
	if err != nil {
		return err
	}
	var at string
	if err := l.RPC.Call(ctx, "getblockhash", &at, p.Height); err != nil {
		return fmt.Errorf("block %s at height %d is not on the node's best chain: %w", p.BlockHash, p.Height, err)
	}
	if at != p.BlockHash {
		return fmt.Errorf("block %s at height %d is not on the node's best chain (its block there is %s)", p.BlockHash, p.Height, at)
	}
	var t btcjson.TxRawResult
	if err := l.RPC.Call(ctx, "getrawtransaction", &t, p.TxID, 1); err == nil && t.BlockHash != "" && t.BlockHash != p.BlockHash {
		return fmt.Errorf("the node has transaction %s in block %s, not in %s", p.TxID, t.BlockHash, p.BlockHash)
	}
	var tip int64
	if err := l.RPC.Call(ctx, "getblockcount", &tip); err != nil {
		return err
	}
	want := l.Confirmations
	if want < 1 {
		want = 1
	}
	if got := tip - p.Height + 1; got < want {
		return fmt.Errorf("block %s has %d confirmations on the node, want %d: %w", p.BlockHash, got, want, ErrTooFewConfirmations)
	}
	return nil
}

// ParseOutPoint reads TXID:VOUT.
func ParseOutPoint(s string) (*wire.OutPoint, error) {
	id, n, ok := strings.Cut(s, ":")
	h, err := chainhash.NewHashFromStr(id)
	if !ok || err != nil || len(id) != 64 {
		return nil, fmt.Errorf("%q is not TXID:VOUT", s)
	}
	v, err := strconv.ParseUint(n, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("%q is not TXID:VOUT", s)
	}
	return wire.NewOutPoint(h, uint32(v)), nil
}
