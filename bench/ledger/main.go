// Command ledger benchmarks the ledger (issue 2) and prints one markdown
// table (metric | value | target | ok):
//
//	go run ./bench/ledger [-runs 3] [-sizes 1000,10000,100000] [-out bench/out]
//
// It builds ledgers of each size with gitledger.Generate (real signed
// receipts, one pack; cached under -out and reused) and measures, as medians
// of -runs runs:
//
//   - verify --sig time per receipt: Ledger.Verify with Signatures, the code
//     path of `vmc-git verify chain --sig`;
//   - `git log --show-signature` per receipt on the 10k ledger (gpg.format=ssh
//     and the ledger's own keys/allowed_signers), and the speedup over it;
//   - a floor: only the signature checks (commit and receipt SSHSIG) and the
//     blake3+sha256 hashes of every receipt, data preloaded, on all cores;
//   - Ledger.Append time per receipt (fsynced loose objects), -appends
//     appends on a copy of the smallest and the largest ledger;
//   - peak RSS (VmHWM) of verify --sig, in a child process (this program
//     re-executed), which must stay under 100 MB and flat in n (the rows
//     largest/previous and largest/smallest);
//   - verify again after one new receipt, and git clone --no-local, on the
//     largest ledger (-incremental=false and -clone=false skip them, for a
//     run with -sizes 1000,10000,100000,1000000 that measures verify only).
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"

	"github.com/vmc-git/vmc-git/bench/internal/kit"
	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/receipt"
)

const (
	gitLogN = 10_000 // the ledger size compared with git log and the floor

	targetGitSpeedup = 50.0
	targetFloorRatio = 1.5
	targetAppendGrow = 1.5
	targetRSSMB      = 100.0 // issue 18: < 100 MB at 1M receipts, flat in n
)

func main() {
	runs := flag.Int("runs", 3, "runs per measurement (the median is reported)")
	sizesFlag := flag.String("sizes", "1000,10000,100000", "ledger sizes in receipts")
	out := flag.String("out", "bench/out", "cache directory for the generated ledgers")
	appends := flag.Int("appends", 200, "appends per run on the smallest and the largest ledger")
	gitLog := flag.Bool("gitlog", true, "time git log --show-signature on the 10k ledger")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of verify on the largest ledger")
	clone := flag.Bool("clone", true, "time git clone --no-local of the largest ledger")
	incremental := flag.Bool("incremental", true, "time verify after 1 new receipt on (a copy of) the largest ledger")
	child := flag.String("verify-child", "", "internal: verify the ledger in this directory and exit")
	cloneOnly := flag.Bool("clone-only", false, "only the clone rows, on the largest ledger")
	ratio := flag.Bool("ratio", false, "only verify --sig / floor on the 10k ledger, the two taking turns run after run (ratio.go)")
	before := flag.String("before", "", "a build of this benchmark from an older commit: verify the 10k ledger with it and with this build, alternately (before.go)")
	flag.Parse()
	if *child != "" {
		if err := verify(*child); err != nil {
			fmt.Fprintln(os.Stderr, "verify:", err)
			os.Exit(1)
		}
		// VmHWM is this process's own peak: the rusage maxrss of a child
		// includes the parent's RSS, which it inherits across fork and exec.
		status, err := os.ReadFile("/proc/self/status")
		if err != nil {
			kit.Fail("ledger", err)
		}
		for _, line := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				fmt.Println(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			}
		}
		return
	}
	var sizes []int
	for _, f := range strings.Split(*sizesFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 2 {
			kit.Fail("ledger", fmt.Errorf("bad -sizes entry %q", f))
		}
		sizes = append(sizes, n)
	}
	slices.Sort(sizes)
	if *runs < 1 {
		kit.Fail("ledger", errors.New("-runs must be at least 1"))
	}
	b, err := newBench(*out, *runs)
	if err != nil {
		kit.Fail("ledger", err)
	}
	if *ratio {
		b.runRatio()
		return
	}
	if *cloneOnly {
		n := sizes[len(sizes)-1]
		dir, err := b.ledger(n)
		if err == nil {
			err = b.clone(dir, n)
		}
		if err != nil {
			kit.Fail("ledger", err)
		}
		b.table.Print(os.Stdout, fmt.Sprintf("### ledger clone (runs=%d, %s/%s)", b.runs, runtime.GOOS, runtime.GOARCH))
		return
	}
	b.doClone, b.incremental, b.before = *clone, *incremental, *before
	if err := b.run(sizes, *appends, *gitLog, *cpuprofile); err != nil {
		kit.Fail("ledger", err)
	}
}

