// Command merkle benchmarks the merkle package against the raw SHA-256
// floor and prints one markdown table (metric | value | target | ok).
//
//	go run ./bench/merkle [-n 1000000] [-runs 5]
//
// Every figure is the median of -runs runs on one core (GOMAXPROCS is not
// changed, but all work is single-goroutine).
package main

import (
	"crypto/sha256"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/vmc-git/vmc-git/merkle"
)

const (
	incBase   = 100_000 // leaves already in the compact range
	incAppend = 1_000   // leaves appended for the incremental case
)

var sink merkle.Hash

// median runs f runs times and returns the median duration.
func median(runs int, f func()) time.Duration {
	ds := make([]time.Duration, runs)
	for i := range ds {
		runtime.GC()
		start := time.Now()
		f()
		ds[i] = time.Since(start)
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

type row struct {
	metric, value, target string
	ok                    bool
}

func main() {
	n := flag.Int("n", 1_000_000, "number of leaves")
	runs := flag.Int("runs", 5, "runs per measurement (the median is reported)")
	flag.Parse()
	if *n < 2 || *runs < 1 {
		fmt.Fprintln(os.Stderr, "merkle bench: need -n >= 2 and -runs >= 1")
		os.Exit(2)
	}
	N := *n
	total := max(N, incBase+incAppend)
	leaves := make([]merkle.Hash, total)
	for i := range leaves {
		leaves[i] = merkle.LeafHash(strconv.AppendInt([]byte(`{"kind":"apply","seq":`), int64(i), 10))
	}
	var rows []row

	// (a) RootOf over N leaf hashes: N-1 node hashes.
	rootT := median(*runs, func() { sink = merkle.RootOf(leaves[:N]) })
	// (b) The floor: SHA-256 of 65-byte inputs, 2N-1 times (every node of a
	// tree built from scratch) and N-1 times (what RootOf does from leaf hashes).
	floor := func(count int) time.Duration {
		return median(*runs, func() {
			var buf [65]byte
			buf[0] = merkle.NodePrefix
			for i := 0; i < count; i++ {
				buf[1], buf[2] = byte(i), byte(i>>8)
				sink = sha256.Sum256(buf[:])
			}
		})
	}
	floor2N := floor(2*N - 1)
	floorN := floor(N - 1)
	r2N := float64(rootT) / float64(floor2N)
	rN := float64(rootT) / float64(floorN)
	rows = append(rows,
		row{fmt.Sprintf("RootOf(%d leaf hashes)", N), rootT.Round(time.Microsecond).String(), "", true},
		row{fmt.Sprintf("floor: %d SHA-256(65 B)", 2*N-1), floor2N.Round(time.Microsecond).String(), "", true},
		row{"RootOf / floor(2N-1)", fmt.Sprintf("%.2f", r2N), "<= 1.10", r2N <= 1.10},
		row{fmt.Sprintf("floor: %d SHA-256(65 B)", N-1), floorN.Round(time.Microsecond).String(), "", true},
		row{"RootOf / floor(N-1), same hash count", fmt.Sprintf("%.2f", rN), "<= 1.15", rN <= 1.15},
	)

	// (c) Incremental: a compact range at 100k leaves, append 1,000, Root;
	// against RootOf over all 101k leaves.
	base := merkle.RangeOf(leaves[:incBase])
	incT := median(*runs, func() {
		r := base.Clone()
		for _, l := range leaves[incBase : incBase+incAppend] {
			r.Append(l)
		}
		sink = r.Root()
	})
	fullT := median(*runs, func() { sink = merkle.RootOf(leaves[:incBase+incAppend]) })
	check := base.Clone()
	for _, l := range leaves[incBase : incBase+incAppend] {
		check.Append(l)
	}
	same := check.Root() == merkle.RootOf(leaves[:incBase+incAppend])
	pct := 100 * float64(incT) / float64(fullT)
	rows = append(rows,
		row{"incremental: Range(100k) + 1,000 Append + Root", incT.Round(time.Microsecond).String(), "", same},
		row{"full: RootOf(101k)", fullT.Round(time.Microsecond).String(), "", true},
		row{"incremental / full", fmt.Sprintf("%.2f%%", pct), "<= 5%", pct <= 5 && same},
	)

	// (d) Inclusion proof at N leaves: generation and verification.
	root := merkle.RootOf(leaves[:N])
	index := uint64(N / 3)
	var proof []merkle.Hash
	proveT := median(*runs, func() {
		var err error
		if proof, err = merkle.ProveInclusion(leaves, index, uint64(N)); err != nil {
			panic(err)
		}
	})
	const verifyLoops = 1000
	var verr error
	verifyT := median(*runs, func() {
		for range verifyLoops {
			verr = merkle.VerifyInclusion(leaves[index], index, uint64(N), proof, root)
		}
	}) / verifyLoops
	proveRatio := float64(proveT) / float64(rootT)
	rows = append(rows,
		row{fmt.Sprintf("ProveInclusion at %d (%d hashes)", N, len(proof)), proveT.Round(time.Microsecond).String(), "<= 1.2 x RootOf", proveRatio <= 1.2},
		row{fmt.Sprintf("VerifyInclusion at %d", N), verifyT.Round(10 * time.Nanosecond).String(), "<= 100µs", verr == nil && verifyT <= 100*time.Microsecond},
	)

	// (e) The same proof from stored hashes (C2SP tiles on disk, checked
	// against the root): open the tree and prove, as `merkle prove` does
	// after a snapshot tag (issue 18: < 1 ms, O(log n)).
	tileDir, err := os.MkdirTemp("", "vmc-bench-tiles-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(tileDir)
	st := merkle.NewStoredTree(tileDir)
	for _, l := range leaves[:N] {
		if err := st.Append(l); err != nil {
			panic(err)
		}
	}
	if err := st.Save(); err != nil {
		panic(err)
	}
	var sproof []merkle.Hash
	storedT := median(*runs, func() {
		t, err := merkle.OpenStoredTree(tileDir, uint64(N), root)
		if err == nil {
			sproof, err = t.ProveInclusion(index, uint64(N))
		}
		if err != nil {
			panic(err)
		}
	})
	same = slices.Equal(sproof, proof)
	rows = append(rows,
		row{fmt.Sprintf("stored hashes: open tiles + ProveInclusion at %d", N), storedT.Round(time.Microsecond).String(), "< 1ms, O(log n)", same && storedT < time.Millisecond},
		row{"stored / from leaves", fmt.Sprintf("%.5f", float64(storedT)/float64(proveT)), "", same},
	)

	fmt.Printf("%s/%s, %s, n=%d, median of %d runs\n\n", runtime.GOOS, runtime.GOARCH, runtime.Version(), N, *runs)
	fmt.Println("| metric | value | target | ok |")
	fmt.Println("|---|---|---|---|")
	allOK := true
	for _, r := range rows {
		ok := "yes"
		if !r.ok {
			ok, allOK = "NO", false
		}
		if r.target == "" {
			r.target = "-"
		}
		fmt.Printf("| %s | %s | %s | %s |\n", r.metric, r.value, r.target, ok)
	}
	if !allOK {
		os.Exit(1)
	}
}
