// Package trace counts the expensive steps of a use case, process-wide, so
// that tests and benchmarks can state what one apply costs (how often the
// ledger tip is read, a plan parsed, its approvals checked, an intent
// read) and notice when a change adds a step. A counter costs one atomic add; nothing else is
// recorded. A leaf: it imports no project package.
package trace

import "sync/atomic"

// Counter names one counted step.
type Counter int

// Counters.
const (
	TipReads       Counter = iota // a ledger tip read in full (gitledger: commit, trees, HEAD.json, trust)
	PlanParses                    // a plan's bytes parsed (plans.Parse)
	ApprovalChecks                // a plan's approvals checked against a trust state (plans.CheckApprovalSet)
	IntentReads                   // an apply intent journal read from disk (apply recovery)
	numCounters
)

var counts [numCounters]atomic.Int64

// Add counts one step.
func Add(c Counter) { counts[c].Add(1) }

// Counts is a snapshot of every counter.
type Counts struct {
	TipReads, PlanParses, ApprovalChecks, IntentReads int64
}

// Read returns the counters now.
func Read() Counts {
	return Counts{counts[TipReads].Load(), counts[PlanParses].Load(), counts[ApprovalChecks].Load(), counts[IntentReads].Load()}
}

// Sub returns the steps counted between two snapshots.
func (c Counts) Sub(before Counts) Counts {
	return Counts{c.TipReads - before.TipReads, c.PlanParses - before.PlanParses, c.ApprovalChecks - before.ApprovalChecks,
		c.IntentReads - before.IntentReads}
}
