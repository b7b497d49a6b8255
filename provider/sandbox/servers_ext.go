package sandbox

import (
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

// Server actions beyond power, rebuild, type and protection, and the parts
// of a server's schema that other resources make.

// defaultBackupWindow is the window enable_backup chooses.
const defaultBackupWindow = "22-02"

func (s *Server) serverSchemaExt(srv *server, out *schema.Server) {
	if srv.IPv4 != "" {
		id := srv.ID*2 + 1
		if srv.PrimaryV4 != 0 {
			id = srv.PrimaryV4
		}
		ptr := "static." + srv.IPv4 + ".clients.your-server.de"
		if v, ok := srv.RDNS[srv.IPv4]; ok {
			ptr = v
		}
		out.PublicNet.IPv4 = schema.ServerPublicNetIPv4{ID: id, IP: srv.IPv4, DNSPtr: ptr}
	}
	if srv.IPv6 != "" {
		id := srv.ID * 2
		if srv.PrimaryV6 != 0 {
			id = srv.PrimaryV6
		}
		out.PublicNet.IPv6 = schema.ServerPublicNetIPv6{ID: id, IP: srv.IPv6, DNSPtr: []schema.ServerPublicNetIPv6DNSPtr{}}
		for _, k := range sortedStrings(srv.RDNS) {
			if strings.Contains(k, ":") {
				out.PublicNet.IPv6.DNSPtr = append(out.PublicNet.IPv6.DNSPtr, schema.ServerPublicNetIPv6DNSPtr{IP: k, DNSPtr: srv.RDNS[k]})
			}
		}
	}
	for _, id := range s.serverFirewalls(srv) {
		out.PublicNet.Firewalls = append(out.PublicNet.Firewalls, schema.ServerFirewall{ID: id, Status: "applied"})
	}
	for _, id := range sortedKeys(s.st.FloatingIPs) {
		if s.st.FloatingIPs[id].Server == srv.ID {
			out.PublicNet.FloatingIPs = append(out.PublicNet.FloatingIPs, id)
		}
	}
	for _, pn := range srv.PrivateNets {
		out.PrivateNet = append(out.PrivateNet, schema.ServerPrivateNet{
			Network: pn.Network, IP: pn.IP, AliasIPs: nonNil(pn.AliasIPs),
			MACAddress: fmt.Sprintf("86:00:%02x:%02x:%02x:%02x", byte(pn.Network), byte(srv.ID>>16), byte(srv.ID>>8), byte(srv.ID)),
		})
	}
	for _, id := range sortedKeys(s.st.Volumes) {
		if s.st.Volumes[id].Server == srv.ID {
			out.Volumes = append(out.Volumes, id)
		}
	}
	if srv.BackupWindow != "" {
		w := srv.BackupWindow
		out.BackupWindow = &w
	}
}

// serverActionExt serves the added server actions; ok is false for others.
func (s *Server) serverActionExt(srv *server, cmd string, r *http.Request) (status int, body any, aerr *apiError, ok bool) {
	type result struct {
		Action schema.Action `json:"action"`
	}
	done := func(a *action) (int, any, *apiError, bool) {
		return http.StatusCreated, result{s.actionSchema(a)}, nil, true
	}
	fail := func(e *apiError) (int, any, *apiError, bool) { return 0, nil, e, true }
	switch cmd {
	case "attach_to_network", "detach_from_network", "change_alias_ips", "enable_backup", "disable_backup", "create_image", "change_dns_ptr":
	default:
		return 0, nil, nil, false
	}
	if s.locked(srv.ID) {
		return fail(errLocked())
	}
	switch cmd {
	case "attach_to_network":
		var req schema.ServerActionAttachToNetworkRequest
		if aerr := decode(r, &req); aerr != nil {
			return fail(aerr)
		}
		n := s.st.Networks[req.Network]
		if n == nil {
			return fail(errNotFound("network"))
		}
		if req.IPRange != nil {
			return fail(errInvalid("ip_range", "not supported by the sandbox"))
		}
		ip := ""
		if req.IP != nil {
			ip = *req.IP
		}
		var aliases []string
		for _, a := range req.AliasIPs {
			if a != nil {
				aliases = append(aliases, *a)
			}
		}
		if aerr := s.attach(srv, n, ip, aliases); aerr != nil {
			return fail(aerr)
		}
		return done(s.serverAct(srv, "attach_to_network", ref("network", n.ID)))
	case "detach_from_network":
		var req schema.ServerActionDetachFromNetworkRequest
		if aerr := decode(r, &req); aerr != nil {
			return fail(aerr)
		}
		if s.st.Networks[req.Network] == nil {
			return fail(errNotFound("network"))
		}
		if srv.privNet(req.Network) == nil {
			return fail(errCode(http.StatusConflict, "server_not_attached_to_network", "server is not attached to network "+itoa(req.Network)))
		}
		if srv.IPv4 == "" && srv.IPv6 == "" && len(srv.PrivateNets) == 1 {
			return fail(errInvalid("network", "a server without public interfaces must stay in a network"))
		}
		for i := range srv.PrivateNets {
			if srv.PrivateNets[i].Network == req.Network {
				srv.PrivateNets = append(srv.PrivateNets[:i], srv.PrivateNets[i+1:]...)
				break
			}
		}
		return done(s.serverAct(srv, "detach_from_network", ref("network", req.Network)))
	case "change_alias_ips":
		var req schema.ServerActionChangeAliasIPsRequest
		if aerr := decode(r, &req); aerr != nil {
			return fail(aerr)
		}
		n := s.st.Networks[req.Network]
		if n == nil {
			return fail(errNotFound("network"))
		}
		pn := srv.privNet(n.ID)
		if pn == nil {
			return fail(errCode(http.StatusConflict, "server_not_attached_to_network", "server is not attached to network "+itoa(n.ID)))
		}
		// Check the new aliases as a fresh attachment at the same address.
		old := *pn
		srv.PrivateNets = slices.DeleteFunc(srv.PrivateNets, func(p privNet) bool { return p.Network == n.ID })
		if aerr := s.attach(srv, n, old.IP, req.AliasIPs); aerr != nil {
			srv.PrivateNets = append(srv.PrivateNets, old)
			return fail(aerr)
		}
		return done(s.serverAct(srv, "change_alias_ips", ref("network", n.ID)))
	case "enable_backup", "disable_backup":
		var req struct{}
		if aerr := decode(r, &req); aerr != nil {
			return fail(aerr)
		}
		if cmd == "enable_backup" {
			srv.BackupWindow = defaultBackupWindow
		} else {
			srv.BackupWindow = ""
		}
		return done(s.serverAct(srv, cmd))
	case "change_dns_ptr":
		var req schema.ServerActionChangeDNSPtrRequest
		if aerr := decode(r, &req); aerr != nil {
			return fail(aerr)
		}
		x := net.ParseIP(req.IP)
		_, v6, _ := net.ParseCIDR(srv.IPv6)
		switch {
		case x == nil:
			return fail(errInvalid("ip", "must be an IP address"))
		case x.To4() != nil && x.String() != srv.IPv4:
			return fail(errInvalid("ip", req.IP+" is not the server's IPv4 address"))
		case x.To4() == nil && (v6 == nil || !v6.Contains(x)):
			return fail(errInvalid("ip", req.IP+" is not within the server's IPv6 network"))
		}
		if req.DNSPtr != nil && *req.DNSPtr == "" {
			return fail(errInvalid("dns_ptr", "must not be empty; send null to reset"))
		}
		if srv.RDNS == nil {
			srv.RDNS = map[string]string{}
		}
		if req.DNSPtr == nil {
			delete(srv.RDNS, x.String())
		} else {
			srv.RDNS[x.String()] = *req.DNSPtr
		}
		return done(s.serverAct(srv, "change_dns_ptr"))
	case "create_image":
		var req schema.ServerActionCreateImageRequest
		if aerr := decode(r, &req); aerr != nil {
			return fail(aerr)
		}
		if req.Type != nil && *req.Type != "snapshot" && *req.Type != "backup" {
			return fail(errInvalid("type", "must be snapshot or backup"))
		}
		if aerr := checkLabels(req.Labels); aerr != nil {
			return fail(aerr)
		}
		st := findServerType(schema.IDOrName{Name: srv.ServerType})
		im := &snapshot{ID: s.nextID() + imageIDBase, Server: srv.ID, ServerName: srv.Name, Arch: st.Architecture, Disk: srv.PrimaryDisk,
			Labels: labelsOf(req.Labels), Created: s.created()}
		if req.Description != nil {
			im.Description = *req.Description
		}
		a := s.serverAct(srv, "create_image")
		a.Resources = []schema.ActionResourceReference{ref("image", im.ID)}
		im.Action = a.ID
		s.st.Images[im.ID] = im
		return http.StatusCreated, schema.ServerActionCreateImageResponse{Action: s.actionSchema(a), Image: s.snapshotSchema(im)}, nil, true
	}
	return 0, nil, nil, false
}

// imageIDBase keeps snapshot ids clear of the catalogue's image ids.
const imageIDBase = 1_000_000

func (s *Server) snapshotSchema(im *snapshot) schema.Image {
	status := "available"
	if a := s.st.Actions[im.Action]; a != nil && a.Status == actionRunning {
		status = "creating"
	}
	created := im.Created
	size := float32(im.Disk) / 4
	return schema.Image{ID: im.ID, Status: status, Type: "snapshot", Description: im.Description, ImageSize: &size,
		DiskSize: float32(im.Disk), Created: &created, CreatedFrom: &schema.ImageCreatedFrom{ID: im.Server, Name: im.ServerName},
		OSFlavor: "unknown", Architecture: im.Arch, Labels: nonNilMap(im.Labels)}
}

// lookupSnapshot returns the snapshot named by the {id} path value; the
// catalogue's system images cannot be changed.
func (s *Server) lookupSnapshot(r *http.Request) (*snapshot, *apiError) {
	id, aerr := pathID(r, "id", "image")
	if aerr != nil {
		return nil, aerr
	}
	if im := s.st.Images[id]; im != nil {
		return im, nil
	}
	if imageByID(id) != nil {
		return nil, errCode(http.StatusForbidden, "forbidden", "system images cannot be changed")
	}
	return nil, errNotFound("image")
}

func (s *Server) updateImage(r *http.Request) (int, any, *apiError) {
	im, aerr := s.lookupSnapshot(r)
	if aerr != nil {
		return 0, nil, aerr
	}
	var req schema.ImageUpdateRequest
	if aerr := decode(r, &req); aerr != nil {
		return 0, nil, aerr
	}
	if req.Type != nil && *req.Type != "snapshot" {
		return 0, nil, errInvalid("type", "a snapshot can only stay a snapshot")
	}
	if aerr := checkLabels(req.Labels); aerr != nil {
		return 0, nil, aerr
	}
	if req.Description != nil {
		im.Description = *req.Description
	}
	setLabels(&im.Labels, req.Labels)
	return http.StatusOK, schema.ImageUpdateResponse{Image: s.snapshotSchema(im)}, nil
}

func (s *Server) deleteImage(r *http.Request) (int, any, *apiError) {
	im, aerr := s.lookupSnapshot(r)
	if aerr != nil {
		return 0, nil, aerr
	}
	delete(s.st.Images, im.ID)
	return http.StatusNoContent, nil, nil
}
