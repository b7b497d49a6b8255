package main

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
)

// Environment for the embedded sandbox.
const envSandboxActionMS = "VMC_SANDBOX_ACTION_MS" // how long sandbox actions run (default 150)

// openProvider returns the ledger's provider and a function to close it.
//
// provider "sandbox" starts the Hetzner-compatible sandbox in this process on
// loopback, with its state in .git/vmc/sandbox.json, and talks to it through
// the same hcloud-go client as the real API. Processes sharing a repository
// take turns on the sandbox (an flock on .git/vmc/sandbox.lock), so each
// sees the others' changes. With HCLOUD_ENDPOINT set, or provider "hetzner",
// the hcloud client talks to that endpoint with HCLOUD_TOKEN.
func openProvider(rc *repoCtx) (provider.Provider, func(), error) {
	if rc.cfg == nil {
		return nil, nil, fail(exitNotFound, config.ErrNotFound)
	}
	if rc.cfg.Provider == config.ProviderHetzner || os.Getenv(provider.EnvEndpoint) != "" {
		p, err := provider.New(provider.ConfigFromEnv(os.Getenv))
		if err != nil {
			return nil, nil, fail(exitUsage, err, "set HCLOUD_TOKEN (or HCLOUD_TOKEN_FILE) and, for a sandbox, HCLOUD_ENDPOINT")
		}
		return p, func() {}, nil
	}
	return startSandbox(filepath.Join(rc.ledger.GitDir, "vmc"))
}

func startSandbox(dir string) (provider.Provider, func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	lf, err := os.OpenFile(filepath.Join(dir, "sandbox.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, nil, err
	}
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		lf.Close()
		return nil, nil, fmt.Errorf("sandbox lock: %w", err)
	}
	unlock := func() { syscall.Flock(int(lf.Fd()), syscall.LOCK_UN); lf.Close() }
	dur := 150 * time.Millisecond
	if v, err := strconv.Atoi(os.Getenv(envSandboxActionMS)); err == nil && v >= 0 {
		dur = time.Duration(v) * time.Millisecond
	}
	tok := make([]byte, 24)
	rand.Read(tok)
	token := hex.EncodeToString(tok)
	sb, err := sandbox.New(sandbox.Options{Token: token, StatePath: filepath.Join(dir, "sandbox.json"), ActionDuration: dur})
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
