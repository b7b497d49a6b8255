package main

import (
	"bytes"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/internal/canon"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/receipt"
)

func signCommand() *cli.Command {
	return &cli.Command{
		Name:  "sign",
		Usage: "sign a file",
		Description: `EXAMPLE:
   vmc-git sign receipt 000000042.json --key ~/.ssh/vmc_alice`,
		Subcommands: []*cli.Command{signReceiptCommand()},
	}
}

func signReceiptCommand() *cli.Command {
	return &cli.Command{
		Name:      "receipt",
		Usage:     "sign a receipt file: writes FILE.sig (SSHSIG, namespace vmc-receipt)",
		ArgsUsage: "FILE",
		Description: `EXAMPLE:
   vmc-git sign receipt 000000042.json --key ~/.ssh/vmc_alice
   ssh-keygen -Y verify -f allowed_signers -I alice -n vmc-receipt -s 000000042.json.sig < 000000042.json`,
		Flags: []cli.Flag{keyFlag},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1, "FILE"); err != nil {
				return err
			}
			f := c.Args().First()
			b, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			if _, err := receipt.Parse(b); err != nil {
				return fail(exitInvalid, err, "only canonical, valid receipts are signed; vmc-git canon FILE shows the canonical form")
			}
			s, err := keys.Load(c.String("key"))
			if err != nil {
				return fail(exitUsage, err)
			}
			sig, err := s.Sign(keys.NamespaceReceipt, b)
			if err != nil {
				return err
			}
			if err := os.WriteFile(f+receipt.SigSuffix, sig, 0o644); err != nil {
				return err
			}
			outf(c, "wrote %s%s\n", f, receipt.SigSuffix)
			return nil
		},
	}
}

func hashCommand() *cli.Command {
	return &cli.Command{
		Name:      "hash",
		Usage:     "print the blake3 and sha256 of a JSON file's canonical form",
		ArgsUsage: "FILE|-",
		Description: `EXAMPLE:
   vmc-git hash plans/web-1-create.json`,
		Flags: []cli.Flag{jsonFlag},
		Action: func(c *cli.Context) error {
			b, err := inputArg(c)
			if err != nil {
				return err
			}
			cb, err := canon.Canonicalize(b)
			if err != nil {
				return fail(exitUsage, err)
			}
			s := digest.Of(cb)
			if c.Bool("json") {
				return printJSON(c, map[string]any{"blake3": s.Blake3, "sha256": s.SHA256, "canonical": bytes.Equal(cb, b)})
			}
			outf(c, "blake3 %s\nsha256 %s\n", s.Blake3, s.SHA256)
			if !bytes.Equal(cb, b) {
				fmt.Fprintln(c.App.ErrWriter, "vmc-git: note: the file is not canonical; these are the hashes of its canonical form (vmc-git canon)")
			}
			return nil
		},
	}
}

func canonCommand() *cli.Command {
	return &cli.Command{
		Name:      "canon",
		Usage:     "print a JSON file in RFC 8785 canonical form",
		ArgsUsage: "FILE|-",
		Description: `Rejects duplicate keys, invalid UTF-8, lone surrogates and numbers outside
the IEEE-754 double range. --check only reports whether FILE is canonical.

EXAMPLE:
   vmc-git canon plan.json > plan.canon.json
   vmc-git canon --check plans/web-1.json`,
		Flags: []cli.Flag{&cli.BoolFlag{Name: "check", Usage: "exit 3 if FILE is not already canonical"}},
		Action: func(c *cli.Context) error {
			b, err := inputArg(c)
			if err != nil {
				return err
			}
			if c.Bool("check") {
				if err := canon.Check(b); err != nil {
					return fail(exitInvalid, fmt.Errorf("%s: %w", c.Args().First(), err))
				}
				outf(c, "ok: %s is canonical\n", c.Args().First())
				return nil
			}
			cb, err := canon.Canonicalize(b)
			if err != nil {
				return fail(exitUsage, err)
			}
			_, err = c.App.Writer.Write(cb)
			return err
		},
	}
}
