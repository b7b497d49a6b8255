package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/vmc-git/vmc-git/bench/internal/kit"
	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/receipt"
)

// Targets of issue 18.
const (
	targetIncrementalMS = 50.0  // verify again after 1 new receipt on the largest ledger
	targetCloneS        = 10.0  // git clone --no-local of the largest ledger
	targetCloneRSSMB    = 200.0 // its peak RSS
)

// cpuTime is this process's user+sys CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// verifyAgain copies the ledger, verifies it once remembering the head
// (untimed), then per run appends one receipt and times verify --sig from
// the remembered head, counting the objects it reads.
func (b *bench) verifyAgain(dir string, n int) error {
	tmp, err := os.MkdirTemp(b.out, "incremental-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	cp := filepath.Join(tmp, "ledger")
	if out, err := exec.Command("cp", "-a", dir, cp).CombinedOutput(); err != nil {
		return fmt.Errorf("cp: %v: %s", err, out)
	}
	l, err := gitledger.Open(cp, "")
	if err != nil {
		return err
	}
	opt := gitledger.VerifyOptions{Signatures: true, Remember: true}
	if _, err := l.Verify(opt); err != nil {
		return err
	}
	build := func(*gitledger.Tip) (*gitledger.Draft, error) {
		return &gitledger.Draft{Receipt: receipt.Receipt{Kind: receipt.KindManual, Summary: "bench incremental", Manual: &receipt.Manual{}}}, nil
	}
	var ds []time.Duration
	reads := 0
	for i := 0; i < b.runs; i++ {
		if _, err := l.Append(b.signer, kit.KID, build); err != nil {
			return err
		}
		fresh, err := gitledger.Open(cp, "") // a new process's view: no caches
		if err != nil {
			return err
		}
		start := time.Now()
		rep, err := fresh.Verify(opt)
		d := time.Since(start)
		if err != nil {
			return err
		}
		if !rep.Incremental || rep.Checked != 1 {
			return fmt.Errorf("verify after 1 new receipt: incremental %v, checked %d", rep.Incremental, rep.Checked)
		}
		ds = append(ds, d)
		reads = fresh.ObjectsRead()
	}
	d := kit.Median(ds)
	kit.Logf("verify --sig after 1 new receipt on %d: %v, %d objects read", n, d, reads)
	ok := float64(d)/1e6 < targetIncrementalMS
	b.add(fmt.Sprintf("verify --sig again after 1 new receipt on %s (from the remembered head)", kit.Count(n)), ms(d), fmt.Sprintf("< %.0f ms", targetIncrementalMS), &ok)
	b.add(fmt.Sprintf("objects read by that verify, %s", kit.Count(n)), fmt.Sprint(reads), "O(k), flat in n", nil)
	return nil
}

// cloneTime times git clone --no-local --bare of the ledger and reports peak
// RSS (wait4 rusage of git clone: its own and its waited-for children's):
// once with the local git-upload-pack as clone's child, so that the serving
// side (pack-objects) counts too, and once with it detached (setsid -f), so
// that only the client side counts (clone and index-pack), as in a clone
// from a remote server.
func (b *bench) cloneTime(dir string, n int) error {
	tmp, err := os.MkdirTemp(b.out, "clone-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	run := func(i int, args ...string) (time.Duration, float64, error) {
		dst := filepath.Join(tmp, fmt.Sprintf("c%d.git", i))
		defer os.RemoveAll(dst)
		cmd := gitCmd(tmp, append(append([]string{"clone", "-q", "--no-local", "--bare"}, args...), dir, dst)...)
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			return 0, 0, fmt.Errorf("git clone: %v: %s", err, out)
		}
		d := time.Since(start)
		if out, err := gitCmd(dst, "rev-list", "--count", gitledger.DefaultBranch).Output(); err != nil || strings.TrimSpace(string(out)) != fmt.Sprint(n) {
			return 0, 0, fmt.Errorf("clone has %q commits, want %d: %v", out, n, err)
		}
		var mb float64
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			mb = float64(ru.Maxrss) / 1024
		}
		return d, mb, nil
	}
	var ds []time.Duration
	var all, client []float64
	for i := 0; i < b.runs; i++ {
		d, mb, err := run(2 * i)
		if err != nil {
			return err
		}
		ds, all = append(ds, d), append(all, mb)
		if _, mb, err = run(2*i+1, "--upload-pack", "setsid -f git-upload-pack"); err != nil {
			return err
		}
		client = append(client, mb)
	}
	d := kit.Median(ds)
	slices.Sort(all)
	slices.Sort(client)
	mbAll, mbClient := all[len(all)/2], client[len(client)/2]
	kit.Logf("git clone --no-local of %d: %v, %.0f MB with the serving side, %.0f MB client side", n, d, mbAll, mbClient)
	ok := d.Seconds() < targetCloneS
	b.add(fmt.Sprintf("git clone --no-local of the %s ledger", kit.Count(n)), fmt.Sprintf("%.2f s", d.Seconds()), fmt.Sprintf("< %.0f s", targetCloneS), &ok)
	okr := mbAll < targetCloneRSSMB
	b.add(fmt.Sprintf("peak RSS of that clone, serving side included (pack-objects), %s", kit.Count(n)), fmt.Sprintf("%.0f MB", mbAll), fmt.Sprintf("< %.0f MB", targetCloneRSSMB), &okr)
	okc := mbClient < targetCloneRSSMB
	b.add(fmt.Sprintf("peak RSS of that clone, client side only (clone, index-pack), %s", kit.Count(n)), fmt.Sprintf("%.0f MB", mbClient), fmt.Sprintf("< %.0f MB", targetCloneRSSMB), &okc)
	return nil
}
