package plans

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vmc-git/vmc-git/internal/canon"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/receipt"
)

// Policy overrides on the main branch.
//
// A plan whose end state breaks a deny rule of the policy is refused at
// apply unless an admin overrides the rules, each admin with one file
//
//	plans/<id>.overrides/<kid>.json
//
// beside the plan: canonical JSON (RFC 8785) of at most MaxOverrideSize
// bytes,
//
//	{"kid":"alice","ledger":"github.com/acme/infra","plan":"<id>",
//	 "plan_blake3":"<blake3 of plans/<id>.json>","reason":"bastion host",
//	 "rules":["ssh-from-anywhere"],"sig":"-----BEGIN SSH SIGNATURE-----\n…\n","v":1}
//
// where sig is an armored SSHSIG, namespace vmc-override, over the same
// object without sig (receipt.OverrideStatement, canonical). reason is
// optional; rules are 1 to receipt.MaxPolicyRules rule names, sorted and
// distinct. The directory holds at most receipt.MaxOverrides such files and
// nothing else, and like approvals it is add-only once merged. Whether an
// override counts is decided at apply, with the trust state at the ledger
// tip: the key of kid must have the admin role, the signature must verify,
// and one key counts once. `vmc-git approve --override RULE` writes the file.

// OverridesSuffix names a plan's overrides directory: plans/<id>.overrides/.
const OverridesSuffix = ".overrides"

// MaxOverrideSize bounds one override file.
const MaxOverrideSize = 8 << 10

// OverridePath returns plans/<id>.overrides/<kid>.json.
func OverridePath(id, kid string) string {
	return Dir + "/" + id + OverridesSuffix + "/" + kid + ".json"
}

// OverrideFile is one override file's content.
type OverrideFile struct {
	receipt.OverrideStatement
	Sig string `json:"sig"`
}

// Override returns the receipt's form of the override.
func (f *OverrideFile) Override() receipt.Override {
	return receipt.Override{KID: f.KID, Reason: f.Reason, Rules: f.Rules, Sig: f.Sig}
}

// ParseOverride decodes an override file strictly: bounded, canonical, no
// unknown member, version 1, every field valid (the signature is not
// checked: CheckOverrideSet does that with a trust state).
func ParseOverride(b []byte) (*OverrideFile, error) {
	if len(b) > MaxOverrideSize {
		return nil, fmt.Errorf("override: %d bytes, more than the limit of %d", len(b), MaxOverrideSize)
	}
	var f OverrideFile
	if err := canon.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("override: %w", err)
	}
	if f.V != receipt.OverrideVersion {
		return nil, fmt.Errorf("override: version %d, want %d", f.V, receipt.OverrideVersion)
	}
	if err := ValidID(f.Plan); err != nil {
		return nil, fmt.Errorf("override: %w", err)
	}
	if err := receipt.ValidLedgerID(f.Ledger); err != nil {
		return nil, fmt.Errorf("override: %w", err)
	}
	if err := f.Override().Validate(); err != nil {
		return nil, err
	}
	// Every member present, as written (a missing plan_blake3 would read
	// as zeros): the file is exactly the encoding of what it says.
	if again, err := canon.Marshal(&f); err != nil || !bytes.Equal(again, b) {
		return nil, fmt.Errorf("override: members missing or empty (want kid, ledger, plan, plan_blake3, rules, sig, v and an optional non-empty reason)")
	}
	return &f, nil
}

