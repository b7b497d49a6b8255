package sandbox

import (
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

func serverType(id int64, name, desc, cpu, arch string, cores int, mem float32, disk int, locs []string) schema.ServerType {
	st := schema.ServerType{
		ID: id, Name: name, Description: desc, Category: "shared_vcpu", Cores: cores, Memory: mem, Disk: disk,
		StorageType: "local", CPUType: cpu, Architecture: arch, Prices: []schema.PricingServerTypePrice{},
	}
	if cpu == "dedicated" {
		st.Category = "dedicated_vcpu"
	}
	for _, l := range locs {
		loc := findLocation(l)
		st.Locations = append(st.Locations, schema.ServerTypeLocation{ID: loc.ID, Name: loc.Name, Available: true, Recommended: true})
	}
	return st
}

var serverTypes = []schema.ServerType{
	serverType(22, "cpx11", "CPX 11", "shared", "x86", 2, 2, 40, allLocations),
	serverType(23, "cpx21", "CPX 21", "shared", "x86", 3, 4, 80, allLocations),
	serverType(24, "cpx31", "CPX 31", "shared", "x86", 4, 8, 160, allLocations),
	serverType(25, "cpx41", "CPX 41", "shared", "x86", 8, 16, 240, allLocations),
	serverType(45, "cax11", "CAX11", "shared", "arm", 2, 4, 40, euLocations),
	serverType(93, "cax21", "CAX21", "shared", "arm", 4, 8, 80, euLocations),
	serverType(96, "ccx13", "CCX13 Dedicated CPU", "dedicated", "x86", 2, 8, 80, allLocations),
	serverType(104, "cx22", "CX22", "shared", "x86", 2, 4, 40, euLocations),
	serverType(105, "cx32", "CX32", "shared", "x86", 4, 8, 80, euLocations),
	serverType(106, "cx42", "CX42", "shared", "x86", 8, 16, 160, euLocations),
	serverType(107, "cx52", "CX52", "shared", "x86", 16, 32, 320, euLocations),
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
