package apply

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/vmc-git/vmc-git/internal/lock"
	"github.com/vmc-git/vmc-git/plans"
)

// Remote is the shared git server an applier publishes to (DESIGN section 5:
// locks across machines are refs on the remote; the ledger push is a
// compare-and-swap).
type Remote interface {
	// Lock creates refs/vmc/locks/<server> on the remote; a *lock.HeldError
	// if it exists.
	Lock(server, holder, plan string) error
	// Unlock deletes the lock this process created.
	Unlock(server string) error
	// Sync fetches the remote ledger and main branch. A local ledger behind
	// the remote is fast-forwarded. A local ledger ahead is left for Publish.
	// If they diverged, the local-only commits are dropped when discard says
	// they may be (their receipts will be re-written from intents);
	// otherwise Sync fails.
	Sync(discard func(localOnly int) bool) error
	// Publish pushes the local ledger branch if the remote's is still what
	// Sync saw; ErrRaced if another writer pushed first.
	Publish() error
	// MainRef is the local ref holding the remote's main branch.
	MainRef() string
}

// ErrRaced means the remote ledger moved: Sync and retry.
var ErrRaced = errors.New("the remote ledger moved (another writer pushed first)")

// GitRemote implements Remote with the real git binary.
type GitRemote struct {
	Dir          string // the repository
	Name         string // remote name, e.g. origin
	LedgerBranch string
	MainBranch   string
	seen         string            // remote ledger tip at the last Sync ("" if none)
	locks        map[string]string // server -> lock blob we pushed
}

// NewGitRemote returns a remote for repository dir.
func NewGitRemote(dir, name, ledgerBranch, mainBranch string) *GitRemote {
	return &GitRemote{Dir: dir, Name: name, LedgerBranch: ledgerBranch, MainBranch: mainBranch, locks: map[string]string{}}
}

