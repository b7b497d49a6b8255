package plans

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/vmc-git/vmc-git/keys"
)

// The one approvals reader. A plan's approvals are the directory
// <id>.approvals/ beside <id>.json, holding <kid>.sig files, wherever it is
// read: plans/ on the main branch (apply --pending, plan review, the hook's
// tree rule), the copy in the ledger tree of an apply receipt (the
// verifier), or a plan's directory on disk (apply --plan FILE, plan status).
// Each source is a TreeReader; ReadApprovals applies the rule of tree.go to
// it, so every reader refuses the same entries with the same messages:
//
//	mode M: an approvals entry is a directory (mode 40000)   <id>.approvals is not a directory
//	N approvals, more than 64                                 too many entries
//	not an approval: <id>.approvals/ holds only <kid>.sig files  another name, or an invalid kid
//	mode M: an approval is a regular file (mode 100644)      a directory, symlink, gitlink, executable
//	N bytes, more than the limit of 16384                     an approval larger than MaxApprovalSize
//
// each as an *EntryError naming the entry (dir/<id>.approvals/<name>). No
// approvals directory means no approvals: an empty map, no error.

// ReadApprovals reads approvals directory e, the <id>.approvals entry of
// directory dir as r lists it (dir names it in errors: "plans" for a git
// tree, the directory's path on disk). It returns kid -> signature bytes,
// or the first entry that breaks the rule above.
func ReadApprovals(r TreeReader, dir string, e TreeEntry) (map[string][]byte, error) {
	p := dir + "/" + e.Name
	id, kind, ok := PlanOfEntry(e.Name)
	if !ok || kind != EntryApprovals {
		return nil, &EntryError{p, "", fmt.Errorf("not an approvals directory (<id>%s)", ApprovalsSuffix)}
	}
	if e.Mode != ModeDir {
		return nil, &EntryError{p, id, fmt.Errorf("mode %s: an approvals entry is a directory (mode %s)", e.Mode, ModeDir)}
	}
	as, err := r.Tree(e.ID)
	if err != nil {
		return nil, &EntryError{p, id, err}
	}
	if len(as) > MaxApprovals {
		return nil, &EntryError{p, id, fmt.Errorf("%d approvals, more than %d", len(as), MaxApprovals)}
	}
	out := make(map[string][]byte, len(as))
	for _, a := range as {
		sig, err := readApproval(r, e.Name, a)
		if err != nil {
			return nil, &EntryError{p + "/" + a.Name, id, err}
		}
		kid, _ := strings.CutSuffix(a.Name, ApprovalExt)
		out[kid] = sig
	}
	return out, nil
}

// readApproval reads one entry of approvals directory dir (its name).
func readApproval(r TreeReader, dir string, e TreeEntry) ([]byte, error) {
	kid, ok := strings.CutSuffix(e.Name, ApprovalExt)
	switch {
	case !ok || keys.ValidKID(kid) != nil:
		return nil, fmt.Errorf("not an approval: %s/ holds only <kid>%s files", dir, ApprovalExt)
	case e.Mode != ModeFile:
		return nil, fmt.Errorf("mode %s: an approval is a regular file (mode %s)", e.Mode, ModeFile)
	}
	return r.Blob(e.ID, MaxApprovalSize)
}

// LoadApprovals reads <dir>/<id>.approvals/*.sig from disk, where dir holds
// the plan file: ReadApprovals on DirTree(dir). Errors name the files by
// their path on disk.
func LoadApprovals(dir, id string) (map[string][]byte, error) {
	r := DirTree(dir)
	e, err := r.Entry(id + ApprovalsSuffix)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string][]byte{}, nil
	}
	if err != nil {
		return nil, err
	}
	return ReadApprovals(r, dir, e)
}

// DirTree is a directory on disk as a TreeReader: an id is a slash-separated
// path relative to the directory ("" is the directory itself), and modes
// are git's for what the file is (not following symlinks): a regular file
// 100644 (100755 if executable), a directory 40000, a symlink 120000,
// anything else 0.
type DirTree string

// Entry returns the entry for name, a path relative to the directory.
func (d DirTree) Entry(name string) (TreeEntry, error) {
	fi, err := os.Lstat(d.path(name))
	if err != nil {
		return TreeEntry{}, err
	}
	return TreeEntry{Mode: gitMode(fi.Mode()), Name: path.Base(name), ID: name}, nil
}

func (d DirTree) path(id string) string { return filepath.Join(string(d), filepath.FromSlash(id)) }

// Tree lists directory id.
func (d DirTree) Tree(id string) ([]TreeEntry, error) {
	ents, err := os.ReadDir(d.path(id))
	if err != nil {
		return nil, err
	}
	out := make([]TreeEntry, 0, len(ents))
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			return nil, err
		}
		out = append(out, TreeEntry{Mode: gitMode(fi.Mode()), Name: e.Name(), ID: path.Join(id, e.Name())})
	}
	return out, nil
}

// Blob reads regular file id, refusing one larger than limit unread.
func (d DirTree) Blob(id string, limit int64) ([]byte, error) {
	f, err := os.OpenFile(d.path(id), os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("mode %s: not a regular file", gitMode(fi.Mode()))
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("%d bytes, more than the limit of %d", fi.Size(), limit)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("more than the limit of %d bytes", limit)
	}
	return b, nil
}

// gitMode is the git tree mode of a file of mode m.
func gitMode(m fs.FileMode) string {
	switch {
	case m.IsRegular() && m&0o111 != 0:
		return "100755"
	case m.IsRegular():
		return ModeFile
	case m.IsDir():
		return ModeDir
	case m&fs.ModeSymlink != 0:
		return "120000"
	}
	return "0"
}
