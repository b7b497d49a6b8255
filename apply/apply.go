// Package apply turns an approved plan into provider actions and exactly one
// apply receipt, safely under crashes and concurrent appliers.
//
// # Steps
//
//  1. Refuse: a plan already in the ledger (gitledger.Reader.Applied: its
//     copy in the ledger tree), too few valid approvals
//     (plans.CheckApprovalSet at the ledger tip), a plan from another ledger.
//  2. Take the per-server locks (package lock; with a remote its lock refs,
//     then a sync) and verify what is new in the ledger: lockPlan, the same
//     for Apply and recovery. If the ledger moved meanwhile, step 1 runs
//     again on the new tip; then the plan must be fresh (plans.CheckFresh:
//     servers and ledger unchanged), and Options.Gate must let it through
//     (policy at apply, gate.go; a denial retires a merged plan as refused).
//  3. Write the intent journal .git/vmc/intents/<plan-id>.json (fsynced)
//     before calling the provider; record each action as "calling" before
//     its call and "done" with its result after. The journal is durable
//     before every provider call; a result is written with the next
//     action's "calling" (one write), the last one beside the receipt. Without
//     a remote the first write already says the first action is "calling"
//     (nothing happens between it and the call).
//  4. Append the apply receipt (plan hashes, carrying main commit, approvals,
//     each action's result, forced locks), copying the plan and approvals into
//     the ledger tree, with the journal's last write alongside
//     (gitledger.AppendAlongside: the ref moves only once the journal is
//     durable, and both share one set of fsync waits); then delete the
//     intent and release the locks.
//
// # Crash safety
//
// Recover reconciles every unfinished intent before new plans are applied:
// if the ledger already has the plan, the intent is dropped; otherwise
// actions not yet called are run, actions recorded as "calling" are
// reconciled by reading the server (an effect that can be observed, such as
// a created server labelled vmc.plan=<id>, counts as succeeded; an
// idempotent op without visible effect is run; a reboot, reset or rebuild
// whose effect cannot be seen is recorded as unknown), and the receipt is
// written with recovered=true. So a provider action that happened always
// ends up in a receipt, and each plan gets exactly one receipt. An intent is
// recovered under its plan's locks and read again once they are held, so of
// two appliers recovering it at once only one calls the provider. A receipt
// is marked recovered when a later run, not the one that wrote the intent,
// finished the plan; if the crashed run had already written the receipt, the
// intent is just dropped (with the stale locks it left).
//
// # Costs
//
// Per plan, Apply parses the plan at most once (not at all when
// Input.Plan carries it), checks its approvals once (twice only if the
// ledger moved while the locks were taken) and reads the ledger tip once:
// the precheck, the verification under the locks and the append reuse it
// (gitledger remembers the tips it read by commit), unless the branch
// moved. In a batch that is one tip read per plan: the tip the previous
// plan's receipt made. A receipt the run appended itself on a verified tip
// is not verified again before the next plan (the branch still at it: it
// was built by the writer's rules and cannot change the trust state);
// ApplyPending verifies the run's own receipts from disk once, at its end.
// Per plan without a remote that is 3 journal or lock fsync waits before
// the provider call and the append's 3 after it, with the journal's last
// write inside them (bench/apply prints the time of each step). Recovery reads an intent journal once, and again
// only if another applier rewrote it while the locks were taken. The
// counters of internal/trace state it in tests (workspace/cost_test.go).
// Recovery never runs a step the normal path would refuse: every step it
// would call is checked for freshness first (the plan's ledger head, no
// apply since on its server, the server as the plan expects it); a stale
// step is recorded as not run. Only steps the provider shows already
// happened are recorded without that check.
//
// # The shared remote
//
// With Options.Remote, locks and intents are refs on the git remote in the
// format of package remoteref, signed with the applier's key. An intent on
// the remote is adopted only if an applier trusted at the ledger head
// signed it (over the plan id, the plan's BLAKE3 and the ledger head), its
// plan is the one merged on main and still approved; anything else under
// refs/vmc/ (unsigned, foreign, not a blob, too large, dated ahead) is
// reported and blocks nothing: a foreign intent squatting a plan id is
// replaced, a foreign or future-dated lock is taken over. A run whose lock
// is lost stops before its next provider call; if its intent vanished from
// the remote too, it writes the receipt of what it did from its own
// journal, so no provider action goes unrecorded.
//
// Fault injection for tests: Options.Fault is called at the named steps
// (StepBeforeProvider, StepAfterProvider, StepBeforeCommit, StepAfterCommit);
// the CLI maps VMC_FAULT=<step> to an immediate process exit there.
package apply

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vmc-git/vmc-git/apply/remoteref"
	"github.com/vmc-git/vmc-git/gitledger"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/internal/fsutil"
	"github.com/vmc-git/vmc-git/internal/gitobj"
	"github.com/vmc-git/vmc-git/internal/lock"
	"github.com/vmc-git/vmc-git/internal/trace"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/provider"
	"github.com/vmc-git/vmc-git/receipt"
)

// Fault-injection steps.
const (
	StepBeforeProvider = "before-provider"
	StepAfterProvider  = "after-provider"
	StepBeforeCommit   = "before-commit"
	StepAfterCommit    = "after-commit"
)

// Action states in the intent journal.
const (
	statePending = "pending"
	stateCalling = "calling"
	stateDone    = "done"
)

