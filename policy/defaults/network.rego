# Every server is attached to at least one private network.
package vmc.network

deny contains {
	"resource": sprintf("server/%s", [s.name]),
	"rule": "private-network",
	"reason": "server is in no private network",
} if {
	some s in input.servers
	s.networks != null
	count(s.networks) == 0
}

unobserved := [s.name | some s in input.servers; s.networks == null]

warn contains {
	"rule": "private-network",
	"reason": sprintf("network membership of %d server(s) was not observed (the provider lists no networks): not checked", [count(unobserved)]),
} if {
	count(unobserved) > 0
}
