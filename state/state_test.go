package state

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/provider"
	"github.com/vmc-git/vmc-git/receipt"
)

func rec(t *testing.T, plan string, steps ...any) *receipt.Receipt {
	t.Helper()
	r := &receipt.Receipt{Kind: receipt.KindApply, Apply: &receipt.Apply{Plan: receipt.PlanRef{ID: plan}}}
	for i := 0; i < len(steps); i += 2 {
		a, _ := json.Marshal(steps[i])
		res, _ := json.Marshal(steps[i+1])
		r.Apply.Actions = append(r.Apply.Actions, receipt.ActionRecord{Action: a, Result: res})
	}
	return r
}

func TestReplayRules(t *testing.T) {
	fw := provider.Action{Kind: provider.KindFirewall, Op: provider.OpCreate, Name: "fw"}
	fwObs := &provider.Resource{Kind: provider.KindFirewall, ID: 1, Name: "fw"}
	web := provider.Action{Op: provider.OpCreate, Server: "web-1", ServerType: "cx22", Image: "debian-12"}
	webObs := &provider.Server{ID: 9, Name: "web-1", Status: "running"}
	by := map[provider.Ref]*Entry{}
	steps := []*receipt.Receipt{
		rec(t, "p1", fw, provider.Result{Status: "succeeded", Resource: fwObs}, web, provider.Result{Status: "succeeded", Observed: webObs}),
		// A refused create leaves nothing; an unknown reboot marks web-1.
		rec(t, "p2", provider.Action{Kind: provider.KindVolume, Op: provider.OpCreate, Name: "v", Size: 10, Location: "fsn1"},
			provider.Result{Status: "failed", Error: "no"},
			provider.Action{Op: provider.OpReboot, Server: "web-1"}, provider.Result{Status: "unknown"}),
		// Rename moves the entry; a failed delete keeps it.
		rec(t, "p3", provider.Action{Kind: provider.KindFirewall, Op: provider.OpRename, Name: "fw", NewName: "fw2"},
			provider.Result{Status: "succeeded", Resource: &provider.Resource{Kind: provider.KindFirewall, ID: 1, Name: "fw2"}},
			provider.Action{Kind: provider.KindFirewall, Op: provider.OpDelete, Name: "fw2"}, provider.Result{Status: "failed", Error: "resource_in_use"}),
		// An op this version does not know is skipped.
		{Kind: receipt.KindApply, Apply: &receipt.Apply{Plan: receipt.PlanRef{ID: "p4"}, Actions: []receipt.ActionRecord{
			{Action: json.RawMessage(`{"op":"teleport","server":"web-1"}`), Result: json.RawMessage(`{"status":"succeeded"}`)}}}},
	}
	for i, r := range steps {
		if err := apply(by, uint64(i+1), r); err != nil {
			t.Fatal(err)
		}
	}
	if len(by) != 2 {
		t.Fatalf("entries: %v", by)
	}
	w := by[provider.Ref{Name: "web-1"}]
	if w == nil || !w.Unknown || w.Server.ID != 9 || w.Plan != "p2" || w.Seq != 2 || w.Op != "reboot" {
		t.Fatalf("web-1: %+v", w)
	}
	f := by[provider.Ref{Kind: provider.KindFirewall, Name: "fw2"}]
	if f == nil || f.Other.Name != "fw2" || f.Plan != "p3" || f.Op != "delete" {
		t.Fatalf("fw2: %+v", f)
	}
	if by[provider.Ref{Kind: provider.KindFirewall, Name: "fw"}] != nil {
		t.Fatal("the old name stays after a rename")
	}
	// A delete that succeeded removes the entry.
	del := rec(t, "p5", provider.Action{Op: provider.OpDelete, Server: "web-1"}, provider.Result{Status: "succeeded"})
	if err := apply(by, 5, del); err != nil {
		t.Fatal(err)
	}
	if by[provider.Ref{Name: "web-1"}] != nil {
		t.Fatal("deleted server stays")
	}
	// An attach records both sides: the volume and the server it joined.
	att := rec(t, "p6", provider.Action{Kind: provider.KindVolume, Op: provider.OpAttach, Name: "data", Server: "db-1"},
		provider.Result{Status: "succeeded", Resource: &provider.Resource{Kind: provider.KindVolume, ID: 3, Name: "data", Server: "db-1"},
			Observed: &provider.Server{ID: 4, Name: "db-1", Volumes: []string{"data"}}},
		provider.Action{Op: provider.OpAttachNetwork, Server: "db-1", Network: "net"},
		provider.Result{Status: "succeeded", Observed: &provider.Server{ID: 4, Name: "db-1", Volumes: []string{"data"}, PrivateNet: []provider.PrivateNet{{Network: "net", IP: "10.0.1.2"}}},
			Resource: &provider.Resource{Kind: provider.KindNetwork, ID: 5, Name: "net", Servers: []string{"db-1"}}})
	if err := apply(by, 6, att); err != nil {
		t.Fatal(err)
	}
	if d := by[provider.Ref{Name: "db-1"}]; d == nil || len(d.Server.Volumes) != 1 || len(d.Server.PrivateNet) != 1 || d.Op != "attach_network" {
		t.Fatalf("db-1: %+v", d)
	}
	if v := by[provider.Ref{Kind: provider.KindVolume, Name: "data"}]; v == nil || v.Other.Server != "db-1" {
		t.Fatalf("data: %+v", v)
	}
	if n := by[provider.Ref{Kind: provider.KindNetwork, Name: "net"}]; n == nil || n.Other.Servers[0] != "db-1" || n.Plan != "p6" {
		t.Fatalf("net: %+v", n)
	}
	// A result that is not JSON is an error naming the receipt.
	bad := &receipt.Receipt{Kind: receipt.KindApply, Apply: &receipt.Apply{Actions: []receipt.ActionRecord{
		{Action: json.RawMessage(`{"op":"poweron","server":"x"}`), Result: json.RawMessage(`[`)}}}}
	if err := apply(by, 6, bad); err == nil {
		t.Fatal("bad result accepted")
	}
}

