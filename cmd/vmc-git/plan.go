package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/apply"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/internal/lock"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/provider"
	"github.com/vmc-git/vmc-git/receipt"
)

func init() {
	extraCommandFuncs = append(extraCommandFuncs, planCommands)
}

func planCommands() []*cli.Command {
	return []*cli.Command{
		{
			Name:  "plan",
			Usage: "make, show and check plans (dry runs)",
			Description: `EXAMPLE:
   vmc-git plan server create web-1 --type cx22 --image ubuntu-24.04 --location fsn1
   vmc-git plan show plans/web-1-create-20261126090000.json --markdown
   vmc-git plan status plans/web-1-create-20261126090000.json`,
			Subcommands: append([]*cli.Command{
				{Name: "server", Usage: "plan an operation on a server", Subcommands: serverOpCommands(true),
					Description: "EXAMPLE:\n   vmc-git plan server poweroff web-1\n   vmc-git plan server resize web-1 --type cx32 --id web-1-bigger"},
				planShowCommand(),
				planStatusCommand(),
				planReviewCommand(),
			}, resourcePlanCommands()...), // resources.go
		},
		{
			Name:  "server",
			Usage: "operations on servers: only as plans (--dry-run)",
			Description: `Servers change only through approved plans. "vmc-git server OP ... --dry-run"
is the same as "vmc-git plan server OP ...".

EXAMPLE:
   vmc-git server poweroff web-1 --dry-run`,
			Subcommands: serverOpCommands(false),
		},
		approveCommand(),
		applyCommand(),
		lockCommand(),
	}
}

// opSpec describes the flags of one server operation.
type opSpec struct {
	op    provider.Op
	usage string
	flags []cli.Flag
	build func(c *cli.Context, a *provider.Action) error
}

func labelsFlag(usage string) cli.Flag {
	return &cli.StringSliceFlag{Name: "label", Usage: usage}
}

func parseLabels(c *cli.Context) (map[string]string, error) {
	if !c.IsSet("label") {
		return nil, nil
	}
	m := map[string]string{}
	for _, kv := range c.StringSlice("label") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("--label %q: want KEY=VALUE", kv)
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("--label %s given twice", k)
		}
		m[k] = v
	}
	return m, nil
}

