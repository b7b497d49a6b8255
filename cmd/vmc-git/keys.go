package main

import (
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/workspace"
)

func keygenCommand() *cli.Command {
	return &cli.Command{
		Name:  "keygen",
		Usage: "make an OpenSSH Ed25519 operator key pair",
		Description: `Writes FILE (private, mode 0600) and FILE.pub, readable by ssh-keygen, with the
key id as comment. Refuses to overwrite. Never prints the private key.

EXAMPLE:
   vmc-git keygen --kid alice --out ~/.ssh/vmc_alice
   ssh-keygen -l -f ~/.ssh/vmc_alice.pub`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "kid", Required: true, Usage: "key id: ^[a-z0-9][a-z0-9._@-]{0,63}$"},
			&cli.StringFlag{Name: "out", Usage: "private key file (default: ./vmc_KID)"},
			jsonFlag,
		},
		Action: func(c *cli.Context) error {
			kid := c.String("kid")
			if err := keys.ValidKID(kid); err != nil {
				return fail(exitUsage, err)
			}
			out := c.String("out")
			if out == "" {
				out = "vmc_" + kid
			}
			priv, pub, err := keys.Generate(kid)
			if err != nil {
				return err
			}
			if err := keys.WriteKeyPair(out, priv, pub); err != nil {
				return fail(exitRefused, err, "choose another --out; existing keys are never overwritten")
			}
			p, _, _ := keys.ParsePublicKey(pub)
			if c.Bool("json") {
				abs, _ := filepath.Abs(out)
				return printJSON(c, map[string]string{"kid": kid, "private_key": abs, "public_key_file": abs + ".pub", "public_key": keys.FormatPublicKey(p), "fingerprint": keys.Fingerprint(p)})
			}
			outf(c, "wrote %s and %s.pub\n  kid %s\n  %s\n", out, out, kid, keys.Fingerprint(p))
			return nil
		},
	}
}

func keysCommand() *cli.Command {
	return &cli.Command{
		Name:  "keys",
		Usage: "the trust state: list keys; trust, revoke, rotate (with admin co-signatures)",
		Description: `EXAMPLE:
   vmc-git keys list
   vmc-git keys list --at 12 --json
   vmc-git keys trust bob.pub --kid bob --role approver`,
		Subcommands: append(trustCommands(), []*cli.Command{
			{
				Name:  "list",
				Usage: "list every key ever trusted, with roles, fingerprint, validity, status",
				Description: `--json includes each key's sumdb/note verifier key, used to check Merkle
checkpoints (golang.org/x/mod/sumdb/note).

EXAMPLE:
   vmc-git keys list
   vmc-git keys list --at 10 --json`,
				Flags: []cli.Flag{&cli.Uint64Flag{Name: "at", Usage: "trust state after receipt SEQ (default: the tip)"}, jsonFlag},
				Action: func(c *cli.Context) error {
					var at *uint64
					if c.IsSet("at") {
						n := c.Uint64("at")
						at = &n
					}
					return report(c, func(ws *workspace.Workspace) (*workspace.KeyList, error) { return ws.Keys(at) }, func(l *workspace.KeyList) {
						outf(c, "approvals_required %d, admin_threshold %d\n", l.Policy.ApprovalsRequired, l.Policy.AdminThreshold)
						for _, k := range l.Keys {
							until := "open"
							if k.ValidBefore != "" {
								until = k.ValidBefore
							}
							outf(c, "%-16s %-8s %-24s %s  %s .. %s\n", k.KID, k.Status, workspace.JoinRoles(k.Roles), k.Fingerprint, k.ValidAfter, until)
						}
					})
				},
			},
			{
				Name:  "export-allowed-signers",
				Usage: "print keys/allowed_signers of the tip (for git verify-commit, ssh-keygen -Y verify)",
				Description: `EXAMPLE:
   vmc-git keys export-allowed-signers > allowed_signers
   git -c gpg.format=ssh -c gpg.ssh.allowedSignersFile=allowed_signers verify-commit refs/heads/vmc/ledger`,
				Action: func(c *cli.Context) error {
					ws, err := open(c)
					if err != nil {
						return err
					}
					defer ws.Close()
					tip, err := ws.Ledger.Tip()
					if err != nil {
						return err
					}
					_, err = c.App.Writer.Write(tip.Trust.AllowedSigners())
					return err
				},
			},
		}...),
	}
}
