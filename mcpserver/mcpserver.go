// Package mcpserver serves vmc-git to AI agents over the Model Context
// Protocol (github.com/modelcontextprotocol/go-sdk): an agent plans and
// applies, only a human signature approves.
//
// It is a shell like cmd/vmc-git: every tool parses its typed input, calls
// one use case of package workspace (the same functions the CLI calls) and
// returns a typed result. It has its own package, not a file of the CLI,
// because it is a second shell with its own contract to keep: the MCP SDK
// dependency, the tools' input and output schemas, the boundary of what an
// agent may do, and tests that drive it through the SDK's in-memory
// transport. Package workspace stays free of MCP.
//
// # Tools
//
//	plan_create   MakePlanOnBranch: the dry run, then one commit adding
//	              plans/<id>.json on a new branch plan/<id> (the work tree,
//	              index and HEAD are untouched); push: the branch, for a PR;
//	              PlanPolicyOf: what apply would decide now (the main
//	              branch's policy; result none without policy files), with
//	              the findings over the state the plan would leave
//	plan_show     FindPlan: the plan (main, else plan/<id>, else the ledger)
//	plan_status   PlanState: approvals present and missing, stale, applied,
//	              refused or withdrawn (with the receipt); PlanPolicyAt:
//	              apply's decision now (with the overrides in the plan's
//	              tree), or for an applied plan what its receipt recorded
//	apply         ApplyMerged: the one plan id, merged on main and approved;
//	              the receipt. Progress notifications while it runs. With
//	              push, ApplyRequest.Push as apply --pending --push: fetch
//	              Options.Remote, the plan merged on its main branch, locks
//	              on it, the receipt pushed through its hook. Refusals carry
//	              the CLI's kind and hint (workspace.ApplyError). First
//	              the CLI's rollback checks (Options.Checkpoints, as
//	              apply --checkpoint and --witness-check), through the
//	              same workspace function (ApplyRequest.Checkpoints).
//	ledger_head, receipt_get, log, verify_chain, servers_list: read only.
//
// Resources: vmc://receipt/<seq> (the receipt's canonical JSON) and
// vmc://plan/<id> (the plan file's exact bytes).
//
// # What an agent cannot do
//
// No tool approves a plan, changes trust, records a manual receipt, breaks
// or takes over a lock (apply never passes Force), withdraws or edits a
// plan. The server never reads approver keys: it holds one identity, the
// applier key it was started with ([Options.Applier]), signs apply receipts
// with it only, and New refuses a key the ledger trusts as approver or admin.
// A human approves with "vmc-git approve plans/<id>.json" and merges the
// branch; apply refuses anything else with the CLI's messages.
//
// # Bounds
//
// Tool arguments larger than [MaxArgumentBytes] are refused before they are
// decoded; each id, name and summary is checked by the use case (plans.ValidID,
// provider.Action.Validate, receipt.ValidSummary). Calls run one at a time
// (each opens the workspace and closes it, so the CLI can share the
// repository and the embedded sandbox between calls). Over HTTP, bodies,
// headers, sessions and slow bodies are bounded before the SDK reads a
// request (http.go: MaxBodyBytes, MaxHeaderBytes, MaxSessions,
// SessionIdleTimeout, BodyReadTimeout), each refusal a JSON-RPC error.
//
// # Cancellation
//
// Cancelling an apply stops the waiting, not the apply: it goes on in the
// server and writes its receipt (a server that dies meanwhile leaves the
// intent journal, and the next apply finishes it, as apply --pending does).
package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/vmc-git/vmc-git/apply"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/provider"
	"github.com/vmc-git/vmc-git/receipt"
	"github.com/vmc-git/vmc-git/workspace"
)

// Name is the server's implementation name.
const Name = "vmc-git"

// MaxArgumentBytes bounds one tool call's JSON arguments (a plan file is at
// most plans.MaxSize; its request is smaller).
const MaxArgumentBytes = plans.MaxSize

// MaxLog is the most receipts the log tool lists at once.
const MaxLog = 1000

// Resource URI prefixes.
const (
	ReceiptURIPrefix = "vmc://receipt/"
	PlanURIPrefix    = "vmc://plan/"
)

