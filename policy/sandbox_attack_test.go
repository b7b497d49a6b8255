package policy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSandboxOutsideReads: a bundle (even a pinned one) judges by its own
// bytes and the input only. Built-ins that read outside the process do not
// compile, each named: JSON schema $ref loads absolute file:// URLs (here a
// file on disk and /proc/self/environ, a pusher's checkout or the runner's
// secrets), so json.match_schema and json.verify_schema are refused like
// http.send, net.lookup_ip_addr and opa.runtime. And data holds only the
// bundle: a data.json in the working directory and policy/ is not loaded.
func TestSandboxOutsideReads(t *testing.T) {
	dir := t.TempDir()
	schema := filepath.Join(dir, "schema.json")
	if err := os.WriteFile(schema, []byte(`{"type":"string"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, body, want string }{
		{"json.match_schema of a file", fmt.Sprintf("x := json.match_schema({}, {\"$ref\": %q})", "file://"+schema), "json.match_schema"},
		{"json.match_schema of the environment", `x := json.match_schema({}, {"$ref": "file:///proc/self/environ"})`, "json.match_schema"},
		{"json.verify_schema of a file", fmt.Sprintf("x := json.verify_schema({\"$ref\": %q})", "file://"+schema), "json.verify_schema"},
		{"opa.runtime", `x := opa.runtime().env`, "opa.runtime"},
		{"net.lookup_ip_addr", `x := net.lookup_ip_addr("localhost")`, "net.lookup_ip_addr"},
		{"http.send", `x := http.send({"method": "get", "url": "http://127.0.0.1:1"})`, "http.send"},
	} {
		src := "package vmc.a\n\ndeny contains sprintf(\"%v\", [x]) if { " + c.body + " }\n"
		_, err := Compile([]File{{"policy/a.rego", []byte(src)}})
		if !errors.Is(err, ErrCompile) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrCompile naming %s", c.name, err, c.want)
		}
	}

	// data is the bundle's only: files beside it are not loaded.
	t.Chdir(dir)
	os.MkdirAll(filepath.Join(dir, Dir), 0o755)
	for _, f := range []string{"data.json", filepath.Join(Dir, "data.json")} {
		os.WriteFile(f, []byte(`{"vmc":{"ext":{"deny_all":true}}}`), 0o644)
	}
	t.Setenv("OPA_DATA", `{"vmc":{"ext":{"deny_all":true}}}`)
	b, err := Compile([]File{{"policy/p.rego", []byte("package vmc.p\n\ndeny contains \"data supplied\" if data.vmc.ext.deny_all\n")}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := b.evalValue(context.Background(), map[string]any{}, Limits{})
	if err != nil || !res.Pass() {
		t.Fatalf("data from outside the bundle: %+v %v", res, err)
	}
}