// StatusSkipped marks an action not attempted because an earlier one failed.
const StatusSkipped = "skipped"

// Errors callers branch on.
var (
	ErrAlreadyApplied = errors.New("plan already applied")
	ErrNotApproved    = errors.New("plan not approved")
	ErrLedgerInvalid  = errors.New("the ledger does not verify; nothing was applied")
	ErrOtherLedger    = errors.New("plan is for another ledger")
	ErrConfigMismatch = errors.New("the configuration disagrees with the ledger")
)

// Options configure an Applier.
type Options struct {
	Ledger   *gitledger.Ledger
	Provider provider.Provider
	Signer   *keys.Signer
	KID      string
	Locks    *lock.Locks
	Force    bool          // break live locks (recorded in the receipt)
	LockWait time.Duration // wait this long for a held lock
	Fault    func(step string)
	Log      func(format string, a ...any) // progress messages; nil: silent
	Remote   Remote                        // the shared git server; nil: this repository only
	Genesis  *digest.Digest                // the genesis pin the ledger is verified against before use
	// ConfigProvider is the provider .vmc/config.json names; apply refuses
	// to run when the ledger pins another (keys.Policy.Provider).
	ConfigProvider string
	// RemoteLockAge is how old a remote lock naming a plan must be before the
	// run recovering that plan's intent takes it over (default 10 minutes).
	RemoteLockAge time.Duration
	// UnapprovedDeadline: ApplyPending records a merged plan still without
	// enough valid approvals this long after its merge as refused (0: never).
	UnapprovedDeadline time.Duration
	// SummaryMark, if set, ends every receipt summary (the sandbox says so).
	SummaryMark string
	// Gate, if set, runs policy on each plan (gate.go); its outcome goes
	// into the receipt.
	Gate Gate
	// Timing, if set, is told how long each step of Apply took (the Step*
	// timing names; bench/apply prints them). nil: nothing is timed.
	Timing func(step string, d time.Duration)
}

// Applier applies plans.
type Applier struct {
	o        Options
	lockLost atomic.Pointer[error] // set by the remote-lock heartbeat
	index    *appliedIndex         // apply receipts by server, for freshness checks (index.go)
	// trusted is the ledger commit this run may trust unverified: the one
	// VerifyTip last verified, or a receipt this run appended on top of it
	// (built by the writer's own rules from a verified tip, and unable to
	// change the trust state). verifyLedger skips VerifyTip while the branch
	// is there; ApplyPending verifies this run's own receipts once at its
	// end (catchUp).
	trusted plumbing.Hash
	// unverified counts this run's receipts appended since the last VerifyTip.
	unverified int
}

// New returns an Applier.
func New(o Options) *Applier {
	if o.Fault == nil {
		o.Fault = func(string) {}
	}
	if o.Log == nil {
		o.Log = func(string, ...any) {}
	}
	if o.Locks == nil {
		o.Locks = lock.New("")
	}
	if o.RemoteLockAge <= 0 {
		o.RemoteLockAge = remoteref.DefaultStale
	}
	a := &Applier{o: o}
	if b, ok := o.Remote.(interface{ bind(*Applier) }); ok {
		b.bind(a)
	}
	return a
}

// Input is one plan to apply: its exact bytes, its approvals and the main
// commit that carried it ("" if not committed).
type Input struct {
	Bytes     []byte
	Approvals map[string][]byte
	Commit    string
	// Plan is Bytes parsed, when the caller has parsed them already (nil:
	// Apply parses them). Apply parses a plan at most once.
	Plan *plans.Plan
}

// Outcome is the result of applying one plan.
type Outcome struct {
	Plan      string                 `json:"plan"`
	Seq       uint64                 `json:"seq"`
	Commit    string                 `json:"commit"`
	Blake3    digest.Digest          `json:"blake3"`
	Recovered bool                   `json:"recovered,omitempty"`
	Actions   []receipt.ActionRecord `json:"actions"`
	Status    string                 `json:"status"` // succeeded if every action did, else failed or unknown
}

// intent is the journal entry of a plan being applied.
type intent struct {
	V         int               `json:"v"`
	Plan      string            `json:"plan"`
	PlanBytes []byte            `json:"plan_bytes"`
	Approvals []string          `json:"approvals"`
	Sigs      map[string][]byte `json:"sigs"`
	Commit    string            `json:"commit"`
	Forced    []string          `json:"forced,omitempty"`
	Policy    *receipt.Policy   `json:"policy,omitempty"` // the gate's outcome (gate.go)
	Steps     []intentStep      `json:"steps"`
	Started   time.Time         `json:"started"`
}

type intentStep struct {
	Action provider.Action  `json:"action"`
	State  string           `json:"state"`
	Result *provider.Result `json:"result,omitempty"`
}

func (a *Applier) intentDir() string { return filepath.Join(a.o.Ledger.GitDir, "vmc", "intents") }

func (a *Applier) intentPath(id string) string { return filepath.Join(a.intentDir(), id+".json") }

func (a *Applier) saveIntent(in *intent) error {
	defer a.span(TimeIntent)()
	return a.writeIntent(in)
}

// writeIntent is saveIntent untimed (commit's, beside the append).
func (a *Applier) writeIntent(in *intent) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(a.intentPath(in.Plan), b, 0o600)
}

