package state

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/vmc-git/vmc-git/internal/canon"
	"github.com/vmc-git/vmc-git/provider"
)

// Adopting what the provider shows as the ledger's expectation.
//
// An adopt record is the member AdoptKey of a manual receipt's details
// (receipt.Manual.Details, a JSON object). Its format, version AdoptVersion:
//
//	{"vmc_adopt":{"v":1,"resources":[
//	  {"kind":"server","name":"web-1","server":{…provider.Server…}},
//	  {"kind":"firewall","name":"fw-web","resource":{…provider.Resource…}},
//	  {"kind":"server","name":"web-2","absent":true}]},
//	 "summary":"…"}
//
// Each item names a resource by kind and name and holds either its observed
// state (server for a server, resource for another kind, whose own name and
// kind must match the item's) or absent: true, which removes the entry.
// Items are applied in order; a name appears at most once; at most
// MaxAdopt items. Other members of the details are free (the drift
// findings the operator adopted, for the reader). Replay refuses a record
// that breaks a rule, naming the receipt: only an operator key can write a
// manual receipt, and vmc-git writes only records that ParseAdopt accepts.

// AdoptKey is the member of a manual receipt's details holding an adopt record.
const AdoptKey = "vmc_adopt"

// AdoptVersion is the adopt record's format version.
const AdoptVersion = 1

// OpAdopt is the Op of an entry an adopt record set.
const OpAdopt = "adopt"

// MaxAdopt bounds the items of one adopt record.
const MaxAdopt = 1000

// Adopt is an adopt record.
type Adopt struct {
	V         int       `json:"v"`
	Resources []Adopted `json:"resources"`
}

// Adopted is one item of an adopt record.
type Adopted struct {
	Kind     string             `json:"kind"` // "server", "firewall", …
	Name     string             `json:"name"`
	Absent   bool               `json:"absent,omitempty"`
	Server   *provider.Server   `json:"server,omitempty"`
	Resource *provider.Resource `json:"resource,omitempty"`
}

// Validate checks the record's rules (see the package doc).
func (a *Adopt) Validate() error {
	if a.V != AdoptVersion {
		return fmt.Errorf("adopt: version %d, want %d", a.V, AdoptVersion)
	}
	if len(a.Resources) == 0 {
		return errors.New("adopt: no resources")
	}
	if len(a.Resources) > MaxAdopt {
		return fmt.Errorf("adopt: %d resources, more than %d", len(a.Resources), MaxAdopt)
	}
	seen := map[provider.Ref]bool{}
	for i, it := range a.Resources {
		k, err := provider.ParseKind(it.Kind)
		if err != nil || k.String() != it.Kind {
			return fmt.Errorf("adopt: resource %d: kind %q: want server, firewall, network, volume, ssh_key, primary_ip or floating_ip", i, it.Kind)
		}
		if err := provider.CheckResourceName(k, it.Name); err != nil {
			return fmt.Errorf("adopt: resource %d: %w", i, err)
		}
		ref := provider.Ref{Kind: k, Name: it.Name}
		if seen[ref] {
			return fmt.Errorf("adopt: resource %d: %s appears twice", i, ref)
		}
		seen[ref] = true
		n := 0
		for _, set := range []bool{it.Absent, it.Server != nil, it.Resource != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			return fmt.Errorf("adopt: resource %d (%s): want exactly one of absent, server, resource", i, ref)
		}
		switch {
		case it.Server != nil && (k != provider.KindServer || it.Server.Name != it.Name):
			return fmt.Errorf("adopt: resource %d (%s): a server observation named %q", i, ref, it.Server.Name)
		case it.Resource != nil && (k == provider.KindServer || it.Resource.Kind != k || it.Resource.Name != it.Name):
			return fmt.Errorf("adopt: resource %d (%s): a %s observation named %q", i, ref, it.Resource.Kind, it.Resource.Name)
		}
	}
	return nil
}

// AdoptDetails returns the canonical details object of a manual receipt
// holding a and, beside it, the members of extra (which must not use
// AdoptKey).
func AdoptDetails(a *Adopt, extra map[string]any) ([]byte, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	m := map[string]any{}
	for k, v := range extra {
		if k == AdoptKey {
			return nil, fmt.Errorf("adopt: details member %s is the record's", AdoptKey)
		}
		m[k] = v
	}
	m[AdoptKey] = a
	return canon.Marshal(m)
}

// ParseAdopt returns the adopt record of a manual receipt's details, or
// nil (and no error) when the details hold none. The record is decoded
// strictly (unknown members are refused) and validated.
func ParseAdopt(details json.RawMessage) (*Adopt, error) {
	if len(details) == 0 {
		return nil, nil
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(details, &top); err != nil {
		return nil, nil // not an object: free-form details, no record
	}
	raw, ok := top[AdoptKey]
	if !ok {
		return nil, nil
	}
	var a Adopt
	if err := canon.DecodeStrict(raw, &a); err != nil {
		return nil, fmt.Errorf("adopt: %w", err)
	}
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return &a, nil
}

// adopt replays the adopt record of a manual receipt, if any.
func adopt(byRef map[provider.Ref]*Entry, seq uint64, details json.RawMessage) error {
	a, err := ParseAdopt(details)
	if err != nil {
		return fmt.Errorf("receipt %d: %w", seq, err)
	}
	if a == nil {
		return nil
	}
	for i, it := range a.Resources {
		ref := provider.Ref{Kind: kindOf(it.Kind), Name: it.Name}
		if it.Absent {
			delete(byRef, ref)
			continue
		}
		byRef[ref] = &Entry{Kind: it.Kind, Name: it.Name, Seq: seq, Step: i, Op: OpAdopt, Server: it.Server, Other: it.Resource}
	}
	return nil
}
