package provider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
)

// Environment variables read by ConfigFromEnv.
const (
	EnvToken     = "HCLOUD_TOKEN"
	EnvTokenFile = "HCLOUD_TOKEN_FILE"
	EnvEndpoint  = "HCLOUD_ENDPOINT"
)

// Defaults used by New for zero Config fields.
const (
	DefaultPollInterval   = 500 * time.Millisecond
	DefaultMaxRetries     = 5
	DefaultRetryBase      = time.Second
	DefaultRetryMax       = 30 * time.Second
	DefaultRequestTimeout = 30 * time.Second
	DefaultDialTimeout    = 5 * time.Second
)

// Secret is a credential. It formats as "[redacted]" with every fmt verb and
// marshals as "[redacted]", so printing or logging a Config never shows it.
type Secret string

func (Secret) String() string                  { return "[redacted]" }
func (Secret) GoString() string                { return `"[redacted]"` }
func (Secret) Format(f fmt.State, _ rune)      { io.WriteString(f, "[redacted]") }
func (Secret) MarshalText() ([]byte, error)    { return []byte("[redacted]"), nil }
func (s *Secret) UnmarshalText(b []byte) error { *s = Secret(b); return nil }

// Config configures the Hetzner provider.
type Config struct {
	// Token is the API token. If empty, TokenFile is read.
	Token Secret
	// TokenFile holds the token (surrounding white space is ignored).
	TokenFile string
	// Endpoint is the API base URL; default hcloud.Endpoint
	// (https://api.hetzner.cloud/v1). Plain http is refused unless the host
	// is a loopback address, so the token is never sent in clear text over a
	// network.
	Endpoint string
	// HTTPClient, if set, is used as is for every request (its own timeouts
	// apply, and hcloud-go retries network timeouts on reads). Otherwise New
	// builds clients with RequestTimeout and DefaultDialTimeout.
	HTTPClient *http.Client
	// PollInterval is the delay between polls while waiting for actions.
	PollInterval time.Duration
	// MaxRetries bounds retries of one request on transient refusals:
	// rate_limit_exceeded and conflict (and locked, for changes; 502/504 and
	// timeout for reads). A request that gets no answer within
	// RequestTimeout is not retried, except while polling actions, so an
	// unreachable endpoint fails after one timeout. Zero means
	// DefaultMaxRetries, negative means no retries.
	MaxRetries int
	// RetryBase and RetryMax shape the exponential backoff (factor 2, full
	// jitter) between retries.
	RetryBase, RetryMax time.Duration
	// RequestTimeout bounds one HTTP request when HTTPClient is nil.
	RequestTimeout time.Duration
	// Application is added to the User-Agent, e.g. "vmc-git/1.2.0".
	Application string
}

// ConfigFromEnv returns a Config from HCLOUD_TOKEN, HCLOUD_TOKEN_FILE and
// HCLOUD_ENDPOINT, looked up with getenv (normally os.Getenv).
func ConfigFromEnv(getenv func(string) string) Config {
	return Config{
		Token:     Secret(getenv(EnvToken)),
		TokenFile: getenv(EnvTokenFile),
		Endpoint:  getenv(EnvEndpoint),
	}
}

// Hetzner implements Provider on the Hetzner Cloud API.
type Hetzner struct {
	token   string
	r       *hcloud.Client // reads: hcloud-go retries transient API errors
	w       *hcloud.Client // changes: no hcloud-go retries, see write
	p       *hcloud.Client // polls while waiting: also retries network timeouts
	retries int
	backoff hcloud.BackoffFunc
}

var _ Provider = (*Hetzner)(nil)

