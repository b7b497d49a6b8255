package policy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/provider"
)

func defaults(t testing.TB, extra ...File) *Bundle {
	t.Helper()
	b, err := Compile(append(Defaults(), extra...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// good is a server every default rule accepts, with firewalls and networks
// observed.
func good(name string) Server {
	return Server{Name: name, ID: 1, Status: "running", ServerType: "cx22", Image: "ubuntu-24.04", Location: "fsn1",
		Labels: map[string]string{"env": "production", "role": "web"}, Protection: Protection{Delete: true},
		PublicNet: PublicNet{"203.0.113.7", "2001:db8::/64"}, Firewalls: []string{"web"}, Networks: []string{"private"}}
}

func observedDoc(servers []Server, fws ...Firewall) *Document {
	d := empty(SourceProvider)
	d.Observed = Observed{Servers: true, Firewalls: true, Networks: true, Volumes: true, IPs: true}
	d.Servers = servers
	d.Firewalls = append(d.Firewalls, fws...)
	return d
}

func sshRule(src ...string) FirewallRule {
	return FirewallRule{Direction: "in", Protocol: "tcp", Port: "22", SourceIPs: src, DestinationIPs: []string{}}
}

func keys(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Resource+" "+f.Rule)
	}
	return out
}

func TestDefaultPolicies(t *testing.T) {
	b := defaults(t)
	mod := func(f func(*Server)) []Server { s := good("web-1"); f(&s); return []Server{s} }
	fw := func(labels map[string]string, rules ...FirewallRule) Firewall {
		if labels == nil {
			labels = map[string]string{}
		}
		return Firewall{Name: "web", ID: 7, Labels: labels, Rules: rules, AppliedTo: []string{"web-1"}}
	}
	tests := []struct {
		name string
		doc  *Document
		deny []string
		warn []string
	}{
		{"all good", observedDoc([]Server{good("web-1"), good("db-eu-2")}, fw(nil, sshRule("10.0.0.0/8"))), nil, nil},
		{"bad name", observedDoc(mod(func(s *Server) { s.Name = "web" })), []string{"server/web naming"}, nil},
		{"upper-case-ish name", observedDoc(mod(func(s *Server) { s.Name = "1web-1" })), []string{"server/1web-1 naming"}, nil},
		{"missing env", observedDoc(mod(func(s *Server) { delete(s.Labels, "env") })), []string{"server/web-1 required-labels"}, nil},
		{"empty role", observedDoc(mod(func(s *Server) { s.Labels["role"] = "" })), []string{"server/web-1 required-labels"}, nil},
		{"no labels", observedDoc(mod(func(s *Server) { s.Labels = map[string]string{} })), []string{"server/web-1 required-labels", "server/web-1 required-labels"}, nil},
		{"public without firewall", observedDoc(mod(func(s *Server) { s.Firewalls = []string{} })), []string{"server/web-1 firewall-attached"}, nil},
		{"ipv6 only without firewall", observedDoc(mod(func(s *Server) { s.Firewalls = []string{}; s.PublicNet.IPv4 = "" })), []string{"server/web-1 firewall-attached"}, nil},
		{"private only without firewall", observedDoc(mod(func(s *Server) { s.Firewalls = []string{}; s.PublicNet = PublicNet{} })), nil, nil},
		{"firewalls unobserved", observedDoc(mod(func(s *Server) { s.Firewalls = nil })), nil, []string{" firewall-attached"}},
		{"ssh open v4", observedDoc([]Server{good("web-1")}, fw(nil, sshRule("0.0.0.0/0"))), []string{"firewall/web ssh-from-anywhere"}, nil},
		{"ssh open v6", observedDoc([]Server{good("web-1")}, fw(nil, sshRule("10.0.0.0/8", "::/0"))), []string{"firewall/web ssh-from-anywhere"}, nil},
		{"ssh open via range", observedDoc([]Server{good("web-1")}, fw(nil, FirewallRule{Direction: "in", Protocol: "tcp", Port: "20-30", SourceIPs: []string{"0.0.0.0/0"}})), []string{"firewall/web ssh-from-anywhere"}, nil},
		{"range not covering 22", observedDoc([]Server{good("web-1")}, fw(nil, FirewallRule{Direction: "in", Protocol: "tcp", Port: "80-443", SourceIPs: []string{"0.0.0.0/0"}})), nil, nil},
		{"udp 22 open", observedDoc([]Server{good("web-1")}, fw(nil, FirewallRule{Direction: "in", Protocol: "udp", Port: "22", SourceIPs: []string{"0.0.0.0/0"}})), nil, nil},
		{"outbound 22", observedDoc([]Server{good("web-1")}, fw(nil, FirewallRule{Direction: "out", Protocol: "tcp", Port: "22", DestinationIPs: []string{"0.0.0.0/0"}})), nil, nil},
		{"ssh open allowed by label", observedDoc([]Server{good("web-1")}, fw(map[string]string{"vmc.policy/public-ssh": "allow"}, sshRule("0.0.0.0/0"))), nil, nil},
		{"ssh open, label says no", observedDoc([]Server{good("web-1")}, fw(map[string]string{"vmc.policy/public-ssh": "yes"}, sshRule("0.0.0.0/0"))), []string{"firewall/web ssh-from-anywhere"}, nil},
		{"no private network", observedDoc(mod(func(s *Server) { s.Networks = []string{} })), []string{"server/web-1 private-network"}, nil},
		{"networks unobserved", observedDoc(mod(func(s *Server) { s.Networks = nil })), nil, []string{" private-network"}},
		{"production unprotected", observedDoc(mod(func(s *Server) { s.Protection.Delete = false })), []string{"server/web-1 production-delete-protection"}, nil},
		{"staging unprotected", observedDoc(mod(func(s *Server) { s.Protection.Delete = false; s.Labels["env"] = "staging" })), nil, nil},
		{"several at once", observedDoc(mod(func(s *Server) { s.Name = "X"; s.Protection.Delete = false; s.Networks = []string{} })),
			[]string{"server/X naming", "server/X private-network", "server/X production-delete-protection"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := b.Eval(context.Background(), tc.doc, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(keys(res.Deny)); got != fmt.Sprint(tc.deny) {
				t.Errorf("deny = %s, want %s\n%+v", got, fmt.Sprint(tc.deny), res.Deny)
			}
			if got := fmt.Sprint(keys(res.Warn)); got != fmt.Sprint(tc.warn) {
				t.Errorf("warn = %s, want %s\n%+v", got, fmt.Sprint(tc.warn), res.Warn)
			}
			if res.Pass() != (len(tc.deny) == 0) {
				t.Errorf("Pass = %v", res.Pass())
			}
			for _, f := range res.Deny {
				if f.Reason == "" {
					t.Errorf("finding without reason: %+v", f)
				}
			}
		})
	}
}

// TestProviderDocument: servers from the provider interface on main, with
// firewalls and networks unobserved: warnings, never denials, for them.
func TestProviderDocument(t *testing.T) {
	s := provider.Server{ID: 3, Name: "web-1", Status: "running", ServerType: "cx22", Labels: map[string]string{"env": "production", "role": "web"}, IPv4: "203.0.113.9"}
	d, err := FromServers([]provider.Server{s})
	if err != nil {
		t.Fatal(err)
	}
	res, err := defaults(t).Eval(context.Background(), d, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(keys(res.Deny)); got != "[server/web-1 production-delete-protection]" {
		t.Errorf("deny = %s", got)
	}
	if got := fmt.Sprint(keys(res.Warn)); got != "[ firewall-attached  private-network  ssh-from-anywhere]" {
		t.Errorf("warn = %s", got)
	}
	b, _ := d.Encode()
	for _, want := range []string{`"firewalls":null`, `"firewalls":[]`, `"observed":{"firewalls":false,"ips":false,"networks":false,"servers":true,"volumes":false}`, `"v":1`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("input lacks %s: %s", want, b)
		}
	}
}

func TestAfterPlan(t *testing.T) {
	cur := observedDoc([]Server{good("web-1"), good("db-1")})
	f, tr := false, true
	p := &plans.Plan{ID: "p1", Ledger: "example.com/l", Actions: []plans.Step{
		{Action: provider.Action{Op: provider.OpCreate, Server: "api-1", ServerType: "cx22", Image: "debian-12", Labels: map[string]string{"env": "production", "role": "api"}, Firewalls: []string{"web"}}},
		{Action: provider.Action{Op: provider.OpProtect, Server: "web-1", Delete: &f}},
		{Action: provider.Action{Op: provider.OpDelete, Server: "db-1"}},
		{Action: provider.Action{Op: provider.OpProtect, Server: "api-1", Delete: &tr}},
	}}
	d, err := AfterPlan(cur, p)
	if err != nil {
		t.Fatal(err)
	}
	if d.Source != SourcePlan || d.Plan != "p1" || len(d.Servers) != 2 || len(cur.Servers) != 2 || !cur.Servers[0].Protection.Delete {
		t.Fatalf("end state %+v (cur %+v)", d, cur)
	}
	res, err := defaults(t).Eval(context.Background(), d, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := "[server/api-1 private-network server/web-1 production-delete-protection]"
	if got := fmt.Sprint(keys(res.Deny)); got != want {
		t.Errorf("deny = %s, want %s", got, want)
	}
	if d.Servers[1].Labels[provider.LabelPlan] != "p1" || d.Servers[1].PublicNet.IPv4 != Pending {
		t.Errorf("created %+v", d.Servers[1])
	}
	bad := &plans.Plan{ID: "p2", Actions: []plans.Step{{Action: provider.Action{Op: provider.OpReboot, Server: "nope-1"}}}}
	if _, err := AfterPlan(cur, bad); !errors.Is(err, provider.ErrNotFound) {
		t.Errorf("step on a missing server: %v", err)
	}
}

// TestCustomRule: a rule a user writes in policy/, importing the input and
// a helper package, alongside the defaults; and string findings.
func TestCustomRule(t *testing.T) {
	custom := File{Name: "policy/types.rego", Data: []byte(`package vmc.custom

import data.lib.sizes

deny contains {"resource": sprintf("server/%s", [s.name]), "rule": "allowed-types", "reason": sprintf("type %s is not allowed", [s.server_type])} if {
	some s in input.servers
	not s.server_type in sizes.allowed
}

warn contains "be nice" if count(input.servers) > 1
`)}
	lib := File{Name: "policy/lib.rego", Data: []byte("package lib.sizes\n\nallowed := {\"cx22\", \"cx32\"}\n")}
	b := defaults(t, custom, lib)
	big := good("big-1")
	big.ServerType = "ccx63"
	res, err := b.Eval(context.Background(), observedDoc([]Server{good("web-1"), big}), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(keys(res.Deny)); got != "[server/big-1 allowed-types]" {
		t.Errorf("deny = %s", got)
	}
	if len(res.Warn) != 1 || res.Warn[0].Reason != "be nice" || res.Warn[0].Rule != "vmc.custom" {
		t.Errorf("warn = %+v", res.Warn)
	}
	if b.Blake3() == defaults(t).Blake3() {
		t.Error("bundle digest ignores a file")
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name  string
		files []File
		want  string
	}{
		{"syntax", []File{{"policy/a.rego", []byte("package vmc.a\n\ndeny contains x if {\n")}}, "policy/a.rego:"},
		{"rego v0 syntax", []File{{"policy/a.rego", []byte("package vmc.a\n\ndeny[x] { x := 1 }\n")}}, "policy/a.rego:"},
		{"undefined ref", []File{{"policy/a.rego", []byte("package vmc.a\n\ndeny contains x if { x := nope }\n")}}, "nope"},
		{"http.send refused", []File{{"policy/a.rego", []byte("package vmc.a\n\ndeny contains x if { x := http.send({\"method\": \"get\", \"url\": \"http://127.0.0.1:1\"}) }\n")}}, "http.send"},
		{"recursion", []File{{"policy/a.rego", []byte("package vmc.a\n\nf(x) := y if { y := f(x) }\n\ndeny contains f(1)\n")}}, "recursion"},
		{"bad name", []File{{"policy/../x.rego", []byte("package vmc.a\n")}}, "want policy/<name>.rego"},
		{"not rego", []File{{"policy/a.txt", []byte("package vmc.a\n")}}, "want policy/<name>.rego"},
		{"twice", []File{{"policy/a.rego", []byte("package vmc.a\n")}, {"policy/a.rego", []byte("package vmc.b\n")}}, "given twice"},
		{"too big", []File{{"policy/a.rego", []byte("package vmc.a\n#" + strings.Repeat("x", MaxFileSize))}}, "at most"},
		{"too many", manyFiles(MaxFiles + 1), "files, at most"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(tc.files)
			if !errors.Is(err, ErrCompile) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrCompile containing %q", err, tc.want)
			}
		})
	}
}

func manyFiles(n int) []File {
	var fs []File
	for i := range n {
		fs = append(fs, File{fmt.Sprintf("policy/f%d.rego", i), []byte(fmt.Sprintf("package vmc.f%d\n", i))})
	}
	return fs
}

func TestEvalLimits(t *testing.T) {
	doc := observedDoc([]Server{good("web-1")})
	slow := File{Name: "policy/slow.rego", Data: []byte(`package vmc.slow

deny contains "x" if {
	some i in numbers.range(1, 100000000000)
	i < 0
}
`)}
	b, err := Compile([]File{slow})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = b.Eval(context.Background(), doc, Limits{Timeout: 300 * time.Millisecond, MaxHeapGrowth: 1 << 40})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("slow policy: %v", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("timeout took %s", d)
	}
	_, err = b.Eval(context.Background(), doc, Limits{Timeout: time.Minute, MaxHeapGrowth: 64 << 20})
	if !errors.Is(err, ErrMemory) {
		t.Fatalf("memory-hungry policy: %v", err)
	}

	for name, src := range map[string]string{
		"not a set":     "package vmc.x\n\ndeny := 3\n",
		"bad element":   "package vmc.x\n\ndeny contains 3\n",
		"no reason":     "package vmc.x\n\ndeny contains {\"rule\": \"r\"}\n",
		"unknown field": "package vmc.x\n\ndeny contains {\"reason\": \"r\", \"why\": \"w\"}\n",
		"non-string":    "package vmc.x\n\ndeny contains {\"reason\": 1}\n",
	} {
		b, err := Compile([]File{{Name: "policy/x.rego", Data: []byte(src)}})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := b.Eval(context.Background(), doc, Limits{}); !errors.Is(err, ErrResult) {
			t.Errorf("%s: %v, want ErrResult", name, err)
		}
	}
}

func TestHugeInput(t *testing.T) {
	servers := make([]provider.Server, MaxResources+1)
	if _, err := FromServers(servers); !errors.Is(err, ErrInputTooLarge) {
		t.Errorf("too many servers: %v", err)
	}
	d := observedDoc([]Server{good("web-1")})
	d.Servers[0].Labels["blob"] = strings.Repeat("x", MaxInputSize)
	if _, err := defaults(t).Eval(context.Background(), d, Limits{}); !errors.Is(err, ErrInputTooLarge) {
		t.Errorf("too large: %v", err)
	}
}

// TestFromProvider: the provider's resources as FromProvider maps them:
// firewalls applied by name or by the firewall's own server list, private
// networks, IPs; the default set denies SSH open to the world.
func TestFromProvider(t *testing.T) {
	web := provider.Server{ID: 1, Name: "web-1", Status: "running", Labels: map[string]string{"env": "dev", "role": "web"}, IPv4: "203.0.113.7",
		PrivateNet: []provider.PrivateNet{{Network: "private", IP: "10.0.0.2"}}}
	db := provider.Server{ID: 2, Name: "db-1", Status: "running", Labels: map[string]string{"env": "dev", "role": "db"}, IPv4: "203.0.113.8", Firewalls: []string{"db"}}
	res := map[provider.Kind][]provider.Resource{
		provider.KindFirewall: {
			{Kind: provider.KindFirewall, ID: 7, Name: "web", Servers: []string{"web-1"}, Rules: []provider.FirewallRule{{Direction: "in", Protocol: "tcp", Port: "22", SourceIPs: []string{"0.0.0.0/0"}}}},
			{Kind: provider.KindFirewall, ID: 8, Name: "db"},
		},
		provider.KindNetwork:    {{Kind: provider.KindNetwork, ID: 3, Name: "private", IPRange: "10.0.0.0/16"}},
		provider.KindVolume:     {},
		provider.KindPrimaryIP:  {{Kind: provider.KindPrimaryIP, ID: 9, Name: "ip-1", Type: "ipv4", IP: "203.0.113.7", Server: "web-1"}},
		provider.KindFloatingIP: {},
	}
	d, err := FromProvider([]provider.Server{web, db}, res)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Observed.Firewalls || !d.Observed.Networks || !d.Observed.IPs || fmt.Sprint(d.Servers[0].Firewalls) != "[web]" ||
		fmt.Sprint(d.Servers[1].Firewalls) != "[db]" || fmt.Sprint(d.Servers[0].Networks) != "[private]" || len(d.Servers[1].Networks) != 0 ||
		fmt.Sprint(d.Networks[0].Servers) != "[web-1]" || d.IPs[0].Type != "primary" || d.IPs[0].Assignee != "web-1" {
		t.Fatalf("document %+v", d)
	}
	r, err := defaults(t).Eval(context.Background(), d, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(keys(r.Deny)); got != "[firewall/web ssh-from-anywhere server/db-1 private-network]" || len(r.Warn) != 0 {
		t.Errorf("deny = %s, warn = %+v", got, r.Warn)
	}
	delete(res, provider.KindFloatingIP)
	if d, _ := FromProvider(nil, res); d.Observed.IPs {
		t.Error("ips observed without floating IPs")
	}
}