// Options configure the server.
type Options struct {
	Dir    string // the ledger repository (any directory inside it)
	Branch string // the ledger branch; "" for the config's
	// Applier signs apply receipts; nil: apply refuses. It must not be
	// trusted as approver or admin.
	Applier  *workspace.Identity
	Remote   string        // for plan_create and apply push; "" for origin
	LockWait time.Duration // apply waits this long for a held lock (0: 30s)
	// RemoteLockStale: with apply push, a remote lock older than this is
	// a dead run's (0: 10m; give every applier the same value).
	RemoteLockStale time.Duration
	// Checkpoints are apply's rollback checks (vmc-git apply --checkpoint,
	// --witness-check): every apply runs them before any provider call,
	// through the same workspace function as the CLI (ApplyRequest).
	Checkpoints workspace.ApplyCheckpoints
	Version     string
}

// Server holds the options and runs the tools one at a time.
type Server struct {
	o   Options
	sem chan struct{}
}

// New checks the applier key and returns the MCP server with every tool and
// resource registered.
func New(o Options) (*mcp.Server, error) {
	if o.Remote == "" {
		o.Remote = "origin"
	}
	if o.LockWait == 0 {
		o.LockWait = 30 * time.Second
	}
	if o.RemoteLockStale == 0 {
		o.RemoteLockStale = 10 * time.Minute
	}
	if o.Applier != nil {
		if err := checkApplier(o); err != nil {
			return nil, err
		}
	}
	s := &Server{o: o, sem: make(chan struct{}, 1)}
	ms := mcp.NewServer(&mcp.Implementation{Name: Name, Version: o.Version}, &mcp.ServerOptions{
		Instructions: "vmc-git changes servers only through approved plans. You (the agent) make plans " +
			"(plan_create), read them and their status, and apply approved, merged plans (apply). You cannot " +
			"approve: a human runs `vmc-git approve plans/<id>.json` and merges the plan's branch.",
	})
	s.register(ms)
	return ms, nil
}

// checkApplier refuses an applier key the ledger trusts as approver or admin:
// an agent's server must not hold a key whose signature approves.
func checkApplier(o Options) error {
	ws, err := workspace.Open(o.Dir, o.Branch, nil)
	if err != nil {
		return err
	}
	defer ws.Close()
	tip, err := ws.Ledger.Tip()
	if err != nil {
		return err
	}
	pub := o.Applier.Signer.PublicKey()
	for _, r := range []keys.Role{keys.RoleApprover, keys.RoleAdmin} {
		if _, err := tip.Trust.Authorize(o.Applier.KID, pub, time.Now(), r); err == nil {
			return &workspace.Error{Kind: workspace.KindRefused,
				Err:   fmt.Errorf("key %s is trusted as %s: the MCP server holds an applier key only", o.Applier.KID, r),
				Hints: []string{"start it with a key that has only the applier role (vmc-git keys add ... applier)"}}
		}
	}
	return nil
}

// acquire waits for the server's turn (or ctx).
func (s *Server) acquire(ctx context.Context) error {
	select {
	case s.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Server) release() { <-s.sem }

// open opens the workspace for one call.
func (s *Server) open() (*workspace.Workspace, error) {
	return workspace.Open(s.o.Dir, s.o.Branch, nil)
}

// toolErr is a tool error's text: the error, then the hints.
func toolErr(err error) error {
	var we *workspace.Error
	msg := err.Error()
	if errors.As(err, &we) {
		for _, h := range we.Hints {
			msg += "\nhint: " + h
		}
	}
	return errors.New(msg)
}

// addTool registers a tool whose handler runs in its turn with the
// workspace open; it refuses oversize arguments first and turns errors into
// tool errors (isError) with their hints.
func addTool[In, Out any](s *Server, ms *mcp.Server, t *mcp.Tool, h func(context.Context, *mcp.CallToolRequest, *workspace.Workspace, In) (Out, error)) {
	mcp.AddTool(ms, t, func(ctx context.Context, req *mcp.CallToolRequest, in In) (*mcp.CallToolResult, Out, error) {
		var zero Out
		if err := s.acquire(ctx); err != nil {
			return nil, zero, err
		}
		defer s.release()
		ws, err := s.open()
		if err != nil {
			return nil, zero, toolErr(err)
		}
		defer ws.Close()
		out, err := h(ctx, req, ws, in)
		if err != nil {
			return nil, zero, toolErr(err)
		}
		return nil, out, nil
	})
}

// sizeGuard refuses tool calls whose arguments exceed MaxArgumentBytes,
// before the SDK decodes them.
func sizeGuard(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		if ctr, ok := req.(*mcp.CallToolRequest); ok && ctr.Params != nil && len(ctr.Params.Arguments) > MaxArgumentBytes {
			r := &mcp.CallToolResult{}
			r.SetError(fmt.Errorf("tool %s: arguments of %d bytes, more than %d", ctr.Params.Name, len(ctr.Params.Arguments), MaxArgumentBytes))
			return r, nil
		}
		return next(ctx, method, req)
	}
}

