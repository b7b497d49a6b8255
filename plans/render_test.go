package plans_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/provider"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// leaf is one field the reflection test set: its JSON key path and the
// sentinel value it holds.
type leaf struct {
	key, value string
	isBool     bool
}

// fill sets every field of v (a pointer to a struct), recursively, to a value
// no other field has, and returns the leaves it set. It walks the types on
// its own (not with plans.Fields), so a field the renderer misses is found.
func fill(t *testing.T, key string, v reflect.Value, n *int, out *[]leaf) {
	*n++
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, key, v.Elem(), n, out)
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			k := name
			if key != "" {
				k = key + "." + name
			}
			fill(t, k, v.Field(i), n, out)
		}
	case reflect.String:
		s := fmt.Sprintf("v%d-%s", *n, strings.ReplaceAll(key, ".", "-"))
		v.SetString(s)
		*out = append(*out, leaf{key, s, false})
	case reflect.Bool:
		v.SetBool(true)
		*out = append(*out, leaf{key, "true", true})
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(int64(7000 + *n))
		*out = append(*out, leaf{key, fmt.Sprint(7000 + *n), false})
	case reflect.Uint, reflect.Uint64, reflect.Uint32:
		v.SetUint(uint64(7000 + *n))
		*out = append(*out, leaf{key, fmt.Sprint(7000 + *n), false})
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String || v.Type().Elem().Kind() != reflect.String {
			t.Fatalf("field %s: map type %s: teach the reflection test to fill it", key, v.Type())
		}
		m := reflect.MakeMap(v.Type())
		k, val := fmt.Sprintf("k%d", *n), fmt.Sprintf("v%d-%s", *n, strings.ReplaceAll(key, ".", "-"))
		m.SetMapIndex(reflect.ValueOf(k).Convert(v.Type().Key()), reflect.ValueOf(val).Convert(v.Type().Elem()))
		v.Set(m)
		*out = append(*out, leaf{key + "." + k, val, false})
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fill(t, key, s.Index(i), n, out)
		}
		v.Set(s)
	case reflect.Array:
		if v.Type() == reflect.TypeFor[digest.Digest]() {
			d := digest.Blake3([]byte(key))
			v.Set(reflect.ValueOf(d))
			*out = append(*out, leaf{key, d.String(), false})
			return
		}
		t.Fatalf("field %s: array type %s: teach the reflection test to fill it", key, v.Type())
	default:
		t.Fatalf("field %s: kind %s: teach the reflection test to fill it", key, v.Kind())
	}
}

// TestRenderEveryField sets every field of a step (the action and the
// expectation, by reflection over their types) to a distinct value, for
// every op, and checks that Text, Markdown and Markdown against a current
// state all show each one: nothing the provider receives is hidden from
// approvers. A field added to provider.Action or plans.Expect is covered
// without changing this test.
func TestRenderEveryField(t *testing.T) {
	long := strings.Repeat("#cloud-config line\n", 10) + "runcmd: [curl https://example.invalid/x.sh | sh]\n"
	for _, op := range append([]provider.Op{"v-unknown-op"}, provider.Ops...) {
		t.Run(string(op), func(t *testing.T) {
			var st plans.Step
			var leaves []leaf
			n := 0
			fill(t, "", reflect.ValueOf(&st).Elem(), &n, &leaves)
			st.Action.Op = op
			st.Action.UserData = long
			var plan plans.Plan
			var pleaves []leaf
			fill(t, "", reflect.ValueOf(&plan).Elem(), &n, &pleaves)
			plan.Actions = []plans.Step{st}
			b := []byte("plan bytes")
			sum := digest.Of(b)
			now := &provider.Server{ID: 9, Name: st.Action.Server, Status: "running", ServerType: "cx22", Image: "debian-12"}
			outputs := map[string]string{
				"text":         plan.Text(b),
				"markdown":     plan.Markdown(b, nil, nil, nil),
				"markdown-now": plan.Markdown(b, map[string]*provider.Server{st.Action.Server: now}, nil, nil),
			}
			for name, out := range outputs {
				for _, l := range append(leaves, pleaves...) {
					if strings.HasPrefix(l.key, "actions") {
						continue // the plan's steps: the step leaves
					}
					if l.key == "action.op" {
						l.value = string(op)
					}
					if l.key == "action.user_data" {
						l.value = long
					}
					if l.key == "action.user_data" && name == "text" {
						for line := range strings.SplitSeq(strings.TrimSuffix(long, "\n"), "\n") {
							if !strings.Contains(out, "| "+line+"\n") {
								t.Errorf("%s: user data line %q not shown in full", name, line)
							}
						}
						continue
					}
					if !strings.Contains(out, l.value) {
						t.Errorf("%s: field %s (value %q) is not rendered", name, l.key, l.value)
						continue
					}
					if l.isBool {
						last := l.key[strings.LastIndex(l.key, ".")+1:]
						if !lineHas(out, last, "true") {
							t.Errorf("%s: bool field %s is not rendered as %s … true", name, l.key, last)
						}
					}
				}
				for _, want := range []string{sum.Blake3.String(), sum.SHA256.String(), fmt.Sprintf("%d bytes, sha256 ", len(long))} {
					if !strings.Contains(out, want) {
						t.Errorf("%s: %q missing", name, want)
					}
				}
			}
		})
	}
}

