package receipt

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/keys"
)

// Trust-change operations of a keys receipt.
const (
	KeysTrust  = "trust"
	KeysRevoke = "revoke"
	KeysRotate = "rotate"
	KeysPolicy = "policy" // change approvals_required and admin_threshold
	KeysRoles  = "roles"  // change a trusted key's roles (same key, same kid)
	// Witness policy (keys.WitnessSpec): add or remove a witness, or set
	// witness_threshold, the cosignatures a snapshot tag needs.
	KeysAddWitness       = "add_witness"
	KeysRemoveWitness    = "remove_witness"
	KeysWitnessThreshold = "witness_threshold"
	// KeysProvider changes the pinned provider (keys.Policy.Provider): what
	// .vmc/config.json's "provider" must say for apply to run.
	KeysProvider = "provider"
	// KeysPolicyBundle changes the pinned policy bundle
	// (keys.Policy.PolicyBundle): the only policy apply judges plans with.
	KeysPolicyBundle = "policy_bundle"
)

// Revocation reasons.
const (
	ReasonCompromised = "compromised"
	ReasonRetired     = "retired"
)

// KeysChange is the body of a keys receipt: one trust change (the proposal)
// and the admin co-signatures over it (namespace vmc-keys).
type KeysChange struct {
	Proposal   Proposal `json:"proposal"`
	Signatures []Cosig  `json:"signatures"`
}

// Proposal is a trust change as admins sign it. Its canonical bytes are what
// each co-signature covers; Ledger and Base (the BLAKE3 of the canonical
// trust state it was proposed against, keys/trust.json, so that receipts of
// other kinds landing meanwhile do not void it; formerly the blake3 of the
// ledger head it
// was proposed against) stop replay into another ledger or a later state.
type Proposal struct {
	V      int           `json:"v"`
	Ledger string        `json:"ledger"`
	Base   digest.Digest `json:"base"`
	Op     string        `json:"op"`
	Key    *keys.KeySpec `json:"key,omitempty"`    // trust: the new key; rotate: the replacement
	KID    string        `json:"kid,omitempty"`    // revoke, rotate: the key to end
	At     string        `json:"at,omitempty"`     // revoke: from when (default: the receipt's time)
	Reason string        `json:"reason,omitempty"` // revoke: compromised or retired
	Policy *keys.Policy  `json:"policy,omitempty"` // policy: the new thresholds (provider not included)
	Roles  []keys.Role   `json:"roles,omitempty"`  // roles: the key's new roles (sorted)
	// Provider is the new pinned provider (op provider).
	Provider string `json:"provider,omitempty"`
	// PolicyBundle is the new pinned policy bundle (op policy_bundle): a
	// blake3 in hex, or keys.PolicyBundleNone.
	PolicyBundle string `json:"policy_bundle,omitempty"`

	Witness          *keys.WitnessSpec `json:"witness,omitempty"`           // add_witness
	WitnessName      string            `json:"witness_name,omitempty"`      // remove_witness
	WitnessThreshold *int              `json:"witness_threshold,omitempty"` // witness_threshold (0 allowed)
}

// Cosig is one admin's signature over a proposal.
type Cosig struct {
	KID string `json:"kid"`
	Sig string `json:"sig"` // armored SSHSIG, namespace vmc-keys
}

