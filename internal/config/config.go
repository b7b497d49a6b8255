// Package config reads and writes .vmc/config.json, the ledger repository's
// settings on the main branch.
//
// The file is canonical JSON (RFC 8785) with these fields:
//
//	{"branch":"vmc/ledger","genesis_blake3":"<hex>","ledger":"github.com/acme/infra",
//	 "main_branch":"main","provider":"sandbox","v":1}
//
// genesis_blake3 pins the ledger: verifiers refuse a ledger whose genesis
// receipt hashes differently, and the pre-receive hook refuses a change of
// the pin. provider is "sandbox" (the embedded Hetzner-compatible sandbox,
// state under .git/vmc/sandbox.json) or "hetzner" (HCLOUD_TOKEN,
// HCLOUD_ENDPOINT).
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vmc-git/vmc-git/internal/canon"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/receipt"
)

// Path is the config file's path relative to the repository root.
const Path = ".vmc/config.json"

// Providers.
const (
	ProviderSandbox = "sandbox"
	ProviderHetzner = "hetzner"
)

// Config is .vmc/config.json.
type Config struct {
	V             int           `json:"v"`
	Ledger        string        `json:"ledger"`
	Branch        string        `json:"branch"`
	MainBranch    string        `json:"main_branch"`
	GenesisBlake3 digest.Digest `json:"genesis_blake3"`
	Provider      string        `json:"provider"`
}

// ErrNotFound means the repository has no .vmc/config.json.
var ErrNotFound = errors.New("no " + Path + ": not a vmc-git ledger repository (run vmc-git init)")

// Parse decodes and validates config bytes.
func Parse(b []byte) (*Config, error) {
	var c Config
	if err := canon.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", Path, err)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Validate checks the fields.
func (c *Config) Validate() error {
	if c.V != 1 {
		return fmt.Errorf("%s: version %d, want 1", Path, c.V)
	}
	if err := receipt.ValidLedgerID(c.Ledger); err != nil {
		return fmt.Errorf("%s: %w", Path, err)
	}
	if c.Branch == "" || c.MainBranch == "" {
		return fmt.Errorf("%s: branch and main_branch are required", Path)
	}
	if c.Provider != ProviderSandbox && c.Provider != ProviderHetzner {
		return fmt.Errorf("%s: provider %q, want sandbox or hetzner", Path, c.Provider)
	}
	return nil
}

// Encode returns the canonical bytes.
func (c *Config) Encode() ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return canon.Marshal(c)
}

// Load reads root/.vmc/config.json.
func Load(root string) (*Config, error) {
	b, err := os.ReadFile(filepath.Join(root, Path))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return Parse(b)
}
