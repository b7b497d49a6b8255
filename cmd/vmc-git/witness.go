package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/merkle"
	"github.com/vmc-git/vmc-git/receipt"
	"github.com/vmc-git/vmc-git/witness"
)

func init() {
	extraCommandFuncs = append(extraCommandFuncs, func() []*cli.Command { return []*cli.Command{witnessCommand()} })
}

// Flags shared with verify chain, merkle receipts and init.
var (
	checkpointFileFlag = &cli.StringSliceFlag{Name: "checkpoint", Usage: "a cosigned or operator-signed checkpoint (note text or merkle-<N>.json) the ledger must contain (repeatable)"}
	witnessCheckFlag   = &cli.BoolFlag{Name: "witness-check", Usage: "ask the trust state's witnesses for their latest size; refuse a ledger shorter than it"}
	witnessTimeoutFlag = &cli.DurationFlag{Name: "witness-timeout", Value: witness.DefaultTimeout, Usage: "bound on each witness call"}
	genesisWitnessFlag = &cli.StringSliceFlag{Name: "witness", Usage: `a genesis witness: "VKEY URL" (repeatable)`}
	genesisWQuorumFlag = &cli.IntFlag{Name: "witness-threshold", Usage: "witness cosignatures each snapshot tag needs"}
)

func witnessClient(c *cli.Context) *witness.Client {
	return &witness.Client{Timeout: c.Duration("witness-timeout")}
}

// cosigner gathers cosignatures for merkle receipts --tag; results are kept
// for the report.
func cosigner(c *cli.Context, results *[]witness.Result) gitledger.CosignFunc {
	return func(req witness.Request, ws []witness.Witness, threshold int) ([]byte, error) {
		out, res, err := witness.Cosign(c.Context, witnessClient(c), ws, threshold, req, time.Now())
		*results = res
		if err != nil {
			var why []string
			for _, r := range res {
				if r.Err != nil {
					why = append(why, r.Error)
				}
			}
			return nil, fmt.Errorf("%w: %s", err, strings.Join(why, "; "))
		}
		return out, nil
	}
}

// genesisWitnesses parses init's --witness and --witness-threshold.
func genesisWitnesses(c *cli.Context, p *keys.Policy) error {
	for _, arg := range c.StringSlice("witness") {
		s, err := parseWitnessArg(arg)
		if err != nil {
			return fail(exitUsage, fmt.Errorf("--witness: %w", err))
		}
		p.Witnesses = append(p.Witnesses, s)
	}
	p.WitnessThreshold = c.Int("witness-threshold")
	return nil
}

func parseWitnessArg(arg string) (keys.WitnessSpec, error) {
	vkey, url, ok := strings.Cut(strings.TrimSpace(arg), " ")
	if !ok {
		return keys.WitnessSpec{}, fmt.Errorf("%q: want \"VKEY URL\"", arg)
	}
	w, err := witness.ParseWitness(vkey, strings.TrimSpace(url))
	if err != nil {
		return keys.WitnessSpec{}, err
	}
	return keys.WitnessSpec{Name: w.Name, Key: vkey, URL: w.URL}, nil
}

// checkWitnessed runs verify chain's --checkpoint and --witness-check after
// a successful Verify, and returns what to add to the report.
func checkWitnessed(c *cli.Context, rc *repoCtx) (map[string]any, error) {
	out := map[string]any{}
	var known []gitledger.KnownCheckpoint
	for _, path := range c.StringSlice("checkpoint") {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fail(exitUsage, fmt.Errorf("--checkpoint: %w", err))
		}
		if snap, err := merkle.ParseSnapshot(b); err == nil {
			b = []byte(snap.Checkpoint)
		}
		known = append(known, gitledger.KnownCheckpoint{Source: "checkpoint file " + path, Note: b})
	}
	if len(known) > 0 {
		res, err := rc.ledger.CheckKnown(known)
		if err != nil {
			return nil, fail(exitInvalid, err, "a checkpoint you hold is not in this ledger: the server may be serving an old or forked ledger; fetch from another remote and compare")
		}
		out["checkpoints"] = res
	}
	if c.Bool("witness-check") {
		rep, err := rc.ledger.WitnessCheck(c.Context, witnessClient(c), time.Now())
		if err != nil {
			var ahead *gitledger.WitnessAheadError
			var rb *merkle.RollbackError
			if errors.As(err, &ahead) || errors.As(err, &rb) {
				return nil, fail(exitInvalid, err, "the witnesses have seen a longer or different ledger: the server may be serving an old or forked ledger")
			}
			return nil, fail(exitError, err)
		}
		out["witnesses"] = rep
	}
	return out, nil
}

