package gitledger

import (
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/internal/gitobj"
)

// ErrNotFastForward is returned by VerifyUpdate for a history rewrite.
var ErrNotFastForward = fmt.Errorf("not a fast-forward: the ledger branch only grows")

// VerifyUpdate checks a proposed move of the ledger branch from old to new
// (as a pre-receive hook sees it): new must descend from old, and every
// commit after old must pass every rule, with signatures, checked on top of
// the state at old (which was accepted before). So it costs O(k) for k new
// receipts, whatever the ledger's length. old zero means a new branch:
// everything is checked from genesis, against pin if given.
func (l *Ledger) VerifyUpdate(old, new plumbing.Hash, pin *digest.Digest) (*Report, error) {
	return l.verifyUpdate(old, new, pin, nil)
}

// verifyUpdate is VerifyUpdate, giving leaf each new receipt's bytes (see
// VerifyOptions.leaf; nil: none).
func (l *Ledger) verifyUpdate(old, new plumbing.Hash, pin *digest.Digest, leaf func(uint64, []byte)) (*Report, error) {
	if new.IsZero() {
		return nil, fmt.Errorf("deleting the ledger branch is not allowed")
	}
	commits, err := l.walkBack(new, old, 0)
	if err != nil {
		// A commit that cannot be read or parsed is malformed, not a
		// rewrite: say so.
		if !old.IsZero() && errors.Is(err, errNoDescent) {
			return nil, l.notFastForward(old, new)
		}
		return nil, err
	}
	start := &state{empty: true}
	if !old.IsZero() {
		t, err := l.tipAt(old)
		if err != nil {
			return nil, err
		}
		start = stateFromTip(t)
	}
	from := uint64(0)
	if !start.empty {
		from = start.seq + 1
	}
	end, err := l.verifyChain(start, commits, VerifyOptions{Signatures: true, leaf: leaf}, from+uint64(len(commits)))
	if err != nil {
		return nil, err
	}
	if old.IsZero() && pin != nil {
		t, err := l.tipAt(commits[0])
		if err != nil {
			return nil, err
		}
		if t.Head.Blake3 != *pin {
			return nil, &VerifyError{Seq: 0, Commit: commits[0], Rule: RuleGenesis,
				Err: fmt.Errorf("genesis blake3 %s differs from the pinned %s", t.Head.Blake3, *pin)}
		}
	}
	return &Report{Ledger: end.ledger, Ref: l.Ref.String(), Receipts: end.seq + 1, Checked: uint64(len(commits)), From: from,
		Commit: end.commit.String(), Signatures: true}, nil
}

// notFastForward explains why new does not descend from old: a rollback (new
// is an ancestor of old), or a rewrite that forks from old's history after
// some receipt, or another history altogether. Only a refused push pays for
// these walks, which cost O(n).
func (l *Ledger) notFastForward(old, new plumbing.Hash) error {
	if back, err := l.walkBack(old, new, 0); err == nil {
		return fmt.Errorf("%w: %s rolls it back by %d receipt(s) from the current tip %s", ErrNotFastForward, new, len(back), old)
	}
	detail := ""
	if chain, err := l.Chain(old); err == nil {
		at := make(map[plumbing.Hash]int, len(chain))
		for i, c := range chain {
			at[c] = i
		}
		detail = ": it shares no commit with the current history"
		for c := new; ; {
			if i, ok := at[c]; ok {
				detail = fmt.Sprintf(": it rewrites the history after receipt %d", i)
				break
			}
			parents, err := l.parents(c)
			if err != nil {
				detail = ""
				break
			}
			if len(parents) == 0 {
				break
			}
			c = parents[0]
		}
	}
	return fmt.Errorf("%w: %s does not descend from the current tip %s%s", ErrNotFastForward, new, old, detail)
}

// Chain lists the ledger's commits by seq, walking back from commit tip.
func (l *Ledger) Chain(tip plumbing.Hash) ([]plumbing.Hash, error) {
	return l.walkBack(tip, plumbing.ZeroHash, 0)
}

// TreeEntry is one entry of a git tree, for callers outside the package.
type TreeEntry = gitobj.TreeEntry

// CommitTree returns the root tree of a commit.
func (l *Ledger) CommitTree(c plumbing.Hash) (plumbing.Hash, error) {
	raw, err := l.objs.Get(c, plumbing.CommitObject)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	tree, _, _, err := gitobj.ParseCommitHeaders(raw)
	if err != nil {
		return tree, fmt.Errorf("commit %s: %w", c, err)
	}
	return tree, nil
}

// ReadTree returns the entries of a tree object. Unlike ledger trees, any
// file mode is accepted here (main-branch trees hold anything).
func (l *Ledger) ReadTree(id plumbing.Hash) ([]TreeEntry, error) {
	raw, err := l.objs.Get(id, plumbing.TreeObject)
	if err != nil {
		return nil, err
	}
	return gitobj.ParseAnyTree(raw)
}

// ReadBlob returns a blob's content.
func (l *Ledger) ReadBlob(id plumbing.Hash) ([]byte, error) {
	return l.objs.Get(id, plumbing.BlobObject)
}

// ReadTag returns a tag object's raw content.
func (l *Ledger) ReadTag(id plumbing.Hash) ([]byte, error) { return l.objs.Get(id, plumbing.TagObject) }

