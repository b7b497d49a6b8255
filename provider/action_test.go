package provider_test

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/provider"
)

type actionCase struct {
	Name   string          `json:"name"`
	Action json.RawMessage `json:"action"`
	Error  string          `json:"error"` // substring of the error; empty: valid
}

func loadActionCases(t testing.TB) []actionCase {
	b, err := os.ReadFile("testdata/actions.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []actionCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	return cases
}

// TestActionVectors runs testdata/actions.json: each action is parsed with
// ParseAction; valid ones must round-trip, invalid ones must fail with
// ErrInvalidAction and the expected message.
func TestActionVectors(t *testing.T) {
	for _, c := range loadActionCases(t) {
		t.Run(c.Name, func(t *testing.T) {
			a, err := provider.ParseAction(c.Action)
			if c.Error == "" {
				if err != nil {
					t.Fatalf("valid action rejected: %v", err)
				}
				b, err := json.Marshal(a)
				if err != nil {
					t.Fatal(err)
				}
				a2, err := provider.ParseAction(b)
				if err != nil || !reflect.DeepEqual(a, a2) {
					t.Fatalf("round trip: %s -> %+v, %v", b, a2, err)
				}
				b2, _ := json.Marshal(a2)
				if string(b) != string(b2) {
					t.Fatalf("encoding not stable: %s vs %s", b, b2)
				}
				return
			}
			if err == nil {
				t.Fatalf("invalid action accepted: %s", c.Action)
			}
			if !errors.Is(err, provider.ErrInvalidAction) {
				t.Errorf("error does not wrap ErrInvalidAction: %v", err)
			}
			if !strings.Contains(err.Error(), c.Error) {
				t.Errorf("error %q does not mention %q", err, c.Error)
			}
			if strings.ContainsRune(err.Error(), 0) || len(err.Error()) > 400 {
				t.Errorf("error text not printable or too long: %q", err)
			}
		})
	}
}

func TestParseActionStrict(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"unknown field", `{"op":"reboot","server":"w","force":true}`, "unknown field"},
		{"duplicate key", `{"op":"reboot","server":"w","server":"x"}`, `duplicate key "server"`},
		{"duplicate nested key", `{"op":"label","server":"w","labels":{"a":"1","a":"2"}}`, `duplicate key "a"`},
		{"trailing data", `{"op":"reboot","server":"w"} {}`, "trailing data"},
		{"not an object", `["reboot"]`, "decode"},
		{"wrong type", `{"op":"protect","server":"w","delete":"yes"}`, "decode"},
		{"truncated", `{"op":"reboot","server":"w"`, "decode"},
		{"empty", ``, "decode"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := provider.ParseAction([]byte(c.in))
			if err == nil || !errors.Is(err, provider.ErrInvalidAction) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("ParseAction(%s) = %v, want %q", c.in, err, c.want)
			}
		})
	}
}

// TestValidateEveryOpRejectsForeignParams sets each parameter on each op and
// checks that exactly the op's own parameters are accepted.
func TestValidateEveryOpRejectsForeignParams(t *testing.T) {
	set := map[string]func(*provider.Action){
		"server_type":        func(a *provider.Action) { a.ServerType = "cx22" },
		"image":              func(a *provider.Action) { a.Image = "debian-12" },
		"location":           func(a *provider.Action) { a.Location = "fsn1" },
		"labels":             func(a *provider.Action) { a.Labels = map[string]string{"k": "v"} },
		"ssh_keys":           func(a *provider.Action) { a.SSHKeys = []string{"k"} },
		"firewalls":          func(a *provider.Action) { a.Firewalls = []string{"f"} },
		"networks":           func(a *provider.Action) { a.Networks = []string{"n"} },
		"user_data":          func(a *provider.Action) { a.UserData = "x" },
		"public_net":         func(a *provider.Action) { a.PublicNet = &provider.PublicNet{IPv4: true} },
		"start_after_create": func(a *provider.Action) { a.StartAfterCreate = new(bool) },
		"upgrade_disk":       func(a *provider.Action) { a.UpgradeDisk = true },
		"new_name":           func(a *provider.Action) { a.NewName = "other" },
		"delete":             func(a *provider.Action) { a.Delete = new(bool) },
		"rebuild":            func(a *provider.Action) { a.Rebuild = new(bool) },
	}
	own := map[provider.Op][]string{
		provider.OpCreate:  {"server_type", "image", "location", "labels", "ssh_keys", "firewalls", "networks", "user_data", "public_net", "start_after_create"},
		provider.OpRebuild: {"image"},
		provider.OpResize:  {"server_type", "upgrade_disk"},
		provider.OpLabel:   {"labels"},
		provider.OpRename:  {"new_name"},
		provider.OpProtect: {"delete", "rebuild"},
	}
	base := func(op provider.Op) provider.Action {
		a := provider.Action{Op: op, Server: "w"}
		for _, p := range map[provider.Op][]string{
			provider.OpCreate: {"server_type", "image"}, provider.OpRebuild: {"image"}, provider.OpResize: {"server_type"},
			provider.OpLabel: {"labels"}, provider.OpRename: {"new_name"}, provider.OpProtect: {"delete"},
		}[op] {
			set[p](&a)
		}
		return a
	}
	for _, op := range provider.Ops {
		if err := base(op).Validate(); err != nil {
			t.Fatalf("%s: minimal action rejected: %v", op, err)
		}
		for p, f := range set {
			a := base(op)
			f(&a)
			err := a.Validate()
			mine := false
			for _, q := range own[op] {
				mine = mine || q == p
			}
			if mine && err != nil {
				t.Errorf("%s: own parameter %s rejected: %v", op, p, err)
			}
			if !mine && (err == nil || !strings.Contains(err.Error(), "parameter "+p+" does not belong")) {
				t.Errorf("%s: foreign parameter %s: %v", op, p, err)
			}
		}
	}
}