func lineHas(s string, parts ...string) bool {
	for line := range strings.SplitSeq(s, "\n") {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			return true
		}
	}
	return false
}

// goldenReview is a review of a plan carrying user data, SSH keys,
// firewalls and networks, plus a resize and a relabel of servers that
// exist, one approval valid and one missing.
func goldenReview(t *testing.T) *plans.Review {
	head := plans.LedgerRef{Seq: 7, Blake3: digest.Blake3([]byte("receipt 7"))}
	userData := "#cloud-config\npackages: [nginx]\nruncmd:\n  - curl -fsSL https://example.invalid/install.sh | sh\n  - echo '```' > /tmp/fence\n"
	p := &plans.Plan{V: plans.Version, ID: "web-1-create-20261201090000", Ledger: "github.com/acme/infra",
		CreatedAt: "2026-12-01T09:00:00Z", CreatedBy: "alice", Summary: "web tier: create web-1, grow db-1, relabel lb-1", LedgerHead: head,
		Actions: []plans.Step{
			{Action: provider.Action{Op: provider.OpCreate, Server: "web-1", ServerType: "cx22", Image: "ubuntu-24.04", Location: "fsn1",
				Labels: map[string]string{"role": "web"}, SSHKeys: []string{"alice", "ops"}, Firewalls: []string{"web-public"},
				Networks: []string{"internal"}, UserData: userData, PublicNet: &provider.PublicNet{IPv4: true, IPv6: false}, StartAfterCreate: ptr(true)}},
			{Action: provider.Action{Op: provider.OpResize, Server: "db-1", ServerType: "cx42", UpgradeDisk: true},
				Expect: plans.Expect{Exists: true, ServerID: 41, Status: "off", ServerType: "cx22", Labels: map[string]string{"role": "db"}}},
			{Action: provider.Action{Op: provider.OpLabel, Server: "lb-1", Labels: map[string]string{"role": "lb", "tier": "gold"}},
				Expect: plans.Expect{Exists: true, ServerID: 40, Status: "running", ServerType: "cx22",
					Labels: map[string]string{"role": "lb", "tier": "silver", "old": "x", provider.LabelPlan: "lb-1-create-1"}}},
		}}
	b := encode(t, p)
	lb := &provider.Server{ID: 40, Name: "lb-1", Status: "running", ServerType: "cx22", Image: "debian-12", Location: "nbg1",
		Labels: map[string]string{"role": "lb", "tier": "silver", "old": "x", provider.LabelPlan: "lb-1-create-1"}, IPv4: "203.0.113.40"}
	db := &provider.Server{ID: 41, Name: "db-1", Status: "off", ServerType: "cx22", Image: "debian-12", Location: "fsn1",
		Labels: map[string]string{"role": "db"}, IPv4: "203.0.113.41"}
	return &plans.Review{Plans: []plans.PlanReview{{
		File: plans.Path(p.ID), ID: p.ID, Summary: p.Summary, Plan: p, Bytes: b,
		Now:       map[string]*provider.Server{"web-1": nil, "db-1": db, "lb-1": lb},
		Approvals: plans.ApprovalStatus{Required: 2, Valid: []string{"bob"}, Invalid: map[string]string{"eve": "key eve is not trusted as approver"}, Missing: 1},
	}}}
}

