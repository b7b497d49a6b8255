package plans_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/internal/canon"
	"github.com/vmc-git/vmc-git/internal/digest"
	. "github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/provider"
	"github.com/vmc-git/vmc-git/receipt"
)

// memTrees is a TreeReader over objects held in memory.
type memTrees struct {
	trees map[string][]TreeEntry
	blobs map[string][]byte
}

// blob and tree name objects by their content, as git does.
func (m *memTrees) blob(b []byte) string {
	id := "b" + digest.Blake3(b).String()
	m.blobs[id] = b
	return id
}

func (m *memTrees) tree(es ...TreeEntry) string {
	id := "t" + digest.Blake3([]byte(fmt.Sprint(es))).String()
	m.trees[id] = es
	return id
}

func (m *memTrees) Tree(id string) ([]TreeEntry, error) {
	es, ok := m.trees[id]
	if !ok {
		return nil, errors.New("no tree " + id)
	}
	return es, nil
}

func (m *memTrees) Blob(id string, limit int64) ([]byte, error) {
	b, ok := m.blobs[id]
	if !ok {
		return nil, errors.New("no blob " + id)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%d bytes, more than the limit of %d", len(b), limit)
	}
	return b, nil
}

// TestOverrideTreeRule: the plan-tree rule accepts exactly the override
// files of the format, add-only, and refuses everything else under
// plans/<id>.overrides/, each with its own message.
func TestOverrideTreeRule(t *testing.T) {
	s, _ := signer(t, "alice")
	mk := func(id string) []byte {
		p := &Plan{V: 1, ID: id, Ledger: testLedger, CreatedAt: "2026-12-01T12:00:00Z", Summary: "s",
			Actions: []Step{{Action: provider.Action{Op: provider.OpReboot, Server: "web-1"}, Expect: Expect{Exists: true, ServerID: 1, Status: "running", ServerType: "cx22"}}}}
		b, err := p.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	pb, other := mk("p1"), mk("p2")
	ov := func(plan []byte, kid string) []byte {
		b, err := SignOverride(s, kid, plan, []string{"ssh-from-anywhere"}, "why")
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	good := ov(pb, "alice")
	if f, err := ParseOverride(good); err != nil || f.Plan != "p1" || f.PlanBlake3 != digest.Blake3(pb) || f.Rules[0] != "ssh-from-anywhere" {
		t.Fatalf("round trip: %+v %v", f, err)
	}
	edit := func(f func(m map[string]any)) []byte {
		var m map[string]any
		if err := canon.Unmarshal(good, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, err := canon.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	m := &memTrees{trees: map[string][]TreeEntry{}, blobs: map[string][]byte{}}
	planEntry := TreeEntry{Mode: ModeFile, Name: "p1.json", ID: m.blob(pb)}
	root := func(ovs ...TreeEntry) string {
		return m.tree(planEntry, TreeEntry{Mode: ModeDir, Name: "p1" + OverridesSuffix, ID: m.tree(ovs...)})
	}
	file := func(name string, b []byte) TreeEntry { return TreeEntry{Mode: ModeFile, Name: name, ID: m.blob(b)} }
	base := m.tree(planEntry)
	if err := CheckTreeChange(m, base, root(file("alice.json", good)), testLedger); err != nil {
		t.Fatalf("a good override: %v", err)
	}
	many := []TreeEntry{}
	for i := 0; i <= receipt.MaxOverrides; i++ {
		many = append(many, file(fmt.Sprintf("k%d.json", i), good))
	}
	for _, tc := range []struct {
		name string
		tree string
		want string
	}{
		{"not canonical", root(file("alice.json", append(bytes.Clone(good), '\n'))), "override: "},
		{"an unknown member", root(file("alice.json", edit(func(m map[string]any) { m["extra"] = "x" }))), "unknown field"},
		{"another version", root(file("alice.json", edit(func(m map[string]any) { m["v"] = 2 }))), "version 2, want 1"},
		{"no rules", root(file("alice.json", edit(func(m map[string]any) { m["rules"] = []string{} }))), "no rules"},
		{"rules unsorted", root(file("alice.json", edit(func(m map[string]any) { m["rules"] = []string{"b", "a"} }))), "sorted and distinct"},
		{"a bad rule name", root(file("alice.json", edit(func(m map[string]any) { m["rules"] = []string{"no spaces"} }))), "rule name"},
		{"plan_blake3 missing", root(file("alice.json", edit(func(m map[string]any) { delete(m, "plan_blake3") }))), "members missing"},
		{"an empty reason", root(file("alice.json", edit(func(m map[string]any) { m["reason"] = "" }))), "members missing or empty"},
		{"no signature", root(file("alice.json", edit(func(m map[string]any) { m["sig"] = "" }))), "a signature of 1 to"},
		{"another kid in the file", root(file("bob.json", good)), "the file of bob names kid alice"},
		{"for another plan", root(file("alice.json", ov(other, "alice"))), "an override for plan p2"},
		{"for other plan bytes", root(file("alice.json", edit(func(m map[string]any) { m["plan_blake3"] = digest.Blake3(other).String() }))), "an override for plan p1 (blake3"},
		{"for another ledger", root(file("alice.json", edit(func(m map[string]any) { m["ledger"] = "example.com/other" }))), "an override for ledger example.com/other"},
		{"not a .json", root(file("alice.sig", good)), "not an override: p1.overrides/ holds only <kid>.json files"},
		{"a bad kid", root(file("Alice!.json", good)), "not an override"},
		{"a directory", root(TreeEntry{Mode: ModeDir, Name: "alice.json", ID: m.tree()}), "mode 40000: an override is a regular file"},
		{"a symlink", root(TreeEntry{Mode: "120000", Name: "alice.json", ID: m.blob([]byte("x"))}), "mode 120000"},
		{"too large", root(file("alice.json", bytes.Repeat([]byte(" "), MaxOverrideSize+1))), "more than the limit"},
		{"too many", root(many...), fmt.Sprintf("%d overrides, more than %d", receipt.MaxOverrides+1, receipt.MaxOverrides)},
		{"overrides as a file", m.tree(planEntry, file("p1"+OverridesSuffix, good)), "an overrides entry is a directory"},
		{"overrides without the plan", m.tree(TreeEntry{Mode: ModeDir, Name: "p1" + OverridesSuffix, ID: m.tree(file("alice.json", good))}), "overrides without the plan plans/p1.json"},
	} {
		old := base
		if strings.HasPrefix(tc.name, "overrides without") {
			old = ""
		}
		err := CheckTreeChange(m, old, tc.tree, testLedger)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	// Add-only once merged.
	merged := root(file("alice.json", good))
	s2, _ := signer(t, "carol")
	carol, err := SignOverride(s2, "carol", pb, []string{"naming"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckTreeChange(m, merged, root(file("alice.json", good), file("carol.json", carol)), testLedger); err != nil {
		t.Errorf("adding an override: %v", err)
	}
	if err := CheckTreeChange(m, merged, root(file("alice.json", ov(pb, "alice")[:len(good)-1])), testLedger); !errors.Is(err, ErrImmutable) {
		t.Errorf("changing an override: %v", err)
	}
	if err := CheckTreeChange(m, merged, m.tree(planEntry), testLedger); !errors.Is(err, ErrImmutable) {
		t.Errorf("removing the overrides: %v", err)
	}
}

// FuzzParseOverride: ParseOverride never panics, and what it accepts
// encodes back to the same bytes.
func FuzzParseOverride(f *testing.F) {
	f.Add([]byte(`{"kid":"alice","ledger":"example.com/l","plan":"p1","plan_blake3":"` + strings.Repeat("0", 64) + `","rules":["r"],"sig":"x","v":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := ParseOverride(b)
		if err != nil {
			return
		}
		again, err := canon.Marshal(o)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("accepted %q, encodes to %q (%v)", b, again, err)
		}
	})
}
