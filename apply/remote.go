package apply

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/go-git/go-git/v5/plumbing"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vmc-git/vmc-git/apply/remoteref"
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
	// PutIntent publishes a plan's intent journal as refs/vmc/intents/<plan>
	// before the provider is called, so that a run that dies with its machine
	// (a CI runner) is recovered by the next one: ErrIntentExists if another
	// run's intent for the plan is there.
	// An existing ref that foreign(its blob) says no trusted applier wrote
	// is replaced (it cannot be a live run's).
	PutIntent(plan string, data []byte, foreign func([]byte) bool) error
	// DropIntent deletes the plan's intent ref once its receipt is published.
	DropIntent(plan string) error
	// HasIntent reports whether the remote still has an intent ref for plan.
	HasIntent(plan string) (bool, error)
	// Intents returns the intents on the remote, by plan id.
	// A ref that is not a blob of at most remoteref.MaxIntentSize bytes
	// maps to nil (reported by the caller, never read).
	Intents() (map[string][]byte, error)
	// Refresh rewrites this process's lock on server with a fresh time, if it
	// is still ours (the heartbeat that keeps a live run's lock from looking
	// stale); ErrLockLost otherwise.
	Refresh(server string) error
	// StillHeld checks, on the remote, that this process's locks on servers
	// are still its own (fencing before each provider call).
	StillHeld(servers []string) error
	// MainPlan returns plans/<id>.json as committed on the remote's main
	// branch (as of the last Sync).
	MainPlan(id string) ([]byte, error)
	// TakeOverLock replaces refs/vmc/locks/<server> when its holder is dead:
	// the lock is older than maxAge (live holders refresh theirs) or was
	// written on this host by a process that is gone, and may(the lock's
	// plan) agrees. It returns a *lock.HeldError describing the lock otherwise.
	TakeOverLock(server, holder, plan string, maxAge time.Duration, may func(lockPlan string) bool) error
}

// ErrLockLost means a remote lock this run held was taken over.
var ErrLockLost = errors.New("a remote lock this run held was taken over (it looked stale): stopping before the next provider call")

// ErrIntentExists means another run published an intent for the plan.
var ErrIntentExists = errors.New("another run's intent for this plan is on the remote (it is applying it, or died doing so and will be recovered)")

// IntentRefPrefix holds published intents on the remote.
const IntentRefPrefix = remoteref.IntentPrefix

// LockRefPrefix holds the remote locks.
const LockRefPrefix = remoteref.LockPrefix

// ErrRaced means the remote ledger moved: Sync and retry.
var ErrRaced = errors.New("the remote ledger moved (another writer pushed first)")

// GitRemote implements Remote with the real git binary.
type GitRemote struct {
	Dir          string // the repository
	Name         string // remote name, e.g. origin
	LedgerBranch string
	MainBranch   string
	seen         string               // remote ledger tip at the last Sync ("" if none)
	mu           sync.Mutex           // guards locks: the heartbeat refreshes them
	refreshMu    sync.Mutex           // a refresh and a fence check never interleave
	locks        map[string]string    // server -> lock blob we pushed
	lockFor      map[string][2]string // server -> holder, plan of our lock (for refreshes)
	intents      map[string]string    // plan -> intent blob on the remote, as last seen or pushed

	// Signer and KID sign the locks this remote pushes (package remoteref),
	// LedgerID names the ledger in them; apply.New sets them from Options.
	Signer   remoteref.Signer
	KID      string
	LedgerID string
	// LockValid says whether a lock blob is a trusted applier's (nil: none
	// is). A lock that is not is no live run's: it is taken over at once.
	LockValid func(*remoteref.Lock) bool
}

// NewGitRemote returns a remote for repository dir.
func NewGitRemote(dir, name, ledgerBranch, mainBranch string) *GitRemote {
	return &GitRemote{Dir: dir, Name: name, LedgerBranch: ledgerBranch, MainBranch: mainBranch,
		locks: map[string]string{}, lockFor: map[string][2]string{}, intents: map[string]string{}}
}

