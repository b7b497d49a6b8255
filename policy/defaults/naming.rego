# Server names: <role>-<n> (web-1, db-eu-2). Edit name_pattern to change it.
package vmc.naming

name_pattern := `^[a-z][a-z0-9]*(-[a-z0-9]+)*-[0-9]+$`

deny contains {
	"resource": sprintf("server/%s", [s.name]),
	"rule": "naming",
	"reason": sprintf("server name %q does not match %s (<role>-<n>, e.g. web-1)", [s.name, name_pattern]),
} if {
	some s in input.servers
	not regex.match(name_pattern, s.name)
}
