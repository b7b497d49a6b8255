// Package fsutil holds vmc-git's one way of writing a file that must
// survive a crash whole or not at all: intent journals, the remembered
// verified head, the Merkle compact-range cache; and, for a cache that is
// checked as it is read (the hook's verified tree), the same replacement
// without waiting for the disk.
package fsutil

import (
	"os"
	"path/filepath"
)

// WriteFileAtomic writes data to path so that, after a crash, path holds
// either its old content or all of data: it writes a temporary file in the
// same directory, fsyncs it, renames it over path and fsyncs the directory.
// Missing parent directories are created. When it returns nil, data is
// durable.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	return replace(path, data, perm, true)
}

// ReplaceFile is WriteFileAtomic without the fsyncs: a reader sees path's
// old content or all of data, but a crash may leave the old content, the
// new, or an empty or partial file. It is for caches whose every read
// checks what it reads, where the two fsyncs would be most of the cost.
func ReplaceFile(path string, data []byte, perm os.FileMode) error {
	return replace(path, data, perm, false)
}

func replace(path string, data []byte, perm os.FileMode, durable bool) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if durable {
		if err = f.Sync(); err != nil {
			return err
		}
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	if !durable {
		return nil
	}
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
