package workspace

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/vmc-git/vmc-git/internal/config"
	"github.com/vmc-git/vmc-git/provider"
	"github.com/vmc-git/vmc-git/provider/sandbox"
	"github.com/vmc-git/vmc-git/receipt"
)

// EnvSandboxActionMS is how long the embedded sandbox's actions run, in
// milliseconds (default 150).
const EnvSandboxActionMS = "VMC_SANDBOX_ACTION_MS"

// Sandbox files, under <git dir>/vmc/.
const (
	SandboxStateFile = "sandbox.json" // the embedded sandbox's persistent state
	SandboxLockFile  = "sandbox.lock" // flock: processes sharing a repository take turns
)

// Provider returns the ledger's provider, opened on first use and closed by
// Close.
//
// Provider "sandbox" starts the Hetzner-compatible sandbox in this process on
// loopback, with its state in .git/vmc/sandbox.json, and talks to it through
// the same hcloud-go client as the real API. Processes sharing a repository
// take turns on the sandbox (an flock on .git/vmc/sandbox.lock), so each
// sees the others' changes. With HCLOUD_ENDPOINT set, or provider "hetzner",
// the hcloud client talks to that endpoint with HCLOUD_TOKEN.
func (ws *Workspace) Provider() (provider.Provider, error) {
	if ws.prov != nil {
		return ws.prov, nil
	}
	if ws.Config == nil {
		return nil, notFoundErr(config.ErrNotFound)
	}
	if ws.Config.Provider == config.ProviderHetzner || os.Getenv(provider.EnvEndpoint) != "" {
		p, err := provider.New(provider.ConfigFromEnv(os.Getenv))
		if err != nil {
			return nil, usageErr(err, "set HCLOUD_TOKEN (or HCLOUD_TOKEN_FILE) and, for a sandbox, HCLOUD_ENDPOINT")
		}
		ws.prov, ws.closeProv = p, func() {}
		return p, nil
	}
	p, closeFn, err := StartSandbox(filepath.Join(ws.Ledger.GitDir, "vmc"))
	if err != nil {
		return nil, err
	}
	ws.prov, ws.closeProv = p, closeFn
	return p, nil
}

// StartSandbox starts the embedded sandbox with its state in dir, holding
// dir's sandbox lock until the returned function is called.
func StartSandbox(dir string) (provider.Provider, func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	lf, err := os.OpenFile(filepath.Join(dir, SandboxLockFile), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, nil, err
	}
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		lf.Close()
		return nil, nil, fmt.Errorf("sandbox lock: %w", err)
	}
	unlock := func() { syscall.Flock(int(lf.Fd()), syscall.LOCK_UN); lf.Close() }
	dur := 150 * time.Millisecond
	if v, err := strconv.Atoi(os.Getenv(EnvSandboxActionMS)); err == nil && v >= 0 {
		dur = time.Duration(v) * time.Millisecond
	}
	tok := make([]byte, 24)
	rand.Read(tok)
	token := hex.EncodeToString(tok)
	sb, err := sandbox.New(sandbox.Options{Token: token, StatePath: filepath.Join(dir, SandboxStateFile), ActionDuration: dur})
	if err != nil {
		unlock()
		return nil, nil, err
	}
	url, err := sb.Start("127.0.0.1:0")
	if err != nil {
		unlock()
		return nil, nil, err
	}
	p, err := provider.New(provider.Config{Token: provider.Secret(token), Endpoint: url, PollInterval: 20 * time.Millisecond})
	if err != nil {
		sb.Close()
		unlock()
		return nil, nil, err
	}
	return p, func() { sb.Close(); unlock() }, nil
}

// SandboxMark is what every receipt summary, review and log line of a
// ledger on the embedded sandbox carries, so that nobody mistakes its
// servers for real ones.
const SandboxMark = "[sandbox]"

// OnSandbox reports whether the ledger's provider is the embedded sandbox
// (config provider "sandbox" and no HCLOUD_ENDPOINT).
func (ws *Workspace) OnSandbox() bool {
	return ws.Config != nil && ws.Config.Provider == config.ProviderSandbox && os.Getenv(provider.EnvEndpoint) == ""
}

// summary is s as a receipt summary of this ledger: clipped to
// receipt.MaxSummary and, on the embedded sandbox, ending with SandboxMark.
func (ws *Workspace) summary(s string) string {
	mark := ""
	if ws.OnSandbox() {
		mark = SandboxMark
	}
	return receipt.ClipSummary(s, mark)
}
