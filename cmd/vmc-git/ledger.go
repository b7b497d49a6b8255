package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/internal/canon"
	"github.com/vmc-git/vmc-git/internal/config"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/internal/workflows"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/receipt"
)

var keyFlag = &cli.StringFlag{Name: "key", Aliases: []string{"k"}, Usage: "signing key: an OpenSSH Ed25519 private key file, or its .pub with ssh-agent (else $VMC_SIGNING_KEY, $VMC_SIGNING_KEY_PEM)"}
var kidFlag = &cli.StringFlag{Name: "kid", Usage: "your key id (default: the key's comment)", EnvVars: []string{"VMC_KID"}}

// repoCtx is an opened ledger repository.
type repoCtx struct {
	root   string // work tree root ("" for a bare repository)
	cfg    *config.Config
	ledger *gitledger.Ledger
}

func openRepo(c *cli.Context) (*repoCtx, error) {
	dir := c.String("repo")
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return nil, fail(exitNotFound, fmt.Errorf("%s is not in a git repository", dir), "run inside a ledger repository, or give -C DIR")
	}
	rc := &repoCtx{}
	if wt, err := repo.Worktree(); err == nil {
		rc.root = wt.Filesystem.Root()
		if rc.cfg, err = config.Load(rc.root); err != nil && !errors.Is(err, config.ErrNotFound) {
			return nil, err
		}
	}
	branch := c.String("branch")
	if branch == "" && rc.cfg != nil {
		branch = rc.cfg.Branch
	}
	start := dir
	if rc.root != "" {
		start = rc.root
	}
	if rc.ledger, err = gitledger.Open(start, branch); err != nil {
		return nil, err
	}
	trackLedger(c, rc)
	return rc, nil
}

// trackLedger creates the local ledger branch from origin's, as git switch
// would, when a fresh clone has only refs/remotes/origin/<branch>.
func trackLedger(c *cli.Context, rc *repoCtx) {
	if _, err := rc.ledger.Tip(); !errors.Is(err, gitledger.ErrNoLedger) || rc.root == "" {
		return
	}
	b := strings.TrimPrefix(rc.ledger.Ref.String(), "refs/heads/")
	remote := "refs/remotes/origin/" + b
	if out, err := gitCmd(rc.root, "rev-parse", "-q", "--verify", remote); err == nil {
		if _, err := gitCmd(rc.root, "update-ref", rc.ledger.Ref.String(), strings.TrimSpace(out), ""); err == nil {
			fmt.Fprintf(c.App.ErrWriter, "vmc-git: created local branch %s from origin/%s\n", b, b)
		}
	}
}

// loadSigner loads --key and works out the kid.
func loadSigner(c *cli.Context) (*keys.Signer, string, error) {
	s, err := keys.Load(c.String("key"))
	if err != nil {
		return nil, "", fail(exitUsage, err)
	}
	kid := c.String("kid")
	if kid == "" {
		kid = commentKID(c.String("key"))
	}
	if kid == "" {
		kid = trustedKID(c, s) // e.g. a key from VMC_SIGNING_KEY_PEM has no comment
	}
	if kid == "" {
		return nil, "", usagef("no key id: give --kid NAME or set VMC_KID")
	}
	if err := keys.ValidKID(kid); err != nil {
		return nil, "", fail(exitUsage, err)
	}
	return s, kid, nil
}

// trustedKID finds the kid the ledger's current trust binds to s's key.
func trustedKID(c *cli.Context, s *keys.Signer) string {
	rc, err := openRepo(c)
	if err != nil {
		return ""
	}
	tip, err := rc.ledger.Tip()
	if err != nil {
		return ""
	}
	for _, e := range tip.Trust.Keys() {
		if e.Status == keys.StatusActive && bytes.Equal(e.Pub.Marshal(), s.PublicKey().Marshal()) {
			return e.KID
		}
	}
	return ""
}