type bench struct {
	out                  string
	runs                 int
	doClone, incremental bool   // run those measurements (-clone, -incremental)
	before               string // -before: an older build to compare verify with
	signer               *keys.Signer
	table                kit.Table
}

func (b *bench) add(metric, value, target string, ok *bool) { b.table.Add(metric, value, target, ok) }

func newBench(out string, runs int) (*bench, error) {
	out, s, err := kit.Open(out)
	if err != nil {
		return nil, err
	}
	return &bench{out: out, runs: runs, signer: s}, nil
}

func (b *bench) run(sizes []int, appends int, gitLog bool, cpuprofile string) error {
	dirs := map[int]string{}
	for _, n := range sizes {
		dir, err := b.ledger(n)
		if err != nil {
			return err
		}
		dirs[n] = dir
	}
	largest, smallest := sizes[len(sizes)-1], sizes[0]

	// verify --sig per receipt
	perReceipt := map[int]time.Duration{}
	cpuPerReceipt := map[int]time.Duration{} // user+sys CPU of this process: less sensitive to other load
	for _, n := range sizes {
		var prof *os.File
		if cpuprofile != "" && n == largest {
			f, err := os.Create(cpuprofile)
			if err != nil {
				return err
			}
			prof = f
			pprof.StartCPUProfile(f)
		}
		var cpus []time.Duration
		d, err := medianErr(b.runs, func() error {
			c0 := cpuTime()
			err := verify(dirs[n])
			cpus = append(cpus, cpuTime()-c0)
			return err
		})
		cpuPerReceipt[n] = kit.Median(cpus) / time.Duration(n)
		if prof != nil {
			pprof.StopCPUProfile()
			prof.Close()
		}
		if err != nil {
			return fmt.Errorf("verify %d: %w", n, err)
		}
		perReceipt[n] = d / time.Duration(n)
		kit.Logf("verify --sig %d: %v total, %v/receipt", n, d, perReceipt[n])
		b.add(fmt.Sprintf("verify --sig per receipt, %s ledger", kit.Count(n)), us(perReceipt[n]), "", nil)
		b.add(fmt.Sprintf("verify --sig CPU time (user+sys) per receipt, %s ledger", kit.Count(n)), us(cpuPerReceipt[n]), "", nil)
	}

	if dir, ok := dirs[gitLogN]; ok {
		if gitLog {
			d, err := medianErr(b.runs, func() error { return gitLogShowSignature(dir, gitLogN) })
			if err != nil {
				return fmt.Errorf("git log: %w", err)
			}
			g := d / gitLogN
			kit.Logf("git log --show-signature %d: %v total, %v/receipt", gitLogN, d, g)
			b.add("git log --show-signature per receipt, 10k", us(g), "", nil)
			sp := float64(g) / float64(perReceipt[gitLogN])
			ok := sp >= targetGitSpeedup
			b.add("speedup of verify --sig over git log, 10k", fmt.Sprintf("%.0fx", sp), fmt.Sprintf(">= %.0fx", targetGitSpeedup), &ok)
		}
		fl, flCPU, err := b.floor(dir, gitLogN)
		if err != nil {
			return fmt.Errorf("floor: %w", err)
		}
		kit.Logf("floor %d: %v/receipt", gitLogN, fl)
		b.add(fmt.Sprintf("floor (sigs + hashes, %d cores) per receipt, 10k", runtime.GOMAXPROCS(0)), us(fl), "", nil)
		r := float64(perReceipt[gitLogN]) / float64(fl)
		ok := r <= targetFloorRatio
		b.add("verify --sig / floor, 10k", fmt.Sprintf("%.2fx", r), fmt.Sprintf("<= %.1fx", targetFloorRatio), &ok)
		b.add("floor CPU time (user+sys) per receipt, 10k", us(flCPU), "", nil)
		rc := float64(cpuPerReceipt[gitLogN]) / float64(flCPU)
		okc := rc <= targetFloorRatio
		b.add("verify --sig / floor in CPU time, 10k", fmt.Sprintf("%.2fx", rc), fmt.Sprintf("<= %.1fx", targetFloorRatio), &okc)
		if b.before != "" {
			if err := b.beforeAfter(b.before, dir, gitLogN, fl, flCPU); err != nil {
				return fmt.Errorf("before/after: %w", err)
			}
		}
	}

	// verify again after 1 new receipt, from the remembered verified head
	// (issue 18: < 50 ms at 100k, O(k)); the objects it reads are counted.
	if b.incremental {
		if err := b.verifyAgain(dirs[largest], largest); err != nil {
			return err
		}
	}

	if appends > 0 && largest != smallest {
		small, err := b.appendTime(dirs[smallest], appends)
		if err != nil {
			return err
		}
		large, err := b.appendTime(dirs[largest], appends)
		if err != nil {
			return err
		}
		b.add(fmt.Sprintf("append per receipt on %s (fsynced)", kit.Count(smallest)), ms(small), "", nil)
		b.add(fmt.Sprintf("append per receipt on %s (fsynced)", kit.Count(largest)), ms(large), "", nil)
		r := float64(large) / float64(small)
		ok := r <= targetAppendGrow
		b.add(fmt.Sprintf("append %s / %s", kit.Count(largest), kit.Count(smallest)), fmt.Sprintf("%.2fx", r), fmt.Sprintf("<= %.1fx", targetAppendGrow), &ok)
	}

	var rss []float64
	for _, n := range sizes {
		mb, err := peakRSS(dirs[n])
		if err != nil {
			return err
		}
		rss = append(rss, mb)
		kit.Logf("peak RSS verify %d: %.1f MB", n, mb)
		var ok *bool
		target := ""
		if n == largest {
			v := mb < targetRSSMB
			ok, target = &v, fmt.Sprintf("< %.0f MB", targetRSSMB)
		}
		b.add(fmt.Sprintf("peak RSS of verify --sig, %s", kit.Count(n)), fmt.Sprintf("%.1f MB", mb), target, ok)
	}
	if len(sizes) > 1 {
		g := rss[len(rss)-1] / rss[len(rss)-2]
		b.add(fmt.Sprintf("peak RSS %s / %s", kit.Count(largest), kit.Count(sizes[len(sizes)-2])), fmt.Sprintf("%.2fx", g),
			fmt.Sprintf("flat (ledger %dx)", largest/sizes[len(sizes)-2]), nil)
		g = rss[len(rss)-1] / rss[0]
		b.add(fmt.Sprintf("peak RSS %s / %s", kit.Count(largest), kit.Count(smallest)), fmt.Sprintf("%.2fx", g),
			fmt.Sprintf("flat (ledger %dx)", largest/smallest), nil)
	}

	if b.doClone {
		if err := b.clone(dirs[largest], largest); err != nil {
			return err
		}
	}

	b.table.Print(os.Stdout, fmt.Sprintf("### ledger (runs=%d, GOMAXPROCS=%d, %s/%s)", b.runs, runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH))
	return nil
}

