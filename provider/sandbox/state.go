package sandbox

import (
	"encoding/json"

	"fmt"
	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// stateVersion is the version of the state file format.
const stateVersion = 1

// state is everything the sandbox remembers; it is the JSON state file.
type state struct {
	Version      int                 `json:"version"`
	NextServerID int64               `json:"next_server_id"`
	NextActionID int64               `json:"next_action_id"`
	NextOtherID  int64               `json:"next_other_id"`
	NextIP       int                 `json:"next_ip"`
	Servers      map[int64]*server   `json:"servers"`
	Actions      map[int64]*action   `json:"actions"`
	SSHKeys      map[int64]*sshKey   `json:"ssh_keys"`
	Firewalls    map[int64]*firewall `json:"firewalls"`
	Networks     map[int64]*network  `json:"networks"`
	// Added with volumes and IPs; absent in older state files.
	Volumes     map[int64]*volume     `json:"volumes"`
	PrimaryIPs  map[int64]*primaryIP  `json:"primary_ips"`
	FloatingIPs map[int64]*floatingIP `json:"floating_ips"`
	Images      map[int64]*snapshot   `json:"images"`
}

type server struct {
	ID          int64             `json:"id"`
	Name        string            `json:"name"`
	Status      string            `json:"status"`
	Created     time.Time         `json:"created"`
	ServerType  string            `json:"server_type"`
	ImageID     int64             `json:"image_id"`
	Location    string            `json:"location"`
	Labels      map[string]string `json:"labels"`
	ProtDelete  bool              `json:"protect_delete"`
	ProtRebuild bool              `json:"protect_rebuild"`
	IPv4        string            `json:"ipv4,omitempty"`
	IPv6        string            `json:"ipv6,omitempty"`
	PrimaryDisk int               `json:"primary_disk"`
	SSHKeys     []int64           `json:"ssh_keys,omitempty"`
	Networks    []int64           `json:"networks,omitempty"` // older state files; see loadState
	Firewalls   []int64           `json:"firewalls,omitempty"`
	// Added with the other kinds.
	PrivateNets  []privNet         `json:"private_nets,omitempty"`
	BackupWindow string            `json:"backup_window,omitempty"`
	RDNS         map[string]string `json:"rdns,omitempty"` // ip -> ptr, when not the default
	PrimaryV4    int64             `json:"primary_ipv4,omitempty"`
	PrimaryV6    int64             `json:"primary_ipv6,omitempty"`
}

type privNet struct {
	Network  int64    `json:"network"`
	IP       string   `json:"ip"`
	AliasIPs []string `json:"alias_ips,omitempty"`
}

// effect is what an action does to its server when it finishes.
type effect struct {
	Status      string `json:"status,omitempty"`
	Delete      bool   `json:"delete,omitempty"`
	ServerType  string `json:"server_type,omitempty"`
	UpgradeDisk bool   `json:"upgrade_disk,omitempty"`
	ImageID     int64  `json:"image_id,omitempty"`
	ProtDelete  *bool  `json:"protect_delete,omitempty"`
	ProtRebuild *bool  `json:"protect_rebuild,omitempty"`
}

type action struct {
	ID       int64      `json:"id"`
	Command  string     `json:"command"`
	Status   string     `json:"status"`
	Started  time.Time  `json:"started"`
	Due      time.Time  `json:"due"`
	Finished *time.Time `json:"finished,omitempty"`
	ServerID int64      `json:"server_id"`
	// Resources are the resources of an action on something other than a
	// server (ServerID 0); such an action has no effect when it finishes:
	// its change was made when it started.
	Resources []schema.ActionResourceReference `json:"resources,omitempty"`
	ErrCode   string                           `json:"error_code,omitempty"`
	ErrMsg    string                           `json:"error_message,omitempty"`
	Effect    effect                           `json:"effect"`
}

type sshKey struct {
	ID          int64             `json:"id"`
	Name        string            `json:"name"`
	Fingerprint string            `json:"fingerprint"`
	PublicKey   string            `json:"public_key"`
	Labels      map[string]string `json:"labels"`
	Created     time.Time         `json:"created"`
}

type firewall struct {
	ID        int64                 `json:"id"`
	Name      string                `json:"name"`
	Labels    map[string]string     `json:"labels"`
	Created   time.Time             `json:"created"`
	Rules     []schema.FirewallRule `json:"rules,omitempty"`
	Selectors []string              `json:"label_selectors,omitempty"`
}

type network struct {
	ID         int64                  `json:"id"`
	Name       string                 `json:"name"`
	IPRange    string                 `json:"ip_range"`
	Labels     map[string]string      `json:"labels"`
	Created    time.Time              `json:"created"`
	Subnets    []schema.NetworkSubnet `json:"subnets,omitempty"`
	Routes     []schema.NetworkRoute  `json:"routes,omitempty"`
	ProtDelete bool                   `json:"protect_delete,omitempty"`
}

type volume struct {
	ID         int64             `json:"id"`
	Name       string            `json:"name"`
	Size       int               `json:"size"`
	Location   string            `json:"location"`
	Server     int64             `json:"server,omitempty"`
	Format     string            `json:"format,omitempty"`
	Labels     map[string]string `json:"labels"`
	ProtDelete bool              `json:"protect_delete,omitempty"`
	Created    time.Time         `json:"created"`
}

type primaryIP struct {
	ID         int64             `json:"id"`
	Name       string            `json:"name"`
	Type       string            `json:"type"`
	IP         string            `json:"ip"`
	Location   string            `json:"location"`
	Assignee   int64             `json:"assignee,omitempty"`
	AutoDelete bool              `json:"auto_delete,omitempty"`
	Labels     map[string]string `json:"labels"`
	ProtDelete bool              `json:"protect_delete,omitempty"`
	RDNS       map[string]string `json:"rdns,omitempty"`
	Created    time.Time         `json:"created"`
}

type floatingIP struct {
	ID          int64             `json:"id"`
	Name        string            `json:"name"`
	Type        string            `json:"type"`
	IP          string            `json:"ip"`
	Location    string            `json:"location"`
	Server      int64             `json:"server,omitempty"`
	Description string            `json:"description,omitempty"`
	Labels      map[string]string `json:"labels"`
	ProtDelete  bool              `json:"protect_delete,omitempty"`
	RDNS        map[string]string `json:"rdns,omitempty"`
	Created     time.Time         `json:"created"`
}

// snapshot is an image made by create_image.
type snapshot struct {
	ID          int64             `json:"id"`
	Description string            `json:"description"`
	Server      int64             `json:"server"`
	ServerName  string            `json:"server_name"`
	Arch        string            `json:"architecture"`
	Disk        int               `json:"disk"`
	Labels      map[string]string `json:"labels"`
	Created     time.Time         `json:"created"`
	Action      int64             `json:"action"` // available once it finished
}

func newState() *state {
	return &state{
		Version:      stateVersion,
		NextServerID: 100001,
		NextActionID: 500001,
		NextOtherID:  2001,
		Servers:      map[int64]*server{},
		Actions:      map[int64]*action{},
		SSHKeys:      map[int64]*sshKey{},
		Firewalls:    map[int64]*firewall{},
		Networks:     map[int64]*network{},
		Volumes:      map[int64]*volume{},
		PrimaryIPs:   map[int64]*primaryIP{},
		FloatingIPs:  map[int64]*floatingIP{},
		Images:       map[int64]*snapshot{},
	}
}

// loadState reads the state file at path; a missing file is an empty state.
func loadState(path string) (*state, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return newState(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("sandbox: read state: %w", err)
	}
	st := newState()
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("sandbox: state file %s: %w", path, err)
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("sandbox: state file %s: version %d, want %d", path, st.Version, stateVersion)
	}
	for _, m := range []bool{st.Servers == nil, st.Actions == nil, st.SSHKeys == nil, st.Firewalls == nil, st.Networks == nil} {
		if m {
			return nil, fmt.Errorf("sandbox: state file %s: missing tables", path)
		}
	}
	// Tables and fields added later.
	if st.Volumes == nil {
		st.Volumes = map[int64]*volume{}
	}
	if st.PrimaryIPs == nil {
		st.PrimaryIPs = map[int64]*primaryIP{}
	}
	if st.FloatingIPs == nil {
		st.FloatingIPs = map[int64]*floatingIP{}
	}
	if st.Images == nil {
		st.Images = map[int64]*snapshot{}
	}
	for _, srv := range st.Servers {
		for i, id := range srv.Networks {
			srv.PrivateNets = append(srv.PrivateNets, privNet{Network: id, IP: fmt.Sprintf("10.0.%d.%d", i, 2+srv.ID%250)})
		}
		srv.Networks = nil
	}
	return st, nil
}

// save writes the state to path atomically: a temporary file in the same
// directory is written, synced and renamed over path, and the directory is
// synced, so a crash leaves either the old or the new state.
func (st *state) save(path string) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("sandbox: save state: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("sandbox: save state: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sandbox: save state: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("sandbox: save state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("sandbox: save state: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// sortedKeys returns the keys of m in increasing order.
func sortedKeys[V any](m map[int64]V) []int64 {
	keys := make([]int64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}
