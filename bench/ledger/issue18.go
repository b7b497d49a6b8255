package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
