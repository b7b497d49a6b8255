package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/internal/config"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/receipt"
	"github.com/vmc-git/vmc-git/workspace"
)

func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:  "verify",
		Usage: "verify the ledger chain or one receipt",
		Description: `EXAMPLE:
   vmc-git verify chain --sig
   vmc-git verify receipt 42 --sig`,
		Subcommands: []*cli.Command{
			verifyChainCommand(),
			verifyReceiptCommand(),
		},
	}
}

func verifyChainCommand() *cli.Command {
	return &cli.Command{
		Name:  "chain",
		Usage: "check every rule of the ledger branch",
		Description: `Walks the ledger branch from genesis and checks canonical bytes, hashes,
prev_blake3, seq without gaps, exactly the allowed tree changes per commit, one
parent, HEAD.json, trust and roles, and with --sig every commit and receipt
signature. The genesis is pinned by --genesis or .vmc/config.json. The last
verified head is remembered under .git/vmc/: a chain that does not extend it
(rewritten history) is refused, naming the fork point, and the next run
checks only the receipts after it (O(k), saying from where; --full re-checks
the whole chain).

A fresh clone cannot tell a ledger a server rolled back (withholding newer
receipts and snapshot tags) from a current one: the output names what the
check relies on, and --min-size N or --checkpoint merkle-N.json (a snapshot
file obtained elsewhere) refuse a ledger shorter than, or forked from, it.

EXAMPLE:
   vmc-git verify chain --sig
   vmc-git verify chain --sig --checkpoint merkle-1200.json
   vmc-git verify chain --sig --from 1200 --json`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "sig", Usage: "verify every commit and receipt signature"},
			&cli.BoolFlag{Name: "head", Usage: "print HEAD.json of the verified tip"},
			&cli.Uint64Flag{Name: "from", Usage: "verify receipts from SEQ on, trusting the ledger before it"},
			&cli.StringFlag{Name: "genesis", Usage: "pinned genesis blake3 (default: genesis_blake3 in .vmc/config.json)"},
			&cli.BoolFlag{Name: "no-remember", Usage: "neither check nor update the remembered verified head"},
			&cli.BoolFlag{Name: "full", Usage: "check the whole chain from genesis, not only the receipts after the remembered verified head"},
			&cli.BoolFlag{Name: "strict", Usage: "fail (exit 3) if receipts were signed by a key after its compromise"},
			&cli.Uint64Flag{Name: "min-size", Usage: "fail (exit 3) if the ledger has fewer than N receipts (a known size: rollback protection)"},
			&cli.StringFlag{Name: "checkpoint", Usage: "fail (exit 3) unless the ledger extends this merkle-<N>.json snapshot (rollback protection)"},
			witnessCheckFlag, witnessTimeoutFlag,
			jsonFlag,
		},
		Action: func(c *cli.Context) error {
			ws, err := open(c)
			if err != nil {
				return err
			}
			defer ws.Close()
			opt := gitledger.VerifyOptions{Signatures: c.Bool("sig"), From: c.Uint64("from"), Remember: !c.Bool("no-remember"), Full: c.Bool("full")}
			if g := c.String("genesis"); g != "" {
				d, err := digest.Parse(g)
				if err != nil {
					return fail(exitUsage, fmt.Errorf("--genesis: %w", err))
				}
				opt.Genesis = &d
			}
			if stderrIsTerminal() && !c.Bool("json") {
				opt.Progress = func(done, total uint64) {
					fmt.Fprintf(c.App.ErrWriter, "\rverifying %d/%d", done, total)
					if done == total {
						fmt.Fprintln(c.App.ErrWriter)
					}
				}
			}
			start := time.Now()
			rep, err := ws.Verify(opt)
			if err != nil {
				var ve *gitledger.VerifyError
				if errors.As(err, &ve) && c.Bool("json") {
					printJSON(c, map[string]any{"ok": false, "seq": ve.Seq, "rule": ve.Rule, "commit": ve.Commit.String(), "error": err.Error()})
				}
				return err
			}
			rel, err := ws.CheckRollback(rep, workspace.RollbackCheck{MinSize: c.Uint64("min-size"), CheckpointFile: c.String("checkpoint")})
			if err != nil {
				return err
			}
			var warnings []string
			if ferr := workspace.FutureWarning(rep); ferr != nil {
				warnings = append(warnings, ferr.Error())
			}
			witnessed, err := checkWitnessed(c, ws)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return printJSON(c, struct {
					OK bool `json:"ok"`
					*gitledger.Report
					ReliesOn  *workspace.Reliance  `json:"relies_on"`
					Warnings  []string             `json:"warnings,omitempty"`
					Witnessed *workspace.Witnessed `json:"witnessed,omitempty"`
				}{true, rep, rel, warnings, witnessed})
			}
			sig := "structure and hashes (add --sig for signatures)"
			if rep.Signatures {
				sig = "structure, hashes and signatures"
			}
			outf(c, "ok: %s, %d receipts (checked %d from seq %d: %s) in %s\n  head: receipt %d, blake3 %s\n  genesis: %s\n",
				rep.Ledger, rep.Receipts, rep.Checked, rep.From, sig, time.Since(start).Round(time.Millisecond), rep.Head.Seq, rep.Head.Blake3, rep.GenesisBlake3)
			if rep.Incremental {
				outf(c, "  from: the verified head remembered in .git/vmc (receipt %d, commit %s); --full checks every receipt\n", rep.Remembered.Seq, rep.Remembered.Commit)
			}
			if opt.Genesis == nil && ws.Config == nil {
				outf(c, "  note: genesis not pinned (no --genesis, no %s)\n", config.Path)
			}
			for _, a := range rep.Anchors {
				outf(c, "  anchor: receipt %d anchors receipts 0..%d via %s at %s\n", a.Seq, a.Statement.LeafCount-1, a.Substrate, a.Evidence.Time.Format(time.RFC3339))
			}
			outf(c, "  relies on: %s: %s, %d receipts", rel.Kind, rel.Source, rel.Size)
			if rel.Time != "" {
				outf(c, ", %s", rel.Time)
			}
			outf(c, "\n")
			if rel.Kind == workspace.ReliesSnapshot || rel.Kind == workspace.ReliesTip {
				outf(c, "  note: a server can serve an older ledger and withhold newer snapshots; give --min-size N or --checkpoint merkle-N.json from another source to refuse that\n")
			}
			for _, w := range warnings {
				outf(c, "  WARNING: %s\n", w)
			}
			for _, iv := range rep.Invalidated {
				outf(c, "  INVALIDATED: receipt %d was signed by %s after its compromise at %s (revoked by receipt %d)\n", iv.Seq, iv.KID, iv.Compromise, iv.RevokedBy)
			}
			if len(rep.Invalidated) > 0 && c.Bool("strict") {
				return fail(exitInvalid, fmt.Errorf("%d receipt(s) signed by compromised keys", len(rep.Invalidated)))
			}
			printWitnessed(c, witnessed)
			if c.Bool("head") {
				b, _ := rep.Head.Encode()
				outf(c, "%s\n", b)
			}
			return nil
		},
	}
}

