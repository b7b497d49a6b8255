package provider

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
)

// Kind names a kind of resource an Action can target. The empty Kind is a
// server, so that server actions keep their original encoding.
type Kind string

// The kinds of resources vmc-git manages.
const (
	KindServer     Kind = ""
	KindFirewall   Kind = "firewall"
	KindNetwork    Kind = "network"
	KindVolume     Kind = "volume"
	KindSSHKey     Kind = "ssh_key"
	KindPrimaryIP  Kind = "primary_ip"
	KindFloatingIP Kind = "floating_ip"
)

// Kinds lists every kind other than servers, in a stable order.
var Kinds = []Kind{KindFirewall, KindNetwork, KindVolume, KindSSHKey, KindPrimaryIP, KindFloatingIP}

// String returns the kind's name; "server" for KindServer.
func (k Kind) String() string {
	if k == KindServer {
		return "server"
	}
	return string(k)
}

// ParseKind maps a kind's name ("server", "firewall", "ssh-key" or
// "ssh_key", "ip" is not a kind) to a Kind.
func ParseKind(s string) (Kind, error) {
	s = strings.ReplaceAll(s, "-", "_")
	if s == "server" {
		return KindServer, nil
	}
	if slices.Contains(Kinds, Kind(s)) {
		return Kind(s), nil
	}
	return "", fmt.Errorf("unknown resource kind %s (want server, %s)", quote(s), joinKinds())
}

func joinKinds() string {
	var s []string
	for _, k := range Kinds {
		s = append(s, string(k))
	}
	return strings.Join(s, ", ")
}

// lockPrefix is the lock-name prefix of each non-server kind; see Ref.Lock.
var lockPrefix = map[Kind]string{
	KindFirewall: "fw", KindNetwork: "net", KindVolume: "vol",
	KindSSHKey: "key", KindPrimaryIP: "pip", KindFloatingIP: "fip",
}

// MaxResourceNameLen bounds the name of a resource other than a server, so
// that its lock name (prefix, '.', name) is at most MaxServerNameLen.
const MaxResourceNameLen = MaxServerNameLen - 4

// The ops added with the other kinds. Ops shared by several kinds (create,
// delete, label, rename, protect, resize) keep their server names.
const (
	// Server ops beyond the original ones.
	OpAttachNetwork  Op = "attach_network"
	OpDetachNetwork  Op = "detach_network"
	OpAttachFirewall Op = "attach_firewall"
	OpDetachFirewall Op = "detach_firewall"
	OpEnableBackup   Op = "enable_backup"
	OpDisableBackup  Op = "disable_backup"
	OpCreateImage    Op = "create_image"
	OpSetRDNS        Op = "set_rdns"
	OpAddLabels      Op = "add_labels"
	OpRemoveLabels   Op = "remove_labels"
	// Firewalls.
	OpSetRules   Op = "set_rules"
	OpApplyTo    Op = "apply_to"
	OpRemoveFrom Op = "remove_from"
	// Networks.
	OpAddSubnet    Op = "add_subnet"
	OpDeleteSubnet Op = "delete_subnet"
	OpAddRoute     Op = "add_route"
	OpDeleteRoute  Op = "delete_route"
	// Volumes and IPs.
	OpAttach   Op = "attach"
	OpDetach   Op = "detach"
	OpAssign   Op = "assign"
	OpUnassign Op = "unassign"
)

// serverExtOps are the server ops validated by validateExt.
var serverExtOps = []Op{OpAttachNetwork, OpDetachNetwork, OpAttachFirewall, OpDetachFirewall,
	OpEnableBackup, OpDisableBackup, OpCreateImage, OpSetRDNS, OpAddLabels, OpRemoveLabels}

// Parameter names of the other kinds, as in the JSON encoding.
const (
	pName           = "name"
	pServer         = "server"
	pFirewall       = "firewall"
	pNetwork        = "network"
	pRules          = "rules"
	pServers        = "servers"
	pLabelSelectors = "label_selectors"
	pIPRange        = "ip_range"
	pSubnets        = "subnets"
	pRoutes         = "routes"
	pSubnet         = "subnet"
	pRoute          = "route"
	pIP             = "ip"
	pAliasIPs       = "alias_ips"
	pSize           = "size"
	pFormat         = "format"
	pAutomount      = "automount"
	pPublicKey      = "public_key"
	pType           = "type"
	pAutoDelete     = "auto_delete"
	pDescription    = "description"
	pDNSPtr         = "dns_ptr"
	pLabelKeys      = "label_keys"
)

