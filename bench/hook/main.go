// Command hook benchmarks the pre-receive hook (`vmc-git hook pre-receive`)
// under a real `git push` and prints one markdown table
// (metric | value | target | ok):
//
//	go run ./bench/hook [-runs 5] [-sizes 10000,100000] [-batch 500] [-out bench/out] [-before OLD] [-keep]
//
// For each size it takes the ledger of that many receipts that bench/ledger
// caches under -out (ledger-<n>: genesis plus n-1 generated manual receipts,
// key -out/key, kid "bench"; made here the same way if missing), clones it
// bare into an origin whose main branch carries .vmc/config.json with the
// genesis pin, installs the hook with `vmc-git hook install --repo`, and
// measures, as medians of -runs runs:
//
//   - git push of 1 new receipt, with the hook and without it (git's own
//     cost), and the hook's share (the difference);
//   - the hook alone: the installed hooks/pre-receive (which runs the copy
//     of vmc-git-hook that hook install put beside it) with the push's
//     "<old> <new> <ref>" line on stdin, GIT_DIR set and an empty quarantine
//     directory, so that every object is read from the repository as in a
//     push;
//   - the same for a push of -batch receipts;
//   - snapshot tags as in real use, where every receipt reaches the server
//     through the hook: the origin's ledger starts k receipts before the
//     cached tip (k = -tag-k, at most n/2); git push of a first snapshot tag
//     vmc/merkle/<n-k> on it (no stored hashes on the server yet: the hook
//     reads every receipt, O(n), and keeps the verified tree of that tip),
//     then of the k receipts after it (the hook hashes them onto its tree as
//     it verifies them), then of vmc/merkle/<n>, checked from the hook's
//     tree in O(log n) (issue 18: < 100 ms at 100k, k = 1,000, flat in n):
//     with the hook, without it (git alone), and the hook alone on it, wall
//     and CPU time (user+sys of the hook process); the hook alone on it
//     without its tree (the receipts pushed around the hook: from the first
//     tag's tiles, O(k + log n)); and the hook's start alone (no updates on
//     stdin);
//   - with -before OLD (a vmc-git built from another commit, e.g. main's:
//     git archive main | tar -x -C /tmp/main && go build -C /tmp/main -o
//     /tmp/vmc-git-main ./cmd/vmc-git), the snapshot-tag rows also for the
//     hook OLD's hook install writes, in a second origin, the two taking
//     turns within each run ("before:" rows);
//
// Each run pushes new receipts (generated with a clock of their own, so no
// two runs push the same objects): the origin's ledger ref is reset to the
// cached tip with git update-ref before each push, and the hook's verified
// tree (gitledger.HookTreeFile) put back to the one of that tip, as it is
// on a server whose every push went through the hook. The cached ledgers
// are only read (cloned with hard links), never changed.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vmc-git/vmc-git/bench/internal/kit"
	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/internal/config"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/keys"
)

const (
	targetHookMS = 100.0 // the hook's time for a push of 1 receipt
	targetGrow   = 1.5   // hook time on the largest / the smallest ledger: equal within noise
	targetTagMS  = 100   // a snapshot tag push on the largest ledger, 1% after the previous tag
)