// jsonValue re-decodes v's JSON encoding into T (for outputs whose schema
// is an open object: a plan, a receipt, a server).
func jsonValue[T any](v any) T {
	var out T
	if b, err := json.Marshal(v); err == nil {
		json.Unmarshal(b, &out)
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// The tools' inputs and outputs.
type (
	PlanCreateInput struct {
		ID      string            `json:"id,omitempty" jsonschema:"plan id (lowercase letters, digits, dashes; it must start with the first action's server); empty for SERVER-OP-TIMESTAMP"`
		Summary string            `json:"summary,omitempty" jsonschema:"one line for the reviewers; empty for a generated one"`
		Actions []provider.Action `json:"actions" jsonschema:"the plan's actions, in order: each names an op (create, delete, poweron, poweroff, shutdown, reboot, reset, rebuild, resize, label, rename, protect) and a server, with that op's parameters only"`
		Push    bool              `json:"push,omitempty" jsonschema:"push the branch plan/<id> to the remote, for a pull request"`
	}
	PlanCreateOutput struct {
		ID     string         `json:"id"`
		Branch string         `json:"branch" jsonschema:"the new branch holding the plan commit"`
		Commit string         `json:"commit"`
		Pushed bool           `json:"pushed"`
		Path   string         `json:"path" jsonschema:"the plan's path in the repository"`
		Blake3 string         `json:"blake3"`
		SHA256 string         `json:"sha256"`
		Plan   map[string]any `json:"plan"`
		Review string         `json:"review" jsonschema:"the plan rendered for the reviewers (markdown)"`
		Policy *PolicyOutput  `json:"policy" jsonschema:"what apply would decide now with the main branch's policy (result none without policy files), and the findings over the state the plan would leave"`
		Next   string         `json:"next"`
	}
	PolicyOutput struct {
		Result       string            `json:"result" jsonschema:"apply's decision: none (no policy files on main), pass, overridden (admin overrides cover the deny rules the plan introduces) or denied; empty when the policy could not be evaluated (error)"`
		Recorded     bool              `json:"recorded" jsonschema:"the plan is applied (or retired) and result is what its apply receipt recorded (apply.policy)"`
		Pass         bool              `json:"pass" jsonschema:"result is pass"`
		BundleBlake3 string            `json:"bundle_blake3,omitempty" jsonschema:"blake3 of the policy bundle (policy/*.rego on the main branch)"`
		Rules        []string          `json:"rules,omitempty" jsonschema:"the rules of the deny findings the plan introduces"`
		Uncovered    []string          `json:"uncovered,omitempty" jsonschema:"the rules no valid admin override names: the plan is denied while this is not empty"`
		Overrides    []string          `json:"overrides" jsonschema:"kids of the admin overrides that count (plans/<id>.overrides/<kid>.json)"`
		NotCounted   map[string]string `json:"not_counted,omitempty" jsonschema:"overrides present that do not count: kid -> why"`
		Deny         []string          `json:"deny" jsonschema:"every deny finding over the state the plan would leave, each: resource [rule] reason (violations the plan does not introduce do not block it)"`
		Warn         []string          `json:"warn" jsonschema:"findings for the reviewers, each: resource [rule] reason"`
		Error        string            `json:"error,omitempty" jsonschema:"the policy could not be evaluated"`
		Line         string            `json:"line" jsonschema:"the decision in one line, as vmc-git plan status prints it"`
	}
	PlanIDInput struct {
		ID string `json:"id" jsonschema:"the plan id (plans/<id>.json)"`
	}
	ApplyInput struct {
		ID   string `json:"id" jsonschema:"the plan id (plans/<id>.json)"`
		Push bool   `json:"push,omitempty" jsonschema:"as vmc-git apply --pending --push: fetch the remote first, apply only if the plan is merged on the remote's main branch, take the server locks on the remote, and push the receipt to the remote's ledger branch (its pre-receive hook checks it); the receipt is written either way"`
	}
	PlanShowOutput struct {
		ID     string         `json:"id"`
		Where  string         `json:"where" jsonschema:"main (merged), branch (plan/<id>, not merged) or ledger (applied)"`
		Blake3 string         `json:"blake3"`
		SHA256 string         `json:"sha256"`
		Plan   map[string]any `json:"plan"`
		Text   string         `json:"text"`
	}
	PlanStatusOutput struct {
		ID         string               `json:"id"`
		Where      string               `json:"where" jsonschema:"main (merged), branch (plan/<id>, not merged) or ledger (applied)"`
		Approvals  plans.ApprovalStatus `json:"approvals"`
		Approved   bool                 `json:"approved"`
		Applied    bool                 `json:"applied"`
		Stale      bool                 `json:"stale"`
		StaleWhy   []string             `json:"stale_why,omitempty"`
		StaleError string               `json:"stale_error,omitempty"`
		Receipt    uint64               `json:"receipt,omitempty" jsonschema:"when applied: the seq of the plan's apply receipt"`
		Outcome    string               `json:"outcome,omitempty" jsonschema:"when applied: applied (the provider was called), refused or withdrawn (retired without a provider call)"`
		Withdrawn  bool                 `json:"withdrawn" jsonschema:"an approver withdrew the plan: it never applies"`
		Reason     string               `json:"reason,omitempty" jsonschema:"why it was refused or withdrawn"`
		By         string               `json:"by,omitempty" jsonschema:"who signed the apply receipt"`
		Policy     *PolicyOutput        `json:"policy,omitempty" jsonschema:"not applied: what apply would decide now (result none without policy files) and the findings; applied: what the receipt recorded (absent when it records none, as for a withdrawn plan)"`
		Next       string               `json:"next"`
	}
	ApplyOutput struct {
		Plan      string         `json:"plan"`
		Seq       uint64         `json:"seq" jsonschema:"the apply receipt's seq"`
		Commit    string         `json:"commit"`
		Blake3    string         `json:"blake3"`
		Pushed    bool           `json:"pushed" jsonschema:"with push: the receipt is on the remote's ledger branch"`
		Status    string         `json:"status" jsonschema:"succeeded, failed or unknown"`
		Recovered bool           `json:"recovered,omitempty"`
		Receipt   map[string]any `json:"receipt"`
		// Others are receipts this run wrote for other plans (an apply a
		// crash interrupted, finished first).
		Others []uint64 `json:"others,omitempty"`
	}
	NoInput          struct{}
	LedgerHeadOutput struct {
		Ledger    string `json:"ledger"`
		Seq       uint64 `json:"seq"`
		Blake3    string `json:"blake3"`
		SHA256    string `json:"sha256"`
		CreatedAt string `json:"created_at"`
		Commit    string `json:"commit"`
	}
	ReceiptInput struct {
		Seq uint64 `json:"seq" jsonschema:"the receipt's sequence number (0 is the genesis)"`
	}
	ReceiptOutput struct {
		Seq       uint64         `json:"seq"`
		Blake3    string         `json:"blake3"`
		SHA256    string         `json:"sha256"`
		Receipt   map[string]any `json:"receipt"`
		Signature string         `json:"signature"`
	}
	LogInput struct {
		N int `json:"n,omitempty" jsonschema:"how many receipts, newest first (1 to 1000; 0 for 20)"`
	}
	LogEntry struct {
		Seq       uint64 `json:"seq"`
		Kind      string `json:"kind"`
		CreatedAt string `json:"created_at"`
		KID       string `json:"kid"`
		Summary   string `json:"summary"`
		Blake3    string `json:"blake3"`
	}
	LogOutput struct {
		Entries []LogEntry `json:"entries"`
	}
	VerifyInput struct {
		Signatures bool `json:"signatures,omitempty" jsonschema:"check every commit and receipt signature too"`
	}
	VerifyOutput struct {
		OK         bool   `json:"ok"`
		Ledger     string `json:"ledger"`
		Receipts   uint64 `json:"receipts"`
		Checked    uint64 `json:"checked"`
		HeadSeq    uint64 `json:"head_seq"`
		HeadBlake3 string `json:"head_blake3"`
		Signatures bool   `json:"signatures"`
	}
	ServersInput struct {
		LabelSelector string `json:"label_selector,omitempty" jsonschema:"Hetzner label selector, e.g. role=web; empty for all"`
	}
	ServersOutput struct {
		Servers []map[string]any `json:"servers"`
	}
)

const noApproveNote = " This tool cannot approve, change trust, break locks or force anything; only a human approves, with `vmc-git approve plans/<id>.json`."

func (s *Server) register(ms *mcp.Server) {
	ms.AddReceivingMiddleware(sizeGuard)
	ro := &mcp.ToolAnnotations{ReadOnlyHint: true, IdempotentHint: true}
	addTool(s, ms, &mcp.Tool{Name: "plan_create", Annotations: &mcp.ToolAnnotations{DestructiveHint: ptr(false)},
		Description: "Make a plan (a dry run against the provider) and commit it as plans/<id>.json on a new branch plan/<id> " +
			"(optionally pushed for a pull request). Changes no server. Returns the plan, its hashes, the review rendering and, where policy/*.rego exists on main, " +
			"what apply would decide with the main branch's policy (policy.result: none, pass, overridden or denied; the rules no admin override covers; the findings deny and warn). " +
			"Next: a human reviews it, runs `vmc-git approve plans/<id>.json` and merges the branch." + noApproveNote},
		s.planCreate)
	addTool(s, ms, &mcp.Tool{Name: "plan_show", Annotations: ro,
		Description: "Show a plan by id: from the main branch (merged), its branch plan/<id> (proposed) or the ledger (applied), with its hashes."},
		s.planShow)
	addTool(s, ms, &mcp.Tool{Name: "plan_status", Annotations: ro,
		Description: "A plan's approvals (valid, invalid, missing), whether it is merged, stale (servers or ledger changed since the dry run), its policy result, " +
			"or, once in the ledger, its receipt and whether it was applied, refused or withdrawn (a withdrawn plan never applies), and what happens next." + noApproveNote},
		s.planStatus)
	mcp.AddTool(ms, &mcp.Tool{Name: "apply", Annotations: &mcp.ToolAnnotations{DestructiveHint: ptr(true)},
		Description: "Apply one plan that is merged on the main branch and approved by human approvers; changes servers and returns the signed apply receipt. " +
			"Refuses unapproved, unmerged, stale, withdrawn or already applied plans with the CLI's messages and hints, " +
			"and, when the server was started with --checkpoint or --witness-check, a ledger rolled back or forked from what is cosigned (before any server change). " +
			"With push: true it runs as `vmc-git apply --pending --push` does for this one plan: it fetches the remote, needs the plan merged on the remote's main branch, " +
			"takes the server locks on the remote and publishes the receipt to the remote's ledger branch (through its pre-receive hook). " +
			"Sends progress notifications; cancelling stops the waiting, " +
			"the apply still finishes and writes its receipt (see plan_status)." + noApproveNote},
		s.apply)
	addTool(s, ms, &mcp.Tool{Name: "ledger_head", Annotations: ro, Description: "The ledger's newest receipt: ledger id, seq and hashes."}, s.ledgerHead)
	addTool(s, ms, &mcp.Tool{Name: "receipt_get", Annotations: ro, Description: "One receipt by seq, with its hashes and SSHSIG signature."}, s.receiptGet)
	addTool(s, ms, &mcp.Tool{Name: "log", Annotations: ro, Description: "The newest receipts, newest first."}, s.log)
	addTool(s, ms, &mcp.Tool{Name: "verify_chain", Annotations: ro, Description: "Verify the ledger branch: hash chain, genesis pin, trust transitions; with signatures, every signature. An error names the broken rule."}, s.verifyChain)
	addTool(s, ms, &mcp.Tool{Name: "servers_list", Annotations: ro, Description: "The provider's servers (their current state), optionally by label selector."}, s.serversList)
	ms.AddResourceTemplate(&mcp.ResourceTemplate{Name: "receipt", URITemplate: ReceiptURIPrefix + "{seq}", MIMEType: "application/json",
		Description: "a receipt's canonical JSON"}, s.readReceipt)
	ms.AddResourceTemplate(&mcp.ResourceTemplate{Name: "plan", URITemplate: PlanURIPrefix + "{id}", MIMEType: "application/json",
		Description: "a plan file's exact bytes"}, s.readPlan)
}

func (s *Server) kid() string {
	if s.o.Applier != nil {
		return s.o.Applier.KID
	}
	return ""
}

func (s *Server) planCreate(ctx context.Context, _ *mcp.CallToolRequest, ws *workspace.Workspace, in PlanCreateInput) (PlanCreateOutput, error) {
	if len(in.Actions) == 0 {
		return PlanCreateOutput{}, errors.New("actions: give at least one action")
	}
	bp, err := ws.MakePlanOnBranch(ctx, workspace.BranchPlanRequest{
		Plan: workspace.PlanRequest{ID: in.ID, Summary: in.Summary, CreatedBy: s.kid(), Actions: in.Actions},
		Push: in.Push, Remote: s.o.Remote})
	if err != nil {
		return PlanCreateOutput{}, err
	}
	path := plans.Path(bp.Plan.ID)
	return PlanCreateOutput{ID: bp.Plan.ID, Branch: bp.Branch, Commit: bp.Commit, Pushed: bp.Pushed, Path: path,
		Blake3: bp.Blake3.String(), SHA256: digest.SHA256(bp.Bytes).String(), Plan: jsonValue[map[string]any](bp.Plan),
		Review: bp.Plan.Markdown(bp.Bytes, nil, nil, nil), Policy: policyOutput(bp.Plan.ID, ws.PlanPolicyOf(ctx, bp.Plan, bp.Bytes, nil)),
		Next: "a human reviews branch " + bp.Branch + ", runs `vmc-git approve " + path + "`, commits the approval and merges; then call apply"}, nil
}

// policyOutput is plan id's policy status as the tools return it (nil:
// none).
func policyOutput(id string, o *workspace.PlanPolicyStatus) *PolicyOutput {
	if o == nil {
		return nil
	}
	return &PolicyOutput{Result: o.Result, Recorded: o.Recorded, Pass: o.Result == receipt.PolicyPass, BundleBlake3: o.Blake3,
		Rules: o.Rules, Uncovered: o.Uncovered, Overrides: o.Overrides, NotCounted: o.NotCounted,
		Deny: o.Deny, Warn: o.Warn, Error: o.Error, Line: o.Line(id)}
}

func (s *Server) planShow(_ context.Context, _ *mcp.CallToolRequest, ws *workspace.Workspace, in PlanIDInput) (PlanShowOutput, error) {
	f, err := ws.FindPlan(in.ID)
	if err != nil {
		return PlanShowOutput{}, err
	}
	return PlanShowOutput{ID: f.Plan.ID, Where: f.Where, Blake3: digest.Blake3(f.Bytes).String(), SHA256: digest.SHA256(f.Bytes).String(),
		Plan: jsonValue[map[string]any](f.Plan), Text: f.Plan.Text(f.Bytes)}, nil
}

func (s *Server) planStatus(ctx context.Context, _ *mcp.CallToolRequest, ws *workspace.Workspace, in PlanIDInput) (PlanStatusOutput, error) {
	f, err := ws.FindPlan(in.ID)
	if err != nil {
		return PlanStatusOutput{}, err
	}
	st, err := ws.PlanState(ctx, f)
	if err != nil {
		return PlanStatusOutput{}, err
	}
	out := PlanStatusOutput{ID: st.ID, Where: st.Where, Approvals: st.Approvals, Approved: st.Approved, Applied: st.Applied,
		Stale: len(st.Stale) > 0, StaleWhy: st.Stale, StaleError: st.StaleError,
		Receipt: st.Receipt, Outcome: st.Outcome, Withdrawn: st.Outcome == receipt.ApplyWithdrawn, Reason: st.Reason, By: st.By}
	out.Policy = policyOutput(st.ID, ws.PlanPolicyAt(ctx, f, st))
	if out.Approvals.Valid == nil {
		out.Approvals.Valid = []string{}
	}
	path := plans.Path(st.ID)
	switch {
	case out.Withdrawn:
		out.Next = fmt.Sprintf("withdrawn by %s in receipt %d (%s): it never applies; if it is still wanted, make a new plan (plan_create)", st.By, st.Receipt, st.Reason)
	case st.Outcome == receipt.ApplyRefused:
		out.Next = fmt.Sprintf("refused and retired in receipt %d (%s): it never applies; make a new plan (plan_create)", st.Receipt, st.Reason)
	case st.Applied:
		out.Next = "applied: read its receipt with receipt_get or log"
	case out.Stale:
		out.Next = "stale: make a new plan against the current state (plan_create)"
	case !st.Approved:
		out.Next = fmt.Sprintf("waiting for %d approval(s): a human runs `vmc-git approve %s` and merges the branch", st.Approvals.Missing, path)
	case st.Where != workspace.PlanOnMain:
		out.Next = "approved but not merged: a human merges branch " + workspace.PlanBranchPrefix + st.ID
	default:
		out.Next = "ready: call apply"
	}
	if p := out.Policy; p != nil && !p.Recorded && p.Result == receipt.PolicyDenied {
		out.Next += fmt.Sprintf("; but the policy denies it (rules %s, policy.deny names the findings): a merged plan denied at apply is retired, so fix it in a new plan (plan_create), or a human admin runs `%s` before it is merged (%s)",
			strings.Join(p.Uncovered, ", "), workspace.OverrideCommand(st.ID, p.Uncovered), workspace.HintDenied)
	}
	return out, nil
}

// apply runs ApplyMerged in the server's turn, detached from the request:
// a cancelled request stops waiting, never the apply.
func (s *Server) apply(ctx context.Context, req *mcp.CallToolRequest, in ApplyInput) (*mcp.CallToolResult, ApplyOutput, error) {
	if s.o.Applier == nil {
		return nil, ApplyOutput{}, errors.New("this server has no applier key: start it with vmc-git mcp serve --key KEY")
	}
	if err := plans.ValidID(in.ID); err != nil {
		return nil, ApplyOutput{}, err
	}
	if err := s.acquire(ctx); err != nil {
		return nil, ApplyOutput{}, err
	}
	var step atomic.Int64
	tok := req.Params.GetProgressToken()
	progress := func(format string, a ...any) {
		if tok == nil {
			return
		}
		n := step.Add(1)
		// The request may be gone (cancelled): notify on a context of its own.
		nctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req.Session.NotifyProgress(nctx, &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: float64(n), Message: fmt.Sprintf(format, a...)})
	}
	type result struct {
		out ApplyOutput
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer s.release()
		out, err := s.runApply(context.WithoutCancel(ctx), in, progress)
		done <- result{out, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, ApplyOutput{}, toolErr(r.err)
		}
		return nil, r.out, nil
	case <-ctx.Done():
		return nil, ApplyOutput{}, fmt.Errorf("stopped waiting for plan %s: the apply goes on in the server and writes its receipt; see plan_status: %w", in.ID, ctx.Err())
	}
}

func (s *Server) runApply(ctx context.Context, in ApplyInput, progress func(string, ...any)) (ApplyOutput, error) {
	ws, err := s.open()
	if err != nil {
		return ApplyOutput{}, err
	}
	defer ws.Close()
	id := in.ID
	progress("applying plan %s", id)
	req := workspace.ApplyRequest{LockWait: s.o.LockWait, Log: progress, Checkpoints: s.o.Checkpoints, Witnessed: func(w *workspace.Witnessed) {
		if w != nil {
			asked := 0
			if w.Witnesses != nil {
				asked = len(w.Witnesses.Witnesses)
			}
			progress("rollback checks passed: %d checkpoint file(s), %d witness(es) asked", len(w.Checkpoints), asked)
		}
	}}
	if in.Push {
		req.Push, req.Remote, req.RemoteLockAge = true, s.o.Remote, s.o.RemoteLockStale
	}
	outs, planErr, err := ws.ApplyMerged(ctx, *s.o.Applier, req, id)
	if err != nil {
		return ApplyOutput{}, err
	}
	var mine *apply.Outcome
	var others []uint64
	for _, o := range outs {
		if o.Plan == id {
			mine = o
		} else {
			others = append(others, o.Seq)
		}
	}
	if planErr != nil {
		// The CLI's mapping: the same kind and hint as vmc-git apply.
		return ApplyOutput{}, workspace.ApplyError([]error{planErr}, id)
	}
	if mine == nil {
		return ApplyOutput{}, fmt.Errorf("plan %s: no receipt written", id)
	}
	e, err := ws.Receipt(mine.Seq)
	if err != nil {
		return ApplyOutput{}, err
	}
	progress("plan %s: %s, receipt %d", id, mine.Status, mine.Seq)
	out := ApplyOutput{Plan: mine.Plan, Seq: mine.Seq, Commit: mine.Commit, Blake3: mine.Blake3.String(), Pushed: in.Push, Status: mine.Status,
		Recovered: mine.Recovered, Receipt: jsonValue[map[string]any](e.Receipt), Others: others}
	if err := workspace.OutcomeError(mine); err != nil {
		// The receipt is written either way; the agent must see the failure.
		return out, err
	}
	return out, nil
}

func (s *Server) ledgerHead(_ context.Context, _ *mcp.CallToolRequest, ws *workspace.Workspace, _ NoInput) (LedgerHeadOutput, error) {
	tip, err := ws.Ledger.Tip()
	if err != nil {
		return LedgerHeadOutput{}, err
	}
	h := tip.Head
	return LedgerHeadOutput{Ledger: h.Ledger, Seq: h.Seq, Blake3: h.Blake3.String(), SHA256: h.SHA256.String(), CreatedAt: h.CreatedAt, Commit: tip.Commit.String()}, nil
}

func (s *Server) receiptGet(_ context.Context, _ *mcp.CallToolRequest, ws *workspace.Workspace, in ReceiptInput) (ReceiptOutput, error) {
	e, err := ws.Receipt(in.Seq)
	if err != nil {
		return ReceiptOutput{}, err
	}
	return ReceiptOutput{Seq: e.Receipt.Seq, Blake3: digest.Blake3(e.Bytes).String(), SHA256: digest.SHA256(e.Bytes).String(),
		Receipt: jsonValue[map[string]any](e.Receipt), Signature: string(e.Sig)}, nil
}

func (s *Server) log(_ context.Context, _ *mcp.CallToolRequest, ws *workspace.Workspace, in LogInput) (LogOutput, error) {
	n := in.N
	switch {
	case n == 0:
		n = 20
	case n < 0 || n > MaxLog:
		return LogOutput{}, fmt.Errorf("n: %d: want 1 to %d", n, MaxLog)
	}
	rows, err := ws.Log(n)
	if err != nil {
		return LogOutput{}, err
	}
	out := LogOutput{Entries: []LogEntry{}}
	for _, r := range rows {
		out.Entries = append(out.Entries, LogEntry{r.Seq, string(r.Kind), r.CreatedAt, r.KID, r.Summary, r.Blake3.String()})
	}
	return out, nil
}

func (s *Server) verifyChain(_ context.Context, _ *mcp.CallToolRequest, ws *workspace.Workspace, in VerifyInput) (VerifyOutput, error) {
	rep, err := ws.Verify(workspace.VerifyOptions{Signatures: in.Signatures})
	if err != nil {
		return VerifyOutput{}, fmt.Errorf("the ledger is not valid: %w", err)
	}
	return VerifyOutput{OK: true, Ledger: rep.Ledger, Receipts: rep.Receipts, Checked: rep.Checked, HeadSeq: rep.Head.Seq,
		HeadBlake3: rep.Head.Blake3.String(), Signatures: rep.Signatures}, nil
}

func (s *Server) serversList(ctx context.Context, _ *mcp.CallToolRequest, ws *workspace.Workspace, in ServersInput) (ServersOutput, error) {
	if len(in.LabelSelector) > 1024 {
		return ServersOutput{}, fmt.Errorf("label_selector: %d bytes, more than 1024", len(in.LabelSelector))
	}
	prov, err := ws.Provider()
	if err != nil {
		return ServersOutput{}, err
	}
	list, err := prov.Servers(ctx, in.LabelSelector)
	if err != nil {
		return ServersOutput{}, err
	}
	out := ServersOutput{Servers: []map[string]any{}}
	for _, sv := range list {
		out.Servers = append(out.Servers, jsonValue[map[string]any](sv))
	}
	return out, nil
}

// readJSON answers a resource read with the bytes read(ws) returns, read
// in the server's turn with the workspace open; any error is "not found".
func (s *Server) readJSON(ctx context.Context, uri string, read func(*workspace.Workspace) ([]byte, error)) (*mcp.ReadResourceResult, error) {
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	defer s.release()
	ws, err := s.open()
	if err != nil {
		return nil, mcp.ResourceNotFoundError(uri)
	}
	defer ws.Close()
	body, err := read(ws)
	if err != nil {
		return nil, mcp.ResourceNotFoundError(uri)
	}
	return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: uri, MIMEType: "application/json", Text: string(body)}}}, nil
}

func (s *Server) readReceipt(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	uri := req.Params.URI
	v, ok := strings.CutPrefix(uri, ReceiptURIPrefix)
	seq, err := strconv.ParseUint(v, 10, 64)
	if !ok || err != nil || strconv.FormatUint(seq, 10) != v {
		return nil, mcp.ResourceNotFoundError(uri)
	}
	return s.readJSON(ctx, uri, func(ws *workspace.Workspace) ([]byte, error) {
		e, err := ws.Receipt(seq)
		if err != nil {
			return nil, err
		}
		return e.Bytes, nil
	})
}

func (s *Server) readPlan(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	uri := req.Params.URI
	id, ok := strings.CutPrefix(uri, PlanURIPrefix)
	if !ok || plans.ValidID(id) != nil {
		return nil, mcp.ResourceNotFoundError(uri)
	}
	return s.readJSON(ctx, uri, func(ws *workspace.Workspace) ([]byte, error) {
		f, err := ws.FindPlan(id)
		if err != nil {
			return nil, err
		}
		return f.Bytes, nil
	})
}
