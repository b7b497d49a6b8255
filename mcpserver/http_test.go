package mcpserver_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/vmc-git/vmc-git/mcpserver"
)

// bearer adds a fixed Authorization header.
type bearer struct {
	tok  string
	next http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if b.tok != "" {
		r.Header.Set("Authorization", "Bearer "+b.tok)
	}
	return b.next.RoundTrip(r)
}

const initBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`

func TestHTTPBearerToken(t *testing.T) {
	root := newLedger(t)
	ms, err := mcpserver.New(mcpserver.Options{Dir: root, Applier: identity(t, "carol")})
	if err != nil {
		t.Fatal(err)
	}
	const tok = "0123456789abcdef-the-right-token"
	srv := httptest.NewServer(mcpserver.HTTPHandler(ms, tok))
	defer srv.Close()
	url := srv.URL + mcpserver.Path
	post := func(auth string) int {
		req, _ := http.NewRequest("POST", url, strings.NewReader(initBody))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, a := range []string{"", "Bearer", "Bearer 0123456789abcdef-the-wrong-token", "Bearer " + tok + "x", "Basic " + tok, "bearer  " + tok[:10]} {
		if code := post(a); code != http.StatusUnauthorized {
			t.Errorf("Authorization %q: status %d, want 401", a, code)
		}
	}
	if code := post("Bearer " + tok); code != http.StatusOK {
		t.Errorf("right token: status %d", code)
	}
	// The SDK's client: refused without the token, served with it.
	connect := func(tk string) (*mcp.ClientSession, error) {
		c := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "1"}, nil)
		return c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: url,
			HTTPClient: &http.Client{Transport: bearer{tk, http.DefaultTransport}}, MaxRetries: -1}, nil)
	}
	for _, bad := range []string{"", "wrong-token-wrong-token"} {
		if cs, err := connect(bad); err == nil {
			cs.Close()
			t.Errorf("token %q: connected", bad)
		}
	}
	cs, err := connect(tok)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "ledger_head", Arguments: map[string]any{}})
	if err != nil || res.IsError {
		t.Fatalf("ledger_head over HTTP: %v %v", err, res)
	}
}

func TestCheckListenAddr(t *testing.T) {
	for _, a := range []string{"127.0.0.1:0", "127.0.0.2:8080", "[::1]:9", "localhost:1"} {
		if err := mcpserver.CheckListenAddr(a, false); err != nil {
			t.Errorf("%s: %v", a, err)
		}
	}
	for _, a := range []string{"0.0.0.0:8080", ":8080", "[::]:1", "10.0.0.1:80", "example.com:80"} {
		if err := mcpserver.CheckListenAddr(a, false); err == nil || !strings.Contains(err.Error(), "--allow-remote") {
			t.Errorf("%s: want a refusal naming --allow-remote, got %v", a, err)
		}
		if err := mcpserver.CheckListenAddr(a, true); err != nil {
			t.Errorf("%s with allow-remote: %v", a, err)
		}
	}
	if err := mcpserver.CheckListenAddr("127.0.0.1", false); err == nil {
		t.Error("no port: want an error")
	}
}

func TestReadToken(t *testing.T) {
	dir := t.TempDir()
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == mcpserver.EnvToken {
				return v
			}
			return ""
		}
	}
	good := filepath.Join(dir, "tok")
	os.WriteFile(good, []byte("abcdefghijklmnopqrstuvwxyz\n"), 0o600)
	if tk, err := mcpserver.ReadToken(good, env("")); err != nil || tk != "abcdefghijklmnopqrstuvwxyz" {
		t.Errorf("file: %q %v", tk, err)
	}
	if tk, err := mcpserver.ReadToken("", env("from-the-environment-1")); err != nil || tk != "from-the-environment-1" {
		t.Errorf("env: %q %v", tk, err)
	}
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte("abc"), 0o600)
	huge := filepath.Join(dir, "huge")
	os.WriteFile(huge, []byte(strings.Repeat("a", 5000)), 0o600)
	spaced := filepath.Join(dir, "spaced")
	os.WriteFile(spaced, []byte("abcdefgh ijklmnopqrst"), 0o600)
	for name, c := range map[string]struct {
		file, env, want string
	}{
		"none":    {"", "", "no bearer token"},
		"missing": {filepath.Join(dir, "nope"), "", "token file"},
		"short":   {short, "", "at least"},
		"huge":    {huge, "", "more than"},
		"spaced":  {spaced, "", "without spaces"},
	} {
		if _, err := mcpserver.ReadToken(c.file, env(c.env)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: want %q, got %v", name, c.want, err)
		}
	}
}

// TestServeRefusals: the CLI refuses a non-loopback address, a missing
// token and an approver key before it serves anything.
func TestServeRefusals(t *testing.T) {
	root := newLedger(t)
	for _, c := range []struct {
		args []string
		env  string
		code int
		want string
	}{
		{[]string{"--http", "0.0.0.0:0"}, "VMC_MCP_TOKEN=0123456789abcdef0123", 2, "--allow-remote"},
		{[]string{"--http", "127.0.0.1:0"}, "", 2, "no bearer token"},
		{[]string{"--token-file", "x"}, "", 2, "go with --http"},
		{[]string{"--key", key("bob")}, "", 4, "applier key only"},
	} {
		cmd := exec.Command(vmcBin, append([]string{"-C", root, "mcp", "serve"}, c.args...)...)
		cmd.Env = append(os.Environ(), c.env)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != c.code || !strings.Contains(string(out), c.want) {
			t.Errorf("mcp serve %v: %v: want exit %d and %q, got:\n%s", c.args, err, c.code, c.want, out)
		}
	}
}
