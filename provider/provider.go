// Package provider is what vmc-git does to servers: a small interface, the
// [Action] wire format that plans carry and receipts record, and an
// implementation for Hetzner Cloud on github.com/hetznercloud/hcloud-go/v2
// ([New]).
//
// # Actions
//
// An [Action] is one operation on one server, named by the server's name. It is
// JSON with snake_case keys; empty parameters are omitted, so an action has one
// canonical shape. [Action.Validate] is strict: an action must name a known op,
// a valid server name, every parameter the op requires and no parameter of
// another op. [ParseAction] decodes and validates, rejecting unknown fields.
//
//	{"op":"create","server":"web-1","server_type":"cx22","image":"ubuntu-24.04",
//	 "location":"fsn1","labels":{"role":"web"},"ssh_keys":["ops"]}
//	{"op":"resize","server":"web-1","server_type":"cx32","upgrade_disk":true}
//	{"op":"protect","server":"web-1","delete":true,"rebuild":true}
//
// Parameters per op (everything else is rejected):
//
//	create    server_type, image (required); location, labels, ssh_keys,
//	          firewalls, networks, user_data, public_net, start_after_create
//	delete, poweron, poweroff, shutdown, reboot, reset: none
//	rebuild   image (required)
//	resize    server_type (required); upgrade_disk
//	label     labels (required, at least one)
//	rename    new_name (required)
//	protect   delete and/or rebuild (at least one)
//
// # Other kinds
//
// An action with "kind" (firewall, network, volume, ssh_key, primary_ip,
// floating_ip) targets the resource named by "name"; "server" then names a
// server the action refers to. The ops and their parameters (kinds.go has
// the table; Validate enforces it):
//
//	firewall    create (rules, labels, servers, label_selectors), set_rules (rules;
//	            none: no rules), apply_to, remove_from (servers and/or label_selectors)
//	network     create (ip_range; subnets, routes, labels), add_subnet (subnet),
//	            delete_subnet (ip_range), add_route, delete_route (route), protect (delete)
//	volume      create (size; location or server; format, automount, labels),
//	            attach (server; automount), detach, resize (size), protect (delete)
//	ssh_key     create (public_key; labels)
//	primary_ip  create (type; location or server; auto_delete, labels), assign (server),
//	            unassign, set_rdns (dns_ptr; ip), protect (delete)
//	floating_ip create (type; location or server; description, labels), assign (server),
//	            unassign, set_rdns (dns_ptr; ip), protect (delete)
//	every kind  label (labels), rename (new_name), delete
//
// and the server ops added with them:
//
//	attach_network (network; ip, alias_ips), detach_network (network),
//	attach_firewall, detach_firewall (firewall), enable_backup, disable_backup,
//	create_image (description, labels: a snapshot), set_rdns (dns_ptr, "" resets;
//	ip, default the public IPv4), add_labels (labels), remove_labels (label_keys)
//
//	{"kind":"firewall","op":"create","name":"fw-web","rules":[{"direction":"in",
//	 "protocol":"tcp","port":"443","source_ips":["0.0.0.0/0"]}],"servers":["web-1"]}
//	{"kind":"volume","op":"create","name":"data","size":20,"server":"web-1","automount":true}
//	{"op":"attach_network","server":"web-1","network":"backend","ip":"10.0.1.5"}
//
// Names of the other kinds follow the server name rule and are at most
// MaxResourceNameLen bytes, so that each has a lock name (Ref.Lock: "fw.web",
// "net.backend", "vol.data", "key.ops", "pip.ip1", "fip.vip"). Action.Refs
// lists every resource an action changes: its target and the resources it
// attaches to or detaches from, each of which is locked while it runs.
//
// Server names follow RFC 1123 host names and are stricter than Hetzner's
// rule on purpose: at most 63 characters, lower-case letters, digits, '-' and
// '.', each dot-separated part starting and ending with a letter or digit, and
// not ending in ".lock". A name is used as a lock file name and in the git ref
// refs/vmc/locks/<server>, so it never contains '/', "..", NUL or upper case
// (which would collide on case-insensitive file systems).
//
// Labels follow Hetzner's label rules (see [CheckLabels]). The keys
// [LabelLedger] (vmc.ledger) and [LabelPlan] (vmc.plan) are reserved: an
// action may not set them; the caller of [Provider.Apply] passes them.
//
// # Label semantics
//
// create (of every kind) puts Action.Labels plus the caller's extra labels on
// the new resource; add_labels, remove_labels and create_image (on the
// snapshot) put the extra labels too.
// label replaces the server's whole label set with Action.Labels plus the
// caller's extra labels; reserved vmc.* labels already on the server are kept
// unless the extra labels override them, so a server never loses its
// attribution.
//
// # Results
//
// [Provider.Apply] returns a [Result] whose Status is recorded in receipts:
// succeeded, failed or unknown (see the Status constants). It returns a
// non-nil error only when it knows the provider did not change anything.
package provider

import (
	"context"
	"errors"
	"strings"
	"time"
)

// Labels vmc-git puts on every server it creates.
const (
	// LabelLedger holds the ledger id the server belongs to (see LabelValue).
	LabelLedger = "vmc.ledger"
	// LabelPlan holds the id of the plan that last created or labelled it.
	LabelPlan = "vmc.plan"
)

// Result statuses, as recorded in apply receipts.
const (
	// StatusSucceeded: the provider accepted the request and every action it
	// started (including next actions) finished with success.
	StatusSucceeded = "succeeded"
	// StatusFailed: the request was rejected, or it was accepted and one of its
	// actions finished with an error.
	StatusFailed = "failed"
	// StatusUnknown: the request may have reached the provider but its outcome
	// could not be learned (connection dropped after sending, 5xx response,
	// context ended while waiting). The caller must reconcile later by reading
	// the server.
	StatusUnknown = "unknown"
)