func main() {
	runs := flag.Int("runs", 5, "runs per measurement (the median is reported)")
	sizesFlag := flag.String("sizes", "10000,100000", "ledger sizes in receipts")
	batch := flag.Int("batch", 500, "receipts in the large push")
	tagK := flag.Int("tag-k", 1000, "receipts between the two snapshot tags (at most half the ledger)")
	out := flag.String("out", "bench/out", "cache directory of the generated ledgers")
	vmc := flag.String("vmc", "", "the vmc-git binary that installs the hook (default: built from ./cmd/vmc-git, with ./cmd/vmc-git-hook beside it)")
	before := flag.String("before", "", "another build of vmc-git (e.g. main's) whose hook install makes a second origin: the snapshot-tag rows are measured for both, side by side")
	keep := flag.Bool("keep", false, "keep the origins (for profiling): each gets replay-tag.sh, which runs the hook alone on the last snapshot tag")
	flag.Parse()
	var sizes []int
	for _, f := range strings.Split(*sizesFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 2 {
			kit.Fail("hook", fmt.Errorf("bad -sizes entry %q", f))
		}
		sizes = append(sizes, n)
	}
	slices.Sort(sizes)
	if *runs < 1 || *batch < 1 || *tagK < 1 {
		kit.Fail("hook", errors.New("-runs, -batch and -tag-k must be at least 1"))
	}
	b, err := newBench(*out, *runs, *vmc, *before)
	if err != nil {
		kit.Fail("hook", err)
	}
	b.tagK, b.keep = *tagK, *keep
	err = b.run(sizes, *batch)
	if *keep {
		kit.Logf("kept %s", b.tmp)
	} else {
		os.RemoveAll(b.tmp)
	}
	if err != nil {
		kit.Fail("hook", err)
	}
}

type bench struct {
	out, tmp string
	vmc      string // the vmc-git binary that installs the hook
	before   string // another vmc-git for the "before" origin, or ""
	runs     int
	tagK     int
	keep     bool // keep the origins and write replay-tag.sh
	signer   *keys.Signer
	table    kit.Table
}

func (b *bench) add(metric, value, target string, ok *bool) { b.table.Add(metric, value, target, ok) }

func newBench(out string, runs int, vmc, before string) (*bench, error) {
	out, s, err := kit.Open(out)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(out, "hook-")
	if err != nil {
		return nil, err
	}
	b := &bench{out: out, tmp: tmp, runs: runs, signer: s, vmc: filepath.Join(tmp, "vmc-git")}
	if before != "" {
		if b.before, err = filepath.Abs(before); err != nil {
			os.RemoveAll(tmp)
			return nil, err
		}
	}
	if vmc != "" {
		if b.vmc, err = filepath.Abs(vmc); err != nil {
			os.RemoveAll(tmp)
			return nil, err
		}
		return b, nil
	}
	// vmc-git-hook beside vmc-git: hook install copies it for the hook.
	for _, cmd := range []string{"vmc-git", "vmc-git-hook"} {
		if out, err := exec.Command("go", "build", "-o", filepath.Join(tmp, cmd), "./cmd/"+cmd).CombinedOutput(); err != nil {
			os.RemoveAll(tmp)
			return nil, fmt.Errorf("go build ./cmd/%s (run from the module root): %v\n%s", cmd, err, out)
		}
	}
	return b, nil
}

// result is one size's medians.
type result struct {
	push, pushNoHook, hook    time.Duration // 1 receipt
	pushB, pushBNoHook, hookB time.Duration // batch
	tag                       time.Duration // snapshot tag push, k after the previous tag
	tagNoHook                 time.Duration // the same push without the hook (git alone)
	tagCPU, tagNoHookCPU      time.Duration // their user+sys (git push and what it waits for)
	tagHook, tagHookCPU       time.Duration // the hook alone on that tag: wall, user+sys
	tagK                      int           // k
	firstTag                  time.Duration // the first snapshot tag push (no stored hashes)
	pushK                     time.Duration // the k receipts after it, pushed through the hook
	tagNoTree, tagNoTreeCPU   time.Duration // the hook alone on the tag without its verified tree
	start, startCPU           time.Duration // the hook with no updates on stdin: its start
	before                    *tagResult    // the same with the -before build's hook
}

// tagResult is the snapshot-tag rows of one hook build.
type tagResult struct {
	tag, tagHook, tagHookCPU, firstTag, start, startCPU time.Duration
	tagCPU                                              time.Duration // user+sys of the tag push (git, receive-pack and the hook)
	pushK                                               time.Duration // the k receipts after the first tag
}