// commentKID reads the kid from a public key file's comment.
func commentKID(keyPath string) string {
	if keyPath == "" {
		keyPath = os.Getenv(keys.EnvKeyPath)
	}
	if keyPath == "" {
		return ""
	}
	pubPath := keyPath
	if !strings.HasSuffix(pubPath, ".pub") {
		pubPath += ".pub"
	}
	b, err := os.ReadFile(pubPath)
	if err != nil {
		return ""
	}
	_, comment, err := keys.ParsePublicKey(b)
	if err != nil || keys.ValidKID(comment) != nil {
		return ""
	}
	return comment
}

func ledgerCommands() []*cli.Command {
	return []*cli.Command{
		initCommand(),
		recordCommand(),
		{
			Name:  "verify",
			Usage: "verify the ledger chain or one receipt",
			Description: `EXAMPLE:
   vmc-git verify chain --sig
   vmc-git verify receipt 42 --sig`,
			Subcommands: []*cli.Command{
				verifyChainCommand(),
				verifyReceiptCommand(),
			},
		},
		{
			Name:  "sign",
			Usage: "sign a file",
			Description: `EXAMPLE:
   vmc-git sign receipt 000000042.json --key ~/.ssh/vmc_alice`,
			Subcommands: []*cli.Command{signReceiptCommand()},
		},
		logCommand(),
		showCommand(),
		hashCommand(),
		canonCommand(),
	}
}

func initCommand() *cli.Command {
	return &cli.Command{
		Name:      "init",
		Usage:     "create a ledger: .vmc/config.json on main and the genesis receipt",
		ArgsUsage: "[DIR]",
		Description: `Creates (or reuses) a git repository in DIR, writes the genesis receipt on the
ledger branch, then commits .vmc/config.json (with the genesis pin) on main.
The signing key becomes the first operator with every role; add more with
--operator KID:ROLES:PUBKEYFILE (roles: admin, approver, applier, comma-separated).

EXAMPLE:
   vmc-git keygen --kid alice --out ~/.ssh/vmc_alice
   vmc-git init infra --ledger github.com/acme/infra --key ~/.ssh/vmc_alice
   vmc-git init infra --ledger github.com/acme/infra --key alice \
       --operator bob:approver:bob.pub --operator ci:applier:ci.pub --approvals-required 1`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "ledger", Required: true, Usage: "ledger id, e.g. github.com/acme/infra (stops cross-ledger replay)"},
			keyFlag, kidFlag,
			&cli.StringFlag{Name: "branch", Value: gitledger.DefaultBranch, Usage: "ledger branch"},
			&cli.StringFlag{Name: "main-branch", Value: "main", Usage: "branch that carries config, plans and workflows"},
			&cli.IntFlag{Name: "approvals-required", Value: 1, Usage: "distinct approver signatures a plan needs"},
			&cli.IntFlag{Name: "admin-threshold", Value: 1, Usage: "distinct admin signatures a trust change needs"},
			&cli.StringFlag{Name: "roles", Value: "admin,applier,approver", Usage: "roles of the signing key"},
			&cli.StringSliceFlag{Name: "operator", Usage: "another genesis key: KID:ROLES:PUBKEYFILE (repeatable)"},
			&cli.StringFlag{Name: "provider", Value: config.ProviderSandbox, Usage: "sandbox (embedded Hetzner-compatible API) or hetzner"},
			jsonFlag,
		},
		Action: func(c *cli.Context) error {
			dir := "."
			if c.NArg() > 1 {
				return usagef("init: at most one DIR")
			}
			if c.NArg() == 1 {
				dir = c.Args().First()
			}
			s, kid, err := loadSigner(c)
			if err != nil {
				return err
			}
			var roles []keys.Role
			for _, r := range strings.Split(c.String("roles"), ",") {
				roles = append(roles, keys.Role(r))
			}
			sortRoles(roles)
			specs := []keys.KeySpec{{KID: kid, PublicKey: keys.FormatPublicKey(s.PublicKey()), Roles: roles}}
			for _, op := range c.StringSlice("operator") {
				sp, err := parseOperator(op)
				if err != nil {
					return fail(exitUsage, err)
				}
				specs = append(specs, sp)
			}
			res, err := initLedger(dir, c.String("ledger"), c.String("branch"), c.String("main-branch"), c.String("provider"), s, kid,
				receipt.Genesis{Keys: specs, Policy: keys.Policy{ApprovalsRequired: c.Int("approvals-required"), AdminThreshold: c.Int("admin-threshold")}})
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return printJSON(c, res)
			}
			outf(c, "initialized ledger %s in %s\n  genesis blake3 %s\n  ledger branch  %s (commit %s)\n  config         %s on %s\n",
				res.Ledger, res.Dir, res.GenesisBlake3, res.Branch, res.Commit[:12], config.Path, res.MainBranch)
			outf(c, "next: vmc-git -C %s verify chain --sig\n", res.Dir)
			return nil
		},
	}
}

