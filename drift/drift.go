// Package drift compares the servers the ledger expects with the servers
// the provider shows.
//
// # Expected state
//
// [Expected] replays the apply receipts in seq order. For each recorded
// action: a succeeded delete removes the server; otherwise, when the result
// carries the observed server (Result.Observed), that observation becomes
// the expected state of the server under its observed name (a rename drops
// the old name). Results without an observation (a failed or unknown
// outcome the applier could not read back) leave the expectation as it was.
// Manual receipts record work done by hand in free form and change no
// expectation. Only servers are replayed: the provider interface of this
// version knows no other kind (firewalls, networks, volumes and IPs come
// with the resources work, which replaces this replay by its own).
//
// # Findings
//
// [Compare] reports, per server name:
//
//	missing    expected, not shown by the provider (deleted behind vmc-git's back)
//	unmanaged  shown by the provider, not expected (created by hand)
//	changed    both, with a field that differs: id (recreated), server_type,
//	           image, status, labels, protection.delete, protection.rebuild
//
// Findings are sorted by server, kind and field. The provider's state is
// read once; a server being changed by a running apply shows as drift.
package drift

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/provider"
	"github.com/vmc-git/vmc-git/receipt"
)

// Finding kinds.
const (
	Missing   = "missing"
	Unmanaged = "unmanaged"
	Changed   = "changed"
)

// PredicateType is the predicateType of a drift report attestation.
const PredicateType = "https://vmc-git.dev/attestation/drift/v1"

// Finding is one difference.
type Finding struct {
	Resource string `json:"resource"` // server/<name>
	Kind     string `json:"kind"`
	Field    string `json:"field,omitempty"`
	Expected string `json:"expected,omitempty"`
	Actual   string `json:"actual,omitempty"`
}

// Expected replays the ledger's apply receipts up to its tip (see the
// package doc).
func Expected(led plans.LedgerView) (map[string]provider.Server, error) {
	exp := map[string]provider.Server{}
	for seq := uint64(1); seq <= led.TipSeq(); seq++ {
		r, _, err := led.ReceiptAt(seq)
		if err != nil {
			return nil, fmt.Errorf("drift: receipt %d: %w", seq, err)
		}
		if r.Kind != receipt.KindApply || r.Apply == nil {
			continue
		}
		for i, ar := range r.Apply.Actions {
			var a provider.Action
			var res provider.Result
			if err := json.Unmarshal(ar.Action, &a); err != nil {
				return nil, fmt.Errorf("drift: receipt %d action %d: %w", seq, i, err)
			}
			if err := json.Unmarshal(ar.Result, &res); err != nil {
				return nil, fmt.Errorf("drift: receipt %d action %d result: %w", seq, i, err)
			}
			switch {
			case a.Op == provider.OpDelete && res.Status == provider.StatusSucceeded:
				delete(exp, a.Server)
			case res.Observed != nil:
				if a.Op == provider.OpRename && res.Observed.Name != a.Server {
					delete(exp, a.Server)
				}
				exp[res.Observed.Name] = *res.Observed
			}
		}
	}
	return exp, nil
}

// Compare returns the differences between the expected servers and the
// provider's (see the package doc).
func Compare(expected map[string]provider.Server, actual []provider.Server) []Finding {
	var out []Finding
	seen := map[string]bool{}
	for _, s := range actual {
		seen[s.Name] = true
		e, ok := expected[s.Name]
		if !ok {
			out = append(out, Finding{Resource: "server/" + s.Name, Kind: Unmanaged, Actual: fmt.Sprintf("id %d, %s", s.ID, s.ServerType)})
			continue
		}
		diff := func(field, want, have string) {
			if want != have {
				out = append(out, Finding{Resource: "server/" + s.Name, Kind: Changed, Field: field, Expected: want, Actual: have})
			}
		}
		diff("id", fmt.Sprint(e.ID), fmt.Sprint(s.ID))
		diff("server_type", e.ServerType, s.ServerType)
		diff("image", e.Image, s.Image)
		diff("status", e.Status, s.Status)
		diff("labels", labels(e.Labels), labels(s.Labels))
		diff("protection.delete", fmt.Sprint(e.Protection.Delete), fmt.Sprint(s.Protection.Delete))
		diff("protection.rebuild", fmt.Sprint(e.Protection.Rebuild), fmt.Sprint(s.Protection.Rebuild))
	}
	for _, name := range slices.Sorted(maps.Keys(expected)) {
		if !seen[name] {
			out = append(out, Finding{Resource: "server/" + name, Kind: Missing, Expected: fmt.Sprintf("id %d, %s", expected[name].ID, expected[name].ServerType)})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Resource != b.Resource {
			return a.Resource < b.Resource
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Field < b.Field
	})
	return out
}

// labels formats a label set as sorted k=v pairs.
func labels(l map[string]string) string {
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(l)) {
		kv = append(kv, k+"="+l[k])
	}
	return strings.Join(kv, ",")
}
