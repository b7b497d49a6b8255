package workspace

import (
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/merkle"
)

// KeyInfo is one key of a trust state, as `vmc-git keys list` reports it:
// with the sumdb/note verifier key that checks the checkpoints it signs.
type KeyInfo struct {
	KID         string      `json:"kid"`
	Roles       []keys.Role `json:"roles"`
	Fingerprint string      `json:"fingerprint"`
	PublicKey   string      `json:"public_key"`
	ValidAfter  string      `json:"valid_after"`
	ValidBefore string      `json:"valid_before,omitempty"` // "": open
	Status      string      `json:"status"`
	Reason      string      `json:"reason,omitempty"`
	AddedSeq    uint64      `json:"added_seq"`
	NoteKey     string      `json:"note_verifier_key"`
}

// KeyList is a trust state's policy and every key it ever trusted.
type KeyList struct {
	Keys   []KeyInfo   `json:"keys"`
	Policy keys.Policy `json:"policy"`
}

// Keys lists the trust state at the tip or, with at, after receipt *at
// (one past the tip: not found).
func (ws *Workspace) Keys(at *uint64) (*KeyList, error) {
	tip, err := ws.Ledger.Tip()
	if err != nil {
		return nil, err
	}
	t := tip.Trust
	if at != nil {
		if t, err = ws.Ledger.TrustAt(tip, *at); err != nil {
			return nil, notFoundErr(err)
		}
	}
	out := &KeyList{Policy: t.Policy}
	for _, e := range t.Keys() {
		ek, _ := keys.Ed25519Public(e.Pub)
		vk, err := merkle.VerifierKey(e.KID, ek)
		if err != nil {
			return nil, err
		}
		k := KeyInfo{KID: e.KID, Roles: e.Roles, Fingerprint: keys.Fingerprint(e.Pub), PublicKey: e.PublicKey,
			ValidAfter: keys.FormatTime(e.ValidFrom()), Status: e.Status, Reason: e.Reason, AddedSeq: e.AddedSeq, NoteKey: vk}
		if !e.ValidUntil().IsZero() {
			k.ValidBefore = keys.FormatTime(e.ValidUntil())
		}
		out.Keys = append(out.Keys, k)
	}
	return out, nil
}
