package main

import (
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/merkle"
	"github.com/vmc-git/vmc-git/workspace"
)

func merkleCommand() *cli.Command {
	return &cli.Command{
		Name:  "merkle",
		Usage: "Merkle snapshots of the ledger (RFC 6962), signed checkpoints and proofs",
		Description: `EXAMPLE:
   vmc-git merkle receipts --tag --key ~/.ssh/vmc_alice
   vmc-git merkle prove 42 --json > proof.json`,
		Subcommands: []*cli.Command{
			{
				Name:  "receipts",
				Usage: "snapshot the first N receipts: merkle-<N>.json and, with --tag, the signed tag vmc/merkle/<N>",
				Description: `The tree's leaf i is the bytes of receipt i (leaf hash SHA-256(0x00||bytes)).
The checkpoint (origin = ledger id, size, root) is a sumdb/note signed by your
key (note key name = your kid); the tag is SSHSIG-signed so git tag -v accepts it.
Tags are never moved. After a tagged snapshot, the next one costs O(k + log n)
for k new receipts.

EXAMPLE:
   vmc-git merkle receipts --tag --key ~/.ssh/vmc_ci
   vmc-git merkle receipts --tag --push --key ~/.ssh/vmc_ci   # and publish the tag to origin
   git -c gpg.format=ssh -c gpg.ssh.allowedSignersFile=allowed_signers tag -v refs/tags/vmc/merkle/120`,
				Flags: append([]cli.Flag{
					&cli.Uint64Flag{Name: "size", Usage: "number of receipts (default: all)"},
					&cli.BoolFlag{Name: "tag", Usage: "create the signed tag vmc/merkle/<N>"},
					&cli.StringFlag{Name: "out", Usage: "snapshot file (default: merkle-<N>.json in the current directory)"},
					keyFlag, kidFlag, witnessTimeoutFlag, jsonFlag,
				}, pushFlags()...),
				Action: func(c *cli.Context) error {
					ws, id, err := openSigner(c)
					if err != nil {
						return err
					}
					defer ws.Close()
					res, err := ws.PublishSnapshot(c.Context, id, workspace.SnapshotRequest{
						Size: c.Uint64("size"), Tag: c.Bool("tag"), Push: pushOf(c), Witness: witnessClient(c)})
					if err != nil {
						return err
					}
					if res.Pushed {
						errf(c, "pushed %s to %s", res.TagName, c.String("remote"))
					}
					b, err := res.Snapshot.Marshal()
					if err != nil {
						return err
					}
					out := c.String("out")
					if out == "" {
						out = merkle.SnapshotFileName(res.LeafCount)
					}
					if err := os.WriteFile(out, append(b, '\n'), 0o644); err != nil {
						return err
					}
					if c.Bool("json") {
						return printJSON(c, map[string]any{"snapshot": res.Snapshot, "file": out, "tag": res.TagName, "incremental": res.Incremental, "witnesses": res.Cosigned, "anchors": res.Anchors})
					}
					outf(c, "snapshot of %d receipts: root %s\n  wrote %s\n", res.LeafCount, res.Root, out)
					for _, r := range res.Cosigned {
						if r.Cosignature != nil {
							outf(c, "  cosigned by %s at %s\n", r.Witness, r.Cosignature.Time.Format(time.RFC3339))
						} else {
							outf(c, "  not cosigned by %s: %s\n", r.Witness, r.Error)
						}
					}
					if t := res.TagName; t != "" {
						outf(c, "  tagged %s (tag object %s)\n", t, res.Tag)
					}
					for _, a := range res.Anchors {
						outf(c, "  anchored via %s by receipt %d (%s)\n", a.Substrate, a.Seq, a.CreatedAt)
					}
					return nil
				},
			},
			{
				Name:      "prove",
				Usage:     "inclusion proof of receipt SEQ in the tree of the first N receipts",
				ArgsUsage: "SEQ",
				Description: `Writes the proof JSON (algorithm, index, tree_size, leaf_hash, hashes, root).
Check it offline with: vmc-git merkle verify-proof.

EXAMPLE:
   vmc-git merkle prove 42 --size 120 > proof.json`,
				Flags: []cli.Flag{&cli.Uint64Flag{Name: "size", Usage: "tree size (default: all receipts)"}, jsonFlag},
				Action: func(c *cli.Context) error {
					if err := exactArgs(c, 1, "SEQ"); err != nil {
						return err
					}
					seq, ok := parseSeqArg(c.Args().First())
					if !ok {
						return usagef("prove: SEQ must be a receipt number")
					}
					return printProof(c, func(ws *workspace.Workspace) (marshaler, error) { return ws.ProveInclusion(seq, c.Uint64("size")) })
				},
			},
			{
				Name:      "consistency",
				Usage:     "consistency proof between the trees of the first N1 and N2 receipts",
				ArgsUsage: "N1 N2",
				Description: `EXAMPLE:
   vmc-git merkle consistency 100 120 > consistency.json`,
				Flags: []cli.Flag{jsonFlag},
				Action: func(c *cli.Context) error {
					if err := exactArgs(c, 2, "N1 N2"); err != nil {
						return err
					}
					n1, ok1 := parseSeqArg(c.Args().Get(0))
					n2, ok2 := parseSeqArg(c.Args().Get(1))
					if !ok1 || !ok2 || n1 == 0 || n1 > n2 {
						return usagef("consistency: want 0 < N1 <= N2")
					}
					return printProof(c, func(ws *workspace.Workspace) (marshaler, error) { return ws.ProveConsistency(n1, n2) })
				},
			},
			{
				Name:      "verify-proof",
				Usage:     "check an inclusion proof offline: proof + receipt bytes + signed checkpoint + key",
				ArgsUsage: "PROOF",
				Description: `Needs no repository. --key is a note verifier key (as vmc-git keys list --json
reports) or an OpenSSH public key file whose comment (or --kid) is the signer's kid.
--checkpoint is a signed checkpoint: a merkle-<N>.json snapshot file or the note text.

EXAMPLE:
   vmc-git merkle verify-proof proof.json --receipt 000000042.json --checkpoint merkle-120.json --key alice.pub`,
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "receipt", Required: true, Usage: "the receipt file"},
					&cli.StringFlag{Name: "checkpoint", Required: true, Usage: "signed checkpoint or merkle-<N>.json"},
					&cli.StringFlag{Name: "key", Required: true, Usage: "note verifier key, or an OpenSSH public key file"},
					&cli.StringFlag{Name: "origin", Usage: "the ledger id the checkpoint must name (default: the receipt's ledger)"},
					kidFlag, proofWitnessFlag, proofWQuorumFlag, jsonFlag,
				},
				Action: func(c *cli.Context) error {
					if err := exactArgs(c, 1, "PROOF"); err != nil {
						return err
					}
					proof, err := os.ReadFile(c.Args().First())
					if err != nil {
						return err
					}
					rb, err := os.ReadFile(c.String("receipt"))
					if err != nil {
						return err
					}
					cb, err := os.ReadFile(c.String("checkpoint"))
					if err != nil {
						return err
					}
					req := workspace.ProofCheck{Proof: proof, Receipt: rb, Checkpoint: cb, Key: c.String("key"), KID: c.String("kid"),
						Origin: c.String("origin"), WitnessKeys: c.StringSlice("witness")}
					req.WitnessThreshold = intPtr(c, "witness-threshold")
					res, err := workspace.CheckProof(req)
					if err != nil {
						return err
					}
					for _, g := range res.Cosigned {
						outf(c, "  cosigned by %s at %s\n", g.Witness, g.Time.Format(time.RFC3339))
					}
					if c.Bool("json") {
						return printJSON(c, map[string]any{"ok": true, "seq": res.Seq, "size": res.Size, "ledger": res.Ledger, "origin": res.Origin, "root": res.Root})
					}
					outf(c, "ok: receipt %d (%s) is in the signed tree of size %d of ledger %s (checkpoint origin %s, root %s)\n",
						res.Seq, filepath.Base(c.String("receipt")), res.Size, res.Ledger, res.Origin, res.Root)
					return nil
				},
			},
		},
	}
}

// marshaler is a proof: its JSON is the command's output.
type marshaler interface{ Marshal() ([]byte, error) }

// printProof opens the workspace, makes a proof and prints its JSON.
func printProof(c *cli.Context, prove func(*workspace.Workspace) (marshaler, error)) error {
	p, err := read(c, prove)
	if err != nil {
		return err
	}
	b, err := p.Marshal()
	if err != nil {
		return err
	}
	outf(c, "%s\n", b)
	return nil
}
