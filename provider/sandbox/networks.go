package sandbox

import (
	"encoding/binary"
	"net"
	"net/http"
	"slices"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

// networkZones are the zones subnets can be in.
var networkZones = []string{"eu-central", "us-east", "us-west", "ap-southeast"}

func (s *Server) networkSchema(n *network) schema.Network {
	out := schema.Network{ID: n.ID, Name: n.Name, Created: n.Created, IPRange: n.IPRange, Labels: nonNilMap(n.Labels),
		Subnets: []schema.NetworkSubnet{}, Routes: []schema.NetworkRoute{}, Servers: []int64{}, LoadBalancers: []int64{},
		Protection: schema.NetworkProtection{Delete: n.ProtDelete}}
	out.Subnets = append(out.Subnets, n.Subnets...)
	out.Routes = append(out.Routes, n.Routes...)
	for _, id := range sortedKeys(s.st.Servers) {
		if s.st.Servers[id].privNet(n.ID) != nil {
			out.Servers = append(out.Servers, id)
		}
	}
	return out
}

func (srv *server) privNet(network int64) *privNet {
	for i := range srv.PrivateNets {
		if srv.PrivateNets[i].Network == network {
			return &srv.PrivateNets[i]
		}
	}
	return nil
}

func (s *Server) listNetworks(r *http.Request) (int, any, *apiError) {
	var all []schema.Network
	for _, id := range sortedKeys(s.st.Networks) {
		all = append(all, s.networkSchema(s.st.Networks[id]))
	}
	return listPaged(r, all, func(n schema.Network) string { return n.Name }, func(n schema.Network) map[string]string { return n.Labels }, nil,
		func(p []schema.Network, m schema.Meta) any {
			return struct {
				schema.NetworkListResponse
				Meta schema.Meta `json:"meta"`
			}{schema.NetworkListResponse{Networks: p}, m}
		})
}

// parseV4Net parses an IPv4 CIDR.
func parseV4Net(s string) *net.IPNet {
	ip, n, err := net.ParseCIDR(s)
	if err != nil || ip.To4() == nil {
		return nil
	}
	return n
}

func overlaps(a, b *net.IPNet) bool { return a.Contains(b.IP) || b.Contains(a.IP) }

func within(inner, outer *net.IPNet) bool {
	io, _ := inner.Mask.Size()
	oo, _ := outer.Mask.Size()
	return outer.Contains(inner.IP) && io >= oo
}

// checkSubnet checks a new subnet against network n's range and subnets.
func checkSubnet(n *network, sub schema.NetworkSubnet) (schema.NetworkSubnet, *apiError) {
	if sub.Type == "" {
		sub.Type = "cloud"
	}
	if sub.Type != "cloud" && sub.Type != "server" && sub.Type != "vswitch" {
		return sub, errInvalid("type", "must be cloud, server or vswitch")
	}
	if !slices.Contains(networkZones, sub.NetworkZone) {
		return sub, errInvalid("network_zone", "unknown network zone")
	}
	rng := parseV4Net(n.IPRange)
	sn := parseV4Net(sub.IPRange)
	if sn == nil {
		return sub, errInvalid("ip_range", "must be an IPv4 CIDR range")
	}
	sub.IPRange = sn.String()
	if !within(sn, rng) {
		return sub, errInvalid("ip_range", "subnet must be within the network's ip_range")
	}
	for _, o := range n.Subnets {
		if overlaps(parseV4Net(o.IPRange), sn) {
			return sub, errInvalid("ip_range", "subnet overlaps with subnet "+o.IPRange)
		}
	}
	sub.Gateway = hostIP(sn, 1).String()
	return sub, nil
}

func checkRoute(n *network, rt schema.NetworkRoute) *apiError {
	if parseV4Net(rt.Destination) == nil {
		return errInvalid("destination", "must be an IPv4 CIDR range")
	}
	gw := net.ParseIP(rt.Gateway)
	if gw == nil || gw.To4() == nil || !parseV4Net(n.IPRange).Contains(gw) {
		return errInvalid("gateway", "must be an IPv4 address within the network's ip_range")
	}
	return nil
}

// hostIP returns address i of network n.
func hostIP(n *net.IPNet, i uint32) net.IP {
	base := binary.BigEndian.Uint32(n.IP.To4())
	out := make(net.IP, 4)
	binary.BigEndian.PutUint32(out, base+i)
	return out
}

func (s *Server) createNetwork(r *http.Request) (int, any, *apiError) {
	var req schema.NetworkCreateRequest
	if aerr := decode(r, &req); aerr != nil {
		return 0, nil, aerr
	}
	if aerr := checkName(req.Name); aerr != nil {
		return 0, nil, aerr
	}
	rng := parseV4Net(req.IPRange)
	if rng == nil {
		return 0, nil, errInvalid("ip_range", "must be an IPv4 CIDR range")
	}
	if aerr := checkLabels(req.Labels); aerr != nil {
		return 0, nil, aerr
	}
	if nameInUse(s.st.Networks, req.Name, 0) {
		return 0, nil, errUnique("name")
	}
	n := &network{ID: s.st.NextOtherID, Name: req.Name, IPRange: rng.String(), Labels: labelsOf(req.Labels), Created: s.created()}
	for _, sub := range req.Subnets {
		checked, aerr := checkSubnet(n, sub)
		if aerr != nil {
			return 0, nil, aerr
		}
		n.Subnets = append(n.Subnets, checked)
	}
	for _, rt := range req.Routes {
		if aerr := checkRoute(n, rt); aerr != nil {
			return 0, nil, aerr
		}
		n.Routes = append(n.Routes, rt)
	}
	s.nextID()
	s.st.Networks[n.ID] = n
	return http.StatusCreated, schema.NetworkCreateResponse{Network: s.networkSchema(n)}, nil
}

func (s *Server) lookupNetwork(r *http.Request) (*network, *apiError) {
	return lookup(r, s.st.Networks, "network")
}

func (s *Server) getNetwork(r *http.Request) (int, any, *apiError) {
	n, aerr := s.lookupNetwork(r)
	if aerr != nil {
		return 0, nil, aerr
	}
	return http.StatusOK, schema.NetworkGetResponse{Network: s.networkSchema(n)}, nil
}

func (s *Server) updateNetwork(r *http.Request) (int, any, *apiError) {
	n, aerr := s.lookupNetwork(r)
	if aerr != nil {
		return 0, nil, aerr
	}
	var req schema.NetworkUpdateRequest
	if aerr := decode(r, &req); aerr != nil {
		return 0, nil, aerr
	}
	if aerr := checkUpdate(s.st.Networks, n.ID, optName(req.Name), req.Labels); aerr != nil {
		return 0, nil, aerr
	}
	if req.Name != "" {
		n.Name = req.Name
	}
	setLabels(&n.Labels, req.Labels)
	return http.StatusOK, schema.NetworkUpdateResponse{Network: s.networkSchema(n)}, nil
}

func (s *Server) deleteNetwork(r *http.Request) (int, any, *apiError) {
	n, aerr := s.lookupNetwork(r)
	if aerr != nil {
		return 0, nil, aerr
	}
	if n.ProtDelete {
		return 0, nil, errProtected("network")
	}
	for _, srv := range s.st.Servers {
		if srv.privNet(n.ID) != nil {
			return 0, nil, errInUse("network (servers are attached)")
		}
	}
	delete(s.st.Networks, n.ID)
	return http.StatusNoContent, nil, nil
}

func (s *Server) networkAction(r *http.Request) (int, any, *apiError) {
	n, aerr := s.lookupNetwork(r)
	if aerr != nil {
		return 0, nil, aerr
	}
	type result struct {
		Action schema.Action `json:"action"`
	}
	done := func(command string) (int, any, *apiError) {
		return http.StatusCreated, result{s.actionSchema(s.resAction(command, ref("network", n.ID)))}, nil
	}
	switch r.PathValue("cmd") {
	case "add_subnet":
		var req schema.NetworkActionAddSubnetRequest
		if aerr := decode(r, &req); aerr != nil {
			return 0, nil, aerr
		}
		sub, aerr := checkSubnet(n, schema.NetworkSubnet{Type: req.Type, IPRange: req.IPRange, NetworkZone: req.NetworkZone, VSwitchID: req.VSwitchID})
		if aerr != nil {
			return 0, nil, aerr
		}
		n.Subnets = append(n.Subnets, sub)
		return done("add_subnet")
	case "delete_subnet":
		var req schema.NetworkActionDeleteSubnetRequest
		if aerr := decode(r, &req); aerr != nil {
			return 0, nil, aerr
		}
		i := slices.IndexFunc(n.Subnets, func(sub schema.NetworkSubnet) bool { return sub.IPRange == req.IPRange })
		if i < 0 {
			return 0, nil, errNotFound("subnet")
		}
		sn := parseV4Net(req.IPRange)
		for _, srv := range s.st.Servers {
			if pn := srv.privNet(n.ID); pn != nil && sn.Contains(net.ParseIP(pn.IP)) {
				return 0, nil, errInUse("subnet (servers are attached)")
			}
		}
		n.Subnets = slices.Delete(n.Subnets, i, i+1)
		return done("delete_subnet")
	case "add_route", "delete_route":
		var req schema.NetworkActionAddRouteRequest
		if aerr := decode(r, &req); aerr != nil {
			return 0, nil, aerr
		}
		rt := schema.NetworkRoute(req)
		if aerr := checkRoute(n, rt); aerr != nil {
			return 0, nil, aerr
		}
		i := slices.Index(n.Routes, rt)
		if r.PathValue("cmd") == "add_route" {
			if i >= 0 {
				return 0, nil, errUnique("destination")
			}
			n.Routes = append(n.Routes, rt)
			return done("add_route")
		}
		if i < 0 {
			return 0, nil, errNotFound("route")
		}
		n.Routes = slices.Delete(n.Routes, i, i+1)
		return done("delete_route")
	case "change_ip_range":
		var req schema.NetworkActionChangeIPRangeRequest
		if aerr := decode(r, &req); aerr != nil {
			return 0, nil, aerr
		}
		rng := parseV4Net(req.IPRange)
		if rng == nil {
			return 0, nil, errInvalid("ip_range", "must be an IPv4 CIDR range")
		}
		if !within(parseV4Net(n.IPRange), rng) {
			return 0, nil, errInvalid("ip_range", "the new range must contain the current one "+n.IPRange)
		}
		n.IPRange = rng.String()
		return done("change_ip_range")
	case "change_protection":
		var req schema.NetworkActionChangeProtectionRequest
		if aerr := decode(r, &req); aerr != nil {
			return 0, nil, aerr
		}
		if req.Delete != nil {
			n.ProtDelete = *req.Delete
		}
		return done("change_protection")
	}
	return 0, nil, errNotFound("network action " + r.PathValue("cmd"))
}

// zoneOf returns the network zone of a location.
func zoneOf(location string) string {
	if l := findLocation(location); l != nil {
		return l.NetworkZone
	}
	return ""
}

// attach attaches srv to network n, at ip if given (else the next free
// address of a subnet in the server's zone).
func (s *Server) attach(srv *server, n *network, ip string, aliases []string) *apiError {
	if srv.privNet(n.ID) != nil {
		return errCode(http.StatusConflict, "server_already_attached", "server is already attached to network "+itoa(n.ID))
	}
	zone := zoneOf(srv.Location)
	var subnets []*net.IPNet
	for _, sub := range n.Subnets {
		if sub.NetworkZone == zone && sub.Type != "vswitch" {
			subnets = append(subnets, parseV4Net(sub.IPRange))
		}
	}
	if len(subnets) == 0 {
		return errCode(http.StatusConflict, "no_subnet_available", "network "+itoa(n.ID)+" has no subnet in network zone "+zone)
	}
	used := map[string]bool{}
	for _, o := range s.st.Servers {
		if pn := o.privNet(n.ID); pn != nil {
			used[pn.IP] = true
			for _, a := range pn.AliasIPs {
				used[a] = true
			}
		}
	}
	inSubnet := func(x net.IP) bool {
		return slices.ContainsFunc(subnets, func(sn *net.IPNet) bool { return sn.Contains(x) })
	}
	if ip != "" {
		x := net.ParseIP(ip)
		if x == nil || x.To4() == nil || !inSubnet(x) {
			return errInvalid("ip", "must be an address within a subnet of the network in zone "+zone)
		}
		if used[x.String()] {
			return errCode(http.StatusConflict, "ip_not_available", "ip "+ip+" is already used")
		}
		ip = x.String()
	} else {
		for _, sn := range subnets {
			ones, bits := sn.Mask.Size()
			for i := uint32(2); i < 1<<(bits-ones)-1 && ip == ""; i++ {
				if c := hostIP(sn, i).String(); !used[c] {
					ip = c
				}
			}
		}
		if ip == "" {
			return errCode(http.StatusConflict, "no_subnet_available", "no free address in network "+itoa(n.ID))
		}
	}
	used[ip] = true
	for _, a := range aliases {
		x := net.ParseIP(a)
		if x == nil || x.To4() == nil || !inSubnet(x) {
			return errInvalid("alias_ips", a+" is not within a subnet of the network")
		}
		if used[x.String()] {
			return errCode(http.StatusConflict, "ip_not_available", "ip "+a+" is already used")
		}
		used[x.String()] = true
	}
	srv.PrivateNets = append(srv.PrivateNets, privNet{Network: n.ID, IP: ip, AliasIPs: aliases})
	return nil
}
