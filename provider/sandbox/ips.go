package sandbox

import (
	"fmt"
	"maps"
	"net"
	"net/http"
	"strings"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

// Primary IPs and floating IPs. Addresses come from 198.18.0.0/15 and
// 2001:db8:ff00::/40 (benchmark and documentation ranges), so they never
// collide with the servers' own addresses.

func (s *Server) allocPublicIP(typ string) string {
	n := s.st.NextIP
	s.st.NextIP++
	if typ == "ipv6" {
		return fmt.Sprintf("2001:db8:ff%02x:%x::/64", byte(n>>16), uint16(n))
	}
	return fmt.Sprintf("198.18.%d.%d", (n/250)%256, 1+n%250)
}

func dnsPtrs(ip string, rdns map[string]string) []schema.PrimaryIPDNSPTR {
	out := []schema.PrimaryIPDNSPTR{}
	if !strings.Contains(ip, "/") {
		ptr := "static." + ip + ".clients.your-server.de"
		if v, ok := rdns[ip]; ok {
			ptr = v
		}
		if ptr != "" {
			out = append(out, schema.PrimaryIPDNSPTR{IP: ip, DNSPtr: ptr})
		}
		return out
	}
	for _, k := range sortedStrings(rdns) {
		if rdns[k] != "" {
			out = append(out, schema.PrimaryIPDNSPTR{IP: k, DNSPtr: rdns[k]})
		}
	}
	return out
}

func sortedStrings(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := range keys {
		for j := i + 1; j < len(keys); j++ {
			if keys[j] < keys[i] {
				keys[i], keys[j] = keys[j], keys[i]
			}
		}
	}
	return keys
}

// checkPtrIP checks that ip belongs to the address (or IPv6 network) addr.
func checkPtrIP(addr, ip string) *apiError {
	x := net.ParseIP(ip)
	if x == nil {
		return errInvalid("ip", "must be an IP address")
	}
	if _, n, err := net.ParseCIDR(addr); err == nil {
		if !n.Contains(x) {
			return errInvalid("ip", ip+" is not within "+addr)
		}
		return nil
	}
	if !x.Equal(net.ParseIP(addr)) {
		return errInvalid("ip", ip+" is not "+addr)
	}
	return nil
}

func setPtr(m *map[string]string, ip string, ptr *string) {
	if *m == nil {
		*m = map[string]string{}
	}
	key := net.ParseIP(ip).String()
	if ptr == nil {
		if strings.Contains(key, ":") {
			delete(*m, key)
		} else {
			delete(*m, key) // back to the default
		}
		return
	}
	(*m)[key] = *ptr
}

// Primary IPs.

func (s *Server) primaryIPSchema(p *primaryIP) schema.PrimaryIP {
	out := schema.PrimaryIP{ID: p.ID, IP: strings.TrimSuffix(p.IP, "/64"), Labels: nonNilMap(p.Labels), Name: p.Name, Type: p.Type,
		Protection: schema.PrimaryIPProtection{Delete: p.ProtDelete}, DNSPtr: dnsPtrs(p.IP, p.RDNS), AssigneeType: "server",
		AutoDelete: p.AutoDelete, Created: p.Created, Location: *findLocation(p.Location)}
	if p.Type == "ipv6" {
		out.IP = p.IP
	}
	if p.Assignee != 0 {
		id := p.Assignee
		out.AssigneeID = &id
	}
	return out
}

func (s *Server) listPrimaryIPs(r *http.Request) (int, any, *apiError) {
	var all []schema.PrimaryIP
	for _, id := range sortedKeys(s.st.PrimaryIPs) {
		all = append(all, s.primaryIPSchema(s.st.PrimaryIPs[id]))
	}
	ip := r.URL.Query().Get("ip")
	return listPaged(r, all, func(p schema.PrimaryIP) string { return p.Name }, func(p schema.PrimaryIP) map[string]string { return p.Labels },
		func(p schema.PrimaryIP) bool { return ip == "" || p.IP == ip },
		func(p []schema.PrimaryIP, m schema.Meta) any {
			return struct {
				schema.PrimaryIPListResponse
				Meta schema.Meta `json:"meta"`
			}{schema.PrimaryIPListResponse{PrimaryIPs: p}, m}
		})
}

// checkAssignPrimary checks that p can be assigned to srv.
func (s *Server) checkAssignPrimary(p *primaryIP, srv *server, created bool) *apiError {
	if p.Assignee != 0 {
		return errCode(http.StatusConflict, "primary_ip_already_assigned", "primary IP is already assigned to server "+itoa(p.Assignee))
	}
	if p.Location != srv.Location {
		return errCode(http.StatusUnprocessableEntity, "primary_ip_datacenter_mismatch", "primary IP is in "+p.Location+", the server in "+srv.Location)
	}
	if !created && srv.Status != statusOff {
		return errCode(http.StatusConflict, "server_not_stopped", "server must be stopped to change its primary IPs")
	}
	if p.Type == "ipv4" && srv.IPv4 != "" {
		return errCode(http.StatusConflict, "server_has_ipv4", "server already has an IPv4 address")
	}
	if p.Type == "ipv6" && srv.IPv6 != "" {
		return errCode(http.StatusConflict, "server_has_ipv6", "server already has an IPv6 address")
	}
	return nil
}

func (s *Server) assignPrimary(p *primaryIP, srv *server) {
	p.Assignee = srv.ID
	if p.Type == "ipv4" {
		srv.IPv4, srv.PrimaryV4 = p.IP, p.ID
	} else {
		srv.IPv6, srv.PrimaryV6 = p.IP, p.ID
	}
}

func (s *Server) unassignPrimary(p *primaryIP) {
	if srv := s.st.Servers[p.Assignee]; srv != nil {
		if srv.PrimaryV4 == p.ID {
			srv.IPv4, srv.PrimaryV4 = "", 0
		}
		if srv.PrimaryV6 == p.ID {
			srv.IPv6, srv.PrimaryV6 = "", 0
		}
	}
	p.Assignee = 0
}

func (s *Server) createPrimaryIP(r *http.Request) (int, any, *apiError) {
	var req schema.PrimaryIPCreateRequest
	if aerr := decode(r, &req); aerr != nil {
		return 0, nil, aerr
	}
	if aerr := checkName(req.Name); aerr != nil {
		return 0, nil, aerr
	}
	if req.Type != "ipv4" && req.Type != "ipv6" {
		return 0, nil, errInvalid("type", "must be ipv4 or ipv6")
	}
	if req.AssigneeType != "" && req.AssigneeType != "server" {
		return 0, nil, errInvalid("assignee_type", "must be server")
	}
	if aerr := checkLabels(req.Labels); aerr != nil {
		return 0, nil, aerr
	}
	if (req.AssigneeID == nil) == (req.Location == "") {
		return 0, nil, errInvalid("location", "give exactly one of assignee_id and location")
	}
	if nameInUse(s.st.PrimaryIPs, req.Name, 0) {
		return 0, nil, errUnique("name")
	}
	p := &primaryIP{ID: s.st.NextOtherID, Name: req.Name, Type: req.Type, Labels: labelsOf(req.Labels), Created: s.created()}
	if req.AutoDelete != nil {
		p.AutoDelete = *req.AutoDelete
	}
	var srv *server
	if req.AssigneeID != nil {
		if srv = s.st.Servers[*req.AssigneeID]; srv == nil {
			return 0, nil, errNotFound("server")
		}
		p.Location = srv.Location
		if aerr := s.checkAssignPrimary(p, srv, false); aerr != nil {
			return 0, nil, aerr
		}
	} else {
		loc := findLocation(req.Location)
		if loc == nil {
			return 0, nil, errInvalid("location", "location not found")
		}
		p.Location = loc.Name
	}
	s.nextID()
	p.IP = s.allocPublicIP(p.Type)
	s.st.PrimaryIPs[p.ID] = p
	resp := schema.PrimaryIPCreateResponse{}
	a := s.actionSchema(s.resAction("create_primary_ip", ref("primary_ip", p.ID)))
	resp.Action = &a
	if srv != nil {
		s.assignPrimary(p, srv)
	}
	resp.PrimaryIP = s.primaryIPSchema(p)
	return http.StatusCreated, resp, nil
}

func (s *Server) lookupPrimaryIP(r *http.Request) (*primaryIP, *apiError) {
	return lookup(r, s.st.PrimaryIPs, "primary IP")
}

func (s *Server) getPrimaryIP(r *http.Request) (int, any, *apiError) {
	p, aerr := s.lookupPrimaryIP(r)
	if aerr != nil {
		return 0, nil, aerr
	}
	return http.StatusOK, schema.PrimaryIPGetResponse{PrimaryIP: s.primaryIPSchema(p)}, nil
}

func (s *Server) updatePrimaryIP(r *http.Request) (int, any, *apiError) {
	p, aerr := s.lookupPrimaryIP(r)
	if aerr != nil {
		return 0, nil, aerr
	}
	var req schema.PrimaryIPUpdateRequest
	if aerr := decode(r, &req); aerr != nil {
		return 0, nil, aerr
	}
	if aerr := checkUpdate(s.st.PrimaryIPs, p.ID, optName(req.Name), req.Labels); aerr != nil {
		return 0, nil, aerr
	}
	if req.Name != "" {
		p.Name = req.Name
	}
	if req.AutoDelete != nil {
		p.AutoDelete = *req.AutoDelete
	}
	setLabels(&p.Labels, req.Labels)
	return http.StatusOK, schema.PrimaryIPUpdateResponse{PrimaryIP: s.primaryIPSchema(p)}, nil
}

func (s *Server) deletePrimaryIP(r *http.Request) (int, any, *apiError) {
	p, aerr := s.lookupPrimaryIP(r)
	if aerr != nil {
		return 0, nil, aerr
	}
	if p.ProtDelete {
		return 0, nil, errProtected("primary IP")
	}
	if p.Assignee != 0 {
		return 0, nil, errCode(http.StatusConflict, "primary_ip_assigned", "primary IP is assigned to server "+itoa(p.Assignee)+": unassign it first")
	}
	delete(s.st.PrimaryIPs, p.ID)
	return http.StatusNoContent, nil, nil
}

func (s *Server) primaryIPAction(r *http.Request) (int, any, *apiError) {
	p, aerr := s.lookupPrimaryIP(r)
	if aerr != nil {
		return 0, nil, aerr
	}
	type result struct {
		Action schema.Action `json:"action"`
	}
	refs := []schema.ActionResourceReference{ref("primary_ip", p.ID)}
	var command string
	switch r.PathValue("cmd") {
	case "assign":
		var req schema.PrimaryIPActionAssignRequest
		if aerr := decode(r, &req); aerr != nil {
			return 0, nil, aerr
		}
		srv := s.st.Servers[req.AssigneeID]
		if srv == nil {
			return 0, nil, errNotFound("server")
		}
		if aerr := s.checkAssignPrimary(p, srv, false); aerr != nil {
			return 0, nil, aerr
		}
		s.assignPrimary(p, srv)
		command, refs = "assign_primary_ip", append(refs, ref("server", srv.ID))
	case "unassign":
		var req struct{}
		if aerr := decode(r, &req); aerr != nil {
			return 0, nil, aerr
		}
		if p.Assignee == 0 {
			return 0, nil, errInvalid("assignee_id", "primary IP is not assigned")
		}
		if srv := s.st.Servers[p.Assignee]; srv != nil && srv.Status != statusOff {
			return 0, nil, errCode(http.StatusConflict, "server_not_stopped", "server must be stopped to change its primary IPs")
		}
		refs = append(refs, ref("server", p.Assignee))
		s.unassignPrimary(p)
		command = "unassign_primary_ip"
	case "change_dns_ptr":
		var req schema.PrimaryIPActionChangeDNSPtrRequest
		if aerr := decode(r, &req); aerr != nil {
			return 0, nil, aerr
		}
		if aerr := checkPtrIP(p.IP, req.IP); aerr != nil {
			return 0, nil, aerr
		}
		setPtr(&p.RDNS, req.IP, req.DNSPtr)
		command = "change_dns_ptr"
	case "change_protection":
		var req schema.PrimaryIPActionChangeProtectionRequest
		if aerr := decode(r, &req); aerr != nil {
			return 0, nil, aerr
		}
		p.ProtDelete, command = req.Delete, "change_protection"
	default:
		return 0, nil, errNotFound("primary IP action " + r.PathValue("cmd"))
	}
	return http.StatusCreated, result{s.actionSchema(s.resAction(command, refs...))}, nil
}

// Floating IPs.

func (s *Server) floatingIPSchema(f *floatingIP) schema.FloatingIP {
	out := schema.FloatingIP{ID: f.ID, Created: f.Created, IP: f.IP, Type: f.Type, HomeLocation: *findLocation(f.Location),
		Protection: schema.FloatingIPProtection{Delete: f.ProtDelete}, Labels: nonNilMap(f.Labels), Name: f.Name, DNSPtr: []schema.FloatingIPDNSPtr{}}
	if f.Description != "" {
		d := f.Description
		out.Description = &d
	}
	if f.Server != 0 {
		id := f.Server
		out.Server = &id
	}
	for _, p := range dnsPtrs(f.IP, f.RDNS) {
		out.DNSPtr = append(out.DNSPtr, schema.FloatingIPDNSPtr{IP: p.IP, DNSPtr: p.DNSPtr})
	}
	return out
}

func (s *Server) listFloatingIPs(r *http.Request) (int, any, *apiError) {
	var all []schema.FloatingIP
	for _, id := range sortedKeys(s.st.FloatingIPs) {
		all = append(all, s.floatingIPSchema(s.st.FloatingIPs[id]))
	}
	return listPaged(r, all, func(f schema.FloatingIP) string { return f.Name }, func(f schema.FloatingIP) map[string]string { return f.Labels }, nil,
		func(p []schema.FloatingIP, m schema.Meta) any {
			return struct {
				schema.FloatingIPListResponse
				Meta schema.Meta `json:"meta"`
			}{schema.FloatingIPListResponse{FloatingIPs: p}, m}
		})
}

func (s *Server) createFloatingIP(r *http.Request) (int, any, *apiError) {
	var req schema.FloatingIPCreateRequest
	if aerr := decode(r, &req); aerr != nil {
		return 0, nil, aerr
	}
	if req.Type != "ipv4" && req.Type != "ipv6" {
		return 0, nil, errInvalid("type", "must be ipv4 or ipv6")
	}
	if aerr := checkLabels(req.Labels); aerr != nil {
		return 0, nil, aerr
	}
	if (req.Server == nil) == (req.HomeLocation == nil) {
		return 0, nil, errInvalid("home_location", "give exactly one of server and home_location")
	}
	f := &floatingIP{ID: s.st.NextOtherID, Type: req.Type, Labels: labelsOf(req.Labels), Created: s.created()}
	f.Name = "floating-ip-" + itoa(f.ID)
	if req.Name != nil {
		if aerr := checkName(*req.Name); aerr != nil {
			return 0, nil, aerr
		}
		f.Name = *req.Name
	}
	if nameInUse(s.st.FloatingIPs, f.Name, 0) {
		return 0, nil, errUnique("name")
	}
	if req.Description != nil {
		f.Description = *req.Description
	}
	if req.Server != nil {
		srv := s.st.Servers[*req.Server]
		if srv == nil {
			return 0, nil, errNotFound("server")
		}
		f.Location, f.Server = srv.Location, srv.ID
	} else {
		loc := findLocation(*req.HomeLocation)
		if loc == nil {
			return 0, nil, errInvalid("home_location", "location not found")
		}
		f.Location = loc.Name
	}
	s.nextID()
	f.IP = s.allocPublicIP(f.Type)
	s.st.FloatingIPs[f.ID] = f
	a := s.actionSchema(s.resAction("create_floating_ip", ref("floating_ip", f.ID)))
	return http.StatusCreated, schema.FloatingIPCreateResponse{FloatingIP: s.floatingIPSchema(f), Action: &a}, nil
}

func (s *Server) lookupFloatingIP(r *http.Request) (*floatingIP, *apiError) {
	return lookup(r, s.st.FloatingIPs, "floating IP")
}

func (s *Server) getFloatingIP(r *http.Request) (int, any, *apiError) {
	f, aerr := s.lookupFloatingIP(r)
	if aerr != nil {
		return 0, nil, aerr
	}
	return http.StatusOK, schema.FloatingIPGetResponse{FloatingIP: s.floatingIPSchema(f)}, nil
}

func (s *Server) updateFloatingIP(r *http.Request) (int, any, *apiError) {
	f, aerr := s.lookupFloatingIP(r)
	if aerr != nil {
		return 0, nil, aerr
	}
	var req schema.FloatingIPUpdateRequest
	if aerr := decode(r, &req); aerr != nil {
		return 0, nil, aerr
	}
	if aerr := checkUpdate(s.st.FloatingIPs, f.ID, optName(req.Name), req.Labels); aerr != nil {
		return 0, nil, aerr
	}
	if req.Name != "" {
		f.Name = req.Name
	}
	if req.Description != "" {
		f.Description = req.Description
	}
	setLabels(&f.Labels, req.Labels)
	return http.StatusOK, schema.FloatingIPUpdateResponse{FloatingIP: s.floatingIPSchema(f)}, nil
}

func (s *Server) deleteFloatingIP(r *http.Request) (int, any, *apiError) {
	f, aerr := s.lookupFloatingIP(r)
	if aerr != nil {
		return 0, nil, aerr
	}
	if f.ProtDelete {
		return 0, nil, errProtected("floating IP")
	}
	delete(s.st.FloatingIPs, f.ID)
	return http.StatusNoContent, nil, nil
}

func (s *Server) floatingIPAction(r *http.Request) (int, any, *apiError) {
	f, aerr := s.lookupFloatingIP(r)
	if aerr != nil {
		return 0, nil, aerr
	}
	type result struct {
		Action schema.Action `json:"action"`
	}
	refs := []schema.ActionResourceReference{ref("floating_ip", f.ID)}
	var command string
	switch r.PathValue("cmd") {
	case "assign":
		var req schema.FloatingIPActionAssignRequest
		if aerr := decode(r, &req); aerr != nil {
			return 0, nil, aerr
		}
		srv := s.st.Servers[req.Server]
		if srv == nil {
			return 0, nil, errNotFound("server")
		}
		if zoneOf(srv.Location) != zoneOf(f.Location) {
			return 0, nil, errInvalid("server", "server must be in the floating IP's network zone")
		}
		f.Server, command, refs = srv.ID, "assign_floating_ip", append(refs, ref("server", srv.ID))
	case "unassign":
		var req schema.FloatingIPActionUnassignRequest
		if aerr := decode(r, &req); aerr != nil {
			return 0, nil, aerr
		}
		if f.Server == 0 {
			return 0, nil, errInvalid("server", "floating IP is not assigned")
		}
		f.Server, command = 0, "unassign_floating_ip"
	case "change_dns_ptr":
		var req schema.FloatingIPActionChangeDNSPtrRequest
		if aerr := decode(r, &req); aerr != nil {
			return 0, nil, aerr
		}
		if aerr := checkPtrIP(f.IP, req.IP); aerr != nil {
			return 0, nil, aerr
		}
		setPtr(&f.RDNS, req.IP, req.DNSPtr)
		command = "change_dns_ptr"
	case "change_protection":
		var req schema.FloatingIPActionChangeProtectionRequest
		if aerr := decode(r, &req); aerr != nil {
			return 0, nil, aerr
		}
		if req.Delete != nil {
			f.ProtDelete = *req.Delete
		}
		command = "change_protection"
	default:
		return 0, nil, errNotFound("floating IP action " + r.PathValue("cmd"))
	}
	return http.StatusCreated, result{s.actionSchema(s.resAction(command, refs...))}, nil
}

// releaseServer detaches what a deleted server held: volumes, floating IPs,
// primary IPs (deleted when auto_delete), direct firewall applications go
// with the server.
func (s *Server) releaseServer(id int64) {
	for _, v := range s.st.Volumes {
		if v.Server == id {
			v.Server = 0
		}
	}
	for _, f := range s.st.FloatingIPs {
		if f.Server == id {
			f.Server = 0
		}
	}
	for _, p := range maps.Clone(s.st.PrimaryIPs) {
		if p.Assignee == id {
			p.Assignee = 0
			if p.AutoDelete {
				delete(s.st.PrimaryIPs, p.ID)
			}
		}
	}
}