func (b *bench) ledger(n int) (string, error) {
	dir, made, err := kit.Ledger(b.out, b.signer, n)
	if err == nil && made > 0 {
		b.add(fmt.Sprintf("generate %s ledger (one pack)", kit.Count(n)), made.Round(time.Millisecond).String(), "", nil)
	}
	return dir, err
}

// verify is what `vmc-git verify chain --sig` does.
func verify(dir string) error {
	l, err := gitledger.Open(dir, "")
	if err != nil {
		return err
	}
	_, err = l.Verify(gitledger.VerifyOptions{Signatures: true})
	return err
}

func gitCmd(dir string, args ...string) *exec.Cmd {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	return cmd
}

// gitLogShowSignature runs git log --show-signature over the ledger branch
// with the ledger's own allowed_signers and checks that all n are good.
func gitLogShowSignature(dir string, n int) error {
	as, err := gitCmd(dir, "show", gitledger.DefaultBranch+":"+gitledger.KeysDir+"/"+gitledger.AllowedSignersFile).Output()
	if err != nil {
		return err
	}
	asFile := filepath.Join(dir, ".git", "bench_allowed_signers")
	if err := os.WriteFile(asFile, as, 0o644); err != nil {
		return err
	}
	cmd := gitCmd(dir, "-c", "gpg.format=ssh", "-c", "gpg.ssh.allowedSignersFile="+asFile,
		"log", "--show-signature", gitledger.DefaultBranch)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	good := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if bytes.HasPrefix(sc.Bytes(), []byte(`Good "git" signature for `+kit.KID)) {
			good++
		}
	}
	if err := cmd.Wait(); err != nil {
		return err
	}
	if good != n {
		return fmt.Errorf("git log: %d good signatures, want %d", good, n)
	}
	return nil
}

// sigWork is one receipt's signature work, preloaded for the floor.
type sigWork struct {
	payload, body []byte
	csig, rsig    *sshsig.Signature
}

// floor measures only the crypto of verify --sig: per receipt the commit and
// receipt SSHSIG checks and the blake3+sha256 of the receipt, on all cores.
func (b *bench) floor(dir string, n int) (time.Duration, time.Duration, error) {
	work, err := b.floorWork(dir, n)
	if err != nil {
		return 0, 0, err
	}
	pub := b.signer.PublicKey()
	var cpus []time.Duration
	d, err := medianErr(b.runs, func() error {
		c0 := cpuTime()
		err := floorRun(work, pub)
		cpus = append(cpus, cpuTime()-c0)
		return err
	})
	return d / time.Duration(n), kit.Median(cpus) / time.Duration(n), err
}

