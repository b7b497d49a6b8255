// Package hooks is the git-server side of vmc-git: the rules a push must
// satisfy, checked by the pre-receive hook (and, before pushing, by the
// client's pre-push hook).
//
// Input is what git gives a pre-receive hook: one "<old> <new> <ref>" line
// per updated ref (zero ids for creation and deletion). Objects are read from
// git's quarantine directory first ($GIT_OBJECT_DIRECTORY), then from the
// repository. The whole push is refused if any ref breaks a rule:
//
//   - the ledger branch (refs/heads/vmc/ledger unless .vmc/config.json says
//     otherwise): never deleted, fast-forward only, and every new commit passes
//     every rule of `vmc-git verify chain --sig`, checked on top of the old
//     tip, so k new receipts cost O(k) whatever the ledger's length;
//   - refs/tags/vmc/merkle/<N>: created once, never moved or deleted; the tag
//     is signed and its root matches the ledger (gitledger.VerifyTag);
//   - the main branch: never deleted; files under plans/ are add-only and
//     immutable (approvals may be added), new plans must be canonical and
//     parse, with the id equal to the file name; .vmc/config.json's ledger id,
//     branch and genesis pin never change once set;
//   - refs/vmc/locks/<server>: a valid server name (the holder refreshes its
//     lock); refs/vmc/intents/<plan>: created or deleted, never overwritten.
//
// Each refusal is one line: "vmc-git: refused <ref>: <reason>".
package hooks

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/internal/config"
	"github.com/vmc-git/vmc-git/internal/lock"
	"github.com/vmc-git/vmc-git/merkle"
	"github.com/vmc-git/vmc-git/plans"
)

// LockRefPrefix names the cross-machine server locks.
const LockRefPrefix = lock.RefPrefix

// IntentRefPrefix names the intents appliers publish before calling the
// provider (see package apply).
const IntentRefPrefix = "refs/vmc/intents/"

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
	for sc.Scan() {
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
		out = append(out, u)
	}
	return out, sc.Err()
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
	if b.Main == "" {
		b.Main = "main"
	}
	if b.Ledger == "" {
		b.Ledger = gitledger.DefaultBranch
	}
	c := &checker{l: l, updates: updates, current: current, branches: b}
	return c.run()
}

// Branches names the branches the hook guards.
type Branches struct {
	Main   string // the branch with .vmc/config.json and plans/ (default main)
	Ledger string // the ledger branch (default vmc/ledger)
}

type checker struct {
	l        *gitledger.Ledger
	updates  []Update
	current  func(string) plumbing.Hash
	branches Branches
	cfgOld   *config.Config
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
	b, err := c.file(tree, config.Path)
	if errors.Is(err, errNoFile) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return config.Parse(b)
}

var errNoFile = errors.New("no such file")

func (c *checker) file(tree plumbing.Hash, path string) ([]byte, error) {
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
					if e.IsDir() {
						return nil, errNoFile
					}
					return c.l.ReadBlob(e.ID)
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
	ledgerOK := true
	// The ledger first: tags are checked against its new state.
	for _, u := range c.updates {
		if u.Ref != ledgerRef {
			continue
		}
		if err := c.checkLedger(u, cfg); err != nil {
			refuse(u.Ref, err)
			ledgerOK = false
		}
	}
	for _, u := range c.updates {
		switch {
		case u.Ref == ledgerRef:
		case strings.HasPrefix(u.Ref, "refs/tags/"+merkle.TagPrefix):
			if err := c.checkTag(u, ledgerRef, ledgerOK); err != nil {
				refuse(u.Ref, err)
			}
		case u.Ref == mainRef:
			if err := c.checkMain(u, cfg); err != nil {
				refuse(u.Ref, err)
			}
		case strings.HasPrefix(u.Ref, LockRefPrefix):
			if err := checkLock(u); err != nil {
				refuse(u.Ref, err)
			}
		case strings.HasPrefix(u.Ref, IntentRefPrefix):
			if err := checkIntent(u); err != nil {
				refuse(u.Ref, err)
			}
		}
	}
	return out
}

func (c *checker) checkLedger(u Update, cfg *config.Config) error {
	l, err := c.l.WithBranch(strings.TrimPrefix(u.Ref, "refs/heads/"))
	if err != nil {
		return err
	}
	if u.New.IsZero() {
		return errors.New("the ledger branch is never deleted")
	}
	if cfg != nil {
		_, err = l.VerifyUpdate(u.Old, u.New, &cfg.GenesisBlake3)
	} else {
		_, err = l.VerifyUpdate(u.Old, u.New, nil)
	}
	return err
}

func (c *checker) checkTag(u Update, ledgerRef string, ledgerOK bool) error {
	size, err := parseSize(strings.TrimPrefix(u.Ref, "refs/tags/"+merkle.TagPrefix))
	if err != nil {
		return err
	}
	switch {
	case u.New.IsZero():
		return errors.New("snapshot tags are never deleted")
	case !u.Old.IsZero():
		return errors.New("snapshot tags are never moved or rewritten")
	case !ledgerOK:
		return errors.New("the ledger update in this push was refused")
	}
	tip := c.after(ledgerRef)
	if tip.IsZero() {
		return errors.New("no ledger branch to snapshot")
	}
	chain, err := c.l.Chain(tip)
	if err != nil {
		return err
	}
	return c.l.VerifyTag(chain, size, u.New)
}

