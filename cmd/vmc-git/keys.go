package main

import (
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/merkle"
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
					ws, err := open(c)
					if err != nil {
						return err
					}
					defer ws.Close()
					tip, err := ws.Ledger.Tip()
					if err != nil {
						return err
					}
					t := tip.Trust
					if c.IsSet("at") {
						if t, err = ws.Ledger.TrustAt(tip, c.Uint64("at")); err != nil {
							return fail(exitNotFound, err)
						}
					}
					type row struct {
						KID         string      `json:"kid"`
						Roles       []keys.Role `json:"roles"`
						Fingerprint string      `json:"fingerprint"`
						PublicKey   string      `json:"public_key"`
						ValidAfter  string      `json:"valid_after"`
						ValidBefore string      `json:"valid_before,omitempty"`
						Status      string      `json:"status"`
						Reason      string      `json:"reason,omitempty"`
						AddedSeq    uint64      `json:"added_seq"`
						NoteKey     string      `json:"note_verifier_key"`
					}
					var rows []row
					for _, e := range t.Keys() {
						ek, _ := keys.Ed25519Public(e.Pub)
						vk, err := merkle.VerifierKey(e.KID, ek)
						if err != nil {
							return err
						}
						r := row{KID: e.KID, Roles: e.Roles, Fingerprint: keys.Fingerprint(e.Pub), PublicKey: e.PublicKey,
							ValidAfter: keys.FormatTime(e.ValidFrom()), Status: e.Status, Reason: e.Reason, AddedSeq: e.AddedSeq, NoteKey: vk}
						if !e.ValidUntil().IsZero() {
							r.ValidBefore = keys.FormatTime(e.ValidUntil())
						}
						rows = append(rows, r)
					}
					if c.Bool("json") {
						return printJSON(c, map[string]any{"policy": t.Policy, "keys": rows})
					}
					outf(c, "approvals_required %d, admin_threshold %d\n", t.ApprovalsRequired, t.AdminThreshold)
					for _, r := range rows {
						until := "open"
						if r.ValidBefore != "" {
							until = r.ValidBefore
						}
						outf(c, "%-16s %-8s %-24s %s  %s .. %s\n", r.KID, r.Status, workspace.JoinRoles(r.Roles), r.Fingerprint, r.ValidAfter, until)
					}
					return nil
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
