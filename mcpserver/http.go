package mcpserver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
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

// HTTP bounds. A request is refused before the MCP SDK reads it when its
// body is larger than MaxBodyBytes (413), takes longer than BodyReadTimeout
// to arrive (408), or would open a session past MaxSessions (503); each
// refusal is a JSON-RPC error object (id null, code -32600) with the reason
// in its message. Header lines larger than MaxHeaderBytes are refused by
// net/http (431); a session that sends nothing for SessionIdleTimeout is
// closed. The bounds apply behind the bearer token: a request without it
// is refused (401) before its body is read.
const (
	// MaxBodyBytes bounds one request body: a tool call's arguments are at
	// most MaxArgumentBytes, and the JSON-RPC envelope around them is small.
	MaxBodyBytes = 2 * MaxArgumentBytes
	// BodyReadTimeout bounds the time a request body takes to arrive.
	BodyReadTimeout = 30 * time.Second
	// MaxHeaderBytes bounds a request's header lines (the token is at most
	// MaxTokenFileSize).
	MaxHeaderBytes = 16 << 10
	// MaxSessions bounds the MCP sessions open at once.
	MaxSessions = 32
	// SessionIdleTimeout closes a session that sent no request for so long.
	SessionIdleTimeout = 30 * time.Minute
	// JSONRPCInvalidRequest is the JSON-RPC 2.0 error code of a refusal.
	JSONRPCInvalidRequest = -32600
	// SessionHeader is the streamable HTTP transport's session header.
	SessionHeader = "Mcp-Session-Id"
)

// HTTPLimits are the HTTP bounds of HTTPHandlerLimits (zero fields take
// the package's constants).
type HTTPLimits struct {
	MaxBodyBytes       int64
	BodyReadTimeout    time.Duration
	MaxSessions        int
	SessionIdleTimeout time.Duration
}

func (l HTTPLimits) withDefaults() HTTPLimits {
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = MaxBodyBytes
	}
	if l.BodyReadTimeout <= 0 {
		l.BodyReadTimeout = BodyReadTimeout
	}
	if l.MaxSessions <= 0 {
		l.MaxSessions = MaxSessions
	}
	if l.SessionIdleTimeout <= 0 {
		l.SessionIdleTimeout = SessionIdleTimeout
	}
	return l
}

// HTTPHandler serves ms over the streamable HTTP transport at Path, to
// requests that carry "Authorization: Bearer <token>" only (401 otherwise),
// within the package's HTTP bounds.
func HTTPHandler(ms *mcp.Server, token string) http.Handler {
	return HTTPHandlerLimits(ms, token, HTTPLimits{})
}

// HTTPHandlerLimits is HTTPHandler within lim.
func HTTPHandlerLimits(ms *mcp.Server, token string, lim HTTPLimits) http.Handler {
	lim = lim.withDefaults()
	want := sha256.Sum256([]byte(token))
	verify := func(_ context.Context, got string, _ *http.Request) (*auth.TokenInfo, error) {
		g := sha256.Sum256([]byte(got))
		if subtle.ConstantTimeCompare(g[:], want[:]) != 1 {
			return nil, auth.ErrInvalidToken
		}
		return &auth.TokenInfo{UserID: "operator", Expiration: time.Now().Add(time.Hour)}, nil
	}
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return ms }, &mcp.StreamableHTTPOptions{
		MaxRequestBodyBytes: lim.MaxBodyBytes,
		SessionTimeout:      lim.SessionIdleTimeout,
	})
	b := &bounded{ms: ms, lim: lim, next: h}
	mux := http.NewServeMux()
	mux.Handle(Path, http.NewCrossOriginProtection().Handler(auth.RequireBearerToken(verify, nil)(b)))
	return mux
}

// bounded applies HTTPLimits in front of the SDK's handler.
type bounded struct {
	ms   *mcp.Server
	lim  HTTPLimits
	next http.Handler
	// opening counts requests without a session header being served: each
	// may open a session that ms.Sessions does not list yet.
	opening atomic.Int64
}

func (b *bounded) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Body != nil && r.Body != http.NoBody {
		if r.ContentLength > b.lim.MaxBodyBytes {
			refuse(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body of %d bytes, more than %d", r.ContentLength, b.lim.MaxBodyBytes))
			return
		}
		// The whole body, read here within the bounds: the SDK gets bytes.
		rc := http.NewResponseController(w)
		rc.SetReadDeadline(time.Now().Add(b.lim.BodyReadTimeout))
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, b.lim.MaxBodyBytes))
		if err != nil {
			// The deadline stays: net/http's drain of the rest fails at
			// once, and the connection closes after the refusal.
			w.Header().Set("Connection", "close")
		} else {
			rc.SetReadDeadline(time.Time{})
		}
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			refuse(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body of more than %d bytes", mbe.Limit))
			return
		case errors.Is(err, os.ErrDeadlineExceeded):
			refuse(w, http.StatusRequestTimeout, fmt.Sprintf("request body not received within %s", b.lim.BodyReadTimeout))
			return
		case err != nil:
			refuse(w, http.StatusBadRequest, fmt.Sprintf("request body: %v", err))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
	}
	if r.Header.Get(SessionHeader) == "" && r.Method == http.MethodPost {
		n := b.opening.Add(1)
		defer b.opening.Add(-1)
		for range b.ms.Sessions() {
			n++
		}
		if n > int64(b.lim.MaxSessions) {
			refuse(w, http.StatusServiceUnavailable, fmt.Sprintf("%d sessions open, at most %d: end one (DELETE with its %s) or wait for an idle one to close (%s)", n-1, b.lim.MaxSessions, SessionHeader, b.lim.SessionIdleTimeout))
			return
		}
	}
	b.next.ServeHTTP(w, r)
}

// refuse writes a JSON-RPC error response (id null) with HTTP status code.
func refuse(w http.ResponseWriter, code int, msg string) {
	type jerr struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	body, _ := json.Marshal(struct {
		JSONRPC string `json:"jsonrpc"`
		ID      any    `json:"id"`
		Error   jerr   `json:"error"`
	}{"2.0", nil, jerr{JSONRPCInvalidRequest, "vmc-git mcp: " + msg}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(body)
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
	srv := &http.Server{Handler: HTTPHandler(ms, token), ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: MaxHeaderBytes}
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
