# Every server carries the labels in required, with a non-empty value.
package vmc.labels

required := {"env", "role"}

deny contains {
	"resource": sprintf("server/%s", [s.name]),
	"rule": "required-labels",
	"reason": sprintf("server has no %q label (required: %s)", [k, concat(", ", sort(required))]),
} if {
	some s in input.servers
	some k in required
	object.get(s.labels, k, "") == ""
}