// SignOverride returns the override file by kid (signed with s) of rules
// for plan (its exact bytes), with an optional reason.
func SignOverride(s *keys.Signer, kid string, plan []byte, rules []string, reason string) ([]byte, error) {
	p, err := Parse(plan)
	if err != nil {
		return nil, err
	}
	rules = slices.Compact(slices.Sorted(slices.Values(rules)))
	o := receipt.Override{KID: kid, Reason: reason, Rules: rules}
	st, err := o.Statement(p.Ledger, p.ID, digest.Blake3(plan)).Encode()
	if err != nil {
		return nil, fmt.Errorf("override: %w", err)
	}
	sig, err := s.Sign(keys.NamespaceOverride, st)
	if err != nil {
		return nil, err
	}
	o.Sig = string(sig)
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return canon.Marshal(OverrideFile{OverrideStatement: o.Statement(p.Ledger, p.ID, digest.Blake3(plan)), Sig: o.Sig})
}

// LoadOverrides reads <dir>/<id>.overrides/*.json, where dir holds the plan.
func LoadOverrides(dir, id string) (map[string][]byte, error) {
	od := filepath.Join(dir, id+OverridesSuffix)
	ents, err := os.ReadDir(od)
	if errors.Is(err, os.ErrNotExist) {
		return map[string][]byte{}, nil
	}
	if err != nil {
		return nil, err
	}
	if len(ents) > receipt.MaxOverrides {
		return nil, fmt.Errorf("%s: %d overrides, at most %d", od, len(ents), receipt.MaxOverrides)
	}
	out := map[string][]byte{}
	for _, e := range ents {
		kid, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !e.Type().IsRegular() || keys.ValidKID(kid) != nil {
			return nil, fmt.Errorf("%s: %s is not an override (<kid>.json)", od, e.Name())
		}
		if fi, err := e.Info(); err != nil || fi.Size() > MaxOverrideSize {
			return nil, fmt.Errorf("%s: %s: not a readable file of at most %d bytes", od, e.Name(), MaxOverrideSize)
		}
		if out[kid], err = os.ReadFile(filepath.Join(od, e.Name())); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// OverrideStatus sorts a plan's override files.
type OverrideStatus struct {
	Valid   []receipt.Override `json:"valid"`             // by kid
	Invalid map[string]string  `json:"invalid,omitempty"` // kid -> why
}

// CheckOverrideSet checks override files (kid -> bytes) of plan id, whose
// exact bytes are plan, for ledger: each must parse, name its kid, this
// ledger, the plan and the plan's blake3, and be signed by a distinct key
// with the admin role in t at time at.
func CheckOverrideSet(t *keys.Trust, ledger, id string, plan []byte, files map[string][]byte, at time.Time) OverrideStatus {
	st := OverrideStatus{Valid: []receipt.Override{}, Invalid: map[string]string{}}
	if len(files) == 0 {
		return st
	}
	sum := digest.Blake3(plan)
	seen := map[string]string{}
	for _, kid := range slices.Sorted(maps.Keys(files)) {
		f, err := checkOverrideFile(t, ledger, id, sum, kid, files[kid], at, seen)
		if err != nil {
			st.Invalid[kid] = err.Error()
			continue
		}
		st.Valid = append(st.Valid, f.Override())
	}
	return st
}

func checkOverrideFile(t *keys.Trust, ledger, id string, sum digest.Digest, kid string, b []byte, at time.Time, seen map[string]string) (*OverrideFile, error) {
	f, err := ParseOverride(b)
	if err != nil {
		return nil, err
	}
	switch {
	case f.KID != kid:
		return nil, fmt.Errorf("override file of %s names kid %s", kid, f.KID)
	case f.Ledger != ledger:
		return nil, fmt.Errorf("override by %s is for ledger %s, this is %s", kid, f.Ledger, ledger)
	case f.Plan != id:
		return nil, fmt.Errorf("override by %s is for plan %s, not %s", kid, f.Plan, id)
	case f.PlanBlake3 != sum:
		return nil, fmt.Errorf("override by %s is for plan bytes with blake3 %s, plans/%s.json has %s", kid, f.PlanBlake3, id, sum)
	}
	stmt, err := f.OverrideStatement.Encode()
	if err != nil {
		return nil, err
	}
	return f, t.CheckOverride(kid, stmt, []byte(f.Sig), at, seen)
}
