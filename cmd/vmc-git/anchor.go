package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/anchor"
	"github.com/vmc-git/vmc-git/anchor/rfc3161"
	"github.com/vmc-git/vmc-git/workspace"
)

var (
	anchorSizeFlag   = &cli.Uint64Flag{Name: "size", Usage: "anchor the snapshot of the first N receipts (default: all)"}
	anchorPushFlag   = &cli.BoolFlag{Name: "push", Usage: "fetch first and push the receipt (compare-and-swap, as apply --push)"}
	anchorRemoteFlag = &cli.StringFlag{Name: "remote", Value: "origin", Usage: "the remote for --push"}
	tsaCAFlag        = &cli.StringFlag{Name: "tsa-ca", Usage: "PEM file of the TSA's root and intermediate certificates to trust (default: the system roots)"}
	confirmFlag      = &cli.IntFlag{Name: "confirmations", Value: 1, Usage: "wait for K confirmations (the block and K-1 on top)"}
	timeoutFlag      = &cli.DurationFlag{Name: "timeout", Value: 30 * time.Minute, Usage: "give up waiting after this long"}
)

func anchorCommand() *cli.Command {
	subs := []*cli.Command{anchorRFC3161Command(), anchorETHCommand(), anchorBTCCommand(), anchorVerifyCommand(), anchorListCommand(),
		anchorResumeCommand(), anchorETHKeygenCommand(), anchorBTCKeygenCommand()}
	return &cli.Command{
		Name:  "anchor",
		Usage: "commit a Merkle snapshot to an RFC 3161 TSA, Ethereum or Bitcoin, and verify anchors offline",
		Description: `An anchor receipt records a signed statement (ledger, root, leaf_count,
head_blake3, created_at; SSHSIG namespace vmc-anchor) and the substrate's
proof that the statement's SHA-256 existed by a time: a TSA token, or a
transaction in a block with its Merkle proof to the block header. verify
chain checks every anchor receipt offline.

EXAMPLE:
   vmc-git anchor rfc3161 --tsa https://freetsa.org/tsr --tsa-ca freetsa-ca.pem --push
   vmc-git anchor list
   vmc-git anchor verify 42 --tsa-ca freetsa-ca.pem`,
		Subcommands: subs,
	}
}

// runAnchor appends an anchor receipt with a, from the flags every
// substrate command shares.
func runAnchor(c *cli.Context, a anchor.Anchorer) error {
	ws, id, err := openSigner(c)
	if err != nil {
		return err
	}
	defer ws.Close()
	ctx, cancel := context.WithTimeout(context.Background(), c.Duration("timeout"))
	defer cancel()
	res, err := ws.Anchor(ctx, id, a, workspace.AnchorOptions{Size: c.Uint64("size"), Push: c.Bool("push"), Remote: c.String("remote")})
	if err != nil {
		return err
	}
	return reportAnchor(c, a.Substrate(), res)
}

func reportAnchor(c *cli.Context, substrate string, res *workspace.AnchorResult) error {
	if c.Bool("json") {
		return printJSON(c, map[string]any{"seq": res.Written.Seq, "commit": res.Written.Commit.String(), "substrate": substrate,
			"statement": res.Statement, "digest": fmt.Sprintf("%x", res.Digest), "pushed": res.Pushed})
	}
	outf(c, "anchored receipts 0..%d (root %s) via %s\n  statement sha256 %x\n  receipt %d, commit %s\n", res.Statement.LeafCount-1,
		res.Statement.Root, substrate, res.Digest, res.Written.Seq, res.Written.Commit)
	if res.Pushed {
		outf(c, "  pushed to %s\n", c.String("remote"))
	}
	return nil
}

func readTSACerts(c *cli.Context) ([]*x509.Certificate, error) {
	f := c.String("tsa-ca")
	if f == "" {
		return nil, nil
	}
	b, err := os.ReadFile(f)
	if err != nil {
		return nil, fail(exitUsage, fmt.Errorf("--tsa-ca: %w", err))
	}
	cs, err := rfc3161.ParseCerts(b)
	if err != nil {
		return nil, fail(exitUsage, fmt.Errorf("--tsa-ca %s: %w", f, err))
	}
	return cs, nil
}

func anchorRFC3161Command() *cli.Command {
	return &cli.Command{
		Name:  "rfc3161",
		Usage: "anchor with an RFC 3161 time-stamping authority",
		Description: `Sends a time-stamp request over the statement's SHA-256 (with a nonce and
certReq) and checks the reply (status, imprint, nonce, policy, signature, the
certificate chain with the timeStamping key usage, valid at genTime) before it
writes the receipt. A TSA that returns only its own certificate needs the
intermediates in --tsa-ca.

EXAMPLE:
   vmc-git anchor rfc3161 --tsa https://freetsa.org/tsr --tsa-ca cacert.pem --key ~/.ssh/vmc_ci`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "tsa", Required: true, Usage: "the TSA's URL"},
			tsaCAFlag,
			&cli.StringFlag{Name: "tsa-policy", Usage: "ask for this policy OID (default: the TSA's)"},
			anchorSizeFlag, anchorPushFlag, anchorRemoteFlag, &cli.DurationFlag{Name: "timeout", Value: time.Minute, Usage: "give up after this long"},
			keyFlag, kidFlag, jsonFlag,
		},
		Action: func(c *cli.Context) error {
			certs, err := readTSACerts(c)
			if err != nil {
				return err
			}
			cl := &rfc3161.Client{URL: c.String("tsa"), Certs: certs}
			if p := c.String("tsa-policy"); p != "" {
				if cl.Policy, err = rfc3161.ParseOID(p); err != nil {
					return fail(exitUsage, fmt.Errorf("--tsa-policy: %w", err))
				}
			}
			return runAnchor(c, cl)
		},
	}
}

func anchorResumeCommand() *cli.Command {
	return &cli.Command{
		Name:      "resume",
		Usage:     "write the receipt of an anchor whose proof was kept when its receipt could not be written",
		ArgsUsage: "FILE",
		Description: `An anchor's substrate proof (a paid transaction, a token) is kept in
.git/vmc/anchors/pending-<digest>.json until its receipt is written; if
writing failed, this appends it (checked as verify checks it).

EXAMPLE:
   vmc-git anchor resume .git/vmc/anchors/pending-3f2a….json --push`,
		Flags: []cli.Flag{anchorPushFlag, anchorRemoteFlag, keyFlag, kidFlag, jsonFlag},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1, "FILE"); err != nil {
				return err
			}
			body, err := os.ReadFile(c.Args().First())
			if err != nil {
				return fail(exitUsage, err)
			}
			ws, id, err := openSigner(c)
			if err != nil {
				return err
			}
			defer ws.Close()
			res, err := ws.ResumeAnchor(id, body, workspace.AnchorOptions{Push: c.Bool("push"), Remote: c.String("remote")})
			if err != nil {
				return err
			}
			os.Remove(c.Args().First())
			b, _ := anchor.ParseBody(body)
			return reportAnchor(c, b.Substrate, res)
		},
	}
}
