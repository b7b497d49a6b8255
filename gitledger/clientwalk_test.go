package gitledger

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmc-git/vmc-git/merkle"
)

// TestClientWalkMergeCommit: on a client, the walk from the ledger tip back
// to a snapshot tag's commit (merkle prove and consistency, the tiles of a
// new tag) requires exactly one parent per commit. A local ledger whose tip
// is a real merge commit (git commit-tree with two parents, the tip's own
// tree and first parent) is stopped there: the tag's stored hashes are not
// trusted through it and the tree is rebuilt from every receipt. The hook's
// walk keeps its fast path (the chain was verified on push, and verify
// refuses the merge commit).
func TestClientWalkMergeCommit(t *testing.T) {
	l, s, dir := newLedger(t, 4) // 5 receipts
	if _, err := l.MakeSnapshot(s, "alice", 0, true, time.Now()); err != nil {
		t.Fatal(err) // tag 5 and its tiles
	}
	appendManual(t, l, s, "alice", "six")
	appendManual(t, l, s, "alice", "seven")
	ref := l.Ref.String()
	tip := strings.TrimSpace(run(t, dir, "git", "rev-parse", ref))
	root := strings.TrimSpace(run(t, dir, "git", "rev-list", "--max-parents=0", ref))
	// The merge commit's tree: the tip's, with receipt 1 edited (nobody
	// verified this local ledger).
	r0, err := l.NewReader()
	if err != nil {
		t.Fatal(err)
	}
	path1 := r0.Path(1)
	b1 := run(t, dir, "git", "cat-file", "blob", tip+":"+path1)
	blob := strings.TrimSpace(runIn(t, dir, b1+" ", "git", "hash-object", "-w", "--stdin"))
	index := "GIT_INDEX_FILE=" + filepath.Join(t.TempDir(), "index")
	runEnv(t, dir, index, "git", "read-tree", tip+"^{tree}")
	runEnv(t, dir, index, "git", "update-index", "--cacheinfo", "100644,"+blob+","+path1)
	tree := strings.TrimSpace(runEnv(t, dir, index, "git", "write-tree"))
	merge := strings.TrimSpace(run(t, dir, "git", "commit-tree", tree, "-p", tip+"^", "-p", root, "-m", "vmc: seven, as a merge"))
	run(t, dir, "git", "update-ref", ref, merge, tip)
	if ps := strings.Fields(run(t, dir, "git", "rev-list", "--parents", "-n", "1", ref)); len(ps) != 3 {
		t.Fatalf("not a merge commit: %q", ps)
	}

	l, err = Open(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	r, err := l.NewReader()
	if err != nil {
		t.Fatal(err)
	}
	if r.Tip.Commit.String() != merge || r.Tip.Head.Seq != 6 {
		t.Fatalf("tip %s seq %d, want the merge commit %s at 6", r.Tip.Commit, r.Tip.Head.Seq, merge)
	}
	if _, err := newClientWalk(l, r.Tip.Commit, 6).at(4); err == nil || err.Error() != "commit "+merge+": not a ledger commit" {
		t.Fatalf("the client walk through a merge commit: %v", err)
	}
	if _, base, err := l.storedTree(r, newClientWalk(l, r.Tip.Commit, 6), 7, 8); err != nil || base != 0 {
		t.Fatalf("client: base %d, %v; want the tree rebuilt (base 0), the tag's tiles not trusted through the merge", base, err)
	}
	if _, base, err := l.storedTree(r, newBackWalk(l, r.Tip.Commit, 6), 7, 8); err != nil || base != 5 {
		t.Fatalf("hook walk: base %d, %v; want its fast path from tag 5", base, err)
	}
	// merkle prove's tree is the tree of the receipts it proves (the
	// files at the tip), not the tag's hashes reached through the merge.
	leaves, err := LeafHashes(r, 0, 7)
	if err != nil {
		t.Fatal(err)
	}
	if leaves[1] != merkle.LeafHash([]byte(b1+" ")) {
		t.Fatal("receipt 1 at the tip is not the edited one")
	}
	st, err := l.MerkleTree(r, 7)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := st.LeafAt(1); err != nil || got != leaves[1] {
		t.Fatalf("merkle prove's leaf 1 is %v (%v), the receipt at the tip hashes to %v", got, err, leaves[1])
	}
	if got, err := st.Root(7); err != nil || got != merkle.RootOf(leaves) {
		t.Fatalf("root of 7: %v, %v", got, err)
	}
	// What the hook relies on: verify refuses the merge commit.
	if _, err := l.Verify(VerifyOptions{}); err == nil || !strings.Contains(err.Error(), "is a merge commit (2 parents)") {
		t.Fatalf("verify of a ledger with a merge commit: %v", err)
	}
}

// runEnv is run with one more environment variable.
func runEnv(t *testing.T, dir, env string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir, env)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// runIn is run with stdin.
func runIn(t *testing.T, dir, stdin string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return string(out)
}
