package mcpserver

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The streamable HTTP transport is served at Path, behind a bearer token.
const (
	Path = "/mcp"
	// EnvToken holds the bearer token when no token file is given.
	EnvToken = "VMC_MCP_TOKEN"
	// MinTokenLen is the shortest token accepted (bytes).
	MinTokenLen = 16
	// MaxTokenFileSize bounds a token file.
	MaxTokenFileSize = 4096
)

// ReadToken reads the bearer token from file (trailing whitespace trimmed),
// else from $VMC_MCP_TOKEN. A token is never given as a flag value (it would
// show in ps and shell history).
func ReadToken(file string, getenv func(string) string) (string, error) {
	var tok string
	if file != "" {
		fi, err := os.Stat(file)
		if err != nil {
			return "", fmt.Errorf("token file: %w", err)
		}
		if fi.Size() > MaxTokenFileSize {
			return "", fmt.Errorf("token file %s: %d bytes, more than %d", file, fi.Size(), MaxTokenFileSize)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("token file: %w", err)
		}
		tok = strings.TrimSpace(string(b))
	} else {
		tok = strings.TrimSpace(getenv(EnvToken))
	}
	if tok == "" {
		return "", fmt.Errorf("no bearer token: give --token-file FILE or set $%s", EnvToken)
	}
	if len(tok) < MinTokenLen || strings.ContainsAny(tok, " \t\r\n") {
		return "", fmt.Errorf("bearer token: want at least %d bytes without spaces", MinTokenLen)
	}
	return tok, nil
}

// CheckListenAddr refuses an address that is not loopback (127.0.0.0/8,
// ::1, localhost) unless allowRemote.
func CheckListenAddr(addr string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--http %q: want HOST:PORT: %w", addr, err)
	}
	if allowRemote {
		return nil
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("--http %s: not a loopback address; the server changes infrastructure: give --allow-remote to listen there (and put TLS in front)", addr)
}

// HTTPHandler serves ms over the streamable HTTP transport at Path, to
// requests that carry "Authorization: Bearer <token>" only (401 otherwise).
func HTTPHandler(ms *mcp.Server, token string) http.Handler {
	want := sha256.Sum256([]byte(token))
	verify := func(_ context.Context, got string, _ *http.Request) (*auth.TokenInfo, error) {
		g := sha256.Sum256([]byte(got))
		if subtle.ConstantTimeCompare(g[:], want[:]) != 1 {
			return nil, auth.ErrInvalidToken
		}
		return &auth.TokenInfo{UserID: "operator", Expiration: time.Now().Add(time.Hour)}, nil
	}
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return ms }, &mcp.StreamableHTTPOptions{
		MaxRequestBodyBytes: 2 * MaxArgumentBytes,
	})
	mux := http.NewServeMux()
	mux.Handle(Path, http.NewCrossOriginProtection().Handler(auth.RequireBearerToken(verify, nil)(h)))
	return mux
}

// ServeHTTP listens on addr (checked by CheckListenAddr first) and serves
// HTTPHandler until ctx ends. ready, if not nil, gets the bound address.
func ServeHTTP(ctx context.Context, ms *mcp.Server, addr, token string, allowRemote bool, ready func(net.Addr)) error {
	if err := CheckListenAddr(addr, allowRemote); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: HTTPHandler(ms, token), ReadHeaderTimeout: 10 * time.Second}
	if ready != nil {
		ready(ln.Addr())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		return nil
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}
