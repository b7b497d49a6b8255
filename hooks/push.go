package hooks

import (
	"errors"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vmc-git/vmc-git/gitledger"
)

// ErrPushRefused is the error of a push some rule refused (the refusals
// themselves are reported one per line, Summary).
var ErrPushRefused = errors.New("push refused by the vmc-git hook")

// CheckRefs runs the push rules (Check) on ups in the repository l reads
// (gitledger.OpenHookRepo: with git's quarantine in pre-receive), taking
// each ref's value before the push from the repository. tracking, for
// pre-push, maps a pushed ref to the local ref holding the remote's value
// of refs not in the push ("=<id>" for the value itself); nil for
// pre-receive.
//
// It is the whole hook but for reading its input and printing: both
// `vmc-git hook pre-receive` and the small vmc-git-hook binary (cmd/vmc-git-hook,
// which links only this package and what it needs, so that a push does
// not pay for starting the whole command) call it.
func CheckRefs(l *gitledger.Ledger, ups []Update, tracking func(string) string, b Branches) []Refusal {
	repo := l.Repo()
	current := func(ref string) plumbing.Hash {
		if tracking != nil {
			for _, u := range ups {
				if u.Ref == ref {
					return u.Old
				}
			}
			if ref = tracking(ref); ref == "" {
				return plumbing.ZeroHash
			}
			// "=<id>": the remote's value itself (refs/vmc/, not fetched).
			if id, ok := strings.CutPrefix(ref, "="); ok {
				return plumbing.NewHash(id)
			}
		}
		r, err := repo.Storer.Reference(plumbing.ReferenceName(ref))
		if err != nil {
			return plumbing.ZeroHash
		}
		return r.Hash()
	}
	// pre-receive (no tracking): l is the server's repository, whose git
	// directory holds the hook's verified tree.
	return check(l, ups, current, b, tracking == nil)
}
