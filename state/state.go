// Package state replays a ledger's apply receipts into the state the ledger
// expects the provider to be in: every server and every other resource
// (firewalls, networks, volumes, SSH keys, primary and floating IPs) that an
// applied plan created or changed, as the provider reported it right after
// the last action that targeted it.
//
// # Rules
//
// Receipts are read in seq order; within an apply receipt, its actions in
// order. For each action, by its target (the server, or the resource named
// by kind and name):
//
//   - a result with an observed server or resource sets the target's entry to
//     it (whatever the status: what was observed is what is there);
//   - a delete that succeeded removes the entry;
//   - a rename that succeeded moves the entry to the new name;
//   - an unknown outcome without an observation marks the entry Unknown
//     (and keeps the last known state), since the ledger cannot say;
//   - the entry records the receipt seq and plan of that action.
//
// An action on a volume or IP that attaches it to a server or detaches it
// also records that server as observed after it, and a server op that
// joins or leaves a network or firewall records that resource: both
// entries are updated. A firewall applied to several servers at once is
// seen on the firewall (its servers); those servers' own lists are as of
// the last action that observed them. A drift check compares each entry
// with the provider.
//
// A manual receipt whose details carry an adopt record (see [Adopt]) sets
// the entries it names to the observations it holds, or removes them: the
// operator took the provider's state as the ledger's (drift --adopt).
// Other manual receipts change nothing.
//
// Resources touched only by hand (and not adopted), or only by plans that
// failed before reaching the provider, are not in the state.
package state

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/vmc-git/vmc-git/provider"
	"github.com/vmc-git/vmc-git/receipt"
)

// State is the replayed state.
type State struct {
	Ledger string `json:"ledger"`
	// Seq is the last receipt replayed.
	Seq uint64 `json:"seq"`
	// Resources, sorted by kind ("server" first) then name.
	Resources []Entry `json:"resources"`
}

// Entry is one resource in the state.
type Entry struct {
	Kind string `json:"kind"` // "server", "firewall", …
	Name string `json:"name"`
	// Seq and Plan name the receipt and plan of the last action on it;
	// Step is that action's index in the receipt. (Seq, Step) orders two
	// entries' observations: the greater one was read later. An adopted
	// entry (see Adopt) has the receipt's seq, the adopt record's index as
	// Step, Plan "" and Op OpAdopt.
	Seq  uint64 `json:"seq"`
	Step int    `json:"step"`
	Plan string `json:"plan"`
	Op   string `json:"op"`
	// Unknown: that action's outcome could not be learned.
	Unknown bool               `json:"unknown,omitempty"`
	Server  *provider.Server   `json:"server,omitempty"`
	Other   *provider.Resource `json:"resource,omitempty"`
}

// Replay reads every receipt of ledger, seq 0 to head, through receiptAt,
// and returns the state. The package reads no git itself (the workspace
// hands it the ledger's receipts), so that only workspace and apply see both
// the ledger and the provider.
func Replay(ledger string, head uint64, receiptAt func(seq uint64) (*receipt.Receipt, error)) (*State, error) {
	st := &State{Ledger: ledger, Seq: head}
	byRef := map[provider.Ref]*Entry{}
	for seq := uint64(0); seq <= head; seq++ {
		r, err := receiptAt(seq)
		if err != nil {
			return nil, err
		}
		if err := apply(byRef, seq, r); err != nil {
			return nil, err
		}
	}
	for _, e := range byRef {
		st.Resources = append(st.Resources, *e)
	}
	slices.SortFunc(st.Resources, func(a, b Entry) int {
		ka, kb := a.Kind, b.Kind
		if ka == "server" {
			ka = ""
		}
		if kb == "server" {
			kb = ""
		}
		if c := strings.Compare(ka, kb); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	if st.Resources == nil {
		st.Resources = []Entry{}
	}
	return st, nil
}

// apply replays one receipt.
func apply(byRef map[provider.Ref]*Entry, seq uint64, r *receipt.Receipt) error {
	if r.Kind == receipt.KindManual && r.Manual != nil {
		return adopt(byRef, seq, r.Manual.Details)
	}
	if r.Kind != receipt.KindApply || r.Apply == nil {
		return nil
	}
	for i, ar := range r.Apply.Actions {
		a, err := provider.ParseAction(ar.Action)
		if err != nil {
			// Receipts from a newer vmc-git may carry ops this one does not
			// know; the verifier checked the receipt, so skip rather than fail.
			continue
		}
		var res provider.Result
		if err := json.Unmarshal(ar.Result, &res); err != nil {
			return fmt.Errorf("receipt %d: action %d: result: %w", seq, i, err)
		}
		t := a.Target()
		cur := byRef[t]
		if cur == nil {
			cur = &Entry{Kind: t.Kind.String(), Name: t.Name}
		}
		cur.Seq, cur.Step, cur.Plan, cur.Op = seq, i, r.Apply.Plan.ID, string(a.Op)
		switch {
		case res.Status == provider.StatusSucceeded && a.Op == provider.OpDelete:
			delete(byRef, t)
			continue
		case res.Status == provider.StatusSucceeded && a.Op == provider.OpRename:
			delete(byRef, t)
			t.Name = a.NewName
			cur.Name = a.NewName
		}
		// The target's observation, and the other resource the action
		// attached or detached, observed with it.
		own, other := res.Observed != nil, res.Resource != nil
		if t.Kind != provider.KindServer {
			own, other = other, own
		}
		cur.Unknown = res.Status == provider.StatusUnknown && !own
		if own {
			if t.Kind == provider.KindServer {
				cur.Server = res.Observed
			} else {
				cur.Other = res.Resource
			}
		}
		if cur.Server != nil || cur.Other != nil || cur.Unknown {
			byRef[t] = cur
		}
		if other {
			var o *Entry
			if t.Kind == provider.KindServer {
				o = &Entry{Kind: res.Resource.Kind.String(), Name: res.Resource.Name, Other: res.Resource}
			} else {
				o = &Entry{Kind: "server", Name: res.Observed.Name, Server: res.Observed}
			}
			o.Seq, o.Step, o.Plan, o.Op = seq, i, r.Apply.Plan.ID, string(a.Op)
			byRef[provider.Ref{Kind: kindOf(o.Kind), Name: o.Name}] = o
		}
	}
	return nil
}

func kindOf(s string) provider.Kind {
	k, _ := provider.ParseKind(s)
	return k
}
