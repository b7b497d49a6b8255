package workspace

import (
	"fmt"

	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/policy"
	"github.com/vmc-git/vmc-git/receipt"
)

// The pinned policy.
//
// Whoever can push policy/*.rego to the main branch could otherwise lift
// the policy (delete it), retire every merged plan (a deny-everything
// policy) or stall apply (a policy that does not compile or runs to the
// time limit). So the trust state pins the policy bundle
// (keys.Policy.PolicyBundle: a blake3 or "none"), changed only by an
// admin-signed keys receipt of op receipt.KeysPolicyBundle (vmc-git policy
// pin; vmc-git init pins the set it writes, or none with --no-policy),
// and apply judges a plan only with the main branch's policy when its
// digest (policy.Digest, taken before anything is compiled) is that pin:
//
//	pin        main's policy/*.rego   apply
//	none       none                   result none
//	none       bundle Y               plan stays pending (PolicyPinError)
//	X          none                   plan stays pending
//	X          bundle X               judged with X (pass, overridden, or denied and retired)
//	X          bundle Y               plan stays pending; Y is never compiled or run
//	"" (ledger made before pins)      plan stays pending until an admin pins
//
// A plan kept pending has no receipt and is tried again by the next run:
// a pusher without an admin key can at worst delay plans (until an admin
// pins or main's policy/ is put back), never lift the policy or retire a
// plan. verify chain and the hook hold receipts to the same rule
// (receipt.CheckPolicyPin). Plan status, review and MCP show the same
// refusal, as they ask the gate's question (gatePolicy).

// PolicyPinError is apply's refusal to judge plans with the policy at a
// revision: its digest is not the one the trust state pins. Pinned is the
// pin (a blake3 in hex, keys.PolicyBundleNone, or "" when nothing is
// pinned); Bundle is the revision's (a blake3 in hex, or
// keys.PolicyBundleNone when it has no policy files).
type PolicyPinError struct {
	Rev    string
	Pinned string
	Bundle string
	Files  int
}

func (e *PolicyPinError) Error() string {
	held := fmt.Sprintf("the policy bundle on %s is %s (%d files)", e.Rev, e.Bundle, e.Files)
	if e.Bundle == keys.PolicyBundleNone {
		held = fmt.Sprintf("%s has no %s/*%s", e.Rev, policy.Dir, policy.Ext)
	}
	var why string
	switch {
	case e.Pinned == "":
		why = "the trust state pins no policy bundle (a ledger made before policy was pinned)"
	case e.Pinned == keys.PolicyBundleNone:
		why = "the trust state pins no policy (none): a policy no admin pinned does not judge plans"
	case e.Bundle == keys.PolicyBundleNone:
		why = "the trust state pins policy bundle " + e.Pinned + ": removing the policy on the main branch does not lift it"
	default:
		why = "that is not the pinned bundle " + e.Pinned + ": a policy no admin pinned does not judge plans"
	}
	return fmt.Sprintf("policy: %s, but %s; the plan stays pending, nothing was applied", held, why)
}

// pinHint is what a human does about a PolicyPinError.
func pinHint(e *PolicyPinError) string {
	if e.Bundle == keys.PolicyBundleNone && e.Pinned != "" {
		return "restore the pinned policy on the main branch, or, if it was removed on purpose, an admin pins no policy: vmc-git policy pin --key KEY"
	}
	return fmt.Sprintf("an admin reviews %s/ on the main branch (vmc-git policy status) and pins it: vmc-git policy pin --key KEY; or put %s/ back to the pinned bundle", policy.Dir, policy.Dir)
}

// policyAt is the policy at one revision as apply reads it: its files and
// digest, read once; the bundle is compiled only once it is known to be
// the pinned one.
type policyAt struct {
	rev      string
	files    []policy.File
	bundle   string // digest in hex, or keys.PolicyBundleNone
	compiled *policy.Bundle
}

// readPolicyAt reads the policy files at rev (not compiled).
func (ws *Workspace) readPolicyAt(rev string) (*policyAt, error) {
	files, err := ws.policyFiles(rev)
	if err != nil {
		return nil, fmt.Errorf("%w; nothing was applied", err)
	}
	return &policyAt{rev: rev, files: files, bundle: bundleOf(files)}, nil
}

// bundleOf is what a pin names for these policy files: their digest in
// hex, or keys.PolicyBundleNone for none.
func bundleOf(files []policy.File) string {
	if len(files) == 0 {
		return keys.PolicyBundleNone
	}
	return policy.Digest(files).String()
}

