package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/mod/sumdb/note"

	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/keys"
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
   git -c gpg.format=ssh -c gpg.ssh.allowedSignersFile=allowed_signers tag -v refs/tags/vmc/merkle/120`,
				Flags: []cli.Flag{
					&cli.Uint64Flag{Name: "size", Usage: "number of receipts (default: all)"},
					&cli.BoolFlag{Name: "tag", Usage: "create the signed tag vmc/merkle/<N>"},
					&cli.StringFlag{Name: "out", Usage: "snapshot file (default: merkle-<N>.json in the current directory)"},
					keyFlag, kidFlag, witnessTimeoutFlag, jsonFlag,
				},
				Action: func(c *cli.Context) error {
					ws, err := open(c)
					if err != nil {
						return err
					}
					defer ws.Close()
					id, err := loadSigner(c, ws)
					if err != nil {
						return err
					}
					res, cosigned, err := ws.SnapshotWitnessed(c.Context, id, c.Uint64("size"), c.Bool("tag"), witnessClient(c))
					if err != nil {
						return err
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
					anchors, err := ws.SnapshotAnchors(res.LeafCount)
					if err != nil {
						return err
					}
					if c.Bool("json") {
						return printJSON(c, map[string]any{"snapshot": res.Snapshot, "file": out, "tag": tagName(res), "incremental": res.Incremental, "witnesses": cosigned, "anchors": anchors})
					}
					outf(c, "snapshot of %d receipts: root %s\n  wrote %s\n", res.LeafCount, res.Root, out)
					for _, r := range cosigned {
						if r.Cosignature != nil {
							outf(c, "  cosigned by %s at %s\n", r.Witness, r.Cosignature.Time.Format(time.RFC3339))
						} else {
							outf(c, "  not cosigned by %s: %s\n", r.Witness, r.Error)
						}
					}
					if t := tagName(res); t != "" {
						outf(c, "  tagged %s (tag object %s)\n", t, res.Tag)
					}
					for _, a := range anchors {
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
					tree, size, err := ledgerTree(c, c.Uint64("size"))
					if err != nil {
						return err
					}
					if seq >= size {
						return fail(exitNotFound, fmt.Errorf("receipt %d is not in a tree of %d receipts", seq, size))
					}
					hashes, err := tree.ProveInclusion(seq, size)
					if err != nil {
						return err
					}
					leaf, err := tree.LeafAt(seq)
					if err != nil {
						return err
					}
					root, err := tree.Root(size)
					if err != nil {
						return err
					}
					p := merkle.InclusionProof{Algorithm: merkle.Algorithm, Index: seq, Size: size, LeafHash: leaf, Hashes: hashes, Root: root}
					b, err := p.Marshal()
					if err != nil {
						return err
					}
					outf(c, "%s\n", b)
					return nil
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
					tree, _, err := ledgerTree(c, n2)
					if err != nil {
						return err
					}
					hashes, err := tree.ProveConsistency(n1, n2)
					if err != nil {
						return err
					}
					root1, err := tree.Root(n1)
					if err != nil {
						return err
					}
					root2, err := tree.Root(n2)
					if err != nil {
						return err
					}
					p := merkle.ConsistencyProof{Algorithm: merkle.Algorithm, Size1: n1, Size2: n2, Root1: root1, Root2: root2, Hashes: hashes}
					b, err := p.Marshal()
					if err != nil {
						return err
					}
					outf(c, "%s\n", b)
					return nil
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
					kidFlag, proofWitnessFlag, proofWQuorumFlag,
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
					if bytes.HasPrefix(bytes.TrimSpace(cb), []byte("{")) {
						snap, err := merkle.ParseSnapshot(cb)
						if err != nil {
							return fail(exitInvalid, err)
						}
						cb = []byte(snap.Checkpoint)
					}
					v, err := verifierFromArg(c.String("key"), c.String("kid"))
					if err != nil {
						return fail(exitUsage, err)
					}
					if err := merkle.CheckOffline(proof, rb, cb, note.VerifierList(v)); err != nil {
						return fail(exitInvalid, err)
					}
					// Whose tree: the checkpoint's origin must be the
					// receipt's ledger (and --origin, if given), and the
					// leaf index its seq.
					res, err := workspace.CheckProofOrigin(proof, rb, cb, note.VerifierList(v), c.String("origin"))
					if err != nil {
						return fail(exitInvalid, err)
					}
					if err := checkProofWitnesses(c, cb); err != nil {
						return err
					}
					outf(c, "ok: receipt %d (%s) is in the signed tree of size %d of ledger %s (checkpoint origin %s, root %s)\n",
						res.Seq, filepath.Base(c.String("receipt")), res.Size, res.Ledger, res.Origin, res.Root)
					return nil
				},
			},
		},
	}
}

func tagName(r *gitledger.SnapshotResult) string {
	if r.Tag.IsZero() {
		return ""
	}
	return merkle.TagName(r.LeafCount)
}

// ledgerTree returns the Merkle tree of the first size receipts (0: all),
// with its stored hashes (O(log n) proofs after a snapshot tag).
func ledgerTree(c *cli.Context, size uint64) (*merkle.StoredTree, uint64, error) {
	ws, err := open(c)
	if err != nil {
		return nil, 0, err
	}
	defer ws.Close()
	return ws.MerkleTree(size)
}

// verifierFromArg builds a note verifier from a verifier key string or an
// OpenSSH public key (file or line) named by kid.
func verifierFromArg(arg, kid string) (note.Verifier, error) {
	if strings.Count(arg, "+") == 2 && !strings.HasPrefix(arg, "ssh-") {
		if _, err := os.Stat(arg); err != nil {
			return note.NewVerifier(arg)
		}
	}
	var line []byte
	if strings.HasPrefix(arg, "ssh-") {
		line = []byte(arg)
	} else {
		b, err := os.ReadFile(arg)
		if err != nil {
			return nil, err
		}
		line = b
	}
	pub, comment, err := keys.ParsePublicKey(line)
	if err != nil {
		return nil, err
	}
	if kid == "" {
		kid = comment
	}
	if keys.ValidKID(kid) != nil {
		return nil, fmt.Errorf("--key: give --kid NAME (the public key has no usable comment)")
	}
	ek, err := keys.Ed25519Public(pub)
	if err != nil {
		return nil, err
	}
	vk, err := merkle.VerifierKey(kid, ek)
	if err != nil {
		return nil, err
	}
	return note.NewVerifier(vk)
}
