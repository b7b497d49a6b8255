// Package policy evaluates Rego policies (github.com/open-policy-agent/opa,
// package v1/rego) over the state of a ledger's cloud resources, and turns
// the outcome into an in-toto Statement v1 for an attestation receipt.
//
// # Policy files
//
// Policies are the files policy/*.rego in the main branch's tree (Dir), at
// most MaxFiles files of at most MaxFileSize bytes each and MaxBundleSize
// bytes in all; sub-directories and other files are not read. Each file is
// Rego v1 (the `if`/`contains` syntax). The packages evaluated are the ones
// named vmc or vmc.<name> (QueryRoot); a file may hold a helper package under
// another name and be imported from a vmc package. In each evaluated package
// the partial set rules
//
//	deny contains f if { ... }   // a violation: policy check fails
//	warn contains f if { ... }   // reported, does not fail
//
// produce findings. A finding is an object
//
//	{"resource": "server/web-1", "rule": "naming", "reason": "name ... does not match ..."}
//
// (resource is "<kind>/<name>"; a missing rule defaults to the package's
// path) or a plain string, taken as the reason with no resource. Anything
// else is an error of the policy, reported as such.
//
// The bundle's digest ([Bundle.Blake3], or [Digest] over the files before
// they are compiled) is BLAKE3-256 over, for each file in byte order of its
// name, "<name>\n<size>\n<bytes>": it names exactly the policy that was
// evaluated. Worked example: one file policy/a.rego holding the 12 bytes
// "package vmc\n" is hashed as the 29 bytes "policy/a.rego\n12\npackage vmc\n".
//
// # The pinned bundle
//
// Anyone who can push to the main branch can change policy/, so a ledger's
// trust state pins the bundle apply judges with (package keys,
// Policy.PolicyBundle: the digest in hex, or "none"; changed only by an
// admin-signed keys receipt of op policy_bundle, package receipt). An
// applier compares the main branch's digest with the pin before it compiles
// anything: a bundle that is not the pin is never compiled or evaluated, and
// no plan is judged with it (package workspace, policypin.go, has the table).
// The pin is the reason Digest exists apart from Compile.
//
// Evaluation is sandboxed and deterministic: built-ins that reach outside
// the process (http.send, net.lookup_ip_addr, opa.runtime, and
// json.match_schema and json.verify_schema, whose $ref reads absolute
// file:// URLs) or whose result varies between runs (time.now_ns,
// rand.intn, uuid.rfc4122, the JWT signing and verifying built-ins, x509
// chain verification, and whatever else OPA marks nondeterministic; the
// list is in builtins.go, DeniedBuiltins) are not available, and a file
// calling one does not compile, the error naming the file, line and
// built-in; data holds only the
// bundle's rules (nothing is loaded from disk or the environment), so a
// bundle's outcome is a function of its bytes and the input. Evaluation
// ends with ErrTimeout after Limits.Timeout, and with ErrMemory when the
// Go heap grows by more than Limits.MaxHeapGrowth while it runs (sampled
// every few milliseconds: a guard against a policy that builds huge
// values, not an exact cap). At most MaxFindings findings are accepted.
//
// # Input document, version 1
//
// The input (the Rego `input`) is a [Document]: the resources of one ledger
// as the provider shows them (source "provider") or as a plan would leave
// them (source "plan"). Its version is InputVersion; policies may check
// input.v. The shape, with every kind present even when empty:
//
//	{
//	  "v": 1,
//	  "source": "provider",                 // or "plan"
//	  "plan": "web-1-create-...",           // source "plan" only
//	  "observed": {"servers": true, "firewalls": false, "networks": false,
//	               "volumes": false, "ips": false},
//	  "servers": [{
//	    "name": "web-1", "id": 42, "status": "running", "server_type": "cx22",
//	    "image": "ubuntu-24.04", "location": "fsn1",
//	    "labels": {"env": "production", "role": "web"},
//	    "protection": {"delete": true, "rebuild": false},
//	    "public_net": {"ipv4": "203.0.113.7", "ipv6": "2001:db8::/64"},
//	    "firewalls": ["web"],               // names; null: not observed
//	    "networks": ["private"]             // names; null: not observed
//	  }],
//	  "firewalls": [{"name": "web", "id": 7, "labels": {},
//	    "rules": [{"direction": "in", "protocol": "tcp", "port": "22",
//	               "source_ips": ["10.0.0.0/8"], "destination_ips": []}],
//	    "applied_to": ["web-1"]}],
//	  "networks": [{"name": "private", "id": 3, "ip_range": "10.0.0.0/16",
//	    "labels": {}, "servers": ["web-1"]}],
//	  "volumes": [{"name": "data", "id": 5, "size_gb": 10, "location": "fsn1",
//	    "labels": {}, "server": "web-1", "protection": {"delete": false}}],
//	  "ips": [{"name": "web-ip", "id": 9, "type": "primary", "family": "ipv4",
//	    "ip": "203.0.113.7", "labels": {}, "assignee": "web-1",
//	    "protection": {"delete": false}}]
//	}
//
// observed says which kinds the provider listed ([FromProvider]: all of
// them; ips only when both primary and floating IPs were listed). With
// [FromServers] (servers only) firewalls, networks, volumes and ips are
// empty with observed false, and a server's firewalls and networks are null
// (unknown) unless a plan's create names them. Policies must not read an
// unobserved kind's emptiness as absence: the default set warns ("not
// observed") instead of denying. A server's firewalls are the ones it names
// and the ones that name it (label-selector firewalls are not resolved);
// SSH keys are not in the input. A public_net address is "" when the
// server has none, and "pending" in a plan's end state for an address the
// provider has yet to assign.
//
// An input is bounded: at most MaxResources resources of each kind, and at
// most MaxInputSize bytes of JSON; a larger provider answer is refused
// (ErrInputTooLarge) before any policy runs.
//
// # Default policy set
//
// Defaults returns the files `vmc-git init` writes to policy/ (the
// defaults/ directory of this package): naming.rego (server names match
// <role>-<n>), labels.rego (env and role on every server), firewall.rego
// (a firewall on every server with a public address; no inbound SSH from
// 0.0.0.0/0 or ::/0 unless the firewall carries the label
// vmc.policy/public-ssh=allow), network.rego (every server in a private
// network) and protection.rego (delete protection on servers labelled
// env=production). Users edit them and add their own files.
//
// # Attestation
//
// [Statement] builds an in-toto Statement v1 (github.com/in-toto/attestation,
// go/v1) with predicateType PredicateType: one subject per resource, named
// "<kind>/<name>" with the sha256 and blake3 of its canonical (RFC 8785)
// JSON as in the input; the predicate holds the bundle's blake3 and file
// list, the pin the trust state held when the check ran ("pin", absent in
// a ledger made before pins) and whether the bundle is it ("pinned"), the
// input's digests and the findings. Worked example of a predicate:
//
//	{"policy": {"blake3": "9f…", "files": ["policy/naming.rego", …], "pin": "9f…", "pinned": true},
//	 "input": {"v": 1, "source": "provider", "blake3": "c1…", "sha256": "5a…"},
//	 "result": {"pass": false, "deny": [{"resource": "server/Web", "rule": "naming",
//	            "reason": "…"}], "warn": []}}
package policy
