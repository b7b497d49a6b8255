// Command hookbomb measures the pre-receive hook's peak memory (RSS) and
// time on the memory-bomb pushes of issue 9, and on normal pushes of 1 and
// 500 receipts, for this tree's vmc-git and, with -before REV, for the
// vmc-git of an earlier revision of this repository (built from a
// temporary git worktree), and prints one markdown table:
//
//	go run ./bench/hookbomb [-before cf79c26] [-runs 3] [-out bench/out]
//
// Each case is one "<old> <new> <ref>" line given to `vmc-git hook
// pre-receive` as git gives it (GIT_DIR set, the pushed objects in the
// repository), on a ledger of 100 receipts whose main branch carries
// .vmc/config.json with the genesis pin:
//
//   - HEAD.json of 16 MiB "[0,0,…]" in a new ledger commit (a 17 KB push);
//   - the same with 64 MiB (a 66 KB push);
//   - a plan of 12 MB with 800k labels added on main;
//   - 1 and 500 new valid receipts on the ledger branch.
//
// Peak RSS is the hook process's maximum resident set (getrusage), the
// time its wall-clock time, both the median of -runs runs. Target (issue
// 9): any push under 10 MB costs the hook under 100 MB and 2 s; normal
// pushes are no slower than before.
package main

import (
	"bytes"
	"flag"
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
	"github.com/vmc-git/vmc-git/internal/canon"
	"github.com/vmc-git/vmc-git/internal/config"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/provider"
	"github.com/vmc-git/vmc-git/receipt"
)

const (
	targetRSSMB = 100.0
	targetTime  = 2 * time.Second
	ledgerSize  = 100
)

type pushCase struct {
	name     string
	line     string // "<old> <new> <ref>"
	pushSize int64  // bytes git would send (the objects, compressed)
	bomb     bool
}

type measured struct {
	time    time.Duration
	rssMB   float64
	refused bool
	why     string // the first refusal line
}

func main() {
	// -measure-one BIN REPO LINE: run the hook once and print "<ns> <maxrss
	// KiB> <exit code>". The parent holds hundreds of MB (the bomb inputs),
	// and a child's max RSS counts the memory it shared with its parent
	// until exec (Go starts children with vfork): a small process between
	// them keeps the number the hook's own.
	if len(os.Args) == 5 && os.Args[1] == "-measure-one" {
		measureOne(os.Args[2], os.Args[3], os.Args[4])
		return
	}
	before := flag.String("before", "", "also measure the vmc-git of this revision (e.g. cf79c26)")
	runs := flag.Int("runs", 3, "runs per measurement (the median is reported)")
	out := flag.String("out", "bench/out", "cache directory (the bench key)")
	flag.Parse()
	out2, s, err := kit.Open(*out)
	if err != nil {
		kit.Fail("hookbomb", err)
	}
	tmp, err := os.MkdirTemp(out2, "hookbomb-")
	if err != nil {
		kit.Fail("hookbomb", err)
	}
	defer os.RemoveAll(tmp)
	bins := map[string]string{"after": filepath.Join(tmp, "vmc-after")}
	if err := build(".", bins["after"]); err != nil {
		kit.Fail("hookbomb", err)
	}
	order := []string{"after"}
	if *before != "" {
		wt := filepath.Join(tmp, "before-src")
		if out, err := exec.Command("git", "worktree", "add", "-q", "--detach", wt, *before).CombinedOutput(); err != nil {
			kit.Fail("hookbomb", fmt.Errorf("git worktree add %s: %v\n%s", *before, err, out))
		}
		defer exec.Command("git", "worktree", "remove", "--force", wt).Run()
		bins["before"] = filepath.Join(tmp, "vmc-before")
		if err := build(wt, bins["before"]); err != nil {
			kit.Fail("hookbomb", err)
		}
		order = []string{"before", "after"}
	}
	repo := filepath.Join(tmp, "repo")
	cases, err := setup(repo, s)
	if err != nil {
		kit.Fail("hookbomb", err)
	}
	var t kit.Table
	for _, c := range cases {
		for _, which := range order {
			m, err := measure(bins[which], repo, c.line, *runs)
			if err != nil {
				kit.Fail("hookbomb", fmt.Errorf("%s (%s): %w", c.name, which, err))
			}
			verdict := "accepted"
			if m.refused {
				verdict = "refused"
				kit.Logf("%s (%s): %s", c.name, which, m.why)
			}
			metric := fmt.Sprintf("hook, %s (push of %s), %s: %s", c.name, size(c.pushSize), which, verdict)
			value := fmt.Sprintf("%.0f MB, %s", m.rssMB, m.time.Round(time.Millisecond))
			target, ok := "", (*bool)(nil)
			if which == "after" && c.bomb {
				target = fmt.Sprintf("< %.0f MB, < %s, refused", targetRSSMB, targetTime)
				good := m.rssMB < targetRSSMB && m.time < targetTime && m.refused
				ok = &good
			}
			if which == "after" && !c.bomb {
				target = "accepted"
				good := !m.refused
				ok = &good
			}
			t.Add(metric, value, target, ok)
		}
	}
	t.Print(os.Stdout, "pre-receive hook: memory bombs and normal pushes (peak RSS, wall time)")
}

