package main

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/internal/canon"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/receipt"
)

// trustCommands are added under "vmc-git keys".
func trustCommands() []*cli.Command {
	opFlags := func(op string) []cli.Flag {
		switch op {
		case receipt.KeysTrust:
			return []cli.Flag{
				&cli.StringFlag{Name: "kid", Required: true, Usage: "key id for the new key"},
				&cli.StringSliceFlag{Name: "role", Required: true, Usage: "admin, approver or applier (repeatable)"},
				&cli.StringFlag{Name: "valid-after", Usage: "RFC 3339 UTC time the key starts (default: the receipt's time)"},
				&cli.StringFlag{Name: "valid-before", Usage: "RFC 3339 UTC time the key ends"},
			}
		case receipt.KeysRevoke:
			return []cli.Flag{
				&cli.StringFlag{Name: "at", Usage: "when the key stopped being trustworthy (RFC 3339 UTC; for a compromise, when it happened)"},
				&cli.StringFlag{Name: "reason", Value: receipt.ReasonRetired, Usage: "compromised or retired"},
			}
		default:
			return []cli.Flag{&cli.StringFlag{Name: "new-key", Required: true, Usage: "the replacement OpenSSH public key (line or file)"}}
		}
	}
	args := map[string]string{receipt.KeysTrust: "PUBKEY", receipt.KeysRevoke: "KID", receipt.KeysRotate: "KID"}
	usage := map[string]string{
		receipt.KeysTrust:  "trust a new key with roles",
		receipt.KeysRevoke: "revoke a key (retired, or compromised from --at)",
		receipt.KeysRotate: "replace a key: the new key starts when the old one ends",
	}
	examples := map[string]string{
		receipt.KeysTrust:  "vmc-git keys trust bob.pub --kid bob --role approver",
		receipt.KeysRevoke: "vmc-git keys revoke bob --reason compromised --at 2026-11-20T00:00:00Z",
		receipt.KeysRotate: "vmc-git keys rotate alice --new-key alice-2027.pub",
	}
	var direct, propose []*cli.Command
	for _, op := range []string{receipt.KeysTrust, receipt.KeysRevoke, receipt.KeysRotate} {
		op := op
		direct = append(direct, &cli.Command{
			Name: op, Usage: usage[op] + " (one admin: writes the keys receipt now)", ArgsUsage: args[op],
			Description: `With admin_threshold 1 this proposes, signs and applies in one step. With a
higher threshold use "vmc-git keys propose ` + op + ` ... -o FILE", then "keys cosign
FILE" by each admin, then "keys apply FILE".

EXAMPLE:
   ` + examples[op],
			Flags: append(opFlags(op), keyFlag, &cli.StringFlag{Name: "as", Usage: "your key id (default: the key's comment)"}, jsonFlag),
			Action: func(c *cli.Context) error {
				rc, s, me, tip, err := trustSetup(c)
				if err != nil {
					return err
				}
				if tip.Trust.AdminThreshold > 1 {
					return fail(exitRefused, fmt.Errorf("trust changes need %d admin signatures", tip.Trust.AdminThreshold),
						fmt.Sprintf("vmc-git keys propose %s ... -o change.json; each admin: vmc-git keys cosign change.json; then vmc-git keys apply change.json", op))
				}
				ch, err := buildProposal(c, op, tip)
				if err != nil {
					return err
				}
				if err := cosign(ch, s, me); err != nil {
					return err
				}
				return applyChange(c, rc, s, me, ch)
			},
		})
		propose = append(propose, &cli.Command{
			Name: op, Usage: "propose: " + usage[op], ArgsUsage: args[op],
			Description: "EXAMPLE:\n   " + strings.Replace(examples[op], "keys "+op, "keys propose "+op, 1) + " -o change.json",
			Flags:       append(opFlags(op), &cli.StringFlag{Name: "out", Aliases: []string{"o"}, Required: true, Usage: "proposal file"}),
			Action: func(c *cli.Context) error {
				rc, err := openRepo(c)
				if err != nil {
					return err
				}
				tip, err := rc.ledger.Tip()
				if err != nil {
					return err
				}
				ch, err := buildProposal(c, op, tip)
				if err != nil {
					return err
				}
				if err := writeChange(c.String("out"), ch, true); err != nil {
					return err
				}
				outf(c, "wrote proposal %s (needs %d admin signatures): each admin runs vmc-git keys cosign %s\n", c.String("out"), tip.Trust.AdminThreshold, c.String("out"))
				return nil
			},
		})
	}
	return append(direct,
		&cli.Command{Name: "propose", Usage: "write a trust change for admins to co-sign", Subcommands: propose,
			Description: "With admin_threshold N, a trust change needs N admin co-signatures.\n\nEXAMPLE:\n   vmc-git keys propose trust bob.pub --kid bob --role approver -o change.json\n   vmc-git keys cosign change.json --key ~/.ssh/vmc_alice\n   vmc-git keys apply change.json --key ~/.ssh/vmc_carol"},
		&cli.Command{
			Name: "cosign", Usage: "add your admin signature to a proposal file", ArgsUsage: "FILE",
			Description: "EXAMPLE:\n   vmc-git keys cosign change.json --key ~/.ssh/vmc_alice",
			Flags:       []cli.Flag{keyFlag, &cli.StringFlag{Name: "as", Usage: "your key id"}},
			Action: func(c *cli.Context) error {
				if err := exactArgs(c, 1, "FILE"); err != nil {
					return err
				}
				_, s, me, tip, err := trustSetup(c)
				if err != nil {
					return err
				}
				ch, err := readChange(c.Args().First())
				if err != nil {
					return err
				}
				if p := ch.Proposal; p.Ledger != tip.Head.Ledger || p.Base != tip.Head.Blake3 {
					return fail(exitRefused, fmt.Errorf("the proposal was made against ledger %s head %s, the head is now %s %s (receipt %d)", p.Ledger, p.Base, tip.Head.Ledger, tip.Head.Blake3, tip.Head.Seq),
						"propose the change again and collect the signatures again")
				}
				if _, err := tip.Trust.Authorize(me, s.PublicKey(), time.Now(), keys.RoleAdmin); err != nil {
					return fail(exitRefused, fmt.Errorf("your signature would not count: %w", err))
				}
				if err := cosign(ch, s, me); err != nil {
					return err
				}
				if err := writeChange(c.Args().First(), ch, false); err != nil {
					return err
				}
				outf(c, "co-signed as %s: %d of %d admin signatures\n", me, len(ch.Signatures), tip.Trust.AdminThreshold)
				return nil
			},
		},
		&cli.Command{
			Name: "apply", Usage: "write the keys receipt for a proposal with enough admin signatures", ArgsUsage: "FILE",
			Description: "EXAMPLE:\n   vmc-git keys apply change.json --key ~/.ssh/vmc_alice",
			Flags:       []cli.Flag{keyFlag, &cli.StringFlag{Name: "as", Usage: "your key id"}, jsonFlag},
			Action: func(c *cli.Context) error {
				if err := exactArgs(c, 1, "FILE"); err != nil {
					return err
				}
				rc, s, me, _, err := trustSetup(c)
				if err != nil {
					return err
				}
				ch, err := readChange(c.Args().First())
				if err != nil {
					return err
				}
				return applyChange(c, rc, s, me, ch)
			},
		},
	)
}