func opSpecs() []opSpec {
	none := func(*cli.Context, *provider.Action) error { return nil }
	return []opSpec{
		{provider.OpCreate, "create a server", []cli.Flag{
			&cli.StringFlag{Name: "type", Required: true, Usage: "server type, e.g. cx22"},
			&cli.StringFlag{Name: "image", Required: true, Usage: "image, e.g. ubuntu-24.04"},
			&cli.StringFlag{Name: "location", Usage: "location, e.g. fsn1"},
			labelsFlag("label KEY=VALUE (repeatable)"),
			&cli.StringSliceFlag{Name: "ssh-key", Usage: "SSH key name (repeatable)"},
			&cli.StringSliceFlag{Name: "firewall", Usage: "firewall name (repeatable)"},
			&cli.StringSliceFlag{Name: "network", Usage: "network name (repeatable)"},
			&cli.StringFlag{Name: "user-data", Usage: "cloud-init user data file"},
			&cli.BoolFlag{Name: "ipv4", Value: true, Usage: "public IPv4"},
			&cli.BoolFlag{Name: "ipv6", Value: true, Usage: "public IPv6"},
			&cli.BoolFlag{Name: "start-after-create", Value: true, Usage: "start the server once created"},
		}, func(c *cli.Context, a *provider.Action) error {
			a.ServerType, a.Image, a.Location = c.String("type"), c.String("image"), c.String("location")
			a.SSHKeys, a.Firewalls, a.Networks = c.StringSlice("ssh-key"), c.StringSlice("firewall"), c.StringSlice("network")
			if f := c.String("user-data"); f != "" {
				b, err := os.ReadFile(f)
				if err != nil {
					return err
				}
				a.UserData = string(b)
			}
			if c.IsSet("ipv4") || c.IsSet("ipv6") {
				a.PublicNet = &provider.PublicNet{IPv4: c.Bool("ipv4"), IPv6: c.Bool("ipv6")}
			}
			if c.IsSet("start-after-create") {
				v := c.Bool("start-after-create")
				a.StartAfterCreate = &v
			}
			var err error
			a.Labels, err = parseLabels(c)
			return err
		}},
		{provider.OpDelete, "delete a server", nil, none},
		{provider.OpPoweron, "power a server on", nil, none},
		{provider.OpPoweroff, "cut a server's power", nil, none},
		{provider.OpShutdown, "shut a server down gracefully (ACPI)", nil, none},
		{provider.OpReboot, "reboot a server gracefully", nil, none},
		{provider.OpReset, "hard-reset a server", nil, none},
		{provider.OpRebuild, "rebuild a server from an image (wipes its disk)", []cli.Flag{
			&cli.StringFlag{Name: "image", Required: true, Usage: "image, e.g. debian-12"},
		}, func(c *cli.Context, a *provider.Action) error { a.Image = c.String("image"); return nil }},
		{provider.OpResize, "change a server's type", []cli.Flag{
			&cli.StringFlag{Name: "type", Required: true, Usage: "new server type"},
			&cli.BoolFlag{Name: "upgrade-disk", Usage: "grow the disk too (cannot be downgraded later)"},
		}, func(c *cli.Context, a *provider.Action) error {
			a.ServerType, a.UpgradeDisk = c.String("type"), c.Bool("upgrade-disk")
			return nil
		}},
		{provider.OpLabel, "replace a server's labels", []cli.Flag{labelsFlag("label KEY=VALUE (repeatable, at least one)")},
			func(c *cli.Context, a *provider.Action) error {
				var err error
				a.Labels, err = parseLabels(c)
				return err
			}},
		{provider.OpRename, "rename a server", []cli.Flag{&cli.StringFlag{Name: "new-name", Required: true, Usage: "the new name"}},
			func(c *cli.Context, a *provider.Action) error { a.NewName = c.String("new-name"); return nil }},
		{provider.OpProtect, "change delete/rebuild protection", []cli.Flag{
			&cli.BoolFlag{Name: "delete", Usage: "protect against deletion (--delete=false to lift)"},
			&cli.BoolFlag{Name: "rebuild", Usage: "protect against rebuild (--rebuild=false to lift)"},
		}, func(c *cli.Context, a *provider.Action) error {
			if c.IsSet("delete") {
				v := c.Bool("delete")
				a.Delete = &v
			}
			if c.IsSet("rebuild") {
				v := c.Bool("rebuild")
				a.Rebuild = &v
			}
			return nil
		}},
	}
}

func serverOpCommands(isPlan bool) []*cli.Command {
	var out []*cli.Command
	for _, sp := range append(opSpecs(), serverExtSpecs()...) { // serverExtSpecs: resources.go
		sp := sp
		flags := append([]cli.Flag{
			&cli.StringFlag{Name: "id", Usage: "plan id (default: SERVER-OP-TIMESTAMP)"},
			&cli.StringFlag{Name: "summary", Usage: "one line for reviewers (default: generated)"},
			&cli.StringFlag{Name: "out", Usage: "plan file (default: plans/<id>.json in the repository)"},
			kidFlag, jsonFlag,
		}, sp.flags...)
		if !isPlan {
			flags = append(flags, &cli.BoolFlag{Name: "dry-run", Usage: "make a plan instead of acting (required)"})
		}
		example := fmt.Sprintf("   vmc-git plan server %s web-1", sp.op)
		if sp.op == provider.OpCreate {
			example = "   vmc-git plan server create web-1 --type cx22 --image ubuntu-24.04 --location fsn1 --label role=web"
		}
		out = append(out, &cli.Command{
			Name:      strings.ReplaceAll(string(sp.op), "_", "-"),
			Aliases:   serverOpAliases[sp.op], // resources.go
			Usage:     sp.usage,
			ArgsUsage: "SERVER",
			Description: `A dry run: reads the server from the provider, records what it found and the
ledger head, and writes the plan file. Nothing changes until the plan is
approved and applied.

EXAMPLE:
` + example,
			Flags: flags,
			Action: func(c *cli.Context) error {
				if !isPlan && !c.Bool("dry-run") {
					return fail(exitRefused, fmt.Errorf("servers change only through approved plans"),
						fmt.Sprintf("make the plan with: vmc-git server %s %s --dry-run  (or vmc-git plan server %s ...)", sp.op, c.Args().First(), sp.op))
				}
				if err := exactArgs(c, 1, "SERVER"); err != nil {
					return err
				}
				a := provider.Action{Op: sp.op, Server: c.Args().First()}
				if err := sp.build(c, &a); err != nil {
					return fail(exitUsage, err)
				}
				if err := a.Validate(); err != nil {
					return fail(exitUsage, err)
				}
				return makePlan(c, []provider.Action{a})
			},
		})
	}
	return out
}

