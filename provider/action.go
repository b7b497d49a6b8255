package provider

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/vmc-git/vmc-git/internal/lock"
)

// Op names one kind of Action.
type Op string

// The ops an Action can carry.
const (
	OpCreate   Op = "create"
	OpDelete   Op = "delete"
	OpPoweron  Op = "poweron"
	OpPoweroff Op = "poweroff"
	OpShutdown Op = "shutdown"
	OpReboot   Op = "reboot"
	OpReset    Op = "reset"
	OpRebuild  Op = "rebuild"
	OpResize   Op = "resize"
	OpLabel    Op = "label"
	OpRename   Op = "rename"
	OpProtect  Op = "protect"
)

// Ops lists every op, in a stable order.
var Ops = []Op{OpCreate, OpDelete, OpPoweron, OpPoweroff, OpShutdown, OpReboot, OpReset,
	OpRebuild, OpResize, OpLabel, OpRename, OpProtect}

// Limits from Hetzner's API rules.
const (
	MaxServerNameLen = lock.MaxServerNameLen
	MaxLabelNameLen  = 63  // the name part of a label key
	MaxLabelPrefix   = 253 // the DNS-subdomain prefix of a label key
	MaxLabelValueLen = 63
	MaxUserDataLen   = 32 << 10 // Hetzner accepts at most 32 KiB of user data
)

// PublicNet selects the public interfaces of a created server.
type PublicNet struct {
	IPv4 bool `json:"ipv4"`
	IPv6 bool `json:"ipv6"`
}

// Action is one operation on one server. See the package doc for which
// parameters belong to which op.
type Action struct {
	Op Op `json:"op"`
	// Kind is the kind of resource the action targets; empty for a server.
	Kind Kind `json:"kind,omitempty"`
	// Name names the target of a non-server action (Kind set).
	Name string `json:"name,omitempty"`
	// Server names the target of a server action (Kind empty), or, for
	// another kind, the server the action refers to (a volume's or an IP's).
	Server string `json:"server,omitempty"`

	ServerType       string            `json:"server_type,omitempty"`
	Image            string            `json:"image,omitempty"`
	Location         string            `json:"location,omitempty"`
	Labels           map[string]string `json:"labels,omitempty"`
	SSHKeys          []string          `json:"ssh_keys,omitempty"`
	Firewalls        []string          `json:"firewalls,omitempty"`
	Networks         []string          `json:"networks,omitempty"`
	UserData         string            `json:"user_data,omitempty"`
	PublicNet        *PublicNet        `json:"public_net,omitempty"`
	StartAfterCreate *bool             `json:"start_after_create,omitempty"`
	UpgradeDisk      bool              `json:"upgrade_disk,omitempty"`
	NewName          string            `json:"new_name,omitempty"`
	Delete           *bool             `json:"delete,omitempty"`
	Rebuild          *bool             `json:"rebuild,omitempty"`

	// Parameters of the other kinds and of the server ops added with them;
	// see kinds.go.
	Firewall       string         `json:"firewall,omitempty"`
	Network        string         `json:"network,omitempty"`
	Rules          []FirewallRule `json:"rules,omitempty"`
	Servers        []string       `json:"servers,omitempty"`
	LabelSelectors []string       `json:"label_selectors,omitempty"`
	IPRange        string         `json:"ip_range,omitempty"`
	Subnets        []Subnet       `json:"subnets,omitempty"`
	Routes         []Route        `json:"routes,omitempty"`
	Subnet         *Subnet        `json:"subnet,omitempty"`
	Route          *Route         `json:"route,omitempty"`
	IP             string         `json:"ip,omitempty"`
	AliasIPs       []string       `json:"alias_ips,omitempty"`
	Size           int            `json:"size,omitempty"`
	Format         string         `json:"format,omitempty"`
	Automount      *bool          `json:"automount,omitempty"`
	PublicKey      string         `json:"public_key,omitempty"`
	Type           string         `json:"type,omitempty"`
	AutoDelete     *bool          `json:"auto_delete,omitempty"`
	Description    string         `json:"description,omitempty"`
	DNSPtr         *string        `json:"dns_ptr,omitempty"`
	LabelKeys      []string       `json:"label_keys,omitempty"`
}

// param names, as in the JSON encoding.
const (
	pServerType       = "server_type"
	pImage            = "image"
	pLocation         = "location"
	pLabels           = "labels"
	pSSHKeys          = "ssh_keys"
	pFirewalls        = "firewalls"
	pNetworks         = "networks"
	pUserData         = "user_data"
	pPublicNet        = "public_net"
	pStartAfterCreate = "start_after_create"
	pUpgradeDisk      = "upgrade_disk"
	pNewName          = "new_name"
	pDelete           = "delete"
	pRebuild          = "rebuild"
)