func (b *bench) run(sizes []int, batch int) error {
	res := map[int]result{}
	for _, n := range sizes {
		dir, err := b.ledger(n)
		if err != nil {
			return err
		}
		r, err := b.measure(n, dir, batch)
		if err != nil {
			return fmt.Errorf("ledger of %d: %w", n, err)
		}
		res[n] = r
	}
	small, large := sizes[0], sizes[len(sizes)-1]
	target := fmt.Sprintf("< %.0f ms", targetHookMS)
	for _, n := range sizes {
		r := res[n]
		b.add(fmt.Sprintf("git push of 1 receipt onto %s, hook installed", kit.Count(n)), ms(r.push), "", nil)
		b.add(fmt.Sprintf("git push of 1 receipt onto %s, no hook (git alone)", kit.Count(n)), ms(r.pushNoHook), "", nil)
		share := r.push - r.pushNoHook
		ok := share < time.Duration(targetHookMS*float64(time.Millisecond))
		b.add(fmt.Sprintf("hook's share of that push, %s", kit.Count(n)), ms(share), target, &ok)
		ok = r.hook < time.Duration(targetHookMS*float64(time.Millisecond))
		b.add(fmt.Sprintf("hook alone, 1 receipt onto %s", kit.Count(n)), ms(r.hook), target, &ok)
	}
	if large != small {
		g := float64(res[large].hook) / float64(res[small].hook)
		ok := g <= targetGrow
		b.add(fmt.Sprintf("hook alone, 1 receipt: %s / %s", kit.Count(large), kit.Count(small)), fmt.Sprintf("%.2fx", g),
			fmt.Sprintf("equal within noise (<= %.1fx)", targetGrow), &ok)
	}
	for _, n := range sizes {
		r := res[n]
		b.add(fmt.Sprintf("git push of %d receipts onto %s, hook installed", batch, kit.Count(n)), ms(r.pushB), "", nil)
		b.add(fmt.Sprintf("git push of %d receipts onto %s, no hook (git alone)", batch, kit.Count(n)), ms(r.pushBNoHook), "", nil)
		b.add(fmt.Sprintf("hook alone, %d receipts onto %s", batch, kit.Count(n)), ms(r.hookB), "", nil)
		b.add(fmt.Sprintf("hook alone per receipt, %d receipts onto %s", batch, kit.Count(n)), ms(r.hookB/time.Duration(batch)), "", nil)
	}
	for _, n := range sizes {
		r := res[n]
		bf := r.before
		if bf != nil {
			b.add(fmt.Sprintf("before: git push of the first snapshot tag vmc/merkle/%d (O(n))", n-r.tagK), ms(bf.firstTag), "", nil)
		}
		b.add(fmt.Sprintf("git push of the first snapshot tag vmc/merkle/%d (hook has no stored hashes: O(n))", n-r.tagK), ms(r.firstTag), "", nil)
		if bf != nil {
			b.add(fmt.Sprintf("before: git push of the %d receipts after it, through the hook", r.tagK), ms(bf.pushK), "", nil)
		}
		b.add(fmt.Sprintf("git push of the %d receipts after it, through the hook (which hashes them onto its verified tree)", r.tagK), ms(r.pushK), "", nil)
		if bf != nil {
			b.add(fmt.Sprintf("before: git push of snapshot tag vmc/merkle/%d, %d receipts after the previous tag: wall / CPU", n, r.tagK), ms(bf.tag)+" / "+ms(bf.tagCPU), "", nil)
		}
		var ok *bool
		target := ""
		if n == large {
			v := r.tag < targetTagMS*time.Millisecond
			ok, target = &v, fmt.Sprintf("< %d ms", targetTagMS)
		}
		b.add(fmt.Sprintf("git push of snapshot tag vmc/merkle/%d, %d receipts after the previous tag (from the hook's verified tree: O(log n)): wall / CPU", n, r.tagK), ms(r.tag)+" / "+ms(r.tagCPU), target, ok)
		b.add(fmt.Sprintf("the same tag push without the hook (git alone), %s: wall / CPU", kit.Count(n)), ms(r.tagNoHook)+" / "+ms(r.tagNoHookCPU), "", nil)
		if bf != nil {
			b.add(fmt.Sprintf("before: hook alone on that tag, %s, k = %d: wall / CPU (user+sys)", kit.Count(n), r.tagK), ms(bf.tagHook)+" / "+ms(bf.tagHookCPU), "", nil)
		}
		b.add(fmt.Sprintf("hook alone on that tag, %s, k = %d: wall / CPU (user+sys)", kit.Count(n), r.tagK), ms(r.tagHook)+" / "+ms(r.tagHookCPU), "", nil)
		b.add(fmt.Sprintf("hook alone on that tag without its verified tree (receipts pushed around the hook: from the previous tag's tiles), %s: wall / CPU", kit.Count(n)), ms(r.tagNoTree)+" / "+ms(r.tagNoTreeCPU), "", nil)
		if bf != nil {
			b.add(fmt.Sprintf("before: hook start (no updates on stdin), %s: wall / CPU", kit.Count(n)), ms(bf.start)+" / "+ms(bf.startCPU), "", nil)
		}
		b.add(fmt.Sprintf("hook start (no updates on stdin), %s: wall / CPU", kit.Count(n)), ms(r.start)+" / "+ms(r.startCPU), "", nil)
	}
	if large != small {
		g := float64(res[large].tagHookCPU) / float64(res[small].tagHookCPU)
		what := fmt.Sprintf("k %d and %d", res[large].tagK, res[small].tagK)
		var ok *bool
		if res[large].tagK == res[small].tagK {
			v := g <= targetGrow
			ok, what = &v, fmt.Sprintf("same k = %d", res[large].tagK)
		}
		b.add(fmt.Sprintf("hook's CPU on a snapshot tag, %s / %s (%s)", kit.Count(large), kit.Count(small), what),
			fmt.Sprintf("%.2fx", g), fmt.Sprintf("flat in n (<= %.1fx)", targetGrow), ok)
	}

	b.table.Print(os.Stdout, fmt.Sprintf("### hook (runs=%d, GOMAXPROCS=%d, %s/%s, %s)", b.runs, runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, gitVersion()))
	return nil
}

