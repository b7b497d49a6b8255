package gitobj

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

func testID(i int) plumbing.Hash {
	return HashObject(plumbing.BlobObject, []byte(fmt.Sprint(i)))
}

// sampleTree has the names whose git order is not plain byte order: a
// directory "a" sorts as "a/", after "a.json" and before "a0".
func sampleTree() []TreeEntry {
	return []TreeEntry{
		{ModeFile, "a0", testID(1)},
		{ModeDir, "a", testID(2)},
		{ModeFile, "a.json", testID(3)},
		{ModeFile, "HEAD.json", testID(4)},
		{ModeDir, "receipts", testID(5)},
		{ModeFile, "000000001.json.sig", testID(6)},
	}
}

// TestTreeRoundTrip: EncodeTree and ParseTree agree, and agree with git
// mktree and git hash-object on the bytes and ids.
func TestTreeRoundTrip(t *testing.T) {
	dir := t.TempDir()
	run(t, dir, "git", "init", "-q")
	es := sampleTree()
	raw := EncodeTree(es)
	got, err := ParseTree(raw)
	if err != nil {
		t.Fatal(err)
	}
	wantOrder := []string{"000000001.json.sig", "HEAD.json", "a.json", "a", "a0", "receipts"}
	for i, e := range got {
		if e.Name != wantOrder[i] {
			t.Fatalf("entry %d is %s, want %s (git order)", i, e.Name, wantOrder[i])
		}
	}
	if !bytes.Equal(EncodeTree(got), raw) {
		t.Fatal("EncodeTree(ParseTree(b)) != b")
	}
	// git mktree sorts and hashes the same entries to the same tree id.
	var in strings.Builder
	for _, e := range es {
		typ := "blob"
		if e.IsDir() {
			typ = "tree"
		}
		fmt.Fprintf(&in, "%s %s %s\t%s\n", e.Mode, typ, e.ID, e.Name)
	}
	cmd := "git mktree --missing <<'EOF'\n" + in.String() + "EOF\n"
	id := strings.TrimSpace(run(t, dir, "sh", "-c", cmd))
	if want := HashObject(plumbing.TreeObject, raw).String(); id != want {
		t.Fatalf("git mktree: %s, HashObject: %s", id, want)
	}
	blob := strings.TrimSpace(run(t, dir, "sh", "-c", "printf 'hello\\n' | git hash-object --stdin"))
	if want := HashObject(plumbing.BlobObject, []byte("hello\n")).String(); blob != want {
		t.Fatalf("git hash-object: %s, HashObject: %s", blob, want)
	}
}

func TestParseTreeRejects(t *testing.T) {
	entry := func(mode, name string) []byte {
		return AppendTreeEntry(nil, TreeEntry{mode, name, testID(0)})
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
		{"empty name", entry(ModeFile, ""), `bad entry name ""`},
		{"dot", entry(ModeDir, "."), `bad entry name "."`},
		{"dot dot", entry(ModeDir, ".."), `bad entry name ".."`},
		{"slash", entry(ModeFile, "a/b"), `bad entry name "a/b"`},
		{"unsorted", cat(entry(ModeFile, "b"), entry(ModeFile, "a")), `not sorted or duplicated at "a"`},
		{"duplicate", cat(entry(ModeFile, "a"), entry(ModeFile, "a")), `not sorted or duplicated at "a"`},
		{"dir sorted as plain name", cat(entry(ModeDir, "a"), entry(ModeFile, "a.json")), `not sorted or duplicated at "a.json"`},
		{"file and dir of one name", cat(entry(ModeFile, "a"), entry(ModeFile, "a.json"), entry(ModeDir, "a")), `duplicate entry "a"`},
		{"no space", []byte("100644"), "malformed entry"},
		{"truncated id", entry(ModeFile, "a")[:20], "malformed entry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseTree(tc.raw)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("ParseTree = %v, want an error with %q", err, tc.err)
			}
		})
	}
}

// FuzzParseTree: ParseTree never panics, and a tree it accepts has exactly
// one encoding, the one EncodeTree writes.
func FuzzParseTree(f *testing.F) {
	f.Add(EncodeTree(sampleTree()))
	f.Add([]byte{})
	// Trees shaped like a ledger's: the root, receipts/, receipts/000/ and
	// a receipts/000/000/ shard of two receipts.
	f.Add(EncodeTree([]TreeEntry{{ModeFile, "HEAD.json", testID(1)}, {ModeDir, "keys", testID(2)}, {ModeDir, "receipts", testID(3)}}))
	f.Add(EncodeTree([]TreeEntry{{ModeDir, "000", testID(4)}}))
	f.Add(EncodeTree([]TreeEntry{
		{ModeFile, "000000000.json", testID(5)}, {ModeFile, "000000000.json.sig", testID(6)},
		{ModeFile, "000000001.json", testID(7)}, {ModeFile, "000000001.json.sig", testID(8)},
	}))
	f.Fuzz(func(t *testing.T, raw []byte) {
		es, err := ParseTree(raw)
		if err != nil {
			return
		}
		if again := EncodeTree(es); !bytes.Equal(again, raw) {
			t.Fatalf("accepted %q but encodes it as %q", raw, again)
		}
	})
}

// TestHashObjectSizes: HashObject is git's object id (go-git's), on both
// sides of the size it hashes from the stack.
func TestHashObjectSizes(t *testing.T) {
	for _, n := range []int{0, 1, 100, smallObject - 1, smallObject, smallObject + 1, 70000} {
		b := bytes.Repeat([]byte{'x'}, n)
		for _, typ := range []plumbing.ObjectType{plumbing.BlobObject, plumbing.TreeObject, plumbing.CommitObject, plumbing.TagObject} {
			if got, want := HashObject(typ, b), plumbing.ComputeHash(typ, b); got != want {
				t.Fatalf("%s of %d bytes: %s, want %s", typ, n, got, want)
			}
		}
	}
}