// TestMarkdownGolden compares the review of a plan with user data, SSH keys,
// firewalls and networks with testdata/review.golden.md (go test -update
// rewrites it).
func TestMarkdownGolden(t *testing.T) {
	rv := goldenReview(t)
	md, folded := rv.Markdown(plans.MaxComment)
	if folded {
		t.Fatalf("a small review was folded")
	}
	show := rv.Plans[0].Plan.Text(rv.Plans[0].Bytes)
	for _, g := range []struct{ file, got string }{{"review.golden.md", md}, {"show.golden.txt", show}} {
		path := filepath.Join("testdata", g.file)
		if *update {
			if err := os.MkdirAll("testdata", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(g.got), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./plans -run Golden -update)", err)
		}
		if string(want) != g.got {
			t.Errorf("%s differs from the rendering (go test ./plans -run Golden -update, then review the diff):\n%s", path, g.got)
		}
	}
	// What the golden file must keep showing, whatever its layout.
	ud := rv.Plans[0].Plan.Actions[0].Action.UserData
	for _, want := range []string{
		"+ ssh_keys: [alice, ops]", "+ firewalls: [web-public]", "+ networks: [internal]",
		"+ public_net.ipv4: true", "+ public_net.ipv6: false", "+ labels.vmc.plan: web-1-create-20261201090000  (added by vmc-git)",
		"~ server_type: cx22 -> cx42", "+ upgrade_disk: true", "~ labels.tier: silver -> gold", "- labels.old: x",
		"~ labels.vmc.plan: lb-1-create-1 -> web-1-create-20261201090000", "<details><summary><code>user_data</code>: ",
		"````\n" + ud + "````\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
}

// TestMarkdownFold: a review over the comment limit folds each plan to a
// line and says the full text is in the job summary.
func TestMarkdownFold(t *testing.T) {
	rv := goldenReview(t)
	full, _ := rv.Markdown(1 << 30)
	short, folded := rv.Markdown(len(full) - 1)
	if !folded || len(short) >= len(full) || !strings.Contains(short, "job summary") {
		t.Fatalf("not folded: %v, %d >= %d", folded, len(short), len(full))
	}
}

// TestFields: the walker behind the renderers covers nested structs,
// pointers, maps (sorted), slices and omitempty the way the JSON encoding
// does.
func TestFields(t *testing.T) {
	type inner struct {
		On  bool   `json:"on"`
		Off string `json:"off,omitempty"`
	}
	type v struct {
		Name   string            `json:"name"`
		Skip   string            `json:"skip,omitempty"`
		Hidden string            `json:"-"`
		In     *inner            `json:"in,omitempty"`
		Nil    *inner            `json:"nil,omitempty"`
		M      map[string]string `json:"m"`
		L      []string          `json:"l"`
		N      int64             `json:"n"`
		Long   string            `json:"long"`
	}
	got := plans.Fields(v{Name: "a", Hidden: "h", In: &inner{On: true}, M: map[string]string{"b": "2", "a": "1"}, L: []string{"x", "y"}, N: -3, Long: "l1\nl2"})
	var s []string
	for _, f := range got {
		s = append(s, fmt.Sprintf("%s=%s/%v", f.Key, f.Value, f.Long))
	}
	want := "name=a/false in.on=true/false m.a=1/false m.b=2/false l=[x, y]/false n=-3/false long=l1\nl2/true"
	if strings.Join(s, " ") != want {
		t.Fatalf("Fields:\n%s\nwant:\n%s", strings.Join(s, " "), want)
	}
}
