package mcpserver_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/vmc-git/vmc-git/mcpserver"
)

const boundsToken = "0123456789abcdef-bounds-token"

// rawPost sends body to url with the headers of the streamable transport,
// the token and sid (if any), and returns the status, the session header
// and the body.
func rawPost(t *testing.T, url, sid string, body io.Reader, length int64, extra map[string]string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest("POST", url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = length
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+boundsToken)
	if sid != "" {
		req.Header.Set(mcpserver.SessionHeader, sid)
	}
	for k, v := range extra {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, resp.Header.Get(mcpserver.SessionHeader), string(b)
}

// wantRefusal checks a bounds refusal: the status and a JSON-RPC error
// object (id null, code -32600) whose message has want.
func wantRefusal(t *testing.T, what string, code int, body string, wantCode int, want string) {
	t.Helper()
	var e struct {
		JSONRPC string           `json:"jsonrpc"`
		ID      *json.RawMessage `json:"id"`
		Error   struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if code != wantCode {
		t.Errorf("%s: status %d, want %d (%s)", what, code, wantCode, body)
		return
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.JSONRPC != "2.0" || e.Error.Code != mcpserver.JSONRPCInvalidRequest || !strings.Contains(e.Error.Message, want) {
		t.Errorf("%s: body %q (%v), want a JSON-RPC error %d with %q", what, body, err, mcpserver.JSONRPCInvalidRequest, want)
	}
}

// initialize opens a session with a raw initialize and the initialized
// notification, and returns its id.
func initialize(t *testing.T, url string) string {
	t.Helper()
	code, sid, body := rawPost(t, url, "", strings.NewReader(initBody), int64(len(initBody)), nil)
	if code != http.StatusOK || sid == "" {
		t.Fatalf("initialize: status %d, session %q: %s", code, sid, body)
	}
	n := `{"jsonrpc":"2.0","method":"notifications/initialized"}`
	if code, _, body := rawPost(t, url, sid, strings.NewReader(n), int64(len(n)), nil); code != http.StatusAccepted {
		t.Fatalf("initialized: status %d: %s", code, body)
	}
	return sid
}

// serve runs the real server (ServeHTTP) on 127.0.0.1 and returns its URL.
func serve(t *testing.T, ms *mcp.Server) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- mcpserver.ServeHTTP(ctx, ms, "127.0.0.1:0", boundsToken, false, func(a net.Addr) { addr <- a })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeHTTP: %v", err)
		}
	})
	select {
	case a := <-addr:
		return "http://" + a.String() + mcpserver.Path
	case err := <-done:
		t.Fatalf("ServeHTTP: %v", err)
	}
	return ""
}

// hidden hides a reader's length, so the client sends it chunked.
type hidden struct{ io.Reader }

