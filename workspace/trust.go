package workspace

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/internal/canon"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/receipt"
	"github.com/vmc-git/vmc-git/trust"
)

// TrustChange is the operator's request for a trust change: Op is
// receipt.KeysTrust (Key: the new key with its roles and window),
// receipt.KeysRevoke (KID, At, Reason) or receipt.KeysRotate (KID, and
// NewKey: the replacement public key, which keeps the old key's roles).
type TrustChange struct {
	Op     string
	Key    *keys.KeySpec
	KID    string
	At     string
	Reason string
	NewKey string       // the replacement OpenSSH public key: a line or a file (rotate)
	Policy *keys.Policy // receipt.KeysPolicy: the new thresholds
	// ApprovalsRequired and AdminThreshold are, with a nil Policy, the
	// thresholds to change (receipt.KeysPolicy): one left nil keeps the
	// trust state's.
	ApprovalsRequired, AdminThreshold *int
	Roles                             []keys.Role // receipt.KeysRoles: KID's new roles
	// Provider is the provider to pin (receipt.KeysProvider).
	Provider string
	// PolicyBundle is the policy bundle to pin (receipt.KeysPolicyBundle;
	// see PolicyPinChange).
	PolicyBundle string

	Witness          *keys.WitnessSpec // receipt.KeysAddWitness
	WitnessName      string            // receipt.KeysRemoveWitness
	WitnessThreshold *int              // receipt.KeysWitnessThreshold
}

// baseOf is what a proposal made at tip is based on: the trust state's
// digest (trust.StateDigest), so receipts of other kinds landing before it
// is applied do not void it.
func baseOf(tip *gitledger.Tip) (digest.Digest, error) { return trust.StateDigest(tip.Trust) }

// sameBase reports whether proposal p still applies at tip: it was based on
// tip's trust state (or, as older proposals were, on tip's head).
func sameBase(tip *gitledger.Tip, p receipt.Proposal) bool {
	if p.Base == tip.Head.Blake3 {
		return true
	}
	b, err := baseOf(tip)
	return err == nil && p.Base == b
}

// ProposeTrust builds the proposal for a trust change against the ledger
// head, checks its shape and that it applies to the current trust state
// (role names, duplicate keys…), without any signature yet. It returns
// the number of admin co-signatures the change needs.
func (ws *Workspace) ProposeTrust(tc TrustChange) (*receipt.KeysChange, int, error) {
	tip, err := ws.Ledger.Tip()
	if err != nil {
		return nil, 0, err
	}
	ch, err := proposeTrust(tip, tc)
	if err != nil {
		return nil, 0, err
	}
	return ch, tip.Trust.AdminThreshold, nil
}

func proposeTrust(tip *gitledger.Tip, tc TrustChange) (*receipt.KeysChange, error) {
	base, err := baseOf(tip)
	if err != nil {
		return nil, err
	}
	p := receipt.Proposal{V: receipt.Version, Ledger: tip.Head.Ledger, Base: base, Op: tc.Op}
	switch tc.Op {
	case receipt.KeysPolicy:
		p.Policy = tc.Policy
		if p.Policy == nil {
			p.Policy = &keys.Policy{ApprovalsRequired: tip.Trust.ApprovalsRequired, AdminThreshold: tip.Trust.AdminThreshold}
			if tc.ApprovalsRequired != nil {
				p.Policy.ApprovalsRequired = *tc.ApprovalsRequired
			}
			if tc.AdminThreshold != nil {
				p.Policy.AdminThreshold = *tc.AdminThreshold
			}
		}
	case receipt.KeysRoles:
		p.KID, p.Roles = tc.KID, tc.Roles
		if tip.Trust.Key(p.KID) == nil {
			return nil, notFoundErr(fmt.Errorf("key %s is not trusted", p.KID))
		}
	case receipt.KeysTrust:
		p.Key = tc.Key
	case receipt.KeysRevoke:
		p.KID, p.At, p.Reason = tc.KID, tc.At, tc.Reason
	case receipt.KeysProvider:
		p.Provider = tc.Provider
	case receipt.KeysPolicyBundle:
		p.PolicyBundle = tc.PolicyBundle
	case receipt.KeysRotate:
		p.KID = tc.KID
		old := tip.Trust.Key(p.KID)
		if old == nil {
			return nil, notFoundErr(fmt.Errorf("key %s is not trusted", p.KID))
		}
		pub, err := keys.LoadPublicKey(tc.NewKey)
		if err != nil {
			return nil, usageErr(err)
		}
		p.Key = &keys.KeySpec{KID: p.KID, PublicKey: keys.FormatPublicKey(pub), Roles: old.Roles}
	case receipt.KeysAddWitness, receipt.KeysRemoveWitness, receipt.KeysWitnessThreshold:
		p.Witness, p.WitnessName, p.WitnessThreshold = tc.Witness, tc.WitnessName, tc.WitnessThreshold
	}
	ch := &receipt.KeysChange{Proposal: p, Signatures: []receipt.Cosig{}}
	if err := ValidateProposal(ch); err != nil {
		return nil, usageErr(err)
	}
	// Check it applies to the current trust (role names, duplicate keys...).
	if _, err := dryRunKeys(tip, ch); err != nil {
		return nil, refusedErr(err)
	}
	return ch, nil
}

