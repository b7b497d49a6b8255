package policy

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// TestNondeterministicBuiltins: a pinned bundle's verdict may not vary
// between runs, so every built-in whose result depends on the clock or on
// randomness does not compile, however it is called (a statement, nested
// in another call, a with target), each refusal naming the file, line and
// built-in and why.
func TestNondeterministicBuiltins(t *testing.T) {
	for _, c := range []struct{ name, body, builtin, why string }{
		{"time.now_ns", `x := time.now_ns()`, "time.now_ns", "depends on the clock"},
		{"time.now_ns nested", `x := time.date(time.now_ns())`, "time.now_ns", "depends on the clock"},
		{"time.now_ns as a statement", `time.now_ns(x)`, "time.now_ns", "depends on the clock"},
		{"time.now_ns mocked", `x := 1 with time.now_ns as 3`, "time.now_ns", "depends on the clock"},
		{"rand.intn", `x := rand.intn("seed", 100)`, "rand.intn", "random"},
		{"uuid.rfc4122", `x := uuid.rfc4122("k")`, "uuid.rfc4122", "random"},
		{"io.jwt.encode_sign", `x := io.jwt.encode_sign({"alg": "ES256"}, {}, {})`, "io.jwt.encode_sign", "randomised"},
		{"io.jwt.encode_sign_raw", `x := io.jwt.encode_sign_raw("{}", "{}", "{}")`, "io.jwt.encode_sign_raw", "randomised"},
		{"io.jwt.decode_verify", `x := io.jwt.decode_verify("a.b.c", {"secret": "s"})`, "io.jwt.decode_verify", "expiry"},
		{"x509 verify", `x := crypto.x509.parse_and_verify_certificates("")`, "crypto.x509.parse_and_verify_certificates", "certificate validity"},
		{"x509 verify with options", `x := crypto.x509.parse_and_verify_certificates_with_options("", {})`, "crypto.x509.parse_and_verify_certificates_with_options", "certificate validity"},
		{"http.send", `x := http.send({"method": "get", "url": "http://127.0.0.1:1"})`, "http.send", "outside the process"},
		{"net.lookup_ip_addr", `x := net.lookup_ip_addr("localhost")`, "net.lookup_ip_addr", "outside the process"},
		{"opa.runtime", `x := opa.runtime()`, "opa.runtime", "the environment"},
	} {
		src := "package vmc.a\n\ndeny contains sprintf(\"%v\", [x]) if {\n\t" + c.body + "\n}\n"
		_, err := Compile([]File{{"policy/ok.rego", []byte("package vmc.ok\n")}, {"policy/a.rego", []byte(src)}})
		want := "policy/a.rego:4: " + c.builtin + " is not allowed in a policy: "
		if !errors.Is(err, ErrCompile) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), c.why) {
			t.Errorf("%s: %v\nwant ErrCompile with %q and %q", c.name, err, want, c.why)
		}
	}

	// Two files, two refusals: each named.
	_, err := Compile([]File{
		{"policy/a.rego", []byte("package vmc.a\n\ndeny contains \"x\" if rand.intn(\"a\", 2) == 1\n")},
		{"policy/b.rego", []byte("package vmc.b\n\nwarn contains \"y\" if time.now_ns() > 0\n")},
	})
	for _, want := range []string{"policy/a.rego:3: rand.intn is not allowed", "policy/b.rego:3: time.now_ns is not allowed"} {
		if !errors.Is(err, ErrCompile) || !strings.Contains(err.Error(), want) {
			t.Errorf("two files: %v, want %q", err, want)
		}
	}

	// Deterministic neighbours still compile, and so do rules and
	// documents that merely share a built-in's name.
	b, err := Compile([]File{
		{"policy/time.rego", []byte("package vmc.time\n\nnow_ns := 5\n")},
		{"policy/ok.rego", []byte(`package vmc.ok

deny contains "parsed" if time.parse_rfc3339_ns("2026-01-02T15:04:05Z") > 0
deny contains "uuid" if uuid.parse("00000000-0000-0000-0000-000000000000").version == 0
warn contains "data" if data.vmc.time.now_ns == 5
warn contains "input" if input.time.now_ns == 7
`)},
	})
	if err != nil {
		t.Fatalf("deterministic built-ins: %v", err)
	}
	in := map[string]any{"time": map[string]any{"now_ns": 7}}
	first, err := b.evalValue(context.Background(), in, Limits{})
	if err != nil || len(first.Deny) != 2 || len(first.Warn) != 2 {
		t.Fatalf("deterministic bundle: %+v %v", first, err)
	}
	for range 3 {
		again, err := b.evalValue(context.Background(), in, Limits{})
		if err != nil || !reflect.DeepEqual(again, first) {
			t.Fatalf("the same bundle over the same input: %+v, then %+v (%v)", first, again, err)
		}
	}
}

// TestDeniedBuiltinsCoverOPA: every built-in this OPA version marks
// nondeterministic is refused (an OPA upgrade that adds one is refused
// without a change here), and none of the refused ones is in the
// compiler's capabilities.
func TestDeniedBuiltinsCoverOPA(t *testing.T) {
	denied := DeniedBuiltins()
	for _, b := range ast.CapabilitiesForThisVersion().Builtins {
		if b.Nondeterministic && !strings.Contains(" "+strings.Join(denied, " ")+" ", " "+b.Name+" ") {
			t.Errorf("%s: OPA marks it nondeterministic, not refused", b.Name)
		}
	}
	for _, name := range []string{"time.now_ns", "rand.intn", "uuid.rfc4122", "http.send", "opa.runtime", "net.lookup_ip_addr", "json.match_schema"} {
		found := false
		for _, d := range denied {
			found = found || d == name
		}
		if !found {
			t.Errorf("%s: not in DeniedBuiltins %v", name, denied)
		}
	}
	for _, b := range capabilities().Builtins {
		if deniedBuiltin(b) != "" {
			t.Errorf("%s: refused but still in the compiler's capabilities", b.Name)
		}
	}
}
