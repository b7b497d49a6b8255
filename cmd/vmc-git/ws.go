package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/receipt"
	"github.com/vmc-git/vmc-git/workspace"
)

// What the commands share, in one place: the common flags, opening the
// workspace and loading the signer, reading arguments, printing results
// (text or --json) and publishing with --push.

// jsonFlag is the --json flag every reporting command has.
var jsonFlag = &cli.BoolFlag{Name: "json", Usage: "print machine-readable JSON on stdout"}
var keyFlag = &cli.StringFlag{Name: "key", Aliases: []string{"k"}, Usage: "signing key: an OpenSSH Ed25519 private key file, or its .pub with ssh-agent (else $VMC_SIGNING_KEY, $VMC_SIGNING_KEY_PEM)"}
var kidFlag = &cli.StringFlag{Name: "kid", Usage: "your key id (default: the key's comment)", EnvVars: []string{"VMC_KID"}}

// pushFlags are --push and --remote, on every command that writes the
// ledger or a snapshot tag.
func pushFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "push", Usage: "publish to the remote: sync first, then push by compare-and-swap (a lost race re-writes the receipt on the new head)"},
		&cli.StringFlag{Name: "remote", Value: workspace.DefaultRemote, Usage: "the remote for --push"},
	}
}

// open opens the workspace named by -C and --branch; the caller closes it.
func open(c *cli.Context) (*workspace.Workspace, error) {
	return workspace.Open(c.String("repo"), c.String("branch"), func(f string, a ...any) {
		fmt.Fprintf(c.App.ErrWriter, "vmc-git: "+f+"\n", a...)
	})
}

// openSigner opens the workspace and loads the signer as loadSigner does;
// the caller closes the workspace.
func openSigner(c *cli.Context) (*workspace.Workspace, workspace.Identity, error) {
	ws, err := open(c)
	if err != nil {
		return nil, workspace.Identity{}, err
	}
	id, err := loadSigner(c, ws)
	if err != nil {
		ws.Close()
		return nil, workspace.Identity{}, err
	}
	return ws, id, nil
}

// keyPath is --key, else $VMC_SIGNING_KEY.
func keyPath(c *cli.Context) string {
	if k := c.String("key"); k != "" {
		return k
	}
	return os.Getenv(keys.EnvKeyPath)
}

// loadSigner loads --key and works out the kid (--kid, the key's comment,
// else the kid the ledger trusts the key as: ws's, or the repository's when
// ws is nil).
func loadSigner(c *cli.Context, ws *workspace.Workspace) (workspace.Identity, error) {
	s, err := keys.Load(c.String("key"))
	if err != nil {
		return workspace.Identity{}, fail(exitUsage, err)
	}
	kid := c.String("kid")
	if kid == "" {
		kid = workspace.CommentKID(keyPath(c))
	}
	if kid == "" && ws == nil {
		if w, err := open(c); err == nil {
			defer w.Close()
			ws = w
		}
	}
	fromComment := c.String("kid") == "" && kid != ""
	kid, err = workspace.ResolveKID(ws, s, "", kid)
	if err == nil && fromComment && ws != nil {
		// A rotated key's comment may name another kid (bob2) than the one
		// the trust state binds it to (bob): the trust state wins.
		if k := workspace.TrustedKID(ws, s); k != "" && k != kid {
			fmt.Fprintf(c.App.ErrWriter, "vmc-git: the key's comment says %s, but the ledger's trust binds this key to %s: signing as %s\n", kid, k, k)
			kid = k
		}
	}
	return workspace.Identity{Signer: s, KID: kid}, err
}

func exactArgs(c *cli.Context, n int, names string) error {
	if c.NArg() != n {
		return usagef("%s: want %d argument(s): %s (see vmc-git %s --help)", commandPath(c), n, names, commandPath(c))
	}
	return nil
}

// boolPtr and intPtr are an optional flag's value: nil when not given.
func boolPtr(c *cli.Context, name string) *bool {
	if !c.IsSet(name) {
		return nil
	}
	v := c.Bool(name)
	return &v
}