// Limits of the other kinds, from Hetzner's API rules.
const (
	MaxFirewallRules  = 50    // rules per firewall
	MinVolumeSize     = 10    // GB
	MaxVolumeSize     = 10240 // GB
	MaxPublicKeyLen   = 8192
	MaxDescriptionLen = 255
	MaxDNSPtrLen      = 255
	maxListLen        = 100 // servers, selectors, subnets, routes, alias IPs, label keys
)

// Firewall rule values.
const (
	DirectionIn  = "in"
	DirectionOut = "out"
)

// FirewallRule is one firewall rule, in Hetzner's terms. Port is required for
// tcp and udp ("80", "8000-8100" or "any") and absent otherwise; source_ips
// (direction in) or destination_ips (direction out) lists CIDRs.
type FirewallRule struct {
	Direction      string   `json:"direction"`
	Protocol       string   `json:"protocol"`
	Port           string   `json:"port,omitempty"`
	SourceIPs      []string `json:"source_ips,omitempty"`
	DestinationIPs []string `json:"destination_ips,omitempty"`
	Description    string   `json:"description,omitempty"`
}

// Subnet is a network's subnet. Type is cloud (default), server or vswitch.
type Subnet struct {
	Type        string `json:"type,omitempty"`
	IPRange     string `json:"ip_range"`
	NetworkZone string `json:"network_zone"`
	VSwitchID   int64  `json:"vswitch_id,omitempty"`
}

// Route is a network route.
type Route struct {
	Destination string `json:"destination"`
	Gateway     string `json:"gateway"`
}

// kindOp keys the parameter table of the other kinds.
type kindOp struct {
	k  Kind
	op Op
}

// allowedExt lists the parameters each op of the other kinds accepts.
var allowedExt = map[kindOp][]string{
	{KindServer, OpAttachNetwork}:  {pNetwork, pIP, pAliasIPs},
	{KindServer, OpDetachNetwork}:  {pNetwork},
	{KindServer, OpAttachFirewall}: {pFirewall},
	{KindServer, OpDetachFirewall}: {pFirewall},
	{KindServer, OpEnableBackup}:   nil,
	{KindServer, OpDisableBackup}:  nil,
	{KindServer, OpCreateImage}:    {pDescription, pLabels},
	{KindServer, OpSetRDNS}:        {pIP, pDNSPtr},
	{KindServer, OpAddLabels}:      {pLabels},
	{KindServer, OpRemoveLabels}:   {pLabelKeys},

	{KindFirewall, OpCreate}:     {pRules, pLabels, pServers, pLabelSelectors},
	{KindFirewall, OpSetRules}:   {pRules},
	{KindFirewall, OpApplyTo}:    {pServers, pLabelSelectors},
	{KindFirewall, OpRemoveFrom}: {pServers, pLabelSelectors},

	{KindNetwork, OpCreate}:       {pIPRange, pSubnets, pRoutes, pLabels},
	{KindNetwork, OpAddSubnet}:    {pSubnet},
	{KindNetwork, OpDeleteSubnet}: {pIPRange},
	{KindNetwork, OpAddRoute}:     {pRoute},
	{KindNetwork, OpDeleteRoute}:  {pRoute},
	{KindNetwork, OpProtect}:      {pDelete},

	{KindVolume, OpCreate}:  {pSize, pLocation, pServer, pFormat, pAutomount, pLabels},
	{KindVolume, OpAttach}:  {pServer, pAutomount},
	{KindVolume, OpDetach}:  nil,
	{KindVolume, OpResize}:  {pSize},
	{KindVolume, OpProtect}: {pDelete},

	{KindSSHKey, OpCreate}: {pPublicKey, pLabels},

	{KindPrimaryIP, OpCreate}:   {pType, pLocation, pServer, pAutoDelete, pLabels},
	{KindPrimaryIP, OpAssign}:   {pServer},
	{KindPrimaryIP, OpUnassign}: nil,
	{KindPrimaryIP, OpSetRDNS}:  {pIP, pDNSPtr},
	{KindPrimaryIP, OpProtect}:  {pDelete},

	{KindFloatingIP, OpCreate}:   {pType, pLocation, pServer, pDescription, pLabels},
	{KindFloatingIP, OpAssign}:   {pServer},
	{KindFloatingIP, OpUnassign}: nil,
	{KindFloatingIP, OpSetRDNS}:  {pIP, pDNSPtr},
	{KindFloatingIP, OpProtect}:  {pDelete},
}

