package keys

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/vmc-git/vmc-git/witness"
)

// WitnessSpec is one witness of the trust state, as genesis and keys
// receipts write it: its cosigner name, its C2SP cosignature verifier key
// (type 0x04, "<name>+<key id>+<base64>", as litewitness prints it; the
// name must be the vkey's) and its submission URL prefix (package witness).
//
// The witness policy is Policy.Witnesses and Policy.WitnessThreshold: every
// snapshot tag made under a policy with witness_threshold N > 0 carries
// cosignatures by at least N distinct witnesses of that policy. Witness
// names and keys are unique; 0 <= N <= the number of witnesses. Adding or
// removing a witness or changing N is a keys receipt (ops add_witness,
// remove_witness, witness_threshold) signed by admin_threshold admins; a
// change never invalidates tags made before it.
type WitnessSpec struct {
	Name string `json:"name"`
	Key  string `json:"key"`
	URL  string `json:"url"`
}

// Witness parses and checks s.
func (s WitnessSpec) Witness() (witness.Witness, error) {
	w, err := witness.ParseWitness(s.Key, s.URL)
	if err != nil {
		return witness.Witness{}, err
	}
	if w.Name != s.Name {
		return witness.Witness{}, fmt.Errorf("witness %s: its key is named %s", s.Name, w.Name)
	}
	return w, nil
}

// WitnessPolicy returns the witnesses and witness_threshold of t.
func (t *Trust) WitnessPolicy() ([]witness.Witness, int, error) {
	ws := make([]witness.Witness, 0, len(t.Witnesses))
	for _, s := range t.Witnesses {
		w, err := s.Witness()
		if err != nil {
			return nil, 0, err
		}
		ws = append(ws, w)
	}
	return ws, t.WitnessThreshold, nil
}

// AddWitness adds a witness. (The slice is copied, never changed in place,
// so a Clone that shares it stays independent.)
func (t *Trust) AddWitness(s WitnessSpec) error {
	if _, err := s.Witness(); err != nil {
		return err
	}
	t.Witnesses = append(slices.Clone(t.Witnesses), s)
	return t.checkWitnessPolicy()
}

// RemoveWitness removes the witness named name.
func (t *Trust) RemoveWitness(name string) error {
	i := slices.IndexFunc(t.Witnesses, func(s WitnessSpec) bool { return s.Name == name })
	if i < 0 {
		return fmt.Errorf("witness %s is not in the trust state", name)
	}
	t.Witnesses = slices.Delete(slices.Clone(t.Witnesses), i, i+1)
	return nil
}

// checkWitnessPolicy checks every witness, their uniqueness and the
// threshold.
func (t *Trust) checkWitnessPolicy() error {
	if len(t.Witnesses) > witness.MaxWitnesses {
		return fmt.Errorf("%d witnesses, at most %d", len(t.Witnesses), witness.MaxWitnesses)
	}
	for i, s := range t.Witnesses {
		w, err := s.Witness()
		if err != nil {
			return err
		}
		for _, o := range t.Witnesses[:i] {
			ow, _ := o.Witness()
			if o.Name == s.Name {
				return fmt.Errorf("witness %s is named twice", s.Name)
			}
			if bytes.Equal(ow.Key, w.Key) {
				return fmt.Errorf("witnesses %s and %s have the same key", o.Name, s.Name)
			}
		}
	}
	switch {
	case t.WitnessThreshold < 0:
		return fmt.Errorf("witness_threshold %d: want 0 or more", t.WitnessThreshold)
	case t.WitnessThreshold > len(t.Witnesses):
		return fmt.Errorf("witness_threshold %d but only %d witnesses", t.WitnessThreshold, len(t.Witnesses))
	}
	return nil
}