func verifyReceiptCommand() *cli.Command {
	return &cli.Command{
		Name:      "receipt",
		Usage:     "check one receipt file (or the ledger's receipt SEQ)",
		ArgsUsage: "FILE|SEQ",
		Description: `Checks canonical form and fields; with --sig also that it is this repository's
ledger's receipt at its seq, byte for byte, and FILE.sig against the key trusted
for the receipt's kid at the previous receipt.

EXAMPLE:
   vmc-git verify receipt 42 --sig
   vmc-git verify receipt 000000042.json --sig`,
		Flags: []cli.Flag{&cli.BoolFlag{Name: "sig", Usage: "verify the signature"}, jsonFlag},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1, "FILE|SEQ"); err != nil {
				return err
			}
			arg := c.Args().First()
			var body, sig []byte
			var err error
			ws, rerr := open(c)
			if rerr == nil {
				defer ws.Close()
			}
			seq, isSeq := parseSeqArg(arg)
			if isSeq {
				if rerr != nil {
					return rerr
				}
				e, err := ws.Receipt(seq)
				if err != nil {
					return err
				}
				body, sig = e.Bytes, e.Sig
			} else {
				if body, err = os.ReadFile(arg); err != nil {
					return err
				}
				if c.Bool("sig") {
					if sig, err = os.ReadFile(arg + receipt.SigSuffix); err != nil {
						return fail(exitInvalid, fmt.Errorf("signature: %w", err))
					}
				}
			}
			r, err := receipt.Parse(body)
			if err != nil {
				return fail(exitInvalid, err)
			}
			if c.Bool("sig") {
				if rerr != nil {
					return rerr
				}
				if err := ws.VerifyReceipt(r, body, sig); err != nil {
					return err
				}
			}
			s := digest.Of(body)
			if c.Bool("json") {
				return printJSON(c, map[string]any{"ok": true, "seq": r.Seq, "kind": r.Kind, "kid": r.KID, "blake3": s.Blake3, "sha256": s.SHA256, "signature_checked": c.Bool("sig")})
			}
			what := "canonical, well-formed"
			if c.Bool("sig") {
				what += ", this ledger's receipt, signed by trusted " + r.KID
			}
			outf(c, "ok: receipt %d (%s) %s\n  blake3 %s\n", r.Seq, r.Kind, what, s.Blake3)
			return nil
		},
	}
}

func parseSeqArg(s string) (uint64, bool) {
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil && strconv.FormatUint(n, 10) == s
}
