package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vmc-git/vmc-git/drift"
	"github.com/vmc-git/vmc-git/policy"
	"github.com/vmc-git/vmc-git/provider"
	"github.com/vmc-git/vmc-git/provider/sandbox"
	"github.com/vmc-git/vmc-git/receipt"
	"github.com/vmc-git/vmc-git/workspace"
)

func driftJSON(t *testing.T, res result) workspace.DriftReport {
	t.Helper()
	var rep workspace.DriftReport
	if err := json.Unmarshal([]byte(res.out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, res)
	}
	return rep
}

func findingKeys(fs []drift.Finding) string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Kind+" "+f.Resource+" "+f.Field)
	}
	return strings.Join(out, "; ")
}

// TestDrift: changes made behind vmc-git's back through the sandbox's API
// (a server deleted, resized, relabelled, a server created by hand) show as
// drift, exit 2, and attest.
func TestDrift(t *testing.T) {
	t.Parallel()
	sb, err := sandbox.New(sandbox.Options{Token: sandboxToken, ActionDuration: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	prov, url := serve(t, sb)
	r := newRepo(t, repoOpts{env: hetznerEnv(url)})
	for _, n := range []string{"web-1", "web-2", "db-1"} {
		r.planApproved(n+"-create", "create", n, "--type", "cx22", "--image", "ubuntu-24.04", "--label", "role=x")
	}
	r.must("apply", "--pending", "--key", key("alice"))
	if out := r.must("drift"); !strings.Contains(out, "no drift") || !strings.Contains(out, "3 servers expected, 3 at the provider") {
		t.Fatalf("drift after apply: %s", out)
	}

	ctx := context.Background()
	for _, a := range []provider.Action{
		{Op: provider.OpDelete, Server: "web-2"},
		{Op: provider.OpPoweroff, Server: "web-1"},
		{Op: provider.OpResize, Server: "web-1", ServerType: "cx32"},
		{Op: provider.OpLabel, Server: "db-1", Labels: map[string]string{"role": "hacked"}},
		{Op: provider.OpCreate, Server: "rogue-1", ServerType: "cx22", Image: "debian-12"},
	} {
		if res, err := prov.Apply(ctx, a, nil); err != nil || res.Status != provider.StatusSucceeded {
			t.Fatalf("%s %s behind vmc-git's back: %v %+v", a.Op, a.Server, err, res)
		}
	}
	res := r.run("drift", "--json")
	if res.code != exitDrift {
		t.Fatalf("drift must exit 2: %s", res)
	}
	rep := driftJSON(t, res)
	// Sorted by resource, then kind and field.
	want := "changed server/db-1 labels; unmanaged server/rogue-1 ; changed server/web-1 server_type; changed server/web-1 status; missing server/web-2 "
	if got := findingKeys(rep.Findings); got != want {
		t.Fatalf("findings %s\nwant     %s", got, want)
	}

	res = r.run("drift", "--attest", "--key", key("alice"), "--json")
	rep = driftJSON(t, res)
	if res.code != exitDrift || rep.Attestation == nil || rep.Attestation.Seq != 4 {
		t.Fatalf("drift --attest: %s", res)
	}
	r.verify(5)
	rc, err := receipt.Parse([]byte(r.git("show", "refs/heads/vmc/ledger:"+rep.Attestation.Path)))
	if err != nil {
		t.Fatal(err)
	}
	st, err := policy.ParseStatement(rc.Attestation)
	if err != nil || st.PredicateType != drift.PredicateType {
		t.Fatalf("statement %v %+v", err, st)
	}
	var subs []string
	for _, s := range st.Subject {
		if strings.HasPrefix(s.Name, "server/") {
			subs = append(subs, s.Name)
		}
	}
	if strings.Join(subs, " ") != "server/db-1 server/web-1 server/rogue-1" {
		t.Fatalf("server subjects %v", subs)
	}
	if n := len(st.Predicate.AsMap()["result"].(map[string]any)["findings"].([]any)); n != 5 {
		t.Errorf("attested %d findings", n)
	}
}