func trustSetup(c *cli.Context) (*repoCtx, *keys.Signer, string, *gitledger.Tip, error) {
	rc, err := openRepo(c)
	if err != nil {
		return nil, nil, "", nil, err
	}
	tip, err := rc.ledger.Tip()
	if err != nil {
		return nil, nil, "", nil, err
	}
	s, err := keys.Load(c.String("key"))
	if err != nil {
		return nil, nil, "", nil, fail(exitUsage, err)
	}
	me := c.String("as")
	if me == "" {
		me = commentKID(c.String("key"))
	}
	if me == "" {
		return nil, nil, "", nil, usagef("no key id: give --as KID")
	}
	return rc, s, me, tip, nil
}

func buildProposal(c *cli.Context, op string, tip *gitledger.Tip) (*receipt.KeysChange, error) {
	if c.NArg() != 1 {
		return nil, usagef("keys %s: want one argument", op)
	}
	p := receipt.Proposal{V: receipt.Version, Ledger: tip.Head.Ledger, Base: tip.Head.Blake3, Op: op}
	switch op {
	case receipt.KeysTrust:
		pub, err := keys.LoadPublicKey(c.Args().First())
		if err != nil {
			return nil, fail(exitUsage, err)
		}
		var roles []keys.Role
		for _, r := range c.StringSlice("role") {
			for _, x := range strings.Split(r, ",") {
				roles = append(roles, keys.Role(x))
			}
		}
		sortRoles(roles)
		p.Key = &keys.KeySpec{KID: c.String("kid"), PublicKey: keys.FormatPublicKey(pub), Roles: roles,
			ValidAfter: c.String("valid-after"), ValidBefore: c.String("valid-before")}
	case receipt.KeysRevoke:
		p.KID, p.At, p.Reason = c.Args().First(), c.String("at"), c.String("reason")
	case receipt.KeysRotate:
		p.KID = c.Args().First()
		old := tip.Trust.Key(p.KID)
		if old == nil {
			return nil, fail(exitNotFound, fmt.Errorf("key %s is not trusted", p.KID))
		}
		pub, err := keys.LoadPublicKey(c.String("new-key"))
		if err != nil {
			return nil, fail(exitUsage, err)
		}
		p.Key = &keys.KeySpec{KID: p.KID, PublicKey: keys.FormatPublicKey(pub), Roles: old.Roles}
	}
	ch := &receipt.KeysChange{Proposal: p, Signatures: []receipt.Cosig{}}
	if err := validateProposal(ch); err != nil {
		return nil, fail(exitUsage, err)
	}
	// Check it applies to the current trust (role names, duplicate keys...).
	if _, err := dryRunKeys(tip, ch); err != nil {
		return nil, fail(exitRefused, err)
	}
	return ch, nil
}

