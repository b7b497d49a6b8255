package workspace

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/internal/config"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/internal/workflows"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/policy"
	"github.com/vmc-git/vmc-git/receipt"
)

// InitRequest is what Init needs to create a ledger.
type InitRequest struct {
	Dir        string // the repository's directory; created (git init) if it is not one
	Ledger     string // ledger id, e.g. github.com/acme/infra
	Branch     string // ledger branch
	MainBranch string // branch for config, plans and workflows; "" for the repository's current branch
	Provider   string // config.ProviderHetzner ("" too) or config.ProviderSandbox
	Genesis    receipt.Genesis
	// Version is the vmc-git version writing the callers, which pin it
	// (workflows.ParamsFor): the binary's release, or "dev".
	Version string
	// NoPolicy: do not write the default policy set. The genesis pins the
	// policy main holds after init (policypin.go): the default set (with
	// any policy files committed before), or none (apply then records
	// policy result none, until an admin pins policy files committed
	// later: vmc-git policy pin).
	NoPolicy bool
}

// InitResult describes the new ledger.
type InitResult struct {
	Ledger        string        `json:"ledger"`
	Dir           string        `json:"dir"`
	Branch        string        `json:"branch"`
	MainBranch    string        `json:"main_branch"`
	Provider      string        `json:"provider"`
	Commit        string        `json:"commit"`
	GenesisBlake3 digest.Digest `json:"genesis_blake3"`
}