type initResult struct {
	Ledger        string        `json:"ledger"`
	Dir           string        `json:"dir"`
	Branch        string        `json:"branch"`
	MainBranch    string        `json:"main_branch"`
	Commit        string        `json:"commit"`
	GenesisBlake3 digest.Digest `json:"genesis_blake3"`
}

// parseOperator parses KID:ROLES:PUBKEYFILE.
func parseOperator(s string) (keys.KeySpec, error) {
	kid, rest, ok1 := strings.Cut(s, ":")
	roles, file, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 {
		return keys.KeySpec{}, fmt.Errorf("--operator %q: want KID:ROLES:PUBKEYFILE", s)
	}
	pub, err := keys.LoadPublicKey(file)
	if err != nil {
		return keys.KeySpec{}, fmt.Errorf("--operator %s: %w", kid, err)
	}
	var rs []keys.Role
	for _, r := range strings.Split(roles, ",") {
		rs = append(rs, keys.Role(r))
	}
	sortRoles(rs)
	return keys.KeySpec{KID: kid, PublicKey: keys.FormatPublicKey(pub), Roles: rs}, nil
}

func sortRoles(rs []keys.Role) {
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && rs[j] < rs[j-1]; j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
}

// initLedger creates the repository, genesis and config commit.
func initLedger(dir, ledgerID, branch, mainBranch, provider string, s *keys.Signer, kid string, g receipt.Genesis) (*initResult, error) {
	if err := receipt.ValidLedgerID(ledgerID); err != nil {
		return nil, fail(exitUsage, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	abs, _ := filepath.Abs(dir)
	if _, err := os.Stat(filepath.Join(abs, ".git")); errors.Is(err, os.ErrNotExist) {
		if _, err := gitCmd(abs, "init", "-q", "-b", mainBranch); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(filepath.Join(abs, config.Path)); err == nil {
		return nil, fail(exitRefused, fmt.Errorf("%s already exists in %s: this repository has a ledger", config.Path, abs))
	}
	l, err := gitledger.Open(abs, branch)
	if err != nil {
		return nil, err
	}
	if _, err := l.Tip(); err == nil {
		return nil, fail(exitRefused, fmt.Errorf("ledger branch %s already exists in %s", l.Ref, abs))
	}
	w, err := l.Init(ledgerID, s, kid, g, time.Now())
	if err != nil {
		return nil, err
	}
	cfg := &config.Config{V: 1, Ledger: ledgerID, Branch: branch, MainBranch: mainBranch, GenesisBlake3: w.Sums.Blake3, Provider: provider}
	b, err := cfg.Encode()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(abs, ".vmc"), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(abs, config.Path), b, 0o644); err != nil {
		return nil, err
	}
	wf, err := workflows.WriteCallers(abs, cfg)
	if err != nil {
		return nil, err
	}
	if err := commitFiles(abs, kid, "vmc: init ledger "+ledgerID, append([]string{config.Path}, wf...)...); err != nil {
		return nil, err
	}
	return &initResult{Ledger: ledgerID, Dir: abs, Branch: branch, MainBranch: mainBranch, Commit: w.Commit.String(), GenesisBlake3: w.Sums.Blake3}, nil
}

// gitCmd runs the real git in dir.
func gitCmd(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// commitFiles commits paths on the current branch with the real git, using
// the kid as identity where git has none configured.
func commitFiles(dir, kid, msg string, paths ...string) error {
	if _, err := gitCmd(dir, append([]string{"add", "--"}, paths...)...); err != nil {
		return err
	}
	args := []string{"commit", "-q", "-m", msg, "--"}
	if out, _ := gitCmd(dir, "config", "user.email"); strings.TrimSpace(out) == "" {
		args = append([]string{"-c", "user.name=" + kid, "-c", "user.email=" + kid + "@vmc-git"}, args...)
	}
	_, err := gitCmd(dir, append(args, paths...)...)
	return err
}

func recordCommand() *cli.Command {
	return &cli.Command{
		Name:  "record",
		Usage: "append a manual receipt: an operation done by hand outside vmc-git (break-glass)",
		Description: `Records what an operator did by hand, signed by the operator, so the ledger
stays the complete history. --body FILE adds a JSON object with the details.

EXAMPLE:
   vmc-git record --summary "rebooted web-1 from the console after a kernel hang" --key ~/.ssh/vmc_alice
   vmc-git record --summary "rotated root password on db-1" --body details.json --json`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "summary", Required: true, Usage: "one line: what was done and why"},
			&cli.StringFlag{Name: "body", Usage: "JSON object file with details"},
			keyFlag, kidFlag, jsonFlag,
		},
		Action: func(c *cli.Context) error {
			if err := receipt.ValidSummary(c.String("summary")); err != nil {
				return fail(exitUsage, err)
			}
			m := &receipt.Manual{}
			if f := c.String("body"); f != "" {
				b, err := readInput(f)
				if err != nil {
					return err
				}
				cb, err := canon.Canonicalize(b)
				if err != nil {
					return fail(exitUsage, fmt.Errorf("--body %s: %w", f, err))
				}
				if cb[0] != '{' {
					return fail(exitUsage, fmt.Errorf("--body %s: want a JSON object", f))
				}
				m.Details = cb
			}
			rc, err := openRepo(c)
			if err != nil {
				return err
			}
			s, kid, err := loadSigner(c)
			if err != nil {
				return err
			}
			w, err := rc.ledger.Append(s, kid, func(*gitledger.Tip) (*gitledger.Draft, error) {
				return &gitledger.Draft{Receipt: receipt.Receipt{Kind: receipt.KindManual, Summary: c.String("summary"), Manual: m}}, nil
			})
			if err != nil {
				return refusedIfConflict(err)
			}
			return reportWritten(c, w)
		},
	}
}

func refusedIfConflict(err error) error {
	if errors.Is(err, gitledger.ErrConflict) {
		return fail(exitRefused, err, "another writer keeps appending; try again")
	}
	var re *keys.RoleError
	if errors.As(err, &re) {
		return fail(exitRefused, err, "vmc-git keys list shows who may sign what")
	}
	return err
}

type writtenJSON struct {
	Seq    uint64        `json:"seq"`
	Kind   receipt.Kind  `json:"kind"`
	Path   string        `json:"path"`
	Blake3 digest.Digest `json:"blake3"`
	SHA256 digest.Digest `json:"sha256"`
	Commit string        `json:"commit"`
}

func reportWritten(c *cli.Context, w *gitledger.Written) error {
	if c.Bool("json") {
		return printJSON(c, writtenJSON{w.Seq, w.Receipt.Kind, w.Path, w.Sums.Blake3, w.Sums.SHA256, w.Commit.String()})
	}
	outf(c, "receipt %d (%s) %s\n  blake3 %s\n  commit %s\n", w.Seq, w.Receipt.Kind, w.Path, w.Sums.Blake3, w.Commit)
	return nil
}

func verifyChainCommand() *cli.Command {
	return &cli.Command{
		Name:  "chain",
		Usage: "check every rule of the ledger branch",
		Description: `Walks the ledger branch from genesis and checks canonical bytes, hashes,
prev_blake3, seq without gaps, exactly the allowed tree changes per commit, one
parent, HEAD.json, trust and roles, and with --sig every commit and receipt
signature. The genesis is pinned by --genesis or .vmc/config.json. The last
verified head is remembered under .git/vmc/: a chain that does not extend it
(rewritten history) is refused, naming the fork point.

EXAMPLE:
   vmc-git verify chain --sig
   vmc-git verify chain --sig --from 1200 --json`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "sig", Usage: "verify every commit and receipt signature"},
			&cli.BoolFlag{Name: "head", Usage: "print HEAD.json of the verified tip"},
			&cli.Uint64Flag{Name: "from", Usage: "verify receipts from SEQ on, trusting the ledger before it"},
			&cli.StringFlag{Name: "genesis", Usage: "pinned genesis blake3 (default: genesis_blake3 in .vmc/config.json)"},
			&cli.BoolFlag{Name: "no-remember", Usage: "neither check nor update the remembered verified head"},
			&cli.BoolFlag{Name: "strict", Usage: "fail (exit 3) if receipts were signed by a key after its compromise"},
			jsonFlag,
		},
		Action: func(c *cli.Context) error {
			rc, err := openRepo(c)
			if err != nil {
				return err
			}
			opt := gitledger.VerifyOptions{Signatures: c.Bool("sig"), From: c.Uint64("from"), Remember: !c.Bool("no-remember")}
			if g := c.String("genesis"); g != "" {
				d, err := digest.Parse(g)
				if err != nil {
					return fail(exitUsage, fmt.Errorf("--genesis: %w", err))
				}
				opt.Genesis = &d
			} else if rc.cfg != nil {
				opt.Genesis = &rc.cfg.GenesisBlake3
			}
			if stderrIsTerminal() && !c.Bool("json") {
				opt.Progress = func(done, total uint64) {
					fmt.Fprintf(c.App.ErrWriter, "\rverifying %d/%d", done, total)
					if done == total {
						fmt.Fprintln(c.App.ErrWriter)
					}
				}
			}
			start := time.Now()
			rep, err := rc.ledger.Verify(opt)
			if err != nil {
				var ve *gitledger.VerifyError
				if errors.As(err, &ve) && c.Bool("json") {
					printJSON(c, map[string]any{"ok": false, "seq": ve.Seq, "rule": ve.Rule, "commit": ve.Commit.String(), "error": err.Error()})
				}
				return err
			}
			if c.Bool("json") {
				return printJSON(c, struct {
					OK bool `json:"ok"`
					*gitledger.Report
				}{true, rep})
			}
			sig := "structure and hashes (add --sig for signatures)"
			if rep.Signatures {
				sig = "structure, hashes and signatures"
			}
			outf(c, "ok: %s, %d receipts (checked %d from seq %d: %s) in %s\n  head: receipt %d, blake3 %s\n  genesis: %s\n",
				rep.Ledger, rep.Receipts, rep.Checked, rep.From, sig, time.Since(start).Round(time.Millisecond), rep.Head.Seq, rep.Head.Blake3, rep.GenesisBlake3)
			if opt.Genesis == nil {
				outf(c, "  note: genesis not pinned (no --genesis, no %s)\n", config.Path)
			}
			for _, iv := range rep.Invalidated {
				outf(c, "  INVALIDATED: receipt %d was signed by %s after its compromise at %s (revoked by receipt %d)\n", iv.Seq, iv.KID, iv.Compromise, iv.RevokedBy)
			}
			if len(rep.Invalidated) > 0 && c.Bool("strict") {
				return fail(exitInvalid, fmt.Errorf("%d receipt(s) signed by compromised keys", len(rep.Invalidated)))
			}
			if c.Bool("head") {
				b, _ := rep.Head.Encode()
				outf(c, "%s\n", b)
			}
			return nil
		},
	}
}

