package main

import (
	"runtime/debug"

	"github.com/vmc-git/vmc-git/internal/workflows"
)

// A binary built by `go install github.com/vmc-git/vmc-git/cmd/vmc-git@v1.2.3`
// has no -X main.Version, but its build info names the module version: use
// it, so that --version and the workflows init writes name the release.
func init() {
	if Version != "dev" {
		return
	}
	if bi, ok := debug.ReadBuildInfo(); ok && workflows.IsRelease(bi.Main.Version) {
		Version = bi.Main.Version
	}
}
