package policy

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/vmc-git/vmc-git/internal/canon"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/provider"
)

// InputVersion is the version of the input document (input.v).
const InputVersion = 1

// Input sources.
const (
	SourceProvider = "provider" // the provider's resources as listed now
	SourcePlan     = "plan"     // the state a plan would leave
)

// Input bounds.
const (
	// MaxResources bounds the resources of each kind in one input.
	MaxResources = 10000
	// MaxInputSize bounds the input's canonical JSON.
	MaxInputSize = 32 << 20
)

// Pending is the address a plan's end state shows for a public address the
// provider has yet to assign.
const Pending = "pending"

// Resource kinds, as the first part of a resource name ("server/web-1").
const (
	KindServer   = "server"
	KindFirewall = "firewall"
	KindNetwork  = "network"
	KindVolume   = "volume"
	KindIP       = "ip"
)

// ErrInputTooLarge: the provider's answer (or a plan's end state) exceeds
// MaxResources or MaxInputSize.
var ErrInputTooLarge = errors.New("policy input too large")

// Document is the input document (see the package doc).
type Document struct {
	V         int        `json:"v"`
	Source    string     `json:"source"`
	Plan      string     `json:"plan,omitempty"`
	Observed  Observed   `json:"observed"`
	Servers   []Server   `json:"servers"`
	Firewalls []Firewall `json:"firewalls"`
	Networks  []Network  `json:"networks"`
	Volumes   []Volume   `json:"volumes"`
	IPs       []IP       `json:"ips"`
}

// Observed says which kinds the provider listed.
type Observed struct {
	Servers   bool `json:"servers"`
	Firewalls bool `json:"firewalls"`
	Networks  bool `json:"networks"`
	Volumes   bool `json:"volumes"`
	IPs       bool `json:"ips"`
}

// Server is a server in the input.
type Server struct {
	Name       string            `json:"name"`
	ID         int64             `json:"id"`
	Status     string            `json:"status"`
	ServerType string            `json:"server_type"`
	Image      string            `json:"image"`
	Location   string            `json:"location"`
	Labels     map[string]string `json:"labels"`
	Protection Protection        `json:"protection"`
	PublicNet  PublicNet         `json:"public_net"`
	// Firewalls and Networks are names; nil (JSON null) when not observed.
	Firewalls []string `json:"firewalls"`
	Networks  []string `json:"networks"`
}

// Protection is a resource's protection flags.
type Protection struct {
	Delete  bool `json:"delete"`
	Rebuild bool `json:"rebuild"`
}

// PublicNet is a server's public addresses ("" for none).
type PublicNet struct {
	IPv4 string `json:"ipv4"`
	IPv6 string `json:"ipv6"`
}

// Firewall is a firewall in the input.
type Firewall struct {
	Name      string            `json:"name"`
	ID        int64             `json:"id"`
	Labels    map[string]string `json:"labels"`
	Rules     []FirewallRule    `json:"rules"`
	AppliedTo []string          `json:"applied_to"`
}

// FirewallRule is one firewall rule. Port is "22", "80-85" or "" (all).
type FirewallRule struct {
	Direction      string   `json:"direction"`
	Protocol       string   `json:"protocol"`
	Port           string   `json:"port"`
	SourceIPs      []string `json:"source_ips"`
	DestinationIPs []string `json:"destination_ips"`
}

// Network is a private network in the input.
type Network struct {
	Name    string            `json:"name"`
	ID      int64             `json:"id"`
	IPRange string            `json:"ip_range"`
	Labels  map[string]string `json:"labels"`
	Servers []string          `json:"servers"`
}

// Volume is a volume in the input.
type Volume struct {
	Name       string            `json:"name"`
	ID         int64             `json:"id"`
	SizeGB     int               `json:"size_gb"`
	Location   string            `json:"location"`
	Labels     map[string]string `json:"labels"`
	Server     string            `json:"server"`
	Protection Protection        `json:"protection"`
}

// IP is a primary or floating IP in the input.
type IP struct {
	Name       string            `json:"name"`
	ID         int64             `json:"id"`
	Type       string            `json:"type"`
	Family     string            `json:"family"`
	IP         string            `json:"ip"`
	Labels     map[string]string `json:"labels"`
	Assignee   string            `json:"assignee"`
	Protection Protection        `json:"protection"`
}

// FromServers builds a provider-source document from the servers the
// provider listed; the other kinds are not observed.
func FromServers(servers []provider.Server) (*Document, error) {
	if len(servers) > MaxResources {
		return nil, fmt.Errorf("%w: %d servers, at most %d", ErrInputTooLarge, len(servers), MaxResources)
	}
	d := empty(SourceProvider)
	d.Observed.Servers = true
	for _, s := range servers {
		d.Servers = append(d.Servers, serverOf(s))
	}
	return d, nil
}

func empty(source string) *Document {
	return &Document{V: InputVersion, Source: source, Servers: []Server{}, Firewalls: []Firewall{}, Networks: []Network{}, Volumes: []Volume{}, IPs: []IP{}}
}

func serverOf(s provider.Server) Server {
	l := maps.Clone(s.Labels)
	if l == nil {
		l = map[string]string{}
	}
	return Server{Name: s.Name, ID: s.ID, Status: s.Status, ServerType: s.ServerType, Image: s.Image, Location: s.Location,
		Labels: l, Protection: Protection{s.Protection.Delete, s.Protection.Rebuild}, PublicNet: PublicNet{s.IPv4, s.IPv6}}
}

