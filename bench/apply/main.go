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
// (one signed receipt commit per plan, written as one small pack and its
// index) and the fsynced intent journal. The table also gives how many
// packs a run leaves in objects/pack (one a receipt, merged as the run
// goes on: it stays O(log n)).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"sync"
	"syscall"
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
	// Issue 18: vmc-git's own time per plan, flat in the batch size.
	targetIssue18MS = 20.0
	targetBatchGrow = 1.5
)

func main() {
	runs := flag.Int("runs", 3, "runs (the median is reported)")
	n := flag.Int("plans", 200, "plans per run")
	small := flag.Int("batch", 50, "a smaller batch, run as often, for the batch-size ratio (0: none)")
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
	if *runs < 1 || *n < 1 || *actionMS < 1 || *small < 0 {
		fail(fmt.Errorf("-runs, -plans and -action-ms must be positive"))
	}
	var rs, ss []result
	for i := 0; i < *runs; i++ {
		r, err := run(*n, time.Duration(*actionMS)*time.Millisecond)
		if err != nil {
			fail(err)
		}
		logf("run %d: %d plans in %s (provider.Apply %s, provider reads %s, process CPU %s)", i+1, *n, r.wall.Round(time.Millisecond),
			r.apply.Round(time.Millisecond), r.reads.Round(time.Millisecond), r.cpu.Round(time.Millisecond))
		rs = append(rs, r)
		if *small > 0 {
			r, err := run(*small, time.Duration(*actionMS)*time.Millisecond)
			if err != nil {
				fail(err)
			}
			ss = append(ss, r)
		}
	}
	med := func(rs []result, f func(result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	perSec := med(rs, func(r result) float64 { return float64(*n) / r.wall.Seconds() })
	outside := med(rs, func(r result) float64 { return 1 - float64(r.apply+r.reads)/float64(r.wall) })
	outsideApply := med(rs, func(r result) float64 { return 1 - float64(r.apply)/float64(r.wall) })
	perPlan := func(f func(result) time.Duration) string {
		return fmt.Sprintf("%.2f ms", med(rs, func(r result) float64 { return float64(f(r)) / float64(*n) / 1e6 }))
	}
	ok := func(b bool) string { return map[bool]string{true: "yes", false: "NO"}[b] }
	outsideOf := func(rs []result, n int) float64 {
		return med(rs, func(r result) float64 { return float64(r.wall-r.apply-r.reads) / float64(n) / 1e6 })
	}
	cpuOf := func(rs []result, n int) float64 {
		return med(rs, func(r result) float64 { return float64(r.cpu) / float64(n) / 1e6 })
	}

	fmt.Printf("apply throughput: %d plans (create), sandbox actions %d ms, median of %d runs\n\n", *n, *actionMS, *runs)
	fmt.Println("| metric | value | target | ok |")
	fmt.Println("|---|---|---|---|")
	fmt.Printf("| plans applied per second | %.1f | >= %.0f | %s |\n", perSec, targetPlansPerSec, ok(perSec >= targetPlansPerSec))
	outsideMS := outsideOf(rs, *n)
	fmt.Printf("| share of wall time outside provider.Apply | %.1f%% | (see doc) | |\n", 100*outsideApply)
	fmt.Printf("| share outside every provider call (Apply and reads) | %.1f%% | | |\n", 100*outside)
	fmt.Printf("| time outside the provider per plan (vmc-git's own, wall), batch of %d | %.1f ms | <= %.0f ms (issue 18: < %.0f ms) | %s |\n",
		*n, outsideMS, targetOutsideMS, targetIssue18MS, ok(outsideMS < targetIssue18MS))
	fmt.Printf("| process CPU per plan (user+sys: vmc-git, the hcloud-go client and the in-process sandbox), batch of %d | %.1f ms | | |\n", *n, cpuOf(rs, *n))
	if *small > 0 {
		so := outsideOf(ss, *small)
		fmt.Printf("| time outside the provider per plan, batch of %d | %.1f ms | | |\n", *small, so)
		fmt.Printf("| process CPU per plan, batch of %d | %.1f ms | | |\n", *small, cpuOf(ss, *small))
		g := outsideMS / so
		fmt.Printf("| per-plan time, batch %d / batch %d | %.2fx | flat (<= %.1fx) | %s |\n", *n, *small, g, targetBatchGrow, ok(g <= targetBatchGrow))
	}
	fmt.Printf("| packs in objects/pack after the run (%d receipts) | %.0f | O(log n) | |\n", *n+1, med(rs, func(r result) float64 { return float64(r.packs) }))
	fmt.Printf("| wall time per plan | %s | | |\n", perPlan(func(r result) time.Duration { return r.wall }))
	fmt.Printf("| provider.Apply per plan | %s | | |\n", perPlan(func(r result) time.Duration { return r.apply }))
	fmt.Printf("| provider reads per plan (freshness checks) | %s | | |\n", perPlan(func(r result) time.Duration { return r.reads }))
	fmt.Printf("\nwall time per plan by step of apply (apply.Options.Timing), median of %d runs\n\n", *runs)
	fmt.Printf("| step | batch of %d |", *n)
	if *small > 0 {
		fmt.Printf(" batch of %d |", *small)
	}
	fmt.Println()
	fmt.Print("|---|---|")
	if *small > 0 {
		fmt.Print("---|")
	}
	fmt.Println()
	stepOf := func(rs []result, n int, step string) float64 {
		return med(rs, func(r result) float64 {
			if step == "" { // what no step covers (the loop, pending, recovery)
				var sum time.Duration
				for _, d := range r.steps {
					sum += d
				}
				return float64(r.wall-sum) / float64(n) / 1e6
			}
			return float64(r.steps[step]) / float64(n) / 1e6
		})
	}
	for _, st := range append(slices.Clone(steps), "") {
		name := st
		if st == "" {
			name = "(outside the steps)"
		}
		fmt.Printf("| %s | %.2f ms |", name, stepOf(rs, *n, st))
		if *small > 0 {
			fmt.Printf(" %.2f ms |", stepOf(ss, *small, st))
		}
		fmt.Println()
	}
	fmt.Println()
	one, seq, par, two, err := fsyncs(os.TempDir())
	if err != nil {
		fail(err)
	}
	fmt.Printf("| this disk: one fsync of a 600-byte file (median) | %.2f ms | | |\n", float64(one)/1e6)
	fmt.Printf("| this disk: 15 such fsyncs one after another / all at once (a receipt's loose objects, before issue 18's packs) | %.2f ms / %.2f ms | | |\n", float64(seq)/1e6, float64(par)/1e6)
	fmt.Printf("| this disk: 2 such fsyncs at once (a receipt's pack and index) | %.2f ms | | |\n", float64(two)/1e6)
}

// fsyncs measures the disk under dir: the median time of one fsync of a
// fresh 600-byte file, of 15 of them in sequence and in parallel (what
// an append did with one receipt's loose objects before issue 18's packs), and of 2 in parallel
// (gitobj.PackBatch: one receipt's pack and index).
func fsyncs(dir string) (one, seq, par, two time.Duration, err error) {
	mk := func(n int) ([]*os.File, error) {
		var fs []*os.File
		for i := 0; i < n; i++ {
			f, err := os.CreateTemp(dir, "vmc-bench-fsync-")
			if err != nil {
				return fs, err
			}
			fs = append(fs, f)
			if _, err := f.Write(make([]byte, 600)); err != nil {
				return fs, err
			}
		}
		return fs, nil
	}
	drop := func(fs []*os.File) {
		for _, f := range fs {
			f.Close()
			os.Remove(f.Name())
		}
	}
	times := map[int][]time.Duration{}
	for r := 0; r < 21; r++ {
		for _, mode := range []int{1, 15, -15, -2} {
			n := max(mode, -mode)
			fs, err := mk(n)
			if err != nil {
				drop(fs)
				return 0, 0, 0, 0, err
			}
			start := time.Now()
			if mode > 0 {
				for _, f := range fs {
					err = errors.Join(err, f.Sync())
				}
			} else {
				var wg sync.WaitGroup
				var mu sync.Mutex
				for _, f := range fs {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if e := f.Sync(); e != nil {
							mu.Lock()
							err = errors.Join(err, e)
							mu.Unlock()
						}
					}()
				}
				wg.Wait()
			}
			d := time.Since(start)
			drop(fs)
			if err != nil {
				return 0, 0, 0, 0, err
			}
			times[mode] = append(times[mode], d)
		}
	}
	m := func(ds []time.Duration) time.Duration { slices.Sort(ds); return ds[len(ds)/2] }
	return m(times[1]), m(times[15]), m(times[-15]), m(times[-2]), nil
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
	cpu                time.Duration            // process user+sys during ApplyPending
	packs              int                      // pack indexes in objects/pack after the run
	steps              map[string]time.Duration // apply.Options.Timing: wall time by step
}

// steps are apply's timed steps, in the order a plan goes through them.
var steps = []string{apply.TimePrecheck, apply.TimeLock, apply.TimeVerify, apply.TimeFresh, apply.TimeGate,
	apply.TimeIntent, apply.TimeProvider, apply.TimeAppend, apply.TimeFinish}

// cpuTime is this process's user+sys CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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
	var mu sync.Mutex
	stepTimes := map[string]time.Duration{}
	timing := func(step string, d time.Duration) {
		mu.Lock()
		stepTimes[step] += d
		mu.Unlock()
	}
	ap := apply.New(apply.Options{Ledger: l, Provider: tp, Signer: ci, KID: "ci", Locks: lock.New(filepath.Join(dir, "locks")), LockWait: time.Second, Timing: timing})
	profile(true)
	tracing(true)
	t0, c0 := time.Now(), cpuTime()
	outs, errs, err := ap.ApplyPending(ctx, func() ([]apply.PendingPlan, error) { return pending, nil })
	wall, cpu := time.Since(t0), cpuTime()-c0
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
	idxs, err := filepath.Glob(filepath.Join(l.GitDir, "objects", "pack", "pack-*.idx"))
	if err != nil {
		return result{}, err
	}
	return result{wall: wall, apply: tp.apply, reads: tp.reads, cpu: cpu, steps: stepTimes, packs: len(idxs)}, nil
}
