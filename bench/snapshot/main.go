// Command snapshot measures Merkle snapshots on a real ledger: the
// incremental snapshot after 1,000 new receipts on a 100k ledger against a
// full recompute (issue target: under 5%).
//
// It uses the 100k ledger that bench/ledger generates and caches under
// bench/out/ledger-100000 (run bench/ledger first, or bench/run.sh), on a
// copy so the cache stays clean.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/merkle"
)

func main() {
	out := flag.String("out", "bench/out", "cache directory of bench/ledger")
	runs := flag.Int("runs", 5, "runs (median reported)")
	flag.Parse()
	src := filepath.Join(*out, "ledger-100000")
	if _, err := os.Stat(src); err != nil {
		fail(fmt.Errorf("%s missing: run go run ./bench/ledger first", src))
	}
	tmp, err := os.MkdirTemp("", "vmc-bench-snapshot-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "ledger")
	if out, err := exec.Command("cp", "-a", src, dir).CombinedOutput(); err != nil {
		fail(fmt.Errorf("cp: %v %s", err, out))
	}
	s, err := keys.LoadFile(filepath.Join(*out, "key"))
	if err != nil {
		fail(err)
	}
	l, err := gitledger.Open(dir, "")
	if err != nil {
		fail(err)
	}
	r, err := l.NewReader()
	if err != nil {
		fail(err)
	}
	n := r.Tip.Head.Seq + 1
	base := n - 1000
	// The tagged snapshot at n-1000 saves the compact range.
	if _, err := l.MakeSnapshot(s, "bench", base, true, time.Now()); err != nil {
		fail(err)
	}
	full := median(*runs, func() {
		leaves, err := gitledger.LeafHashes(r, 0, n)
		if err != nil {
			fail(err)
		}
		merkle.RootOf(leaves)
	})
	incr := median(*runs, func() {
		res, err := l.MakeSnapshot(s, "bench", n, false, time.Now())
		if err != nil {
			fail(err)
		}
		if !res.Incremental {
			fail(fmt.Errorf("snapshot was not incremental"))
		}
	})
	ratio := float64(incr) / float64(full) * 100
	fmt.Printf("### snapshot (runs=%d)\n\n| metric | value | target | ok |\n|---|---|---|---|\n", *runs)
	fmt.Printf("| full recompute: read %d receipts + root | %v |  |  |\n", n, full.Round(time.Millisecond))
	fmt.Printf("| incremental snapshot after 1,000 new receipts (signed checkpoint) | %v |  |  |\n", incr.Round(100*time.Microsecond))
	fmt.Printf("| incremental / full | %.1f%% | < 5%% | %s |\n\n", ratio, map[bool]string{true: "yes", false: "NO"}[ratio < 5])
}

func median(runs int, f func()) time.Duration {
	var ds []time.Duration
	for i := 0; i < runs; i++ {
		start := time.Now()
		f()
		ds = append(ds, time.Since(start))
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench/snapshot:", err)
	os.Exit(1)
}
