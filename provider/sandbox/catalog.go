package sandbox

import (
	"fmt"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

// The fixture catalogue: read-only, not persisted. Figures are modelled on
// Hetzner's public offer but are fixtures, not a price list.

var locations = []schema.Location{
	{ID: 1, Name: "fsn1", Description: "Falkenstein DC Park 1", Country: "DE", City: "Falkenstein", Latitude: 50.47612, Longitude: 12.370071, NetworkZone: "eu-central"},
	{ID: 2, Name: "nbg1", Description: "Nuremberg DC Park 1", Country: "DE", City: "Nuremberg", Latitude: 49.452102, Longitude: 11.076665, NetworkZone: "eu-central"},
	{ID: 3, Name: "hel1", Description: "Helsinki DC Park 1", Country: "FI", City: "Helsinki", Latitude: 60.169855, Longitude: 24.938379, NetworkZone: "eu-central"},
	{ID: 4, Name: "ash", Description: "Ashburn, VA", Country: "US", City: "Ashburn, VA", Latitude: 39.045821, Longitude: -77.487073, NetworkZone: "us-east"},
	{ID: 5, Name: "hil", Description: "Hillsboro, OR", Country: "US", City: "Hillsboro, OR", Latitude: 45.54222, Longitude: -122.951924, NetworkZone: "us-west"},
	{ID: 6, Name: "sin", Description: "Singapore", Country: "SG", City: "Singapore", Latitude: 1.283333, Longitude: 103.833333, NetworkZone: "ap-southeast"},
}

// defaultLocation is used when a create request names none.
const defaultLocation = "fsn1"

var (
	euLocations  = []string{"fsn1", "nbg1", "hel1"}
	allLocations = []string{"fsn1", "nbg1", "hel1", "ash", "hil", "sin"}
)

// serverType builds a catalogue entry offered at locs, priced at monthly
// euros (net) per month in the EU and 20% more elsewhere; hourly is 1/720
// of it, gross adds 19% VAT. The shape is hcloud-go's schema.ServerType with
// prices and per-location offers, as GET /server_types returns it.
func serverType(id int64, name, desc, cpu, arch string, cores int, mem float32, disk int, monthly float64, locs []string) schema.ServerType {
	st := schema.ServerType{
		ID: id, Name: name, Description: desc, Category: "shared_vcpu", Cores: cores, Memory: mem, Disk: disk,
		StorageType: "local", CPUType: cpu, Architecture: arch, Prices: []schema.PricingServerTypePrice{},
	}
	if cpu == "dedicated" {
		st.Category = "dedicated_vcpu"
	}
	price := func(v float64) schema.Price {
		return schema.Price{Net: fmt.Sprintf("%.4f", v), Gross: fmt.Sprintf("%.4f", v*1.19)}
	}
	for _, l := range locs {
		loc := findLocation(l)
		st.Locations = append(st.Locations, schema.ServerTypeLocation{ID: loc.ID, Name: loc.Name, Available: true, Recommended: true})
		m := monthly
		if loc.NetworkZone != "eu-central" {
			m *= 1.2
		}
		st.Prices = append(st.Prices, schema.PricingServerTypePrice{Location: loc.Name, PriceHourly: price(m / 720), PriceMonthly: price(m),
			IncludedTraffic: 20 << 40, PricePerTBTraffic: price(1)})
	}
	return st
}

// deprecated marks a catalogue entry as announced for removal on
// announced and unavailable after after.
func deprecated(announced, after time.Time) schema.DeprecatableResource {
	return schema.DeprecatableResource{Deprecation: &schema.DeprecationInfo{Announced: announced, UnavailableAfter: after}}
}

// retired is the deprecation of the catalogue's retired entries (cx11,
// ubuntu-20.04): announced in 2024, unavailable since 2025.
var retired = deprecated(time.Date(2024, 6, 6, 0, 0, 0, 0, time.UTC), time.Date(2025, 9, 1, 0, 0, 0, 0, time.UTC))

var serverTypes = []schema.ServerType{
	serverType(22, "cpx11", "CPX 11", "shared", "x86", 2, 2, 40, 4.35, allLocations),
	serverType(23, "cpx21", "CPX 21", "shared", "x86", 3, 4, 80, 7.55, allLocations),
	serverType(24, "cpx31", "CPX 31", "shared", "x86", 4, 8, 160, 13.60, allLocations),
	serverType(25, "cpx41", "CPX 41", "shared", "x86", 8, 16, 240, 25.20, allLocations),
	serverType(45, "cax11", "CAX11", "shared", "arm", 2, 4, 40, 3.79, euLocations),
	serverType(93, "cax21", "CAX21", "shared", "arm", 4, 8, 80, 6.49, euLocations),
	serverType(96, "ccx13", "CCX13 Dedicated CPU", "dedicated", "x86", 2, 8, 80, 12.49, allLocations),
	serverType(104, "cx22", "CX22", "shared", "x86", 2, 4, 40, 3.79, euLocations),
	serverType(105, "cx32", "CX32", "shared", "x86", 4, 8, 80, 6.80, euLocations),
	serverType(106, "cx42", "CX42", "shared", "x86", 8, 16, 160, 16.40, euLocations),
	serverType(107, "cx52", "CX52", "shared", "x86", 16, 32, 320, 32.40, euLocations),
	retiredType(serverType(1, "cx11", "CX11", "shared", "x86", 1, 2, 20, 3.29, euLocations)),
}

func retiredType(st schema.ServerType) schema.ServerType {
	st.Deprecated, st.DeprecatableResource = true, retired
	for i := range st.Locations {
		st.Locations[i].Available, st.Locations[i].Recommended = false, false
		st.Locations[i].DeprecatableResource = retired
	}
	return st
}

func image(id int64, name, desc, flavor, version, arch string) schema.Image {
	created := time.Date(2024, 4, 25, 0, 0, 0, 0, time.UTC)
	n, v := name, version
	return schema.Image{
		ID: id, Status: "available", Type: "system", Name: &n, Description: desc, DiskSize: 5,
		Created: &created, OSFlavor: flavor, OSVersion: &v, Architecture: arch, RapidDeploy: true,
		Labels: map[string]string{},
	}
}

var images = []schema.Image{
	image(67794396, "ubuntu-22.04", "Ubuntu 22.04", "ubuntu", "22.04", "x86"),
	image(103908070, "ubuntu-22.04", "Ubuntu 22.04", "ubuntu", "22.04", "arm"),
	image(161547269, "ubuntu-24.04", "Ubuntu 24.04", "ubuntu", "24.04", "x86"),
	image(161547270, "ubuntu-24.04", "Ubuntu 24.04", "ubuntu", "24.04", "arm"),
	image(114690387, "debian-12", "Debian 12", "debian", "12", "x86"),
	image(114690389, "debian-12", "Debian 12", "debian", "12", "arm"),
	image(76766499, "rocky-9", "Rocky Linux 9", "rocky", "9", "x86"),
	image(76766502, "alma-9", "AlmaLinux 9", "alma", "9", "x86"),
	image(186901023, "fedora-41", "Fedora 41", "fedora", "41", "x86"),
	retiredImage(image(15512617, "ubuntu-20.04", "Ubuntu 20.04", "ubuntu", "20.04", "x86")),
}

func retiredImage(im schema.Image) schema.Image {
	after := retired.Deprecation.UnavailableAfter
	im.Deprecated, im.DeprecatableResource = &after, retired
	return im
}

func findLocation(idOrName string) *schema.Location {
	for i := range locations {
		if locations[i].Name == idOrName || itoa(locations[i].ID) == idOrName {
			return &locations[i]
		}
	}
	return nil
}

func findServerType(ref schema.IDOrName) *schema.ServerType {
	for i := range serverTypes {
		if (ref.ID != 0 && serverTypes[i].ID == ref.ID) || (ref.Name != "" && serverTypes[i].Name == ref.Name) {
			return &serverTypes[i]
		}
	}
	return nil
}

// findImage looks an image up by id, or by name for the given architecture.
func findImage(ref schema.IDOrName, arch string) *schema.Image {
	for i := range images {
		im := &images[i]
		if ref.ID != 0 && im.ID == ref.ID {
			return im
		}
		if ref.Name != "" && *im.Name == ref.Name && im.Architecture == arch {
			return im
		}
	}
	return nil
}

func imageByID(id int64) *schema.Image {
	return findImage(schema.IDOrName{ID: id}, "")
}
