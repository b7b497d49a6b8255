package workspace

import (
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/receipt"
)

func TestKeysListsTheTrustStateAtASeq(t *testing.T) {
	w := newWorld(t, 1)
	ws := w.open()
	if _, err := ws.ChangeTrust(receipt.KeysRevoke, func() (TrustChange, error) {
		return TrustChange{Op: receipt.KeysRevoke, KID: "bob", Reason: receipt.ReasonRetired}, nil
	}, w.ids["alice"]); err != nil {
		t.Fatal(err)
	}
	status := func(l *KeyList) map[string]string {
		m := map[string]string{}
		for _, k := range l.Keys {
			m[k.KID] = k.Status
			if !strings.HasPrefix(k.NoteKey, k.KID+"+") || k.Fingerprint != keys.Fingerprint(w.ids[k.KID].Signer.PublicKey()) {
				t.Errorf("key %s: note key %q, fingerprint %s", k.KID, k.NoteKey, k.Fingerprint)
			}
		}
		return m
	}
	now, err := ws.Keys(nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := status(now); s["alice"] == s["bob"] || len(s) != 2 || now.Policy.ApprovalsRequired != 1 || now.Policy.AdminThreshold != 1 {
		t.Fatalf("keys at the tip: %v, policy %+v", s, now.Policy)
	}
	zero := uint64(0)
	then, err := ws.Keys(&zero)
	if err != nil {
		t.Fatal(err)
	}
	if s := status(then); s["alice"] != s["bob"] {
		t.Fatalf("keys after genesis: %v (bob was not revoked yet)", s)
	}
	past := uint64(9)
	_, err = ws.Keys(&past)
	wantKind(t, "a seq past the tip", err, KindNotFound, "9")
}
