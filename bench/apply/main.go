// Command apply benchmarks apply throughput (issue 3) and prints one
// markdown table (metric | value | target | ok):
//
//	go run ./bench/apply [-runs 3] [-plans 200] [-action-ms 10]
//
// Each run makes a fresh ledger (a real git repository, fsynced writes) and a
// fresh Hetzner-compatible sandbox with a persistent state file, served on
// loopback and reached through hcloud-go, as `vmc-git apply` does with
// provider sandbox. It makes -plans approved plans "create web-N" (dry runs
// against the sandbox, all against the genesis head, as when many merged
// plans wait for one CI run), then times Applier.ApplyPending over all of
// them: intent journal, locks, freshness checks, provider calls, receipts.
// The provider is wrapped to time its calls, which gives the share of the
// wall time spent outside the provider (vmc-git's own cost). Values are
// medians of -runs runs; setup is not timed.
//
// The sandbox's actions take -action-ms (10 ms by default), hundreds of times
// faster than Hetzner's (seconds), so the share outside the provider is far
// higher here than against the real API; its target is therefore on the
// absolute time per plan. Most of that time is the ledger's fsynced append
// (one signed receipt commit per plan) and the fsynced intent journal.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"sync"
	"time"

	"github.com/vmc-git/vmc-git/apply"
	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/internal/lock"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/provider"
	"github.com/vmc-git/vmc-git/provider/sandbox"
	"github.com/vmc-git/vmc-git/receipt"
)

const (
	ledgerID = "github.com/acme/bench"
	token    = "bench-token"

	// Targets: 200 merged plans applied in under 40 s against the fast
	// sandbox, and at most 100 ms of vmc-git's own time per plan (a few
	// percent of a real Hetzner action).
	targetPlansPerSec = 5.0
	targetOutsideMS   = 100.0
)

func main() {
	runs := flag.Int("runs", 3, "runs (the median is reported)")
	n := flag.Int("plans", 200, "plans per run")
	actionMS := flag.Int("action-ms", 10, "how long each sandbox action runs, in milliseconds")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the timed ApplyPending calls")
	traceFile := flag.String("trace", "", "write an execution trace of the timed ApplyPending calls (go tool trace -pprof=syscall: time blocked in fsync)")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fail(err)
		}
		profile = func(on bool) {
			if on {
				pprof.StartCPUProfile(f)
			} else {
				pprof.StopCPUProfile()
			}
		}
	}
	if *traceFile != "" {
		f, err := os.Create(*traceFile)
		if err != nil {
			fail(err)
		}
		tracing = func(on bool) {
			if on {
				trace.Start(f)
			} else {
				trace.Stop()
			}
		}
	}
	if *runs < 1 || *n < 1 || *actionMS < 1 {
		fail(fmt.Errorf("-runs, -plans and -action-ms must be positive"))
	}
	var rs []result
	for i := 0; i < *runs; i++ {
		r, err := run(*n, time.Duration(*actionMS)*time.Millisecond)
		if err != nil {
			fail(err)
		}
		logf("run %d: %d plans in %s (provider.Apply %s, provider reads %s)", i+1, *n, r.wall.Round(time.Millisecond),
			r.apply.Round(time.Millisecond), r.reads.Round(time.Millisecond))
		rs = append(rs, r)
	}
	med := func(f func(result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	perSec := med(func(r result) float64 { return float64(*n) / r.wall.Seconds() })
	outside := med(func(r result) float64 { return 1 - float64(r.apply+r.reads)/float64(r.wall) })
	outsideApply := med(func(r result) float64 { return 1 - float64(r.apply)/float64(r.wall) })
	perPlan := func(f func(result) time.Duration) string {
		return fmt.Sprintf("%.2f ms", med(func(r result) float64 { return float64(f(r)) / float64(*n) / 1e6 }))
	}
	ok := func(b bool) string { return map[bool]string{true: "yes", false: "NO"}[b] }

	fmt.Printf("apply throughput: %d plans (create), sandbox actions %d ms, median of %d runs\n\n", *n, *actionMS, *runs)
	fmt.Println("| metric | value | target | ok |")
	fmt.Println("|---|---|---|---|")
	fmt.Printf("| plans applied per second | %.1f | >= %.0f | %s |\n", perSec, targetPlansPerSec, ok(perSec >= targetPlansPerSec))
	outsideMS := med(func(r result) float64 { return float64(r.wall-r.apply-r.reads) / float64(*n) / 1e6 })
	fmt.Printf("| share of wall time outside provider.Apply | %.1f%% | (see doc) | |\n", 100*outsideApply)
	fmt.Printf("| share outside every provider call (Apply and reads) | %.1f%% | | |\n", 100*outside)
	fmt.Printf("| time outside the provider per plan | %.1f ms | <= %.0f ms | %s |\n", outsideMS, targetOutsideMS, ok(outsideMS <= targetOutsideMS))
	fmt.Printf("| wall time per plan | %s | | |\n", perPlan(func(r result) time.Duration { return r.wall }))
	fmt.Printf("| provider.Apply per plan | %s | | |\n", perPlan(func(r result) time.Duration { return r.apply }))
	fmt.Printf("| provider reads per plan (freshness checks) | %s | | |\n", perPlan(func(r result) time.Duration { return r.reads }))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench/apply:", err)
	os.Exit(1)
}

func logf(format string, a ...any) { fmt.Fprintf(os.Stderr, format+"\n", a...) }

// profile and tracing start (true) and stop (false) the CPU profile and
// the execution trace around the timed calls (-cpuprofile, -trace): only
// the first run is recorded.
var profile, tracing = func(bool) {}, func(bool) {}

type result struct {
	wall, apply, reads time.Duration
}

// timed is a Provider that adds up the time spent in its calls.
type timed struct {
	provider.Provider
	mu           sync.Mutex
	apply, reads time.Duration
}

func (t *timed) add(d *time.Duration, start time.Time) {
	t.mu.Lock()
	*d += time.Since(start)
	t.mu.Unlock()
}

func (t *timed) Apply(ctx context.Context, a provider.Action, labels map[string]string) (provider.Result, error) {
	defer t.add(&t.apply, time.Now())
	return t.Provider.Apply(ctx, a, labels)
}

func (t *timed) Server(ctx context.Context, name string) (*provider.Server, error) {
	defer t.add(&t.reads, time.Now())
	return t.Provider.Server(ctx, name)
}

func (t *timed) Servers(ctx context.Context, sel string) ([]provider.Server, error) {
	defer t.add(&t.reads, time.Now())
	return t.Provider.Servers(ctx, sel)
}

func signer(dir, kid string) (*keys.Signer, error) {
	priv, pub, err := keys.Generate(kid)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, kid)
	if err := keys.WriteKeyPair(path, priv, pub); err != nil {
		return nil, err
	}
	return keys.LoadFile(path)
}

