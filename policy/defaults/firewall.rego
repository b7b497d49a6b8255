# A firewall on every server with a public IPv4 or IPv6 address, and no
# inbound SSH (tcp 22) from anywhere unless the firewall carries the label
# vmc.policy/public-ssh=allow.
package vmc.firewall

allow_label := "vmc.policy/public-ssh"

anywhere := {"0.0.0.0/0", "::/0"}

public(s) if s.public_net.ipv4 != ""

public(s) if s.public_net.ipv6 != ""

deny contains {
	"resource": sprintf("server/%s", [s.name]),
	"rule": "firewall-attached",
	"reason": "server has a public address and no firewall",
} if {
	some s in input.servers
	public(s)
	s.firewalls != null
	count(s.firewalls) == 0
}

unobserved := [s.name | some s in input.servers; public(s); s.firewalls == null]

warn contains {
	"rule": "firewall-attached",
	"reason": sprintf("firewall attachments of %d server(s) with a public address were not observed (the provider lists no firewalls): not checked", [count(unobserved)]),
} if {
	count(unobserved) > 0
}

covers_ssh(port) if port == ""

covers_ssh(port) if port == "22"

covers_ssh(port) if {
	parts := split(port, "-")
	count(parts) == 2
	regex.match(`^[0-9]+$`, parts[0])
	regex.match(`^[0-9]+$`, parts[1])
	to_number(parts[0]) <= 22
	to_number(parts[1]) >= 22
}

deny contains {
	"resource": sprintf("firewall/%s", [f.name]),
	"rule": "ssh-from-anywhere",
	"reason": sprintf("inbound tcp port %s is open to %s; label the firewall %s=allow if intended", [r.port, src, allow_label]),
} if {
	some f in input.firewalls
	object.get(f.labels, allow_label, "") != "allow"
	some r in f.rules
	r.direction == "in"
	r.protocol == "tcp"
	covers_ssh(r.port)
	some src in r.source_ips
	src in anywhere
}

warn contains {
	"rule": "ssh-from-anywhere",
	"reason": "the provider lists no firewalls: their rules were not checked",
} if {
	not input.observed.firewalls
}