// measure sets up an origin and a work repository for the ledger in dir and
// times the pushes.
func (b *bench) measure(n int, dir string, batch int) (result, error) {
	var r result
	origin := filepath.Join(b.tmp, fmt.Sprintf("origin-%d.git", n))
	work := filepath.Join(b.tmp, fmt.Sprintf("work-%d.git", n))
	if _, err := git("", nil, "clone", "-q", "--bare", dir, origin); err != nil {
		return r, err
	}
	if _, err := git("", nil, "clone", "-q", "--bare", dir, work); err != nil {
		return r, err
	}
	if err := b.addMain(origin); err != nil {
		return r, err
	}
	hook := filepath.Join(origin, "hooks", "pre-receive")
	if out, err := exec.Command(b.vmc, "hook", "install", "--repo", origin).CombinedOutput(); err != nil {
		return r, fmt.Errorf("vmc-git hook install: %v: %s", err, out)
	}
	quarantine := filepath.Join(origin, "objects", "bench-quarantine")
	if err := os.MkdirAll(filepath.Join(quarantine, "pack"), 0o755); err != nil {
		return r, err
	}
	ref := "refs/heads/" + gitledger.DefaultBranch
	baseOut, err := git(work, nil, "rev-parse", ref)
	if err != nil {
		return r, err
	}
	base := strings.TrimSpace(baseOut)

	// pushOnce makes k new receipts on the base, resets the origin to the
	// base and pushes them, with or without the hook; with it, it also runs
	// the hook alone on the same update.
	pushOnce := func(k int, withHook bool, restore func() error) (push, alone time.Duration, err error) {
		if withHook {
			err = os.Rename(hook+".off", hook)
		} else {
			err = os.Rename(hook, hook+".off")
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return 0, 0, err
		}
		if _, err := git(work, nil, "update-ref", ref, base); err != nil {
			return 0, 0, err
		}
		l, err := gitledger.OpenGitDir(work, "")
		if err != nil {
			return 0, 0, err
		}
		// The real clock: receipts of a batch share a second (allowed: times
		// only may not go back), and none is dated ahead of the hook's clock,
		// which a step per receipt was after 300 of them.
		w, err := gitledger.Generate(l, b.signer, kit.KID, k, gitledger.GenerateOptions{Summary: "pushed"})
		if err != nil {
			return 0, 0, err
		}
		if _, err := git(origin, nil, "update-ref", ref, base); err != nil {
			return 0, 0, err
		}
		runtime.GC()
		start := time.Now()
		if out, err := git(work, nil, "push", "-q", origin, ref+":"+ref); err != nil {
			return 0, 0, fmt.Errorf("push of %d receipts refused: %v\n%s", k, err, out)
		}
		push = time.Since(start)
		if got, _ := git(origin, nil, "rev-parse", ref); strings.TrimSpace(got) != w.Commit.String() {
			return 0, 0, fmt.Errorf("origin's ledger is %s after the push, want %s", strings.TrimSpace(got), w.Commit)
		}
		if !withHook {
			return push, 0, nil
		}
		if err := restore(); err != nil {
			return 0, 0, err
		}
		wall, _, err := runHook(&variant{origin: origin, hook: hook, quarantine: quarantine}, fmt.Sprintf("%s %s %s\n", base, w.Commit, ref))
		if err != nil {
			return 0, 0, fmt.Errorf("hook alone refused %d receipts: %v", k, err)
		}
		return push, wall, nil
	}
	// The snapshot tags, pushed as in real use, where every receipt reaches
	// the server through the hook: the origin's ledger starts k receipts
	// before the cached tip, the first tag vmc/merkle/<n-k> is pushed on it
	// (the hook has no stored hashes yet: O(n); it keeps the verified tree
	// of that tip), then the k receipts after it (through the hook, which
	// hashes them onto its tree), then vmc/merkle/<n>, checked from the
	// hook's tree (O(log n)) and, with the tree's file removed (receipts
	// pushed around the hook), from the first tag's tiles (O(k + log n)).
	l, err := gitledger.OpenGitDir(work, "")
	if err != nil {
		return r, err
	}
	k := min(b.tagK, n/2)
	r.tagK = k
	prevSize := uint64(n - k)
	wt, err := l.Tip()
	if err != nil {
		return r, err
	}
	prevCommit, err := l.CommitOf(wt, prevSize-1)
	if err != nil {
		return r, err
	}
	// The hooks measured: this build's (and the -before build's, in an
	// origin of its own made the same way).
	variants := []*variant{{origin: origin, hook: hook, quarantine: quarantine}}
	if b.before != "" {
		o := filepath.Join(b.tmp, fmt.Sprintf("origin-before-%d.git", n))
		if _, err := git("", nil, "clone", "-q", "--bare", dir, o); err != nil {
			return r, err
		}
		if err := b.addMain(o); err != nil {
			return r, err
		}
		if out, err := exec.Command(b.before, "hook", "install", "--repo", o).CombinedOutput(); err != nil {
			return r, fmt.Errorf("%s hook install: %v: %s", b.before, err, out)
		}
		q := filepath.Join(o, "objects", "bench-quarantine")
		if err := os.MkdirAll(filepath.Join(q, "pack"), 0o755); err != nil {
			return r, err
		}
		variants = append(variants, &variant{origin: o, hook: filepath.Join(o, "hooks", "pre-receive"), quarantine: q})
	}
	if _, err := l.MakeSnapshot(b.signer, kit.KID, prevSize, true, time.Now()); err != nil {
		return r, err
	}
	prevTag := gitledger.SnapshotTagRef(prevSize).String()
	for _, v := range variants {
		if _, err := git(v.origin, nil, "update-ref", ref, prevCommit.String()); err != nil {
			return r, err
		}
		os.RemoveAll(filepath.Join(v.origin, "vmc", "tlog"))
		start := time.Now()
		if out, err := git(work, nil, "push", "-q", v.origin, prevTag); err != nil {
			return r, fmt.Errorf("push of %s refused: %v\n%s", prevTag, err, out)
		}
		v.res.firstTag = time.Since(start)
		start = time.Now()
		if out, err := git(work, nil, "push", "-q", v.origin, ref+":"+ref); err != nil {
			return r, fmt.Errorf("push of the %d receipts after %s refused: %v\n%s", k, prevTag, err, out)
		}
		v.res.pushK = time.Since(start)
	}
	// The hook's tree of the cached tip, put back before each push onto
	// it (the pushes below reset the origin's ledger to that tip).
	treeFile := filepath.Join(origin, filepath.FromSlash(gitledger.HookTreeFile))
	treeRec, err := os.ReadFile(treeFile)
	if err != nil {
		return r, fmt.Errorf("no verified tree after the push through the hook: %w", err)
	}
	restoreTree := func() error { return os.WriteFile(treeFile, treeRec, 0o644) }
	snap, err := l.MakeSnapshot(b.signer, kit.KID, 0, true, time.Now())
	if err != nil {
		return r, err
	}
	tag := gitledger.SnapshotTagRef(snap.LeafCount).String()
	id := strings.TrimSpace(must(git(work, nil, "rev-parse", tag)))
	var plain, plainCPU, noTree, noTreeCPU []time.Duration
	for i := 0; i < b.runs; i++ {
		for vi, v := range variants {
			for _, withHook := range []bool{true, false} {
				if !withHook && vi > 0 {
					continue // git alone is the same for every hook
				}
				if withHook {
					err = os.Rename(v.hook+".off", v.hook)
				} else {
					err = os.Rename(v.hook, v.hook+".off")
				}
				if err != nil && !errors.Is(err, os.ErrNotExist) {
					return r, err
				}
				git(v.origin, nil, "update-ref", "-d", tag)
				runtime.GC()
				wall, cpu, out, err := gitTimed(work, "push", "-q", v.origin, tag)
				if err != nil {
					return r, fmt.Errorf("push of %s refused: %v\n%s", tag, err, out)
				}
				if withHook {
					v.tags, v.tagsCPU = append(v.tags, wall), append(v.tagsCPU, cpu)
				} else {
					plain, plainCPU = append(plain, wall), append(plainCPU, cpu)
				}
			}
			os.Rename(v.hook+".off", v.hook)
			git(v.origin, nil, "update-ref", "-d", tag)
			wall, cpu, err := runHook(v, fmt.Sprintf("%s %s %s\n", plumbing.ZeroHash, id, tag))
			if err != nil {
				return r, fmt.Errorf("hook alone refused %s: %v", tag, err)
			}
			v.alone, v.aloneCPU = append(v.alone, wall), append(v.aloneCPU, cpu)
			if wall, cpu, err = runHook(v, ""); err != nil {
				return r, fmt.Errorf("hook with no updates: %v", err)
			}
			v.start, v.startCPU = append(v.start, wall), append(v.startCPU, cpu)
			if vi == 0 {
				// The same tag without the hook's tree.
				os.Remove(treeFile)
				wall, cpu, err := runHook(v, fmt.Sprintf("%s %s %s\n", plumbing.ZeroHash, id, tag))
				if err != nil {
					return r, fmt.Errorf("hook alone without its tree refused %s: %v", tag, err)
				}
				noTree, noTreeCPU = append(noTree, wall), append(noTreeCPU, cpu)
				if err := restoreTree(); err != nil {
					return r, err
				}
			}
		}
	}
	r.tagNoTree, r.tagNoTreeCPU = median(noTree), median(noTreeCPU)

	for _, k := range []int{1, batch} {
		var pushes, plain, alone []time.Duration
		for i := 0; i < b.runs; i++ {
			if err := restoreTree(); err != nil {
				return r, err
			}
			p, a, err := pushOnce(k, true, restoreTree)
			if err != nil {
				return r, err
			}
			q, _, err := pushOnce(k, false, nil)
			if err != nil {
				return r, err
			}
			pushes, plain, alone = append(pushes, p), append(plain, q), append(alone, a)
		}
		if _, err := os.Stat(hook); err != nil {
			os.Rename(hook+".off", hook)
		}
		p, q, a := median(pushes), median(plain), median(alone)
		kit.Logf("%d receipts onto %s: push %v (no hook %v), hook alone %v", k, kit.Count(n), p, q, a)
		if k == 1 {
			r.push, r.pushNoHook, r.hook = p, q, a
		} else {
			r.pushB, r.pushBNoHook, r.hookB = p, q, a
		}
	}
	if err := restoreTree(); err != nil {
		return r, err
	}
	if _, err := git(origin, nil, "update-ref", ref, base); err != nil {
		return r, err
	}
	if b.keep {
		if err := writeReplay(origin, quarantine, tag, id); err != nil {
			return r, err
		}
	}
	for _, v := range variants {
		v.res.tag, v.res.tagHook, v.res.tagHookCPU = median(v.tags), median(v.alone), median(v.aloneCPU)
		v.res.tagCPU = median(v.tagsCPU)
		v.res.start, v.res.startCPU = median(v.start), median(v.startCPU)
	}
	a := variants[0].res
	r.tag, r.tagNoHook, r.tagHook, r.tagHookCPU, r.firstTag, r.pushK = a.tag, median(plain), a.tagHook, a.tagHookCPU, a.firstTag, a.pushK
	r.tagCPU, r.tagNoHookCPU = a.tagCPU, median(plainCPU)
	r.start, r.startCPU = a.start, a.startCPU
	if len(variants) > 1 {
		bf := variants[1].res
		r.before = &bf
		kit.Logf("before: snapshot tag onto %s (k %d): push %v, hook alone %v (CPU %v)", kit.Count(n), k, bf.tag, bf.tagHook, bf.tagHookCPU)
	}
	kit.Logf("snapshot tag onto %s (k %d): push %v (no hook %v), hook alone %v (CPU %v)", kit.Count(n), k, r.tag, r.tagNoHook, r.tagHook, r.tagHookCPU)
	return r, nil
}

