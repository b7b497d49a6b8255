package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/anchor/btc"
)

var btcNetworkFlag = &cli.StringFlag{Name: "network", Value: "mainnet", Usage: "bitcoin network: mainnet, testnet3, signet or regtest"}

func anchorBTCCommand() *cli.Command {
	return &cli.Command{
		Name:  "btc",
		Usage: "anchor in a Bitcoin OP_RETURN output",
		Description: `Builds and signs, from a P2PKH output of --wallet-key, a transaction with one
OP_RETURN output (766d6331 || the statement's SHA-256) and the change; sends it
to the node; waits for --confirmations; and stores the transaction, the block
header and the Merkle branch to the header's root, so the anchor verifies
offline (SPV). The node needs a transaction index (btcd --txindex).

EXAMPLE:
   vmc-git anchor btc-keygen --out btc.wif --network regtest
   vmc-git anchor btc --rpc http://user:pass@127.0.0.1:18334 --wallet-key btc.wif --network regtest --confirmations 6 --push`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "rpc", Required: true, Usage: "the node's JSON-RPC URL, http://user:pass@host:port"},
			&cli.StringFlag{Name: "wallet-key", Required: true, Usage: "the WIF key file whose P2PKH outputs pay for the transaction"},
			btcNetworkFlag, confirmFlag, timeoutFlag,
			&cli.Int64Flag{Name: "fee-rate", Value: 2, Usage: "fee, in satoshi per byte"},
			&cli.Int64Flag{Name: "scan-blocks", Value: 1000, Usage: "look this many blocks back for a spendable output"},
			&cli.StringFlag{Name: "utxo", Usage: "spend this output (TXID:VOUT) of the key instead of looking for one"},
			anchorSizeFlag, anchorPushFlag, anchorRemoteFlag, keyFlag, kidFlag, jsonFlag,
		},
		Action: func(c *cli.Context) error {
			params, err := btc.Network(c.String("network"))
			if err != nil {
				return fail(exitUsage, err)
			}
			k, err := btc.LoadKey(c.String("wallet-key"), params)
			if err != nil {
				return fail(exitUsage, fmt.Errorf("--wallet-key: %w", err))
			}
			cl := &btc.Client{RPC: &btc.RPC{URL: c.String("rpc")}, Network: c.String("network"), Key: k,
				Confirmations: int64(c.Int("confirmations")), FeeRate: c.Int64("fee-rate"), ScanBlocks: c.Int64("scan-blocks"), Poll: time.Second,
				Sent: func(txid string) {
					fmt.Fprintf(c.App.ErrWriter, "vmc-git: sent %s, waiting for %d confirmation(s)\n", txid, c.Int("confirmations"))
				}}
			if u := c.String("utxo"); u != "" {
				if cl.UTXO, err = btc.ParseOutPoint(u); err != nil {
					return fail(exitUsage, fmt.Errorf("--utxo: %w", err))
				}
			}
			return runAnchor(c, cl)
		},
	}
}

func anchorBTCKeygenCommand() *cli.Command {
	return &cli.Command{
		Name:  "btc-keygen",
		Usage: "make a bitcoin key (WIF file) for anchor btc and print its address",
		Description: `EXAMPLE:
   vmc-git anchor btc-keygen --out btc.wif --network regtest`,
		Flags: []cli.Flag{&cli.StringFlag{Name: "out", Required: true, Usage: "the key file to write (mode 0600)"}, btcNetworkFlag, jsonFlag},
		Action: func(c *cli.Context) error {
			params, err := btc.Network(c.String("network"))
			if err != nil {
				return fail(exitUsage, err)
			}
			k, err := btc.NewKey(params)
			if err != nil {
				return err
			}
			if err := btc.WriteKey(c.String("out"), k); err != nil {
				return fail(exitRefused, err)
			}
			if c.Bool("json") {
				return printJSON(c, map[string]string{"address": k.Address.EncodeAddress(), "network": c.String("network"), "file": c.String("out")})
			}
			outf(c, "%s\n", k.Address.EncodeAddress())
			return nil
		},
	}
}
