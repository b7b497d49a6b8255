package main

import (
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/vmc-git/vmc-git/bench/internal/kit"
)

// Before and after in one run: -before names a build of this benchmark
// from an older commit (e.g. go build -o /tmp/ledger-main ./bench/ledger in
// a checkout of main). Both binaries verify the same ledger in child
// processes (-verify-child), alternately, so that they see the same load;
// each child's user+sys CPU time comes from its rusage and includes only
// its own process (start, open and verify). The rows give the medians and
// their ratios to the floor this run measured.

// childVerify runs exe -verify-child dir and returns its wall and CPU time.
func childVerify(exe, dir string) (wall, cpu time.Duration, err error) {
	cmd := exec.Command(exe, "-verify-child", dir)
	cmd.Stderr = os.Stderr
	start := time.Now()
	if out, err := cmd.Output(); err != nil {
		return 0, 0, fmt.Errorf("%s -verify-child: %w (%s)", exe, err, out)
	}
	wall = time.Since(start)
	st := cmd.ProcessState
	return wall, st.UserTime() + st.SystemTime(), nil
}

// beforeAfter times verify --sig of dir (n receipts) with the before
// binary and with this one, alternately, and adds their rows.
func (b *bench) beforeAfter(before, dir string, n int, floorWall, floorCPU time.Duration) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	var walls, cpus [2][]time.Duration
	for i := 0; i < b.runs; i++ {
		for k, exe := range []string{before, self} {
			w, c, err := childVerify(exe, dir)
			if err != nil {
				return err
			}
			walls[k] = append(walls[k], w/time.Duration(n))
			cpus[k] = append(cpus[k], c/time.Duration(n))
		}
	}
	for k, name := range []string{"before (" + before + ")", "after (this build)"} {
		w, c := kit.Median(walls[k]), kit.Median(cpus[k])
		kit.Logf("verify --sig %s, %d: %v wall, %v CPU per receipt", name, n, w, c)
		b.add(fmt.Sprintf("verify --sig per receipt, %s, %s, child process: wall / CPU", kit.Count(n), name), us(w)+" / "+us(c), "", nil)
		okw, okc := float64(w)/float64(floorWall) <= targetFloorRatio, float64(c)/float64(floorCPU) <= targetFloorRatio
		b.add(fmt.Sprintf("  / floor, %s: wall", name), fmt.Sprintf("%.2fx", float64(w)/float64(floorWall)), fmt.Sprintf("<= %.1fx", targetFloorRatio), &okw)
		b.add(fmt.Sprintf("  / floor, %s: CPU time", name), fmt.Sprintf("%.2fx", float64(c)/float64(floorCPU)), fmt.Sprintf("<= %.1fx", targetFloorRatio), &okc)
	}
	return nil
}
