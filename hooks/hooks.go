// Package hooks is the git-server side of vmc-git: the rules a push must
// satisfy, checked by the pre-receive hook (and, before pushing, by the
// client's pre-push hook).
//
// Input is what git gives a pre-receive hook: one "<old> <new> <ref>" line
// per updated ref (zero ids for creation and deletion), at most MaxLines
// lines of at most MaxLineLen bytes. Objects are read from git's quarantine
// directory first ($GIT_OBJECT_DIRECTORY), then from the repository, each
// bounded by its size limit before it is inflated (gitledger's limits). The
// whole push is refused if any ref breaks a rule:
//
//   - the ledger branch (refs/heads/vmc/ledger unless .vmc/config.json says
//     otherwise): never deleted, fast-forward only, and every new commit passes
//     every rule of `vmc-git verify chain --sig`, checked on top of the old
//     tip, so k new receipts cost O(k) whatever the ledger's length; its newest
//     receipt is dated at most gitledger.MaxClockSkew ahead of the server;
//   - refs/tags/vmc/merkle/<N>: N as merkle.ParseTagName allows; created once,
//     never moved or deleted; the tag is signed and its root matches the
//     ledger (gitledger.VerifySnapshotTag: from the stored hashes of the
//     previous tag, O(k + log n); in pre-receive, from the hook's verified
//     tree of the ledger, O(log n): see below);
//   - the main branch: never deleted, fast-forward only; plans/ follows
//     plans.CheckTreeChange (every entry's mode, type, name and size; plans
//     add-only and immutable, approvals add-only); .vmc/config.json's ledger
//     id, branches and genesis pin never change, and its provider is the one
//     the ledger pins (keys.Policy.Provider; where genesis pins none, it never
//     changes);
//   - refs/vmc/locks/<server> and refs/vmc/intents/<plan>: blobs in the
//     format of package apply/remoteref, signed by an applier trusted at the
//     ledger head (as the push leaves it), not dated in the future. A lock is
//     created or replaced by a newer one (the holder's heartbeat, or a
//     take-over of a dead run's lock), and deleted only once its plan has a
//     receipt, its plan has no live intent, or it is stale. An intent is
//     created once, never overwritten, and deleted only once its plan has a
//     receipt. A lock or intent no trusted applier wrote may be deleted or
//     replaced. Nothing else lives under refs/vmc/;
//   - any other ref: it may not shadow a vmc-git name for stock git (a ref
//     whose short name is the main or the ledger branch, or lies under vmc/,
//     such as refs/tags/vmc/ledger or refs/heads/vmc/merkle/5); deleting one
//     is allowed.
//
// Each refusal is one line: "vmc-git: refused <ref>: <reason>".
//
// In pre-receive (CheckRefs without tracking), the hook keeps, in the
// server's git directory, the Merkle tree of the ledger it verified
// (gitledger.VerifiedTree, vmc/tlog/hook-tree.json): a ledger update
// extends the tree of its old tip with the receipts it checked, a snapshot
// tag on the ledger is checked from it, and the tree of the ledger as the
// push leaves it is saved only when the whole push passed every rule. A
// push whose old tip has no tree (one that went around the hook) leaves
// none; the next snapshot tag of the tip, checked without it, makes it.
package hooks

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vmc-git/vmc-git/apply/remoteref"
	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/internal/config"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/internal/lock"
	"github.com/vmc-git/vmc-git/merkle"
	"github.com/vmc-git/vmc-git/plans"
)

// LockRefPrefix names the cross-machine server locks.
const LockRefPrefix = remoteref.LockPrefix

// IntentRefPrefix names the intents appliers publish before calling the
// provider (see package apply).
const IntentRefPrefix = remoteref.IntentPrefix

// Input limits: git sends one line per ref.
const (
	MaxLines   = 10000
	MaxLineLen = 4096
)

// MaxMainWalk bounds the commits walked to check that a main-branch push
// is a fast-forward.
const MaxMainWalk = 100000

// Update is one ref update of a push.
type Update struct {
	Old, New plumbing.Hash
	Ref      string
}