func build(dir, outPath string) error {
	cmd := exec.Command("go", "build", "-o", outPath, "./cmd/vmc-git")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build in %s: %v\n%s", dir, err, out)
	}
	return nil
}

func size(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.0f KB", float64(n)/1024)
}

func git(dir string, stdin []byte, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=bench", "GIT_AUTHOR_EMAIL=bench@example.com", "GIT_COMMITTER_NAME=bench", "GIT_COMMITTER_EMAIL=bench@example.com")
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, ee.Stderr)
		}
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// withFile returns tree with path (one level under an optional dir) set to blob.
func withFile(dir, tree, name, blob, sub string) (string, error) {
	ls, err := git(dir, nil, "ls-tree", tree)
	if err != nil {
		return "", err
	}
	var lines []string
	for _, l := range strings.Split(ls, "\n") {
		top := sub
		if top == "" {
			top = name
		}
		if l != "" && !strings.HasSuffix(l, "\t"+top) {
			lines = append(lines, l)
		}
	}
	if sub == "" {
		lines = append(lines, "100644 blob "+blob+"\t"+name)
	} else {
		st, err := git(dir, []byte("100644 blob "+blob+"\t"+name+"\n"), "mktree")
		if err != nil {
			return "", err
		}
		lines = append(lines, "040000 tree "+st+"\t"+sub)
	}
	return git(dir, []byte(strings.Join(lines, "\n")+"\n"), "mktree")
}

// packSize is what git would send for the objects reachable from new and
// not from old: the bytes of `git pack-objects --revs --stdout`.
func packSize(dir, old, new string) int64 {
	in := new + "\n"
	if old != "" {
		in += "^" + old + "\n"
	}
	cmd := exec.Command("git", "pack-objects", "--revs", "--stdout", "-q")
	cmd.Dir, cmd.Stdin = dir, strings.NewReader(in)
	out, _ := cmd.Output()
	return int64(len(out))
}

func setup(repo string, s *keys.Signer) ([]pushCase, error) {
	if err := os.MkdirAll(repo, 0o755); err != nil {
		return nil, err
	}
	if _, err := git(repo, nil, "init", "-q", "-b", "main"); err != nil {
		return nil, err
	}
	l, err := gitledger.Open(repo, "")
	if err != nil {
		return nil, err
	}
	g := receipt.Genesis{Keys: []keys.KeySpec{{KID: kit.KID, PublicKey: keys.FormatPublicKey(s.PublicKey()),
		Roles: []keys.Role{keys.RoleAdmin, keys.RoleApplier, keys.RoleApprover}}},
		Policy: keys.Policy{ApprovalsRequired: 1, AdminThreshold: 1}} // unpinned: the -before binary reads it too
	if _, err := l.Init(kit.LedgerID, s, kit.KID, g, time.Now().Add(-time.Hour)); err != nil {
		return nil, err
	}
	if _, err := gitledger.Generate(l, s, kit.KID, ledgerSize-1, gitledger.GenerateOptions{Summary: "maintenance"}); err != nil {
		return nil, err
	}
	tip, err := l.Tip()
	if err != nil {
		return nil, err
	}
	r, err := l.NewReader()
	if err != nil {
		return nil, err
	}
	g0, err := r.Receipt(0)
	if err != nil {
		return nil, err
	}
	cfg := &config.Config{V: 1, Ledger: kit.LedgerID, Branch: gitledger.DefaultBranch, MainBranch: "main",
		GenesisBlake3: digest.Of(g0.Bytes).Blake3, Provider: config.ProviderSandbox}
	cb, err := cfg.Encode()
	if err != nil {
		return nil, err
	}
	cblob, err := git(repo, cb, "hash-object", "-w", "--stdin")
	if err != nil {
		return nil, err
	}
	empty, _ := git(repo, nil, "mktree")
	mtree, err := withFile(repo, empty, "config.json", cblob, ".vmc")
	if err != nil {
		return nil, err
	}
	main0, err := git(repo, nil, "commit-tree", mtree, "-m", "config")
	if err != nil {
		return nil, err
	}
	if _, err := git(repo, nil, "update-ref", "refs/heads/main", main0); err != nil {
		return nil, err
	}
	ledgerRef := "refs/heads/" + gitledger.DefaultBranch
	t0 := tip.Commit.String()
	var cases []pushCase
	// HEAD.json bombs on top of the ledger tip.
	for _, mib := range []int{16, 64} {
		bomb := zeroArray(mib << 20)
		blob, err := git(repo, bomb, "hash-object", "-w", "--stdin")
		if err != nil {
			return nil, err
		}
		tree, err := withFile(repo, t0+"^{tree}", gitledger.HeadFile, blob, "")
		if err != nil {
			return nil, err
		}
		c, err := git(repo, nil, "commit-tree", tree, "-p", t0, "-m", "vmc: 100 manual bomb")
		if err != nil {
			return nil, err
		}
		cases = append(cases, pushCase{fmt.Sprintf("HEAD.json of %d MiB [0,0,…]", mib), t0 + " " + c + " " + ledgerRef, packSize(repo, t0, c), true})
	}
	// A plan of 12 MB with 800k labels, valid but for its size.
	labels := map[string]string{}
	for i := 0; len(labels) < 800000; i++ {
		labels["k"+strconv.Itoa(i)] = "v"
	}
	p := plans.Plan{V: plans.Version, ID: "web-1-create-bomb", Ledger: kit.LedgerID, CreatedAt: "2026-12-01T00:00:00Z",
		Summary: "create web-1", LedgerHead: plans.LedgerRef{Seq: tip.Head.Seq, Blake3: tip.Head.Blake3},
		Actions: []plans.Step{{Action: provider.Action{Op: provider.OpCreate, Server: "web-1", ServerType: "cx22", Image: "ubuntu-24.04", Labels: labels}}}}
	pb, err := canon.Marshal(&p)
	if err != nil {
		return nil, err
	}
	pblob, err := git(repo, pb, "hash-object", "-w", "--stdin")
	if err != nil {
		return nil, err
	}
	ptree, err := withFile(repo, mtree, p.ID+".json", pblob, plans.Dir)
	if err != nil {
		return nil, err
	}
	pc, err := git(repo, nil, "commit-tree", ptree, "-p", main0, "-m", "plan")
	if err != nil {
		return nil, err
	}
	cases = append(cases, pushCase{fmt.Sprintf("plan of %.0f MB with 800k labels", float64(len(pb))/1e6), main0 + " " + pc + " refs/heads/main", packSize(repo, main0, pc), true})
	// Normal pushes: 1 and 500 valid receipts.
	for _, n := range []int{1, 500} {
		if _, err := git(repo, nil, "update-ref", ledgerRef, t0); err != nil {
			return nil, err
		}
		w, err := gitledger.Generate(l, s, kit.KID, n, gitledger.GenerateOptions{Summary: "normal"})
		if err != nil {
			return nil, err
		}
		c := w.Commit.String()
		cases = append(cases, pushCase{fmt.Sprintf("%d new receipt(s)", n), t0 + " " + c + " " + ledgerRef, packSize(repo, t0, c), false})
	}
	if _, err := git(repo, nil, "update-ref", ledgerRef, t0); err != nil {
		return nil, err
	}
	return cases, nil
}

