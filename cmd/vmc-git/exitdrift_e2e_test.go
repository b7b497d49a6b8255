package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vmc-git/vmc-git/provider"
	"github.com/vmc-git/vmc-git/provider/sandbox"
)

// TestDriftExitCode: drift has an exit code of its own, 6, not a usage
// error's 2 (the vmc-drift workflow reads the code alone): with --plan-fix
// too; drift with a bad flag is still a usage error (2); no drift is 0;
// --help and drift --help document it.
func TestDriftExitCode(t *testing.T) {
	t.Parallel()
	sb, err := sandbox.New(sandbox.Options{Token: sandboxToken, ActionDuration: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	prov, url := serve(t, sb)
	r := newRepo(t, repoOpts{env: hetznerEnv(url)})
	if res := r.run("drift"); res.code != 0 || !strings.Contains(res.out, "no drift") {
		t.Fatalf("drift before any change: %s", res)
	}
	if res, err := prov.Apply(context.Background(), provider.Action{Op: provider.OpCreate, Server: "rogue-1", ServerType: "cx22", Image: "debian-12"}, nil); err != nil || res.Status != provider.StatusSucceeded {
		t.Fatalf("a server made behind vmc-git's back: %v %+v", err, res)
	}
	for _, args := range [][]string{{"drift"}, {"drift", "--json"}, {"drift", "--plan-fix", "--kid", "alice"}} {
		res := r.run(args...)
		if res.code != 6 || !strings.Contains(res.err, "vmc-git: error: drift: 1 finding(s)") {
			t.Fatalf("%s: want exit 6 on drift: %s", strings.Join(args, " "), res)
		}
	}
	if res := r.run("drift", "--no-such-flag"); res.code != 2 {
		t.Fatalf("a usage error of drift: want exit 2: %s", res)
	}
	if res := r.run("--help"); !strings.Contains(res.out, "   2  usage error") || !strings.Contains(res.out, "   6  drift: vmc-git drift found the provider differing from the ledger") {
		t.Fatalf("--help does not document exit codes 2 and 6:\n%s", res.out)
	}
	if res := r.run("drift", "--help"); !strings.Contains(res.out, "Exit code 6 when there is drift") {
		t.Fatalf("drift --help:\n%s", res.out)
	}
}