// ParseUpdates reads pre-receive input: "<old> <new> <ref>" lines.
func ParseUpdates(r io.Reader) ([]Update, error) {
	return parseLines(r, "hook input", `"<old> <new> <ref>"`, 3, func(f []string) (Update, error) {
		return update(f[0], f[1], f[2])
	})
}

// ParsePrePush reads pre-push input: "<local ref> <local id> <remote ref>
// <remote id>" lines, as the remote will see them.
func ParsePrePush(r io.Reader) ([]Update, error) {
	return parseLines(r, "pre-push input", `"<local ref> <local id> <remote ref> <remote id>"`, 4, func(f []string) (Update, error) {
		return update(f[3], f[1], f[2])
	})
}

func update(old, new, ref string) (Update, error) {
	u := Update{Ref: ref}
	var err error
	if u.Old, err = parseID(old); err != nil {
		return u, err
	}
	u.New, err = parseID(new)
	return u, err
}

// parseLines splits hook input into lines of n fields and converts each.
func parseLines(r io.Reader, what, form string, n int, conv func([]string) (Update, error)) ([]Update, error) {
	var out []Update
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 512), MaxLineLen)
	for sc.Scan() {
		if len(out) >= MaxLines {
			return nil, fmt.Errorf("%s: more than %d lines", what, MaxLines)
		}
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != n {
			return nil, fmt.Errorf("%s: want %s, got %q", what, form, sc.Text())
		}
		u, err := conv(f)
		if err != nil {
			return nil, err
		}
		if err := checkRefName(u.Ref); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, u)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// checkRefName refuses input git would never send: a ref not under refs/,
