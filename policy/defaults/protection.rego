# Servers labelled env=production have delete protection.
package vmc.protection

deny contains {
	"resource": sprintf("server/%s", [s.name]),
	"rule": "production-delete-protection",
	"reason": "server is labelled env=production and has no delete protection",
} if {
	some s in input.servers
	s.labels.env == "production"
	not s.protection.delete
}