func TestLabelValue(t *testing.T) {
	for in, want := range map[string]string{
		"github.com/acme/infra": "github.com_acme_infra",
		"plain":                 "plain",
		"/lead/":                "lead",
		"ünï":                   "n",
		strings.Repeat("a", 80): strings.Repeat("a", 63),
		"":                      "",
	} {
		got := provider.LabelValue(in)
		if got != want {
			t.Errorf("LabelValue(%q) = %q, want %q", in, got, want)
		}
		if err := provider.CheckLabelValue(got); err != nil {
			t.Errorf("LabelValue(%q) = %q is not a valid value: %v", in, got, err)
		}
	}
}

func FuzzParseAction(f *testing.F) {
	for _, c := range loadActionCases(f) {
		f.Add([]byte(c.Action))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := provider.ParseAction(data)
		if err != nil {
			if !errors.Is(err, provider.ErrInvalidAction) {
				t.Fatalf("error does not wrap ErrInvalidAction: %v", err)
			}
			return
		}
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		a2, err := provider.ParseAction(b)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", b, err)
		}
		b2, _ := json.Marshal(a2)
		if string(b) != string(b2) {
			t.Fatalf("not stable: %s vs %s", b, b2)
		}
	})
}

func TestParseActions(t *testing.T) {
	acts, err := provider.ParseActions([]byte(`[{"op":"create","server":"web-1","server_type":"cx22","image":"debian-12"},
		{"kind":"volume","op":"create","name":"data","size":10,"location":"fsn1"}]`))
	if err != nil {
		t.Fatal(err)
	}
	if len(acts) != 2 || acts[0].Server != "web-1" || acts[1].Kind != provider.KindVolume || acts[1].Size != 10 {
		t.Fatalf("ParseActions = %+v", acts)
	}
	for _, c := range []struct{ name, in, want string }{
		{"not a list", `{"op":"create"}`, "want a JSON list of actions: "},
		{"not JSON", `[`, "want a JSON list of actions: "},
		{"empty", `[]`, "no actions"},
		{"null", `null`, "no actions"},
		{"second invalid", `[{"op":"delete","server":"a"},{"op":"reboot"}]`, "action 1: "},
		{"unknown field", `[{"op":"delete","server":"a","sever":"b"}]`, "action 0: "},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := provider.ParseActions([]byte(c.in))
			if err == nil || !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("ParseActions(%s) = %v, want an error starting %q", c.in, err, c.want)
			}
		})
	}
}

func TestParseRulesStrict(t *testing.T) {
	rules, err := provider.ParseRules([]byte(`[{"direction":"in","protocol":"tcp","port":"22","source_ips":["0.0.0.0/0"]}]`))
	if err != nil || len(rules) != 1 || rules[0].Port != "22" || rules[0].SourceIPs[0] != "0.0.0.0/0" {
		t.Fatalf("ParseRules = %+v, %v", rules, err)
	}
	for _, in := range []string{`[{"direction":"in","protcol":"tcp"}]`, `{"direction":"in"}`, `[`} {
		if _, err := provider.ParseRules([]byte(in)); err == nil {
			t.Errorf("ParseRules(%s) accepted it", in)
		}
	}
}