func measureOne(bin, repo, line string) {
	cmd := exec.Command(bin, "hook", "pre-receive", "--main-branch", "main", "--ledger-branch", gitledger.DefaultBranch)
	cmd.Env = append(os.Environ(), "GIT_DIR="+filepath.Join(repo, ".git"))
	cmd.Stdin = strings.NewReader(line + "\n")
	var errb bytes.Buffer
	cmd.Stderr = &errb
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	if cmd.ProcessState == nil {
		kit.Fail("hookbomb", err)
	}
	code := cmd.ProcessState.ExitCode()
	if err != nil && !strings.Contains(errb.String(), "refused") {
		kit.Fail("hookbomb", fmt.Errorf("hook failed without a refusal: %v\n%s", err, errb.String()))
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	why, _, _ := strings.Cut(errb.String(), "\n")
	fmt.Printf("%d %d %d\n%s\n", took.Nanoseconds(), ru.Maxrss, code, why)
}

func measure(bin, repo, line string, runs int) (measured, error) {
	var ts []time.Duration
	var rss []float64
	var m measured
	self, err := os.Executable()
	if err != nil {
		return m, err
	}
	for i := 0; i < runs; i++ {
		out, err := exec.Command(self, "-measure-one", bin, repo, line).Output()
		if err != nil {
			return m, fmt.Errorf("measure: %v", err)
		}
		var ns, kb int64
		var code int
		first, why, _ := strings.Cut(string(out), "\n")
		if _, err := fmt.Sscan(first, &ns, &kb, &code); err != nil {
			return m, fmt.Errorf("measure: %q: %v", out, err)
		}
		m.why = strings.TrimSpace(why)
		ts = append(ts, time.Duration(ns))
		rss = append(rss, float64(kb)/1024) // KiB on Linux
		m.refused = code != 0
	}
	m.time = kit.Median(ts)
	slices.Sort(rss)
	m.rssMB = rss[len(rss)/2]
	return m, nil
}

// zeroArray returns a JSON text of exactly n bytes (n even, n >= 4):
// [0,0,…,0] and one space. Valid JSON: the pre-issue-9 hook parsed it
// into one tree node per element.
func zeroArray(n int) []byte {
	b := append([]byte("["), bytes.Repeat([]byte("0,"), (n-4)/2)...)
	return append(b, "0] "...)
}