// Validate checks the shape of a keys body.
func (k *KeysChange) Validate() error {
	p := k.Proposal
	if p.V != Version {
		return fmt.Errorf("keys: proposal version %d", p.V)
	}
	if err := ValidLedgerID(p.Ledger); err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	if p.Op != KeysProvider && p.Provider != "" {
		return fmt.Errorf("keys: only op provider takes provider")
	}
	if p.Op != KeysPolicyBundle && p.PolicyBundle != "" {
		return fmt.Errorf("keys: only op policy_bundle takes policy_bundle")
	}
	witnessFields := p.Witness != nil || p.WitnessName != "" || p.WitnessThreshold != nil
	keyFields := p.Key != nil || p.KID != "" || p.At != "" || p.Reason != ""
	switch p.Op {
	case KeysAddWitness, KeysRemoveWitness, KeysWitnessThreshold:
		if keyFields {
			return fmt.Errorf("keys: %s takes no key, kid, at or reason", p.Op)
		}
	default:
		if witnessFields {
			return fmt.Errorf("keys: %s takes no witness fields", p.Op)
		}
	}
	switch p.Op {
	case KeysAddWitness:
		if p.Witness == nil || p.WitnessName != "" || p.WitnessThreshold != nil {
			return fmt.Errorf("keys: add_witness takes witness only")
		}
		if _, err := p.Witness.Witness(); err != nil {
			return fmt.Errorf("keys: add_witness: %w", err)
		}
	case KeysRemoveWitness:
		if p.Witness != nil || p.WitnessName == "" || p.WitnessThreshold != nil {
			return fmt.Errorf("keys: remove_witness takes witness_name only")
		}
	case KeysWitnessThreshold:
		if p.Witness != nil || p.WitnessName != "" || p.WitnessThreshold == nil || *p.WitnessThreshold < 0 {
			return fmt.Errorf("keys: witness_threshold takes witness_threshold (0 or more) only")
		}
	case KeysProvider:
		if p.Key != nil || p.KID != "" || p.At != "" || p.Reason != "" {
			return fmt.Errorf("keys: provider takes provider only")
		}
		if err := keys.ValidProvider(p.Provider); err != nil {
			return fmt.Errorf("keys: %w", err)
		}
	case KeysPolicyBundle:
		if p.Key != nil || p.KID != "" || p.At != "" || p.Reason != "" {
			return fmt.Errorf("keys: policy_bundle takes policy_bundle only")
		}
		if err := keys.ValidPolicyBundle(p.PolicyBundle); err != nil {
			return fmt.Errorf("keys: %w", err)
		}
	case KeysTrust:
		if p.Key == nil || p.KID != "" || p.At != "" || p.Reason != "" {
			return fmt.Errorf("keys: trust takes key only")
		}
	case KeysRevoke:
		if p.Key != nil || p.KID == "" || (p.Reason != ReasonCompromised && p.Reason != ReasonRetired) {
			return fmt.Errorf("keys: revoke takes kid and reason (compromised or retired)")
		}
		if p.At != "" {
			if _, err := keys.ParseTime(p.At); err != nil {
				return fmt.Errorf("keys: at: %w", err)
			}
		}
	case KeysRotate:
		if p.Key == nil || p.KID == "" || p.At != "" || p.Reason != "" {
			return fmt.Errorf("keys: rotate takes kid and key")
		}
	case KeysPolicy:
		if p.Policy == nil || p.Key != nil || p.KID != "" || p.At != "" || p.Reason != "" || p.Roles != nil {
			return fmt.Errorf("keys: policy takes policy only")
		}
		if p.Policy.Provider != "" {
			return fmt.Errorf("keys: policy changes thresholds; the provider changes with op provider")
		}
		if p.Policy.PolicyBundle != "" {
			return fmt.Errorf("keys: policy changes thresholds; the policy bundle changes with op policy_bundle")
		}
	case KeysRoles:
		if p.KID == "" || len(p.Roles) == 0 || p.Key != nil || p.At != "" || p.Reason != "" || p.Policy != nil {
			return fmt.Errorf("keys: roles takes kid and roles")
		}
	default:
		return fmt.Errorf("keys: unknown op %q (want trust, revoke, rotate, policy, roles, provider, policy_bundle, add_witness, remove_witness or witness_threshold)", p.Op)
	}
	if p.Op != KeysPolicy && p.Policy != nil || p.Op != KeysRoles && p.Roles != nil {
		return fmt.Errorf("keys: %s takes no policy or roles", p.Op)
	}
	if len(k.Signatures) == 0 {
		return fmt.Errorf("keys: no admin signatures")
	}
	for i, s := range k.Signatures {
		if err := keys.ValidKID(s.KID); err != nil {
			return fmt.Errorf("keys: signature %d: %w", i, err)
		}
		if i > 0 && k.Signatures[i-1].KID >= s.KID {
			return fmt.Errorf("keys: signatures must be sorted by kid, one per kid")
		}
	}
	return nil
}

var planIDRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,127}$`)

// ValidPlanID checks a plan id: ^[a-z0-9][a-z0-9._-]{0,127}$ and no "..".
func ValidPlanID(id string) error {
	if !planIDRE.MatchString(id) {
		return fmt.Errorf("invalid plan id %q: want 1-128 of a-z 0-9 . _ -, starting with a letter or digit", clipID(id))
	}
	if strings.Contains(id, "..") {
		return fmt.Errorf("invalid plan id %q: must not contain \"..\"", clipID(id))
	}
	return nil
}

func clipID(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
