package hooks

// Serving a ledger: the git configuration `vmc-git hook install` sets in a
// server's bare repository (ApplyServeConfig), so that the
// server's own maintenance (git gc: by hand, from cron, Gitea's "garbage
// collect all repositories", or receive.autogc after pushes) leaves packs
// that a clone of a long ledger reads cheaply.
//
// Where a clone's time goes (bench/ledger, 100k receipts, 1M objects: 600k
// trees, 300k blobs, 100k commits, 393 MB of object bytes, git 2.39):
//   - the serving side (pack-objects) without a bitmap walks every commit
//     and tree to list what to send: about 6.5 s of CPU and 523 MB; with a
//     reachability bitmap it reads the list from the bitmap: 0.6 s and
//     164 MB (after git repack -a -d -f; 200 MB on top of Generate's
//     deltas, a pack 30% larger);
//   - the client side (index-pack --check-self-contained-and-connected)
//     inflates and hashes every object and parses every tree and commit
//     (that check is what spares the clone a connectivity walk afterwards):
//     7 to 10 s of CPU, whatever the server does, except for the pack's
//     bytes and delta chains, which the server's delta search decides.

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// ConfigSetting is one git configuration value for a serving repository.
type ConfigSetting struct {
	Key, Value string
	Why        string // one line: what it changes for a clone or a fetch
}

// ServeConfig is what `vmc-git hook install` sets in a bare repository's own
// config (only the keys that config does not set already: an
// administrator's value stays).
var ServeConfig = []ConfigSetting{
	{"repack.writeBitmaps", "true",
		"git gc and git repack -a write a reachability bitmap: a clone's pack-objects reads what to send from it instead of walking every commit and tree (serving side of a 100k clone: 6.5 s of CPU and 523 MB without, 0.6 s and 164 MB with)"},
	{"pack.writeBitmapHashCache", "true",
		"the bitmap carries name hashes, so that fetches on top of it still find good deltas"},
	{"gc.writeCommitGraph", "true",
		"git gc writes the commit-graph: incremental fetches negotiate and walk commits without inflating them"},
}

// ServeSetting is one key of ServeConfig in a serving repository: Set when
// ApplyServeConfig wrote it, else the repository's own value, which it
// keeps.
type ServeSetting struct {
	Key   string `json:"key"`
	Value string `json:"value"`
	Set   bool   `json:"set"`
}

// ApplyServeConfig sets ServeConfig in the local config of the bare
// repository gitDir, except the keys that config already sets (an
// administrator's choice stays). It returns every key with its value. It
// lives here, not in workspace, so that what links it (bench/ledger, which
// applies exactly this config before timing a clone) does not link the
// policy engine.
func ApplyServeConfig(gitDir string) ([]ServeSetting, error) {
	var out []ServeSetting
	for _, c := range ServeConfig {
		v, err := gitConfig(gitDir, "--local", "--get", c.Key)
		if err == nil {
			out = append(out, ServeSetting{Key: c.Key, Value: strings.TrimSpace(v)})
			continue
		}
		if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) || ee.ExitCode() != 1 { // 1: the key is not set
			return out, fmt.Errorf("git config --get %s: %w", c.Key, err)
		}
		if _, err := gitConfig(gitDir, "--local", c.Key, c.Value); err != nil {
			return out, fmt.Errorf("git config %s: %w", c.Key, err)
		}
		out = append(out, ServeSetting{Key: c.Key, Value: c.Value, Set: true})
	}
	return out, nil
}

// gitConfig runs git config args in dir; an error keeps git's exit status
// (*exec.ExitError) and says what git printed.
func gitConfig(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"config"}, args...)...)
	cmd.Dir = dir
	var errb strings.Builder
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		if msg := strings.TrimSpace(errb.String()); msg != "" {
			return "", fmt.Errorf("%w: %s", err, msg)
		}
		return "", err
	}
	return string(out), nil
}