// TestAdopt: a manual receipt's adopt record sets and removes entries;
// a record that breaks a rule is refused with its own message.
func TestAdopt(t *testing.T) {
	by := map[provider.Ref]*Entry{}
	web := rec(t, "p1", provider.Action{Op: provider.OpCreate, Server: "web-1", ServerType: "cx22", Image: "debian-12"},
		provider.Result{Status: "succeeded", Observed: &provider.Server{ID: 9, Name: "web-1", Status: "running"}})
	if err := apply(by, 1, web); err != nil {
		t.Fatal(err)
	}
	a := &Adopt{V: AdoptVersion, Resources: []Adopted{
		{Kind: "server", Name: "web-1", Absent: true},
		{Kind: "server", Name: "rogue-1", Server: &provider.Server{ID: 12, Name: "rogue-1"}},
		{Kind: "firewall", Name: "fw", Resource: &provider.Resource{Kind: provider.KindFirewall, ID: 3, Name: "fw"}},
	}}
	details, err := AdoptDetails(a, map[string]any{"findings": []string{"x"}})
	if err != nil {
		t.Fatal(err)
	}
	man := &receipt.Receipt{Kind: receipt.KindManual, Manual: &receipt.Manual{Details: details}}
	if err := apply(by, 2, man); err != nil {
		t.Fatal(err)
	}
	if by[provider.Ref{Name: "web-1"}] != nil || len(by) != 2 {
		t.Fatalf("after adopt: %v", by)
	}
	if e := by[provider.Ref{Name: "rogue-1"}]; e == nil || e.Op != OpAdopt || e.Seq != 2 || e.Step != 1 || e.Server.ID != 12 {
		t.Fatalf("rogue-1: %+v", e)
	}
	if e := by[provider.Ref{Kind: provider.KindFirewall, Name: "fw"}]; e == nil || e.Other.ID != 3 || e.Step != 2 {
		t.Fatalf("fw: %+v", e)
	}
	// Free-form details are no record.
	for _, d := range []string{``, `{"why":"console reboot"}`, `[1]`} {
		if err := apply(by, 3, &receipt.Receipt{Kind: receipt.KindManual, Manual: &receipt.Manual{Details: json.RawMessage(d)}}); err != nil || len(by) != 2 {
			t.Fatalf("details %q: %v, %d entries", d, err, len(by))
		}
	}
	for _, c := range []struct{ rec, want string }{
		{`{"v":2,"resources":[{"kind":"server","name":"a","absent":true}]}`, "version 2"},
		{`{"v":1,"resources":[]}`, "no resources"},
		{`{"v":1,"resources":[{"kind":"router","name":"a","absent":true}]}`, `kind "router"`},
		{`{"v":1,"resources":[{"kind":"ssh-key","name":"a","absent":true}]}`, `kind "ssh-key"`},
		{`{"v":1,"resources":[{"kind":"server","name":"A/..","absent":true}]}`, "resource 0"},
		{`{"v":1,"resources":[{"kind":"server","name":"a","absent":true},{"kind":"server","name":"a","absent":true}]}`, "appears twice"},
		{`{"v":1,"resources":[{"kind":"server","name":"a"}]}`, "exactly one of"},
		{`{"v":1,"resources":[{"kind":"server","name":"a","absent":true,"server":{"name":"a"}}]}`, "exactly one of"},
		{`{"v":1,"resources":[{"kind":"server","name":"a","server":{"name":"b"}}]}`, `a server observation named "b"`},
		{`{"v":1,"resources":[{"kind":"firewall","name":"a","server":{"name":"a"}}]}`, `a server observation named "a"`},
		{`{"v":1,"resources":[{"kind":"firewall","name":"a","resource":{"kind":"network","name":"a"}}]}`, "a network observation"},
		{`{"v":1,"resources":[{"kind":"server","name":"a","absent":true,"extra":1}]}`, "unknown field"},
	} {
		d := json.RawMessage(`{"vmc_adopt":` + c.rec + `}`)
		err := apply(by, 7, &receipt.Receipt{Kind: receipt.KindManual, Manual: &receipt.Manual{Details: d}})
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "receipt 7") {
			t.Errorf("%s: %v, want %q", c.rec, err, c.want)
		}
	}
	if _, err := AdoptDetails(a, map[string]any{AdoptKey: 1}); err == nil {
		t.Error("extra member vmc_adopt accepted")
	}
}

