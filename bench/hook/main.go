// Command hook benchmarks the pre-receive hook (`vmc-git hook pre-receive`)
// under a real `git push` and prints one markdown table
// (metric | value | target | ok):
//
//	go run ./bench/hook [-runs 5] [-sizes 10000,100000] [-batch 500] [-out bench/out]
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
//   - the hook alone: `vmc-git hook pre-receive` with the push's "<old> <new>
//     <ref>" line on stdin, GIT_DIR set and an empty quarantine directory, so
//     that every object is read from the repository as in a push;
//   - the same for a push of -batch receipts;
//   - git push of a first snapshot tag vmc/merkle/<n-k> (k = -tag-k, at
//     most n/2; no stored hashes on the server yet: the hook reads every
//     receipt, O(n)), then of vmc/merkle/<n>, checked from the stored hashes
//     of the first in O(k + log n) (issue 18: < 100 ms at 100k, k = 1,000,
//     flat in n): with the hook, without it (git alone), and the hook alone
//     on it, wall and CPU time (user+sys of the hook process);
//
// Each run pushes new receipts (generated with a clock of their own, so no
// two runs push the same objects): the origin's ledger ref is reset to the
// cached tip with git update-ref before each push. The cached ledgers are
// only read (cloned with hard links), never changed.
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
	vmc := flag.String("vmc", "", "the vmc-git binary the hook runs (default: built from ./cmd/vmc-git; another build compares before and after)")
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
	b, err := newBench(*out, *runs, *vmc)
	if err != nil {
		kit.Fail("hook", err)
	}
	defer os.RemoveAll(b.tmp)
	b.tagK = *tagK
	if err := b.run(sizes, *batch); err != nil {
		os.RemoveAll(b.tmp)
		kit.Fail("hook", err)
	}
}

type bench struct {
	out, tmp string
	vmc      string // the vmc-git binary the hook runs
	runs     int
	tagK     int
	signer   *keys.Signer
	table    kit.Table
}

func (b *bench) add(metric, value, target string, ok *bool) { b.table.Add(metric, value, target, ok) }

func newBench(out string, runs int, vmc string) (*bench, error) {
	out, s, err := kit.Open(out)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(out, "hook-")
	if err != nil {
		return nil, err
	}
	b := &bench{out: out, tmp: tmp, runs: runs, signer: s, vmc: filepath.Join(tmp, "vmc-git")}
	if vmc != "" {
		if b.vmc, err = filepath.Abs(vmc); err != nil {
			os.RemoveAll(tmp)
			return nil, err
		}
		return b, nil
	}
	if out, err := exec.Command("go", "build", "-o", b.vmc, "./cmd/vmc-git").CombinedOutput(); err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("go build ./cmd/vmc-git (run from the module root): %v\n%s", err, out)
	}
	return b, nil
}