// floorWork preloads the floor's work for the n receipts of dir.
func (b *bench) floorWork(dir string, n int) ([]sigWork, error) {
	l, err := gitledger.Open(dir, "")
	if err != nil {
		return nil, err
	}
	ref, err := l.Repo().Reference(l.Ref, true)
	if err != nil {
		return nil, err
	}
	tip, err := l.Tip()
	if err != nil {
		return nil, err
	}
	work := make([]sigWork, 0, n)
	for h := ref.Hash(); !h.IsZero(); {
		c, err := l.Repo().CommitObject(h)
		if err != nil {
			return nil, err
		}
		w, err := loadWork(c, uint64(n-1-len(work)), tip.Head.V)
		if err != nil {
			return nil, err
		}
		work = append(work, w)
		h = plumbing.ZeroHash
		if len(c.ParentHashes) > 0 {
			h = c.ParentHashes[0]
		}
	}
	if len(work) != n {
		return nil, fmt.Errorf("%d commits, want %d", len(work), n)
	}
	return work, nil
}

func loadWork(c *object.Commit, seq uint64, format int) (sigWork, error) {
	var w sigWork
	var buf plumbing.MemoryObject
	if err := c.EncodeWithoutSignature(&buf); err != nil {
		return w, err
	}
	r, _ := buf.Reader()
	var payload bytes.Buffer
	payload.ReadFrom(r)
	w.payload = payload.Bytes()
	tree, err := c.Tree()
	if err != nil {
		return w, err
	}
	p := receipt.PathIn(format, seq)
	read := func(path string) ([]byte, error) {
		f, err := tree.File(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		s, err := f.Contents()
		return []byte(s), err
	}
	if w.body, err = read(p); err != nil {
		return w, err
	}
	sig, err := read(p + receipt.SigSuffix)
	if err != nil {
		return w, err
	}
	if w.rsig, err = keys.ParseSignature(sig); err != nil {
		return w, err
	}
	w.csig, err = keys.ParseSignature([]byte(c.PGPSignature))
	return w, err
}

func floorRun(work []sigWork, pub ssh.PublicKey) error {
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	var sink atomic.Uint32
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(work) {
					return
				}
				j := &work[i]
				err := keys.VerifyParsed(pub, keys.NamespaceGit, j.payload, j.csig)
				if err == nil {
					err = keys.VerifyParsed(pub, keys.NamespaceReceipt, j.body, j.rsig)
				}
				if err != nil {
					once.Do(func() { firstErr = err })
				}
				s := digest.Of(j.body)
				sink.Add(uint32(s.Blake3[0]) + uint32(s.SHA256[0]))
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// appendTime copies the ledger and returns the median over runs of the mean
// time of one Ledger.Append (fsynced loose objects and ref).
func (b *bench) appendTime(dir string, appends int) (time.Duration, error) {
	tmp, err := os.MkdirTemp(b.out, "append-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	cp := filepath.Join(tmp, "ledger")
	if out, err := exec.Command("cp", "-a", dir, cp).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("cp: %v: %s", err, out)
	}
	l, err := gitledger.Open(cp, "")
	if err != nil {
		return 0, err
	}
	build := func(*gitledger.Tip) (*gitledger.Draft, error) {
		return &gitledger.Draft{Receipt: receipt.Receipt{Kind: receipt.KindManual, Summary: "bench append", Manual: &receipt.Manual{}}}, nil
	}
	d, err := medianErr(b.runs, func() error {
		for i := 0; i < appends; i++ {
			if _, err := l.Append(b.signer, kit.KID, build); err != nil {
				return err
			}
		}
		return nil
	})
	per := d / time.Duration(appends)
	kit.Logf("append on %s: %v/receipt", filepath.Base(dir), per)
	return per, err
}

// peakRSS runs verify in a child process and returns its peak RSS in MB.
func peakRSS(dir string) (float64, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(exe, "-verify-child", dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("verify child: %w", err)
	}
	kb, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil {
		return 0, fmt.Errorf("verify child: no VmHWM in %q", out)
	}
	return kb / 1024, nil
}

// medianErr runs f runs times and returns the median duration.
func medianErr(runs int, f func() error) (time.Duration, error) {
	ds := make([]time.Duration, runs)
	for i := range ds {
		runtime.GC()
		start := time.Now()
		if err := f(); err != nil {
			return 0, err
		}
		ds[i] = time.Since(start)
	}
	slices.Sort(ds)
	return ds[len(ds)/2], nil
}

func us(d time.Duration) string { return fmt.Sprintf("%.1f µs", float64(d)/1e3) }
func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/1e6) }
