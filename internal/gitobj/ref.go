package gitobj

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// ErrRaced says a compare-and-swap found the ref moved (or its lock held by
// another writer): re-read and retry.
var ErrRaced = errors.New("ref moved")

// CASRef moves ref name of the repository at gitDir from old to new (old
// zero: creates it) with git's own lock-file protocol, so that vmc-git and
// git never both win: it creates <ref>.lock exclusively, checks the ref is
// still at old (read through refs, which sees packed refs too), writes and
// fsyncs the new value and renames the lock over the ref, then fsyncs the
// directory. It returns ErrRaced if the ref is not at old or the lock is
// held; other errors say what broke.
func CASRef(gitDir string, refs storer.ReferenceStorer, name plumbing.ReferenceName, old, new plumbing.Hash) error {
	return CASRefAfter(gitDir, refs, name, old, new, nil)
}

// CASRefAfter is CASRef that calls before (unless nil) once the new value
// is durable in the lock file and before the lock is renamed over the ref:
// what the new value names must be durable by then (PackBatch.FlushStart's
// wait), and its last fsyncs run at the same time as the lock file's. An
// error from before leaves the ref unchanged.
func CASRefAfter(gitDir string, refs storer.ReferenceStorer, name plumbing.ReferenceName, old, new plumbing.Hash, before func() error) error {
	path := filepath.Join(gitDir, filepath.FromSlash(name.String()))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	lock := path + ".lock"
	f, err := os.OpenFile(lock, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		return ErrRaced // another writer holds the lock: re-read and retry
	}
	if err != nil {
		return fmt.Errorf("lock %s: %w", name, err)
	}
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(lock)
		}
	}()
	cur, err := refs.Reference(name)
	switch {
	case errors.Is(err, plumbing.ErrReferenceNotFound):
		if !old.IsZero() {
			return fmt.Errorf("%s disappeared", name)
		}
	case err != nil:
		return err
	case cur.Hash() != old:
		if old.IsZero() {
			return fmt.Errorf("%s already exists", name)
		}
		return ErrRaced
	}
	if _, err := f.WriteString(new.String() + "\n"); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if before != nil {
		if err := before(); err != nil {
			return err
		}
	}
	if err := os.Rename(lock, path); err != nil {
		return err
	}
	done = true
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