// allowed lists the parameters each op accepts.
var allowed = map[Op][]string{
	OpCreate: {pServerType, pImage, pLocation, pLabels, pSSHKeys, pFirewalls, pNetworks,
		pUserData, pPublicNet, pStartAfterCreate},
	OpDelete:   nil,
	OpPoweron:  nil,
	OpPoweroff: nil,
	OpShutdown: nil,
	OpReboot:   nil,
	OpReset:    nil,
	OpRebuild:  {pImage},
	OpResize:   {pServerType, pUpgradeDisk},
	OpLabel:    {pLabels},
	OpRename:   {pNewName},
	OpProtect:  {pDelete, pRebuild},
}

// present returns the parameters a sets, in a stable order.
func (a Action) present() []string {
	var p []string
	add := func(name string, set bool) {
		if set {
			p = append(p, name)
		}
	}
	add(pServerType, a.ServerType != "")
	add(pImage, a.Image != "")
	add(pLocation, a.Location != "")
	add(pLabels, a.Labels != nil)
	add(pSSHKeys, a.SSHKeys != nil)
	add(pFirewalls, a.Firewalls != nil)
	add(pNetworks, a.Networks != nil)
	add(pUserData, a.UserData != "")
	add(pPublicNet, a.PublicNet != nil)
	add(pStartAfterCreate, a.StartAfterCreate != nil)
	add(pUpgradeDisk, a.UpgradeDisk)
	add(pNewName, a.NewName != "")
	add(pDelete, a.Delete != nil)
	add(pRebuild, a.Rebuild != nil)
	return append(p, a.presentExt()...)
}

// Validate reports whether a is a well-formed action: a known op, a valid
// server name, every required parameter of the op, no parameter of another
// op, and valid values. Errors wrap ErrInvalidAction.
func (a Action) Validate() error {
	if err := a.validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidAction, err)
	}
	return nil
}

func (a Action) validate() error {
	if a.Kind != "" || slices.Contains(serverExtOps, a.Op) {
		return a.validateExt()
	}
	if a.Name != "" {
		return fmt.Errorf("%s: name is only for actions with a kind (the server is named by \"server\")", a.Op)
	}
	ok, known := allowed[a.Op]
	if !known {
		return fmt.Errorf("unknown op %s", quote(string(a.Op)))
	}
	if err := CheckServerName(a.Server); err != nil {
		return fmt.Errorf("%s: server: %w", a.Op, err)
	}
	for _, p := range a.present() {
		if !slices.Contains(ok, p) {
			return fmt.Errorf("%s: parameter %s does not belong to this op", a.Op, p)
		}
	}
	required := func(name string, set bool) error {
		if !set {
			return fmt.Errorf("%s: missing required parameter %s", a.Op, name)
		}
		return nil
	}
	var err error
	switch a.Op {
	case OpCreate:
		err = errors.Join(required(pServerType, a.ServerType != ""), required(pImage, a.Image != ""))
		if err != nil {
			return err
		}
		if err := checkRef(pServerType, a.ServerType); err != nil {
			return fmt.Errorf("%s: %w", a.Op, err)
		}
		if err := checkRef(pImage, a.Image); err != nil {
			return fmt.Errorf("%s: %w", a.Op, err)
		}
		if a.Location != "" {
			if err := checkRef(pLocation, a.Location); err != nil {
				return fmt.Errorf("%s: %w", a.Op, err)
			}
		}
		if a.Labels != nil {
			if err := checkActionLabels(a.Labels); err != nil {
				return fmt.Errorf("%s: %w", a.Op, err)
			}
		}
		for _, l := range []struct {
			name  string
			items []string
		}{{pSSHKeys, a.SSHKeys}, {pFirewalls, a.Firewalls}, {pNetworks, a.Networks}} {
			if err := checkRefList(l.name, l.items); err != nil {
				return fmt.Errorf("%s: %w", a.Op, err)
			}
		}
		if len(a.UserData) > MaxUserDataLen {
			return fmt.Errorf("%s: user_data is %d bytes, more than %d", a.Op, len(a.UserData), MaxUserDataLen)
		}
		if strings.IndexByte(a.UserData, 0) >= 0 {
			return fmt.Errorf("%s: user_data contains NUL", a.Op)
		}
		if a.PublicNet != nil && !a.PublicNet.IPv4 && !a.PublicNet.IPv6 && len(a.Networks) == 0 {
			return fmt.Errorf("%s: public_net disables both IPv4 and IPv6 and no networks are given: the server would be unreachable", a.Op)
		}
	case OpRebuild:
		if err := required(pImage, a.Image != ""); err != nil {
			return err
		}
		if err := checkRef(pImage, a.Image); err != nil {
			return fmt.Errorf("%s: %w", a.Op, err)
		}
	case OpResize:
		if err := required(pServerType, a.ServerType != ""); err != nil {
			return err
		}
		if err := checkRef(pServerType, a.ServerType); err != nil {
			return fmt.Errorf("%s: %w", a.Op, err)
		}
	case OpLabel:
		if len(a.Labels) == 0 {
			return fmt.Errorf("%s: missing required parameter labels (at least one label)", a.Op)
		}
		if err := checkActionLabels(a.Labels); err != nil {
			return fmt.Errorf("%s: %w", a.Op, err)
		}
	case OpRename:
		if err := required(pNewName, a.NewName != ""); err != nil {
			return err
		}
		if err := CheckServerName(a.NewName); err != nil {
			return fmt.Errorf("%s: new_name: %w", a.Op, err)
		}
		if a.NewName == a.Server {
			return fmt.Errorf("%s: new_name equals server name %s", a.Op, quote(a.Server))
		}
	case OpProtect:
		if a.Delete == nil && a.Rebuild == nil {
			return fmt.Errorf("%s: missing required parameter delete or rebuild", a.Op)
		}
	}
	return nil
}

