package main

import (
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/workspace"
)

var keyFlag = &cli.StringFlag{Name: "key", Aliases: []string{"k"}, Usage: "signing key: an OpenSSH Ed25519 private key file, or its .pub with ssh-agent (else $VMC_SIGNING_KEY, $VMC_SIGNING_KEY_PEM)"}
var kidFlag = &cli.StringFlag{Name: "kid", Usage: "your key id (default: the key's comment)", EnvVars: []string{"VMC_KID"}}

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

// readInput reads a file, or stdin for "-".
func readInput(f string) ([]byte, error) {
	if f == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(f)
}