// makePlan runs the dry run and writes the plan file.
func makePlan(c *cli.Context, actions []provider.Action) error {
	if id := c.String("id"); id != "" {
		if err := plans.ValidIDFor(id, actions); err != nil {
			return fail(exitUsage, err)
		}
	}
	if s := c.String("summary"); s != "" {
		if err := receipt.ValidSummary(s); err != nil {
			return fail(exitUsage, fmt.Errorf("--summary: %w", err))
		}
	}
	rc, err := openRepo(c)
	if err != nil {
		return err
	}
	tip, err := rc.ledger.Tip()
	if err != nil {
		return err
	}
	prov, closeProv, err := openProvider(rc)
	if err != nil {
		return err
	}
	defer closeProv()
	p, err := plans.Make(context.Background(), prov, plans.Request{ID: c.String("id"), Ledger: tip.Head.Ledger,
		Head: plans.LedgerRef{Seq: tip.Head.Seq, Blake3: tip.Head.Blake3}, CreatedBy: c.String("kid"), Summary: c.String("summary"), Actions: actions})
	switch {
	case errors.Is(err, plans.ErrDryRun):
		return fail(exitRefused, err)
	case errors.Is(err, provider.ErrInvalidAction):
		return fail(exitUsage, err)
	case err != nil:
		return err // the provider could not be read
	}
	b, err := p.Encode()
	if err != nil {
		return err
	}
	out := c.String("out")
	if out == "" {
		if rc.root == "" {
			return usagef("no work tree: give --out FILE")
		}
		out = filepath.Join(rc.root, plans.Path(p.ID))
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fail(exitRefused, fmt.Errorf("write plan: %w", err), "plans are immutable: choose another --id")
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c, map[string]any{"id": p.ID, "path": out, "blake3": digest.Blake3(b), "plan": p})
	}
	outf(c, "%s", p.Text(b))
	outf(c, "wrote %s\nnext: commit it in a pull request; approvers run: vmc-git approve %s\n", out, out)
	return nil
}

func planShowCommand() *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "render a plan for humans (--markdown for pull requests) or scripts (--json)",
		ArgsUsage: "FILE",
		Description: `EXAMPLE:
   vmc-git plan show plans/web-1-create-20261126090000.json --markdown`,
		Flags: []cli.Flag{&cli.BoolFlag{Name: "markdown", Usage: "GitHub-flavoured markdown"}, jsonFlag},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1, "FILE"); err != nil {
				return err
			}
			p, b, err := plans.Load(c.Args().First())
			if err != nil {
				return fail(exitInvalid, err)
			}
			switch {
			case c.Bool("json"):
				return printJSON(c, map[string]any{"id": p.ID, "blake3": digest.Blake3(b), "sha256": digest.SHA256(b), "plan": p})
			case c.Bool("markdown"):
				outf(c, "%s", p.Markdown(b, nil, nil, nil))
			default:
				outf(c, "%s", p.Text(b))
			}
			return nil
		},
	}
}