// ParseAction decodes one JSON action strictly (unknown fields, trailing data
// and duplicate keys are errors) and validates it.
func ParseAction(data []byte) (Action, error) {
	if err := checkDuplicateKeys(data); err != nil {
		return Action{}, fmt.Errorf("%w: %w", ErrInvalidAction, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var a Action
	if err := dec.Decode(&a); err != nil {
		return Action{}, fmt.Errorf("%w: decode: %w", ErrInvalidAction, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Action{}, fmt.Errorf("%w: trailing data after action", ErrInvalidAction)
	}
	if err := a.Validate(); err != nil {
		return Action{}, err
	}
	return a, nil
}

// ParseActions decodes a JSON list of actions, each as ParseAction does
// (the format of `vmc-git plan file` and of a plan's actions). An empty
// list is an error: a plan changes something.
func ParseActions(data []byte) ([]Action, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("want a JSON list of actions: %w", err)
	}
	var acts []Action
	for i, r := range raw {
		a, err := ParseAction(r)
		if err != nil {
			return nil, fmt.Errorf("action %d: %w", i, err)
		}
		acts = append(acts, a)
	}
	if len(acts) == 0 {
		return nil, errors.New("no actions")
	}
	return acts, nil
}

// ParseRules decodes a JSON list of firewall rules strictly (unknown fields
// are errors). It does not check the rules: Action.Validate does.
func ParseRules(data []byte) ([]FirewallRule, error) {
	var rules []FirewallRule
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rules); err != nil {
		return nil, err
	}
	return rules, nil
}

// checkDuplicateKeys rejects duplicate object keys at the top level and in
// nested objects: encoding/json silently keeps the last one, which would let
// two readers of the same plan disagree.
func checkDuplicateKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	var walk func() error
	walk = func() error {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		d, ok := t.(json.Delim)
		if !ok {
			return nil
		}
		switch d {
		case '{':
			seen := map[string]bool{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				key, _ := k.(string)
				if seen[key] {
					return fmt.Errorf("duplicate key %s", quote(key))
				}
				seen[key] = true
				if err := walk(); err != nil {
					return err
				}
			}
		case '[':
			for dec.More() {
				if err := walk(); err != nil {
					return err
				}
			}
		}
		_, err = dec.Token() // closing delimiter
		return err
	}
	if err := walk(); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	return nil
}

// CheckServerName reports whether name is a server name vmc-git can manage
// (see the package doc): the rule lives beside the lock names it protects,
// in internal/lock.
func CheckServerName(name string) error { return lock.CheckServerName(name) }

// CheckLabels reports whether every key and value follows Hetzner's label
// rules:
//
//   - key: an optional prefix and a name, separated by '/'. The name is 1 to 63
//     characters, starts and ends with [a-zA-Z0-9] and has only [a-zA-Z0-9],
//     '-', '_', '.' in between. The prefix is a DNS subdomain (dot-separated
//     parts of [a-z0-9-] starting and ending with a letter or digit) of at
//     most 253 characters. The prefix "hetzner.cloud" is reserved.
//   - value: empty, or 1 to 63 characters with the same rule as a key name.
//
// Errors name the first offending key in sorted order.
func CheckLabels(labels map[string]string) error {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := CheckLabelKey(k); err != nil {
			return err
		}
		if err := CheckLabelValue(labels[k]); err != nil {
			return fmt.Errorf("label %s: %w", quote(k), err)
		}
	}
	return nil
}

