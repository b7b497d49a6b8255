package workspace

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/internal/config"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/internal/workflows"
	"github.com/vmc-git/vmc-git/receipt"
)

// InitRequest is what Init needs to create a ledger.
type InitRequest struct {
	Dir        string // the repository's directory; created (git init) if it is not one
	Ledger     string // ledger id, e.g. github.com/acme/infra
	Branch     string // ledger branch
	MainBranch string // branch for config, plans and workflows
	Provider   string // config.ProviderSandbox or config.ProviderHetzner
	Genesis    receipt.Genesis
	// Version is the vmc-git version writing the callers, which pin it
	// (workflows.ParamsFor): the binary's release, or "dev".
	Version string
}

// InitResult describes the new ledger.
type InitResult struct {
	Ledger        string        `json:"ledger"`
	Dir           string        `json:"dir"`
	Branch        string        `json:"branch"`
	MainBranch    string        `json:"main_branch"`
	Commit        string        `json:"commit"`
	GenesisBlake3 digest.Digest `json:"genesis_blake3"`
}

// Init creates the repository (if needed), the genesis receipt on the
// ledger branch signed by id, then .vmc/config.json (pinning the genesis)
// the caller workflows and the default policy set (policy/*.rego),
// committed on the main branch. It refuses a
// repository that has a config or a ledger branch already.
func Init(req InitRequest, id Identity) (*InitResult, error) {
	if err := receipt.ValidLedgerID(req.Ledger); err != nil {
		return nil, usageErr(err)
	}
	if err := os.MkdirAll(req.Dir, 0o755); err != nil {
		return nil, err
	}
	abs, _ := filepath.Abs(req.Dir)
	if _, err := os.Stat(filepath.Join(abs, ".git")); errors.Is(err, os.ErrNotExist) {
		if _, err := gitCmd(abs, "init", "-q", "-b", req.MainBranch); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(filepath.Join(abs, config.Path)); err == nil {
		return nil, refusedErr(fmt.Errorf("%s already exists in %s: this repository has a ledger", config.Path, abs))
	}
	l, err := gitledger.Open(abs, req.Branch)
	if err != nil {
		return nil, err
	}
	if _, err := l.Tip(); err == nil {
		return nil, refusedErr(fmt.Errorf("ledger branch %s already exists in %s", l.Ref, abs))
	}
	req.Genesis.Provider = req.Provider // pinned: a config naming another provider is refused
	w, err := l.Init(req.Ledger, id.Signer, id.KID, req.Genesis, time.Now())
	if err != nil {
		return nil, err
	}
	cfg := &config.Config{V: 1, Ledger: req.Ledger, Branch: req.Branch, MainBranch: req.MainBranch, GenesisBlake3: w.Sums.Blake3, Provider: req.Provider}
	b, err := cfg.Encode()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(abs, ".vmc"), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(abs, config.Path), b, 0o644); err != nil {
		return nil, err
	}
	wf, err := workflows.WriteCallers(abs, cfg, req.Version)
	if err != nil {
		return nil, err
	}
	pol, err := writeDefaultPolicy(abs)
	if err != nil {
		return nil, err
	}
	if err := CommitFiles(abs, id.KID, "vmc: init ledger "+req.Ledger, append(append([]string{config.Path}, wf...), pol...)...); err != nil {
		return nil, err
	}
	return &InitResult{Ledger: req.Ledger, Dir: abs, Branch: req.Branch, MainBranch: req.MainBranch, Commit: w.Commit.String(), GenesisBlake3: w.Sums.Blake3}, nil
}
