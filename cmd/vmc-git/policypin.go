package main

import (
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/receipt"
	"github.com/vmc-git/vmc-git/workspace"
)

// policy pin and policy status: the pinned policy bundle (workspace/policypin.go).

func policyPinCommands() []*cli.Command {
	revFlag := &cli.StringFlag{Name: "rev", Usage: "the revision whose policy/*.rego to read (default: the main branch)"}
	return []*cli.Command{
		{
			Name:  "pin",
			Usage: "pin the main branch's policy bundle in the trust state (an admin-signed keys receipt): the only policy apply judges with",
			Description: `Apply judges plans only with the policy bundle the trust state pins: the blake3
of policy/*.rego (names and bytes; "none" when there are no files). Anyone who can push
to the main branch can change policy/, but not the pin: a bundle on main that is not
the pinned one is never compiled or run, and every plan stays pending (no receipt, no
provider call) until an admin pins it, or policy/ is put back. Deleting policy/ does not
lift the policy either; pinning a main branch without policy/*.rego pins "none".

So a change to the policy is: a pull request to policy/, reviewed and merged like any
other; then an admin reads it (vmc-git policy status shows the files and both hashes)
and pins it. init pinned the default set it wrote (or none with --no-policy).

pin reads policy/ from the main branch (--rev: another revision, e.g. a pull request's
branch, to pin before it is merged), refuses a bundle that does not compile, and
writes a keys receipt (op policy_bundle) signed by your admin key. With admin_threshold
above 1, write a proposal with -o and collect signatures with vmc-git keys cosign, then
vmc-git keys apply. verify chain and the hook refuse an apply receipt that records
another bundle than the pin, and a pin not signed by enough admins.

Exit code 4 when refused (your key is not an admin, the bundle is pinned already, more
admins must co-sign), 3 when the bundle does not compile.

EXAMPLE:
   git pull                                  # the merged policy change
   vmc-git policy status                     # files, main's bundle, the pin
   vmc-git policy pin --key ~/.ssh/vmc_alice --push
   vmc-git policy pin --rev origin/policy-ssh -o pin.json   # admin_threshold 2`,
			Flags: append([]cli.Flag{revFlag, keyFlag, &cli.StringFlag{Name: "as", Usage: "your key id (default: the key's comment)"},
				&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "write a proposal for admins to co-sign (vmc-git keys cosign / keys apply) instead of applying it"},
				jsonFlag}, pushFlags()...),
			Action: func(c *cli.Context) error {
				if c.NArg() != 0 {
					return usagef("policy pin: no arguments (the bundle is read from --rev, default the main branch)")
				}
				if out := c.String("out"); out != "" {
					ws, err := open(c)
					if err != nil {
						return err
					}
					defer ws.Close()
					tc, st, err := ws.PolicyPinChange(c.String("rev"))
					if err != nil {
						return err
					}
					ch, threshold, err := proposeTo(ws, tc, out)
					if err != nil {
						return err
					}
					if c.Bool("json") {
						return printJSON(c, map[string]any{"file": out, "threshold": threshold, "status": st, "proposal": ch.Proposal})
					}
					printPinStatus(c, st)
					proposalWritten(c, out, threshold)
					return nil
				}
				var st *workspace.PolicyPinStatus
				ws, id, err := trustSetup(c)
				if err != nil {
					return err
				}
				defer ws.Close()
				w, err := publishing(c, ws, id, func() (*workspace.Written, error) {
					return ws.ChangeTrust(receipt.KeysPolicyBundle, func() (workspace.TrustChange, error) {
						tc, s, err := ws.PolicyPinChange(c.String("rev"))
						st = s
						return tc, err
					}, id)
				})
				if err != nil {
					return err
				}
				if c.Bool("json") {
					return printJSON(c, map[string]any{"pinned": st.Bundle, "rev": st.Rev, "files": st.Files, "previous": st.Pinned,
						"receipt": writtenJSON{w.Seq, w.Receipt.Kind, w.Path, w.Sums.Blake3, w.Sums.SHA256, w.Commit.String()}})
				}
				outf(c, "pinned policy bundle %s (%s)\n", st.Bundle, filesOf(st))
				if st.Pinned != "" {
					outf(c, "  was %s\n", st.Pinned)
				}
				return reportWritten(c, w)
			},
		},
		{
			Name:  "status",
			Usage: "show the pinned policy bundle beside the main branch's: whether apply judges with it",
			Description: `Reads policy/*.rego from the main branch (or --rev) and the pin from the trust state
at the ledger tip. Exit code 4 when they differ: apply then keeps every plan pending
until an admin runs vmc-git policy pin (see its --help).

EXAMPLE:
   vmc-git policy status
   vmc-git policy status --rev origin/main --json`,
			Flags: []cli.Flag{revFlag, jsonFlag},
			Action: func(c *cli.Context) error {
				ws, err := open(c)
				if err != nil {
					return err
				}
				defer ws.Close()
				st, err := ws.PolicyPin(c.String("rev"))
				if err != nil {
					return err
				}
				if c.Bool("json") {
					if err := printJSON(c, st); err != nil {
						return err
					}
				} else {
					printPinStatus(c, st)
				}
				if !st.Match {
					return fail(exitRefused, errPinMismatch(st), "an admin reviews the files and pins them: vmc-git policy pin --key KEY")
				}
				return nil
			},
		},
	}
}

func filesOf(st *workspace.PolicyPinStatus) string {
	if len(st.Files) == 0 {
		return "no policy files"
	}
	return strings.Join(st.Files, ", ")
}

func printPinStatus(c *cli.Context, st *workspace.PolicyPinStatus) {
	pinned := st.Pinned
	if pinned == "" {
		pinned = "nothing (a ledger made before policy was pinned)"
	}
	outf(c, "pinned:  %s\n%s: %s (%s)\n", pinned, st.Rev, st.Bundle, filesOf(st))
	if st.CompileError != "" {
		outf(c, "  does not compile: %s\n", st.CompileError)
	}
	if st.Match {
		outf(c, "apply judges plans with it\n")
	} else {
		outf(c, "NOT PINNED: apply keeps every plan pending\n")
	}
}

type pinMismatch struct{ st *workspace.PolicyPinStatus }

func (e pinMismatch) Error() string {
	what := e.st.Pinned
	if what == "" {
		what = "nothing"
	}
	if e.st.Pinned == keys.PolicyBundleNone {
		what = "no policy (none)"
	}
	return "policy status: " + e.st.Rev + " holds bundle " + e.st.Bundle + ", the trust state pins " + what
}

func errPinMismatch(st *workspace.PolicyPinStatus) error { return pinMismatch{st} }