// CheckLabelKey checks one label key; see CheckLabels.
func CheckLabelKey(key string) error {
	prefix, name, hasPrefix := strings.Cut(key, "/")
	if hasPrefix {
		if err := checkDNSSubdomain(prefix); err != nil {
			return fmt.Errorf("label key %s: prefix: %w", quote(key), err)
		}
		if prefix == "hetzner.cloud" || strings.HasSuffix(prefix, ".hetzner.cloud") {
			return fmt.Errorf("label key %s: prefix %s is reserved by Hetzner", quote(key), quote(prefix))
		}
	} else {
		name = prefix
	}
	if name == "" {
		return fmt.Errorf("label key %s: empty name", quote(key))
	}
	if err := checkLabelToken(name); err != nil {
		return fmt.Errorf("label key %s: %w", quote(key), err)
	}
	return nil
}

// CheckLabelValue checks one label value; see CheckLabels.
func CheckLabelValue(v string) error {
	if v == "" {
		return nil
	}
	if err := checkLabelToken(v); err != nil {
		return fmt.Errorf("value %s: %w", quote(v), err)
	}
	return nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// checkLabelToken checks a label name or a non-empty value.
func checkLabelToken(s string) error {
	if len(s) > MaxLabelNameLen {
		return fmt.Errorf("%d characters, more than %d", len(s), MaxLabelNameLen)
	}
	if !isAlnum(s[0]) || !isAlnum(s[len(s)-1]) {
		return errors.New("must start and end with [a-zA-Z0-9]")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '-' && c != '_' && c != '.' {
			return fmt.Errorf("invalid character %q (allowed: a-z, A-Z, 0-9, '-', '_', '.')", c)
		}
	}
	return nil
}

func checkDNSSubdomain(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	if len(s) > MaxLabelPrefix {
		return fmt.Errorf("%d characters, more than %d", len(s), MaxLabelPrefix)
	}
	for part := range strings.SplitSeq(s, ".") {
		if part == "" || len(part) > 63 {
			return fmt.Errorf("part %s must be 1 to 63 characters", quote(part))
		}
		if part[0] == '-' || part[len(part)-1] == '-' {
			return fmt.Errorf("part %s starts or ends with '-'", quote(part))
		}
		for i := 0; i < len(part); i++ {
			if c := part[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("invalid character %q (allowed: a-z, 0-9, '-', '.')", c)
			}
		}
	}
	return nil
}

// checkActionLabels applies CheckLabels and refuses the reserved keys.
func checkActionLabels(labels map[string]string) error {
	if err := CheckLabels(labels); err != nil {
		return fmt.Errorf("labels: %w", err)
	}
	for _, k := range []string{LabelLedger, LabelPlan} {
		if _, ok := labels[k]; ok {
			return fmt.Errorf("labels: key %s is reserved for vmc-git", k)
		}
	}
	return nil
}

// checkRef checks a reference to a catalogue item (server type, image,
// location, ssh key, firewall, network) by name: non-empty, printable ASCII
// without spaces, at most 128 bytes.
func checkRef(param, s string) error {
	if s == "" {
		return fmt.Errorf("%s: empty", param)
	}
	if len(s) > 128 {
		return fmt.Errorf("%s: %d bytes, more than 128", param, len(s))
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f {
			return fmt.Errorf("%s %s: invalid character %q", param, quote(s), c)
		}
	}
	return nil
}

func checkRefList(param string, items []string) error {
	if items != nil && len(items) == 0 {
		return fmt.Errorf("%s: empty list (omit the parameter instead)", param)
	}
	seen := map[string]bool{}
	for _, s := range items {
		if err := checkRef(param, s); err != nil {
			return err
		}
		if seen[s] {
			return fmt.Errorf("%s: duplicate %s", param, quote(s))
		}
		seen[s] = true
	}
	return nil
}

// quote quotes s for an error message, cut to 64 bytes.
func quote(s string) string {
	if len(s) > 64 {
		return fmt.Sprintf("%q...", s[:64])
	}
	return fmt.Sprintf("%q", s)
}

// LabelValue maps s to a valid label value: every character outside
// [a-zA-Z0-9._-] becomes '_', leading and trailing non-alphanumerics are
// dropped and the result is cut to 63 characters. It is lossy; use it for
// values such as a ledger id ("github.com/acme/infra" becomes
// "github.com_acme_infra") and compare values only after mapping both sides.
func LabelValue(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !isAlnum(c) && c != '-' && c != '_' && c != '.' {
			b[i] = '_'
		}
	}
	if len(b) > MaxLabelValueLen {
		b = b[:MaxLabelValueLen]
	}
	for len(b) > 0 && !isAlnum(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && !isAlnum(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return string(b)
}