// TestHTTPBodyBounds: against the real server on 127.0.0.1, a request
// body larger than MaxBodyBytes is refused with 413 and a JSON-RPC error
// before the SDK reads it, whether it says its length or comes chunked; a
// body within the bound reaches the tools, whose own argument bound
// refuses it as a tool error; header lines past MaxHeaderBytes are
// refused (431); a request without the token is refused (401) before
// its body is read. Nothing is written, and the server keeps serving.
func TestHTTPBodyBounds(t *testing.T) {
	root := newLedger(t)
	ms, err := mcpserver.New(mcpserver.Options{Dir: root, Applier: identity(t, "carol")})
	if err != nil {
		t.Fatal(err)
	}
	url := serve(t, ms)
	sid := initialize(t, url)

	call := func(summary string) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"plan_create","arguments":{"id":"web-1-big","summary":%q,"actions":[{"op":"create","server":"web-1","server_type":"cx22","image":"ubuntu-24.04"}]}}}`, summary)
	}
	over := call(strings.Repeat("a", mcpserver.MaxBodyBytes))
	code, _, body := rawPost(t, url, sid, strings.NewReader(over), int64(len(over)), nil)
	wantRefusal(t, "oversize body with its length", code, body, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body of %d bytes, more than %d", len(over), mcpserver.MaxBodyBytes))
	code, _, body = rawPost(t, url, sid, hidden{strings.NewReader(over)}, -1, nil)
	wantRefusal(t, "oversize body, chunked", code, body, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body of more than %d bytes", mcpserver.MaxBodyBytes))
	code, _, body = rawPost(t, url, "", strings.NewReader(over), int64(len(over)), map[string]string{"Authorization": "Bearer wrong-token-wrong-token"})
	if code != http.StatusUnauthorized {
		t.Errorf("oversize body without the token: status %d, want 401: %s", code, body)
	}
	code, _, body = rawPost(t, url, sid, strings.NewReader(initBody), int64(len(initBody)), map[string]string{"X-Big": strings.Repeat("h", 4*mcpserver.MaxHeaderBytes)})
	if code != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("oversize header: status %d, want 431: %s", code, body)
	}

	// Within the body bound, past the argument bound: the tool refuses it.
	within := call(strings.Repeat("a", mcpserver.MaxArgumentBytes))
	if len(within) > mcpserver.MaxBodyBytes {
		t.Fatalf("test body of %d bytes is past the bound", len(within))
	}
	code, _, body = rawPost(t, url, sid, strings.NewReader(within), int64(len(within)), nil)
	if code != http.StatusOK || !strings.Contains(body, `"isError":true`) || !strings.Contains(body, fmt.Sprintf("more than %d", mcpserver.MaxArgumentBytes)) {
		t.Errorf("body within the bound, arguments past theirs: status %d: %.300s", code, body)
	}

	// Nothing written; the server still serves, raw and through the SDK.
	if out := run(t, root, "git", "branch", "--list", "plan/*"); strings.TrimSpace(out) != "" {
		t.Errorf("a refused request made a branch: %s", out)
	}
	initialize(t, url)
	c := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "1"}, nil)
	cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: url,
		HTTPClient: &http.Client{Transport: bearer{boundsToken, http.DefaultTransport}}, MaxRetries: -1}, nil)
	if err != nil {
		t.Fatalf("connect after the refusals: %v", err)
	}
	defer cs.Close()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "ledger_head", Arguments: map[string]any{}})
	if err != nil || res.IsError {
		t.Fatalf("ledger_head after the refusals: %v %v", err, res)
	}
}

// TestHTTPSessionBounds: at most MaxSessions sessions are open at once (the
// next initialize is refused with 503 and a JSON-RPC error until one ends,
// by DELETE or by idling past SessionIdleTimeout), and a body that does
// not arrive within BodyReadTimeout is refused with 408; small limits, a
// real server on 127.0.0.1.
func TestHTTPSessionBounds(t *testing.T) {
	root := newLedger(t)
	ms, err := mcpserver.New(mcpserver.Options{Dir: root, Applier: identity(t, "carol")})
	if err != nil {
		t.Fatal(err)
	}
	lim := mcpserver.HTTPLimits{MaxSessions: 2, SessionIdleTimeout: 2 * time.Second, BodyReadTimeout: 300 * time.Millisecond}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mcpserver.HTTPHandlerLimits(ms, boundsToken, lim), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String() + mcpserver.Path

	first := initialize(t, url)
	initialize(t, url)
	code, _, body := rawPost(t, url, "", strings.NewReader(initBody), int64(len(initBody)), nil)
	wantRefusal(t, "a third session", code, body, http.StatusServiceUnavailable, "2 sessions open, at most 2")

	// A session ended by DELETE makes room.
	req, _ := http.NewRequest("DELETE", url, nil)
	req.Header.Set("Authorization", "Bearer "+boundsToken)
	req.Header.Set(mcpserver.SessionHeader, first)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	initialize(t, url)
	code, _, body = rawPost(t, url, "", strings.NewReader(initBody), int64(len(initBody)), nil)
	wantRefusal(t, "full again", code, body, http.StatusServiceUnavailable, "at most 2")

	// Idle sessions close: room again, within a generous wait.
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, sid, body := rawPost(t, url, "", strings.NewReader(initBody), int64(len(initBody)), nil)
		if code == http.StatusOK && sid != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("idle sessions never closed: status %d: %s", code, body)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// A body that never arrives in full: 408, the connection freed.
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 1000\r\n\r\n{\"jsonrpc\":", mcpserver.Path, ln.Addr(), boundsToken)
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err = http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("slow body: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	wantRefusal(t, "slow body", resp.StatusCode, string(b), http.StatusRequestTimeout, "request body not received within 300ms")
}
