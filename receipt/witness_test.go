package receipt

import (
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/witness"
)

func TestWitnessProposals(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	vk, _ := witness.VerifierKey("w.example/1", pub)
	spec := &keys.WitnessSpec{Name: "w.example/1", Key: vk, URL: "https://w.example/1"}
	two, zero := 2, 0
	base := Proposal{V: Version, Ledger: "example.com/l", Base: digest.Zero}
	sigs := []Cosig{{KID: "alice", Sig: "x"}}
	for name, tc := range map[string]struct {
		p    func(p *Proposal)
		want string // "" = valid
	}{
		"add":                 {func(p *Proposal) { p.Op, p.Witness = KeysAddWitness, spec }, ""},
		"remove":              {func(p *Proposal) { p.Op, p.WitnessName = KeysRemoveWitness, "w.example/1" }, ""},
		"threshold 2":         {func(p *Proposal) { p.Op, p.WitnessThreshold = KeysWitnessThreshold, &two }, ""},
		"threshold 0":         {func(p *Proposal) { p.Op, p.WitnessThreshold = KeysWitnessThreshold, &zero }, ""},
		"add without witness": {func(p *Proposal) { p.Op = KeysAddWitness }, "add_witness takes witness only"},
		"add with a key":      {func(p *Proposal) { p.Op, p.Witness, p.KID = KeysAddWitness, spec, "bob" }, "takes no key, kid"},
		"add a bad url": {func(p *Proposal) {
			s := *spec
			s.URL = "ftp://x"
			p.Op, p.Witness = KeysAddWitness, &s
		}, "want http:// or https://"},
		"remove and threshold": {func(p *Proposal) { p.Op, p.WitnessName, p.WitnessThreshold = KeysRemoveWitness, "w", &two }, "remove_witness takes witness_name only"},
		"threshold missing":    {func(p *Proposal) { p.Op = KeysWitnessThreshold }, "witness_threshold takes witness_threshold"},
		"revoke with witness":  {func(p *Proposal) { p.Op, p.KID, p.Reason, p.Witness = KeysRevoke, "bob", ReasonRetired, spec }, "revoke takes no witness fields"},
	} {
		t.Run(name, func(t *testing.T) {
			p := base
			tc.p(&p)
			err := (&KeysChange{Proposal: p, Signatures: sigs}).Validate()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