// Init creates the repository (if needed), the genesis receipt on the
// ledger branch signed by id, then .vmc/config.json (pinning the genesis)
// the caller workflows and the default policy set (policy/*.rego),
// committed on the main branch: req.MainBranch,
// or "" for the branch the repository is on (its HEAD, born or not; main
// for a new repository).
//
// It is atomic: everything is validated before anything is written (the
// ledger id, branch names, provider, the genesis keys, roles and
// thresholds, id's right to sign the genesis), and a failure after that
// puts the directory back as it was (a repository it created is removed;
// in an existing one the ledger branch and the files it wrote are). It
// refuses a repository that has a config or a ledger branch already.
func Init(req InitRequest, id Identity) (res *InitResult, err error) {
	if err := receipt.ValidLedgerID(req.Ledger); err != nil {
		return nil, usageErr(err)
	}
	abs, err := filepath.Abs(req.Dir)
	if err != nil {
		return nil, err
	}
	_, statErr := os.Stat(filepath.Join(abs, ".git"))
	isRepo := statErr == nil
	if req.MainBranch == "" {
		req.MainBranch = "main"
		if isRepo {
			if out, err := gitCmd(abs, "symbolic-ref", "--short", "HEAD"); err == nil && strings.TrimSpace(out) != "" {
				req.MainBranch = strings.TrimSpace(out)
			}
		}
	}
	if req.Branch == "" {
		req.Branch = gitledger.DefaultBranch
	}
	if req.Provider == "" {
		req.Provider = config.ProviderHetzner
	}
	for _, b := range []string{req.Branch, req.MainBranch} {
		if plumbing.NewBranchReferenceName(b).Validate() != nil || strings.HasPrefix(b, "-") {
			return nil, usagef("invalid branch name %q", b)
		}
	}
	if req.Branch == req.MainBranch {
		return nil, usagef("the ledger branch and the main branch are both %s: they must differ", req.Branch)
	}
	// The config as it will be (the genesis pin is filled in later).
	cfg := &config.Config{V: 1, Ledger: req.Ledger, Branch: req.Branch, MainBranch: req.MainBranch, Provider: req.Provider}
	if err := cfg.Validate(); err != nil {
		return nil, usageErr(err, "--provider hetzner (HCLOUD_TOKEN, HCLOUD_ENDPOINT) or --provider sandbox (embedded, this clone only)")
	}
	now := time.Now()
	t, err := keys.NewTrust(req.Genesis.Keys, req.Genesis.Policy, now)
	if err != nil {
		return nil, usageErr(fmt.Errorf("genesis: %w", err))
	}
	if _, err := t.Authorize(id.KID, id.Signer.PublicKey(), now, receipt.Roles[receipt.KindGenesis]...); err != nil {
		return nil, usageErr(fmt.Errorf("genesis: the signing key must be the admin %s of the genesis: %w", id.KID, err), "give the signing key the admin role (--roles admin,...)")
	}
	if isRepo {
		if _, err := os.Stat(filepath.Join(abs, config.Path)); err == nil {
			return nil, refusedErr(fmt.Errorf("%s already exists in %s: this repository has a ledger", config.Path, abs))
		}
		if out, err := gitCmd(abs, "rev-parse", "-q", "--verify", "refs/heads/"+req.Branch); err == nil && strings.TrimSpace(out) != "" {
			return nil, refusedErr(fmt.Errorf("ledger branch %s already exists in %s", req.Branch, abs),
				"this repository already has a ledger; to start over, delete it: git update-ref -d refs/heads/"+req.Branch)
		}
		if out, _ := gitCmd(abs, "symbolic-ref", "--short", "HEAD"); strings.TrimSpace(out) != req.MainBranch {
			return nil, usagef("the repository is on branch %s, not %s: switch to it (git switch %s) or give --main-branch %s", strings.TrimSpace(out), req.MainBranch, req.MainBranch, strings.TrimSpace(out))
		}
	}

	// From here on, undo everything on failure.
	var undo []func()
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		}
	}()
	if _, err := os.Stat(abs); errors.Is(err, os.ErrNotExist) {
		undo = append(undo, func() { os.RemoveAll(abs) })
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, err
	}
	if !isRepo {
		undo = append(undo, func() { os.RemoveAll(filepath.Join(abs, ".git")) })
		if _, err := gitCmd(abs, "init", "-q", "-b", req.MainBranch); err != nil {
			return nil, err
		}
	}
	l, err := gitledger.Open(abs, req.Branch)
	if err != nil {
		return nil, err
	}
	req.Genesis.Provider = req.Provider // pinned: a config naming another provider is refused
	// The policy main holds after this commit is pinned too (policypin.go).
	rev := ""
	if out, err := gitCmd(abs, "rev-parse", "-q", "--verify", "HEAD^{commit}"); err == nil && strings.TrimSpace(out) != "" {
		rev = strings.TrimSpace(out)
	}
	if req.Genesis.PolicyBundle, err = genesisPolicyBundle(abs, rev, req.NoPolicy); err != nil {
		return nil, err
	}
	w, err := l.Init(req.Ledger, id.Signer, id.KID, req.Genesis, now)
	if err != nil {
		return nil, err
	}
	undo = append(undo, func() {
		gitCmd(abs, "update-ref", "-d", "refs/heads/"+req.Branch, w.Commit.String())
		os.RemoveAll(filepath.Join(l.GitDir, "vmc"))
	})
	cfg.GenesisBlake3 = w.Sums.Blake3
	b, err := cfg.Encode()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(abs, ".vmc")); errors.Is(err, os.ErrNotExist) {
		undo = append(undo, func() { os.RemoveAll(filepath.Join(abs, ".vmc")) })
	}
	if err := os.MkdirAll(filepath.Join(abs, ".vmc"), 0o755); err != nil {
		return nil, err
	}
	undo = append(undo, func() { os.Remove(filepath.Join(abs, config.Path)) })
	if err := os.WriteFile(filepath.Join(abs, config.Path), b, 0o644); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(abs, ".github")); errors.Is(err, os.ErrNotExist) {
		undo = append(undo, func() { os.RemoveAll(filepath.Join(abs, ".github")) })
	}
	wf, err := workflows.WriteCallers(abs, cfg, req.Version)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(abs, policy.Dir)); os.IsNotExist(err) {
		undo = append(undo, func() { os.RemoveAll(filepath.Join(abs, policy.Dir)) })
	}
	var pol []string
	if !req.NoPolicy {
		if pol, err = writeDefaultPolicy(abs); err != nil {
			return nil, err
		}
	}
	paths := append(append([]string{config.Path}, wf...), pol...)
	undo = append(undo, func() { gitCmd(abs, append([]string{"reset", "-q", "--"}, paths...)...) })
	if err := CommitFiles(abs, id.KID, "vmc: init ledger "+req.Ledger, paths...); err != nil {
		return nil, err
	}
	return &InitResult{Ledger: req.Ledger, Dir: abs, Branch: req.Branch, MainBranch: req.MainBranch, Provider: req.Provider, Commit: w.Commit.String(), GenesisBlake3: w.Sums.Blake3}, nil
}