// writeReplay writes origin/replay-tag.sh: it deletes the tag ref and runs
// the installed hook alone on its creation, as the measurement does (with
// arguments, runs them instead, e.g. another build: replay-tag.sh
// ./vmc-git hook pre-receive).
func writeReplay(origin, quarantine, tag, id string) error {
	script := fmt.Sprintf(`#!/bin/sh
# Runs the hook alone on the creation of %[1]s (bench/hook -keep).
cd %[2]q || exit 1
git update-ref -d %[1]s
[ $# -gt 0 ] || set -- ./hooks/pre-receive
printf '%%s %%s %%s\n' %[3]s %[4]s %[1]s |
	GIT_DIR=. GIT_OBJECT_DIRECTORY=%[5]q GIT_ALTERNATE_OBJECT_DIRECTORIES=%[6]q "$@"
`, tag, origin, plumbing.ZeroHash, id, quarantine, filepath.Join(origin, "objects"))
	return os.WriteFile(filepath.Join(origin, "replay-tag.sh"), []byte(script), 0o755)
}

// variant is one installed hook the tag rows measure.
type variant struct {
	origin, hook, quarantine string
	tags, alone, aloneCPU    []time.Duration
	tagsCPU                  []time.Duration
	start, startCPU          []time.Duration
	res                      tagResult
}