func run(n int, actionDur time.Duration) (result, error) {
	dir, err := os.MkdirTemp("", "vmc-bench-apply-")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	repo := filepath.Join(dir, "infra")
	if out, err := exec.Command("git", "init", "-q", repo).CombinedOutput(); err != nil {
		return result{}, fmt.Errorf("git init: %v: %s", err, out)
	}
	ci, err := signer(dir, "ci")
	if err != nil {
		return result{}, err
	}
	bob, err := signer(dir, "bob")
	if err != nil {
		return result{}, err
	}
	l, err := gitledger.Open(repo, "")
	if err != nil {
		return result{}, err
	}
	g := receipt.Genesis{Keys: []keys.KeySpec{
		{KID: "bob", PublicKey: keys.FormatPublicKey(bob.PublicKey()), Roles: []keys.Role{keys.RoleApprover}},
		{KID: "ci", PublicKey: keys.FormatPublicKey(ci.PublicKey()), Roles: []keys.Role{keys.RoleAdmin, keys.RoleApplier}},
	}, Policy: keys.Policy{ApprovalsRequired: 1, AdminThreshold: 1}}
	w, err := l.Init(ledgerID, ci, "ci", g, time.Now().Add(-time.Minute))
	if err != nil {
		return result{}, err
	}
	sb, err := sandbox.New(sandbox.Options{Token: token, StatePath: filepath.Join(l.GitDir, "vmc", "sandbox.json"), ActionDuration: actionDur})
	if err != nil {
		return result{}, err
	}
	defer sb.Close()
	url, err := sb.Start("")
	if err != nil {
		return result{}, err
	}
	hp, err := provider.New(provider.Config{Token: token, Endpoint: url, PollInterval: 2 * time.Millisecond})
	if err != nil {
		return result{}, err
	}
	ctx := context.Background()

	// The plans, made and approved before the clock starts.
	head := plans.LedgerRef{Seq: w.Seq, Blake3: w.Sums.Blake3}
	start := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	var pending []apply.PendingPlan
	for i := 0; i < n; i++ {
		a := provider.Action{Op: provider.OpCreate, Server: fmt.Sprintf("web-%d", i+1), ServerType: "cx22", Image: "ubuntu-24.04",
			Location: "fsn1", Labels: map[string]string{"role": "web"}}
		p, err := plans.Make(ctx, hp, plans.Request{Ledger: ledgerID, Head: head, CreatedBy: "alice", Actions: []provider.Action{a}, Now: start.Add(time.Duration(i) * time.Second)})
		if err != nil {
			return result{}, err
		}
		b, err := p.Encode()
		if err != nil {
			return result{}, err
		}
		sig, err := plans.Approve(bob, b)
		if err != nil {
			return result{}, err
		}
		pending = append(pending, apply.PendingPlan{ID: p.ID, Input: apply.Input{Bytes: b, Approvals: map[string][]byte{"bob": sig}}, Added: int64(i)})
	}

	tp := &timed{Provider: hp}
	ap := apply.New(apply.Options{Ledger: l, Provider: tp, Signer: ci, KID: "ci", Locks: lock.New(filepath.Join(dir, "locks")), LockWait: time.Second})
	profile(true)
	tracing(true)
	t0 := time.Now()
	outs, errs, err := ap.ApplyPending(ctx, func() ([]apply.PendingPlan, error) { return pending, nil })
	wall := time.Since(t0)
	profile(false)
	tracing(false)
	profile, tracing = func(bool) {}, func(bool) {}
	if err != nil {
		return result{}, err
	}
	if len(errs) > 0 {
		return result{}, fmt.Errorf("%d plans refused, first: %w", len(errs), errs[0])
	}
	if len(outs) != n {
		return result{}, fmt.Errorf("%d plans applied, want %d", len(outs), n)
	}
	for _, o := range outs {
		if o.Status != provider.StatusSucceeded {
			return result{}, fmt.Errorf("plan %s: %s", o.Plan, o.Status)
		}
	}
	if _, err := l.Verify(gitledger.VerifyOptions{Signatures: true}); err != nil {
		return result{}, fmt.Errorf("verify: %w", err)
	}
	return result{wall: wall, apply: tp.apply, reads: tp.reads}, nil
}
