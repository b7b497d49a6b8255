package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

func startSandbox(t *testing.T, opts Options) (*Server, string, *hcloud.Client) {
	t.Helper()
	opts.Token = "tok"
	if opts.ActionDuration == 0 {
		opts.ActionDuration = 10 * time.Millisecond
	}
	sb, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	url, err := sb.Start("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	return sb, url, hcloud.NewClient(hcloud.WithEndpoint(url), hcloud.WithToken("tok"),
		hcloud.WithPollOpts(hcloud.PollOpts{BackoffFunc: hcloud.ConstantBackoff(5 * time.Millisecond)}))
}

// raw sends a JSON request and returns the status and body.
func raw(t *testing.T, method, url, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, bytes.NewBufferString(body))
	req.Header.Set("Authorization", "Bearer tok")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestCLIRequestShapes: the requests the official hcloud CLI sends, as
// raw JSON (automount false and empty lists on server create, which the
// sandbox once refused) and through hcloud-go as the CLI builds them.
func TestCLIRequestShapes(t *testing.T) {
	_, url, c := startSandbox(t, Options{})
	code, body := raw(t, "POST", url+"/servers", `{"name":"cli-1","server_type":"cx22","image":"debian-12","start_after_create":true,
		"automount":false,"volumes":[],"networks":[],"firewalls":[],"ssh_keys":[],"labels":{},
		"public_net":{"enable_ipv4":true,"enable_ipv6":true}}`)
	if code != http.StatusCreated {
		t.Fatalf("create as the CLI: %d %s", code, body)
	}
	ctx := context.Background()
	st, _, _ := c.ServerType.GetByName(ctx, "cx22")
	im, _, _ := c.Image.GetByNameAndArchitecture(ctx, "debian-12", hcloud.ArchitectureX86)
	off := false
	res, _, err := c.Server.Create(ctx, hcloud.ServerCreateOpts{Name: "cli-2", ServerType: st, Image: im, StartAfterCreate: &off,
		Automount: &off, Labels: map[string]string{}, PublicNet: &hcloud.ServerCreatePublicNet{EnableIPv4: true, EnableIPv6: true}})
	if err != nil {
		t.Fatalf("create through hcloud-go as the CLI: %v", err)
	}
	if err := c.Action.WaitFor(ctx, append(res.NextActions, res.Action)...); err != nil {
		t.Fatal(err)
	}
	// list -o json and -l: label selectors and pages on every kind.
	for i := range 3 {
		code, body := raw(t, "POST", url+"/volumes", fmt.Sprintf(`{"name":"v%d","size":10,"location":"fsn1","labels":{"n":"%d"}}`, i, i%2))
		if code != http.StatusCreated {
			t.Fatalf("volume: %d %s", code, body)
		}
	}
	code, body = raw(t, "GET", url+"/volumes?label_selector=n%3D0&per_page=1&page=2", "")
	var vl struct {
		schema.VolumeListResponse
		Meta schema.Meta `json:"meta"`
	}
	if code != 200 || json.Unmarshal(body, &vl) != nil || len(vl.Volumes) != 1 || vl.Volumes[0].Name != "v2" || vl.Meta.Pagination.TotalEntries != 2 {
		t.Fatalf("volumes page 2 of n=0: %d %s", code, body)
	}
	all, err := c.Volume.AllWithOpts(ctx, hcloud.VolumeListOpts{ListOpts: hcloud.ListOpts{LabelSelector: "n!=0"}})
	if err != nil || len(all) != 1 || all[0].Name != "v1" {
		t.Fatalf("n!=0: %v %v", all, err)
	}
	// describe by name, change-type after poweroff, labels via update.
	s, _, err := c.Server.Get(ctx, "cli-2")
	if err != nil || s == nil {
		t.Fatal(err)
	}
	cx32, _, _ := c.ServerType.GetByName(ctx, "cx32")
	act, _, err := c.Server.ChangeType(ctx, s, hcloud.ServerChangeTypeOpts{ServerType: cx32, UpgradeDisk: false})
	if err != nil {
		t.Fatalf("change-type: %v", err)
	}
	c.Action.WaitFor(ctx, act)
	// An unknown field is still refused (the decoder is strict).
	if code, body := raw(t, "POST", url+"/volumes", `{"name":"x","size":10,"location":"fsn1","bogus":1}`); code != 400 || !bytes.Contains(body, []byte("json_error")) {
		t.Fatalf("unknown field: %d %s", code, body)
	}
}

