// Package trust holds the trust-state transitions of keys receipts: how a
// proposal (trust, revoke, rotate) with its admin co-signatures turns the
// trust state before a receipt into the state after it (DESIGN.md section 4).
//
// The trust state itself (keys.Trust: keys, roles, validity windows,
// allowed_signers) is package keys'; the receipt format is package
// receipt's. This package joins the two: ApplyKeys is what the ledger writer
// and verifier run for every keys receipt, ApplyKeysUnsigned is the dry run
// a proposal gets before anyone signs it, and CheckCosigs counts the admin
// co-signatures (namespace vmc-keys, over the proposal's canonical bytes)
// against admin_threshold.
package trust

import (
	"fmt"
	"strings"
	"time"

	"github.com/vmc-git/vmc-git/internal/canon"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/receipt"
)

// ApplyKeys checks a keys receipt against the trust state before it and
// returns the trust state after it. The proposal must name this ledger and
// be based on the trust state before it (StateDigest; or, as proposals
// made before that rule were, on the previous receipt's blake3), and carry co-signatures
// (namespace vmc-keys, over the proposal's canonical bytes) from at least
// admin_threshold distinct keys trusted as admin; the receipt's own signer
// must be one of them.
func ApplyKeys(before *keys.Trust, r *receipt.Receipt) (*keys.Trust, error) {
	p := r.Keys.Proposal
	if p.Ledger != r.Ledger {
		return nil, fmt.Errorf("trust change proposed for ledger %q, not %q", p.Ledger, r.Ledger)
	}
	if p.Base != r.PrevBlake3 {
		st, err := StateDigest(before)
		if err != nil {
			return nil, err
		}
		if p.Base != st {
			return nil, fmt.Errorf("keys op %s: trust change proposed against trust state %s, but the trust state is now %s (another trust change landed): propose it again", p.Op, p.Base, st)
		}
	}
	msg, err := canon.Marshal(p)
	if err != nil {
		return nil, err
	}
	if err := CheckCosigs(before, msg, r.Keys.Signatures, r.Time()); err != nil {
		return nil, err
	}
	signed := false
	for _, s := range r.Keys.Signatures {
		signed = signed || s.KID == r.KID
	}
	if !signed {
		return nil, fmt.Errorf("receipt signer %s did not co-sign the trust change", r.KID)
	}
	return applyChange(before, r)
}

// endGrace is how long after the receipt that retires or rotates a key the
// key stops being valid (exclusive). The receipt itself may be signed by
// that key, so it must be inside the window; and OpenSSH's allowed_signers
// bounds are inclusive and need valid-before > valid-after, so the window of
// a key added and ended in the same second must still span two seconds
// (allowed_signers says valid-before = end - 1 s). Append dates receipts
// after such a change at the end, so no honest receipt falls in the grace.
const endGrace = 2 * time.Second