// ChangeTrust proposes, co-signs and applies a trust change in one step:
// only when admin_threshold is 1. change is called (to read the request)
// only once that is known.
func (ws *Workspace) ChangeTrust(op string, change func() (TrustChange, error), id Identity) (*gitledger.Written, error) {
	tip, err := ws.Ledger.Tip()
	if err != nil {
		return nil, err
	}
	if tip.Trust.AdminThreshold > 1 {
		propose := fmt.Sprintf("vmc-git keys propose %s ... -o change.json", op)
		if op == receipt.KeysPolicyBundle {
			propose = "vmc-git policy pin -o change.json"
		}
		return nil, refusedErr(fmt.Errorf("trust changes need %d admin signatures", tip.Trust.AdminThreshold),
			propose+"; each admin: vmc-git keys cosign change.json; then vmc-git keys apply change.json")
	}
	tc, err := change()
	if err != nil {
		return nil, err
	}
	ch, err := proposeTrust(tip, tc)
	if err != nil {
		return nil, err
	}
	if err := cosign(ch, id); err != nil {
		return nil, err
	}
	return ws.ApplyTrust(ch, id)
}

// CosignTrust adds id's admin co-signature to a proposal made against the
// current ledger head, replacing an earlier one by the same kid. It refuses
// a proposal for another head and a key whose signature would not count.
// It returns the threshold the proposal needs.
func (ws *Workspace) CosignTrust(ch *receipt.KeysChange, id Identity) (threshold int, err error) {
	tip, err := ws.Ledger.Tip()
	if err != nil {
		return 0, err
	}
	if p := ch.Proposal; p.Ledger != tip.Head.Ledger || !sameBase(tip, p) {
		return 0, refusedErr(fmt.Errorf("the proposal was made against ledger %s trust state %s; the trust state has changed since (receipt %d)", p.Ledger, p.Base, tip.Head.Seq),
			"another trust change landed: propose the change again and collect the signatures again")
	}
	if _, err := dryRunKeys(tip, ch); err != nil {
		return 0, refusedErr(fmt.Errorf("the proposal no longer applies: %w", err))
	}
	if _, err := tip.Trust.Authorize(id.KID, id.Signer.PublicKey(), time.Now(), keys.RoleAdmin); err != nil {
		return 0, refusedErr(fmt.Errorf("your signature would not count: %w", err))
	}
	if err := cosign(ch, id); err != nil {
		return 0, err
	}
	return tip.Trust.AdminThreshold, nil
}

// ApplyTrust writes the keys receipt for a proposal with enough admin
// co-signatures, signed by id. Before anything is written it refuses a
// proposal for another head and one whose co-signatures do not meet
// admin_threshold.
func (ws *Workspace) ApplyTrust(ch *receipt.KeysChange, id Identity) (*gitledger.Written, error) {
	p := ch.Proposal
	summary := fmt.Sprintf("%s %s", p.Op, p.KID)
	switch p.Op {
	case receipt.KeysTrust:
		summary = fmt.Sprintf("trust %s as %s", p.Key.KID, JoinRoles(p.Key.Roles))
	case receipt.KeysRevoke:
		summary = fmt.Sprintf("revoke %s (%s)", p.KID, p.Reason)
	case receipt.KeysRotate:
		summary = fmt.Sprintf("rotate %s to %s", p.KID, fingerprintOf(p.Key.PublicKey))
	case receipt.KeysPolicy:
		summary = fmt.Sprintf("policy: approvals_required %d, admin_threshold %d", p.Policy.ApprovalsRequired, p.Policy.AdminThreshold)
	case receipt.KeysRoles:
		summary = fmt.Sprintf("roles of %s: %s", p.KID, JoinRoles(p.Roles))
	case receipt.KeysProvider:
		summary = "pin provider " + p.Provider
	case receipt.KeysPolicyBundle:
		summary = pinSummary(p)
	case receipt.KeysAddWitness, receipt.KeysRemoveWitness, receipt.KeysWitnessThreshold:
		summary = witnessSummary(p)
	}
	w, err := ws.Ledger.Append(id.Signer, id.KID, func(tip *gitledger.Tip) (*gitledger.Draft, error) {
		if !sameBase(tip, p) {
			return nil, refusedErr(fmt.Errorf("keys op %s: the proposal was made against trust state %s; the trust state has changed since (receipt %d)", p.Op, p.Base, tip.Head.Seq),
				"another trust change landed: propose the change again and collect the signatures again")
		}
		if err := checkProposalSigs(tip, ch); err != nil {
			return nil, err
		}
		return &gitledger.Draft{Receipt: receipt.Receipt{Kind: receipt.KindKeys, Summary: ws.summary(summary), Keys: ch}}, nil
	})
	if err != nil {
		return nil, refusedIfConflict(err)
	}
	return w, nil
}

