package gitobj

import (
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
)

// ParseAnyTree decodes a tree object of any repository content: unlike
// ParseTree, any file mode is accepted (main-branch trees hold anything),
// and only the framing is checked.
func ParseAnyTree(b []byte) ([]TreeEntry, error) {
	var out []TreeEntry
	for len(b) > 0 {
		sp := indexByte(b, ' ')
		nul := indexByte(b, 0)
		if sp < 0 || nul < sp || len(b) < nul+21 {
			return nil, fmt.Errorf("tree: malformed entry")
		}
		var id plumbing.Hash
		copy(id[:], b[nul+1:nul+21])
		out = append(out, TreeEntry{Mode: string(b[:sp]), Name: string(b[sp+1 : nul]), ID: id})
		b = b[nul+21:]
	}
	return out, nil
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}
