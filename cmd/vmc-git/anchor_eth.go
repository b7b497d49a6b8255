package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	ethcommon "github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/anchor/eth"
)

// lazyEthLive dials the node only when an eth anchor is checked.
type lazyEthLive struct {
	url           string
	confirmations uint64
}

func (l *lazyEthLive) CheckLive(ctx context.Context, proof json.RawMessage) error {
	cl, err := ethclient.DialContext(ctx, l.url)
	if err != nil {
		return fmt.Errorf("dial %s: %w", l.url, err)
	}
	defer cl.Close()
	return (&eth.Live{Node: cl, Confirmations: l.confirmations}).CheckLive(ctx, proof)
}

func anchorETHCommand() *cli.Command {
	return &cli.Command{
		Name:  "eth",
		Usage: "anchor in the calldata of an Ethereum transaction",
		Description: `Sends, from --eth-key, a transaction to its own address with value 0 and
calldata 766d6331 || the statement's SHA-256; waits for --confirmations; and
stores the signed transaction, its receipt, the block header and the
Merkle-Patricia proofs of both in the header's roots, so the anchor verifies
offline. (--key stays the operator's SSH signing key.)

EXAMPLE:
   vmc-git anchor eth-keygen --out eth.key
   vmc-git anchor eth --rpc https://mainnet.example/rpc --eth-key eth.key --confirmations 12 --push`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "rpc", Required: true, Usage: "the node's JSON-RPC URL"},
			&cli.StringFlag{Name: "eth-key", Required: true, Usage: "hex secp256k1 private key file of the funded sending account"},
			confirmFlag, timeoutFlag, anchorSizeFlag, anchorPushFlag, anchorRemoteFlag, keyFlag, kidFlag, jsonFlag,
		},
		Action: func(c *cli.Context) error {
			k, err := eth.LoadKey(c.String("eth-key"))
			if err != nil {
				return fail(exitUsage, fmt.Errorf("--eth-key: %w", err))
			}
			node, err := ethclient.Dial(c.String("rpc"))
			if err != nil {
				return fmt.Errorf("--rpc %s: %w", c.String("rpc"), err)
			}
			defer node.Close()
			cl := &eth.Client{Node: node, Key: k, Confirmations: uint64(c.Int("confirmations")), Poll: time.Second,
				Sent: func(h ethcommon.Hash) {
					fmt.Fprintf(c.App.ErrWriter, "vmc-git: sent %s, waiting for %d confirmation(s)\n", h.Hex(), c.Int("confirmations"))
				}}
			return runAnchor(c, cl)
		},
	}
}

func anchorETHKeygenCommand() *cli.Command {
	return &cli.Command{
		Name:  "eth-keygen",
		Usage: "make an Ethereum key (hex file) for anchor eth and print its address",
		Description: `EXAMPLE:
   vmc-git anchor eth-keygen --out eth.key`,
		Flags: []cli.Flag{&cli.StringFlag{Name: "out", Required: true, Usage: "the key file to write (mode 0600)"}, jsonFlag},
		Action: func(c *cli.Context) error {
			k, err := eth.NewKey()
			if err != nil {
				return err
			}
			if err := eth.WriteKey(c.String("out"), k); err != nil {
				return fail(exitRefused, err)
			}
			addr := crypto.PubkeyToAddress(k.PublicKey).Hex()
			if c.Bool("json") {
				return printJSON(c, map[string]string{"address": addr, "file": c.String("out")})
			}
			outf(c, "%s\n", addr)
			return nil
		},
	}
}