// forPin is the bundle apply judges with under pin (nil: no policy, result
// none), or a refused *PolicyPinError when the revision's bundle is not
// the pin; a pinned bundle that does not compile is an invalid error.
func (p *policyAt) forPin(pin string) (*policy.Bundle, error) {
	if pin == "" || pin != p.bundle {
		e := &PolicyPinError{Rev: p.rev, Pinned: pin, Bundle: p.bundle, Files: len(p.files)}
		return nil, refusedErr(e, pinHint(e))
	}
	if p.bundle == keys.PolicyBundleNone {
		return nil, nil
	}
	if p.compiled == nil {
		b, err := policy.Compile(p.files)
		if err != nil {
			return nil, invalidErr(fmt.Errorf("pinned %w; nothing was applied", err), "fix the policy on the main branch and have an admin pin the fixed bundle: vmc-git policy pin --key KEY")
		}
		p.compiled = b
	}
	return p.compiled, nil
}

// PolicyPinStatus is the pinned policy against the policy at a revision.
type PolicyPinStatus struct {
	Rev string `json:"rev"`
	// Pinned is the trust state's pin at the ledger tip: a blake3 in hex,
	// "none", or "" (a ledger made before pins: apply judges no plan).
	Pinned string `json:"pinned"`
	// Bundle is the revision's bundle: a blake3 in hex, or "none" when it
	// has no policy files.
	Bundle string   `json:"bundle"`
	Files  []string `json:"files"`
	// Match: apply judges plans with the revision's policy.
	Match bool `json:"match"`
	// CompileError says why the revision's bundle does not compile ("":
	// it does, or there is none); such a bundle cannot be pinned.
	CompileError string `json:"compile_error,omitempty"`
}

// PolicyPin compares the policy at rev ("" for the main branch) with the
// pin at the ledger tip, compiling rev's bundle to say whether it could be
// pinned. Read only.
func (ws *Workspace) PolicyPin(rev string) (*PolicyPinStatus, error) {
	if rev == "" {
		rev = ws.MainRef()
	}
	tip, err := ws.Ledger.Tip()
	if err != nil {
		return nil, err
	}
	files, err := ws.policyFiles(rev)
	if err != nil {
		return nil, err
	}
	st := &PolicyPinStatus{Rev: rev, Pinned: tip.Trust.PolicyBundle, Bundle: bundleOf(files), Files: []string{}}
	for _, f := range files {
		st.Files = append(st.Files, f.Name)
	}
	if len(files) > 0 {
		if _, err := policy.Compile(files); err != nil {
			st.CompileError = err.Error()
		}
	}
	st.Match = st.Pinned == st.Bundle
	return st, nil
}

// PolicyPinChange is the trust change that pins the policy at rev ("" for
// the main branch): its bundle's digest, or none when rev has no policy
// files. It refuses a bundle that does not compile and one that is pinned
// already. The change is applied with ChangeTrust, or written as a
// proposal with ProposeTrust for admin_threshold > 1.
func (ws *Workspace) PolicyPinChange(rev string) (TrustChange, *PolicyPinStatus, error) {
	st, err := ws.PolicyPin(rev)
	if err != nil {
		return TrustChange{}, nil, err
	}
	if st.CompileError != "" {
		return TrustChange{}, st, invalidErr(fmt.Errorf("policy pin: the bundle %s on %s does not compile, so it is not pinned: %s", st.Bundle, st.Rev, st.CompileError),
			"fix the policy files and commit them, then pin again")
	}
	if st.Match {
		return TrustChange{}, st, refusedErr(fmt.Errorf("policy pin: the policy bundle %s on %s is pinned already", st.Bundle, st.Rev))
	}
	return TrustChange{Op: receipt.KeysPolicyBundle, PolicyBundle: st.Bundle}, st, nil
}

// genesisPolicyBundle is what a genesis pins for the main branch's policy
// after init in the repository at dir: the policy files committed at rev
// ("": none, an unborn branch) with the default set written over them
// unless noPolicy.
func genesisPolicyBundle(dir, rev string, noPolicy bool) (string, error) {
	var files []policy.File
	if rev != "" {
		var err error
		if files, err = policyFilesIn(dir, rev); err != nil {
			return "", err
		}
	}
	if !noPolicy {
		byName := map[string]int{}
		for i, f := range files {
			byName[f.Name] = i
		}
		for _, f := range policy.Defaults() {
			if i, ok := byName[f.Name]; ok {
				files[i] = f
			} else {
				files = append(files, f)
			}
		}
	}
	return bundleOf(files), nil
}

// pinSummary is the summary of a policy_bundle keys receipt.
func pinSummary(p receipt.Proposal) string {
	if p.PolicyBundle == keys.PolicyBundleNone {
		return "pin no policy"
	}
	return "pin policy bundle " + shortHex(p.PolicyBundle)
}

func shortHex(s string) string {
	if len(s) > 16 {
		return s[:16]
	}
	return s
}

// pinnedOf is the pin for an attestation: the trust state's at the tip
// ("" when it cannot be read).
func (ws *Workspace) pinnedOf() string {
	tip, err := ws.Ledger.Tip()
	if err != nil {
		return ""
	}
	return tip.Trust.PolicyBundle
}
