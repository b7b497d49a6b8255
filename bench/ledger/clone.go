package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vmc-git/vmc-git/bench/internal/kit"
	"github.com/vmc-git/vmc-git/gitledger"
)

// clone times git clone --no-local --bare of the ledger and reports peak
// RSS (wait4 rusage of git clone: the largest of its own and its waited-for
// children's): once with the local git-upload-pack as clone's child, so
// that the serving side (pack-objects) counts too, and once with it
// detached (setsid -f), so that only the client side counts (clone and
// index-pack), as in a clone from a remote server.
//
// It does so twice: from the ledger as written (one pack from
// gitledger.Generate, no bitmaps), and from a copy packed with `git repack
// -adb`, as a git server's gc leaves a repository (Gitea runs git gc;
// repack.writeBitmaps is git's default for bare repositories), so that
// pack-objects reuses deltas and reads reachability from the bitmap instead
// of walking every commit and tree. It also reports the objects a receipt
// costs (in-pack objects / receipts), which is what the client's index-pack
// hashes and indexes.
func (b *bench) clone(dir string, n int) error {
	tmp, err := os.MkdirTemp(b.out, "clone-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	objs, err := inPack(dir)
	if err != nil {
		return err
	}
	b.add(fmt.Sprintf("git objects per receipt, %s ledger", kit.Count(n)), fmt.Sprintf("%.1f", float64(objs)/float64(n)), "", nil)
	if err := b.cloneFrom(tmp, dir, n, "as written (no bitmaps)"); err != nil {
		return err
	}
	packed := filepath.Join(tmp, "packed.git")
	if out, err := exec.Command("git", "clone", "-q", "--bare", "--no-hardlinks", dir, packed).CombinedOutput(); err != nil {
		return fmt.Errorf("git clone: %v: %s", err, out)
	}
	cmd := gitCmd(packed, "repack", "-adbq")
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("git repack -adb: %v: %s", err, out)
	}
	d := time.Since(start)
	var mb float64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		mb = float64(ru.Maxrss) / 1024
	}
	kit.Logf("git repack -adb of %d: %v, %.0f MB", n, d, mb)
	b.add(fmt.Sprintf("git repack -adb of the %s ledger (a server's gc, once)", kit.Count(n)), fmt.Sprintf("%.2f s, %.0f MB", d.Seconds(), mb), "", nil)
	return b.cloneFrom(tmp, packed, n, "from the repack -adb origin (bitmaps)")
}

// cloneFrom measures the clones of origin and adds their rows.
func (b *bench) cloneFrom(tmp, origin string, n int, how string) error {
	run := func(i int, args ...string) (time.Duration, float64, error) {
		dst := filepath.Join(tmp, fmt.Sprintf("c%d.git", i))
		defer os.RemoveAll(dst)
		cmd := gitCmd(tmp, append(append([]string{"clone", "-q", "--no-local", "--bare"}, args...), origin, dst)...)
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
	kit.Logf("git clone --no-local of %d %s: %v, %.0f MB with the serving side, %.0f MB client side", n, how, d, mbAll, mbClient)
	ok := d.Seconds() < targetCloneS
	b.add(fmt.Sprintf("git clone --no-local of the %s ledger, %s", kit.Count(n), how), fmt.Sprintf("%.2f s", d.Seconds()), fmt.Sprintf("< %.0f s", targetCloneS), &ok)
	okr := mbAll < targetCloneRSSMB
	b.add(fmt.Sprintf("peak RSS of that clone, serving side included (pack-objects), %s", kit.Count(n)), fmt.Sprintf("%.0f MB", mbAll), fmt.Sprintf("< %.0f MB", targetCloneRSSMB), &okr)
	okc := mbClient < targetCloneRSSMB
	b.add(fmt.Sprintf("peak RSS of that clone, client side only (clone, index-pack), %s", kit.Count(n)), fmt.Sprintf("%.0f MB", mbClient), fmt.Sprintf("< %.0f MB", targetCloneRSSMB), &okc)
	return nil
}

// inPack counts the packed objects of the repository at dir.
func inPack(dir string) (int, error) {
	out, err := gitCmd(dir, "count-objects", "-v").Output()
	if err != nil {
		return 0, fmt.Errorf("git count-objects: %w", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "in-pack: "); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, fmt.Errorf("git count-objects -v: no in-pack line in %q", out)
}