// ValidateProposal checks a proposal's shape, its signatures aside:
// receipt.KeysChange.Validate wants at least one, which a fresh proposal
// does not have yet, so a placeholder stands in for them.
func ValidateProposal(ch *receipt.KeysChange) error {
	tmp := *ch
	tmp.Signatures = []receipt.Cosig{{KID: "x", Sig: "x"}}
	return tmp.Validate()
}

// dryRunKeys applies the change to a copy of the trust state, skipping the
// signature threshold.
func dryRunKeys(tip *gitledger.Tip, ch *receipt.KeysChange) (*keys.Trust, error) {
	t := tip.Trust.Clone()
	r := receipt.Receipt{Ledger: tip.Head.Ledger, Seq: tip.Head.Seq + 1, PrevBlake3: tip.Head.Blake3, CreatedAt: keys.FormatTime(time.Now()), Keys: ch}
	return trust.ApplyKeysUnsigned(t, &r)
}

func cosign(ch *receipt.KeysChange, id Identity) error {
	msg, err := canon.Marshal(ch.Proposal)
	if err != nil {
		return err
	}
	sig, err := id.Signer.Sign(keys.NamespaceKeys, msg)
	if err != nil {
		return err
	}
	out := []receipt.Cosig{}
	for _, x := range ch.Signatures {
		if x.KID != id.KID {
			out = append(out, x)
		}
	}
	out = append(out, receipt.Cosig{KID: id.KID, Sig: string(sig)})
	sort.Slice(out, func(i, j int) bool { return out[i].KID < out[j].KID })
	ch.Signatures = out
	return nil
}

// checkProposalSigs refuses, before anything is written, a proposal whose
// co-signatures do not meet admin_threshold at tip.
func checkProposalSigs(tip *gitledger.Tip, ch *receipt.KeysChange) error {
	msg, err := canon.Marshal(ch.Proposal)
	if err != nil {
		return err
	}
	if err := trust.CheckCosigs(tip.Trust, msg, ch.Signatures, time.Now()); err != nil {
		return refusedErr(fmt.Errorf("trust change refused: %w", err),
			fmt.Sprintf("each admin runs vmc-git keys cosign FILE until %d admins have signed, then vmc-git keys apply FILE", tip.Trust.AdminThreshold))
	}
	return nil
}

// WriteChange writes a proposal file (canonical JSON); create refuses an
// existing file.
func WriteChange(path string, ch *receipt.KeysChange, create bool) error {
	b, err := canon.Marshal(ch)
	if err != nil {
		return err
	}
	flag := os.O_WRONLY | os.O_TRUNC
	if create {
		flag |= os.O_CREATE | os.O_EXCL
	}
	f, err := os.OpenFile(path, flag, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ReadChange reads and checks a proposal file.
func ReadChange(path string) (*receipt.KeysChange, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var ch receipt.KeysChange
	if err := canon.Unmarshal(b, &ch); err != nil {
		return nil, invalidErr(fmt.Errorf("%s: %w", path, err))
	}
	if err := ValidateProposal(&ch); err != nil {
		return nil, invalidErr(fmt.Errorf("%s: %w", path, err))
	}
	return &ch, nil
}

// JoinRoles lists roles comma-separated.
func JoinRoles(rs []keys.Role) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ",")
}

func fingerprintOf(line string) string {
	pub, _, err := keys.ParsePublicKey([]byte(line))
	if err != nil {
		return "?"
	}
	return keys.Fingerprint(pub)
}