// Apply applies one plan (after recovering an unfinished intent for it).
//
// Per plan it reads the ledger tip once (again only if the ledger branch
// moved meanwhile; else it reuses the tip and its approval check), and
// parses the plan at most once.
func (a *Applier) Apply(ctx context.Context, in Input) (*Outcome, error) {
	stop := a.span(TimePrecheck)
	p := in.Plan
	if p == nil {
		var err error
		if p, err = plans.Parse(in.Bytes); err != nil {
			return nil, err
		}
		in.Plan = p
	}
	if _, err := os.Stat(a.intentPath(p.ID)); err == nil {
		// An unfinished apply of this plan: finish it. If it turns out to be
		// finished already, precheck below refuses the replay.
		if o, err := a.recoverOne(ctx, p.ID, &in); o != nil || err != nil {
			return o, err
		}
	}
	tip, err := a.o.Ledger.Tip()
	if err != nil {
		return nil, err
	}
	st, err := a.precheck(tip, p, in)
	stop()
	if err != nil {
		return nil, err
	}
	locked, forced, release, err := a.lockPlan(p, a.o.Force, tip)
	if err != nil {
		return nil, err
	}
	defer func() { defer a.span(TimeFinish)(); release() }()
	// Under the locks: if the ledger moved meanwhile, check again on the
	// verified tip.
	if locked.Commit != tip.Commit {
		tip = locked
		if st, err = a.precheck(tip, p, in); err != nil {
			return nil, err
		}
	}
	stop = a.span(TimeFresh)
	err = plans.CheckFresh(ctx, a.o.Provider, a.freshViewAt(tip), p)
	stop()
	if err != nil {
		return nil, err
	}
	stop = a.span(TimeGate)
	pol, err := a.gate(ctx, p, in, tip)
	stop()
	if err != nil {
		return nil, err
	}
	it := &intent{V: 1, Plan: p.ID, PlanBytes: in.Bytes, Approvals: st.Valid, Sigs: pick(in.Approvals, st.Valid), Commit: in.Commit, Forced: forced, Policy: pol, Started: time.Now().UTC()}
	for _, s := range p.Actions {
		it.Steps = append(it.Steps, intentStep{Action: s.Action, State: statePending})
	}
	if a.o.Remote == nil && len(it.Steps) > 0 {
		// The first write already says the first action is being called:
		// one durable write before the call instead of two. Nothing runs
		// between this write and that call that a "pending" record would
		// let recovery tell apart (with a remote, its intent is published
		// and the lock fenced in between: there the journal says pending
		// first).
		it.Steps[0].State = stateCalling
	}
	if err := a.saveIntent(it); err != nil {
		return nil, fmt.Errorf("write intent journal: %w", err)
	}
	if a.o.Remote != nil {
		// Published before the provider is called, signed: if this machine
		// dies, the next run on any machine recovers the plan from it.
		b, err := a.signedIntent(tip, it)
		if err == nil {
			err = a.o.Remote.PutIntent(p.ID, b, a.foreignIntent(p.ID))
		}
		if err != nil {
			os.Remove(a.intentPath(p.ID))
			return nil, err
		}
	}
	a.o.Fault(StepBeforeProvider)
	if err := a.run(ctx, p, it, false); err != nil {
		return nil, err
	}
	return a.commit(it, p, false)
}

// lockPlan takes what applying p needs, for Apply and recoverOne alike: the
// per-server locks in name order (so two appliers never deadlock), with a
// remote its locks there and a sync, then a verification of what is new in
// the ledger (trust comes from it), whose tip it returns (known, a tip read
// before, unless the branch moved). force breaks live local locks; forced
// lists them (the receipt records it). release gives every lock back.
func (a *Applier) lockPlan(p *plans.Plan, force bool, known *gitledger.Tip) (tip *gitledger.Tip, forced []string, release func(), err error) {
	var held []string
	var releaseRemote func()
	releaseAll := func() {
		if releaseRemote != nil {
			releaseRemote()
		}
		for _, s := range held {
			a.o.Locks.Release(s, false)
		}
	}
	defer func() {
		if err != nil {
			releaseAll()
		}
	}()
	stop := a.span(TimeLock)
	defer func() { stop() }()
	for _, s := range p.Servers() {
		acq, err := a.o.Locks.AcquireWait(s, a.o.KID, p.ID, force, a.o.LockWait)
		if err != nil {
			return nil, nil, nil, err
		}
		held = append(held, s)
		if acq.Broke != nil {
			if acq.Stale {
				a.o.Log("took over stale lock on %s (held by %s, pid %d)", s, acq.Broke.Holder, acq.Broke.PID)
			} else {
				forced = append(forced, s)
				a.o.Log("broke lock on %s held by %s (--force, recorded in the receipt)", s, acq.Broke.Holder)
			}
		}
	}
	if a.o.Remote != nil {
		if releaseRemote, err = a.remoteLocks(p); err != nil {
			return nil, nil, nil, err
		}
		if err := a.sync(); err != nil {
			return nil, nil, nil, err
		}
	}
	stop()
	stop = a.span(TimeVerify)
	if tip, err = a.verifyLedger(known); err != nil {
		return nil, nil, nil, err
	}
	return tip, forced, releaseAll, nil
}