// validateProposal checks the proposal's shape (signatures aside).
func validateProposal(ch *receipt.KeysChange) error {
	tmp := *ch
	tmp.Signatures = []receipt.Cosig{{KID: "x", Sig: "x"}}
	return tmp.Validate()
}

// dryRunKeys applies the change to a copy of the trust state, skipping the
// signature threshold.
func dryRunKeys(tip *gitledger.Tip, ch *receipt.KeysChange) (*keys.Trust, error) {
	t := tip.Trust.Clone()
	r := receipt.Receipt{Ledger: tip.Head.Ledger, Seq: tip.Head.Seq + 1, PrevBlake3: tip.Head.Blake3, CreatedAt: keys.FormatTime(time.Now()), Keys: ch}
	after, err := gitledger.ApplyKeysUnsigned(t, &r)
	return after, err
}

func cosign(ch *receipt.KeysChange, s *keys.Signer, kid string) error {
	msg, err := canon.Marshal(ch.Proposal)
	if err != nil {
		return err
	}
	sig, err := s.Sign(keys.NamespaceKeys, msg)
	if err != nil {
		return err
	}
	out := []receipt.Cosig{}
	for _, x := range ch.Signatures {
		if x.KID != kid {
			out = append(out, x)
		}
	}
	out = append(out, receipt.Cosig{KID: kid, Sig: string(sig)})
	sort.Slice(out, func(i, j int) bool { return out[i].KID < out[j].KID })
	ch.Signatures = out
	return nil
}

func writeChange(path string, ch *receipt.KeysChange, create bool) error {
	b, err := canon.Marshal(ch)
	if err != nil {
		return err
	}
	flag := os.O_WRONLY | os.O_TRUNC
	if create {
		flag |= os.O_CREATE | os.O_EXCL
	}
	f, err := os.OpenFile(path, flag, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func readChange(path string) (*receipt.KeysChange, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var ch receipt.KeysChange
	if err := canon.Unmarshal(b, &ch); err != nil {
		return nil, fail(exitInvalid, fmt.Errorf("%s: %w", path, err))
	}
	if err := validateProposal(&ch); err != nil {
		return nil, fail(exitInvalid, fmt.Errorf("%s: %w", path, err))
	}
	return &ch, nil
}

func applyChange(c *cli.Context, rc *repoCtx, s *keys.Signer, me string, ch *receipt.KeysChange) error {
	p := ch.Proposal
	summary := fmt.Sprintf("%s %s", p.Op, p.KID)
	switch p.Op {
	case receipt.KeysTrust:
		summary = fmt.Sprintf("trust %s as %s", p.Key.KID, joinRoles(p.Key.Roles))
	case receipt.KeysRevoke:
		summary = fmt.Sprintf("revoke %s (%s)", p.KID, p.Reason)
	case receipt.KeysRotate:
		summary = fmt.Sprintf("rotate %s to %s", p.KID, fingerprintOf(p.Key.PublicKey))
	case receipt.KeysAddWitness, receipt.KeysRemoveWitness, receipt.KeysWitnessThreshold:
		summary = witnessSummary(p)
	}
	w, err := rc.ledger.Append(s, me, func(tip *gitledger.Tip) (*gitledger.Draft, error) {
		if tip.Head.Blake3 != p.Base {
			return nil, fail(exitRefused, fmt.Errorf("the proposal was made against ledger head %s, the head is now %s (receipt %d)", p.Base, tip.Head.Blake3, tip.Head.Seq),
				"propose the change again and collect the signatures again")
		}
		if err := checkProposalSigs(tip, ch); err != nil {
			return nil, err
		}
		return &gitledger.Draft{Receipt: receipt.Receipt{Kind: receipt.KindKeys, Summary: summary, Keys: ch}}, nil
	})
	if err != nil {
		return refusedIfConflict(err)
	}
	return reportWritten(c, w)
}

// checkProposalSigs refuses, before anything is written, a proposal whose
// co-signatures do not meet admin_threshold at tip.
func checkProposalSigs(tip *gitledger.Tip, ch *receipt.KeysChange) error {
	msg, err := canon.Marshal(ch.Proposal)
	if err != nil {
		return err
	}
	if err := gitledger.CheckCosigs(tip.Trust, msg, ch.Signatures, time.Now()); err != nil {
		return fail(exitRefused, fmt.Errorf("trust change refused: %w", err),
			fmt.Sprintf("each admin runs vmc-git keys cosign FILE until %d admins have signed, then vmc-git keys apply FILE", tip.Trust.AdminThreshold))
	}
	return nil
}

func fingerprintOf(line string) string {
	pub, _, err := keys.ParsePublicKey([]byte(line))
	if err != nil {
		return "?"
	}
	return keys.Fingerprint(pub)
}
