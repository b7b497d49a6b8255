package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/merkle"
	"github.com/vmc-git/vmc-git/receipt"
	"github.com/vmc-git/vmc-git/witness"
	"github.com/vmc-git/vmc-git/workspace"
)

// Flags shared with verify chain, merkle receipts and init.
var (
	witnessCheckFlag   = &cli.BoolFlag{Name: "witness-check", Usage: "ask the trust state's witnesses for their latest size; refuse a ledger shorter than it"}
	witnessTimeoutFlag = &cli.DurationFlag{Name: "witness-timeout", Value: witness.DefaultTimeout, Usage: "bound on each witness call"}
	genesisWitnessFlag = &cli.StringSliceFlag{Name: "witness", Usage: `a genesis witness: "VKEY URL" (repeatable)`}
	genesisWQuorumFlag = &cli.IntFlag{Name: "witness-threshold", Usage: "witness cosignatures each snapshot tag needs"}
)

func witnessClient(c *cli.Context) *witness.Client {
	return &witness.Client{Timeout: c.Duration("witness-timeout")}
}

// genesisWitnesses parses init's --witness and --witness-threshold.
func genesisWitnesses(c *cli.Context, p *keys.Policy) error {
	for _, arg := range c.StringSlice("witness") {
		vkey, url, ok := strings.Cut(strings.TrimSpace(arg), " ")
		if !ok {
			return usagef("--witness %q: want \"VKEY URL\"", arg)
		}
		s, err := workspace.ParseWitnessSpec(vkey, url)
		if err != nil {
			return fmt.Errorf("--witness: %w", err)
		}
		p.Witnesses = append(p.Witnesses, s)
	}
	p.WitnessThreshold = c.Int("witness-threshold")
	return nil
}

// checkWitnessed runs, after a successful verification and CheckRollback,
// the witness checks: the --checkpoint file is authenticated (a quorum of
// witness cosignatures or an operator signature) and its cosigners
// reported, and --witness-check asks the witnesses.
func checkWitnessed(c *cli.Context, ws *workspace.Workspace) (*workspace.Witnessed, error) {
	var files []string
	if f := c.String("checkpoint"); f != "" {
		files = append(files, f)
	}
	if len(files) == 0 && !c.Bool("witness-check") {
		return nil, nil
	}
	return ws.CheckWitnessed(c.Context, files, c.Bool("witness-check"), witnessClient(c))
}

func printWitnessed(c *cli.Context, w *workspace.Witnessed) {
	if w == nil {
		return
	}
	for _, k := range w.Checkpoints {
		by := "cosigned by " + strings.Join(k.Cosigned, ", ")
		if len(k.Cosigned) == 0 {
			by = "signed by " + strings.Join(k.SignedBy, ", ")
		}
		outf(c, "  contains %s: size %d root %s (%s)\n", k.Source, k.Size, k.Root, by)
	}
	if rep := w.Witnesses; rep != nil {
		for _, p := range rep.Witnesses {
			switch {
			case p.Err != nil:
				outf(c, "  witness %s: no answer: %s\n", p.Witness, p.Error)
			case p.Agrees:
				outf(c, "  witness %s: at size %d, agrees with tag %s\n", p.Witness, p.Size, merkle.TagName(rep.Probed))
			default:
				outf(c, "  witness %s: at size %d (ledger has %d)\n", p.Witness, p.Size, rep.LedgerSize)
			}
		}
	}
}