func verifyReceiptCommand() *cli.Command {
	return &cli.Command{
		Name:      "receipt",
		Usage:     "check one receipt file (or the ledger's receipt SEQ)",
		ArgsUsage: "FILE|SEQ",
		Description: `Checks canonical form and fields; with --sig also that it is this repository's
ledger's receipt at its seq, byte for byte, and FILE.sig against the key trusted
for the receipt's kid at the previous receipt.

EXAMPLE:
   vmc-git verify receipt 42 --sig
   vmc-git verify receipt 000000042.json --sig`,
		Flags: []cli.Flag{&cli.BoolFlag{Name: "sig", Usage: "verify the signature"}, jsonFlag},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1, "FILE|SEQ"); err != nil {
				return err
			}
			arg := c.Args().First()
			var body, sig []byte
			var err error
			rc, rerr := openRepo(c)
			seq, isSeq := parseSeqArg(arg)
			if isSeq {
				if rerr != nil {
					return rerr
				}
				r, err := rc.ledger.NewReader()
				if err != nil {
					return err
				}
				e, err := r.Receipt(seq)
				if err != nil {
					return fail(exitNotFound, err)
				}
				body, sig = e.Bytes, e.Sig
			} else {
				if body, err = os.ReadFile(arg); err != nil {
					return err
				}
				if c.Bool("sig") {
					if sig, err = os.ReadFile(arg + receipt.SigSuffix); err != nil {
						return fail(exitInvalid, fmt.Errorf("signature: %w", err))
					}
				}
			}
			r, err := receipt.Parse(body)
			if err != nil {
				return fail(exitInvalid, err)
			}
			if c.Bool("sig") {
				if rerr != nil {
					return rerr
				}
				tip, err := rc.ledger.Tip()
				if err != nil {
					return err
				}
				// A signature means something only for this ledger's receipt:
				// the same ledger id and the same bytes at that seq (a forged
				// genesis would otherwise vouch for itself).
				if r.Ledger != tip.Head.Ledger {
					return fail(exitInvalid, fmt.Errorf("receipt %d is for ledger %s, this repository's is %s", r.Seq, r.Ledger, tip.Head.Ledger))
				}
				rd, err := rc.ledger.NewReader()
				if err != nil {
					return err
				}
				mine, err := rd.Receipt(r.Seq)
				if err != nil {
					return fail(exitInvalid, fmt.Errorf("receipt %d is not in this ledger (it ends at receipt %d)", r.Seq, tip.Head.Seq))
				}
				if !bytes.Equal(mine.Bytes, body) {
					return fail(exitInvalid, fmt.Errorf("receipt %d differs from this ledger's receipt %d (blake3 %s, the ledger's %s)", r.Seq, r.Seq, digest.Blake3(body), digest.Blake3(mine.Bytes)))
				}
				if err := rc.ledger.VerifyEntry(tip, r, body, sig); err != nil {
					return fail(exitInvalid, err)
				}
			}
			s := digest.Of(body)
			if c.Bool("json") {
				return printJSON(c, map[string]any{"ok": true, "seq": r.Seq, "kind": r.Kind, "kid": r.KID, "blake3": s.Blake3, "sha256": s.SHA256, "signature_checked": c.Bool("sig")})
			}
			what := "canonical, well-formed"
			if c.Bool("sig") {
				what += ", this ledger's receipt, signed by trusted " + r.KID
			}
			outf(c, "ok: receipt %d (%s) %s\n  blake3 %s\n", r.Seq, r.Kind, what, s.Blake3)
			return nil
		},
	}
}