// or with bytes git does not allow in ref names.
func checkRefName(ref string) error {
	if !strings.HasPrefix(ref, "refs/") || len(ref) > 1024 || strings.Contains(ref, "..") || strings.HasSuffix(ref, "/") {
		return fmt.Errorf("bad ref name %q", clip(ref))
	}
	for _, c := range []byte(ref) {
		if c < 0x20 || c == 0x7f || strings.IndexByte(" ~^:?*[\\", c) >= 0 {
			return fmt.Errorf("bad ref name %q", clip(ref))
		}
	}
	return nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

func parseID(s string) (plumbing.Hash, error) {
	if len(s) != 40 || strings.Trim(s, "0123456789abcdef") != "" {
		return plumbing.ZeroHash, fmt.Errorf("hook input: bad object id %q", s)
	}
	return plumbing.NewHash(s), nil
}

// Refusal is one refused ref.
type Refusal struct {
	Ref string
	Err error
}

func (r Refusal) String() string { return fmt.Sprintf("vmc-git: refused %s: %v", r.Ref, r.Err) }

// Check applies the rules to a push. l reads the repository (with the
// quarantine); current returns a ref's value before the push (zero if absent).
//
// The branch names come from Branches, which `vmc-git hook install` writes
// into the hook from the repository's .vmc/config.json (or its flags), never
// from a guess: a repository whose main branch is not "main" must not go
// unchecked. A config on that main branch naming other branches is refused.
func Check(l *gitledger.Ledger, updates []Update, current func(ref string) plumbing.Hash, b Branches) []Refusal {
	return check(l, updates, current, b, false)
}

// check is Check; with store, l is the server's own repository (pre-receive)
// and the hook keeps its verified tree there (gitledger.VerifiedTree):
// snapshot tags on the ledger it verified are checked from it, and a push
// that passes every rule saves the tree of the ledger as it leaves it.
func check(l *gitledger.Ledger, updates []Update, current func(ref string) plumbing.Hash, b Branches, store bool) []Refusal {
	if b.Main == "" {
		b.Main = "main"
	}
	if b.Ledger == "" {
		b.Ledger = gitledger.DefaultBranch
	}
	if b.Now == nil {
		b.Now = time.Now
	}
	c := &checker{l: l, updates: updates, current: current, branches: b, now: b.Now(), store: store}
	out := c.run()
	if len(out) == 0 && c.tree != nil && c.tree.Changed() {
		// A cache: failing to write it costs the next tag time, not
		// correctness.
		_ = c.l.SaveVerifiedTree(c.tree)
	}
	return out
}

// Branches names the branches the hook guards.
type Branches struct {
	Main   string // the branch with .vmc/config.json and plans/ (default main)
	Ledger string // the ledger branch (default vmc/ledger)
	// Head is the branch HEAD names when the names above were read from
	// it (HeadBranches), else "".
	Head string
	// Now is the server's clock (default time.Now): receipts, locks and
	// intents dated beyond it (plus the skew) are refused.
	Now func() time.Time
}

type checker struct {
	l        *gitledger.Ledger
	updates  []Update
	current  func(string) plumbing.Hash
	branches Branches
	cfgOld   *config.Config
	now      time.Time
	ledger   *gitledger.Reader // the ledger as the push leaves it (lazily)
	ledgerOK bool
	// store: keep the verified tree (check); tree is the one of the
	// ledger chain ending at treeTip (nil: none), once looked up.
	store   bool
	tree    *gitledger.VerifiedTree
	treeTip plumbing.Hash
}

// verifiedTree returns the hook's tree of the ledger chain ending at tip,
// or nil.
func (c *checker) verifiedTree(tip plumbing.Hash) *gitledger.VerifiedTree {
	if c.treeTip != tip {
		c.tree, c.treeTip = c.l.LoadVerifiedTree(tip), tip
	}
	return c.tree
}

func (c *checker) after(ref string) plumbing.Hash {
	for _, u := range c.updates {
		if u.Ref == ref {
			return u.New
		}
	}
	return c.current(ref)
}

// configAt reads .vmc/config.json from a main-branch commit (nil if absent).
func (c *checker) configAt(commit plumbing.Hash) (*config.Config, error) {
	if commit.IsZero() {
		return nil, nil
	}
	tree, err := c.l.CommitTree(commit)
	if err != nil {
		return nil, err
	}
	b, err := c.file(tree, config.Path, maxConfigSize)
	if errors.Is(err, errNoFile) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return config.Parse(b)
}

var errNoFile = errors.New("no such file")

// maxConfigSize bounds .vmc/config.json.
const maxConfigSize = 16 << 10

func (c *checker) file(tree plumbing.Hash, path string, limit int64) ([]byte, error) {
	parts := strings.Split(path, "/")
	for i, p := range parts {
		es, err := c.l.ReadTree(tree)
		if err != nil {
			return nil, err
		}
		found := false
		for _, e := range es {
			if e.Name == p {
				if i == len(parts)-1 {
					if e.Mode != plans.ModeFile {
						return nil, fmt.Errorf("%s: mode %s: not a regular file", path, e.Mode)
					}
					return c.l.ReadBlobLimit(e.ID, limit)
				}
				if !e.IsDir() {
					return nil, errNoFile
				}
				tree, found = e.ID, true
				break
			}
		}
		if !found {
			return nil, errNoFile
		}
	}
	return nil, errNoFile
}

func (c *checker) run() []Refusal {
	mainRef, ledgerRef := "refs/heads/"+c.branches.Main, "refs/heads/"+c.branches.Ledger
	// The configuration in force: the current main's, else the pushed one.
	var err error
	if c.cfgOld, err = c.configAt(c.current(mainRef)); err != nil {
		return []Refusal{{mainRef, err}}
	}
	cfg := c.cfgOld
	if cfg == nil {
		for _, u := range c.updates {
			if u.Ref == mainRef && !u.New.IsZero() {
				if cfg, err = c.configAt(u.New); err != nil {
					return []Refusal{{mainRef, err}}
				}
			}
		}
	}
	if cfg != nil && (cfg.MainBranch != c.branches.Main || cfg.Branch != c.branches.Ledger) {
		return []Refusal{{mainRef, fmt.Errorf("%s names main branch %s and ledger branch %s, but the hook guards %s and %s: reinstall it with vmc-git hook install",
			config.Path, cfg.MainBranch, cfg.Branch, c.branches.Main, c.branches.Ledger)}}
	}
	var out []Refusal
	refuse := func(ref string, err error) { out = append(out, Refusal{ref, err}) }
	seen := map[string]bool{}
	for _, u := range c.updates {
		if seen[u.Ref] {
			return []Refusal{{u.Ref, errors.New("updated twice in one push")}}
		}
		seen[u.Ref] = true
	}
	c.ledgerOK = true
	// The ledger first: tags, locks and intents are checked against its new state.
	for _, u := range c.updates {
		if u.Ref != ledgerRef {
			continue
		}
		if err := c.checkLedger(u, cfg); err != nil {
			refuse(u.Ref, err)
			c.ledgerOK = false
		}
	}
	for _, u := range c.updates {
		var err error
		switch {
		case u.Ref == ledgerRef:
			continue
		case u.Ref == mainRef:
			err = c.checkMain(u, cfg)
		case strings.HasPrefix(u.Ref, "refs/tags/"+merkle.TagPrefix):
			err = c.checkTag(u, ledgerRef)
		case strings.HasPrefix(u.Ref, LockRefPrefix):
			err = c.checkLock(u)
		case strings.HasPrefix(u.Ref, IntentRefPrefix):
			err = c.checkIntent(u)
		case strings.HasPrefix(u.Ref, remoteref.Namespace):
			if !u.New.IsZero() {
				err = fmt.Errorf("%s holds only %s<server> and %s<plan>", remoteref.Namespace,
					strings.TrimPrefix(LockRefPrefix, remoteref.Namespace), strings.TrimPrefix(IntentRefPrefix, remoteref.Namespace))
			}
		default:
			if err = c.checkUnguarded(u); err == nil && !u.New.IsZero() {
				err = c.checkShadow(u.Ref)
			}
		}
		if err != nil {
			refuse(u.Ref, err)
		}
	}
	return out
}

// signedOverrides reads plan trees for plans.CheckTreeChange and takes a
// new override file only when it counts (plans.CheckOverrideSet): signed
// by an admin trusted at the ledger tip as the push leaves it.
type signedOverrides struct {
	plans.TreeReader
	c *checker
}

func (s signedOverrides) CheckOverrideSigner(id string, plan []byte, f *plans.OverrideFile, b []byte) error {
	r, err := s.c.ledgerAfter()
	if err != nil {
		return err
	}
	return CheckOverrideSigner(tipOf(r), id, plan, f, b, s.c.now)
}

// CheckApprovalSigner takes a new approval only when it is valid
// (keys.Trust.CheckApproval at the ledger tip as the push leaves it); with
// no ledger yet there is nothing to check it against.
func (s signedOverrides) CheckApprovalSigner(id string, plan []byte, kid string, sig []byte) error {
	r, err := s.c.ledgerAfter()
	if err != nil {
		return err
	}
	return CheckApprovalSigner(tipOf(r), id, plan, kid, sig, s.c.now)
}

func tipOf(r *gitledger.Reader) *gitledger.Tip {
	if r == nil {
		return nil
	}
	return r.Tip
}

// CheckOverrideSigner is the hook's rule for a new override file f (bytes
// b) of plan id (bytes plan) on the main branch: taken only when it counts
// (plans.CheckOverrideSet at tip, the ledger as the push leaves it; nil:
// no ledger branch), i.e. signed by an admin trusted there. plan review
// calls it for every override file a pull request adds, so that a review
// that passes means a push the hook takes.
func CheckOverrideSigner(tip *gitledger.Tip, id string, plan []byte, f *plans.OverrideFile, b []byte, now time.Time) error {
	if tip == nil {
		return errors.New("no ledger branch: an override is taken only when an admin trusted in the ledger signed it")
	}
	st := plans.CheckOverrideSet(tip.Trust, tip.Head.Ledger, id, plan, map[string][]byte{f.KID: b}, now)
	if why, bad := st.Invalid[f.KID]; bad {
		return fmt.Errorf("%s: only an admin's valid override is taken (the directory is add-only)", why)
	}
	return nil
}

// CheckApprovalSigner is the hook's rule for a new approval file (kid,
// sig) of plan id (bytes plan) on the main branch: taken only when valid
// (keys.Trust.CheckApproval at tip; nil: no ledger yet, nothing to check it
// against). plan review calls it for every approval a pull request adds.
func CheckApprovalSigner(tip *gitledger.Tip, id string, plan []byte, kid string, sig []byte, now time.Time) error {
	if tip == nil {
		return nil
	}
	if err := tip.Trust.CheckApproval(kid, plan, sig, now, map[string]string{}); err != nil {
		return fmt.Errorf("%w: only a valid approval is taken (the directory is add-only)", err)
	}
	return nil
}

// checkUnguarded refuses an update of a branch the hook does not guard
// that decides or claims what it should guard: HEAD's branch, when the
// guarded names were read from HEAD (its config would pick them on the next
// push), and a branch whose .vmc/config.json, before or after the push,
// names it as the main or ledger branch (a server whose HEAD is another,
// unborn branch: the hook guards that one, and the real main would go
// unchecked).
func (c *checker) checkUnguarded(u Update) error {
	name, ok := strings.CutPrefix(u.Ref, "refs/heads/")
	if !ok {
		return nil
	}
	if c.branches.Head != "" && name == c.branches.Head {
		return fmt.Errorf("HEAD names branch %s, but the hook guards main branch %s and ledger branch %s: point HEAD at %s (git symbolic-ref HEAD refs/heads/%s) or reinstall the hook with --main-branch and --ledger-branch",
			name, c.branches.Main, c.branches.Ledger, c.branches.Main, c.branches.Main)
	}
	for _, h := range []plumbing.Hash{c.current(u.Ref), u.New} {
		cfg, err := c.configAt(h)
		if err != nil || cfg == nil {
			continue // not a main-branch commit: nothing claimed
		}
		if cfg.MainBranch == name || cfg.Branch == name {
			return fmt.Errorf("%s on %s names it as the main branch %s and ledger branch %s, but the hook guards %s and %s: point HEAD at the main branch or reinstall the hook with --main-branch and --ledger-branch",
				config.Path, name, cfg.MainBranch, cfg.Branch, c.branches.Main, c.branches.Ledger)
		}
	}
	return nil
}

// checkShadow refuses a ref that stock git would resolve in place of a
// vmc-git name: git looks a short name X up as refs/X, refs/tags/X,
// refs/heads/X, refs/remotes/X and refs/remotes/X/HEAD, in that order, so
// refs/tags/vmc/ledger wins over the ledger branch in "git log vmc/ledger".
// Reserved: the main branch, the ledger branch and everything under vmc/.
func (c *checker) checkShadow(ref string) error {
	rest := strings.TrimPrefix(ref, "refs/")
	names := []string{rest}
	for _, p := range []string{"tags/", "heads/", "remotes/"} {
		if x, ok := strings.CutPrefix(rest, p); ok {
			names = append(names, x)
			if p == "remotes/" {
				if y, ok := strings.CutSuffix(x, "/HEAD"); ok {
					names = append(names, y)
				}
			}
		}
	}
	for _, x := range names {
		if x == c.branches.Main || x == c.branches.Ledger || x == "vmc" || strings.HasPrefix(x, "vmc/") ||
			strings.HasPrefix(c.branches.Ledger, x+"/") || strings.HasPrefix(c.branches.Main, x+"/") {
			return fmt.Errorf("the short name %q is reserved (the main branch %s, the ledger branch %s, and vmc/...): stock git would resolve it in their place; use another name",
				x, c.branches.Main, c.branches.Ledger)
		}
	}
	return nil
}

// ledgerAfter returns a reader of the ledger as the push leaves it (nil if
// there is no ledger yet).
func (c *checker) ledgerAfter() (*gitledger.Reader, error) {
	if c.ledger != nil {
		return c.ledger, nil
	}
	tip := c.after("refs/heads/" + c.branches.Ledger)
	if tip.IsZero() {
		return nil, nil
	}
	if !c.ledgerOK {
		return nil, errors.New("the ledger update in this push was refused")
	}
	r, err := c.l.NewReaderAt(tip)
	if err != nil {
		return nil, fmt.Errorf("read the ledger: %w", err)
	}
	c.ledger = r
	return r, nil
}

// applied reports whether plan has a receipt in the ledger as the push
// leaves it.
func (c *checker) applied(plan string) (bool, error) {
	r, err := c.ledgerAfter()
	if err != nil || r == nil {
		return false, err
	}
	_, err = r.File(plans.Path(plan))
	return err == nil, nil
}

func (c *checker) checkLedger(u Update, cfg *config.Config) error {
	l, err := c.l.WithBranch(strings.TrimPrefix(u.Ref, "refs/heads/"))
	if err != nil {
		return err
	}
	if u.New.IsZero() {
		return errors.New("the ledger branch is never deleted")
	}
	var pin *digest.Digest
	if cfg != nil {
		pin = &cfg.GenesisBlake3
	}
	if c.store {
		var vt *gitledger.VerifiedTree
		if !u.Old.IsZero() {
			vt = c.verifiedTree(u.Old)
		}
		var nt *gitledger.VerifiedTree
		if _, nt, err = l.VerifyUpdateTree(u.Old, u.New, pin, vt); err != nil {
			c.tree, c.treeTip = nil, plumbing.ZeroHash
			return err
		}
		c.tree, c.treeTip = nt, u.New
	} else if _, err = l.VerifyUpdate(u.Old, u.New, pin); err != nil {
		return err
	}
	r, err := c.l.NewReaderAt(u.New)
	if err != nil {
		return err
	}
	return gitledger.CheckNotFuture(r.Tip.Head, c.now)
}

func (c *checker) checkTag(u Update, ledgerRef string) error {
	size, err := merkle.ParseTagName(u.Ref)
	if err != nil {
		if u.New.IsZero() {
			return nil // a bad name (from before the hook) may go
		}
		return err
	}
	switch {
	case u.New.IsZero():
		return errors.New("snapshot tags are never deleted")
	case !u.Old.IsZero():
		return errors.New("snapshot tags are never moved or rewritten")
	case !c.ledgerOK:
		return errors.New("the ledger update in this push was refused")
	}
	tip := c.after(ledgerRef)
	if tip.IsZero() {
		return errors.New("no ledger branch to snapshot")
	}
	if !c.store {
		return c.l.VerifySnapshotTag(tip, size, u.New)
	}
	vt, err := c.l.VerifySnapshotTagTree(tip, size, u.New, c.verifiedTree(tip))
	c.tree = vt
	return err
}

func (c *checker) checkMain(u Update, cfg *config.Config) error {
	if u.New.IsZero() {
		return errors.New("the main branch is never deleted")
	}
	if !u.Old.IsZero() {
		if err := c.fastForward(u.Old, u.New); err != nil {
			return err
		}
	}
	newCfg, err := c.configAt(u.New)
	if err != nil {
		return err
	}
	if c.cfgOld != nil {
		switch {
		case newCfg == nil:
			return fmt.Errorf("%s is removed", config.Path)
		case newCfg.GenesisBlake3 != c.cfgOld.GenesisBlake3:
			return fmt.Errorf("%s: genesis_blake3 changes from %s to %s: the genesis pin never changes", config.Path, c.cfgOld.GenesisBlake3, newCfg.GenesisBlake3)
		case newCfg.Ledger != c.cfgOld.Ledger || newCfg.Branch != c.cfgOld.Branch || newCfg.MainBranch != c.cfgOld.MainBranch:
			return fmt.Errorf("%s: ledger, branch and main_branch never change", config.Path)
		}
	}
	if newCfg != nil {
		if err := c.checkProvider(newCfg); err != nil {
			return err
		}
	}
	oldPlans, err := c.plansTree(u.Old, false)
	if err != nil {
		return err
	}
	newPlans, err := c.plansTree(u.New, true)
	if err != nil {
		return err
	}
	ledgerID := ""
	if newCfg != nil {
		ledgerID = newCfg.Ledger
	}
	return plans.CheckTreeChange(signedOverrides{c.l.PlanTrees(), c}, oldPlans, newPlans, ledgerID)
}

// checkProvider requires the configured provider to be the one the ledger
// pins; where the ledger pins none (older genesis), the provider on main
// never changes.
func (c *checker) checkProvider(cfg *config.Config) error {
	r, err := c.ledgerAfter()
	if err != nil {
		return err
	}
	if r != nil && r.Tip.Trust.Provider != "" {
		if cfg.Provider != r.Tip.Trust.Provider {
			return fmt.Errorf("%s: provider %q, but the ledger pins %q (changing it takes an admin-signed trust change: vmc-git keys provider %s)",
				config.Path, cfg.Provider, r.Tip.Trust.Provider, cfg.Provider)
		}
		return nil
	}
	if c.cfgOld != nil && cfg.Provider != c.cfgOld.Provider {
		return fmt.Errorf("%s: provider changes from %q to %q: it never changes while the ledger pins none", config.Path, c.cfgOld.Provider, cfg.Provider)
	}
	return nil
}

// fastForward requires new to descend from old (any parent path, main
// has merges), walking at most MaxMainWalk commits.
func (c *checker) fastForward(old, new plumbing.Hash) error {
	seen := map[plumbing.Hash]bool{new: true}
	queue := []plumbing.Hash{new}
	for len(queue) > 0 {
		x := queue[0]
		queue = queue[1:]
		if x == old {
			return nil
		}
		if len(seen) > MaxMainWalk {
			return fmt.Errorf("cannot tell within %d commits whether %s descends from %s: the main branch only fast-forwards", MaxMainWalk, new, old)
		}
		ps, err := c.l.CommitParents(x)
		if err != nil {
			return fmt.Errorf("malformed commit: %w", err)
		}
		for _, p := range ps {
			if !seen[p] {
				seen[p] = true
				queue = append(queue, p)
			}
		}
	}
	return fmt.Errorf("not a fast-forward: %s does not descend from the current main %s (the main branch is never force-pushed)", new, old)
}

// plansTree returns the id of plans/ in a commit ("" if none). In a pushed
// commit (strict), a plans entry that is not a directory is refused.
func (c *checker) plansTree(commit plumbing.Hash, strict bool) (string, error) {
	if commit.IsZero() {
		return "", nil
	}
	tree, err := c.l.CommitTree(commit)
	if err != nil {
		return "", err
	}
	es, err := c.l.ReadTree(tree)
	if err != nil {
		return "", err
	}
	for _, e := range es {
		if e.Name == plans.Dir {
			if e.Mode != plans.ModeDir {
				if strict {
					return "", fmt.Errorf("%s: mode %s: must be a directory", plans.Dir, e.Mode)
				}
				return "", nil
			}
			return e.ID.String(), nil
		}
	}
	return "", nil
}

// treeReader reads plan trees for plans.CheckTreeChange.
// PlanTrees reads the plans/ trees of l's repository for the plan-tree rule
// (plans.CheckTreeChange, plans.CheckEntry), bounded as the hook reads
// them: gitledger.Ledger.PlanTrees, the one reader for the hook, review,
// apply --pending and the verifier.
func PlanTrees(l *gitledger.Ledger) plans.TreeReader { return l.PlanTrees() }

// trust returns the trust state and ledger id as the push leaves the ledger.
func (c *checker) trust() (*gitledger.Reader, error) {
	r, err := c.ledgerAfter()
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, errors.New("no ledger branch: no applier is trusted yet")
	}
	return r, nil
}

