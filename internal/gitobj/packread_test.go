package gitobj

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

// TestPackDeltaChains reads every object of a pack that the real git
// packed with long delta chains (git pack-objects --depth 50), with one
// Store in pack order, in reverse and shuffled (so that bases are found in
// the cache, read again, or are themselves deltas whose buffer is in use),
// and compares each with `git cat-file --batch`.
func TestPackDeltaChains(t *testing.T) {
	repo := t.TempDir()
	run(t, repo, "git", "init", "-q", "--bare")
	// Blobs that differ a little one from the next (so git deltas them),
	// some larger than the delta buffer a reader starts with.
	rnd := rand.New(rand.NewSource(1))
	body := make([]byte, 9000)
	for i := range body {
		body[i] = "abcdefgh\n"[rnd.Intn(9)]
	}
	var ids []plumbing.Hash
	for i := 0; i < 60; i++ {
		body[rnd.Intn(len(body))] = 'X'
		b := body[:300+i*140]
		cmd := exec.Command("git", "hash-object", "-w", "--stdin")
		cmd.Dir, cmd.Stdin = repo, bytes.NewReader(b)
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, plumbing.NewHash(strings.TrimSpace(string(out))))
	}
	pk := exec.Command("git", "pack-objects", "-q", "--depth=50", "--window=100", "objects/pack/pack")
	pk.Dir = repo
	var list bytes.Buffer
	for _, id := range ids {
		fmt.Fprintln(&list, id)
	}
	pk.Stdin = &list
	if out, err := pk.CombinedOutput(); err != nil {
		t.Fatalf("git pack-objects: %v: %s", err, out)
	}
	run(t, repo, "git", "prune-packed")
	if chains := run(t, repo, "sh", "-c", "git verify-pack -v objects/pack/*.idx | grep -c 'chain length'"); strings.TrimSpace(chains) == "0" {
		t.Fatal("git made no delta chains")
	}
	want := map[plumbing.Hash][]byte{}
	cmd := exec.Command("git", "cat-file", "--batch")
	cmd.Dir = repo
	var in bytes.Buffer
	for _, id := range ids {
		fmt.Fprintln(&in, id)
	}
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(bytes.NewReader(out))
	for range ids {
		var id string
		var typ string
		var size int
		if _, err := fmt.Fscanf(br, "%s %s %d\n", &id, &typ, &size); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, size+1)
		if _, err := io.ReadFull(br, b); err != nil {
			t.Fatal(err)
		}
		want[plumbing.NewHash(id)] = b[:size]
	}
	if matches, _ := filepath.Glob(filepath.Join(repo, "objects", "??")); len(matches) != 0 {
		t.Fatalf("loose objects left after repack: %v", matches)
	}
	shuffled := append([]plumbing.Hash(nil), ids...)
	rnd.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	reversed := make([]plumbing.Hash, len(ids))
	for i, id := range ids {
		reversed[len(ids)-1-i] = id
	}
	for name, order := range map[string][]plumbing.Hash{"written": ids, "reversed": reversed, "shuffled": shuffled} {
		s := &Store{ObjectsDir: filepath.Join(repo, "objects")}
		for _, id := range order {
			got, err := s.Get(id, plumbing.BlobObject)
			if err != nil {
				t.Fatalf("%s: %s: %v", name, id, err)
			}
			if !bytes.Equal(got, want[id]) {
				t.Fatalf("%s: %s: %d bytes differ from git's %d", name, id, len(got), len(want[id]))
			}
		}
		s.packs.close()
	}
}

// TestIdxCacheEviction looks up every object of a real pack of 3,000 blobs
// (12 chunks of names, 3 of offsets), shuffled, twice, through an index
// cache of 2 chunks (each lookup replaces chunks), and finds each at the
// offset an unbounded cache finds it, and a missing id nowhere.
func TestIdxCacheEviction(t *testing.T) {
	repo := t.TempDir()
	run(t, repo, "git", "init", "-q", "--bare")
	// 3,000 blobs in one pack, which git fast-import writes.
	var fi bytes.Buffer
	for i := 0; i < 3000; i++ {
		line := fmt.Sprintf("blob %d", i)
		fmt.Fprintf(&fi, "blob\nmark :%d\ndata %d\n%s\n", i+1, len(line), line)
	}
	imp := exec.Command("git", "fast-import", "--quiet")
	imp.Dir, imp.Stdin = repo, &fi
	if out, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("git fast-import: %v: %s", err, out)
	}
	list := run(t, repo, "git", "cat-file", "--batch-all-objects", "--batch-check=%(objectname)")
	var ids []plumbing.Hash
	for _, l := range strings.Fields(list) {
		ids = append(ids, plumbing.NewHash(l))
	}
	if len(ids) < 3000 {
		t.Fatalf("%d objects in the pack", len(ids))
	}
	open := func() *packReader {
		s := &Store{ObjectsDir: filepath.Join(repo, "objects")}
		if err := s.loadPacks(); err != nil || len(s.packs.packs) != 1 {
			t.Fatalf("packs: %v", err)
		}
		return s.packs
	}
	all := open()
	want := map[plumbing.Hash]int64{}
	for _, id := range ids {
		want[id] = all.idx.find(all.packs[0], id)
		if want[id] < 0 {
			t.Fatalf("%s not found", id)
		}
	}
	old := idxCacheSlots
	idxCacheSlots = 2
	t.Cleanup(func() { idxCacheSlots = old })
	small := open()
	rnd := rand.New(rand.NewSource(2))
	for round := 0; round < 2; round++ {
		rnd.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		for _, id := range ids {
			if got := small.idx.find(small.packs[0], id); got != want[id] {
				t.Fatalf("round %d: %s at %d, want %d", round, id, got, want[id])
			}
		}
	}
	if len(small.idx.slots) != 2 {
		t.Fatalf("%d chunks cached, want 2", len(small.idx.slots))
	}
	if got := small.idx.find(small.packs[0], plumbing.NewHash("00000000000000000000000000000000000000ff")); got != -1 {
		t.Fatalf("missing id found at %d", got)
	}
}