func parseSeqArg(s string) (uint64, bool) {
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil && strconv.FormatUint(n, 10) == s
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

func logCommand() *cli.Command {
	return &cli.Command{
		Name:  "log",
		Usage: "list receipts, newest first",
		Description: `EXAMPLE:
   vmc-git log -n 5
   vmc-git log --json | jq '.[] | select(.kind=="apply")'`,
		Flags: []cli.Flag{&cli.IntFlag{Name: "n", Value: 20, Usage: "how many (0: all)"}, jsonFlag},
		Action: func(c *cli.Context) error {
			rc, err := openRepo(c)
			if err != nil {
				return err
			}
			r, err := rc.ledger.NewReader()
			if err != nil {
				return err
			}
			type row struct {
				Seq       uint64        `json:"seq"`
				Kind      receipt.Kind  `json:"kind"`
				CreatedAt string        `json:"created_at"`
				KID       string        `json:"kid"`
				Summary   string        `json:"summary"`
				Blake3    digest.Digest `json:"blake3"`
				Anchored  []AnchorRef   `json:"anchored_by,omitempty"` // anchor receipts whose snapshot ends here
			}
			rows := []row{}
			var shown []*receipt.Receipt
			for seq, n := int64(r.Tip.Head.Seq), 0; seq >= 0 && (c.Int("n") <= 0 || n < c.Int("n")); seq, n = seq-1, n+1 {
				e, err := r.Receipt(uint64(seq))
				if err != nil {
					return err
				}
				rows = append(rows, row{e.Receipt.Seq, e.Receipt.Kind, e.Receipt.CreatedAt, e.Receipt.KID, e.Receipt.Summary, digest.Blake3(e.Bytes), nil})
				shown = append(shown, e.Receipt)
			}
			// An anchor comes after the receipts it covers: those shown here
			// are anchored only by anchor receipts shown here.
			by := anchoredBy(shown)
			for i := range rows {
				rows[i].Anchored = by[rows[i].Seq]
			}
			if c.Bool("json") {
				return printJSON(c, rows)
			}
			for _, x := range rows {
				outf(c, "%6d  %s  %-11s %-12s %s  %s%s\n", x.Seq, x.CreatedAt, x.Kind, x.KID, x.Blake3.String()[:12], x.Summary, anchoredText(x.Anchored))
			}
			return nil
		},
	}
}

func showCommand() *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "print receipt SEQ",
		ArgsUsage: "SEQ",
		Description: `Prints the receipt indented for reading; --raw prints the exact canonical bytes
(what is hashed and signed), --sig its signature.

EXAMPLE:
   vmc-git show 0
   vmc-git show 42 --raw | b3sum`,
		Flags: []cli.Flag{&cli.BoolFlag{Name: "raw", Usage: "the exact stored bytes"}, &cli.BoolFlag{Name: "sig", Usage: "print the signature instead"}},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1, "SEQ"); err != nil {
				return err
			}
			seq, ok := parseSeqArg(c.Args().First())
			if !ok {
				return usagef("show: SEQ must be a receipt number, got %q", c.Args().First())
			}
			rc, err := openRepo(c)
			if err != nil {
				return err
			}
			r, err := rc.ledger.NewReader()
			if err != nil {
				return err
			}
			e, err := r.Receipt(seq)
			if err != nil {
				return fail(exitNotFound, err)
			}
			switch {
			case c.Bool("sig"):
				_, err = c.App.Writer.Write(e.Sig)
			case c.Bool("raw"):
				_, err = c.App.Writer.Write(e.Bytes)
			default:
				var out bytes.Buffer
				json.Indent(&out, e.Bytes, "", "  ")
				out.WriteByte('\n')
				_, err = c.App.Writer.Write(out.Bytes())
			}
			return err
		},
	}
}

// readInput reads a file, or stdin for "-".
func readInput(f string) ([]byte, error) {
	if f == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(f)
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
			if err := exactArgs(c, 1, "FILE|-"); err != nil {
				return err
			}
			b, err := readInput(c.Args().First())
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
			if err := exactArgs(c, 1, "FILE|-"); err != nil {
				return err
			}
			b, err := readInput(c.Args().First())
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