func printWitnessed(c *cli.Context, extra map[string]any) {
	if res, ok := extra["checkpoints"].([]gitledger.KnownResult); ok {
		for _, k := range res {
			by := "cosigned by " + strings.Join(k.Cosigned, ", ")
			if len(k.Cosigned) == 0 {
				by = "signed by " + strings.Join(k.SignedBy, ", ")
			}
			outf(c, "  contains %s: size %d root %s (%s)\n", k.Source, k.Size, k.Root, by)
		}
	}
	if rep, ok := extra["witnesses"].(*gitledger.WitnessReport); ok {
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

func witnessSummary(p receipt.Proposal) string {
	switch p.Op {
	case receipt.KeysAddWitness:
		return fmt.Sprintf("add witness %s", p.Witness.Name)
	case receipt.KeysRemoveWitness:
		return fmt.Sprintf("remove witness %s", p.WitnessName)
	default:
		return fmt.Sprintf("witness_threshold %d", *p.WitnessThreshold)
	}
}

func witnessCommand() *cli.Command {
	changeFlags := []cli.Flag{keyFlag, &cli.StringFlag{Name: "as", Usage: "your key id (default: the key's comment)"},
		&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "write a proposal for admins to co-sign (vmc-git keys cosign / keys apply) instead of applying it"}, jsonFlag}
	change := func(name, usage, args, example string, flags []cli.Flag, build func(c *cli.Context, p *receipt.Proposal) error) *cli.Command {
		return &cli.Command{
			Name: name, Usage: usage, ArgsUsage: args,
			Description: "A trust change: a keys receipt signed by admin_threshold admins. With one admin it is\nwritten at once; otherwise write a proposal with -o and collect signatures with\nvmc-git keys cosign, then vmc-git keys apply.\n\nEXAMPLE:\n   " + example,
			Flags:       append(flags, changeFlags...),
			Action: func(c *cli.Context) error {
				rc, err := openRepo(c)
				if err != nil {
					return err
				}
				tip, err := rc.ledger.Tip()
				if err != nil {
					return err
				}
				p := receipt.Proposal{V: receipt.Version, Ledger: tip.Head.Ledger, Base: tip.Head.Blake3}
				if err := build(c, &p); err != nil {
					return err
				}
				ch := &receipt.KeysChange{Proposal: p, Signatures: []receipt.Cosig{}}
				if err := validateProposal(ch); err != nil {
					return fail(exitUsage, err)
				}
				if _, err := dryRunKeys(tip, ch); err != nil {
					return fail(exitRefused, err)
				}
				if out := c.String("out"); out != "" {
					if err := writeChange(out, ch, true); err != nil {
						return err
					}
					outf(c, "wrote proposal %s (needs %d admin signatures): each admin runs vmc-git keys cosign %s\n", out, tip.Trust.AdminThreshold, out)
					return nil
				}
				rc, s, me, tip, err := trustSetup(c)
				if err != nil {
					return err
				}
				if tip.Trust.AdminThreshold > 1 {
					return fail(exitRefused, fmt.Errorf("trust changes need %d admin signatures", tip.Trust.AdminThreshold),
						"write a proposal with -o change.json; each admin: vmc-git keys cosign change.json; then vmc-git keys apply change.json")
				}
				if err := cosign(ch, s, me); err != nil {
					return err
				}
				return applyChange(c, rc, s, me, ch)
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
				func(c *cli.Context, p *receipt.Proposal) error {
					s, err := parseWitnessArg(c.String("vkey") + " " + c.String("url"))
					if err != nil {
						return fail(exitUsage, err)
					}
					p.Op, p.Witness = receipt.KeysAddWitness, &s
					return nil
				}),
			change("remove", "remove a witness from the trust state", "NAME", "vmc-git witness remove witness.example/w1", nil,
				func(c *cli.Context, p *receipt.Proposal) error {
					if err := exactArgs(c, 1, "NAME"); err != nil {
						return err
					}
					p.Op, p.WitnessName = receipt.KeysRemoveWitness, c.Args().First()
					return nil
				}),
			change("threshold", "set witness_threshold: the cosignatures each snapshot tag needs", "N", "vmc-git witness threshold 2", nil,
				func(c *cli.Context, p *receipt.Proposal) error {
					if err := exactArgs(c, 1, "N"); err != nil {
						return err
					}
					n, err := strconv.Atoi(c.Args().First())
					if err != nil || n < 0 {
						return usagef("threshold: N must be a number >= 0")
					}
					p.Op, p.WitnessThreshold = receipt.KeysWitnessThreshold, &n
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
					rc, err := openRepo(c)
					if err != nil {
						return err
					}
					tip, err := rc.ledger.Tip()
					if err != nil {
						return err
					}
					var logKeys []string
					for _, e := range tip.Trust.Keys() {
						if e.Status != keys.StatusActive || !(hasRole(e, keys.RoleApplier) || hasRole(e, keys.RoleAdmin)) {
							continue
						}
						vk, err := gitledger.LogVerifierKey(tip.Head.Ledger, e)
						if err != nil {
							return err
						}
						logKeys = append(logKeys, vk)
					}
					if c.Bool("json") {
						return printJSON(c, map[string]any{"origin": tip.Head.Ledger, "witness_threshold": tip.Trust.WitnessThreshold,
							"witnesses": orEmpty(tip.Trust.Witnesses), "log_keys": logKeys})
					}
					outf(c, "witness_threshold %d, %d witnesses\n", tip.Trust.WitnessThreshold, len(tip.Trust.Witnesses))
					for _, w := range tip.Trust.Witnesses {
						outf(c, "  %s %s\n    %s\n", w.Name, w.URL, w.Key)
					}
					outf(c, "register this ledger with a litewitness:\n  witnessctl add-log -origin %s\n", tip.Head.Ledger)
					for _, k := range logKeys {
						outf(c, "  witnessctl add-key -origin %s -key %s\n", tip.Head.Ledger, k)
					}
					return nil
				},
			},
		},
	}
}

func hasRole(e *keys.Entry, r keys.Role) bool {
	for _, x := range e.Roles {
		if x == r {
			return true
		}
	}
	return false
}

func orEmpty(ws []keys.WitnessSpec) []keys.WitnessSpec {
	if ws == nil {
		return []keys.WitnessSpec{}
	}
	return ws
}

// merkle verify-proof: the checkpoint's witness cosignatures.
var (
	proofWitnessFlag = &cli.StringSliceFlag{Name: "witness", Usage: "a witness's cosignature verifier key (repeatable); with --witness-threshold"}
	proofWQuorumFlag = &cli.IntFlag{Name: "witness-threshold", Usage: "cosignatures by --witness keys the checkpoint needs (default: all given)"}
)

func checkProofWitnesses(c *cli.Context, signed []byte) error {
	var ws []witness.Witness
	for _, vk := range c.StringSlice("witness") {
		name, pub, err := witness.ParseVerifierKey(vk)
		if err != nil {
			return fail(exitUsage, fmt.Errorf("--witness: %w", err))
		}
		ws = append(ws, witness.Witness{Name: name, Key: pub})
	}
	threshold := len(ws)
	if c.IsSet("witness-threshold") {
		threshold = c.Int("witness-threshold")
	}
	if len(ws) == 0 && threshold == 0 {
		return nil
	}
	got, err := witness.Check(signed, ws, threshold, time.Now())
	if err != nil {
		return fail(exitInvalid, fmt.Errorf("checkpoint: %w", err))
	}
	for _, g := range got {
		outf(c, "  cosigned by %s at %s\n", g.Witness, g.Time.Format(time.RFC3339))
	}
	return nil
}