// applyChange applies the proposal of a keys receipt to a copy of before.
func applyChange(before *keys.Trust, r *receipt.Receipt) (*keys.Trust, error) {
	p := r.Keys.Proposal
	var err error
	after := before.Clone()
	at := r.Time()
	switch p.Op {
	case receipt.KeysProvider:
		if p.Provider == after.Provider {
			return nil, fmt.Errorf("provider is %s already", p.Provider)
		}
		after.Provider = p.Provider
	case receipt.KeysPolicyBundle:
		if p.PolicyBundle == after.PolicyBundle {
			return nil, fmt.Errorf("policy bundle %s is pinned already", p.PolicyBundle)
		}
		after.PolicyBundle = p.PolicyBundle
	case receipt.KeysTrust:
		err = after.Add(*p.Key, r.Seq, at)
	case receipt.KeysRevoke:
		// A key ends endGrace after the receipt that ends it, so that the
		// receipt itself (which it may sign) stays valid for stock git; a
		// compromise may be backdated to when it happened.
		end := at.Add(endGrace)
		if p.At != "" {
			end, _ = keys.ParseTime(p.At)
			if end.After(at) {
				return nil, fmt.Errorf("revoke %s: at %s is after this receipt's time", p.KID, p.At)
			}
		}
		err = after.End(p.KID, keys.StatusRevoked, p.Reason, r.Seq, end)
	case receipt.KeysPolicy:
		if p.Policy.ApprovalsRequired == after.ApprovalsRequired && p.Policy.AdminThreshold == after.AdminThreshold {
			return nil, fmt.Errorf("policy is approvals_required %d, admin_threshold %d already", after.ApprovalsRequired, after.AdminThreshold)
		}
		after.ApprovalsRequired, after.AdminThreshold = p.Policy.ApprovalsRequired, p.Policy.AdminThreshold
	case receipt.KeysRoles:
		old := after.Key(p.KID)
		if old == nil || old.Status != keys.StatusActive {
			return nil, fmt.Errorf("roles %s: key is not trusted", p.KID)
		}
		spec := old.KeySpec
		spec.Roles, spec.ValidAfter = p.Roles, ""
		if err = after.End(p.KID, keys.StatusRotated, "", r.Seq, at.Add(endGrace)); err == nil {
			err = after.Add(spec, r.Seq, at)
		}
	case receipt.KeysRotate:
		old := after.Key(p.KID)
		if old == nil || old.Status != keys.StatusActive {
			return nil, fmt.Errorf("rotate %s: key is not trusted", p.KID)
		}
		if p.Key.KID != p.KID {
			return nil, fmt.Errorf("rotate %s: the new key must keep kid %s", p.KID, p.KID)
		}
		if err = after.End(p.KID, keys.StatusRotated, "", r.Seq, at.Add(endGrace)); err == nil {
			err = after.Add(*p.Key, r.Seq, at)
		}
	case receipt.KeysAddWitness:
		err = after.AddWitness(*p.Witness)
	case receipt.KeysRemoveWitness:
		err = after.RemoveWitness(p.WitnessName)
	case receipt.KeysWitnessThreshold:
		after.WitnessThreshold = *p.WitnessThreshold
	}
	if err != nil {
		return nil, err
	}
	if err := after.CheckPolicy(); err != nil {
		return nil, fmt.Errorf("after the change: %w", err)
	}
	after.MarkChanged(r.Seq)
	return after, nil
}

// CheckCosigs checks admin co-signatures over a trust-change proposal.
func CheckCosigs(t *keys.Trust, msg []byte, sigs []receipt.Cosig, at time.Time) error {
	seen := map[string]string{}
	var kids []string
	for _, s := range sigs {
		e, err := t.Authorize(s.KID, nil, at, keys.RoleAdmin)
		if err != nil {
			return fmt.Errorf("co-signature: %w", err)
		}
		fp := keys.Fingerprint(e.Pub)
		if other, dup := seen[fp]; dup {
			return fmt.Errorf("co-signatures by %s and %s are the same key", other, s.KID)
		}
		seen[fp] = s.KID
		kids = append(kids, s.KID)
		if err := keys.Verify(e.Pub, keys.NamespaceKeys, msg, []byte(s.Sig)); err != nil {
			return fmt.Errorf("co-signature by %s: %w", s.KID, err)
		}
	}
	if len(seen) < t.AdminThreshold {
		return fmt.Errorf("%d admin signatures (%s), admin_threshold is %d", len(seen), strings.Join(kids, ", "), t.AdminThreshold)
	}
	return nil
}

// ApplyKeysUnsigned applies a keys receipt's change to t without checking
// co-signatures: a dry run for proposals.
func ApplyKeysUnsigned(t *keys.Trust, r *receipt.Receipt) (*keys.Trust, error) {
	return applyChange(t, r)
}

// StateDigest is the BLAKE3 of the trust state's canonical form (the bytes
// of keys/trust.json): what a trust-change proposal is based on. Every keys
// receipt changes it (the state records the seq of the receipt that made it,
// Trust.Changed, besides the seqs that added and ended each entry), so
// a proposal applies at most once, and only to the trust state it was made
// for, whatever other receipts land meanwhile.
func StateDigest(t *keys.Trust) (digest.Digest, error) {
	b, err := canon.Marshal(t)
	if err != nil {
		return digest.Zero, err
	}
	return digest.Blake3(b), nil
}