// Encode returns the document's canonical JSON (RFC 8785), refusing one
// larger than the bounds.
func (d *Document) Encode() ([]byte, error) {
	for kind, n := range map[string]int{KindServer: len(d.Servers), KindFirewall: len(d.Firewalls), KindNetwork: len(d.Networks), KindVolume: len(d.Volumes), KindIP: len(d.IPs)} {
		if n > MaxResources {
			return nil, fmt.Errorf("%w: %d %ss, at most %d", ErrInputTooLarge, n, kind, MaxResources)
		}
	}
	b, err := canon.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("policy input: %w", err)
	}
	if len(b) > MaxInputSize {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrInputTooLarge, len(b), MaxInputSize)
	}
	return b, nil
}

// Subject is one resource of a document with the digests of its canonical
// JSON.
type Subject struct {
	Name string // "<kind>/<name>"
	Sums digest.Sums
}

// Subjects returns each resource of d, in the order of the document.
func (d *Document) Subjects() ([]Subject, error) {
	var out []Subject
	add := func(kind, name string, v any) error {
		b, err := canon.Marshal(v)
		if err != nil {
			return fmt.Errorf("%s/%s: %w", kind, name, err)
		}
		out = append(out, Subject{kind + "/" + name, digest.Of(b)})
		return nil
	}
	for _, s := range d.Servers {
		if err := add(KindServer, s.Name, s); err != nil {
			return nil, err
		}
	}
	for _, s := range d.Firewalls {
		if err := add(KindFirewall, s.Name, s); err != nil {
			return nil, err
		}
	}
	for _, s := range d.Networks {
		if err := add(KindNetwork, s.Name, s); err != nil {
			return nil, err
		}
	}
	for _, s := range d.Volumes {
		if err := add(KindVolume, s.Name, s); err != nil {
			return nil, err
		}
	}
	for _, s := range d.IPs {
		if err := add(KindIP, s.Name, s); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// FromProvider builds a provider-source document from the servers and the
// resources of each kind the provider listed (kinds absent from res are
// not observed). A server's firewalls are those it names and those that
// name it; its networks are its private networks. SSH keys are not part of
// the input.
func FromProvider(servers []provider.Server, res map[provider.Kind][]provider.Resource) (*Document, error) {
	d, err := FromServers(servers)
	if err != nil {
		return nil, err
	}
	for k, rs := range res {
		if len(rs) > MaxResources {
			return nil, fmt.Errorf("%w: %d %ss, at most %d", ErrInputTooLarge, len(rs), k, MaxResources)
		}
	}
	_, fwOK := res[provider.KindFirewall]
	_, nwOK := res[provider.KindNetwork]
	_, pOK := res[provider.KindPrimaryIP]
	_, fOK := res[provider.KindFloatingIP]
	_, vOK := res[provider.KindVolume]
	d.Observed.Firewalls, d.Observed.Networks, d.Observed.Volumes, d.Observed.IPs = fwOK, nwOK, vOK, pOK && fOK
	applied := map[string][]string{}
	for _, r := range res[provider.KindFirewall] {
		rules := []FirewallRule{}
		for _, fr := range r.Rules {
			rules = append(rules, ruleOf(fr))
		}
		d.Firewalls = append(d.Firewalls, Firewall{Name: r.Name, ID: r.ID, Labels: labelsOf(r.Labels), Rules: rules, AppliedTo: nonNil(r.Servers)})
		for _, s := range r.Servers {
			applied[s] = append(applied[s], r.Name)
		}
	}
	for _, r := range res[provider.KindNetwork] {
		d.Networks = append(d.Networks, Network{Name: r.Name, ID: r.ID, IPRange: r.IPRange, Labels: labelsOf(r.Labels), Servers: []string{}})
	}
	for _, r := range res[provider.KindVolume] {
		d.Volumes = append(d.Volumes, Volume{Name: r.Name, ID: r.ID, SizeGB: r.Size, Location: r.Location, Labels: labelsOf(r.Labels),
			Server: r.Server, Protection: Protection{Delete: r.ProtectDelete}})
	}
	for _, k := range []provider.Kind{provider.KindPrimaryIP, provider.KindFloatingIP} {
		typ := strings.TrimSuffix(string(k), "_ip")
		for _, r := range res[k] {
			d.IPs = append(d.IPs, IP{Name: r.Name, ID: r.ID, Type: typ, Family: r.Type, IP: r.IP, Labels: labelsOf(r.Labels),
				Assignee: r.Server, Protection: Protection{Delete: r.ProtectDelete}})
		}
	}
	for i, s := range servers {
		ds := &d.Servers[i]
		if fwOK {
			fw := slices.Clone(s.Firewalls)
			for _, n := range applied[s.Name] {
				if !slices.Contains(fw, n) {
					fw = append(fw, n)
				}
			}
			slices.Sort(fw)
			ds.Firewalls = nonNil(fw)
		}
		if nwOK {
			ds.Networks = []string{}
			for _, pn := range s.PrivateNet {
				ds.Networks = append(ds.Networks, pn.Network)
				for j := range d.Networks {
					if d.Networks[j].Name == pn.Network {
						d.Networks[j].Servers = append(d.Networks[j].Servers, s.Name)
					}
				}
			}
		}
	}
	return d, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return slices.Clone(s)
}

func labelsOf(l map[string]string) map[string]string {
	if l == nil {
		return map[string]string{}
	}
	return maps.Clone(l)
}
