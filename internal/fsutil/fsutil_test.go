package fsutil

import (
	"os"
	"path/filepath"
	"testing"
)

// TestWriteFileAtomic: WriteFileAtomic and ReplaceFile (the same without
// the fsyncs) replace a file whole, create its directories, keep the mode,
// leave no temporary file, and refuse to replace a directory.
func TestWriteFileAtomic(t *testing.T) {
	for name, write := range map[string]func(string, []byte, os.FileMode) error{"WriteFileAtomic": WriteFileAtomic, "ReplaceFile": ReplaceFile} {
		t.Run(name, func(t *testing.T) { testReplace(t, write) })
	}
}

func testReplace(t *testing.T, write func(string, []byte, os.FileMode) error) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a", "b", "state.json")
	for _, content := range []string{"first", "second, longer"} {
		if err := write(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil || string(b) != content {
			t.Fatalf("read %q %v, want %q", b, err, content)
		}
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	ents, _ := os.ReadDir(filepath.Dir(p))
	if len(ents) != 1 {
		t.Fatalf("temporary files left: %v", ents)
	}
	// A directory in the way: an error, and nothing half-written.
	if err := write(filepath.Join(dir, "a"), []byte("x"), 0o644); err == nil {
		t.Fatal("replaced a directory")
	}
}