func init() {
	// Every other kind can be deleted, relabelled and renamed.
	for _, k := range Kinds {
		allowedExt[kindOp{k, OpDelete}] = nil
		allowedExt[kindOp{k, OpLabel}] = []string{pLabels}
		allowedExt[kindOp{k, OpRename}] = []string{pNewName}
	}
}

// OpsOf lists the ops of a kind, sorted.
func OpsOf(k Kind) []Op {
	var out []Op
	if k == KindServer {
		out = append(out, Ops...)
	}
	for ko := range allowedExt {
		if ko.k == k {
			out = append(out, ko.op)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// presentExt returns the parameters of the other kinds a sets.
func (a Action) presentExt() []string {
	var p []string
	add := func(name string, set bool) {
		if set {
			p = append(p, name)
		}
	}
	add(pServer, a.Kind != KindServer && a.Server != "")
	add(pFirewall, a.Firewall != "")
	add(pNetwork, a.Network != "")
	add(pRules, a.Rules != nil)
	add(pServers, a.Servers != nil)
	add(pLabelSelectors, a.LabelSelectors != nil)
	add(pIPRange, a.IPRange != "")
	add(pSubnets, a.Subnets != nil)
	add(pRoutes, a.Routes != nil)
	add(pSubnet, a.Subnet != nil)
	add(pRoute, a.Route != nil)
	add(pIP, a.IP != "")
	add(pAliasIPs, a.AliasIPs != nil)
	add(pSize, a.Size != 0)
	add(pFormat, a.Format != "")
	add(pAutomount, a.Automount != nil)
	add(pPublicKey, a.PublicKey != "")
	add(pType, a.Type != "")
	add(pAutoDelete, a.AutoDelete != nil)
	add(pDescription, a.Description != "")
	add(pDNSPtr, a.DNSPtr != nil)
	add(pLabelKeys, a.LabelKeys != nil)
	return p
}

// Target returns the resource an action targets.
func (a Action) Target() Ref {
	if a.Kind == KindServer {
		return Ref{Kind: KindServer, Name: a.Server}
	}
	return Ref{Kind: a.Kind, Name: a.Name}
}

// Ref names one resource.
type Ref struct {
	Kind Kind   `json:"kind,omitempty"`
	Name string `json:"name"`
}

// String is "server web-1", "firewall fw-web", ….
func (r Ref) String() string { return r.Kind.String() + " " + r.Name }

// Lock is the name of the lock that guards the resource (package lock, and
// the ref refs/vmc/locks/<lock>): a server's name, or for another kind a
// short prefix, '.' and the name ("fw.web", "vol.data"). A lock name is a
// valid server name; a server that happens to be called "fw.web" shares the
// firewall's lock, which only serializes them.
func (r Ref) Lock() string {
	if r.Kind == KindServer {
		return r.Name
	}
	return lockPrefix[r.Kind] + "." + r.Name
}

// Refs lists every resource the action changes, the target first: the
// target, its new name, and the resources it attaches to or detaches from
// (their membership changes too). Each appears once.
func (a Action) Refs() []Ref {
	out := []Ref{a.Target()}
	add := func(k Kind, name string) {
		r := Ref{k, name}
		if name != "" && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	t := a.Target()
	add(t.Kind, a.NewName)
	if a.Kind != KindServer {
		add(KindServer, a.Server)
	}
	for _, s := range a.Servers {
		add(KindServer, s)
	}
	add(KindNetwork, a.Network)
	add(KindFirewall, a.Firewall)
	if a.Kind == KindServer && a.Op == OpCreate {
		for _, f := range a.Firewalls {
			add(KindFirewall, f)
		}
		for _, n := range a.Networks {
			add(KindNetwork, n)
		}
	}
	return out
}

// CheckResourceName checks the name of a resource of kind k: a server name
// (CheckServerName), and for the other kinds at most MaxResourceNameLen
// bytes, so that its lock name stays a valid server name.
func CheckResourceName(k Kind, name string) error {
	if err := CheckServerName(name); err != nil {
		return err
	}
	if k != KindServer && len(name) > MaxResourceNameLen {
		return fmt.Errorf("name %s is %d bytes, more than %d for a %s", quote(name), len(name), MaxResourceNameLen, k)
	}
	return nil
}

// validateExt validates the actions of the other kinds and the added server
// ops.
func (a Action) validateExt() error {
	if a.Kind != KindServer {
		if !slices.Contains(Kinds, a.Kind) {
			return fmt.Errorf("unknown kind %s", quote(string(a.Kind)))
		}
		if err := CheckResourceName(a.Kind, a.Name); err != nil {
			return fmt.Errorf("%s %s: name: %w", a.Kind, a.Op, err)
		}
	} else {
		if a.Name != "" {
			return fmt.Errorf("%s: name is only for actions with a kind (the server is named by \"server\")", a.Op)
		}
		if err := CheckServerName(a.Server); err != nil {
			return fmt.Errorf("%s: server: %w", a.Op, err)
		}
	}
	what := OpName(a.Kind, a.Op)
	ok, known := allowedExt[kindOp{a.Kind, a.Op}]
	if !known {
		return fmt.Errorf("unknown op %s for a %s (want one of %s)", quote(string(a.Op)), a.Kind, joinOps(OpsOf(a.Kind)))
	}
	for _, p := range a.present() {
		if !slices.Contains(ok, p) {
			return fmt.Errorf("%s: parameter %s does not belong to this op", what, p)
		}
	}
	if err := a.checkExtValues(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// OpName names an op of a kind for messages: "create", "firewall create".
func OpName(k Kind, o Op) string {
	if k == KindServer {
		return string(o)
	}
	return string(k) + " " + string(o)
}

func joinOps(ops []Op) string {
	s := make([]string, len(ops))
	for i, o := range ops {
		s[i] = string(o)
	}
	return strings.Join(s, ", ")
}

func need(name string, set bool) error {
	if !set {
		return fmt.Errorf("missing required parameter %s", name)
	}
	return nil
}

// checkExtValues checks required parameters and values; the parameter set
// has been checked against the op.
func (a Action) checkExtValues() error {
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	refName := func(param string, k Kind, name string) {
		if name != "" {
			if err := CheckResourceName(k, name); err != nil {
				add(fmt.Errorf("%s: %w", param, err))
			}
		}
	}
	refName(pServer, KindServer, a.Server)
	refName(pFirewall, KindFirewall, a.Firewall)
	refName(pNetwork, KindNetwork, a.Network)
	if a.Labels != nil {
		if err := checkActionLabels(a.Labels); err != nil {
			add(err)
		}
	}
	if len(a.Rules) > MaxFirewallRules {
		add(fmt.Errorf("%d rules, more than %d (Hetzner's limit per firewall)", len(a.Rules), MaxFirewallRules))
	} else if a.Rules != nil && len(a.Rules) == 0 {
		add(errors.New("rules: empty list (omit the parameter instead)"))
	}
	for i, r := range a.Rules {
		if err := r.Check(); err != nil {
			add(fmt.Errorf("rule %d: %w", i+1, err))
		}
	}
	if err := checkList(pServers, a.Servers); err != nil {
		add(err)
	}
	for _, s := range a.Servers {
		refName(pServers, KindServer, s)
	}
	if err := checkList(pLabelSelectors, a.LabelSelectors); err != nil {
		add(err)
	}
	for _, s := range a.LabelSelectors {
		if err := checkSelector(s); err != nil {
			add(err)
		}
	}
	if a.IPRange != "" {
		if err := checkCIDR(pIPRange, a.IPRange, true); err != nil {
			add(err)
		}
	}
	if len(a.Subnets) > maxListLen || len(a.Routes) > maxListLen {
		add(fmt.Errorf("more than %d subnets or routes", maxListLen))
	}
	if a.Subnets != nil && len(a.Subnets) == 0 || a.Routes != nil && len(a.Routes) == 0 {
		add(errors.New("subnets, routes: empty list (omit the parameter instead)"))
	}
	for _, s := range a.Subnets {
		if err := s.Check(); err != nil {
			add(err)
		}
	}
	for _, r := range a.Routes {
		if err := r.Check(); err != nil {
			add(err)
		}
	}
	if a.Subnet != nil {
		if err := a.Subnet.Check(); err != nil {
			add(err)
		}
	}
	if a.Route != nil {
		if err := a.Route.Check(); err != nil {
			add(err)
		}
	}
	if a.IP != "" && net.ParseIP(a.IP) == nil {
		add(fmt.Errorf("ip %s: not an IP address", quote(a.IP)))
	}
	if err := checkList(pAliasIPs, a.AliasIPs); err != nil {
		add(err)
	}
	for _, ip := range a.AliasIPs {
		if net.ParseIP(ip) == nil || net.ParseIP(ip).To4() == nil {
			add(fmt.Errorf("alias_ips: %s is not an IPv4 address", quote(ip)))
		}
	}
	if a.Size != 0 && (a.Size < MinVolumeSize || a.Size > MaxVolumeSize) {
		add(fmt.Errorf("size %d GB: want %d to %d", a.Size, MinVolumeSize, MaxVolumeSize))
	}
	if a.Format != "" && a.Format != "ext4" && a.Format != "xfs" {
		add(fmt.Errorf("format %s: want ext4 or xfs", quote(a.Format)))
	}
	if a.PublicKey != "" {
		if err := checkPublicKey(a.PublicKey); err != nil {
			add(err)
		}
	}
	if a.Type != "" && a.Type != "ipv4" && a.Type != "ipv6" {
		add(fmt.Errorf("type %s: want ipv4 or ipv6", quote(a.Type)))
	}
	if len(a.Description) > MaxDescriptionLen || strings.ContainsAny(a.Description, "\x00\n\r") {
		add(fmt.Errorf("description: at most %d bytes on one line", MaxDescriptionLen))
	}
	if a.DNSPtr != nil && *a.DNSPtr != "" {
		if err := checkDNSName(*a.DNSPtr); err != nil {
			add(fmt.Errorf("dns_ptr: %w", err))
		}
	}
	if err := checkList(pLabelKeys, a.LabelKeys); err != nil {
		add(err)
	}
	for _, k := range a.LabelKeys {
		if err := CheckLabelKey(k); err != nil {
			add(err)
		} else if k == LabelLedger || k == LabelPlan {
			add(fmt.Errorf("label_keys: key %s is reserved for vmc-git", k))
		}
	}
	if a.Location != "" {
		if err := checkRef(pLocation, a.Location); err != nil {
			add(err)
		}
	}
	if a.NewName != "" {
		if err := CheckResourceName(a.Kind, a.NewName); err != nil {
			add(fmt.Errorf("new_name: %w", err))
		} else if a.NewName == a.Target().Name {
			add(fmt.Errorf("new_name equals the current name %s", quote(a.NewName)))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}

	// Required parameters and combinations.
	switch (kindOp{a.Kind, a.Op}) {
	case kindOp{KindServer, OpAttachNetwork}, kindOp{KindServer, OpDetachNetwork}:
		return need(pNetwork, a.Network != "")
	case kindOp{KindServer, OpAttachFirewall}, kindOp{KindServer, OpDetachFirewall}:
		return need(pFirewall, a.Firewall != "")
	case kindOp{KindServer, OpSetRDNS}, kindOp{KindPrimaryIP, OpSetRDNS}, kindOp{KindFloatingIP, OpSetRDNS}:
		return need(pDNSPtr+` (use "" to reset)`, a.DNSPtr != nil)
	case kindOp{KindServer, OpAddLabels}:
		return need(pLabels+" (at least one)", len(a.Labels) > 0)
	case kindOp{KindServer, OpRemoveLabels}:
		return need(pLabelKeys, len(a.LabelKeys) > 0)
	case kindOp{KindFirewall, OpApplyTo}, kindOp{KindFirewall, OpRemoveFrom}:
		return need(pServers+" or "+pLabelSelectors, len(a.Servers)+len(a.LabelSelectors) > 0)
	case kindOp{KindNetwork, OpCreate}:
		if err := need(pIPRange, a.IPRange != ""); err != nil {
			return err
		}
		for _, s := range a.Subnets {
			if !cidrWithin(s.IPRange, a.IPRange) {
				return fmt.Errorf("subnet %s is not within the network's ip_range %s", s.IPRange, a.IPRange)
			}
		}
	case kindOp{KindNetwork, OpAddSubnet}:
		return need(pSubnet, a.Subnet != nil)
	case kindOp{KindNetwork, OpDeleteSubnet}:
		return need(pIPRange, a.IPRange != "")
	case kindOp{KindNetwork, OpAddRoute}, kindOp{KindNetwork, OpDeleteRoute}:
		return need(pRoute, a.Route != nil)
	case kindOp{KindVolume, OpCreate}:
		if err := need(pSize, a.Size != 0); err != nil {
			return err
		}
		if (a.Location == "") == (a.Server == "") {
			return errors.New("give exactly one of location and server")
		}
		if a.Automount != nil && a.Server == "" {
			return errors.New("automount needs server")
		}
	case kindOp{KindVolume, OpAttach}, kindOp{KindPrimaryIP, OpAssign}, kindOp{KindFloatingIP, OpAssign}:
		return need(pServer, a.Server != "")
	case kindOp{KindVolume, OpResize}:
		return need(pSize, a.Size != 0)
	case kindOp{KindSSHKey, OpCreate}:
		return need(pPublicKey, a.PublicKey != "")
	case kindOp{KindPrimaryIP, OpCreate}, kindOp{KindFloatingIP, OpCreate}:
		if err := need(pType, a.Type != ""); err != nil {
			return err
		}
		if (a.Location == "") == (a.Server == "") {
			return errors.New("give exactly one of location and server")
		}
	case kindOp{KindNetwork, OpProtect}, kindOp{KindVolume, OpProtect}, kindOp{KindPrimaryIP, OpProtect}, kindOp{KindFloatingIP, OpProtect}:
		return need(pDelete, a.Delete != nil)
	}
	if a.Op == OpLabel {
		return need(pLabels+" (at least one)", len(a.Labels) > 0)
	}
	if a.Op == OpRename {
		return need(pNewName, a.NewName != "")
	}
	return nil
}

// Check checks a rule; see FirewallRule.
func (r FirewallRule) Check() error {
	if r.Direction != DirectionIn && r.Direction != DirectionOut {
		return fmt.Errorf("direction %s: want in or out", quote(r.Direction))
	}
	switch r.Protocol {
	case "tcp", "udp":
		if err := checkPort(r.Port); err != nil {
			return err
		}
	case "icmp", "esp", "gre":
		if r.Port != "" {
			return fmt.Errorf("protocol %s takes no port", r.Protocol)
		}
	default:
		return fmt.Errorf("protocol %s: want tcp, udp, icmp, esp or gre", quote(r.Protocol))
	}
	ips, other, want := r.SourceIPs, r.DestinationIPs, "source_ips"
	if r.Direction == DirectionOut {
		ips, other, want = r.DestinationIPs, r.SourceIPs, "destination_ips"
	}
	if len(ips) == 0 {
		return fmt.Errorf("direction %s needs %s", r.Direction, want)
	}
	if len(other) > 0 {
		return fmt.Errorf("direction %s takes only %s", r.Direction, want)
	}
	if len(ips) > maxListLen {
		return fmt.Errorf("more than %d addresses", maxListLen)
	}
	for _, ip := range ips {
		if err := checkCIDR(want, ip, false); err != nil {
			return err
		}
	}
	if len(r.Description) > MaxDescriptionLen || strings.ContainsAny(r.Description, "\x00\n\r") {
		return fmt.Errorf("description: at most %d bytes on one line", MaxDescriptionLen)
	}
	return nil
}

func checkPort(p string) error {
	if p == "" {
		return errors.New("tcp and udp rules need a port (80, 8000-8100 or any)")
	}
	if p == "any" {
		return nil
	}
	lo, hi, isRange := strings.Cut(p, "-")
	a, err1 := strconv.Atoi(lo)
	b, err2 := a, error(nil)
	if isRange {
		b, err2 = strconv.Atoi(hi)
	}
	if err1 != nil || err2 != nil || a < 1 || b > 65535 || a > b || strconv.Itoa(a) != lo {
		return fmt.Errorf("port %s: want 1-65535, a range lo-hi, or any", quote(p))
	}
	return nil
}

// Check checks a subnet.
func (s Subnet) Check() error {
	switch s.Type {
	case "", "cloud", "server", "vswitch":
	default:
		return fmt.Errorf("subnet type %s: want cloud, server or vswitch", quote(s.Type))
	}
	if err := checkCIDR("subnet ip_range", s.IPRange, true); err != nil {
		return err
	}
	if err := checkRef("network_zone", s.NetworkZone); err != nil {
		return fmt.Errorf("subnet: %w", err)
	}
	if (s.Type == "vswitch") != (s.VSwitchID != 0) {
		return errors.New("subnet: vswitch_id goes with type vswitch")
	}
	return nil
}

// Check checks a route.
func (r Route) Check() error {
	if err := checkCIDR("route destination", r.Destination, true); err != nil {
		return err
	}
	if ip := net.ParseIP(r.Gateway); ip == nil || ip.To4() == nil {
		return fmt.Errorf("route gateway %s: not an IPv4 address", quote(r.Gateway))
	}
	return nil
}

// checkCIDR checks a CIDR in canonical form (the network address, as
// net.IPNet prints it); v4 requires IPv4.
func checkCIDR(param, s string, v4 bool) error {
	ip, n, err := net.ParseCIDR(s)
	if err != nil {
		return fmt.Errorf("%s %s: not a CIDR range", param, quote(s))
	}
	if v4 && ip.To4() == nil {
		return fmt.Errorf("%s %s: not an IPv4 range", param, quote(s))
	}
	if n.String() != s {
		return fmt.Errorf("%s %s: write it as %s", param, quote(s), n.String())
	}
	return nil
}

// cidrWithin reports whether CIDR inner lies within outer.
func cidrWithin(inner, outer string) bool {
	_, in, err1 := net.ParseCIDR(inner)
	_, out, err2 := net.ParseCIDR(outer)
	if err1 != nil || err2 != nil {
		return false
	}
	ino, _ := in.Mask.Size()
	outo, _ := out.Mask.Size()
	return out.Contains(in.IP) && ino >= outo
}

func checkList(param string, items []string) error {
	if items == nil {
		return nil
	}
	if len(items) == 0 {
		return fmt.Errorf("%s: empty list (omit the parameter instead)", param)
	}
	if len(items) > maxListLen {
		return fmt.Errorf("%s: %d items, more than %d", param, len(items), maxListLen)
	}
	seen := map[string]bool{}
	for _, s := range items {
		if seen[s] {
			return fmt.Errorf("%s: duplicate %s", param, quote(s))
		}
		seen[s] = true
	}
	return nil
}

func checkSelector(s string) error {
	if s == "" || len(s) > 256 {
		return fmt.Errorf("label_selectors: %s must be 1 to 256 bytes", quote(s))
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c >= 0x7f {
			return fmt.Errorf("label_selectors %s: invalid character %q", quote(s), c)
		}
	}
	return nil
}

func checkPublicKey(k string) error {
	if len(k) > MaxPublicKeyLen {
		return fmt.Errorf("public_key: %d bytes, more than %d", len(k), MaxPublicKeyLen)
	}
	f := strings.Fields(k)
	if len(f) < 2 || strings.ContainsAny(k, "\x00\n\r") || !(strings.HasPrefix(f[0], "ssh-") || strings.HasPrefix(f[0], "ecdsa-") || strings.HasPrefix(f[0], "sk-")) {
		return errors.New("public_key: want one OpenSSH public key line (ssh-ed25519 AAAA… comment)")
	}
	return nil
}

func checkDNSName(s string) error {
	if len(s) > MaxDNSPtrLen {
		return fmt.Errorf("%d bytes, more than %d", len(s), MaxDNSPtrLen)
	}
	for part := range strings.SplitSeq(strings.TrimSuffix(s, "."), ".") {
		if part == "" || len(part) > 63 || part[0] == '-' || part[len(part)-1] == '-' {
			return fmt.Errorf("%s is not a host name", quote(s))
		}
		for i := 0; i < len(part); i++ {
			if c := part[i]; !isAlnum(c) && c != '-' {
				return fmt.Errorf("%s is not a host name", quote(s))
			}
		}
	}
	return nil
}