func parseSize(s string) (uint64, error) {
	var n uint64
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("snapshot tag name %q: want vmc/merkle/<N>", s)
	}
	for _, ch := range s {
		if ch < '0' || ch > '9' {
			return 0, fmt.Errorf("snapshot tag name %q: want vmc/merkle/<N>", s)
		}
		n = n*10 + uint64(ch-'0')
	}
	return n, nil
}

func (c *checker) checkMain(u Update, cfg *config.Config) error {
	if u.New.IsZero() {
		return errors.New("the main branch is never deleted")
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
	oldPlans, err := c.plansTree(u.Old)
	if err != nil {
		return err
	}
	newPlans, err := c.plansTree(u.New)
	if err != nil {
		return err
	}
	ledgerID := ""
	if newCfg != nil {
		ledgerID = newCfg.Ledger
	}
	return c.comparePlans(oldPlans, newPlans, ledgerID)
}

// plansTree returns the entries of plans/ in a commit (nil if none).
func (c *checker) plansTree(commit plumbing.Hash) ([]gitledger.TreeEntry, error) {
	if commit.IsZero() {
		return nil, nil
	}
	tree, err := c.l.CommitTree(commit)
	if err != nil {
		return nil, err
	}
	es, err := c.l.ReadTree(tree)
	if err != nil {
		return nil, err
	}
	for _, e := range es {
		if e.Name == plans.Dir && e.IsDir() {
			return c.l.ReadTree(e.ID)
		}
	}
	return nil, nil
}

func find(es []gitledger.TreeEntry, name string) (gitledger.TreeEntry, bool) {
	for _, e := range es {
		if e.Name == name {
			return e, true
		}
	}
	return gitledger.TreeEntry{}, false
}

func (c *checker) comparePlans(olds, news []gitledger.TreeEntry, ledgerID string) error {
	for _, o := range olds {
		n, ok := find(news, o.Name)
		switch {
		case !ok:
			return fmt.Errorf("plans/%s is removed: merged plans are immutable", o.Name)
		case o.IsDir() && n.IsDir() && o.ID != n.ID:
			// approvals may only be added
			oa, err := c.l.ReadTree(o.ID)
			if err != nil {
				return err
			}
			na, err := c.l.ReadTree(n.ID)
			if err != nil {
				return err
			}
			for _, x := range oa {
				if y, ok := find(na, x.Name); !ok || y.ID != x.ID {
					return fmt.Errorf("plans/%s/%s is changed or removed: approvals are add-only", o.Name, x.Name)
				}
			}
		case o.ID != n.ID || o.Mode != n.Mode:
			return fmt.Errorf("plans/%s is changed after merge: plans are immutable (make a new plan)", o.Name)
		}
	}
	for _, n := range news {
		if _, ok := find(olds, n.Name); ok {
			continue
		}
		if n.IsDir() {
			if _, ok := strings.CutSuffix(n.Name, plans.ApprovalsSuffix); !ok {
				return fmt.Errorf("plans/%s: plans/ holds only <id>.json files and <id>.approvals/ directories", n.Name)
			}
			continue
		}
		id, ok := strings.CutSuffix(n.Name, ".json")
		if !ok {
			return fmt.Errorf("plans/%s: plans/ holds only <id>.json files and <id>.approvals/ directories", n.Name)
		}
		b, err := c.l.ReadBlob(n.ID)
		if err != nil {
			return err
		}
		p, err := plans.Parse(b)
		if err != nil {
			return fmt.Errorf("plans/%s: %v", n.Name, err)
		}
		if p.ID != id {
			return fmt.Errorf("plans/%s: plan id %s does not match the file name", n.Name, p.ID)
		}
		if ledgerID != "" && p.Ledger != ledgerID {
			return fmt.Errorf("plans/%s: plan for ledger %s, this repository is %s", n.Name, p.Ledger, ledgerID)
		}
	}
	return nil
}

// checkLock allows a lock ref to be created, refreshed and released: the
// holder refreshes it (a heartbeat) with a push whose lease names the current
// value, which is what keeps others from overwriting it; the hook cannot tell
// holders apart, so it checks the name.
func checkLock(u Update) error {
	server := strings.TrimPrefix(u.Ref, LockRefPrefix)
	if err := lock.CheckServerName(server); err != nil {
		return fmt.Errorf("lock ref: %v", err)
	}
	return nil
}

func checkIntent(u Update) error {
	if err := plans.ValidID(strings.TrimPrefix(u.Ref, IntentRefPrefix)); err != nil {
		return fmt.Errorf("intent ref: %v", err)
	}
	if !u.Old.IsZero() && !u.New.IsZero() {
		return errors.New("an intent is published or dropped, never overwritten")
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