func planStatusCommand() *cli.Command {
	return &cli.Command{
		Name:      "status",
		Usage:     "list a plan's approvals and what is missing, and whether it is applied",
		ArgsUsage: "FILE",
		Description: `EXAMPLE:
   vmc-git plan status plans/web-1-create-20261126090000.json`,
		Flags: []cli.Flag{jsonFlag},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1, "FILE"); err != nil {
				return err
			}
			file := c.Args().First()
			p, b, err := plans.Load(file)
			if err != nil {
				return fail(exitInvalid, err)
			}
			rc, err := openRepo(c)
			if err != nil {
				return err
			}
			tip, err := rc.ledger.Tip()
			if err != nil {
				return err
			}
			sigs, err := plans.LoadApprovals(filepath.Dir(file), p.ID)
			if err != nil {
				return err
			}
			st := plans.CheckApprovalSet(tip.Trust, b, sigs, time.Now())
			r, err := rc.ledger.NewReader()
			if err != nil {
				return err
			}
			_, ferr := r.File(plans.Path(p.ID))
			applied := ferr == nil
			if c.Bool("json") {
				return printJSON(c, map[string]any{"id": p.ID, "approvals": st, "approved": st.Approved(), "applied": applied})
			}
			outf(c, "plan %s: %d of %d approvals", p.ID, len(st.Valid), st.Required)
			if len(st.Valid) > 0 {
				outf(c, " (%s)", strings.Join(st.Valid, ", "))
			}
			outf(c, "\n")
			for k, why := range st.Invalid {
				outf(c, "  not counted: %s: %s\n", k, why)
			}
			switch {
			case applied:
				outf(c, "  applied: yes (in the ledger)\n")
			case st.Approved():
				outf(c, "  ready to apply\n")
			default:
				outf(c, "  missing %d approval(s) from approver keys\n", st.Missing)
			}
			return nil
		},
	}
}

func approveCommand() *cli.Command {
	return &cli.Command{
		Name:      "approve",
		Usage:     "sign a plan as an approver: writes plans/<id>.approvals/<kid>.sig",
		ArgsUsage: "FILE",
		Description: `Signs the plan's exact bytes (SSHSIG, namespace vmc-plan) with your key. Only
keys trusted as approver at the ledger head count; read the plan first.

EXAMPLE:
   vmc-git plan show plans/web-1-create-20261126090000.json
   vmc-git approve plans/web-1-create-20261126090000.json --key ~/.ssh/vmc_bob`,
		Flags: []cli.Flag{keyFlag, kidFlag, jsonFlag},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1, "FILE"); err != nil {
				return err
			}
			file := c.Args().First()
			p, b, err := plans.Load(file)
			if err != nil {
				return fail(exitInvalid, err)
			}
			s, kid, err := loadSigner(c)
			if err != nil {
				return err
			}
			if rc, err := openRepo(c); err == nil {
				if tip, err := rc.ledger.Tip(); err == nil {
					if _, err := tip.Trust.Authorize(kid, s.PublicKey(), time.Now(), keys.RoleApprover); err != nil {
						return fail(exitRefused, fmt.Errorf("approval would not count: %w", err))
					}
				}
			}
			sig, err := plans.Approve(s, b)
			if err != nil {
				return err
			}
			out := filepath.Join(filepath.Dir(file), p.ID+plans.ApprovalsSuffix, kid+".sig")
			if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(out, sig, 0o644); err != nil {
				return err
			}
			if c.Bool("json") {
				return printJSON(c, map[string]string{"plan": p.ID, "kid": kid, "approval": out})
			}
			outf(c, "approved plan %s as %s: %s\n", p.ID, kid, out)
			return nil
		},
	}
}

// faultFromEnv makes the process exit at the step named by VMC_FAULT (tests).
func faultFromEnv() func(string) {
	want := os.Getenv("VMC_FAULT")
	return func(step string) {
		if want != "" && want == step {
			fmt.Fprintf(os.Stderr, "vmc-git: fault injected at %s: exiting\n", step)
			os.Exit(99)
		}
	}
}

