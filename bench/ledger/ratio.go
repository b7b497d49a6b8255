package main

import (
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/vmc-git/vmc-git/bench/internal/kit"
)

// The verify/floor ratio on a shared machine (-ratio): verify --sig of the
// 10k ledger and the floor take turns, run after run, so that each pair
// sees the same load, and each run also verifies once with GOMAXPROCS=1 (a
// diagnostic: what the parallel structure costs is the difference). The
// rows give the medians of each and the median of the pairs' ratios, in
// CPU time (user+sys of this process) and wall time.

// ratio measures verify and the floor of dir (n receipts) alternately.
func (b *bench) ratio(dir string, n int) error {
	work, err := b.floorWork(dir, n)
	if err != nil {
		return err
	}
	pub := b.signer.PublicKey()
	procs := runtime.GOMAXPROCS(0)
	var vw, vc, v1c, fw, fc, rw, rc, r1c []time.Duration
	timed := func(f func() error) (wall, cpu time.Duration, err error) {
		runtime.GC()
		c0, t0 := cpuTime(), time.Now()
		err = f()
		return time.Since(t0), cpuTime() - c0, err
	}
	for i := 0; i < b.runs; i++ {
		w, c, err := timed(func() error { return verify(dir) })
		if err != nil {
			return err
		}
		runtime.GOMAXPROCS(1)
		_, c1, err := timed(func() error { return verify(dir) })
		runtime.GOMAXPROCS(procs)
		if err != nil {
			return err
		}
		w2, c2, err := timed(func() error { return floorRun(work, pub) })
		if err != nil {
			return err
		}
		vw, vc, v1c, fw, fc = append(vw, w), append(vc, c), append(v1c, c1), append(fw, w2), append(fc, c2)
		// ratios kept as durations of 1e6 per 1.0x, for kit.Median
		rw = append(rw, time.Duration(1e6*float64(w)/float64(w2)))
		rc = append(rc, time.Duration(1e6*float64(c)/float64(c2)))
		r1c = append(r1c, time.Duration(1e6*float64(c1)/float64(c2)))
		kit.Logf("run %d: verify %v wall %v CPU (1 core: %v CPU), floor %v wall %v CPU", i, w/time.Duration(n), c/time.Duration(n), c1/time.Duration(n), w2/time.Duration(n), c2/time.Duration(n))
	}
	per := func(ds []time.Duration) string { return us(kit.Median(ds) / time.Duration(n)) }
	x := func(ds []time.Duration) float64 { return float64(kit.Median(ds)) / 1e6 }
	b.add(fmt.Sprintf("verify --sig per receipt, %s, %d cores: wall / CPU", kit.Count(n), procs), per(vw)+" / "+per(vc), "", nil)
	b.add(fmt.Sprintf("verify --sig CPU per receipt, %s, 1 core (diagnostic)", kit.Count(n)), per(v1c), "", nil)
	b.add(fmt.Sprintf("floor per receipt, %s, %d cores: wall / CPU", kit.Count(n), procs), per(fw)+" / "+per(fc), "", nil)
	okw, okc := x(rw) <= targetFloorRatio, x(rc) <= targetFloorRatio
	b.add("verify --sig / floor, wall (median of pairs)", fmt.Sprintf("%.2fx", x(rw)), fmt.Sprintf("<= %.1fx", targetFloorRatio), &okw)
	b.add("verify --sig / floor, CPU time (median of pairs)", fmt.Sprintf("%.2fx", x(rc)), fmt.Sprintf("<= %.1fx", targetFloorRatio), &okc)
	b.add("verify --sig on 1 core / floor, CPU time (diagnostic)", fmt.Sprintf("%.2fx", x(r1c)), "", nil)
	return nil
}

// runRatio is the -ratio mode: only the rows of ratio, on the 10k ledger.
func (b *bench) runRatio() {
	dir, err := b.ledger(gitLogN)
	if err == nil {
		err = b.ratio(dir, gitLogN)
	}
	if err != nil {
		kit.Fail("ledger", err)
	}
	b.table.Print(os.Stdout, fmt.Sprintf("### ledger: verify / floor, taking turns (runs=%d, GOMAXPROCS=%d, %s/%s)", b.runs, runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH))
}
