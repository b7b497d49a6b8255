package workspace

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	git "github.com/go-git/go-git/v5"

	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/internal/config"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/provider"
)

// Workspace is a ledger repository as its operator uses it, opened once:
// its work tree, its .vmc/config.json, its ledger branch and, when a use
// case needs it, its provider.
type Workspace struct {
	Root   string         // work tree root ("" for a bare repository)
	Config *config.Config // nil without .vmc/config.json
	Ledger *gitledger.Ledger

	prov      provider.Provider
	closeProv func()
}

// Identity is who signs: a loaded key and the key id it signs as.
type Identity struct {
	Signer *keys.Signer
	KID    string
}

// Open opens the ledger repository that holds dir (any directory inside
// it). branch is the ledger branch; "" means the config's, else
// gitledger.DefaultBranch. In a fresh clone that has only
// refs/remotes/origin/<branch>, Open creates the local ledger branch from
// it, as git switch would, and says so through note (which may be nil).
func Open(dir, branch string, note func(format string, a ...any)) (*Workspace, error) {
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return nil, notFoundErr(fmt.Errorf("%s is not in a git repository", dir), "run inside a ledger repository, or give -C DIR")
	}
	ws := &Workspace{}
	if wt, err := repo.Worktree(); err == nil {
		ws.Root = wt.Filesystem.Root()
		if ws.Config, err = config.Load(ws.Root); err != nil && !errors.Is(err, config.ErrNotFound) {
			return nil, err
		}
	}
	if branch == "" && ws.Config != nil {
		branch = ws.Config.Branch
	}
	start := dir
	if ws.Root != "" {
		start = ws.Root
	}
	if ws.Ledger, err = gitledger.Open(start, branch); err != nil {
		return nil, err
	}
	ws.trackLedger(note)
	// A clone follows its remote: what git pull fetched is verified and
	// taken before any use case reads the ledger.
	f, err := ws.Follow(DefaultRemote)
	if err != nil {
		return nil, err
	}
	if f.Receipts > 0 && note != nil {
		note("ledger follows %s: verified and took receipts %d..%d", f.Remote, f.From+1, f.To)
	}
	return ws, nil
}

// Close releases the provider (and the embedded sandbox) if one was opened.
func (ws *Workspace) Close() {
	if ws.closeProv != nil {
		ws.closeProv()
		ws.prov, ws.closeProv = nil, nil
	}
}

// trackLedger makes the local ledger branch follow origin's: it creates the
// local branch from refs/remotes/origin/<branch>, as git switch would, when
// a fresh clone has only that (Open calls it). It never moves an existing
// branch; apply --push syncs with the remote itself (package apply).
func (ws *Workspace) trackLedger(note func(string, ...any)) {
	if _, err := ws.Ledger.Tip(); !errors.Is(err, gitledger.ErrNoLedger) || ws.Root == "" {
		return
	}
	b := strings.TrimPrefix(ws.Ledger.Ref.String(), "refs/heads/")
	remote := "refs/remotes/origin/" + b
	if out, err := gitCmd(ws.Root, "rev-parse", "-q", "--verify", remote); err == nil {
		if _, err := gitCmd(ws.Root, "update-ref", ws.Ledger.Ref.String(), strings.TrimSpace(out), ""); err == nil && note != nil {
			note("created local branch %s from origin/%s", b, b)
		}
	}
}

// MainRef is the main branch's ref: the config's, else refs/heads/main.
func (ws *Workspace) MainRef() string {
	if ws.Config != nil {
		return "refs/heads/" + ws.Config.MainBranch
	}
	return "refs/heads/main"
}

// ResolveKID works out the key id s signs as: kid if given, else the
// comment of keyPath's public key file (keyPath or keyPath.pub), else the
// kid the trust state at ws's ledger tip binds to s's key (a key from
// $VMC_SIGNING_KEY_PEM has no comment). ws may be nil.
func ResolveKID(ws *Workspace, s *keys.Signer, keyPath, kid string) (string, error) {
	if kid == "" {
		kid = CommentKID(keyPath)
	}
	if kid == "" && ws != nil {
		kid = trustedKID(ws.Ledger, s)
	}
	if kid == "" {
		return "", usagef("no key id: give --kid NAME or set VMC_KID")
	}
	if err := keys.ValidKID(kid); err != nil {
		return "", usageErr(err)
	}
	return kid, nil
}

// TrustedKID is the kid the trust state at ws's ledger tip binds to s's
// key, or "".
func TrustedKID(ws *Workspace, s *keys.Signer) string { return trustedKID(ws.Ledger, s) }

// trustedKID finds the kid the ledger's current trust binds to s's key.
func trustedKID(l *gitledger.Ledger, s *keys.Signer) string {
	tip, err := l.Tip()
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

// CommentKID reads the kid from a public key file's comment: keyPath if it
// ends in .pub, else keyPath.pub. It is "" when there is none or it is not a
// valid kid.
func CommentKID(keyPath string) string {
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

// GitDir runs "git rev-parse --git-dir" in dir (a pre-push hook's
// repository when git did not set $GIT_DIR).
func GitDir(dir string) (string, error) {
	out, err := gitCmd(dir, "rev-parse", "--git-dir")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(out), nil
}

// CommitFiles commits paths on the current branch with the real git, using
// the kid as identity where git has none configured.
func CommitFiles(dir, kid, msg string, paths ...string) error {
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
