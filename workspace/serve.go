package workspace

import "github.com/vmc-git/vmc-git/hooks"

// ServeSetting is one key of hooks.ServeConfig in a serving repository.
type ServeSetting = hooks.ServeSetting

// ApplyServeConfig is hooks.ApplyServeConfig: InstallHook calls it for a
// bare repository.
func ApplyServeConfig(gitDir string) ([]ServeSetting, error) {
	return hooks.ApplyServeConfig(gitDir)
}