// New returns a Hetzner provider. It checks the configuration but does not
// contact the API.
func New(cfg Config) (*Hetzner, error) {
	token := strings.TrimSpace(string(cfg.Token))
	if token == "" && cfg.TokenFile != "" {
		b, err := os.ReadFile(cfg.TokenFile)
		if err != nil {
			// The error names the file, never its content.
			return nil, fmt.Errorf("hetzner: read token file: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	if token == "" {
		return nil, fmt.Errorf("hetzner: no API token: set %s or %s", EnvToken, EnvTokenFile)
	}
	for i := 0; i < len(token); i++ {
		if c := token[i]; c <= ' ' || c >= 0x7f {
			return nil, errors.New("hetzner: API token contains a non-printable or non-ASCII character")
		}
	}
	endpoint := cfg.Endpoint
	if endpoint == "" {
		endpoint = hcloud.Endpoint
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("hetzner: endpoint %q: want an http(s) URL such as %s", endpoint, hcloud.Endpoint)
	}
	if u.User != nil {
		return nil, fmt.Errorf("hetzner: endpoint must not carry user information")
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return nil, fmt.Errorf("hetzner: endpoint %s: plain http is only allowed to a loopback address (the token would travel in clear text)", u.Redacted())
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	switch {
	case cfg.MaxRetries == 0:
		cfg.MaxRetries = DefaultMaxRetries
	case cfg.MaxRetries < 0:
		cfg.MaxRetries = 0
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = DefaultRetryBase
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = DefaultRetryMax
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	// Two HTTP clients: calls made on the caller's behalf (reads, changes)
	// fail fast on network timeouts, which hcloud-go would otherwise retry
	// MaxRetries times; polls while waiting for actions ride out a blip.
	fast, poll := cfg.HTTPClient, cfg.HTTPClient
	if fast == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.DialContext = (&net.Dialer{Timeout: DefaultDialTimeout, KeepAlive: 30 * time.Second}).DialContext
		fast = &http.Client{Transport: &timeoutTransport{base: tr, timeout: cfg.RequestTimeout}}
		poll = &http.Client{Transport: tr, Timeout: cfg.RequestTimeout}
	}
	backoff := hcloud.ExponentialBackoffWithOpts(hcloud.ExponentialBackoffOpts{
		Base: cfg.RetryBase, Multiplier: 2, Cap: cfg.RetryMax, Jitter: true,
	})
	client := func(hc *http.Client, retries int) *hcloud.Client {
		opts := []hcloud.ClientOption{
			hcloud.WithToken(token),
			hcloud.WithEndpoint(endpoint),
			hcloud.WithHTTPClient(hc),
			hcloud.WithPollOpts(hcloud.PollOpts{BackoffFunc: hcloud.ConstantBackoff(cfg.PollInterval)}),
			hcloud.WithRetryOpts(hcloud.RetryOpts{BackoffFunc: backoff, MaxRetries: retries}),
		}
		if cfg.Application != "" {
			name, version, _ := strings.Cut(cfg.Application, "/")
			opts = append(opts, hcloud.WithApplication(name, version))
		}
		return hcloud.NewClient(opts...)
	}
	h := &Hetzner{
		token:   token,
		r:       client(fast, cfg.MaxRetries),
		w:       client(fast, 0),
		p:       client(poll, cfg.MaxRetries),
		retries: cfg.MaxRetries,
		backoff: backoff,
	}
	return h, nil
}

// timeoutTransport bounds each request by timeout and reports a timeout as
// a plain error rather than a net.Error, so that hcloud-go does not retry it:
// an endpoint that does not answer fails after one timeout, not after
// MaxRetries of them.
type timeoutTransport struct {
	base    http.RoundTripper
	timeout time.Duration
}

func (t *timeoutTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(req.Context(), t.timeout)
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		var ne net.Error
		switch {
		case req.Context().Err() != nil:
			// The caller's context ended; report that as is.
		case ctx.Err() != nil:
			err = &noAnswerError{msg: fmt.Sprintf("no answer within %s", t.timeout)}
		case errors.As(err, &ne) && ne.Timeout():
			err = &noAnswerError{msg: "timed out: " + err.Error()}
		}
		cancel()
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// noAnswerError deliberately implements neither net.Error nor Unwrap.
type noAnswerError struct{ msg string }

func (e *noAnswerError) Error() string { return e.msg }

type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Server implements Provider.
func (h *Hetzner) Server(ctx context.Context, name string) (*Server, error) {
	if name == "" {
		return nil, errors.New("hetzner: get server: empty name")
	}
	s, err := h.server(ctx, name)
	if err != nil {
		return nil, h.redact(err)
	}
	return fromHcloud(s, h.names(ctx, s)), nil
}

func (h *Hetzner) server(ctx context.Context, name string) (*hcloud.Server, error) {
	s, _, err := h.r.Server.GetByName(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("hetzner: get server %q: %w", name, err)
	}
	if s == nil || s.Name != name {
		return nil, fmt.Errorf("hetzner: server %q: %w", name, ErrNotFound)
	}
	return s, nil
}

// Servers implements Provider.
func (h *Hetzner) Servers(ctx context.Context, labelSelector string) ([]Server, error) {
	all, err := h.r.Server.AllWithOpts(ctx, hcloud.ServerListOpts{
		ListOpts: hcloud.ListOpts{LabelSelector: labelSelector, PerPage: 50},
		Sort:     []string{"id:asc"},
	})
	if err != nil {
		return nil, h.redact(fmt.Errorf("hetzner: list servers (label selector %q): %w", labelSelector, err))
	}
	out := make([]Server, 0, len(all))
	names := h.names(ctx, all...)
	for _, s := range all {
		out = append(out, *fromHcloud(s, names))
	}
	slices.SortFunc(out, func(a, b Server) int { return cmpInt64(a.ID, b.ID) })
	return out, nil
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Apply implements Provider.
func (h *Hetzner) Apply(ctx context.Context, a Action, labels map[string]string) (Result, error) {
	fail := func(err error) (Result, error) {
		res := Result{Status: StatusFailed, Code: errorCode(err)}
		err = h.redact(err)
		res.Error = err.Error()
		return res, err
	}
	if err := a.Validate(); err != nil {
		return fail(err)
	}
	if err := CheckLabels(labels); err != nil {
		return fail(fmt.Errorf("%w: extra labels: %w", ErrInvalidAction, err))
	}
	what := fmt.Sprintf("hetzner: %s %q", a.Op, a.Server)
	if err := ctx.Err(); err != nil {
		return fail(fmt.Errorf("%s: %w", what, err))
	}
	if a.Kind != KindServer {
		return h.applyResource(ctx, a, labels)
	}

	// Everything before the change request is sent fails definitely.
	var (
		id, image int64
		actions   []*hcloud.Action
		err       error
	)
	if a.Op == OpCreate {
		opts, oerr := h.createOpts(ctx, a, labels)
		if oerr != nil {
			return fail(fmt.Errorf("%s: %w", what, oerr))
		}
		id, actions, err = h.create(ctx, opts)
	} else {
		var s *hcloud.Server
		s, err = h.server(ctx, a.Server)
		if err != nil {
			return fail(err)
		}
		id = s.ID
		actions, image, err = h.change(ctx, s, a, labels)
	}
	if err != nil {
		err = fmt.Errorf("%s: %w", what, err)
		if definite(err) {
			return fail(err)
		}
		return Result{Status: StatusUnknown, Code: errorCode(err), Error: h.redact(err).Error()}, nil
	}

	res := h.wait(ctx, what, actions)
	res.ImageID = image
	if a.Op != OpDelete && res.Status != StatusUnknown {
		// Observe with a fresh context budget only if the caller's is alive.
		if s, _, err := h.r.Server.GetByID(ctx, id); err == nil && s != nil {
			res.Observed = fromHcloud(s, h.names(ctx, s))
		}
		// The network or firewall the server joined or left changed too.
		if k, name := KindNetwork, a.Network; name != "" || a.Firewall != "" {
			if name == "" {
				k, name = KindFirewall, a.Firewall
			}
			if r, err := h.Resource(ctx, k, name); err == nil {
				res.Resource = r
			}
		}
	}
	return res, nil
}

// createOpts resolves the names a create action refers to.
func (h *Hetzner) createOpts(ctx context.Context, a Action, extra map[string]string) (hcloud.ServerCreateOpts, error) {
	opts := hcloud.ServerCreateOpts{
		Name:             a.Server,
		ServerType:       &hcloud.ServerType{Name: a.ServerType},
		Image:            &hcloud.Image{Name: a.Image},
		UserData:         a.UserData,
		StartAfterCreate: a.StartAfterCreate,
		Labels:           mergeLabels(a.Labels, extra),
	}
	if a.Location != "" {
		opts.Location = &hcloud.Location{Name: a.Location}
	}
	if a.PublicNet != nil {
		opts.PublicNet = &hcloud.ServerCreatePublicNet{EnableIPv4: a.PublicNet.IPv4, EnableIPv6: a.PublicNet.IPv6}
	}
	for _, name := range a.SSHKeys {
		k, _, err := h.r.SSHKey.GetByName(ctx, name)
		if err != nil {
			return opts, fmt.Errorf("ssh key %q: %w", name, err)
		}
		if k == nil {
			return opts, fmt.Errorf("ssh key %q: %w", name, ErrNotFound)
		}
		opts.SSHKeys = append(opts.SSHKeys, k)
	}
	for _, name := range a.Firewalls {
		f, _, err := h.r.Firewall.GetByName(ctx, name)
		if err != nil {
			return opts, fmt.Errorf("firewall %q: %w", name, err)
		}
		if f == nil {
			return opts, fmt.Errorf("firewall %q: %w", name, ErrNotFound)
		}
		opts.Firewalls = append(opts.Firewalls, &hcloud.ServerCreateFirewall{Firewall: *f})
	}
	for _, name := range a.Networks {
		n, _, err := h.r.Network.GetByName(ctx, name)
		if err != nil {
			return opts, fmt.Errorf("network %q: %w", name, err)
		}
		if n == nil {
			return opts, fmt.Errorf("network %q: %w", name, ErrNotFound)
		}
		opts.Networks = append(opts.Networks, n)
	}
	return opts, nil
}

// create sends the create request.
func (h *Hetzner) create(ctx context.Context, opts hcloud.ServerCreateOpts) (int64, []*hcloud.Action, error) {
	var res hcloud.ServerCreateResult
	err := h.write(ctx, func() (*hcloud.Response, error) {
		var resp *hcloud.Response
		var err error
		res, resp, err = h.w.Server.Create(ctx, opts)
		return resp, err
	})
	if err != nil {
		return 0, nil, err
	}
	if res.Server == nil || res.Action == nil {
		return 0, nil, errors.New("create response without server or action")
	}
	return res.Server.ID, append([]*hcloud.Action{res.Action}, res.NextActions...), nil
}

// change performs every op but create on s. image is the id of the image
// create_image made.
func (h *Hetzner) change(ctx context.Context, s *hcloud.Server, a Action, extra map[string]string) (actions []*hcloud.Action, image int64, err error) {
	var act *hcloud.Action
	one := func(f func() (*hcloud.Action, *hcloud.Response, error)) func() (*hcloud.Response, error) {
		return func() (*hcloud.Response, error) {
			var resp *hcloud.Response
			var err error
			act, resp, err = f()
			return resp, err
		}
	}
	var call func() (*hcloud.Response, error)
	switch a.Op {
	case OpDelete:
		call = func() (*hcloud.Response, error) {
			r, resp, err := h.w.Server.DeleteWithResult(ctx, s)
			if r != nil {
				act = r.Action
			}
			return resp, err
		}
	case OpPoweron:
		call = one(func() (*hcloud.Action, *hcloud.Response, error) { return h.w.Server.Poweron(ctx, s) })
	case OpPoweroff:
		call = one(func() (*hcloud.Action, *hcloud.Response, error) { return h.w.Server.Poweroff(ctx, s) })
	case OpShutdown:
		call = one(func() (*hcloud.Action, *hcloud.Response, error) { return h.w.Server.Shutdown(ctx, s) })
	case OpReboot:
		call = one(func() (*hcloud.Action, *hcloud.Response, error) { return h.w.Server.Reboot(ctx, s) })
	case OpReset:
		call = one(func() (*hcloud.Action, *hcloud.Response, error) { return h.w.Server.Reset(ctx, s) })
	case OpRebuild:
		call = func() (*hcloud.Response, error) {
			r, resp, err := h.w.Server.RebuildWithResult(ctx, s, hcloud.ServerRebuildOpts{Image: &hcloud.Image{Name: a.Image}})
			act = r.Action
			return resp, err
		}
	case OpResize:
		call = one(func() (*hcloud.Action, *hcloud.Response, error) {
			return h.w.Server.ChangeType(ctx, s, hcloud.ServerChangeTypeOpts{
				ServerType: &hcloud.ServerType{Name: a.ServerType}, UpgradeDisk: a.UpgradeDisk,
			})
		})
	case OpProtect:
		call = one(func() (*hcloud.Action, *hcloud.Response, error) {
			return h.w.Server.ChangeProtection(ctx, s, hcloud.ServerChangeProtectionOpts{Delete: a.Delete, Rebuild: a.Rebuild})
		})
	case OpLabel:
		labels := map[string]string{}
		for k, v := range s.Labels {
			if k == LabelLedger || k == LabelPlan {
				labels[k] = v
			}
		}
		maps.Copy(labels, mergeLabels(a.Labels, extra))
		call = func() (*hcloud.Response, error) {
			_, resp, err := h.w.Server.Update(ctx, s, hcloud.ServerUpdateOpts{Labels: labels})
			return resp, err
		}
	case OpRename:
		call = func() (*hcloud.Response, error) {
			_, resp, err := h.w.Server.Update(ctx, s, hcloud.ServerUpdateOpts{Name: a.NewName})
			return resp, err
		}
	default:
		call, err = h.changeExt(ctx, s, a, extra, &act, &actions, &image)
		if err != nil {
			return nil, 0, err
		}
	}
	if err := h.write(ctx, call); err != nil {
		return nil, 0, err
	}
	if act != nil {
		actions = append(actions, act)
	}
	return actions, image, nil
}

// write sends one change. hcloud-go's own retries are off for changes: it
// also retries network timeouts, which for a change could mean doing it
// twice. write retries only refusals that say the request was not carried
// out: locked (another action is running), rate_limit_exceeded and conflict.
func (h *Hetzner) write(ctx context.Context, call func() (*hcloud.Response, error)) error {
	for attempt := 0; ; attempt++ {
		_, err := call()
		if err == nil {
			return nil
		}
		if attempt >= h.retries || !hcloud.IsError(err,
			hcloud.ErrorCodeLocked, hcloud.ErrorCodeRateLimitExceeded, hcloud.ErrorCodeConflict) {
			err = toAPIError(err)
			if attempt > 0 {
				return fmt.Errorf("%w (after %d retries)", err, attempt)
			}
			return err
		}
		t := time.NewTimer(h.backoff(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (gave up retrying: %w)", toAPIError(err), ctx.Err())
		case <-t.C:
		}
	}
}

// errorCode is the API's error code in err, or "".
func errorCode(err error) string {
	var e *APIError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// definite reports whether err proves the change was not carried out.
func definite(err error) bool {
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalidAction) {
		return true
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.StatusCode >= 400 && apiErr.StatusCode < 500
	}
	var argErr hcloud.ArgumentError
	return errors.As(err, &argErr)
}

// toAPIError turns an hcloud-go API error into an *APIError; other errors
// are returned unchanged.
func toAPIError(err error) error {
	var e hcloud.Error
	if !errors.As(err, &e) {
		return err
	}
	out := &APIError{Code: string(e.Code), Message: e.Message}
	if d, ok := e.Details.(hcloud.ErrorDetailsInvalidInput); ok {
		for _, f := range d.Fields {
			out.Details = append(out.Details, f.Name+": "+strings.Join(f.Messages, ", "))
		}
	}
	if resp := e.Response(); resp != nil && resp.Response != nil {
		out.StatusCode = resp.StatusCode
	}
	return out
}

// mergeLabels returns base with extra laid over it, or nil if both are empty.
func mergeLabels(base, extra map[string]string) map[string]string {
	if len(base) == 0 && len(extra) == 0 {
		return nil
	}
	m := make(map[string]string, len(base)+len(extra))
	maps.Copy(m, base)
	maps.Copy(m, extra)
	return m
}

func fromHcloud(s *hcloud.Server, names nameIndex) *Server {
	out := &Server{
		ID:      s.ID,
		Name:    s.Name,
		Status:  string(s.Status),
		Labels:  map[string]string{},
		Created: s.Created.UTC(),
	}
	maps.Copy(out.Labels, s.Labels)
	if s.ServerType != nil {
		out.ServerType = s.ServerType.Name
	}
	if s.Image != nil {
		out.Image = s.Image.Name
		if out.Image == "" {
			out.Image = strconv.FormatInt(s.Image.ID, 10)
		}
	}
	if s.Location != nil {
		out.Location = s.Location.Name
	}
	out.Protection.Delete = s.Protection.Delete
	out.Protection.Rebuild = s.Protection.Rebuild
	if !s.PublicNet.IPv4.IsUnspecified() {
		out.IPv4 = s.PublicNet.IPv4.IP.String()
	}
	if s.PublicNet.IPv6.Network != nil {
		out.IPv6 = s.PublicNet.IPv6.Network.String()
	}
	out.RDNS = s.PublicNet.IPv4.DNSPtr
	out.Backups = s.BackupWindow != ""
	for _, f := range s.PublicNet.Firewalls {
		out.Firewalls = append(out.Firewalls, names.name(KindFirewall, f.Firewall.ID))
	}
	for _, n := range s.PrivateNet {
		pn := PrivateNet{IP: n.IP.String()}
		if n.Network != nil {
			pn.Network = names.name(KindNetwork, n.Network.ID)
		}
		for _, ip := range n.Aliases {
			pn.AliasIPs = append(pn.AliasIPs, ip.String())
		}
		out.PrivateNet = append(out.PrivateNet, pn)
	}
	for _, v := range s.Volumes {
		out.Volumes = append(out.Volumes, names.name(KindVolume, v.ID))
	}
	slices.Sort(out.Firewalls)
	slices.Sort(out.Volumes)
	return out
}

// redact removes the token from err's text. hcloud-go never puts the token in
// an error, so this is a second line of defence; a redacted error keeps
// errors.Is but not errors.As or Unwrap, since the wrapped error would show
// the token again.
func (h *Hetzner) redact(err error) error {
	if err == nil || len(h.token) < minRedactLen || !strings.Contains(err.Error(), h.token) {
		return err
	}
	return &redactedError{msg: strings.ReplaceAll(err.Error(), h.token, "[redacted]"), err: err}
}

// minRedactLen: shorter tokens (only sensible against a sandbox) would match
// ordinary words. Hetzner's tokens are 64 characters.
const minRedactLen = 8

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string        { return e.msg }
func (e *redactedError) Is(target error) bool { return errors.Is(e.err, target) }