func applyCommand() *cli.Command {
	return &cli.Command{
		Name:  "apply",
		Usage: "apply approved plans through the provider and write their receipts",
		Description: `--plan FILE applies one plan (its approvals next to it, in FILE's
<id>.approvals/). --pending applies every plan committed on the main branch that
has no receipt yet, oldest first, after finishing any apply a crash interrupted.
Refuses unapproved, stale, replayed or edited plans. Takes per-server locks;
--force breaks a held lock and the receipt records it.

EXAMPLE:
   vmc-git apply --pending --key $VMC_SIGNING_KEY
   vmc-git apply --plan plans/web-1-create-20261126090000.json`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "plan", Usage: "the plan file to apply"},
			&cli.BoolFlag{Name: "pending", Usage: "apply every merged plan without a receipt"},
			&cli.BoolFlag{Name: "force", Usage: "break locks held by others (recorded in the receipt)"},
			&cli.DurationFlag{Name: "lock-wait", Value: 30 * time.Second, Usage: "wait this long for a held lock"},
			&cli.BoolFlag{Name: "push", Usage: "fetch first, take locks on the remote, and push each receipt (compare-and-swap)"},
			&cli.StringFlag{Name: "remote", Value: "origin", Usage: "the remote for --push"},
			&cli.DurationFlag{Name: "remote-lock-stale", Value: 10 * time.Minute, Usage: "with --push: a remote lock older than this is a dead run's (live runs refresh theirs every third of it; give every applier the same value)"},
			keyFlag, kidFlag, jsonFlag,
		},
		Action: func(c *cli.Context) error {
			if c.Bool("pending") == (c.String("plan") != "") {
				return usagef("apply: give exactly one of --plan FILE or --pending")
			}
			rc, err := openRepo(c)
			if err != nil {
				return err
			}
			s, kid, err := loadSigner(c)
			if err != nil {
				return err
			}
			prov, closeProv, err := openProvider(rc)
			if err != nil {
				return err
			}
			defer closeProv()
			opts := apply.Options{Ledger: rc.ledger, Provider: prov, Signer: s, KID: kid, Force: c.Bool("force"),
				LockWait: c.Duration("lock-wait"), Fault: faultFromEnv(),
				Log: func(f string, a ...any) { fmt.Fprintf(c.App.ErrWriter, "vmc-git: "+f+"\n", a...) }}
			if rc.cfg != nil {
				opts.Genesis = &rc.cfg.GenesisBlake3
			}
			if c.Bool("push") {
				if rc.cfg == nil || rc.root == "" {
					return usagef("apply --push needs a ledger repository with a work tree and %s", ".vmc/config.json")
				}
				opts.Remote = apply.NewGitRemote(rc.root, c.String("remote"), rc.cfg.Branch, rc.cfg.MainBranch)
				opts.RemoteLockAge = c.Duration("remote-lock-stale")
			}
			ap := apply.New(opts)
			ctx := context.Background()
			var outs []*apply.Outcome
			var errs []error
			if c.Bool("pending") {
				mainRef := "refs/heads/main"
				if rc.cfg != nil {
					mainRef = "refs/heads/" + rc.cfg.MainBranch
				}
				if c.Bool("push") {
					mainRef = "refs/remotes/" + c.String("remote") + "/" + rc.cfg.MainBranch
				}
				outs, errs, err = ap.ApplyPending(ctx, func() ([]apply.PendingPlan, error) {
					return apply.Pending(rc.ledger.Repo(), rc.ledger.GitDir, plumbingRef(mainRef), func(id string) (bool, error) {
						r, err := rc.ledger.NewReader()
						if err != nil {
							return false, err
						}
						_, ferr := r.File(plans.Path(id))
						return ferr == nil, nil
					})
				})
				if err != nil {
					return err
				}
			} else {
				file := c.String("plan")
				p, b, err := plans.Load(file)
				if err != nil {
					return fail(exitInvalid, err)
				}
				sigs, err := plans.LoadApprovals(filepath.Dir(file), p.ID)
				if err != nil {
					return err
				}
				o, err := ap.Apply(ctx, apply.Input{Bytes: b, Approvals: sigs, Commit: committedIn(rc, p.ID, b)})
				if err != nil {
					errs = append(errs, err)
				} else {
					outs = append(outs, o)
				}
			}
			if c.Bool("json") {
				es := []string{}
				for _, e := range errs {
					es = append(es, e.Error())
				}
				printJSON(c, map[string]any{"applied": nonNilOutcomes(outs), "errors": es})
			} else {
				for _, o := range outs {
					rec := ""
					if o.Recovered {
						rec = " (recovered)"
					}
					outf(c, "applied plan %s: %s%s -> receipt %d (commit %s)\n", o.Plan, o.Status, rec, o.Seq, o.Commit[:12])
				}
				if len(outs) == 0 && len(errs) == 0 {
					outf(c, "nothing to apply\n")
				}
			}
			if len(errs) > 0 {
				return applyError(errs)
			}
			for _, o := range outs {
				if o.Status != provider.StatusSucceeded {
					return fail(exitError, fmt.Errorf("plan %s: %s (recorded in receipt %d)", o.Plan, o.Status, o.Seq))
				}
			}
			return nil
		},
	}
}

