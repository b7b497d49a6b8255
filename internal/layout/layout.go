// Package layout names the paths plans and their approvals take in a tree,
// the one place for them: on the main branch (plans/<id>.json,
// plans/<id>.approvals/<kid>.sig, package plans) and in the ledger's copy of
// an applied plan (the same names under the commit's root, package
// gitledger). A leaf: it imports nothing, so that both can use it.
package layout

// Paths of plans and approvals, relative to a tree's root.
const (
	PlansDir        = "plans"      // plans/<id>.json
	PlanExt         = ".json"      // a plan file: <id>.json
	ApprovalsSuffix = ".approvals" // a plan's approvals directory: <id>.approvals/
	ApprovalExt     = ".sig"       // an approval: <id>.approvals/<kid>.sig
)
