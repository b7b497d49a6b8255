package sandbox

import (
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

// maxFirewallRules is Hetzner's limit of rules per firewall.
const maxFirewallRules = 50

// maxServerFirewalls is Hetzner's limit of firewalls per server.
const maxServerFirewalls = 5

// serverFirewalls returns the firewalls that apply to srv: directly, then by
// label selector, each once, in id order.
func (s *Server) serverFirewalls(srv *server) []int64 {
	out := slices.Clone(srv.Firewalls)
	for _, id := range sortedKeys(s.st.Firewalls) {
		if slices.Contains(out, id) {
			continue
		}
		if s.selectsServer(s.st.Firewalls[id], srv) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// selectsServer reports whether one of f's label selectors matches srv.
func (s *Server) selectsServer(f *firewall, srv *server) bool {
	for _, ls := range f.Selectors {
		if sel, err := parseSelector(ls); err == nil && sel.matches(srv.Labels) {
			return true
		}
	}
	return false
}

func (s *Server) firewallSchema(f *firewall) schema.Firewall {
	out := schema.Firewall{ID: f.ID, Name: f.Name, Labels: nonNilMap(f.Labels), Created: f.Created,
		Rules: []schema.FirewallRule{}, AppliedTo: []schema.FirewallResource{}}
	for _, r := range f.Rules {
		r.SourceIPs, r.DestinationIPs = nonNil(r.SourceIPs), nonNil(r.DestinationIPs)
		out.Rules = append(out.Rules, r)
	}
	for _, id := range sortedKeys(s.st.Servers) {
		if slices.Contains(s.st.Servers[id].Firewalls, f.ID) {
			out.AppliedTo = append(out.AppliedTo, schema.FirewallResource{Type: "server", Server: &schema.FirewallResourceServer{ID: id}})
		}
	}
	for _, ls := range f.Selectors {
		fr := schema.FirewallResource{Type: "label_selector", LabelSelector: &schema.FirewallResourceLabelSelector{Selector: ls}}
		for _, id := range sortedKeys(s.st.Servers) {
			if s.selectsServer(&firewall{Selectors: []string{ls}}, s.st.Servers[id]) {
				fr.AppliedToResources = append(fr.AppliedToResources, schema.FirewallResource{Type: "server", Server: &schema.FirewallResourceServer{ID: id}})
			}
		}
		out.AppliedTo = append(out.AppliedTo, fr)
	}
	return out
}

func (s *Server) listFirewalls(r *http.Request) (int, any, *apiError) {
	var all []schema.Firewall
	for _, id := range sortedKeys(s.st.Firewalls) {
		all = append(all, s.firewallSchema(s.st.Firewalls[id]))
	}
	return listPaged(r, all, func(f schema.Firewall) string { return f.Name }, func(f schema.Firewall) map[string]string { return f.Labels }, nil,
		func(p []schema.Firewall, m schema.Meta) any {
			return struct {
				schema.FirewallListResponse
				Meta schema.Meta `json:"meta"`
			}{schema.FirewallListResponse{Firewalls: p}, m}
		})
}

// checkRules checks firewall rules as Hetzner does.
func checkRules(rules []schema.FirewallRuleRequest) ([]schema.FirewallRule, *apiError) {
	if len(rules) > maxFirewallRules {
		return nil, errInvalid("rules", fmt.Sprintf("must contain at most %d rules", maxFirewallRules))
	}
	out := []schema.FirewallRule{}
	for i, r := range rules {
		field := fmt.Sprintf("rules[%d]", i)
		if r.Direction != "in" && r.Direction != "out" {
			return nil, errInvalid(field+".direction", "must be in or out")
		}
		switch r.Protocol {
		case "tcp", "udp":
			if r.Port == nil || !validPort(*r.Port) {
				return nil, errInvalid(field+".port", "is required for tcp and udp: a port, a range or any")
			}
		case "icmp", "esp", "gre":
			if r.Port != nil {
				return nil, errInvalid(field+".port", "is not allowed for protocol "+r.Protocol)
			}
		default:
			return nil, errInvalid(field+".protocol", "must be tcp, udp, icmp, esp or gre")
		}
		ips, other, name := r.SourceIPs, r.DestinationIPs, "source_ips"
		if r.Direction == "out" {
			ips, other, name = r.DestinationIPs, r.SourceIPs, "destination_ips"
		}
		if len(ips) == 0 || len(other) > 0 {
			return nil, errInvalid(field+"."+name, "direction "+r.Direction+" needs "+name+" and only those")
		}
		for _, ip := range ips {
			if _, _, err := net.ParseCIDR(ip); err != nil {
				return nil, errInvalid(field+"."+name, ip+" is not a CIDR")
			}
		}
		out = append(out, schema.FirewallRule{Direction: r.Direction, Protocol: r.Protocol, Port: r.Port, Description: r.Description,
			SourceIPs: nonNil(r.SourceIPs), DestinationIPs: nonNil(r.DestinationIPs)})
	}
	return out, nil
}

func validPort(p string) bool {
	if p == "any" {
		return true
	}
	lo, hi, isRange := strings.Cut(p, "-")
	a, err := strconv.Atoi(lo)
	if err != nil || a < 1 || a > 65535 {
		return false
	}
	if !isRange {
		return true
	}
	b, err := strconv.Atoi(hi)
	return err == nil && b >= a && b <= 65535
}

func (s *Server) createFirewall(r *http.Request) (int, any, *apiError) {
	var req schema.FirewallCreateRequest
	if aerr := decode(r, &req); aerr != nil {
		return 0, nil, aerr
	}
	if aerr := checkName(req.Name); aerr != nil {
		return 0, nil, aerr
	}
	rules, aerr := checkRules(req.Rules)
	if aerr != nil {
		return 0, nil, aerr
	}
	if aerr := checkLabels(req.Labels); aerr != nil {
		return 0, nil, aerr
	}
	if nameInUse(s.st.Firewalls, req.Name, 0) {
		return 0, nil, errUnique("name")
	}
	f := &firewall{ID: s.st.NextOtherID, Name: req.Name, Labels: labelsOf(req.Labels), Created: s.created(), Rules: rules}
	if aerr := s.checkApply(f, req.ApplyTo); aerr != nil {
		return 0, nil, aerr
	}
	s.nextID()
	s.st.Firewalls[f.ID] = f
	resp := schema.FirewallCreateResponse{Actions: []schema.Action{}}
	if len(req.ApplyTo) > 0 {
		resp.Actions = append(resp.Actions, s.actionSchema(s.applyFirewall(f, req.ApplyTo)))
	}
	resp.Firewall = s.firewallSchema(f)
	return http.StatusCreated, resp, nil
}

func (s *Server) lookupFirewall(r *http.Request) (*firewall, *apiError) {
	return lookup(r, s.st.Firewalls, "firewall")
}

func (s *Server) getFirewall(r *http.Request) (int, any, *apiError) {
	f, aerr := s.lookupFirewall(r)
	if aerr != nil {
		return 0, nil, aerr
	}
	return http.StatusOK, schema.FirewallGetResponse{Firewall: s.firewallSchema(f)}, nil
}

func (s *Server) updateFirewall(r *http.Request) (int, any, *apiError) {
	f, aerr := s.lookupFirewall(r)
	if aerr != nil {
		return 0, nil, aerr
	}
	var req schema.FirewallUpdateRequest
	if aerr := decode(r, &req); aerr != nil {
		return 0, nil, aerr
	}
	if aerr := checkUpdate(s.st.Firewalls, f.ID, req.Name, req.Labels); aerr != nil {
		return 0, nil, aerr
	}
	if req.Name != nil {
		f.Name = *req.Name
	}
	setLabels(&f.Labels, req.Labels)
	return http.StatusOK, schema.FirewallUpdateResponse{Firewall: s.firewallSchema(f)}, nil
}

func (s *Server) deleteFirewall(r *http.Request) (int, any, *apiError) {
	f, aerr := s.lookupFirewall(r)
	if aerr != nil {
		return 0, nil, aerr
	}
	for _, srv := range s.st.Servers {
		if slices.Contains(srv.Firewalls, f.ID) {
			return 0, nil, errInUse("firewall")
		}
	}
	if len(f.Selectors) > 0 {
		return 0, nil, errInUse("firewall")
	}
	delete(s.st.Firewalls, f.ID)
	return http.StatusNoContent, nil, nil
}

// checkApply checks that targets can get firewall f.
func (s *Server) checkApply(f *firewall, targets []schema.FirewallResource) *apiError {
	for _, t := range targets {
		switch t.Type {
		case "server":
			if t.Server == nil {
				return errInvalid("apply_to", "server is required for type server")
			}
			srv := s.st.Servers[t.Server.ID]
			if srv == nil {
				return errCode(http.StatusNotFound, "firewall_resource_not_found", fmt.Sprintf("server %d not found", t.Server.ID))
			}
			if slices.Contains(srv.Firewalls, f.ID) {
				return errCode(http.StatusConflict, "firewall_already_applied", "firewall is already applied to server "+itoa(srv.ID))
			}
			if srv.IPv4 == "" && srv.IPv6 == "" {
				return errCode(http.StatusUnprocessableEntity, "private_net_only_server", "server "+itoa(srv.ID)+" has no public interface")
			}
			if len(s.serverFirewalls(srv)) >= maxServerFirewalls {
				return errCode(http.StatusForbidden, "resource_limit_exceeded", fmt.Sprintf("a server can have at most %d firewalls", maxServerFirewalls))
			}
		case "label_selector":
			if t.LabelSelector == nil {
				return errInvalid("apply_to", "label_selector is required for type label_selector")
			}
			if _, err := parseSelector(t.LabelSelector.Selector); err != nil || strings.TrimSpace(t.LabelSelector.Selector) == "" {
				return errInvalid("label_selector", "invalid label selector")
			}
			if slices.Contains(f.Selectors, t.LabelSelector.Selector) {
				return errCode(http.StatusConflict, "firewall_already_applied", "firewall is already applied to label selector "+t.LabelSelector.Selector)
			}
		default:
			return errInvalid("apply_to", "type must be server or label_selector")
		}
	}
	return nil
}

// applyFirewall applies f to checked targets.
func (s *Server) applyFirewall(f *firewall, targets []schema.FirewallResource) *action {
	refs := []schema.ActionResourceReference{ref("firewall", f.ID)}
	for _, t := range targets {
		if t.Type == "server" {
			srv := s.st.Servers[t.Server.ID]
			srv.Firewalls = append(srv.Firewalls, f.ID)
			refs = append(refs, ref("server", srv.ID))
		} else {
			f.Selectors = append(f.Selectors, t.LabelSelector.Selector)
		}
	}
	return s.resAction("apply_firewall", refs...)
}

func (s *Server) firewallAction(r *http.Request) (int, any, *apiError) {
	f, aerr := s.lookupFirewall(r)
	if aerr != nil {
		return 0, nil, aerr
	}
	type actions struct {
		Actions []schema.Action `json:"actions"`
	}
	switch r.PathValue("cmd") {
	case "set_rules":
		var req schema.FirewallActionSetRulesRequest
		if aerr := decode(r, &req); aerr != nil {
			return 0, nil, aerr
		}
		rules, aerr := checkRules(req.Rules)
		if aerr != nil {
			return 0, nil, aerr
		}
		f.Rules = rules
		out := actions{[]schema.Action{s.actionSchema(s.resAction("set_firewall_rules", ref("firewall", f.ID)))}}
		for _, id := range sortedKeys(s.st.Servers) {
			if slices.Contains(s.serverFirewalls(s.st.Servers[id]), f.ID) {
				out.Actions = append(out.Actions, s.actionSchema(s.resAction("apply_firewall", ref("firewall", f.ID), ref("server", id))))
			}
		}
		return http.StatusCreated, out, nil
	case "apply_to_resources":
		var req schema.FirewallActionApplyToResourcesRequest
		if aerr := decode(r, &req); aerr != nil {
			return 0, nil, aerr
		}
		if len(req.ApplyTo) == 0 {
			return 0, nil, errInvalid("apply_to", "must not be empty")
		}
		if aerr := s.checkApply(f, req.ApplyTo); aerr != nil {
			return 0, nil, aerr
		}
		return http.StatusCreated, actions{[]schema.Action{s.actionSchema(s.applyFirewall(f, req.ApplyTo))}}, nil
	case "remove_from_resources":
		var req schema.FirewallActionRemoveFromResourcesRequest
		if aerr := decode(r, &req); aerr != nil {
			return 0, nil, aerr
		}
		if len(req.RemoveFrom) == 0 {
			return 0, nil, errInvalid("remove_from", "must not be empty")
		}
		for _, t := range req.RemoveFrom {
			switch {
			case t.Type == "server" && t.Server != nil:
				srv := s.st.Servers[t.Server.ID]
				if srv == nil {
					return 0, nil, errCode(http.StatusNotFound, "firewall_resource_not_found", fmt.Sprintf("server %d not found", t.Server.ID))
				}
				if !slices.Contains(srv.Firewalls, f.ID) {
					if s.selectsServer(f, srv) {
						return 0, nil, errCode(http.StatusUnprocessableEntity, "firewall_managed_by_label_selector", "firewall applies to server "+itoa(srv.ID)+" through a label selector")
					}
					return 0, nil, errCode(http.StatusConflict, "firewall_already_removed", "firewall is not applied to server "+itoa(srv.ID))
				}
			case t.Type == "label_selector" && t.LabelSelector != nil:
				if !slices.Contains(f.Selectors, t.LabelSelector.Selector) {
					return 0, nil, errCode(http.StatusConflict, "firewall_already_removed", "firewall is not applied to label selector "+t.LabelSelector.Selector)
				}
			default:
				return 0, nil, errInvalid("remove_from", "type must be server or label_selector")
			}
		}
		refs := []schema.ActionResourceReference{ref("firewall", f.ID)}
		for _, t := range req.RemoveFrom {
			if t.Type == "server" {
				srv := s.st.Servers[t.Server.ID]
				srv.Firewalls = slices.DeleteFunc(srv.Firewalls, func(id int64) bool { return id == f.ID })
				refs = append(refs, ref("server", srv.ID))
			} else {
				f.Selectors = slices.DeleteFunc(f.Selectors, func(sel string) bool { return sel == t.LabelSelector.Selector })
			}
		}
		return http.StatusCreated, actions{[]schema.Action{s.actionSchema(s.resAction("remove_firewall", refs...))}}, nil
	}
	return 0, nil, errNotFound("firewall action " + r.PathValue("cmd"))
}
