package workspace

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/vmc-git/vmc-git/hooks"
)

// ServeSetting is one key of hooks.ServeConfig in a serving repository:
// Set when ApplyServeConfig wrote it, else the repository's own value,
// which it keeps.
type ServeSetting struct {
	Key   string `json:"key"`
	Value string `json:"value"`
	Set   bool   `json:"set"`
}

// ApplyServeConfig sets hooks.ServeConfig in the local config of the bare
// repository gitDir, except the keys that config already sets (an
// administrator's choice stays). It returns every key with its value.
func ApplyServeConfig(gitDir string) ([]ServeSetting, error) {
	var out []ServeSetting
	for _, c := range hooks.ServeConfig {
		cmd := exec.Command("git", "config", "--local", "--get", c.Key)
		cmd.Dir = gitDir
		v, err := cmd.Output()
		if err == nil {
			out = append(out, ServeSetting{Key: c.Key, Value: strings.TrimSpace(string(v))})
			continue
		}
		if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) || ee.ExitCode() != 1 { // 1: the key is not set
			return out, fmt.Errorf("git config --get %s: %w", c.Key, err)
		}
		if _, err := gitCmd(gitDir, "config", "--local", c.Key, c.Value); err != nil {
			return out, err
		}
		out = append(out, ServeSetting{Key: c.Key, Value: c.Value, Set: true})
	}
	return out, nil
}
