// Package testvectors finds the test vectors other projects wrote (RFC 8785,
// RFC 6962), kept outside this repository in shared/vectors beside it.
//
// Tests call Dir; it looks at $VMC_VECTORS, then for shared/vectors beside
// the working directory or any of its parents. scripts/test.sh sets
// VMC_VECTORS when the repository is checked out elsewhere.
package testvectors

import (
	"errors"
	"os"
	"path/filepath"
)

// EnvDir names the vectors directory explicitly.
const EnvDir = "VMC_VECTORS"

// Dir returns the vectors directory joined with sub.
func Dir(sub ...string) (string, error) {
	if d := os.Getenv(EnvDir); d != "" {
		return filepath.Join(append([]string{d}, sub...)...), nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		cand := filepath.Join(dir, "shared", "vectors")
		if fi, err := os.Stat(cand); err == nil && fi.IsDir() {
			return filepath.Join(append([]string{cand}, sub...)...), nil
		}
		if filepath.Dir(dir) == dir {
			return "", errors.New("shared/vectors not found beside the repository or its parents: set " + EnvDir)
		}
	}
}
