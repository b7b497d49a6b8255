package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/anchor"
	"github.com/vmc-git/vmc-git/anchor/btc"
	"github.com/vmc-git/vmc-git/anchor/eth"
	"github.com/vmc-git/vmc-git/anchor/rfc3161"
	"github.com/vmc-git/vmc-git/workspace"
)

// anchor verify and anchor list: the reads of anchor receipts.

// liveCheckers make a live checker per substrate for --rpc URL.
var liveCheckers = map[string]func(c *cli.Context, url string) anchor.LiveChecker{
	btc.Name: func(c *cli.Context, url string) anchor.LiveChecker {
		return &btc.Live{RPC: &btc.RPC{URL: url}, Confirmations: int64(c.Int("confirmations"))}
	},
	eth.Name: func(c *cli.Context, url string) anchor.LiveChecker {
		return &lazyEthLive{url: url, confirmations: uint64(c.Int("confirmations"))}
	},
}

func anchorVerifyCommand() *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "verify anchor receipts offline (all, receipt SEQ, or a receipt FILE of this ledger)",
		ArgsUsage: "[SEQ|FILE]",
		Description: `Checks the statement's signature, that its root is the ledger's own at its
size, and the substrate proof, offline. --tsa-ca trusts your own TSA roots
instead of those the anchoring operator recorded. --rpc also asks a node that
the block is on its best chain with --confirmations.

EXAMPLE:
   vmc-git anchor verify
   vmc-git anchor verify 42 --tsa-ca tsa-ca.pem --json
   vmc-git anchor verify 43 --rpc http://127.0.0.1:8545 --confirmations 12`,
		Flags: []cli.Flag{tsaCAFlag, &cli.StringFlag{Name: "rpc", Usage: "a node to check eth or btc anchors against (btc: http://user:pass@host:port)"},
			confirmFlag, jsonFlag},
		Action: func(c *cli.Context) error {
			if c.NArg() > 1 {
				return usagef("anchor verify: want at most one argument: SEQ or FILE")
			}
			ws, err := open(c)
			if err != nil {
				return err
			}
			defer ws.Close()
			var seqs []uint64
			if c.NArg() == 1 {
				seq, err := anchorArg(ws, c.Args().First())
				if err != nil {
					return err
				}
				seqs = []uint64{seq}
			}
			opt := &anchor.Options{Verifiers: map[string]anchor.Verifier{}}
			certs, err := readTSACerts(c)
			if err != nil {
				return err
			}
			if certs != nil {
				opt.Verifiers[rfc3161.Name] = rfc3161.Verifier{Certs: certs}
			}
			live := map[string]anchor.LiveChecker{}
			if u := c.String("rpc"); u != "" {
				for name, mk := range liveCheckers {
					live[name] = mk(c, u)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			res, err := ws.VerifyAnchors(ctx, seqs, opt, live)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return printJSON(c, res)
			}
			if len(res) == 0 {
				outf(c, "no anchor receipts\n")
			}
			for _, v := range res {
				outf(c, "ok: receipt %d anchors receipts 0..%d (root %s) via %s at %s\n  %s\n", v.Seq, v.Statement.LeafCount-1, v.Statement.Root,
					v.Substrate, v.Evidence.Time.UTC().Format(time.RFC3339), v.Evidence.Where)
				if v.Live != "" {
					outf(c, "  %s\n", v.Live)
				}
			}
			return nil
		},
	}
}

// anchorArg reads SEQ, or FILE (a receipt file that must be the ledger's
// receipt at its seq).
func anchorArg(ws *workspace.Workspace, arg string) (uint64, error) {
	if seq, ok := parseSeqArg(arg); ok {
		return seq, nil
	}
	b, err := os.ReadFile(arg)
	if err != nil {
		return 0, fail(exitUsage, fmt.Errorf("%s is neither a receipt seq nor a readable file: %w", arg, err))
	}
	seq, err := ws.AnchorSeq(b)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", arg, err)
	}
	return seq, nil
}

func anchorListCommand() *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "list anchor receipts (not verified: see anchor verify)",
		Description: `EXAMPLE:
   vmc-git anchor list --json`,
		Flags: []cli.Flag{jsonFlag},
		Action: func(c *cli.Context) error {
			return report(c, (*workspace.Workspace).Anchors, func(all []workspace.AnchorInfo) {
				for _, a := range all {
					outf(c, "%6d  %s  %-8s receipts 0..%d  root %s  sha256 %s\n", a.Seq, a.CreatedAt, a.Substrate, a.LeafCount-1, a.Root.String()[:16], a.Digest[:16])
				}
			})
		},
	}
}

func anchoredText(refs []workspace.AnchorRef) string {
	if len(refs) == 0 {
		return ""
	}
	var parts []string
	for _, a := range refs {
		parts = append(parts, fmt.Sprintf("%s by receipt %d", a.Substrate, a.Seq))
	}
	return "  [anchored: " + strings.Join(parts, ", ") + "]"
}
