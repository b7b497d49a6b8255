package workspace

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// HookExeName is the copy of vmc-git that InstallHook puts beside the hook.
const HookExeName = "vmc-git"

// installExe copies the vmc-git binary exe into hooksDir (atomically) and
// returns the copy's path: the hook must not depend on a path that can
// vanish (go run's build directory, a temporary directory, a binary
// replaced by an upgrade mid-push). Re-run hook install after upgrading
// vmc-git. An exe that is already that copy is used as it is.
func installExe(exe, hooksDir string) (string, error) {
	dst := filepath.Join(hooksDir, HookExeName)
	if exe == dst {
		return dst, nil
	}
	src, err := os.Open(exe)
	if err != nil {
		return "", fmt.Errorf("hook install: the running vmc-git binary %s: %w", exe, err)
	}
	defer src.Close()
	tmp, err := os.CreateTemp(hooksDir, ".vmc-git-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, src); err != nil {
		tmp.Close()
		return "", fmt.Errorf("hook install: copy %s: %w", exe, err)
	}
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return "", err
	}
	return dst, nil
}

// TransientExe reports why exe's path may vanish (a go run build or a
// temporary directory), or "". Install copies the binary anyway; the CLI
// says so.
func TransientExe(exe string) string {
	if dir := os.TempDir(); strings.HasPrefix(exe, dir+string(filepath.Separator)) {
		if strings.Contains(exe, string(filepath.Separator)+"go-build") {
			return "it is a go run build"
		}
		return "it is under the temporary directory " + dir
	}
	if c, err := os.UserCacheDir(); err == nil && strings.HasPrefix(exe, filepath.Join(c, "go-build")) {
		return "it is in the go build cache"
	}
	return ""
}