// readLock reads and verifies the lock blob id (nil, err if it is not a
// trusted applier's lock).
func (c *checker) readLock(id plumbing.Hash, server string) (*remoteref.Lock, error) {
	b, err := c.l.ReadBlobLimit(id, remoteref.MaxLockSize)
	if err != nil {
		return nil, err
	}
	l, err := remoteref.ParseLock(b)
	if err != nil {
		return nil, err
	}
	if l.Server != server {
		return nil, fmt.Errorf("lock for server %q under the name %q", l.Server, server)
	}
	r, err := c.trust()
	if err != nil {
		return nil, err
	}
	if err := l.Verify(r.Tip.Trust, r.Tip.Head.Ledger, c.now); err != nil {
		return nil, err
	}
	return l, nil
}

// checkLock: see the package doc.
func (c *checker) checkLock(u Update) error {
	server := strings.TrimPrefix(u.Ref, LockRefPrefix)
	if err := lock.CheckServerName(server); err != nil {
		if u.New.IsZero() {
			return nil
		}
		return fmt.Errorf("lock ref: %v", err)
	}
	var old *remoteref.Lock
	if !u.Old.IsZero() {
		old, _ = c.readLock(u.Old, server) // nil: no trusted applier's lock
	}
	if u.New.IsZero() {
		if old == nil {
			return nil
		}
		if old.Stale(c.now, remoteref.DefaultStale) {
			return nil
		}
		done, err := c.applied(old.Plan)
		if err != nil || done {
			return err
		}
		if !c.after(IntentRefPrefix + old.Plan).IsZero() {
			return fmt.Errorf("the lock of a running apply (plan %s, intent published, no receipt yet) is never deleted; it is released once the plan's receipt is on the ledger, or taken over once it is stale", old.Plan)
		}
		return nil
	}
	l, err := c.readLock(u.New, server)
	if err != nil {
		return fmt.Errorf("lock ref: %v", err)
	}
	if c.now.Sub(l.Time) > remoteref.LockFresh {
		return fmt.Errorf("lock ref: dated %s, more than %s ago (an old lock replayed?)", l.Time.UTC().Format(time.RFC3339), remoteref.LockFresh)
	}
	if old != nil && !l.Time.After(old.Time) {
		return fmt.Errorf("lock ref: dated %s, not after the lock it replaces (%s)", l.Time.UTC().Format(time.RFC3339Nano), old.Time.UTC().Format(time.RFC3339Nano))
	}
	return nil
}

