package apply

import "time"

// Timed steps of Apply, for Options.Timing (a plan's wall time by step:
// bench/apply prints them per plan).
const (
	TimePrecheck = "precheck" // the intent check, tip read and precheck before the locks
	TimeLock     = "lock"     // taking the per-server locks (local and remote)
	TimeVerify   = "verify"   // verifying what is new in the ledger under the locks
	TimeFresh    = "fresh"    // plans.CheckFresh (its provider reads included)
	TimeGate     = "gate"     // Options.Gate
	TimeIntent   = "intent"   // writing the intent journal (every write of a plan)
	TimeProvider = "provider" // provider.Apply calls
	TimeAppend   = "append"   // writing the receipt (gitledger Append)
	TimeFinish   = "finish"   // dropping the intent and releasing the locks
)

// span starts timing step; the func it returns stops it.
func (a *Applier) span(step string) func() {
	if a.o.Timing == nil {
		return func() {}
	}
	t := time.Now()
	return func() { a.o.Timing(step, time.Since(t)) }
}
