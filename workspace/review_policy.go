package workspace

import (
	"fmt"
	"strings"

	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/policy"
)

// maxListedPolicyFiles bounds the files a policy-change message names (the
// JSON lists them all, at most as many as git reports).
const maxListedPolicyFiles = 8

// reviewPolicyChange is Review's finding on a pull request that changes
// policy/ (git diff base...head): nil when it does not. The head's bundle
// is set beside the trust state's pin at the ledger tip (tip; tipErr when
// it could not be read): a bundle that is not the pin, once merged, judges
// no plan (apply keeps plans pending, policypin.go) until an admin pins
// it, which the finding says, with what to run. Files are read only to
// take their digest, never compiled.
func (ws *Workspace) reviewPolicyChange(base, head string, tip *gitledger.Tip, tipErr error) (*plans.PolicyChange, error) {
	out, err := gitCmd(ws.Root, "diff", "--name-status", "--no-renames", base+"..."+head, "--", policy.Dir+"/")
	if err != nil {
		return nil, err
	}
	pc := &plans.PolicyChange{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		status, file, ok := strings.Cut(line, "\t")
		if ok {
			pc.Files = append(pc.Files, plans.ChangedFile{Status: status, File: file})
		}
	}
	if len(pc.Files) == 0 {
		return nil, nil
	}
	var names []string
	for i, f := range pc.Files {
		if i == maxListedPolicyFiles {
			names = append(names, fmt.Sprintf("and %d more", len(pc.Files)-i))
			break
		}
		names = append(names, f.Status+" "+f.File)
	}
	what := fmt.Sprintf("this pull request changes %s/ (%s)", policy.Dir, strings.Join(names, ", "))
	const where = "keys/trust.json policy_bundle"

	files, ferr := ws.policyFiles(head)
	if ferr == nil {
		pc.Bundle = bundleOf(files)
	}
	switch {
	case tipErr != nil:
		pc.Message = fmt.Sprintf("%s, and the trust state's pin (%s) could not be read: %v", what, where, tipErr)
		pc.Hint = "once the ledger exists, an admin reviews the policy and pins it: vmc-git policy pin --key KEY"
		return pc, nil
	default:
		pc.Pinned = tip.Trust.PolicyBundle
	}
	pinned := pc.Pinned
	if pinned == "" {
		pinned = "nothing (a ledger made before policy was pinned)"
	}
	switch {
	case ferr != nil:
		pc.Message = fmt.Sprintf("%s, and its policy files are not a bundle apply can take: %v; the trust state pins %s (%s)", what, ferr, pinned, where)
		pc.Hint = fmt.Sprintf("fix %s/ in this pull request; after merging, an admin pins the fixed bundle: vmc-git policy pin --key KEY", policy.Dir)
	case pc.Bundle == pc.Pinned:
		pc.MatchesPin = true
		pc.Message = fmt.Sprintf("%s; its bundle %s is the one the trust state pins (%s): nothing to pin", what, pc.Bundle, where)
	case pc.Bundle == keys.PolicyBundleNone:
		pc.Message = fmt.Sprintf("%s and removes every policy file, but the trust state pins %s (%s) and removing the policy does not lift the pin: once merged, apply keeps every plan pending until an admin pins no policy", what, pinned, where)
		pc.Hint = "if the policy is removed on purpose, after merging an admin runs: vmc-git policy pin --key KEY (it pins none); otherwise keep policy/ as it is"
	default:
		pc.Message = fmt.Sprintf("%s: the bundle after merge is %s, but the trust state pins %s (%s), which no longer matches: once merged, apply judges no plan with it and keeps every plan pending until an admin pins it", what, pc.Bundle, pinned, where)
		pc.Hint = "after merging, an admin reviews the policy (vmc-git policy status) and pins it: vmc-git policy pin --key KEY"
	}
	return pc, nil
}