// signedIntent is the remote copy of a journal (package remoteref), signed
// over the plan id, the plan's blake3 and the ledger head.
func (a *Applier) signedIntent(tip *gitledger.Tip, it *intent) ([]byte, error) {
	j, err := json.Marshal(it)
	if err != nil {
		return nil, err
	}
	return remoteref.Intent{Ledger: tip.Head.Ledger, Plan: it.Plan, PlanBlake3: digest.Of(it.PlanBytes).Blake3,
		Head: remoteref.Head{Seq: tip.Head.Seq, Blake3: tip.Head.Blake3}, KID: a.o.KID, CreatedAt: time.Now(), Journal: j}.Encode(a.o.Signer)
}

// foreignIntent reports whether an intent blob for plan is one no trusted
// applier wrote (it may then be replaced; it cannot be a live run's).
func (a *Applier) foreignIntent(plan string) func([]byte) bool {
	return func(b []byte) bool {
		tip, err := a.o.Ledger.Tip()
		if err != nil {
			return false
		}
		in, err := remoteref.ParseIntent(b)
		if err != nil {
			return true
		}
		return errors.Is(in.Verify(tip.Trust, tip.Head.Ledger, plan, nil, time.Now()), remoteref.ErrForeign)
	}
}

func pick(m map[string][]byte, kids []string) map[string][]byte {
	out := map[string][]byte{}
	for _, k := range kids {
		out[k] = m[k]
	}
	return out
}

// precheck refuses plans that are for another ledger, already applied, or
// not approved at tip; it returns the approval check.
func (a *Applier) precheck(tip *gitledger.Tip, p *plans.Plan, in Input) (plans.ApprovalStatus, error) {
	if p.Ledger != tip.Head.Ledger {
		return plans.ApprovalStatus{}, fmt.Errorf("%w: plan %s is for ledger %s, this is %s", ErrOtherLedger, p.ID, p.Ledger, tip.Head.Ledger)
	}
	r := a.o.Ledger.ReaderAt(tip)
	if seq, ok, err := r.AppliedSeq(p.ID); err != nil {
		return plans.ApprovalStatus{}, err
	} else if ok {
		return plans.ApprovalStatus{}, AppliedError(r, p.ID, seq)
	}
	st := plans.CheckApprovalSet(tip.Trust, in.Bytes, in.Approvals, time.Now())
	if !st.Approved() {
		msg := fmt.Sprintf("%d of %d required approvals", len(st.Valid), st.Required)
		for _, k := range slices.Sorted(maps.Keys(st.Invalid)) {
			msg += fmt.Sprintf("; %s: %s", k, st.Invalid[k])
		}
		return st, fmt.Errorf("%w: plan %s has %s", ErrNotApproved, p.ID, msg)
	}
	return st, nil
}

// run performs the steps not done yet. With recovering, steps found
// "calling" are reconciled with the provider first.
//
// The journal is made durable before each provider call (that step
// "calling", with the results before it); a result is written with the
// next step's "calling", or, for the last step, by commit alongside the
// receipt (gitledger.AppendAlongside): a crash before then leaves the step
// "calling", which recovery reconciles. On an error run writes the journal
// before it returns.
func (a *Applier) run(ctx context.Context, p *plans.Plan, it *intent, recovering bool) (err error) {
	labels := map[string]string{provider.LabelLedger: provider.LabelValue(p.Ledger), provider.LabelPlan: p.ID}
	dirty := false // it holds results the journal on disk does not
	defer func() {
		if err != nil && dirty {
			if serr := a.saveIntent(it); serr != nil {
				err = errors.Join(err, serr)
			}
		}
	}()
	failed := false
	var ledgerDiffs []string
	ledgerChecked := false
	for i := range it.Steps {
		s := &it.Steps[i]
		if s.State == stateDone {
			failed = failed || s.Result.Status != provider.StatusSucceeded
			continue
		}
		if failed {
			s.State, s.Result = stateDone, &provider.Result{Status: StatusSkipped, Error: "not attempted: an earlier action did not succeed"}
			dirty = true
			continue
		}
		if recovering && s.State == stateCalling {
			res, rerun, err := reconcile(ctx, a.o.Provider, s.Action, p.ID)
			if err != nil {
				return err
			}
			if !rerun {
				s.State, s.Result = stateDone, res
				failed = res.Status != provider.StatusSucceeded
				if err := a.saveIntent(it); err != nil {
					return err
				}
				dirty = false
				continue
			}
		}
		if recovering {
			// A step recovery would call is checked for freshness exactly
			// as a new apply checks it: the world may have moved since the
			// run that died (a stale "delete web-1" must not delete the
			// new web-1). A stale step is recorded as not run.
			if !ledgerChecked {
				var err error
				if ledgerDiffs, err = a.ledgerDiffs(p); err != nil {
					return err
				}
				ledgerChecked = true
			}
			diffs, err := a.stepDiffs(ctx, p, i, s.Action)
			if err != nil {
				return err
			}
			if diffs = append(slices.Clone(ledgerDiffs), diffs...); len(diffs) > 0 {
				a.o.Log("plan %s: recovery does not run %s: stale: %s", p.ID, plans.Describe(s.Action), strings.Join(diffs, "; "))
				s.State, s.Result = stateDone, &provider.Result{Status: StatusSkipped,
					Error: "not run on recovery: " + (&plans.StaleError{Plan: p.ID, Diffs: diffs}).Error()}
				failed = true
				if err := a.saveIntent(it); err != nil {
					return err
				}
				dirty = false
				continue
			}
		}
		if err := a.fence(p); err != nil {
			// The run that took the lock over recovers the plan from the
			// intent on the remote. If that intent is gone too, nobody
			// else can: this run records what it already did, now (its
			// journal is the source, not the remote ref).
			if a.o.Remote == nil || !calledAny(it) {
				return err // the journal stays
			}
			if has, herr := a.o.Remote.HasIntent(p.ID); herr != nil || has {
				return err
			}
			a.o.Log("plan %s: %v; its intent is gone from the remote: recording what this run did", p.ID, err)
			for j := i; j < len(it.Steps); j++ {
				it.Steps[j].State, it.Steps[j].Result = stateDone, &provider.Result{Status: StatusSkipped, Error: "not attempted: this run lost its remote lock"}
			}
			dirty = false
			return a.saveIntent(it)
		}
		if recovering || s.State != stateCalling || dirty {
			s.State = stateCalling
			if err := a.saveIntent(it); err != nil {
				return err
			}
			dirty = false
		} // else: Apply's first journal write said so already
		a.o.Log("%s", plans.Describe(s.Action))
		stop := a.span(TimeProvider)
		res, _ := a.o.Provider.Apply(ctx, s.Action, labels)
		stop()
		a.o.Fault(StepAfterProvider)
		s.State, s.Result = stateDone, &res
		failed = res.Status != provider.StatusSucceeded
		dirty = true // written with the next step's "calling", or by commit
	}
	return nil
}