// runHook runs the installed hook script alone, as git does (GIT_DIR, an
// empty quarantine), with stdin; it returns its wall and CPU time
// (user+sys of the script and the binary it runs).
func runHook(v *variant, stdin string) (wall, cpu time.Duration, err error) {
	cmd := exec.Command(v.hook)
	cmd.Dir = v.origin
	cmd.Env = append(os.Environ(), "GIT_DIR=.", "GIT_OBJECT_DIRECTORY="+v.quarantine,
		"GIT_ALTERNATE_OBJECT_DIRECTORIES="+filepath.Join(v.origin, "objects"))
	cmd.Stdin = strings.NewReader(stdin)
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, 0, fmt.Errorf("%v\n%s", err, out)
	}
	return time.Since(start), cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), nil
}

// gitTimed runs git in dir and returns its wall and CPU time (user+sys of
// git and of the processes it waited for: for a local push, receive-pack
// and the hook) and its combined output.
func gitTimed(dir string, args ...string) (wall, cpu time.Duration, out []byte, err error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	start := time.Now()
	out, err = cmd.CombinedOutput()
	wall = time.Since(start)
	if cmd.ProcessState != nil {
		cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	return wall, cpu, out, err
}

// must drops the error of a call that cannot fail here (its failure shows
// in the next step).
func must(s string, _ error) string { return s }

// addMain gives the origin a main branch with .vmc/config.json pinning the
// ledger's genesis, as `vmc-git init` makes it, so that the hook reads the
// configuration as on a real server.
func (b *bench) addMain(origin string) error {
	l, err := gitledger.OpenGitDir(origin, "")
	if err != nil {
		return err
	}
	rd, err := l.NewReader()
	if err != nil {
		return err
	}
	g, err := rd.File(rd.Path(0))
	if err != nil {
		return err
	}
	cfg := &config.Config{V: 1, Ledger: kit.LedgerID, Branch: gitledger.DefaultBranch, MainBranch: "main",
		GenesisBlake3: digest.Of(g).Blake3, Provider: config.ProviderSandbox}
	cb, err := cfg.Encode()
	if err != nil {
		return err
	}
	blob, err := git(origin, cb, "hash-object", "-w", "--stdin")
	if err != nil {
		return err
	}
	vmcTree, err := git(origin, []byte("100644 blob "+strings.TrimSpace(blob)+"\tconfig.json\n"), "mktree")
	if err != nil {
		return err
	}
	root, err := git(origin, []byte("040000 tree "+strings.TrimSpace(vmcTree)+"\t.vmc\n"), "mktree")
	if err != nil {
		return err
	}
	c, err := git(origin, nil, "-c", "user.name=bench", "-c", "user.email=bench@example.com",
		"commit-tree", strings.TrimSpace(root), "-m", "vmc-git init")
	if err != nil {
		return err
	}
	_, err = git(origin, nil, "update-ref", "refs/heads/main", strings.TrimSpace(c))
	return err
}

func (b *bench) ledger(n int) (string, error) {
	dir, _, err := kit.Ledger(b.out, b.signer, n)
	return dir, err
}

// git runs git in dir (the current directory if "") with stdin and returns
// its stdout.
func git(dir string, stdin []byte, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out) + stderr.String(), fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return string(out), nil
}

func gitVersion() string {
	v, err := git("", nil, "version")
	if err != nil {
		return "git ?"
	}
	return strings.TrimSpace(v)
}

func median(ds []time.Duration) time.Duration {
	ds = slices.Clone(ds)
	slices.Sort(ds)
	return ds[len(ds)/2]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/1e6) }
