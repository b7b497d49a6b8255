package merkle

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestCheckContains(t *testing.T) {
	var leaves, fork []Hash
	for i := 0; i < 10; i++ {
		leaves = append(leaves, LeafHash([]byte(fmt.Sprint(i))))
		if i < 6 {
			fork = append(fork, leaves[i])
		} else {
			fork = append(fork, LeafHash([]byte(fmt.Sprint("fork ", i))))
		}
	}
	rootAt := func(ls []Hash) func(uint64) (Hash, error) {
		return func(n uint64) (Hash, error) { return RootOf(ls[:n]), nil }
	}
	known := Checkpoint{Origin: "o", Size: 8, Root: RootOf(leaves[:8])}
	if err := CheckContains(known, "tag", 10, rootAt(leaves)); err != nil {
		t.Fatalf("longer ledger: %v", err)
	}
	if err := CheckContains(known, "tag", 8, rootAt(leaves)); err != nil {
		t.Fatalf("same size: %v", err)
	}
	var re *RollbackError
	err := CheckContains(known, "file cp.txt", 7, rootAt(leaves))
	if !errors.As(err, &re) || re.Fork() || !strings.Contains(err.Error(), "it has 7 receipts") || !strings.Contains(err.Error(), "file cp.txt has size 8 root "+known.Root.String()) {
		t.Fatalf("shorter: %v", err)
	}
	err = CheckContains(known, "tag", 10, rootAt(fork))
	if !errors.As(err, &re) || !re.Fork() || !strings.Contains(err.Error(), "root at size 8 is "+RootOf(fork[:8]).String()) {
		t.Fatalf("fork: %v", err)
	}
	if err := CheckContains(Checkpoint{}, "none", 0, rootAt(nil)); err != nil {
		t.Fatal(err)
	}
}
