package apply

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/internal/lock"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/provider"
	"github.com/vmc-git/vmc-git/provider/sandbox"
	"github.com/vmc-git/vmc-git/receipt"
	"github.com/vmc-git/vmc-git/state"
)

// resFixture: a ledger repository with a genesis by alice (all roles) and a
// sandbox, for plans over every kind of resource.
type resFixture struct {
	dir   string
	l     *gitledger.Ledger
	s     *keys.Signer
	prov  *provider.Hetzner
	locks string
	n     int
}

const resLedger = "example.com/resources"

func newResFixture(t *testing.T) *resFixture {
	t.Helper()
	f := &resFixture{dir: t.TempDir()}
	priv, pub, err := keys.Generate("alice")
	if err != nil {
		t.Fatal(err)
	}
	kp := filepath.Join(f.dir, "alice")
	if err := keys.WriteKeyPair(kp, priv, pub); err != nil {
		t.Fatal(err)
	}
	if f.s, err = keys.LoadFile(kp); err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(f.dir, "repo")
	runGit(t, f.dir, "init", "-q", "-b", "main", repo)
	if f.l, err = gitledger.Open(repo, ""); err != nil {
		t.Fatal(err)
	}
	g := receipt.Genesis{Keys: []keys.KeySpec{{KID: "alice", PublicKey: keys.FormatPublicKey(f.s.PublicKey()),
		Roles: []keys.Role{keys.RoleAdmin, keys.RoleApplier, keys.RoleApprover}}}, Policy: keys.Policy{ApprovalsRequired: 1, AdminThreshold: 1}}
	if _, err := f.l.Init(resLedger, f.s, "alice", g, time.Now()); err != nil {
		t.Fatal(err)
	}
	sb, err := sandbox.New(sandbox.Options{Token: "tok", ActionDuration: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	url, err := sb.Start("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	if f.prov, err = provider.New(provider.Config{Token: "tok", Endpoint: url, PollInterval: 5 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	f.locks = filepath.Join(f.dir, "locks")
	return f
}

// plan makes and approves a plan of acts against the ledger tip.
func (f *resFixture) plan(t *testing.T, acts ...provider.Action) Input {
	t.Helper()
	tip, err := f.l.Tip()
	if err != nil {
		t.Fatal(err)
	}
	f.n++
	p, err := plans.Make(context.Background(), f.prov, plans.Request{ID: fmt.Sprintf("p%d", f.n), Ledger: resLedger,
		Head: plans.LedgerRef{Seq: tip.Head.Seq, Blake3: tip.Head.Blake3}, Actions: acts})
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	sig, err := plans.Approve(f.s, b)
	if err != nil {
		t.Fatal(err)
	}
	return Input{Bytes: b, Approvals: map[string][]byte{"alice": sig}}
}

func (f *resFixture) applier(fault func(string)) *Applier {
	return New(Options{Ledger: f.l, Provider: f.prov, Signer: f.s, KID: "alice", Locks: lock.New(f.locks), Fault: fault})
}

// apply applies in and requires every action to succeed.
func (f *resFixture) apply(t *testing.T, in Input) *Outcome {
	t.Helper()
	o, err := f.applier(nil).Apply(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != provider.StatusSucceeded {
		t.Fatalf("plan %s: %s: %s", o.Plan, o.Status, results(o))
	}
	return o
}

func results(o *Outcome) string {
	var s []string
	for _, a := range o.Actions {
		s = append(s, string(a.Result))
	}
	return strings.Join(s, "\n")
}

// result decodes action i's result from an outcome.
func result(t *testing.T, o *Outcome, i int) provider.Result {
	t.Helper()
	var r provider.Result
	if err := json.Unmarshal(o.Actions[i].Result, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func kindAct(k provider.Kind, op provider.Op, name string) provider.Action {
	return provider.Action{Kind: k, Op: op, Name: name}
}

var httpsIn = []provider.FirewallRule{{Direction: "in", Protocol: "tcp", Port: "443", SourceIPs: []string{"0.0.0.0/0"}}}

// TestPlanEachKind: a plan per resource kind, applied, with its receipt
// recording the observed state, the vmc labels on what it created, and a
// stale plan refused.
func TestPlanEachKind(t *testing.T) {
	f := newResFixture(t)
	ctx := context.Background()
	srv := provider.Action{Op: provider.OpCreate, Server: "web-1", ServerType: "cx22", Image: "debian-12", Location: "fsn1"}
	f.apply(t, f.plan(t, srv))

	fw := kindAct(provider.KindFirewall, provider.OpCreate, "fw")
	fw.Rules = httpsIn
	nw := kindAct(provider.KindNetwork, provider.OpCreate, "net")
	nw.IPRange, nw.Subnets = "10.0.0.0/16", []provider.Subnet{{IPRange: "10.0.1.0/24", NetworkZone: "eu-central"}}
	vol := kindAct(provider.KindVolume, provider.OpCreate, "data")
	vol.Size, vol.Location = 10, "fsn1"
	key := kindAct(provider.KindSSHKey, provider.OpCreate, "ops")
	key.PublicKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ops"
	pip := kindAct(provider.KindPrimaryIP, provider.OpCreate, "ip1")
	pip.Type, pip.Location = "ipv4", "fsn1"
	fip := kindAct(provider.KindFloatingIP, provider.OpCreate, "vip")
	fip.Type, fip.Location = "ipv4", "fsn1"
	for _, a := range []provider.Action{fw, nw, vol, key, pip, fip} {
		in := f.plan(t, a)
		o := f.apply(t, in)
		r := result(t, o, 0).Resource
		if r == nil || r.Name != a.Name || r.Labels[provider.LabelPlan] != o.Plan || r.Labels[provider.LabelLedger] != provider.LabelValue(resLedger) {
			t.Fatalf("%s: observed %+v", a.Kind, r)
		}
		if _, err := f.applier(nil).Apply(ctx, in); err == nil || !strings.Contains(err.Error(), "already applied") {
			t.Fatalf("%s: second apply: %v", a.Kind, err)
		}
	}

	// Changes, one plan per kind.
	setRules := kindAct(provider.KindFirewall, provider.OpApplyTo, "fw")
	setRules.Servers = []string{"web-1"}
	attachNet := provider.Action{Op: provider.OpAttachNetwork, Server: "web-1", Network: "net"}
	attachVol := kindAct(provider.KindVolume, provider.OpAttach, "data")
	attachVol.Server = "web-1"
	relabel := kindAct(provider.KindSSHKey, provider.OpLabel, "ops")
	relabel.Labels = map[string]string{"team": "infra"}
	rdns := kindAct(provider.KindPrimaryIP, provider.OpSetRDNS, "ip1")
	rdns.DNSPtr = ptrTo("ip1.example.com")
	assign := kindAct(provider.KindFloatingIP, provider.OpAssign, "vip")
	assign.Server = "web-1"
	f.apply(t, f.plan(t, setRules))
	f.apply(t, f.plan(t, attachNet, attachVol, relabel, rdns, assign))
	s, err := f.prov.Server(ctx, "web-1")
	if err != nil || !slices.Equal(s.Firewalls, []string{"fw"}) || len(s.PrivateNet) != 1 || !slices.Equal(s.Volumes, []string{"data"}) {
		t.Fatalf("web-1 after the plans: %+v %v", s, err)
	}

	// Stale: a plan made, then the firewall changes behind its back.
	stale := kindAct(provider.KindFirewall, provider.OpSetRules, "fw")
	in := f.plan(t, stale)
	other := kindAct(provider.KindFirewall, provider.OpLabel, "fw")
	other.Labels = map[string]string{"x": "y"}
	if _, err := f.prov.Apply(ctx, other, nil); err != nil {
		t.Fatal(err)
	}
	_, err = f.applier(nil).Apply(ctx, in)
	if err == nil || !strings.Contains(err.Error(), "firewall fw: labels planned") {
		t.Fatalf("stale plan: %v", err)
	}
	// And a plan made before another plan touched the same volume.
	p1 := f.plan(t, kindAct(provider.KindVolume, provider.OpDetach, "data"))
	resize := kindAct(provider.KindVolume, provider.OpResize, "data")
	resize.Size = 20
	p2 := f.plan(t, resize)
	f.apply(t, p1)
	if _, err := f.applier(nil).Apply(ctx, p2); err == nil || !strings.Contains(err.Error(), "changed vol.data") {
		t.Fatalf("plan after another touched the volume: %v", err)
	}

	// The dry run refuses references to what does not exist.
	tip, _ := f.l.Tip()
	_, err = plans.Make(ctx, f.prov, plans.Request{Ledger: resLedger, Head: plans.LedgerRef{Seq: tip.Head.Seq, Blake3: tip.Head.Blake3},
		Actions: []provider.Action{{Op: provider.OpAttachNetwork, Server: "web-1", Network: "nope"}}})
	if err == nil || !strings.Contains(err.Error(), "network nope, which does not exist") {
		t.Fatalf("dry run with a missing network: %v", err)
	}
}

func ptrTo[T any](v T) *T { return &v }

// projectActions builds a small project: a network, a firewall, two servers
// in the network behind the firewall, a volume on the first.
func projectActions() []provider.Action {
	nw := kindAct(provider.KindNetwork, provider.OpCreate, "proj-net")
	nw.IPRange, nw.Subnets = "10.10.0.0/16", []provider.Subnet{{IPRange: "10.10.1.0/24", NetworkZone: "eu-central"}}
	fw := kindAct(provider.KindFirewall, provider.OpCreate, "proj-fw")
	fw.Rules = httpsIn
	vol := kindAct(provider.KindVolume, provider.OpCreate, "proj-data")
	vol.Size, vol.Server, vol.Automount, vol.Format = 10, "proj-app-1", ptrTo(true), "ext4"
	server := func(name string) provider.Action {
		return provider.Action{Op: provider.OpCreate, Server: name, ServerType: "cx22", Image: "debian-12", Location: "fsn1",
			Networks: []string{"proj-net"}, Firewalls: []string{"proj-fw"}}
	}
	return []provider.Action{nw, fw, server("proj-app-1"), server("proj-app-2"), vol}
}

// TestProjectEndToEnd: one plan builds the project, another tears it down.
func TestProjectEndToEnd(t *testing.T) {
	f := newResFixture(t)
	ctx := context.Background()
	o := f.apply(t, f.plan(t, projectActions()...))
	if len(o.Actions) != 5 {
		t.Fatalf("%d actions", len(o.Actions))
	}
	st, err := state.Replay(f.l)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range st.Resources {
		got = append(got, e.Kind+" "+e.Name)
	}
	if want := []string{"server proj-app-1", "server proj-app-2", "firewall proj-fw", "network proj-net", "volume proj-data"}; !slices.Equal(got, want) {
		t.Fatalf("state: %v, want %v", got, want)
	}
	for _, name := range []string{"proj-app-1", "proj-app-2"} {
		s, err := f.prov.Server(ctx, name)
		if err != nil || !slices.Equal(s.Firewalls, []string{"proj-fw"}) || len(s.PrivateNet) != 1 || s.PrivateNet[0].Network != "proj-net" ||
			!strings.HasPrefix(s.PrivateNet[0].IP, "10.10.1.") || s.Labels[provider.LabelPlan] != o.Plan {
			t.Fatalf("%s: %+v %v", name, s, err)
		}
	}
	if v := result(t, o, 4).Resource; v.Server != "proj-app-1" || v.Location != "fsn1" {
		t.Fatalf("volume: %+v", v)
	}
	n, _ := f.prov.Resource(ctx, provider.KindNetwork, "proj-net")
	if !slices.Equal(n.Servers, []string{"proj-app-1", "proj-app-2"}) {
		t.Fatalf("network members: %v", n.Servers)
	}

	// Tear down in dependency order: servers (their volume detaches), then
	// the volume, the firewall and the network.
	down := []provider.Action{
		{Op: provider.OpDelete, Server: "proj-app-1"}, {Op: provider.OpDelete, Server: "proj-app-2"},
		kindAct(provider.KindVolume, provider.OpDelete, "proj-data"),
		kindAct(provider.KindFirewall, provider.OpDelete, "proj-fw"),
		kindAct(provider.KindNetwork, provider.OpDelete, "proj-net"),
	}
	f.apply(t, f.plan(t, down...))
	for _, k := range []provider.Kind{provider.KindVolume, provider.KindFirewall, provider.KindNetwork} {
		if all, err := f.prov.Resources(ctx, k, ""); err != nil || len(all) != 0 {
			t.Fatalf("%s left: %v %v", k, all, err)
		}
	}
	if all, _ := f.prov.Servers(ctx, ""); len(all) != 0 {
		t.Fatalf("servers left: %v", all)
	}

	// The state replayed from the receipts is empty again, and it was the
	// project after the first plan.
	if st, err = state.Replay(f.l); err != nil {
		t.Fatal(err)
	}
	if len(st.Resources) != 0 {
		t.Fatalf("state after teardown: %+v", st.Resources)
	}
}

// crash is what the fault hook panics with.
type crash struct{ step string }

// TestCrashAtEachStep: a plan creating a firewall, a server behind it and a
// volume on the server, crashed at every fault step (before the provider,
// after each of the three provider calls, before and after the commit), is
// always finished by recovery with exactly one receipt and each resource
// created once.
func TestCrashAtEachStep(t *testing.T) {
	steps := []struct {
		step string
		n    int // crash at the n-th time the step is reached
	}{
		{StepBeforeProvider, 1}, {StepAfterProvider, 1}, {StepAfterProvider, 2}, {StepAfterProvider, 3},
		{StepBeforeCommit, 1}, {StepAfterCommit, 1},
	}
	for _, c := range steps {
		t.Run(fmt.Sprintf("%s-%d", c.step, c.n), func(t *testing.T) {
			f := newResFixture(t)
			ctx := context.Background()
			fw := kindAct(provider.KindFirewall, provider.OpCreate, "fw")
			fw.Rules = httpsIn
			vol := kindAct(provider.KindVolume, provider.OpCreate, "data")
			vol.Size, vol.Server = 10, "app-1"
			in := f.plan(t, fw,
				provider.Action{Op: provider.OpCreate, Server: "app-1", ServerType: "cx22", Image: "debian-12", Firewalls: []string{"fw"}},
				vol)
			seen := 0
			func() {
				defer func() {
					if r := recover(); r != nil {
						if _, ok := r.(crash); !ok {
							panic(r)
						}
					}
				}()
				f.applier(func(step string) {
					if step == c.step {
						if seen++; seen == c.n {
							panic(crash{step})
						}
					}
				}).Apply(ctx, in)
				t.Fatal("no crash")
			}()
			outs, failed, err := f.applier(nil).Recover(ctx)
			if err != nil || len(failed) > 0 {
				t.Fatalf("recover: %v %v", err, failed)
			}
			tip, _ := f.l.Tip()
			if c.step == StepAfterCommit {
				if len(outs) != 0 || tip.Head.Seq != 1 {
					t.Fatalf("after commit: %d outcomes, tip %d", len(outs), tip.Head.Seq)
				}
			} else {
				if len(outs) != 1 || tip.Head.Seq != 1 || outs[0].Status != provider.StatusSucceeded || !outs[0].Recovered {
					t.Fatalf("recovered: %+v tip %d\n%s", outs, tip.Head.Seq, func() string {
						if len(outs) > 0 {
							return results(outs[0])
						}
						return ""
					}())
				}
			}
			for _, k := range []provider.Kind{provider.KindFirewall, provider.KindVolume} {
				if all, _ := f.prov.Resources(ctx, k, ""); len(all) != 1 {
					t.Fatalf("%d %ss", len(all), k)
				}
			}
			s, err := f.prov.Server(ctx, "app-1")
			if err != nil || !slices.Equal(s.Firewalls, []string{"fw"}) || !slices.Equal(s.Volumes, []string{"data"}) {
				t.Fatalf("server: %+v %v", s, err)
			}
			if _, err := os.Stat(filepath.Join(f.l.GitDir, "vmc", "intents", "p1.json")); !os.IsNotExist(err) {
				t.Fatalf("intent left: %v", err)
			}
			// Exactly one receipt, for p1, with three results.
			if _, err := f.applier(nil).Apply(ctx, in); err == nil || !strings.Contains(err.Error(), "already applied") {
				t.Fatalf("replay: %v", err)
			}
		})
	}
}

// TestResourceLocks: a plan takes the lock of every resource it changes, so
// a live lock on a firewall blocks a plan that applies it to a server, and
// nothing is called.
func TestResourceLocks(t *testing.T) {
	f := newResFixture(t)
	ctx := context.Background()
	fw := kindAct(provider.KindFirewall, provider.OpCreate, "fw")
	f.apply(t, f.plan(t, fw, provider.Action{Op: provider.OpCreate, Server: "web-1", ServerType: "cx22", Image: "debian-12"}))
	in := f.plan(t, provider.Action{Op: provider.OpAttachFirewall, Server: "web-1", Firewall: "fw"})
	other := lock.New(f.locks)
	if _, err := other.Acquire("fw.fw", "bob", "someone-else", false); err != nil {
		t.Fatal(err)
	}
	_, err := f.applier(nil).Apply(ctx, in)
	var held *lock.HeldError
	if !errors.As(err, &held) || held.Info.Server != "fw.fw" || held.Info.Plan != "someone-else" {
		t.Fatalf("apply under a held firewall lock: %v", err)
	}
	if s, _ := f.prov.Server(ctx, "web-1"); len(s.Firewalls) != 0 {
		t.Fatalf("the provider was called: %v", s.Firewalls)
	}
	other.Release("fw.fw", false)
	f.apply(t, in)
}