// TestResourceStatePersists: every kind survives a restart from the state
// file.
func TestResourceStatePersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	sb, _, c := startSandbox(t, Options{StatePath: path})
	ctx := context.Background()
	_, any4, _ := net.ParseCIDR("0.0.0.0/0")
	port := "22"
	if _, _, err := c.Firewall.Create(ctx, hcloud.FirewallCreateOpts{Name: "fw", Rules: []hcloud.FirewallRule{{Direction: "in", Protocol: "tcp", Port: &port, SourceIPs: []net.IPNet{*any4}}}}); err != nil {
		t.Fatal(err)
	}
	_, rng, _ := net.ParseCIDR("10.0.0.0/16")
	_, sub, _ := net.ParseCIDR("10.0.1.0/24")
	if _, _, err := c.Network.Create(ctx, hcloud.NetworkCreateOpts{Name: "net", IPRange: rng,
		Subnets: []hcloud.NetworkSubnet{{Type: "cloud", IPRange: sub, NetworkZone: "eu-central"}}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Volume.Create(ctx, hcloud.VolumeCreateOpts{Name: "vol", Size: 10, Location: &hcloud.Location{Name: "fsn1"}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.PrimaryIP.Create(ctx, hcloud.PrimaryIPCreateOpts{Name: "pip", Type: "ipv4", Location: "fsn1", AssigneeType: "server"}); err != nil {
		t.Fatal(err)
	}
	name := "fip"
	if _, _, err := c.FloatingIP.Create(ctx, hcloud.FloatingIPCreateOpts{Name: &name, Type: "ipv6", HomeLocation: &hcloud.Location{Name: "hel1"}}); err != nil {
		t.Fatal(err)
	}
	sb.Close()

	_, _, c = startSandbox(t, Options{StatePath: path})
	if f, _, _ := c.Firewall.GetByName(ctx, "fw"); f == nil || len(f.Rules) != 1 || *f.Rules[0].Port != "22" {
		t.Fatalf("firewall after restart: %+v", f)
	}
	if n, _, _ := c.Network.GetByName(ctx, "net"); n == nil || len(n.Subnets) != 1 {
		t.Fatalf("network after restart: %+v", n)
	}
	if v, _, _ := c.Volume.GetByName(ctx, "vol"); v == nil || v.Size != 10 {
		t.Fatalf("volume after restart: %+v", v)
	}
	if p, _, _ := c.PrimaryIP.GetByName(ctx, "pip"); p == nil || p.IP == nil {
		t.Fatalf("primary IP after restart: %+v", p)
	}
	if f, _, _ := c.FloatingIP.GetByName(ctx, "fip"); f == nil || f.HomeLocation.Name != "hel1" {
		t.Fatalf("floating IP after restart: %+v", f)
	}
}

// TestSnapshotsAndIPRange: image update/delete as `hcloud image` sends
// them (snapshots only), and a network's range grown.
func TestSnapshotsAndIPRange(t *testing.T) {
	_, _, c := startSandbox(t, Options{})
	ctx := context.Background()
	off := false
	res, _, err := c.Server.Create(ctx, hcloud.ServerCreateOpts{Name: "s1", ServerType: &hcloud.ServerType{Name: "cx22"},
		Image: &hcloud.Image{Name: "debian-12"}, StartAfterCreate: &off})
	if err != nil {
		t.Fatal(err)
	}
	c.Action.WaitFor(ctx, res.Action)
	img, _, err := c.Server.CreateImage(ctx, res.Server, &hcloud.ServerCreateImageOpts{Type: hcloud.ImageTypeSnapshot})
	if err != nil {
		t.Fatal(err)
	}
	if img.Image.Status != hcloud.ImageStatusCreating {
		t.Fatalf("snapshot status while its action runs: %s", img.Image.Status)
	}
	c.Action.WaitFor(ctx, img.Action)
	desc := "kept"
	up, _, err := c.Image.Update(ctx, img.Image, hcloud.ImageUpdateOpts{Description: &desc, Labels: map[string]string{"keep": "yes"}})
	if err != nil || up.Description != "kept" || up.Labels["keep"] != "yes" {
		t.Fatalf("update: %+v %v", up, err)
	}
	if sel, _ := c.Image.AllWithOpts(ctx, hcloud.ImageListOpts{ListOpts: hcloud.ListOpts{LabelSelector: "keep=yes"}}); len(sel) != 1 {
		t.Fatalf("select snapshots: %v", sel)
	}
	sys, _, _ := c.Image.GetByNameAndArchitecture(ctx, "debian-12", hcloud.ArchitectureX86)
	if _, err := c.Image.Delete(ctx, sys); !hcloud.IsError(err, hcloud.ErrorCodeForbidden) {
		t.Fatalf("delete a system image: %v", err)
	}
	if _, err := c.Image.Delete(ctx, img.Image); err != nil {
		t.Fatal(err)
	}
	if im, _, _ := c.Image.GetByID(ctx, img.Image.ID); im != nil {
		t.Fatal("snapshot still there")
	}

	_, r16, _ := net.ParseCIDR("10.0.0.0/16")
	_, r15, _ := net.ParseCIDR("10.0.0.0/15")
	_, r24, _ := net.ParseCIDR("10.0.0.0/24")
	n, _, err := c.Network.Create(ctx, hcloud.NetworkCreateOpts{Name: "n", IPRange: r16})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Network.ChangeIPRange(ctx, n, hcloud.NetworkChangeIPRangeOpts{IPRange: r24}); !hcloud.IsError(err, hcloud.ErrorCodeInvalidInput) {
		t.Fatalf("shrink: %v", err)
	}
	a, _, err := c.Network.ChangeIPRange(ctx, n, hcloud.NetworkChangeIPRangeOpts{IPRange: r15})
	if err != nil {
		t.Fatal(err)
	}
	c.Action.WaitFor(ctx, a)
	if n, _, _ := c.Network.GetByID(ctx, n.ID); n.IPRange.String() != "10.0.0.0/15" {
		t.Fatalf("range %s", n.IPRange)
	}
}

// TestChangeAliasIPs: `hcloud server change-alias-ips`.
func TestChangeAliasIPs(t *testing.T) {
	_, _, c := startSandbox(t, Options{})
	ctx := context.Background()
	_, rng, _ := net.ParseCIDR("10.0.0.0/16")
	_, sub, _ := net.ParseCIDR("10.0.1.0/24")
	n, _, err := c.Network.Create(ctx, hcloud.NetworkCreateOpts{Name: "n", IPRange: rng,
		Subnets: []hcloud.NetworkSubnet{{Type: "cloud", IPRange: sub, NetworkZone: "eu-central"}}})
	if err != nil {
		t.Fatal(err)
	}
	res, _, err := c.Server.Create(ctx, hcloud.ServerCreateOpts{Name: "s", ServerType: &hcloud.ServerType{Name: "cx22"},
		Image: &hcloud.Image{Name: "debian-12"}, Networks: []*hcloud.Network{n}})
	if err != nil {
		t.Fatal(err)
	}
	c.Action.WaitFor(ctx, append(res.NextActions, res.Action)...)
	a, _, err := c.Server.ChangeAliasIPs(ctx, res.Server, hcloud.ServerChangeAliasIPsOpts{Network: n, AliasIPs: []net.IP{net.ParseIP("10.0.1.50")}})
	if err != nil {
		t.Fatal(err)
	}
	c.Action.WaitFor(ctx, a)
	s, _, _ := c.Server.GetByID(ctx, res.Server.ID)
	if len(s.PrivateNet) != 1 || len(s.PrivateNet[0].Aliases) != 1 || s.PrivateNet[0].Aliases[0].String() != "10.0.1.50" || s.PrivateNet[0].IP.String() != "10.0.1.2" {
		t.Fatalf("private net: %+v", s.PrivateNet)
	}
	if _, _, err := c.Server.ChangeAliasIPs(ctx, res.Server, hcloud.ServerChangeAliasIPsOpts{Network: n, AliasIPs: []net.IP{net.ParseIP("10.9.0.1")}}); !hcloud.IsError(err, hcloud.ErrorCodeInvalidInput) {
		t.Fatalf("alias outside the subnets: %v", err)
	}
	if s, _, _ := c.Server.GetByID(ctx, res.Server.ID); len(s.PrivateNet) != 1 || len(s.PrivateNet[0].Aliases) != 1 {
		t.Fatalf("a refused change kept the old aliases? %+v", s.PrivateNet)
	}
}
