package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
)

// Catalog is the provider's offer, which a dry run checks an action
// against: server types with their prices and locations, images by
// architecture, locations. (Hetzner removed datacenters from its API on
// 2026-10-01; placement is by location, and ServerType.Locations says where
// a type is offered.) Every method returns an error wrapping ErrNotFound
// when the named item does not exist.
type Catalog interface {
	ServerType(ctx context.Context, name string) (*ServerType, error)
	// Images returns the image of this name for every architecture it exists
	// for, deprecated ones included.
	Images(ctx context.Context, name string) ([]Image, error)
	Location(ctx context.Context, name string) (*Location, error)
	// DiskSize returns the size in GB of the named server's primary disk.
	DiskSize(ctx context.Context, server string) (int, error)
	// Exists reports whether the project has a resource of this kind
	// (RefSSHKey, RefFirewall, RefNetwork) with exactly this name.
	Exists(ctx context.Context, kind, name string) (bool, error)
}

// Kinds of resources a create action refers to by name (Catalog.Exists).
const (
	RefSSHKey   = "ssh key"
	RefFirewall = "firewall"
	RefNetwork  = "network"
)

// ServerType is one server type on offer.
type ServerType struct {
	Name         string            `json:"name"`
	Architecture string            `json:"architecture"` // "x86" or "arm"
	Cores        int               `json:"cores"`
	Memory       float32           `json:"memory"` // GB
	Disk         int               `json:"disk"`   // GB
	Locations    []ServerTypeOffer `json:"locations"`
	Prices       []ServerTypePrice `json:"prices"`
	Deprecation  *Deprecation      `json:"deprecation,omitempty"`
}

// ServerTypeOffer is a location where a server type is offered.
type ServerTypeOffer struct {
	Location    string       `json:"location"`
	Available   bool         `json:"available"`
	Deprecation *Deprecation `json:"deprecation,omitempty"`
}

// ServerTypePrice is a server type's price at one location (net, in the
// API's currency, as the API's decimal strings).
type ServerTypePrice struct {
	Location string `json:"location"`
	Hourly   string `json:"hourly"`
	Monthly  string `json:"monthly"`
}

// Deprecation says when an item stops being offered.
type Deprecation struct {
	Announced        time.Time `json:"announced"`
	UnavailableAfter time.Time `json:"unavailable_after"`
}

// Image is one image on offer for one architecture.
type Image struct {
	ID           int64        `json:"id"`
	Name         string       `json:"name"`
	Architecture string       `json:"architecture"`
	Status       string       `json:"status"`
	Deprecation  *Deprecation `json:"deprecation,omitempty"`
}

// Location is one location.
type Location struct {
	Name        string `json:"name"`
	NetworkZone string `json:"network_zone"`
}

// Offer returns where t is offered at location, or nil.
func (t *ServerType) Offer(location string) *ServerTypeOffer {
	for i := range t.Locations {
		if t.Locations[i].Location == location {
			return &t.Locations[i]
		}
	}
	return nil
}

var _ Catalog = (*Hetzner)(nil)

func deprecation(d hcloud.DeprecatableResource) *Deprecation {
	if d.Deprecation == nil {
		return nil
	}
	return &Deprecation{Announced: d.Deprecation.Announced.UTC(), UnavailableAfter: d.Deprecation.UnavailableAfter.UTC()}
}

// ServerType implements Catalog.
func (h *Hetzner) ServerType(ctx context.Context, name string) (*ServerType, error) {
	st, _, err := h.r.ServerType.GetByName(ctx, name)
	if err != nil {
		return nil, h.redact(fmt.Errorf("hetzner: get server type %q: %w", name, toAPIError(err)))
	}
	if st == nil || st.Name != name {
		return nil, fmt.Errorf("hetzner: server type %q: %w", name, ErrNotFound)
	}
	out := &ServerType{Name: st.Name, Architecture: string(st.Architecture), Cores: st.Cores, Memory: st.Memory,
		Disk: st.Disk, Deprecation: deprecation(st.DeprecatableResource)}
	for _, l := range st.Locations {
		if l.Location == nil {
			continue
		}
		out.Locations = append(out.Locations, ServerTypeOffer{Location: l.Location.Name, Available: l.Available,
			Deprecation: deprecation(l.DeprecatableResource)})
	}
	for _, p := range st.Pricings {
		if p.Location == nil {
			continue
		}
		out.Prices = append(out.Prices, ServerTypePrice{Location: p.Location.Name, Hourly: p.Hourly.Net, Monthly: p.Monthly.Net})
	}
	return out, nil
}

// Images implements Catalog.
func (h *Hetzner) Images(ctx context.Context, name string) ([]Image, error) {
	all, err := h.r.Image.AllWithOpts(ctx, hcloud.ImageListOpts{Name: name, IncludeDeprecated: true})
	if err != nil {
		return nil, h.redact(fmt.Errorf("hetzner: list images %q: %w", name, toAPIError(err)))
	}
	var out []Image
	for _, im := range all {
		if im.Name != name {
			continue
		}
		out = append(out, Image{ID: im.ID, Name: im.Name, Architecture: string(im.Architecture), Status: string(im.Status),
			Deprecation: deprecation(im.DeprecatableResource)})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("hetzner: image %q: %w", name, ErrNotFound)
	}
	return out, nil
}

// Location implements Catalog.
func (h *Hetzner) Location(ctx context.Context, name string) (*Location, error) {
	l, _, err := h.r.Location.GetByName(ctx, name)
	if err != nil {
		return nil, h.redact(fmt.Errorf("hetzner: get location %q: %w", name, toAPIError(err)))
	}
	if l == nil || l.Name != name {
		return nil, fmt.Errorf("hetzner: location %q: %w", name, ErrNotFound)
	}
	return &Location{Name: l.Name, NetworkZone: string(l.NetworkZone)}, nil
}

// DiskSize implements Catalog.
func (h *Hetzner) DiskSize(ctx context.Context, server string) (int, error) {
	s, err := h.server(ctx, server)
	if err != nil {
		return 0, h.redact(err)
	}
	return s.PrimaryDiskSize, nil
}

// Exists implements Catalog.
func (h *Hetzner) Exists(ctx context.Context, kind, name string) (bool, error) {
	var found string
	var err error
	switch kind {
	case RefSSHKey:
		var k *hcloud.SSHKey
		if k, _, err = h.r.SSHKey.GetByName(ctx, name); k != nil {
			found = k.Name
		}
	case RefFirewall:
		var f *hcloud.Firewall
		if f, _, err = h.r.Firewall.GetByName(ctx, name); f != nil {
			found = f.Name
		}
	case RefNetwork:
		var n *hcloud.Network
		if n, _, err = h.r.Network.GetByName(ctx, name); n != nil {
			found = n.Name
		}
	default:
		return false, fmt.Errorf("hetzner: unknown resource kind %q", kind)
	}
	if err != nil {
		return false, h.redact(fmt.Errorf("hetzner: get %s %q: %w", kind, name, toAPIError(err)))
	}
	return found == name, nil
}
