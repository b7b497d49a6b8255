// Package kit is what the benchmark programs under bench/ share: the cached
// ledgers they measure (bench/out/ledger-<n>: genesis plus n-1 generated,
// signed manual receipts, key bench/out/key, kid "bench"), medians, and the
// markdown table every program prints (metric | value | target | ok).
package kit

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/receipt"
)

// The cached ledgers' identity.
const (
	LedgerID = "github.com/acme/bench"
	KID      = "bench"
)

// Logf reports progress on stderr.
func Logf(format string, a ...any) { fmt.Fprintf(os.Stderr, format+"\n", a...) }

// Fail prints err and exits 1.
func Fail(prog string, err error) {
	fmt.Fprintf(os.Stderr, "bench/%s: %v\n", prog, err)
	os.Exit(1)
}

// Open makes the cache directory out if needed and returns its absolute
// path and the benchmark key (see Key).
func Open(out string) (string, *keys.Signer, error) {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", nil, err
	}
	out, err := filepath.Abs(out)
	if err != nil {
		return "", nil, err
	}
	s, err := Key(out)
	return out, s, err
}

// Key loads out/key, making it on first use.
func Key(out string) (*keys.Signer, error) {
	keyPath := filepath.Join(out, "key")
	if _, err := os.Stat(keyPath); errors.Is(err, os.ErrNotExist) {
		priv, pub, err := keys.Generate(KID)
		if err != nil {
			return nil, err
		}
		if err := keys.WriteKeyPair(keyPath, priv, pub); err != nil {
			return nil, err
		}
	}
	return keys.LoadFile(keyPath)
}

// Ledger returns out/ledger-<n>, generating it (one pack, real signatures)
// if it is missing, not n receipts long or not in receipt.DefaultFormat. made is the generation time, 0
// when the cached ledger was used.
func Ledger(out string, s *keys.Signer, n int) (dir string, made time.Duration, err error) {
	dir = filepath.Join(out, fmt.Sprintf("ledger-%d", n))
	if l, err := gitledger.Open(dir, ""); err == nil {
		if t, err := l.Tip(); err == nil && t.Head.Seq == uint64(n-1) && t.Head.Ledger == LedgerID && t.Head.V == receipt.DefaultFormat {
			return dir, 0, nil
		}
	}
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", 0, err
	}
	if out, err := exec.Command("git", "-C", dir, "init", "-q", "-b", "main").CombinedOutput(); err != nil {
		return "", 0, fmt.Errorf("git init: %v: %s", err, out)
	}
	start := time.Now()
	l, err := gitledger.Open(dir, "")
	if err != nil {
		return "", 0, err
	}
	g := receipt.Genesis{Keys: []keys.KeySpec{{KID: KID, PublicKey: keys.FormatPublicKey(s.PublicKey()),
		Roles: []keys.Role{keys.RoleAdmin, keys.RoleApplier, keys.RoleApprover}}},
		Policy: keys.Policy{ApprovalsRequired: 1, AdminThreshold: 1}}
	if _, err := l.Init(LedgerID, s, KID, g, time.Now()); err != nil {
		return "", 0, err
	}
	if _, err := gitledger.Generate(l, s, KID, n-1, gitledger.GenerateOptions{Summary: "maintenance"}); err != nil {
		return "", 0, err
	}
	made = time.Since(start)
	Logf("generated %d receipts in %v", n, made.Round(time.Millisecond))
	return dir, made, nil
}

// Median returns the median of ds.
func Median(ds []time.Duration) time.Duration {
	ds = slices.Clone(ds)
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// MedianRun runs f runs times (after a GC each) and returns the median time.
func MedianRun(runs int, f func() error) (time.Duration, error) {
	ds := make([]time.Duration, runs)
	for i := range ds {
		runtime.GC()
		start := time.Now()
		if err := f(); err != nil {
			return 0, err
		}
		ds[i] = time.Since(start)
	}
	return Median(ds), nil
}

// Count renders 1000 as 1k and 1000000 as 1M.
func Count(n int) string {
	switch {
	case n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return strconv.Itoa(n)
}

// Table is the markdown table a benchmark prints.
type Table struct{ rows [][4]string }

// Add appends a row; ok nil leaves the ok column empty.
func (t *Table) Add(metric, value, target string, ok *bool) {
	o := ""
	if ok != nil {
		o = map[bool]string{true: "yes", false: "NO"}[*ok]
	}
	t.rows = append(t.rows, [4]string{metric, value, target, o})
}

// Print writes the title and the table.
func (t *Table) Print(w io.Writer, title string) {
	fmt.Fprintf(w, "%s\n\n| metric | value | target | ok |\n|---|---|---|---|\n", title)
	for _, r := range t.rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", r[0], r[1], r[2], r[3])
	}
}