func intPtr(c *cli.Context, name string) *int {
	if !c.IsSet(name) {
		return nil
	}
	v := c.Int(name)
	return &v
}

// readInput reads a file, or stdin for "-".
func readInput(f string) ([]byte, error) {
	if f == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(f)
}

// inputArg is the one FILE|- argument's bytes.
func inputArg(c *cli.Context) ([]byte, error) {
	if err := exactArgs(c, 1, "FILE|-"); err != nil {
		return nil, err
	}
	return readInput(c.Args().First())
}

// planArg loads the one FILE argument as a plan: the file, the plan and
// its bytes.
func planArg(c *cli.Context) (string, *plans.Plan, []byte, error) {
	if err := exactArgs(c, 1, "FILE"); err != nil {
		return "", nil, nil, err
	}
	file := c.Args().First()
	p, b, err := workspace.LoadPlan(file)
	return file, p, b, err
}

func printJSON(c *cli.Context, v any) error {
	enc := json.NewEncoder(c.App.Writer)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func outf(c *cli.Context, format string, a ...any) {
	fmt.Fprintf(c.App.Writer, format, a...)
}

func errf(c *cli.Context, format string, a ...any) {
	c.App.ErrWriter.Write([]byte("vmc-git: " + fmt.Sprintf(format, a...) + "\n"))
}

// stderrIsTerminal reports whether progress output makes sense.
func stderrIsTerminal() bool {
	fi, err := os.Stderr.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// read opens the workspace for one read f and closes it.
func read[T any](c *cli.Context, f func(*workspace.Workspace) (T, error)) (T, error) {
	ws, err := open(c)
	if err != nil {
		var zero T
		return zero, err
	}
	defer ws.Close()
	return f(ws)
}

// report reads a value (read) and prints it: as JSON with --json, else
// with text.
func report[T any](c *cli.Context, f func(*workspace.Workspace) (T, error), text func(T)) error {
	v, err := read(c, f)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c, v)
	}
	text(v)
	return nil
}

type writtenJSON struct {
	Seq    uint64        `json:"seq"`
	Kind   receipt.Kind  `json:"kind"`
	Path   string        `json:"path"`
	Blake3 digest.Digest `json:"blake3"`
	SHA256 digest.Digest `json:"sha256"`
	Commit string        `json:"commit"`
}

func reportWritten(c *cli.Context, w *workspace.Written) error {
	if c.Bool("json") {
		return printJSON(c, writtenJSON{w.Seq, w.Receipt.Kind, w.Path, w.Sums.Blake3, w.Sums.SHA256, w.Commit.String()})
	}
	outf(c, "receipt %d (%s) %s\n  blake3 %s\n  commit %s\n", w.Seq, w.Receipt.Kind, w.Path, w.Sums.Blake3, w.Commit)
	return nil
}

func pushOf(c *cli.Context) workspace.Push {
	return workspace.Push{On: c.Bool("push"), Remote: c.String("remote")}
}

// publishing runs write through ws.Publishing and reports, on stderr, a
// receipt that was written again under a new seq.
func publishing(c *cli.Context, ws *workspace.Workspace, id workspace.Identity, write func() (*workspace.Written, error)) (*workspace.Written, error) {
	var w *workspace.Written
	s, err := ws.Publishing(id, pushOf(c), func() error {
		var err error
		w, err = write()
		return err
	})
	if err != nil {
		return nil, err
	}
	if s != nil {
		old := w.Seq
		if nw, moved, err := ws.AfterSync(w, s); moved && err == nil {
			errf(c, "another writer pushed first: your receipt %d was written again as receipt %d", old, nw.Seq)
			w = nw
		} else if moved {
			errf(c, "another writer pushed first: your receipt %d was written again on top (%v)", old, err)
		}
		errf(c, "pushed the ledger to %s (receipt %d)", s.Remote, s.Seq)
	}
	return w, nil
}
