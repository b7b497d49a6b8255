package gitledger

import (
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
)

// tipCacheSize is how many tips a Ledger remembers: enough for an applier
// in a batch (the tip it checks a plan on, and the verified head before
// it) and for a hook (the old and the new tip of a push).
const tipCacheSize = 4

// tipCache remembers the tips tipAt read last, by commit id. A tip is a
// function of its commit alone (git objects are content-addressed), so a
// remembered tip is never stale: Tip() reads the ref and reads the tree
// again only when the ref moved to a commit not read lately. Only tips read
// from the object store are remembered, never the one an append computes.
// Tips are shared, so nothing modifies a Tip after tipAt returns it
// (callers Clone its trust state before changing it).
type tipCache struct {
	mu   sync.Mutex
	tips [tipCacheSize]*Tip // the most recent first
}

func (c *tipCache) get(commit plumbing.Hash) *Tip {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, t := range c.tips {
		if t != nil && t.Commit == commit {
			copy(c.tips[1:i+1], c.tips[:i])
			c.tips[0] = t
			return t
		}
	}
	return nil
}

func (c *tipCache) put(t *Tip) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	copy(c.tips[1:], c.tips[:tipCacheSize-1])
	c.tips[0] = t
}
