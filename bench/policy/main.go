// Command policy benchmarks a policy check against the default policy set
// and prints one markdown table (metric | value).
//
//	go run ./bench/policy [-sizes 100,1000,10000] [-runs 5]
//
// Each size is a provider answer of that many servers (a quarter of them
// breaking a rule: bad name, missing label, production without delete
// protection), turned into the input document, evaluated, and attested (the
// in-toto Statement with one subject per server). Every figure is the
// median of -runs runs.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vmc-git/vmc-git/policy"
	"github.com/vmc-git/vmc-git/provider"
)

func median(runs int, f func() error) (time.Duration, error) {
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

func servers(n int) []provider.Server {
	out := make([]provider.Server, n)
	for i := range out {
		s := provider.Server{ID: int64(i + 1), Name: "web-" + strconv.Itoa(i+1), Status: "running", ServerType: "cx22",
			Image: "ubuntu-24.04", Location: "fsn1", Labels: map[string]string{"env": "production", "role": "web", "vmc.ledger": "example.com.infra"},
			IPv4: "203.0.113." + strconv.Itoa(i%250), IPv6: "2001:db8::/64", Created: time.Unix(1_700_000_000, 0).UTC()}
		s.Protection.Delete = true
		switch i % 12 {
		case 0:
			s.Name = "Web" + strconv.Itoa(i)
		case 1:
			delete(s.Labels, "role")
		case 2:
			s.Protection.Delete = false
		}
		out[i] = s
	}
	return out
}

func main() {
	sizes := flag.String("sizes", "100,1000,10000", "numbers of servers")
	runs := flag.Int("runs", 5, "runs per measurement (the median is reported)")
	flag.Parse()
	if err := run(*sizes, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "policy bench:", err)
		os.Exit(1)
	}
}

func run(sizes string, runs int) error {
	var b *policy.Bundle
	compile, err := median(runs, func() (err error) { b, err = policy.Compile(policy.Defaults()); return err })
	if err != nil {
		return err
	}
	fmt.Printf("policy check, default set (%d files), median of %d runs, GOMAXPROCS=%d\n\n", len(policy.Defaults()), runs, runtime.GOMAXPROCS(0))
	fmt.Println("| servers | input bytes | deny | warn | build input | evaluate | attest (statement) | total |")
	fmt.Println("|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, f := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("bad size %q", f)
		}
		ss := servers(n)
		var doc *policy.Document
		build, err := median(runs, func() (err error) { doc, err = policy.FromServers(ss); return err })
		if err != nil {
			return err
		}
		raw, err := doc.Encode()
		if err != nil {
			return err
		}
		var res *policy.Result
		eval, err := median(runs, func() (err error) {
			res, err = b.Eval(context.Background(), doc, policy.Limits{Timeout: time.Minute, MaxHeapGrowth: 4 << 30})
			return err
		})
		if err != nil {
			return err
		}
		attest, err := median(runs, func() error { _, err := policy.Statement(b, "", doc, res); return err })
		if err != nil {
			return err
		}
		fmt.Printf("| %d | %d | %d | %d | %s | %s | %s | %s |\n", n, len(raw), len(res.Deny), len(res.Warn),
			ms(build), ms(eval), ms(attest), ms(build+eval+attest))
	}
	fmt.Printf("\ncompile (parse + compile + prepare the query): %s\n", ms(compile))
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