// readIntent reads and verifies the intent blob id for plan.
func (c *checker) readIntent(id plumbing.Hash, plan string) (*remoteref.Intent, error) {
	b, err := c.l.ReadBlobLimit(id, remoteref.MaxIntentSize)
	if err != nil {
		return nil, err
	}
	in, err := remoteref.ParseIntent(b)
	if err != nil {
		return nil, err
	}
	r, err := c.trust()
	if err != nil {
		return nil, err
	}
	if err := in.Verify(r.Tip.Trust, r.Tip.Head.Ledger, plan, nil, c.now); err != nil {
		return nil, err
	}
	if in.Head.Seq > r.Tip.Head.Seq {
		return nil, fmt.Errorf("intent: written against receipt %d, beyond the ledger's end %d", in.Head.Seq, r.Tip.Head.Seq)
	}
	e, err := r.Receipt(in.Head.Seq)
	if err != nil {
		return nil, err
	}
	if sum := digest.Of(e.Bytes).Blake3; sum != in.Head.Blake3 {
		return nil, fmt.Errorf("intent: written against receipt %d with blake3 %s, but that receipt is %s", in.Head.Seq, in.Head.Blake3, sum)
	}
	return in, nil
}

// checkIntent: see the package doc.
func (c *checker) checkIntent(u Update) error {
	plan := strings.TrimPrefix(u.Ref, IntentRefPrefix)
	if err := plans.ValidID(plan); err != nil {
		if u.New.IsZero() {
			return nil
		}
		return fmt.Errorf("intent ref: %v", err)
	}
	var old *remoteref.Intent
	if !u.Old.IsZero() {
		old, _ = c.readIntent(u.Old, plan)
	}
	if u.New.IsZero() {
		if old == nil {
			return nil
		}
		done, err := c.applied(plan)
		if err != nil || done {
			return err
		}
		return fmt.Errorf("the intent of plan %s is live (no receipt yet): it is deleted only once the plan's receipt is on the ledger", plan)
	}
	if old != nil {
		return errors.New("an intent is published or dropped, never overwritten")
	}
	if _, err := c.readIntent(u.New, plan); err != nil {
		return fmt.Errorf("intent ref: %v", err)
	}
	return nil
}

// Summary renders refusals one per line.
func Summary(rs []Refusal) string {
	var b bytes.Buffer
	for _, r := range rs {
		b.WriteString(r.String())
		b.WriteByte('\n')
	}
	return b.String()
}