// OpenHookRepo opens the repository a git hook runs in (bare or not, by
// its git directory), reading objects from the repository itself and from
// git's quarantine directory ($GIT_OBJECT_DIRECTORY, where a pushed pack
// waits during pre-receive; $GIT_ALTERNATE_OBJECT_DIRECTORIES names the
// repository's). Without a quarantine it is OpenGitDir.
//
// The repository is searched first, with the same pack and loose-object
// reader as outside a hook, together with the pushed packs, and the
// quarantine's loose objects only for what it lacks: the other way round, each of the repository's objects
// was first looked for in the quarantine (a failed open and a directory
// scan each) and then read through go-git, which loads the whole index of a
// large ledger's pack; a 1-receipt push onto 100k receipts cost ten times
// one onto 1k, and a snapshot tag push seconds. The ledger returned is for
// reading: an object it wrote would bypass the quarantine.
func OpenHookRepo(gitDir, branch, quarantine string) (*Ledger, error) {
	l, err := OpenGitDir(gitDir, branch)
	if err != nil {
		return nil, err
	}
	if quarantine != "" {
		if err := l.objs.AddQuarantine(quarantine); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// WithBranch returns a ledger on another branch of the same repository and
// object store.
func (l *Ledger) WithBranch(branch string) (*Ledger, error) {
	ref := plumbing.NewBranchReferenceName(branch)
	if err := ref.Validate(); err != nil {
		return nil, fmt.Errorf("invalid ledger branch %q", branch)
	}
	c := *l
	c.Ref = ref
	return &c, nil
}

// VerifyTip checks the ledger branch up to its tip, with signatures, before
// it is trusted (by apply, say): from the remembered verified head in O(k)
// when the tip extends it, else in full against pin. It remembers the tip.
func (l *Ledger) VerifyTip(pin *digest.Digest) error {
	ref, err := l.repo.Storer.Reference(l.Ref)
	if err != nil {
		return ErrNoLedger
	}
	v, err := l.LoadVerified()
	if err != nil {
		return err
	}
	if v != nil {
		old, err := gitobj.ParseHash(v.Commit)
		if err == nil && old == ref.Hash() {
			return nil
		}
		if err == nil && v.Genesis != nil {
			// Verify starts from the remembered head itself (incremental.go).
			_, err := l.Verify(VerifyOptions{Signatures: true, Genesis: pin, Remember: true})
			return err
		}
		if err == nil {
			if rep, err := l.VerifyUpdate(old, ref.Hash(), nil); err == nil {
				t, err := l.tipAt(ref.Hash())
				if err != nil {
					return err
				}
				return l.saveVerified(Verified{Ledger: rep.Ledger, Ref: l.Ref.String(), Seq: t.Head.Seq, Commit: rep.Commit, Blake3: t.Head.Blake3})
			} else if !errors.Is(err, ErrNotFastForward) {
				return err
			}
		}
	}
	_, err = l.Verify(VerifyOptions{Signatures: true, Genesis: pin, Remember: true})
	return err
}

// RewindVerified moves the remembered verified head back to where it meets
// the branch again, when the branch was deliberately reset below it (an
// applier dropping its own unpushed receipts to re-write them on a newer
// remote head). It costs O(k) in the receipts between the two. It changes
// nothing when the remembered head is on the branch.
func (l *Ledger) RewindVerified() error {
	v, err := l.LoadVerified()
	if err != nil || v == nil {
		return err
	}
	ref, err := l.repo.Storer.Reference(l.Ref)
	if err != nil {
		return err
	}
	rem, err := gitobj.ParseHash(v.Commit)
	if err != nil {
		return err
	}
	tip, err := l.tipAt(ref.Hash())
	if err != nil {
		return err
	}
	a, aSeq := ref.Hash(), tip.Head.Seq
	b, bSeq := rem, v.Seq
	for a != b {
		var err error
		switch {
		case aSeq > bSeq:
			a, err = l.parentOf(a)
			aSeq--
		case bSeq > aSeq:
			b, err = l.parentOf(b)
			bSeq--
		case aSeq == 0:
			return fmt.Errorf("the ledger branch shares no commit with the verified head %s", rem)
		default:
			if a, err = l.parentOf(a); err == nil {
				b, err = l.parentOf(b)
			}
			aSeq, bSeq = aSeq-1, bSeq-1
		}
		if err != nil {
			return err
		}
	}
	if a == rem {
		return nil // on the branch: nothing to do
	}
	t, err := l.tipAt(a)
	if err != nil {
		return err
	}
	nv := Verified{Ledger: t.Head.Ledger, Ref: l.Ref.String(), Seq: t.Head.Seq, Commit: a.String(), Blake3: t.Head.Blake3, Genesis: v.Genesis}
	for _, iv := range v.Invalidated {
		if iv.Seq <= t.Head.Seq && iv.RevokedBy <= t.Head.Seq {
			nv.Invalidated = append(nv.Invalidated, iv)
		}
	}
	for _, s := range v.Snapshots {
		if s.Size <= t.Head.Seq+1 {
			nv.Snapshots = append(nv.Snapshots, s)
		}
	}
	return l.saveVerified(nv)
}