// result is one size's medians.
type result struct {
	push, pushNoHook, hook    time.Duration // 1 receipt
	pushB, pushBNoHook, hookB time.Duration // batch
	tag                       time.Duration // snapshot tag push, k after the previous tag
	tagNoHook                 time.Duration // the same push without the hook (git alone)
	tagHook, tagHookCPU       time.Duration // the hook alone on that tag: wall, user+sys
	tagK                      int           // k
	firstTag                  time.Duration // the first snapshot tag push (no stored hashes)
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
		b.add(fmt.Sprintf("git push of the first snapshot tag vmc/merkle/%d (hook has no stored hashes: O(n))", n-r.tagK), ms(r.firstTag), "", nil)
		var ok *bool
		target := ""
		if n == large {
			v := r.tag < targetTagMS*time.Millisecond
			ok, target = &v, fmt.Sprintf("< %d ms", targetTagMS)
		}
		b.add(fmt.Sprintf("git push of snapshot tag vmc/merkle/%d, %d receipts after the previous tag (O(k + log n))", n, r.tagK), ms(r.tag), target, ok)
		b.add(fmt.Sprintf("the same tag push without the hook (git alone), %s", kit.Count(n)), ms(r.tagNoHook), "", nil)
		b.add(fmt.Sprintf("hook alone on that tag, %s, k = %d: wall / CPU (user+sys)", kit.Count(n), r.tagK), ms(r.tagHook)+" / "+ms(r.tagHookCPU), "", nil)
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
	pushOnce := func(k int, withHook bool) (push, alone time.Duration, err error) {
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
		cmd := exec.Command(b.vmc, "hook", "pre-receive")
		cmd.Dir = origin
		cmd.Env = append(os.Environ(), "GIT_DIR=.", "GIT_OBJECT_DIRECTORY="+quarantine,
			"GIT_ALTERNATE_OBJECT_DIRECTORIES="+filepath.Join(origin, "objects"))
		cmd.Stdin = strings.NewReader(fmt.Sprintf("%s %s %s\n", base, w.Commit, ref))
		start = time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			return 0, 0, fmt.Errorf("hook alone refused %d receipts: %v\n%s", k, err, out)
		}
		return push, time.Since(start), nil
	}
	for _, k := range []int{1, batch} {
		var pushes, plain, alone []time.Duration
		for i := 0; i < b.runs; i++ {
			p, a, err := pushOnce(k, true)
			if err != nil {
				return r, err
			}
			q, _, err := pushOnce(k, false)
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

	// A snapshot tag over the cached ledger, pushed again each run.
	if _, err := git(work, nil, "update-ref", ref, base); err != nil {
		return r, err
	}
	if _, err := git(origin, nil, "update-ref", ref, base); err != nil {
		return r, err
	}
	l, err := gitledger.OpenGitDir(work, "")
	if err != nil {
		return r, err
	}
	// The previous snapshot, k receipts earlier, pushed once: the hook has
	// no stored hashes yet and reads every receipt (O(n)).
	k := min(b.tagK, n/2)
	r.tagK = k
	prevSize := uint64(n - k)
	if _, err := l.MakeSnapshot(b.signer, kit.KID, prevSize, true, time.Now()); err != nil {
		return r, err
	}
	prevTag := gitledger.SnapshotTagRef(prevSize).String()
	git(origin, nil, "update-ref", "-d", prevTag)
	os.RemoveAll(filepath.Join(origin, "vmc", "tlog"))
	start := time.Now()
	if out, err := git(work, nil, "push", "-q", origin, prevTag); err != nil {
		return r, fmt.Errorf("push of %s refused: %v\n%s", prevTag, err, out)
	}
	r.firstTag = time.Since(start)
	snap, err := l.MakeSnapshot(b.signer, kit.KID, 0, true, time.Now())
	if err != nil {
		return r, err
	}
	// The snapshot at n: from the stored hashes of the previous one,
	// O(k + log n) for its k new receipts; pushed with the hook, without
	// it, and given to the hook alone.
	tag := gitledger.SnapshotTagRef(snap.LeafCount).String()
	var tags, plain, alone, aloneCPU []time.Duration
	for i := 0; i < b.runs; i++ {
		for _, withHook := range []bool{true, false} {
			if withHook {
				err = os.Rename(hook+".off", hook)
			} else {
				err = os.Rename(hook, hook+".off")
			}
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return r, err
			}
			git(origin, nil, "update-ref", "-d", tag)
			runtime.GC()
			start := time.Now()
			if out, err := git(work, nil, "push", "-q", origin, tag); err != nil {
				return r, fmt.Errorf("push of %s refused: %v\n%s", tag, err, out)
			}
			if withHook {
				tags = append(tags, time.Since(start))
			} else {
				plain = append(plain, time.Since(start))
			}
		}
		git(origin, nil, "update-ref", "-d", tag)
		id := strings.TrimSpace(must(git(work, nil, "rev-parse", tag)))
		cmd := exec.Command(b.vmc, "hook", "pre-receive")
		cmd.Dir = origin
		cmd.Env = append(os.Environ(), "GIT_DIR=.", "GIT_OBJECT_DIRECTORY="+quarantine,
			"GIT_ALTERNATE_OBJECT_DIRECTORIES="+filepath.Join(origin, "objects"))
		cmd.Stdin = strings.NewReader(fmt.Sprintf("%s %s %s\n", plumbing.ZeroHash, id, tag))
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			return r, fmt.Errorf("hook alone refused %s: %v\n%s", tag, err, out)
		}
		alone = append(alone, time.Since(start))
		aloneCPU = append(aloneCPU, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
	}
	os.Rename(hook+".off", hook)
	r.tag, r.tagNoHook, r.tagHook, r.tagHookCPU = median(tags), median(plain), median(alone), median(aloneCPU)
	kit.Logf("snapshot tag onto %s (k %d): push %v (no hook %v), hook alone %v (CPU %v)", kit.Count(n), k, r.tag, r.tagNoHook, r.tagHook, r.tagHookCPU)
	return r, nil
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