func nonNilOutcomes(o []*apply.Outcome) []*apply.Outcome {
	if o == nil {
		return []*apply.Outcome{}
	}
	return o
}

func applyError(errs []error) error {
	err := errors.Join(errs...)
	code := exitError
	var se *plans.StaleError
	var he *lock.HeldError
	for _, e := range errs {
		if errors.Is(e, apply.ErrLedgerInvalid) {
			return fail(exitInvalid, err, "vmc-git verify chain --sig names the broken rule; nothing was applied")
		}
		if errors.Is(e, apply.ErrAlreadyApplied) || errors.Is(e, apply.ErrNotApproved) || errors.Is(e, apply.ErrOtherLedger) ||
			errors.As(e, &se) || errors.As(e, &he) {
			code = exitRefused
		}
	}
	switch {
	case errors.As(err, &se):
		return fail(code, err, "make a new plan against the current state (vmc-git plan server ...)")
	case errors.As(err, &he):
		return fail(code, err, "wait for it, or break it with --force (recorded in the receipt)")
	case errors.Is(err, apply.ErrNotApproved):
		return fail(code, err, "approvers sign with: vmc-git approve FILE")
	}
	return fail(code, err)
}

// committedIn returns the main commit that added plans/<id>.json with these
// exact bytes, or "".
func committedIn(rc *repoCtx, id string, b []byte) string {
	if rc.root == "" || rc.cfg == nil {
		return ""
	}
	out, err := gitCmd(rc.root, "log", "--diff-filter=A", "--format=%H", "refs/heads/"+rc.cfg.MainBranch, "--", plans.Path(id))
	if err != nil {
		return ""
	}
	lines := strings.Fields(out)
	if len(lines) == 0 {
		return ""
	}
	c := lines[len(lines)-1]
	cur, err := gitCmd(rc.root, "show", "refs/heads/"+rc.cfg.MainBranch+":"+plans.Path(id))
	if err != nil || cur != string(b) {
		return ""
	}
	return c
}

func lockCommand() *cli.Command {
	return &cli.Command{
		Name:  "lock",
		Usage: "per-server locks ($XDG_CACHE_HOME/vm-cloud/locks)",
		Description: `EXAMPLE:
   vmc-git lock list
   vmc-git lock release web-1`,
		Subcommands: []*cli.Command{
			{
				Name:  "list",
				Usage: "list held locks, marking stale ones",
				Description: `EXAMPLE:
   vmc-git lock list --json`,
				Flags: []cli.Flag{jsonFlag},
				Action: func(c *cli.Context) error {
					l := lock.New("")
					ls, err := l.List()
					if err != nil {
						return err
					}
					type row struct {
						lock.Info
						Stale bool `json:"stale"`
					}
					rows := []row{}
					for _, i := range ls {
						rows = append(rows, row{i, l.Stale(i)})
					}
					if c.Bool("json") {
						return printJSON(c, rows)
					}
					if len(rows) == 0 {
						outf(c, "no locks in %s\n", l.Dir)
					}
					for _, r := range rows {
						st := ""
						if r.Stale {
							st = "  (stale)"
						}
						outf(c, "%-20s %s pid %d on %s, plan %s, since %s%s\n", r.Server, r.Holder, r.PID, r.Host, r.Plan, r.Time.UTC().Format(time.RFC3339), st)
					}
					return nil
				},
			},
			{
				Name:  "release",
				Usage: "remove a lock (yours or a stale one; --force for anyone's)",
				Description: `EXAMPLE:
   vmc-git lock release web-1
   vmc-git lock release web-1 --force`,
				ArgsUsage: "SERVER",
				Flags:     []cli.Flag{&cli.BoolFlag{Name: "force", Usage: "remove a live lock held by someone else"}},
				Action: func(c *cli.Context) error {
					if err := exactArgs(c, 1, "SERVER"); err != nil {
						return err
					}
					if err := lock.New("").Release(c.Args().First(), c.Bool("force")); err != nil {
						var he *lock.HeldError
						if errors.As(err, &he) {
							return fail(exitRefused, err, "use --force to remove it anyway")
						}
						return fail(exitNotFound, err)
					}
					outf(c, "released %s\n", c.Args().First())
					return nil
				},
			},
		},
	}
}

func plumbingRef(s string) plumbing.ReferenceName { return plumbing.ReferenceName(s) }
