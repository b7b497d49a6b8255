package merkle

import (
	"crypto/sha256"
	"testing"
)

// The same measurements as bench/merkle (go run ./bench/merkle), as
// standard benchmarks: go test -bench . -run '^$' ./merkle/

const benchN = 1_000_000

var benchLeaves = func() func() []Hash {
	var leaves []Hash
	return func() []Hash {
		if leaves == nil {
			leaves = testLeaves(benchN + benchN/10)
		}
		return leaves
	}
}()

var sink Hash

func BenchmarkRootOf1M(b *testing.B) {
	leaves := benchLeaves()[:benchN]
	b.SetBytes(int64(benchN * HashSize))
	for b.Loop() {
		sink = RootOf(leaves)
	}
}

// BenchmarkSHA256Floor1M is the floor for a tree of 10^6 leaves: 2N-1
// SHA-256 computations of 65-byte inputs.
func BenchmarkSHA256Floor1M(b *testing.B) {
	var buf [65]byte
	for b.Loop() {
		for i := 0; i < 2*benchN-1; i++ {
			buf[1] = byte(i)
			sink = sha256.Sum256(buf[:])
		}
	}
}

func BenchmarkRangeAppend1000At100k(b *testing.B) {
	leaves := benchLeaves()
	base := RangeOf(leaves[:100_000])
	for b.Loop() {
		r := base.Clone()
		for _, l := range leaves[100_000:101_000] {
			r.Append(l)
		}
		sink = r.Root()
	}
}

func BenchmarkRootOf101k(b *testing.B) {
	leaves := benchLeaves()[:101_000]
	for b.Loop() {
		sink = RootOf(leaves)
	}
}

func BenchmarkProveInclusion1M(b *testing.B) {
	leaves := benchLeaves()[:benchN]
	i := uint64(0)
	for b.Loop() {
		if _, err := ProveInclusion(leaves, i%benchN, benchN); err != nil {
			b.Fatal(err)
		}
		i += 7919
	}
}

func BenchmarkVerifyInclusion1M(b *testing.B) {
	leaves := benchLeaves()[:benchN]
	root := RootOf(leaves)
	const index = 123456
	proof, err := ProveInclusion(leaves, index, benchN)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := VerifyInclusion(leaves[index], index, benchN, proof, root); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkProveConsistency1M(b *testing.B) {
	leaves := benchLeaves()[:benchN]
	for b.Loop() {
		if _, err := ProveConsistency(leaves, 654321, benchN); err != nil {
			b.Fatal(err)
		}
	}
}
