package hooks

import (
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vmc-git/vmc-git/gitledger"
)

// HeadBranches picks the branch names a hook guards from the repository
// of l, each time the hook runs: those given, else the ones
// .vmc/config.json names at the repository's HEAD, else the branch HEAD
// names (born or not: a fresh server repository whose HEAD is master
// guards master) and gitledger.DefaultBranch. It reads HEAD and the config
// in this process, as `git symbolic-ref --short HEAD` and `git show
// HEAD:.vmc/config.json` would, without starting git (a hook runs on every
// push). Head records HEAD's branch when HEAD decided a name: the hook
// refuses a push to it unless it is the main branch (checkHead), for whoever
// can change HEAD's config would otherwise pick what the hook guards. The
// config is bounded like the hook's own reads; one that does
// not parse is ignored here (the hook's checks refuse it). A nil l (no
// repository) gives the defaults.
func HeadBranches(l *gitledger.Ledger, given Branches) Branches {
	b := Branches{Main: "main", Ledger: gitledger.DefaultBranch, Now: given.Now}
	var head *plumbing.Reference
	err := errNoFile
	if l != nil {
		head, err = l.Repo().Storer.Reference(plumbing.HEAD)
	}
	if err == nil && head.Type() == plumbing.SymbolicReference {
		if name := head.Target(); name.IsBranch() {
			b.Main = strings.TrimPrefix(name.String(), "refs/heads/")
			b.Head = b.Main
		}
	}
	if err == nil {
		if r, err := l.Repo().Reference(plumbing.HEAD, true); err == nil {
			c := &checker{l: l}
			if cfg, err := c.configAt(r.Hash()); err == nil && cfg != nil {
				b.Main, b.Ledger = cfg.MainBranch, cfg.Branch
			}
		}
	}
	if given.Main != "" {
		b.Main = given.Main
	}
	if given.Ledger != "" {
		b.Ledger = given.Ledger
	}
	if given.Main != "" && given.Ledger != "" {
		b.Head = "" // HEAD decides nothing
	}
	return b
}
