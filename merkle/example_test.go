package merkle_test

import (
	"fmt"

	"github.com/vmc-git/vmc-git/merkle"
)

// A tree over three receipts (the root below was checked independently with
// Python's hashlib), built at once and leaf by leaf, with an
// inclusion proof for receipt 2 and a consistency proof from size 2 to 3.
func Example() {
	receipts := [][]byte{[]byte(`{"seq":0}`), []byte(`{"seq":1}`), []byte(`{"seq":2}`)}
	var leaves []merkle.Hash
	var r merkle.Range
	for _, b := range receipts {
		leaves = append(leaves, merkle.LeafHash(b))
		r.Append(merkle.LeafHash(b))
	}
	root := merkle.RootOf(leaves)
	fmt.Println("root:", root)
	fmt.Println("range root equal:", r.Root() == root, "nodes:", len(r.Nodes))

	proof, _ := merkle.ProveInclusion(leaves, 2, 3)
	fmt.Println("inclusion proof length:", len(proof))
	fmt.Println("inclusion:", merkle.VerifyInclusion(leaves[2], 2, 3, proof, root))

	cons, _ := merkle.ProveConsistency(leaves, 2, 3)
	fmt.Println("consistency:", merkle.VerifyConsistency(2, 3, merkle.RootOf(leaves[:2]), root, cons))

	fmt.Printf("%s", merkle.Checkpoint{Origin: "github.com/acme/infra", Size: 3, Root: root}.Marshal())
	// Output:
	// root: 3db67665eea8c26de341668c1d3199f61de4b780a828569a898ce48c28d931f3
	// range root equal: true nodes: 2
	// inclusion proof length: 1
	// inclusion: <nil>
	// consistency: <nil>
	// github.com/acme/infra
	// 3
	// PbZ2Ze6owm3jQWaMHTGZ9h3kt4CoKFaaiYzkjCjZMfM=
}
