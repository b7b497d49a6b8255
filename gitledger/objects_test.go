package gitledger

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

func testID(i int) plumbing.Hash {
	return hashObject(plumbing.BlobObject, []byte(fmt.Sprint(i)))
}

// sampleTree has the names whose git order is not plain byte order: a
// directory "a" sorts as "a/", after "a.json" and before "a0".
func sampleTree() []treeEntry {
	return []treeEntry{
		{modeFile, "a0", testID(1)},
		{modeDir, "a", testID(2)},
		{modeFile, "a.json", testID(3)},
		{modeFile, "HEAD.json", testID(4)},
		{modeDir, "receipts", testID(5)},
		{modeFile, "000000001.json.sig", testID(6)},
	}
}

// TestTreeRoundTrip: encodeTree and parseTree agree, and agree with git
// mktree and git hash-object on the bytes and ids.
func TestTreeRoundTrip(t *testing.T) {
	dir := t.TempDir()
	run(t, dir, "git", "init", "-q")
	es := sampleTree()
	raw := encodeTree(es)
	got, err := parseTree(raw)
	if err != nil {
		t.Fatal(err)
	}
	wantOrder := []string{"000000001.json.sig", "HEAD.json", "a.json", "a", "a0", "receipts"}
	for i, e := range got {
		if e.name != wantOrder[i] {
			t.Fatalf("entry %d is %s, want %s (git order)", i, e.name, wantOrder[i])
		}
	}
	if !bytes.Equal(encodeTree(got), raw) {
		t.Fatal("encodeTree(parseTree(b)) != b")
	}
	// git mktree sorts and hashes the same entries to the same tree id.
	var in strings.Builder
	for _, e := range es {
		typ := "blob"
		if e.isDir() {
			typ = "tree"
		}
		fmt.Fprintf(&in, "%s %s %s\t%s\n", e.mode, typ, e.id, e.name)
	}
	cmd := "git mktree --missing <<'EOF'\n" + in.String() + "EOF\n"
	id := strings.TrimSpace(run(t, dir, "sh", "-c", cmd))
	if want := hashObject(plumbing.TreeObject, raw).String(); id != want {
		t.Fatalf("git mktree: %s, hashObject: %s", id, want)
	}
	blob := strings.TrimSpace(run(t, dir, "sh", "-c", "printf 'hello\\n' | git hash-object --stdin"))
	if want := hashObject(plumbing.BlobObject, []byte("hello\n")).String(); blob != want {
		t.Fatalf("git hash-object: %s, hashObject: %s", blob, want)
	}
}

func TestParseTreeRejects(t *testing.T) {
	entry := func(mode, name string) []byte {
		return appendTreeEntry(nil, treeEntry{mode, name, testID(0)})
	}
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	for _, tc := range []struct {
		name string
		raw  []byte
		err  string
	}{
		{"executable file", entry("100755", "x"), "entry mode 100755 not allowed"},
		{"symlink", entry("120000", "x"), "entry mode 120000 not allowed"},
		{"submodule", entry("160000", "x"), "entry mode 160000 not allowed"},
		{"zero-padded dir mode", entry("040000", "x"), "entry mode 040000 not allowed"},
		{"empty name", entry(modeFile, ""), `bad entry name ""`},
		{"dot", entry(modeDir, "."), `bad entry name "."`},
		{"dot dot", entry(modeDir, ".."), `bad entry name ".."`},
		{"slash", entry(modeFile, "a/b"), `bad entry name "a/b"`},
		{"unsorted", cat(entry(modeFile, "b"), entry(modeFile, "a")), `not sorted or duplicated at "a"`},
		{"duplicate", cat(entry(modeFile, "a"), entry(modeFile, "a")), `not sorted or duplicated at "a"`},
		{"dir sorted as plain name", cat(entry(modeDir, "a"), entry(modeFile, "a.json")), `not sorted or duplicated at "a.json"`},
		{"file and dir of one name", cat(entry(modeFile, "a"), entry(modeFile, "a.json"), entry(modeDir, "a")), `duplicate entry "a"`},
		{"no space", []byte("100644"), "malformed entry"},
		{"truncated id", entry(modeFile, "a")[:20], "malformed entry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseTree(tc.raw)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("parseTree = %v, want an error with %q", err, tc.err)
			}
		})
	}
}

// FuzzParseTree: parseTree never panics, and a tree it accepts has exactly
// one encoding, the one encodeTree writes.
func FuzzParseTree(f *testing.F) {
	f.Add(encodeTree(sampleTree()))
	f.Add([]byte{})
	l, _, _ := newLedger(f, 2)
	tip, err := l.Tip()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(encodeTree(tip.trees.root))
	f.Add(encodeTree(tip.trees.receipts))
	f.Add(tip.trees.aaaRaw)
	f.Add(tip.trees.bbbRaw)
	f.Fuzz(func(t *testing.T, raw []byte) {
		es, err := parseTree(raw)
		if err != nil {
			return
		}
		if again := encodeTree(es); !bytes.Equal(again, raw) {
			t.Fatalf("accepted %q but encodes it as %q", raw, again)
		}
	})
}