// FuzzParseAdopt: whatever details a manual receipt holds, ParseAdopt
// never panics, and a record it accepts encodes (AdoptDetails) to details
// it parses back to the same record.
func FuzzParseAdopt(f *testing.F) {
	good, err := AdoptDetails(&Adopt{V: AdoptVersion, Resources: []Adopted{
		{Kind: "server", Name: "web-1", Server: &provider.Server{ID: 1, Name: "web-1", Labels: map[string]string{"a": "b"}}},
		{Kind: "volume", Name: "data", Resource: &provider.Resource{Kind: provider.KindVolume, ID: 2, Name: "data", Size: 10}},
		{Kind: "firewall", Name: "fw", Absent: true},
	}}, map[string]any{"note": "x"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"vmc_adopt":{"v":1,"resources":[{"kind":"server","name":"a","absent":true}]}}`))
	f.Add([]byte(`{"vmc_adopt":{"v":1,"resources":[{"kind":"server","name":"a","server":{"name":"b"}}]}}`))
	f.Add([]byte(`{"why":"console"}`))
	f.Add([]byte(`{"vmc_adopt":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseAdopt(b)
		if err != nil || a == nil {
			return
		}
		again, err := AdoptDetails(a, nil)
		if err != nil {
			t.Fatalf("accepted record does not encode: %v", err)
		}
		b2, err := ParseAdopt(again)
		if err != nil || b2 == nil || len(b2.Resources) != len(a.Resources) {
			t.Fatalf("round trip: %v", err)
		}
		again2, _ := AdoptDetails(b2, nil)
		if string(again) != string(again2) {
			t.Fatalf("round trip changed the record:\n%s\n%s", again, again2)
		}
	})
}
