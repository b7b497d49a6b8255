package workspace

import (
	"debug/buildinfo"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
)

// HookExeName is the copy of vmc-git that InstallHook puts beside the hook.
const HookExeName = "vmc-git"

// HookBinName is the small pre-receive binary (cmd/vmc-git-hook): the copy
// InstallHook puts beside the hook, and the name HookBinFor looks for
// beside vmc-git.
const HookBinName = "vmc-git-hook"

// installExe copies the binary exe into hooksDir as name (atomically) and
// returns the copy's path: the hook must not depend on a path that can
// vanish (go run's build directory, a temporary directory, a binary
// replaced by an upgrade mid-push). Re-run hook install after upgrading
// vmc-git. An exe that is already that copy is used as it is.
func installExe(exe, hooksDir, name string) (string, error) {
	dst := filepath.Join(hooksDir, name)
	if exe == dst {
		return dst, nil
	}
	src, err := os.Open(exe)
	if err != nil {
		return "", fmt.Errorf("hook install: the binary %s: %w", exe, err)
	}
	defer src.Close()
	tmp, err := os.CreateTemp(hooksDir, "."+name+"-*")
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

// HookBinFor returns the vmc-git-hook binary a pre-receive hook installed
// by the vmc-git binary exe should run: explicit when given, else
// HookBinName in exe's directory (where go install ./cmd/... and a release
// put both). It must come from the same build as exe (the main module's
// version and the version-control revision and state recorded in both,
// runtime/debug's build information), or the hook would apply other rules
// than this vmc-git. With none beside exe, or one from another build, it
// returns "" and why (the hook then runs vmc-git itself, which starts
// slower); an explicit binary that is missing or from another build is an
// error.
func HookBinFor(exe, explicit string) (bin, why string, err error) {
	bin = explicit
	if bin == "" {
		bin = filepath.Join(filepath.Dir(exe), HookBinName)
		if fi, err := os.Stat(bin); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			return "", fmt.Sprintf("there is no %s beside %s", HookBinName, exe), nil
		}
	} else if bin, err = filepath.Abs(bin); err != nil {
		return "", "", err
	}
	if err := sameBuild(exe, bin); err != nil {
		if explicit != "" {
			return "", "", usagef("--hook-bin %s: %v", explicit, err)
		}
		return "", err.Error(), nil
	}
	return bin, "", nil
}

// sameBuild requires the binary bin to come from the same build of the
// module as the binary exe.
func sameBuild(exe, bin string) error {
	a, err := buildinfo.ReadFile(exe)
	if err != nil {
		return fmt.Errorf("%s: no build information: %v", exe, err)
	}
	b, err := buildinfo.ReadFile(bin)
	if err != nil {
		return fmt.Errorf("%s is not a Go binary with build information: %v", bin, err)
	}
	if b.Path != hookBinPath(a.Main.Path) {
		return fmt.Errorf("%s is %s, not %s", bin, b.Path, hookBinPath(a.Main.Path))
	}
	if ka, kb := buildKey(a), buildKey(b); ka != kb {
		return fmt.Errorf("%s was built from %s, but %s from %s: build both from one checkout (go install ./cmd/...)", bin, kb, exe, ka)
	}
	return nil
}

// hookBinPath is the import path of cmd/vmc-git-hook in module mod.
func hookBinPath(mod string) string { return mod + "/cmd/" + HookBinName }

// buildKey names a build: module version, Go version and the VCS revision
// and state it was built from.
func buildKey(bi *debug.BuildInfo) string {
	set := map[string]string{}
	for _, s := range bi.Settings {
		set[s.Key] = s.Value
	}
	key := fmt.Sprintf("%s %s (%s", bi.Main.Path, bi.Main.Version, bi.GoVersion)
	if r := set["vcs.revision"]; r != "" {
		key += ", revision " + r
		if set["vcs.modified"] == "true" {
			key += " modified"
		}
	} else {
		key += ", no revision recorded"
	}
	return key + ")"
}