func (g *GitRemote) git(args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = g.Dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("git %s: %v: %s", args[0], err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

func (g *GitRemote) trackRef(branch string) string { return "refs/remotes/" + g.Name + "/" + branch }

// MainRef implements Remote.
func (g *GitRemote) MainRef() string { return g.trackRef(g.MainBranch) }

func (g *GitRemote) revParse(ref string) string {
	out, err := g.git("rev-parse", "-q", "--verify", ref+"^{commit}")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(out)
}

func (g *GitRemote) isAncestor(a, b string) bool {
	_, err := g.git("merge-base", "--is-ancestor", a, b)
	return err == nil
}

// Sync implements Remote.
func (g *GitRemote) Sync(discard func(int) bool) error {
	lref, mref := "refs/heads/"+g.LedgerBranch, "refs/heads/"+g.MainBranch
	// Absent branches on the remote are fine: fetch them one by one.
	for _, spec := range []string{"+" + lref + ":" + g.trackRef(g.LedgerBranch), "+" + mref + ":" + g.trackRef(g.MainBranch)} {
		if _, err := g.git("fetch", "--quiet", "--no-tags", g.Name, spec); err != nil && !strings.Contains(err.Error(), "couldn't find remote ref") {
			return err
		}
	}
	if _, err := g.git("fetch", "--quiet", g.Name, "+refs/tags/vmc/merkle/*:refs/tags/vmc/merkle/*"); err != nil {
		return err
	}
	remote, local := g.revParse(g.trackRef(g.LedgerBranch)), g.revParse(lref)
	g.seen = remote
	switch {
	case remote == "" || remote == local:
		return nil
	case local == "" || g.isAncestor(local, remote):
		_, err := g.git("update-ref", lref, remote, local)
		return err
	case g.isAncestor(remote, local):
		return nil // ahead: Publish sends it
	}
	out, err := g.git("rev-list", "--count", remote+".."+local)
	if err != nil {
		return err
	}
	var n int
	fmt.Sscan(out, &n)
	if !discard(n) {
		return fmt.Errorf("the local ledger branch has %d receipt(s) that are not on %s, and %s moved meanwhile: the ledger cannot fork", n, g.Name, g.Name)
	}
	_, err = g.git("update-ref", lref, remote, local)
	return err
}

// Publish implements Remote.
func (g *GitRemote) Publish() error {
	lref := "refs/heads/" + g.LedgerBranch
	local := g.revParse(lref)
	if local == "" || local == g.seen {
		return nil
	}
	out, err := g.git("push", "--porcelain", g.Name, "--force-with-lease="+lref+":"+g.seen, local+":"+lref)
	if err != nil {
		// --porcelain reports each ref on stdout: "!\t<ref>\t[rejected] (stale info)".
		why := out + err.Error()
		if strings.Contains(why, "stale info") || strings.Contains(why, "fetch first") || strings.Contains(why, "non-fast-forward") {
			return ErrRaced
		}
		// Two pushes at the same instant can also fail on the server's ref
		// lock ("failed to update ref"): if the remote moved, it was a race.
		if _, ferr := g.git("fetch", "--quiet", "--no-tags", g.Name, "+"+lref+":"+g.trackRef(g.LedgerBranch)); ferr == nil {
			if now := g.revParse(g.trackRef(g.LedgerBranch)); now != g.seen && !strings.Contains(why, "hook declined") {
				return ErrRaced
			}
		}
		return fmt.Errorf("push ledger to %s: %w", g.Name, err)
	}
	g.seen = local
	return nil
}

// Lock implements Remote.
func (g *GitRemote) Lock(server, holder, plan string) error {
	host, _ := os.Hostname()
	nonce := make([]byte, 8)
	rand.Read(nonce)
	info := lock.Info{Server: server, Holder: holder, PID: os.Getpid(), Host: host, Plan: plan, Time: time.Now().UTC()}
	b, _ := json.Marshal(struct {
		lock.Info
		Nonce string `json:"nonce"`
	}{info, hex.EncodeToString(nonce)})
	cmd := exec.Command("git", "hash-object", "-w", "--stdin")
	cmd.Dir, cmd.Stdin = g.Dir, bytes.NewReader(b)
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("lock %s: %w", server, err)
	}
	blob := strings.TrimSpace(string(out))
	ref := "refs/vmc/locks/" + server
	if out, err := g.git("push", "--porcelain", g.Name, "--force-with-lease="+ref+":", blob+":"+ref); err != nil {
		if strings.Contains(out, "hook declined") || !strings.Contains(out, "rejected") {
			return fmt.Errorf("lock %s on %s: %w", server, g.Name, err)
		}
		held := lock.Info{Server: server, Holder: "another applier (see git ls-remote " + g.Name + " " + ref + ")"}
		return &lock.HeldError{Info: held}
	}
	g.locks[server] = blob
	return nil
}

// Unlock implements Remote.
func (g *GitRemote) Unlock(server string) error {
	blob, ok := g.locks[server]
	if !ok {
		return nil
	}
	ref := "refs/vmc/locks/" + server
	_, err := g.git("push", "--quiet", "--porcelain", g.Name, "--force-with-lease="+ref+":"+blob, ":"+ref)
	delete(g.locks, server)
	return err
}

// remoteLocks takes refs/vmc/locks/<server> on the remote for every server
// of p, waiting up to LockWait for each; it returns the release function.
func (a *Applier) remoteLocks(p *plans.Plan) (func(), error) {
	var taken []string
	release := func() {
		for _, s := range taken {
			if err := a.o.Remote.Unlock(s); err != nil {
				a.o.Log("release remote lock %s: %v", s, err)
			}
		}
	}
	for _, s := range p.Servers() {
		deadline := time.Now().Add(a.o.LockWait)
		for {
			err := a.o.Remote.Lock(s, a.o.KID, p.ID)
			if err == nil {
				taken = append(taken, s)
				break
			}
			var he *lock.HeldError
			if !errors.As(err, &he) || !time.Now().Before(deadline) {
				release()
				return nil, err
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return release, nil
}

// sync levels the local ledger with the remote. Local receipts that are not
// on the remote may be dropped only if each is an apply receipt whose intent
// is still journaled (it will be written again on the new head).
func (a *Applier) sync() error {
	return a.o.Remote.Sync(func(n int) bool {
		r, err := a.o.Ledger.NewReader()
		if err != nil {
			return false
		}
		for i := 0; i < n; i++ {
			if uint64(i) > r.Tip.Head.Seq {
				return false
			}
			e, err := r.Receipt(r.Tip.Head.Seq - uint64(i))
			if err != nil || e.Receipt.Apply == nil {
				return false
			}
			if _, err := os.Stat(a.intentPath(e.Receipt.Apply.Plan.ID)); err != nil {
				return false
			}
		}
		return true
	})
}

// syncAndPublish syncs and pushes local receipts the remote lacks, retrying
// when another writer pushes meanwhile.
func (a *Applier) syncAndPublish() error {
	for i := 0; i < 20; i++ {
		if err := a.sync(); err != nil {
			return err
		}
		err := a.o.Remote.Publish()
		if !errors.Is(err, ErrRaced) {
			return err
		}
	}
	return errors.New("the remote ledger keeps moving: try again")
}