// Errors callers branch on.
var (
	// ErrNotFound: the named server (or a resource an action refers to)
	// does not exist.
	ErrNotFound = errors.New("not found")
	// ErrInvalidAction: the action failed Validate; nothing was sent.
	ErrInvalidAction = errors.New("invalid action")
)

// Server is the observed state of a server, as receipts record it.
type Server struct {
	ID         int64             `json:"id"`
	Name       string            `json:"name"`
	Status     string            `json:"status"`
	ServerType string            `json:"server_type"`
	Image      string            `json:"image"`
	Location   string            `json:"location"`
	Labels     map[string]string `json:"labels"`
	Protection struct {
		Delete  bool `json:"delete"`
		Rebuild bool `json:"rebuild"`
	} `json:"protection"`
	IPv4    string    `json:"ipv4"`
	IPv6    string    `json:"ipv6"`
	Created time.Time `json:"created"`

	// Added with the other kinds; empty values are omitted, so servers
	// recorded before them read the same.
	RDNS       string       `json:"rdns,omitempty"` // reverse DNS of the public IPv4
	Backups    bool         `json:"backups,omitempty"`
	Firewalls  []string     `json:"firewalls,omitempty"`
	PrivateNet []PrivateNet `json:"private_net,omitempty"`
	Volumes    []string     `json:"volumes,omitempty"`
}

// PrivateNet is a server's attachment to a network.
type PrivateNet struct {
	Network  string   `json:"network"`
	IP       string   `json:"ip"`
	AliasIPs []string `json:"alias_ips,omitempty"`
}

// Result is the outcome of one Apply.
type Result struct {
	// Status is StatusSucceeded, StatusFailed or StatusUnknown.
	Status string `json:"status"`
	// ActionIDs are the provider's ids of the action and its next actions, in
	// the order the provider returned them. Empty for ops that start no action
	// (label, rename) and when the request was not accepted.
	ActionIDs []int64 `json:"action_ids,omitempty"`
	// Code is the provider's error code when Status is not succeeded and
	// the provider gave one (e.g. "server_not_stopped", "uniqueness_error",
	// or a failed action's error code).
	Code string `json:"code,omitempty"`
	// Error is a one-line description when Status is not succeeded, with
	// the provider's message. It never contains credentials.
	Error string `json:"error,omitempty"`
	// Observed is the server as read after the actions finished; nil after a
	// delete, and nil when it could not be read. For an action on another
	// kind, it is the server the action attached the resource to or
	// detached it from (volumes, IPs), if any.
	Observed *Server `json:"observed,omitempty"`
	// Resource is, for an action on another kind, the resource as read
	// after the actions finished (nil as for Observed); for a server op that
	// attaches or detaches a network or firewall, that network or firewall.
	Resource *Resource `json:"resource,omitempty"`
	// ImageID is the id of the image a create_image action made.
	ImageID int64 `json:"image_id,omitempty"`
}

// Provider is what vmc-git does to servers.
//
// Implementations must be safe for concurrent use and must never include
// credentials in errors or results.
type Provider interface {
	// Server returns the server with exactly this name, or an error wrapping
	// ErrNotFound.
	Server(ctx context.Context, name string) (*Server, error)

	// Servers returns every server matching the label selector (all servers
	// if it is empty), across all pages, ordered by id. The selector syntax
	// is Hetzner's: k, !k, k=v, k==v, k!=v, k in (a,b), k notin (a,b), joined
	// by commas.
	Servers(ctx context.Context, labelSelector string) ([]Server, error)

	// Apply validates a, performs it and waits until the action and all its
	// next actions have finished (or ctx ends). labels are extra labels for
	// the ops that set labels (see the package doc; normally LabelLedger and
	// LabelPlan); they must be valid labels and are ignored by other ops.
	//
	// The contract:
	//   - err != nil: nothing was changed at the provider and the caller can
	//     rely on that: a is invalid (ErrInvalidAction), the target does not
	//     exist (ErrNotFound), the provider rejected the request with a
	//     definite error (*APIError, e.g. uniqueness_error, protected), or ctx
	//     ended before the request was sent. Result.Status is then
	//     StatusFailed and Result.Error is err's text.
	//   - err == nil: the request may have been accepted; Result.Status says
	//     how it ended. StatusFailed with Error when an action ended in error,
	//     StatusUnknown when the outcome could not be learned.
	//
	// Transient refusals (locked, rate_limit_exceeded, conflict) are retried
	// with backoff before any of the above is decided.
	Apply(ctx context.Context, a Action, labels map[string]string) (Result, error)

	// Resource returns the resource of kind k (not KindServer) with exactly
	// this name, or an error wrapping ErrNotFound.
	Resource(ctx context.Context, k Kind, name string) (*Resource, error)

	// Resources returns every resource of kind k (not KindServer) matching
	// the label selector, ordered by id.
	Resources(ctx context.Context, k Kind, labelSelector string) ([]Resource, error)
}

// APIError is a definite error response from the provider's API.
type APIError struct {
	// Code is the API's error code, e.g. "uniqueness_error", "locked".
	Code string
	// Message is the API's human-readable message.
	Message string
	// Details are per-field messages of an invalid_input error, "field: msg".
	Details []string
	// StatusCode is the HTTP status of the response. 4xx means the request
	// was refused and nothing changed; 5xx leaves the outcome unknown.
	StatusCode int
}

func (e *APIError) Error() string {
	msg := e.Message + " (" + e.Code + ")"
	if len(e.Details) > 0 {
		msg += ": " + strings.Join(e.Details, "; ")
	}
	return msg
}