// calledAny reports whether a journal records a provider call.
func calledAny(it *intent) bool {
	for _, s := range it.Steps {
		if s.State == stateCalling || (s.State == stateDone && s.Result != nil && s.Result.Status != StatusSkipped) {
			return true
		}
	}
	return false
}

// ledgerDiffs is the ledger half of plans.CheckFresh for recovery: the
// plan's ledger head is in this ledger, and no apply since touched its servers.
func (a *Applier) ledgerDiffs(p *plans.Plan) ([]string, error) {
	view, err := newLedgerView(a.o.Ledger)
	if err != nil {
		return nil, err
	}
	one := *p
	one.Actions = nil // no servers: CheckFresh reads only the ledger
	var diffs []string
	var se *plans.StaleError
	switch err := plans.CheckFresh(context.Background(), nil, view, &one); {
	case errors.As(err, &se):
		diffs = se.Diffs
	case err != nil:
		return nil, err
	}
	ours := map[string]bool{}
	for _, s := range p.Servers() {
		ours[s] = true
	}
	return append(diffs, a.touchedSince(view, p, ours)...), nil
}

func (a *Applier) touchedSince(view *ledgerView, p *plans.Plan, ours map[string]bool) []string {
	var diffs []string
	if p.LedgerHead.Seq > view.TipSeq() {
		return nil
	}
	for seq := p.LedgerHead.Seq + 1; seq <= view.TipSeq(); seq++ {
		r, _, err := view.ReceiptAt(seq)
		if err != nil || r.Kind != receipt.KindApply {
			continue
		}
		for _, s := range plans.AppliedServers(r) {
			if ours[s] {
				diffs = append(diffs, fmt.Sprintf("receipt %d (plan %s) changed server %s after this plan was made", seq, r.Apply.Plan.ID, s))
			}
		}
	}
	return diffs
}

// stepDiffs compares step i's expectation with its server now.
func (a *Applier) stepDiffs(ctx context.Context, p *plans.Plan, i int, act provider.Action) ([]string, error) {
	if i >= len(p.Actions) || p.Actions[i].Action.Target() != act.Target() || p.Actions[i].Action.Op != act.Op {
		return []string{fmt.Sprintf("journal step %d is not the plan's action %d", i, i)}, nil
	}
	if t := act.Target(); t.Kind != provider.KindServer {
		return resourceStepDiffs(ctx, a.o.Provider, p, i, t) // resources.go
	}
	s, err := a.o.Provider.Server(ctx, act.Server)
	if errors.Is(err, provider.ErrNotFound) {
		s, err = nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("check plan %s: read server %s: %w", p.ID, act.Server, err)
	}
	return plans.CompareExpect(act.Server, p.Actions[i].Expect, s), nil
}