func witnessCommand() *cli.Command {
	changeFlags := []cli.Flag{keyFlag, &cli.StringFlag{Name: "as", Usage: "your key id (default: the key's comment)"},
		&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "write a proposal for admins to co-sign (vmc-git keys cosign / keys apply) instead of applying it"}, jsonFlag}
	change := func(name, usage, args, example string, flags []cli.Flag, build func(c *cli.Context, tc *workspace.TrustChange) error) *cli.Command {
		return &cli.Command{
			Name: name, Usage: usage, ArgsUsage: args,
			Description: "A trust change: a keys receipt signed by admin_threshold admins. With one admin it is\nwritten at once; otherwise write a proposal with -o and collect signatures with\nvmc-git keys cosign, then vmc-git keys apply.\n\nEXAMPLE:\n   " + example,
			Flags:       append(append(flags, changeFlags...), pushFlags()...),
			Action: func(c *cli.Context) error {
				tc := workspace.TrustChange{}
				if err := build(c, &tc); err != nil {
					return err
				}
				if out := c.String("out"); out != "" {
					ws, err := open(c)
					if err != nil {
						return err
					}
					defer ws.Close()
					_, threshold, err := proposeTo(ws, tc, out)
					if err != nil {
						return err
					}
					proposalWritten(c, out, threshold)
					return nil
				}
				return changeTrust(c, tc.Op, func() (workspace.TrustChange, error) { return tc, nil })
			},
		}
	}
	return &cli.Command{
		Name:  "witness",
		Usage: "witnesses that cosign snapshot checkpoints (C2SP tlog-witness): policy and log keys",
		Description: `A witness cosigns a snapshot's checkpoint only if it extends the last one it
cosigned, so a clone that holds a cosigned checkpoint (or asks the witnesses with
verify chain --witness-check) refuses an older or forked ledger. The witnesses and
the quorum (witness_threshold) are part of the trust state.

EXAMPLE:
   vmc-git witness add --vkey 'witness.example/w1+3c7a9f2e+BK...' --url https://witness.example/w1
   vmc-git witness threshold 1
   vmc-git witness list       # and the witnessctl lines that register this ledger
   vmc-git merkle receipts --tag --key ~/.ssh/vmc_ci
   vmc-git verify chain --sig --witness-check`,
		Subcommands: []*cli.Command{
			change("add", "add a witness to the trust state", "", "vmc-git witness add --vkey VKEY --url https://witness.example/w1",
				[]cli.Flag{
					&cli.StringFlag{Name: "vkey", Required: true, Usage: "the witness's cosignature verifier key (name+id+base64, type 0x04; litewitness prints it)"},
					&cli.StringFlag{Name: "url", Required: true, Usage: "the witness's submission URL prefix"},
				},
				func(c *cli.Context, tc *workspace.TrustChange) error {
					s, err := workspace.ParseWitnessSpec(c.String("vkey"), c.String("url"))
					if err != nil {
						return err
					}
					tc.Op, tc.Witness = receipt.KeysAddWitness, &s
					return nil
				}),
			change("remove", "remove a witness from the trust state", "NAME", "vmc-git witness remove witness.example/w1", nil,
				func(c *cli.Context, tc *workspace.TrustChange) error {
					if err := exactArgs(c, 1, "NAME"); err != nil {
						return err
					}
					tc.Op, tc.WitnessName = receipt.KeysRemoveWitness, c.Args().First()
					return nil
				}),
			change("threshold", "set witness_threshold: the cosignatures each snapshot tag needs", "N", "vmc-git witness threshold 2", nil,
				func(c *cli.Context, tc *workspace.TrustChange) error {
					if err := exactArgs(c, 1, "N"); err != nil {
						return err
					}
					n, err := strconv.Atoi(c.Args().First())
					if err != nil || n < 0 {
						return usagef("threshold: N must be a number >= 0")
					}
					tc.Op, tc.WitnessThreshold = receipt.KeysWitnessThreshold, &n
					return nil
				}),
			{
				Name:  "list",
				Usage: "show the witness policy and the log keys a witness must register",
				Description: `Each snapshot signer (applier or admin key) signs checkpoints under the ledger
id's name too; a witness registers those keys for the ledger's origin.

EXAMPLE:
   vmc-git witness list
   witnessctl add-log -db litewitness.db -origin github.com/acme/infra`,
				Flags: []cli.Flag{jsonFlag},
				Action: func(c *cli.Context) error {
					return report(c, (*workspace.Workspace).Witnesses, func(l *workspace.WitnessList) {
						outf(c, "witness_threshold %d, %d witnesses\n", l.Threshold, len(l.Witnesses))
						for _, w := range l.Witnesses {
							outf(c, "  %s %s\n    %s\n", w.Name, w.URL, w.Key)
						}
						outf(c, "register this ledger with a litewitness:\n  witnessctl add-log -origin %s\n", l.Origin)
						for _, k := range l.LogKeys {
							outf(c, "  witnessctl add-key -origin %s -key %s\n", l.Origin, k)
						}
					})
				},
			},
		},
	}
}

// merkle verify-proof: the checkpoint's witness cosignatures.
var (
	proofWitnessFlag = &cli.StringSliceFlag{Name: "witness", Usage: "a witness's cosignature verifier key (repeatable); with --witness-threshold"}
	proofWQuorumFlag = &cli.IntFlag{Name: "witness-threshold", Usage: "cosignatures by --witness keys the checkpoint needs (default: all given)"}
)