// bind gives the remote the applier's key (to sign locks) and its check of
// others' locks, unless they were set.
func (g *GitRemote) bind(a *Applier) {
	if g.Signer == nil && a.o.Signer != nil {
		g.Signer, g.KID = a.o.Signer, a.o.KID
	}
	if g.LockValid == nil {
		g.LockValid = a.lockValid
	}
	if tip, err := a.o.Ledger.Tip(); err == nil && g.LedgerID == "" {
		g.LedgerID = tip.Head.Ledger
	}
}

func (g *GitRemote) setLedger(id string) { g.LedgerID = id }

// hashBlob writes data as a blob and returns its id.
func (g *GitRemote) hashBlob(data []byte) (string, error) {
	cmd := exec.Command("git", "hash-object", "-w", "--stdin")
	cmd.Dir, cmd.Stdin = g.Dir, bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git hash-object: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// pushRef sets ref on the remote to blob ("" deletes) if it is still old
// ("" for absent); held reports a lease or creation conflict.
func (g *GitRemote) pushRef(ref, old, blob string) (held bool, err error) {
	out, err := g.git("push", "--porcelain", g.Name, "--force-with-lease="+ref+":"+old, blob+":"+ref)
	if err == nil {
		return false, nil
	}
	if !strings.Contains(out, "hook declined") && strings.Contains(out, "rejected") {
		return true, nil
	}
	return false, fmt.Errorf("push %s to %s: %w", ref, g.Name, err)
}

// PutIntent implements Remote.
func (g *GitRemote) PutIntent(plan string, data []byte, foreign func([]byte) bool) error {
	blob, err := g.hashBlob(data)
	if err != nil {
		return err
	}
	ref := IntentRefPrefix + plan
	held, err := g.pushRef(ref, "", blob) // create only: an intent is never overwritten
	if err != nil {
		return err
	}
	if held {
		// Squatted by a ref no applier wrote (a server without the hook)?
		// Replace exactly that one.
		cur, b, ok := g.fetchBlob(ref, remoteref.MaxIntentSize)
		if cur == "" || !ok || !foreign(b) {
			return fmt.Errorf("%w: %s on %s (delete it by hand only if it is not a dead run's)", ErrIntentExists, ref, g.Name)
		}
		if held, err = g.pushRef(ref, cur, blob); err != nil {
			return err
		}
		if held {
			return fmt.Errorf("%w: %s on %s", ErrIntentExists, ref, g.Name)
		}
	}
	g.intents[plan] = blob
	return nil
}

// DropIntent implements Remote.
func (g *GitRemote) DropIntent(plan string) error {
	old, ok := g.intents[plan]
	if !ok {
		return nil
	}
	if _, err := g.pushRef(IntentRefPrefix+plan, old, ""); err != nil {
		return err
	}
	delete(g.intents, plan)
	return nil
}

// HasIntent implements Remote.
func (g *GitRemote) HasIntent(plan string) (bool, error) {
	out, err := g.git("ls-remote", g.Name, IntentRefPrefix+plan)
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(out) != "", nil
}

// Intents implements Remote.
func (g *GitRemote) Intents() (map[string][]byte, error) {
	local := "refs/vmc/remote-intents/" + g.Name + "/"
	if _, err := g.git("fetch", "--quiet", "--prune", "--no-tags", g.Name, "+"+IntentRefPrefix+"*:"+local+"*"); err != nil {
		return nil, err
	}
	out, err := g.git("for-each-ref", "--format=%(objectname) %(objecttype) %(objectsize) %(refname)", local)
	if err != nil {
		return nil, err
	}
	res := map[string][]byte{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 4 {
			continue
		}
		id, typ, ref := f[0], f[1], f[3]
		plan := strings.TrimPrefix(ref, local)
		g.intents[plan] = id
		// Anything under refs/vmc/intents/ may be a pusher's: a tree, a
		// commit, a huge blob. Never read those; the caller reports them.
		if n, err := strconv.ParseInt(f[2], 10, 64); typ != "blob" || err != nil || n > remoteref.MaxIntentSize {
			res[plan] = nil
			continue
		}
		b, err := g.git("cat-file", "blob", id)
		if err != nil {
			res[plan] = nil
			continue
		}
		res[plan] = []byte(b)
	}
	return res, nil
}

// fetchBlob fetches ref into a local ref and returns its id and content,
// if it is a blob of at most limit bytes (ok false otherwise, or cur "" if
// the ref is gone).
func (g *GitRemote) fetchBlob(ref string, limit int64) (cur string, b []byte, ok bool) {
	local := "refs/vmc/remote-" + strings.TrimPrefix(ref, "refs/vmc/")
	if _, err := g.git("fetch", "--quiet", "--no-tags", g.Name, "+"+ref+":"+local); err != nil {
		return "", nil, false
	}
	out, err := g.git("for-each-ref", "--format=%(objectname) %(objecttype) %(objectsize)", local)
	f := strings.Fields(out)
	if err != nil || len(f) != 3 {
		return "", nil, false
	}
	if n, err := strconv.ParseInt(f[2], 10, 64); f[1] != "blob" || err != nil || n > limit {
		return f[0], nil, false
	}
	s, err := g.git("cat-file", "blob", f[0])
	if err != nil {
		return f[0], nil, false
	}
	return f[0], []byte(s), true
}

// Refresh implements Remote.
func (g *GitRemote) Refresh(server string) error {
	g.refreshMu.Lock()
	defer g.refreshMu.Unlock()
	g.mu.Lock()
	old, ok := g.locks[server]
	who := g.lockFor[server]
	g.mu.Unlock()
	if !ok {
		return ErrLockLost
	}
	lb, err := g.lockBlob(server, who[0], who[1])
	if err != nil {
		return err
	}
	blob, err := g.hashBlob(lb)
	if err != nil {
		return err
	}
	held, err := g.pushRef(LockRefPrefix+server, old, blob)
	if err != nil {
		return err
	}
	if held {
		return ErrLockLost
	}
	g.mu.Lock()
	g.locks[server] = blob
	g.mu.Unlock()
	return nil
}

// StillHeld implements Remote.
func (g *GitRemote) StillHeld(servers []string) error {
	g.refreshMu.Lock()
	defer g.refreshMu.Unlock()
	for _, s := range servers {
		out, err := g.git("ls-remote", g.Name, LockRefPrefix+s)
		if err != nil {
			return err
		}
		g.mu.Lock()
		mine := g.locks[s]
		g.mu.Unlock()
		if cur, _, _ := strings.Cut(strings.TrimSpace(out), "\t"); cur != mine {
			return fmt.Errorf("%w (server %s)", ErrLockLost, s)
		}
	}
	return nil
}

// MainPlan implements Remote.
func (g *GitRemote) MainPlan(id string) ([]byte, error) {
	out, err := g.git("show", g.MainRef()+":"+plans.Path(id))
	if err != nil {
		return nil, fmt.Errorf("plan %s is not on %s", id, g.MainRef())
	}
	return []byte(out), nil
}

// TakeOverLock implements Remote.
func (g *GitRemote) TakeOverLock(server, holder, plan string, maxAge time.Duration, may func(string) bool) error {
	ref := LockRefPrefix + server
	cur, b, ok := g.fetchBlob(ref, remoteref.MaxLockSize)
	if cur == "" {
		return g.Lock(server, holder, plan) // no lock there any more
	}
	var l *remoteref.Lock
	if ok {
		l, _ = remoteref.ParseLock(b)
	}
	info := lock.Info{Server: server, Holder: "unknown (a lock no trusted applier wrote: " + cur + ")"}
	dead, forged := false, l == nil || g.LockValid == nil || !g.LockValid(l)
	if !forged {
		info = lock.Info{Server: l.Server, Holder: l.Holder, PID: l.PID, Host: l.Host, Plan: l.Plan, Time: l.Time}
		host, _ := os.Hostname()
		dead = l.Stale(time.Now(), maxAge) ||
			(info.Host == host && info.PID > 0 && errors.Is(syscall.Kill(info.PID, 0), syscall.ESRCH))
	}
	// A lock no trusted applier signed is no live run's: it never blocks.
	if !forged && (!dead || !may(info.Plan)) {
		return &lock.HeldError{Info: info}
	}
	// Replace the dead run's lock with ours if it is still that one (one
	// push: the hook lets a trusted applier's newer lock replace a lock,
	// and never lets a live run's lock just vanish).
	lb, err := g.lockBlob(server, holder, plan)
	if err != nil {
		return err
	}
	blob, err := g.hashBlob(lb)
	if err != nil {
		return err
	}
	held, err := g.pushRef(ref, cur, blob)
	if err != nil {
		return err
	}
	if held {
		return &lock.HeldError{Info: info}
	}
	g.mu.Lock()
	g.locks[server] = blob
	g.lockFor[server] = [2]string{holder, plan}
	g.mu.Unlock()
	return nil
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
	lb, err := g.lockBlob(server, holder, plan)
	if err != nil {
		return fmt.Errorf("lock %s: %w", server, err)
	}
	blob, err := g.hashBlob(lb)
	if err != nil {
		return fmt.Errorf("lock %s: %w", server, err)
	}
	ref := LockRefPrefix + server
	held, err := g.pushRef(ref, "", blob)
	if err != nil {
		return fmt.Errorf("lock %s on %s: %w", server, g.Name, err)
	}
	if held {
		return &lock.HeldError{Info: lock.Info{Server: server, Holder: "another applier (see git ls-remote " + g.Name + " " + ref + ")"}}
	}
	g.mu.Lock()
	g.locks[server] = blob
	g.lockFor[server] = [2]string{holder, plan}
	g.mu.Unlock()
	return nil
}

// lockBlob is a remote lock's content (remoteref.Lock): who, where, which
// plan, when, and a nonce so that no two locks are the same object, signed.
func (g *GitRemote) lockBlob(server, holder, plan string) ([]byte, error) {
	if g.Signer == nil {
		return nil, errors.New("no key to sign remote locks with")
	}
	host, _ := os.Hostname()
	nonce := make([]byte, 8)
	rand.Read(nonce)
	return remoteref.Lock{Ledger: g.LedgerID, Server: server, Plan: plan, Holder: holder, Host: host, PID: os.Getpid(),
		Time: time.Now(), Nonce: hex.EncodeToString(nonce), KID: g.KID}.Encode(g.Signer)
}

// Unlock implements Remote.
func (g *GitRemote) Unlock(server string) error {
	g.mu.Lock()
	blob, ok := g.locks[server]
	g.mu.Unlock()
	if !ok {
		return nil
	}
	ref := LockRefPrefix + server
	_, err := g.git("push", "--quiet", "--porcelain", g.Name, "--force-with-lease="+ref+":"+blob, ":"+ref)
	g.mu.Lock()
	delete(g.locks, server)
	g.mu.Unlock()
	return err
}

// remoteLocks takes refs/vmc/locks/<server> on the remote for every server
// of p, waiting up to LockWait for each; it returns the release function.
func (a *Applier) remoteLocks(p *plans.Plan) (func(), error) {
	if tip, err := a.o.Ledger.Tip(); err == nil {
		if b, ok := a.o.Remote.(interface{ setLedger(string) }); ok {
			b.setLedger(tip.Head.Ledger)
		}
	}
	var taken []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	release := func() {
		close(stop)
		wg.Wait()
		for _, s := range taken {
			if err := a.o.Remote.Unlock(s); err != nil {
				a.o.Log("release remote lock %s: %v", s, err)
			}
		}
		a.lockLost.Store(nil)
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
			if errors.As(err, &he) {
				// A dead run's lock: one for this same plan (its run died
				// before or while applying it), or for a plan whose receipt
				// is in the ledger (it died after publishing).
				may := func(lockPlan string) bool {
					if lockPlan == p.ID {
						return true
					}
					_, applied, err := appliedSeq(a.o.Ledger, lockPlan)
					return err == nil && applied && lockPlan != ""
				}
				if err = a.o.Remote.TakeOverLock(s, a.o.KID, p.ID, a.o.RemoteLockAge, may); err == nil {
					a.o.Log("plan %s: took over the remote lock on %s left by a run that died", p.ID, s)
					taken = append(taken, s)
					break
				}
			}
			if !errors.As(err, &he) || !time.Now().Before(deadline) {
				release()
				return nil, err
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	// Heartbeat: refresh the locks well within RemoteLockAge, so that a live
	// run never looks stale to another run recovering its plan.
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(max(a.o.RemoteLockAge/3, 100*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				for _, s := range taken {
					switch err := a.o.Remote.Refresh(s); {
					case errors.Is(err, ErrLockLost):
						a.lockLost.Store(&err)
					case err != nil: // a passing push failure: the next tick retries
						a.o.Log("refresh remote lock %s: %v", s, err)
					}
				}
			}
		}
	}()
	return release, nil
}

// fence stops a run that lost one of its remote locks before it calls the
// provider again.
func (a *Applier) fence(p *plans.Plan) error {
	if a.o.Remote == nil {
		return nil
	}
	if e := a.lockLost.Load(); e != nil {
		return *e
	}
	return a.o.Remote.StillHeld(p.Servers())
}

// sync levels the local ledger with the remote. Local receipts that are not
// on the remote may be dropped only if each is an apply receipt whose intent
// is still journaled (it will be written again on the new head).
func (a *Applier) sync() error {
	if err := a.o.Remote.Sync(a.discardable); err != nil {
		return err
	}
	// Receipts Sync dropped (ours, unpushed, to be re-written) may have been
	// verified and remembered: remember where the branch meets them instead.
	return a.o.Ledger.RewindVerified()
}

// discardable reports whether the n newest local receipts may be dropped:
// each is an apply receipt whose intent is still journaled.
func (a *Applier) discardable(n int) bool {
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

// adoptRemoteIntents makes every intent on the remote whose plan has no
// receipt a local intent, so that Recover finishes it here; intents whose
// receipt is already in the ledger are dropped. An adopted intent's steps
// are all uncertain: the remote copy was written before the provider call.
//
// A ref on the remote is not trusted: an intent is adopted only if its plan
// bytes are exactly plans/<id>.json on the main branch and its approvals
// are valid now. Anything else is reported, not adopted (and blocks nothing).
func (a *Applier) adoptRemoteIntents() ([]error, error) {
	intents, err := a.o.Remote.Intents()
	if err != nil {
		return nil, err
	}
	tip, err := a.o.Ledger.Tip()
	if err != nil {
		return nil, err
	}
	var refused []error
	for _, id := range slices.Sorted(maps.Keys(intents)) {
		if plans.ValidID(id) != nil {
			continue
		}
		if _, applied, err := appliedSeq(a.o.Ledger, id); err != nil {
			return refused, err
		} else if applied {
			if err := a.o.Remote.DropIntent(id); err != nil {
				a.o.Log("plan %s: drop its finished intent on the remote: %v", id, err)
			}
			continue
		}
		if _, err := os.Stat(a.intentPath(id)); err == nil {
			continue // this machine's own journal knows more
		}
		// Only an intent an applier trusted at the ledger head signed, over
		// this plan and a head of this ledger, is adopted; anything else is
		// reported and blocks nothing.
		if intents[id] == nil {
			refused = append(refused, fmt.Errorf("plan %s: %s%s is not a blob of at most %d bytes; ignored", id, IntentRefPrefix, id, remoteref.MaxIntentSize))
			continue
		}
		ri, err := remoteref.ParseIntent(intents[id])
		if err != nil {
			refused = append(refused, fmt.Errorf("plan %s: the intent on the remote is not an applier's (%v); ignored", id, err))
			continue
		}
		var it intent
		if err := json.Unmarshal(ri.Journal, &it); err != nil || it.Plan != id {
			refused = append(refused, fmt.Errorf("plan %s: its intent on the remote is damaged; not recovered", id))
			continue
		}
		if err := ri.Verify(tip.Trust, tip.Head.Ledger, id, it.PlanBytes, time.Now()); err != nil {
			refused = append(refused, fmt.Errorf("plan %s: the intent on the remote is not an applier's: %v; ignored", id, err))
			continue
		}
		if err := a.checkIntentHead(ri.Head); err != nil {
			refused = append(refused, fmt.Errorf("plan %s: the intent on the remote: %v; ignored", id, err))
			continue
		}
		onMain, err := a.o.Remote.MainPlan(id)
		if err != nil || !bytes.Equal(onMain, it.PlanBytes) {
			refused = append(refused, fmt.Errorf("plan %s: the intent on the remote does not carry the plan merged on main; not recovered", id))
			continue
		}
		st := plans.CheckApprovalSet(tip.Trust, it.PlanBytes, it.Sigs, time.Now())
		if !st.Approved() {
			refused = append(refused, fmt.Errorf("plan %s: the intent on the remote lacks valid approvals (%d of %d); not recovered", id, len(st.Valid), st.Required))
			continue
		}
		p, err := plans.Parse(onMain)
		if err != nil {
			refused = append(refused, fmt.Errorf("plan %s: %v; not recovered", id, err))
			continue
		}
		// Only the plan and its approvals come from the ref; everything else
		// is rebuilt from them. A published intent predates every provider
		// call, so each step is uncertain: reconcile it, call it if needed.
		clean := &intent{V: 1, Plan: id, PlanBytes: onMain, Approvals: st.Valid, Sigs: pick(it.Sigs, st.Valid),
			Commit: a.mainCommitOf(id), Started: time.Now().UTC()}
		for _, step := range p.Actions {
			clean.Steps = append(clean.Steps, intentStep{Action: step.Action, State: stateCalling})
		}
		a.o.Log("plan %s: a run that died left its intent on the remote: recovering it", id)
		if err := a.saveIntent(clean); err != nil {
			return refused, err
		}
	}
	return refused, nil
}

// checkIntentHead checks that an intent's ledger head is a receipt of this
// ledger.
func (a *Applier) checkIntentHead(h remoteref.Head) error {
	view, err := newLedgerView(a.o.Ledger)
	if err != nil {
		return err
	}
	if h.Seq > view.TipSeq() {
		return fmt.Errorf("written against receipt %d, beyond the ledger's end %d", h.Seq, view.TipSeq())
	}
	_, sum, err := view.ReceiptAt(h.Seq)
	if err != nil {
		return err
	}
	if sum != h.Blake3 {
		return fmt.Errorf("written against receipt %d with blake3 %s, but that receipt is %s here", h.Seq, h.Blake3, sum)
	}
	return nil
}

// mainCommitOf returns the commit that added plans/<id>.json on the
// remote's main branch ("" if unknown).
func (a *Applier) mainCommitOf(id string) string {
	added, err := addedCommits(a.o.Ledger.GitDir, plumbing.ReferenceName(a.o.Remote.MainRef()))
	if err != nil {
		return ""
	}
	return added[plans.Path(id)].commit
}