// commit writes the apply receipt for a finished intent of plan p.
func (a *Applier) commit(it *intent, p *plans.Plan, recovered bool) (*Outcome, error) {
	sums := digest.Of(it.PlanBytes)
	var recs []receipt.ActionRecord
	status := provider.StatusSucceeded
	for _, s := range it.Steps {
		ab, err := json.Marshal(s.Action)
		if err != nil {
			return nil, err
		}
		rb, err := json.Marshal(s.Result)
		if err != nil {
			return nil, err
		}
		recs = append(recs, receipt.ActionRecord{Action: ab, Result: rb})
		if s.Result.Status != provider.StatusSucceeded && status == provider.StatusSucceeded {
			status = s.Result.Status
			if status == StatusSkipped {
				status = provider.StatusFailed
			}
		}
	}
	sort.Strings(it.Approvals)
	stop := a.span(TimeAppend)
	var base plumbing.Hash
	// The journal with every result is written beside the receipt, and
	// durable before the ledger ref moves (StepBeforeCommit: a crash there
	// leaves the whole journal and no receipt).
	journal := func() error {
		if err := a.writeIntent(it); err != nil {
			return fmt.Errorf("write intent journal: %w", err)
		}
		a.o.Fault(StepBeforeCommit)
		return nil
	}
	w, err := a.o.Ledger.AppendAlongside(a.o.Signer, a.o.KID, func(tip *gitledger.Tip) (*gitledger.Draft, error) {
		base = tip.Commit
		if seq, ok, err := a.o.Ledger.ReaderAt(tip).AppliedSeq(p.ID); err != nil {
			return nil, err
		} else if ok {
			return nil, fmt.Errorf("%w: plan %s reached the ledger at receipt %d meanwhile", ErrAlreadyApplied, p.ID, seq)
		}
		summary := a.summary(fmt.Sprintf("apply %s: %s", p.ID, status))
		return &gitledger.Draft{
			Receipt: receipt.Receipt{Kind: receipt.KindApply, Summary: summary, Apply: &receipt.Apply{
				Plan: receipt.PlanRef{ID: p.ID, Path: plans.Path(p.ID), Blake3: sums.Blake3, SHA256: sums.SHA256,
					Commit: it.Commit, Approvals: it.Approvals},
				Actions: recs, Forced: it.Forced, Recovered: recovered, Policy: it.Policy,
			}},
			Plan: &gitledger.PlanCopy{Bytes: it.PlanBytes, Approvals: it.Sigs},
		}, nil
	}, journal)
	stop()
	if err == nil {
		a.appended(base, w)
		if a.index != nil {
			a.index.written(w)
		}
	}
	if err != nil {
		if errors.Is(err, ErrAlreadyApplied) {
			// Another writer recorded this plan while this run performed its
			// actions too (the locks should make this impossible). The
			// journal is the only record of what this run did: move it out
			// of the intents, where it would be dropped as finished.
			if kept, mvErr := a.setAside(p.ID); mvErr == nil {
				return nil, fmt.Errorf("%w; this run's provider results are kept in %s: record them with vmc-git record --body", err, kept)
			}
			return nil, fmt.Errorf("%w; this run's provider results stay in %s: record them with vmc-git record --body", err, a.intentPath(p.ID))
		}
		return nil, err
	}
	a.o.Fault(StepAfterCommit)
	if a.o.Remote != nil {
		// The intent stays until the receipt is on the remote.
		if err := a.o.Remote.Publish(); err != nil {
			if !errors.Is(err, ErrRaced) {
				return nil, err
			}
			a.o.Log("plan %s: another writer pushed first; writing the receipt again on the new head", p.ID)
			if err := a.sync(); err != nil {
				return nil, err
			}
			return a.commit(it, p, recovered)
		}
	}
	stop = a.span(TimeFinish)
	defer stop()
	if err := os.Remove(a.intentPath(p.ID)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if a.o.Remote != nil {
		if err := a.o.Remote.DropIntent(p.ID); err != nil {
			a.o.Log("plan %s: receipt published, but its intent ref stays on the remote (the next run drops it): %v", p.ID, err)
		}
	}
	return &Outcome{Plan: p.ID, Seq: w.Seq, Commit: w.Commit.String(), Blake3: w.Sums.Blake3, Recovered: recovered, Actions: recs, Status: status}, nil
}

// lockValid reports whether a remote lock was signed by an applier trusted
// at the ledger head, for this ledger.
func (a *Applier) lockValid(l *remoteref.Lock) bool {
	tip, err := a.o.Ledger.Tip()
	return err == nil && l.Verify(tip.Trust, tip.Head.Ledger, time.Now()) == nil
}

// Recover reconciles every unfinished intent in this repository.
func (a *Applier) Recover(ctx context.Context) (out []*Outcome, failed map[string]error, err error) {
	ents, err := os.ReadDir(a.intentDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	// One stuck intent (say its approvals stopped counting) must not block
	// the others: each failure is reported with its plan, and the intent
	// stays for the next run.
	failed = map[string]error{}
	for _, e := range ents {
		id, ok := cutJSON(e.Name())
		if !ok {
			continue
		}
		o, err := a.recoverOne(ctx, id, nil)
		if err != nil {
			failed[id] = fmt.Errorf("recover plan %s: %w", id, err)
			continue
		}
		if o != nil {
			out = append(out, o)
		}
	}
	return out, failed, nil
}

func cutJSON(name string) (string, bool) {
	if len(name) > 5 && name[len(name)-5:] == ".json" && plans.ValidID(name[:len(name)-5]) == nil {
		return name[:len(name)-5], true
	}
	return "", false
}

// recoverOne finishes one intent. It returns nil, nil when the receipt was
// already written (the intent is just dropped). known, if not nil, is the
// plan Apply was given: parsed already when its bytes are the intent's.
//
// It reads the intent once: before taking the locks (which its plan names),
// and again under them only if the file changed meanwhile (another applier
// advanced it); whether another applier finished it is the ledger's answer
// at the locked tip.
func (a *Applier) recoverOne(ctx context.Context, id string, known *Input) (*Outcome, error) {
	it, fi, err := a.loadIntent(id)
	if it == nil || err != nil {
		return nil, err
	}
	tip, err := a.o.Ledger.Tip()
	if err != nil {
		return nil, err
	}
	if done, err := a.finished(tip, id); done || err != nil {
		return nil, err
	}
	var p *plans.Plan
	if known != nil && known.Plan != nil && bytes.Equal(known.Bytes, it.PlanBytes) {
		p = known.Plan
	} else if p, err = plans.Parse(it.PlanBytes); err != nil {
		return nil, err
	}
	locked, _, release, err := a.lockPlan(p, false, tip)
	if err != nil {
		return nil, err
	}
	defer release()
	// Under the locks: another applier may have finished the plan (the
	// intent removed, or the plan in the ledger) or advanced its journal
	// while we waited.
	if now, err := os.Stat(a.intentPath(id)); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	} else if !sameFile(fi, now) {
		if it, _, err = a.loadIntent(id); it == nil || err != nil {
			return nil, err
		}
	}
	if locked.Commit != tip.Commit {
		if done, err := a.finished(locked, id); done || err != nil {
			return nil, err
		}
	}
	a.o.Log("plan %s: recovering an unfinished apply", id)
	// Recovery calls the provider again, and can write the receipt, only
	// for a plan that is still approved. Otherwise the journal is set aside
	// for an operator: its receipt could never be written.
	if !plans.CheckApprovalSet(locked.Trust, it.PlanBytes, it.Sigs, time.Now()).Approved() {
		kept, err := a.setAside(id)
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: plan %s, left unfinished by a run that died, no longer has valid approvals; nothing was called again. Its journal is kept in %s: record what happened with vmc-git record --body", ErrNotApproved, id, kept)
	}
	if err := a.run(ctx, p, it, true); err != nil {
		return nil, err
	}
	return a.commit(it, p, true)
}

// loadIntent reads the intent journal of plan id (nil if there is none) and
// the file's identity, to tell later whether it was rewritten
// (saveIntent replaces the file: a new inode).
func (a *Applier) loadIntent(id string) (*intent, os.FileInfo, error) {
	trace.Add(trace.IntentReads)
	f, err := os.Open(a.intentPath(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, nil, err
	}
	it := &intent{}
	if err := json.Unmarshal(b, it); err != nil {
		return nil, nil, fmt.Errorf("intent journal %s: %w", a.intentPath(id), err)
	}
	return it, fi, nil
}

// sameFile reports whether b is still the file a was (same inode, size and
// modification time).
func sameFile(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// finished reports whether the ledger at tip has plan id already; if so the
// intent is dropped, with the stale locks the run that wrote it left.
func (a *Applier) finished(tip *gitledger.Tip, id string) (bool, error) {
	_, ok, err := a.o.Ledger.ReaderAt(tip).AppliedSeq(id)
	if err != nil || !ok {
		return false, err
	}
	a.o.Log("plan %s: receipt already written; dropping the finished intent", id)
	if err := os.Remove(a.intentPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, err
	}
	a.releaseStale(id)
	return true, nil
}

// releaseStale removes the stale locks a crashed applier of plan id left.
// Live locks, and locks another applier took over meanwhile, stay.
func (a *Applier) releaseStale(id string) {
	infos, err := a.o.Locks.List()
	if err != nil {
		return
	}
	for _, i := range infos {
		if i.Plan == id && a.o.Locks.Stale(i) {
			a.o.Locks.Release(i.Server, false)
		}
	}
}

// reconcile decides what happened to an action whose call may or may not
// have reached the provider. rerun means it evidently did not happen and is
// safe to run now.
func reconcile(ctx context.Context, prov provider.Provider, act provider.Action, planID string) (*provider.Result, bool, error) {
	if act.Kind != provider.KindServer || slices.Contains(extServerOps, act.Op) {
		return reconcileExt(ctx, prov, act, planID)
	}
	s, err := prov.Server(ctx, act.Server)
	if errors.Is(err, provider.ErrNotFound) {
		s, err = nil, nil
	}
	if err != nil {
		return nil, false, err
	}
	done := func() (*provider.Result, bool, error) {
		return &provider.Result{Status: provider.StatusSucceeded, Observed: s, Error: ""}, false, nil
	}
	switch act.Op {
	case provider.OpCreate:
		if s != nil && s.Labels[provider.LabelPlan] == planID {
			return done()
		}
		if s == nil {
			return nil, true, nil
		}
	case provider.OpDelete:
		if s == nil {
			return done()
		}
		return nil, true, nil
	case provider.OpPoweron:
		if s != nil && s.Status == "running" {
			return done()
		}
		return nil, true, nil
	case provider.OpPoweroff, provider.OpShutdown:
		if s != nil && s.Status == "off" {
			return done()
		}
		if act.Op == provider.OpPoweroff {
			return nil, true, nil
		}
	case provider.OpResize:
		if s != nil && s.ServerType == act.ServerType {
			return done()
		}
		return nil, true, nil
	case provider.OpLabel, provider.OpProtect:
		return nil, true, nil // setting the same labels or protection again is harmless
	case provider.OpRename:
		if n, err := prov.Server(ctx, act.NewName); err == nil {
			s = n
			return done()
		}
		return nil, true, nil
	}
	return &provider.Result{Status: provider.StatusUnknown, Observed: s,
		Error: fmt.Sprintf("interrupted while calling the provider; whether %s ran cannot be observed", act.Op)}, false, nil
}

// appliedSeq reports whether plan id has a receipt, and its seq
// (gitledger.Reader.AppliedSeq, the one "applied?" rule).
func appliedSeq(l *gitledger.Ledger, id string) (uint64, bool, error) {
	r, err := l.NewReader()
	if err != nil {
		return 0, false, err
	}
	return r.AppliedSeq(id)
}

// ledgerView adapts the ledger tip to plans.LedgerView.
type ledgerView struct{ r *gitledger.Reader }

func newLedgerView(l *gitledger.Ledger) (*ledgerView, error) {
	r, err := l.NewReader()
	if err != nil {
		return nil, err
	}
	return &ledgerView{r}, nil
}

// freshViewAt is freshView (index.go) on a tip already read.
func (a *Applier) freshViewAt(t *gitledger.Tip) plans.LedgerView {
	if a.index == nil {
		a.index = &appliedIndex{}
	}
	return indexedView{newLedgerViewAt(a.o.Ledger, t), a.index}
}

// newLedgerViewAt is a view of a tip already read.
func newLedgerViewAt(l *gitledger.Ledger, t *gitledger.Tip) *ledgerView {
	return &ledgerView{l.ReaderAt(t)}
}

func (v *ledgerView) TipSeq() uint64 { return v.r.Tip.Head.Seq }

func (v *ledgerView) ReceiptAt(seq uint64) (*receipt.Receipt, digest.Digest, error) {
	e, err := v.r.Receipt(seq)
	if err != nil {
		return nil, digest.Zero, err
	}
	return e.Receipt, digest.Blake3(e.Bytes), nil
}

// NewLedgerView exposes the ledger to plans.CheckFresh.
func NewLedgerView(l *gitledger.Ledger) (plans.LedgerView, error) { return newLedgerView(l) }

// verifyLedger checks the ledger (from the last verified head, with
// signatures) before its trust state approves anything: a pushed commit that
// adds an approver, say, must not take effect unverified.
// It returns the verified tip: known (a tip read before) when the branch
// is still there, else the tip read again.
//
// A branch still at a.trusted (this run's own last receipt on a verified
// tip) is not verified again: its receipt would be read back and checked
// per plan; catchUp checks this run's receipts from disk once per run.
func (a *Applier) verifyLedger(known *gitledger.Tip) (*gitledger.Tip, error) {
	c, err := a.o.Ledger.TipCommit()
	if err != nil {
		return nil, err
	}
	if a.trusted.IsZero() || c != a.trusted {
		if err := a.o.Ledger.VerifyTip(a.o.Genesis); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrLedgerInvalid, err)
		}
		// What VerifyTip verified (the branch may have moved since c).
		v, err := a.o.Ledger.LoadVerified()
		if err != nil {
			return nil, err
		}
		a.trusted, a.unverified = plumbing.ZeroHash, 0
		if v != nil && v.Ref == a.o.Ledger.Ref.String() {
			a.trusted, _ = gitobj.ParseHash(v.Commit)
		}
		if c, err = a.o.Ledger.TipCommit(); err != nil {
			return nil, err
		}
	}
	tip := known
	if tip == nil || c != tip.Commit {
		if tip, err = a.o.Ledger.Tip(); err != nil {
			return nil, err
		}
	}
	return tip, CheckProvider(tip.Trust, a.o.ConfigProvider)
}

// appended notes a receipt this run wrote on top of base: if base was
// trusted, so is the new commit (see Applier.trusted).
func (a *Applier) appended(base plumbing.Hash, w *gitledger.Written) {
	if !a.trusted.IsZero() && base == a.trusted {
		a.trusted = w.Commit
		a.unverified++
	}
}

// catchUp verifies, from disk, the receipts this run appended unverified
// (verifyLedger skipped them), once at the end of a run, and remembers the
// verified head, so that the next run and vmc-git verify start from it.
func (a *Applier) catchUp() error {
	if a.unverified == 0 {
		return nil
	}
	a.trusted, a.unverified = plumbing.ZeroHash, 0
	if err := a.o.Ledger.VerifyTip(a.o.Genesis); err != nil {
		return fmt.Errorf("%w: the receipts this run wrote: %w", ErrLedgerInvalid, err)
	}
	return nil
}

// CheckProvider refuses a configured provider that differs from the one
// the ledger pins (trust.Provider; nothing is pinned in older ledgers).
func CheckProvider(t *keys.Trust, configured string) error {
	if t.Provider != "" && configured != "" && configured != t.Provider {
		return fmt.Errorf("%w: .vmc/config.json says provider %q, the ledger pins %q: nothing was applied (the provider changes only by an admin-signed trust change: vmc-git keys provider)",
			ErrConfigMismatch, configured, t.Provider)
	}
	return nil
}

// setAside moves a plan's journal out of the intents (where it would be
// finished or dropped) to .git/vmc/orphaned/, for an operator to record.
func (a *Applier) setAside(id string) (string, error) {
	kept := filepath.Join(a.o.Ledger.GitDir, "vmc", "orphaned", fmt.Sprintf("%s.%d.json", id, time.Now().Unix()))
	if err := os.MkdirAll(filepath.Dir(kept), 0o755); err != nil {
		return "", err
	}
	return kept, os.Rename(a.intentPath(id), kept)
}

// summary clips a receipt summary to receipt.MaxSummary, keeping
// Options.SummaryMark at its end.
func (a *Applier) summary(s string) string {
	return receipt.ClipSummary(s, a.o.SummaryMark)
}
