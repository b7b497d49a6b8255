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
	"github.com/vmc-git/vmc-git/hooks"
)

// clone times git clone --no-local --bare of the ledger and reports its
// wall time, its CPU time (user+sys of git clone and every process it
// waited for) and peak RSS (wait4 rusage: the largest of its own and its
// waited-for children's): once with the local git-upload-pack as clone's
// child, so that the serving side (upload-pack, pack-objects) counts too,
// and once with it detached (setsid -f), so that only the client side
// counts (clone and index-pack), as in a clone from a remote server.
//
// It does so from two origins:
//   - the ledger as gitledger.Generate writes it: one pack with
//     Generate's own tree deltas, no bitmap. No server serves this (pushed
//     objects reach a server loose or in the pusher's pack, and the
//     server's gc repacks them); it shows what a server without
//     maintenance costs. No target.
//   - a served copy: what `vmc-git hook install` sets in a bare
//     repository (hooks.ApplyServeConfig, the same call), then the
//     maintenance README "Serving a large ledger" documents, `git repack -a -d
//     -f`: git's own delta search over every object (with the config's
//     pack.depth), the reachability bitmap from the config's
//     repack.writeBitmaps. This is the row with the targets.
//
// It also reports the objects a receipt costs (in-pack objects /
// receipts), which is what the client's index-pack hashes and indexes.
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
	if err := b.cloneFrom(tmp, dir, n, "as gitledger.Generate writes it (no server maintenance, no bitmap; no server serves this)", false); err != nil {
		return err
	}
	served := filepath.Join(tmp, "served.git")
	if out, err := exec.Command("git", "clone", "-q", "--bare", "--no-hardlinks", dir, served).CombinedOutput(); err != nil {
		return fmt.Errorf("git clone: %v: %s", err, out)
	}
	settings, err := hooks.ApplyServeConfig(served)
	if err != nil {
		return err
	}
	var conf []string
	for _, s := range settings {
		conf = append(conf, s.Key+"="+s.Value)
	}
	cmd := gitCmd(served, maintenance...)
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("git %s: %v: %s", strings.Join(maintenance, " "), err, out)
	}
	d := time.Since(start)
	cpu, mb := usage(cmd.ProcessState)
	if bm, _ := filepath.Glob(filepath.Join(served, "objects", "pack", "*.bitmap")); len(bm) != 1 {
		return fmt.Errorf("git %s with %s wrote %d bitmaps, want 1", strings.Join(maintenance, " "), strings.Join(conf, " "), len(bm))
	}
	kit.Logf("serving config %s; git %s of %d: %v wall, %v CPU, %.0f MB", strings.Join(conf, " "), strings.Join(maintenance, " "), n, d, cpu, mb)
	b.add(fmt.Sprintf("server maintenance of the %s ledger, once: hook install's config, git %s: wall, CPU, peak RSS", kit.Count(n), strings.Join(maintenance, " ")),
		fmt.Sprintf("%.1f s, %.1f s, %.0f MB", d.Seconds(), cpu.Seconds(), mb), "", nil)
	return b.cloneFrom(tmp, served, n, "served (hook install's config, git "+strings.Join(maintenance, " ")+")", true)
}

// maintenance is the server maintenance README "Serving a large ledger" gives,
// run in the served copy after hooks.ApplyServeConfig.
var maintenance = []string{"repack", "-a", "-d", "-f", "-q"}

// usage is the CPU time (user+sys) and peak RSS in MB of a finished process
// and the children it waited for.
func usage(ps *os.ProcessState) (time.Duration, float64) {
	var mb float64
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		mb = float64(ru.Maxrss) / 1024
	}
	return ps.UserTime() + ps.SystemTime(), mb
}

// cloneFrom measures the clones of origin and adds their rows, with the
// targets when target.
func (b *bench) cloneFrom(tmp, origin string, n int, how string, target bool) error {
	run := func(i int, args ...string) (time.Duration, time.Duration, float64, error) {
		dst := filepath.Join(tmp, fmt.Sprintf("c%d.git", i))
		defer os.RemoveAll(dst)
		cmd := gitCmd(tmp, append(append([]string{"clone", "-q", "--no-local", "--bare"}, args...), origin, dst)...)
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			return 0, 0, 0, fmt.Errorf("git clone: %v: %s", err, out)
		}
		d := time.Since(start)
		if out, err := gitCmd(dst, "rev-list", "--count", gitledger.DefaultBranch).Output(); err != nil || strings.TrimSpace(string(out)) != fmt.Sprint(n) {
			return 0, 0, 0, fmt.Errorf("clone has %q commits, want %d: %v", out, n, err)
		}
		cpu, mb := usage(cmd.ProcessState)
		return d, cpu, mb, nil
	}
	var ds, cpus, clientCPUs []time.Duration
	var all, client []float64
	for i := 0; i < b.runs; i++ {
		d, cpu, mb, err := run(2 * i)
		if err != nil {
			return err
		}
		ds, cpus, all = append(ds, d), append(cpus, cpu), append(all, mb)
		_, cpu, mb, err = run(2*i+1, "--upload-pack", "setsid -f git-upload-pack")
		if err != nil {
			return err
		}
		clientCPUs, client = append(clientCPUs, cpu), append(client, mb)
	}
	d, cpu, clientCPU := kit.Median(ds), kit.Median(cpus), kit.Median(clientCPUs)
	slices.Sort(all)
	slices.Sort(client)
	mbAll, mbClient := all[len(all)/2], client[len(client)/2]
	kit.Logf("git clone --no-local of %d %s: %v wall, %v CPU (client side %v), %.0f MB with the serving side, %.0f MB client side", n, how, d, cpu, clientCPU, mbAll, mbClient)
	row := func(metric, value string, v, limit float64, unit string) {
		if !target {
			b.add(metric, value, "", nil)
			return
		}
		ok := v < limit
		b.add(metric, value, fmt.Sprintf("< %.0f %s", limit, unit), &ok)
	}
	row(fmt.Sprintf("git clone --no-local of the %s ledger, %s: wall", kit.Count(n), how), fmt.Sprintf("%.2f s", d.Seconds()), d.Seconds(), targetCloneS, "s")
	b.add("  CPU time of that clone (user+sys), both sides / client side only", fmt.Sprintf("%.2f s / %.2f s", cpu.Seconds(), clientCPU.Seconds()), "", nil)
	row(fmt.Sprintf("  peak RSS of that clone, serving side included (pack-objects), %s", kit.Count(n)), fmt.Sprintf("%.0f MB", mbAll), mbAll, targetCloneRSSMB, "MB")
	row(fmt.Sprintf("  peak RSS of that clone, client side only (clone, index-pack), %s", kit.Count(n)), fmt.Sprintf("%.0f MB", mbClient), mbClient, targetCloneRSSMB, "MB")
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
