// Command drift benchmarks a drift check: the replay of a ledger's receipts
// into the expected state (package state), the comparison with the
// provider's answer (drift.Compare) and the fix plan's actions
// (drift.PlanFix), and prints one markdown table.
//
//	go run ./bench/drift [-sizes 100,1000,10000] [-runs 5]
//
// Each size is that many servers, one firewall and one volume per ten
// servers and one network holding them all, created by one apply receipt
// per ten servers; the provider's answer has a tenth of the servers
// changed (type, labels), a hundredth missing and a hundredth unmanaged,
// and every tenth firewall with an extra rule. Every figure is the median
// of -runs runs (wall time, one goroutine; run under /usr/bin/time -v for
// CPU time and peak RSS).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vmc-git/vmc-git/drift"
	"github.com/vmc-git/vmc-git/provider"
	"github.com/vmc-git/vmc-git/receipt"
	"github.com/vmc-git/vmc-git/state"
)

const ledger = "example.com/bench/infra"

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

func record(a provider.Action, res provider.Result) receipt.ActionRecord {
	ab, _ := json.Marshal(a)
	rb, _ := json.Marshal(res)
	return receipt.ActionRecord{Action: ab, Result: rb}
}

// world makes the receipts of n servers and the provider's answer after
// the changes made behind vmc-git's back.
func world(n int) ([]*receipt.Receipt, drift.World) {
	labels := map[string]string{provider.LabelLedger: provider.LabelValue(ledger), provider.LabelPlan: "up", "role": "web"}
	rule := provider.FirewallRule{Direction: "in", Protocol: "tcp", Port: "443", SourceIPs: []string{"0.0.0.0/0"}}
	net := provider.Resource{Kind: provider.KindNetwork, ID: 1, Name: "net", Labels: labels, IPRange: "10.0.0.0/8"}
	w := drift.World{Resources: map[provider.Kind][]provider.Resource{}}
	var rs []*receipt.Receipt
	cur := &receipt.Receipt{Kind: receipt.KindApply, Apply: &receipt.Apply{Plan: receipt.PlanRef{ID: "up"}}}
	cur.Apply.Actions = append(cur.Apply.Actions, record(provider.Action{Kind: provider.KindNetwork, Op: provider.OpCreate, Name: "net", IPRange: net.IPRange},
		provider.Result{Status: provider.StatusSucceeded, Resource: &net}))
	for i := range n {
		name := "web-" + strconv.Itoa(i+1)
		fw := "fw-" + strconv.Itoa(i/10+1)
		s := provider.Server{ID: int64(i + 100), Name: name, Status: "running", ServerType: "cx22", Image: "ubuntu-24.04", Location: "fsn1",
			Labels: labels, Firewalls: []string{fw}, PrivateNet: []provider.PrivateNet{{Network: "net", IP: "10.0.0.1"}}}
		if i%10 == 0 {
			f := provider.Resource{Kind: provider.KindFirewall, ID: int64(i + 1_000_000), Name: fw, Labels: labels, Rules: []provider.FirewallRule{rule}}
			cur.Apply.Actions = append(cur.Apply.Actions, record(provider.Action{Kind: provider.KindFirewall, Op: provider.OpCreate, Name: fw},
				provider.Result{Status: provider.StatusSucceeded, Resource: &f}))
			fNow := f
			fNow.Servers = []string{}
			for j := i; j < min(i+10, n); j++ {
				if j%100 != 1 {
					fNow.Servers = append(fNow.Servers, "web-"+strconv.Itoa(j+1))
				}
			}
			if i%100 == 0 {
				fNow.Rules = append(fNow.Rules, provider.FirewallRule{Direction: "in", Protocol: "tcp", Port: "22", SourceIPs: []string{"0.0.0.0/0"}})
			}
			w.Resources[provider.KindFirewall] = append(w.Resources[provider.KindFirewall], fNow)
		}
		cur.Apply.Actions = append(cur.Apply.Actions, record(provider.Action{Op: provider.OpCreate, Server: name, ServerType: "cx22", Image: "ubuntu-24.04"},
			provider.Result{Status: provider.StatusSucceeded, Observed: &s}))
		if len(cur.Apply.Actions) >= 20 {
			rs = append(rs, cur)
			cur = &receipt.Receipt{Kind: receipt.KindApply, Apply: &receipt.Apply{Plan: receipt.PlanRef{ID: "up-" + strconv.Itoa(len(rs))}}}
		}
		switch {
		case i%100 == 1: // deleted by hand
			continue
		case i%10 == 3: // resized and relabelled by hand
			s.ServerType, s.Labels = "cx32", map[string]string{"role": "hacked"}
		}
		w.Servers = append(w.Servers, s)
		if i%100 == 5 { // created by hand
			w.Servers = append(w.Servers, provider.Server{ID: int64(i + 5_000_000), Name: "rogue-" + strconv.Itoa(i), Status: "running", ServerType: "cx22"})
		}
	}
	if len(cur.Apply.Actions) > 0 {
		rs = append(rs, cur)
	}
	netNow := net
	for _, s := range w.Servers {
		if strings.HasPrefix(s.Name, "web-") {
			netNow.Servers = append(netNow.Servers, s.Name)
		}
	}
	w.Resources[provider.KindNetwork] = []provider.Resource{netNow}
	return rs, w
}

func main() {
	sizes := flag.String("sizes", "100,1000,10000", "numbers of servers")
	runs := flag.Int("runs", 5, "runs per figure (the median is shown)")
	flag.Parse()
	fmt.Println("| servers | receipts | replay | compare | plan fix | findings | actions |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, f := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(f)
		if err != nil || n < 10 {
			fmt.Fprintf(os.Stderr, "bench/drift: size %q: want a number of at least 10\n", f)
			os.Exit(2)
		}
		rs, w := world(n)
		at := func(seq uint64) (*receipt.Receipt, error) {
			if seq == 0 {
				return &receipt.Receipt{Kind: receipt.KindGenesis}, nil
			}
			return rs[seq-1], nil
		}
		var st *state.State
		replay := median(*runs, func() {
			if st, err = state.Replay(ledger, uint64(len(rs)), at); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		})
		var fs []drift.Finding
		compare := median(*runs, func() { fs = drift.Compare(st, w) })
		var fx *drift.Fix
		fix := median(*runs, func() { fx = drift.PlanFix(st, w, fs) })
		fmt.Printf("| %d | %d | %s | %s | %s | %d | %d |\n", n, len(rs), replay.Round(time.Microsecond), compare.Round(time.Microsecond),
			fix.Round(time.Microsecond), len(fs), len(fx.Actions))
	}
}
