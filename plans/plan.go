// Package plans defines vmc-git plans: what an operator (or an agent) wants
// done to servers, made by a dry run, reviewed in a pull request, approved
// with operator signatures and applied at most once.
//
// # Format
//
// A plan is canonical JSON (RFC 8785) at plans/<id>.json on the main branch,
// where id matches ^[a-z0-9][a-z0-9._-]{0,127}$, has no "..", and equals the
// file name. A plan with a create or label action puts its id on the server as
// the label vmc.plan, so its id must also be a valid label value: at most 63
// characters, ending in a letter or digit (ValidIDFor); NewID makes such ids.
//
//	{"actions":[{"action":{"image":"ubuntu-24.04","location":"fsn1","op":"create",
//	  "server":"web-1","server_type":"cx22"},"expect":{"exists":false}}],
//	 "created_at":"2026-11-26T09:00:00Z","created_by":"alice","id":"web-1-create-20261126090000",
//	 "ledger":"github.com/acme/infra","ledger_head":{"blake3":"…","seq":3},
//	 "summary":"create web-1 (cx22, ubuntu-24.04, fsn1)","v":1}
//
// Each action (provider.Action) carries what the dry run found on its server:
// whether it exists and, if so, its id, status, type and labels. A server may
// appear in several steps (poweroff, then resize) unless an earlier step
// creates, deletes or renames it; the first step's expectation is the state
// before the plan, a later one's the state the steps before it leave
// (Simulate; see dryrun.go). ledger_head is the ledger receipt the plan was
// made against.
//
// # Other kinds
//
// An action with a kind (firewall, network, volume, ssh_key, primary_ip,
// floating_ip) targets the resource named by "name". Its expectation is
// {exists:false} for create, otherwise {exists, id, labels, attached,
// config}: the resource's id and labels, the server it is attached or
// assigned to, and the first 16 hex digits of the SHA-256 of its
// configuration (ConfigOf), so any change since the dry run makes the plan
// stale. A plan names a resource of another kind at most once as a target;
// an action may refer to what an earlier action of the plan creates (the
// dry run checks every reference exists now or is created earlier, and is
// not deleted earlier). Locks lists the lock of every resource the plan
// changes (see resources.go).
//
// # Staleness
//
// Apply refuses a stale plan: a server no longer matches its expectation, or
// an apply receipt after ledger_head touched one of the plan's servers, or the
// ledger at ledger_head is not the one the plan was made against. The error
// lists every difference.
//
// # Approvals
//
// An approval is an armored SSHSIG, namespace vmc-plan, over the plan's
// exact bytes, stored at plans/<id>.approvals/<kid>.sig. A plan needs
// approvals_required approvals by distinct keys trusted as approver at the
// ledger head; gitledger.CheckApprovals is the rule. ReadApprovals
// (approvals.go) is the one reader of an approvals directory, wherever it
// is: on the main branch, in the ledger's copy, on disk.
package plans

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/vmc-git/vmc-git/internal/canon"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/internal/layout"
	"github.com/vmc-git/vmc-git/internal/trace"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/provider"
	"github.com/vmc-git/vmc-git/receipt"
)

// Version is the plan format version.
const Version = 1

// Dir is where plans live in the main branch's tree (see package
// internal/layout).
const Dir = layout.PlansDir

// ApprovalsSuffix names a plan's approvals directory: plans/<id>.approvals/.
const ApprovalsSuffix = layout.ApprovalsSuffix

// ApprovalExt ends an approval file's name: <kid>.sig.
const ApprovalExt = layout.ApprovalExt

// MaxActions bounds the actions of one plan.
const MaxActions = 100

// MaxSize bounds a plan file, checked before it is parsed.
const MaxSize = receipt.MaxPlanSize

// MaxLabels bounds the labels of one action, and of one expected state.
const MaxLabels = 64

// Plan is one reviewed unit of change.
type Plan struct {
	V          int       `json:"v"`
	ID         string    `json:"id"`
	Ledger     string    `json:"ledger"`
	CreatedAt  string    `json:"created_at"`
	CreatedBy  string    `json:"created_by,omitempty"`
	Summary    string    `json:"summary"`
	LedgerHead LedgerRef `json:"ledger_head"`
	Actions    []Step    `json:"actions"`
}

// LedgerRef names a ledger receipt.
type LedgerRef struct {
	Seq    uint64        `json:"seq"`
	Blake3 digest.Digest `json:"blake3"`
}

// Step is one action and the state its server had when the plan was made.
type Step struct {
	Action provider.Action `json:"action"`
	Expect Expect          `json:"expect"`
}

// Expect is the state a plan expects to find on a server.
type Expect struct {
	Exists     bool              `json:"exists"`
	ServerID   int64             `json:"server_id,omitempty"`
	Status     string            `json:"status,omitempty"`
	ServerType string            `json:"server_type,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	// Other kinds (see resources.go).
	ID       int64  `json:"id,omitempty"`
	Attached string `json:"attached,omitempty"`
	Config   string `json:"config,omitempty"`
}

// ExpectOf returns the expectation for an observed server (nil: absent).
func ExpectOf(s *provider.Server) Expect {
	if s == nil {
		return Expect{}
	}
	e := Expect{Exists: true, ServerID: s.ID, Status: s.Status, ServerType: s.ServerType}
	if len(s.Labels) > 0 {
		e.Labels = maps.Clone(s.Labels)
	}
	return e
}

// ValidID checks a plan id: ^[a-z0-9][a-z0-9._-]{0,127}$ without "..".
func ValidID(id string) error {
	if err := receipt.ValidPlanID(id); err != nil {
		return err
	}
	if strings.Contains(id, "..") {
		return fmt.Errorf("invalid plan id %q: contains \"..\"", clip(id))
	}
	return nil
}

// ValidIDFor checks a plan id for a plan with these actions: ValidID, and,
// if an action puts the label vmc.plan=<id> on a server (create, label), a
// valid label value too (at most 63 characters, ending in a letter or digit),
// so the provider does not refuse the plan only once it is applied.
func ValidIDFor(id string, actions []provider.Action) error {
	if err := ValidID(id); err != nil {
		return err
	}
	for _, a := range actions {
		switch a.Op {
		case provider.OpCreate, provider.OpLabel, provider.OpAddLabels, provider.OpRemoveLabels, provider.OpCreateImage:
		default:
			continue
		}
		if err := provider.CheckLabelValue(id); err != nil || len(id) > provider.MaxLabelValueLen {
			return fmt.Errorf("plan id %q cannot be the value of label %s, which %s puts on the server: want at most %d characters, ending in a letter or digit",
				clip(id), provider.LabelPlan, a.Op, provider.MaxLabelValueLen)
		}
	}
	return nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// Path returns plans/<id>.json.
func Path(id string) string { return receipt.PlanPath(id) }

// ApprovalPath returns plans/<id>.approvals/<kid>.sig.
func ApprovalPath(id, kid string) string {
	return Dir + "/" + id + ApprovalsSuffix + "/" + kid + ApprovalExt
}

var nonID = regexp.MustCompile(`[^a-z0-9._-]+`)

// NewID makes a plan id from the first action and a time:
// <server>-<op>-<yyyymmddhhmmss>, the server part shortened so that the id
// has at most 63 characters and is a valid label value (see ValidIDFor).
func NewID(a provider.Action, at time.Time) string {
	suffix := "-" + string(a.Op) + "-" + at.UTC().Format("20060102150405")
	server := nonID.ReplaceAllString(strings.ToLower(a.Target().Name), "-")
	if n := provider.MaxLabelValueLen - len(suffix); len(server) > n {
		server = server[:max(n, 0)]
	}
	server = strings.Trim(server, "-._")
	for strings.Contains(server, "..") {
		server = strings.ReplaceAll(server, "..", ".")
	}
	if server == "" {
		return strings.TrimLeft(suffix, "-")
	}
	return server + suffix
}

// Validate checks a plan's fields.
func (p *Plan) Validate() error {
	fail := func(format string, a ...any) error {
		return fmt.Errorf("plan %s: %s", p.ID, fmt.Sprintf(format, a...))
	}
	if p.V != Version {
		return fail("format version %d, want %d", p.V, Version)
	}
	acts := make([]provider.Action, len(p.Actions))
	for i, s := range p.Actions {
		acts[i] = s.Action
	}
	if err := ValidIDFor(p.ID, acts); err != nil {
		return err
	}
	if err := receipt.ValidLedgerID(p.Ledger); err != nil {
		return fail("%v", err)
	}
	if _, err := keys.ParseTime(p.CreatedAt); err != nil {
		return fail("created_at: %v", err)
	}
	if err := receipt.ValidSummary(p.Summary); err != nil {
		return fail("%v", err)
	}
	if len(p.Actions) == 0 || len(p.Actions) > MaxActions {
		return fail("%d actions, want 1 to %d", len(p.Actions), MaxActions)
	}
	for i, s := range p.Actions {
		if err := s.Action.Validate(); err != nil {
			return fail("action %d: %v", i, err)
		}
		e := s.Expect
		if len(s.Action.Labels) > MaxLabels || len(e.Labels) > MaxLabels {
			return fail("action %d: more than %d labels", i, MaxLabels)
		}
		t := s.Action.Target()
		if t.Kind == provider.KindServer {
			if e.Exists != (e.ServerID != 0) || (!e.Exists && (e.Status != "" || e.ServerType != "" || e.Labels != nil)) ||
				e.ID != 0 || e.Attached != "" || e.Config != "" {
				return fail("action %d: expect must be {exists:false} or name the server's id", i)
			}
		} else if e.Exists != (e.ID != 0) || (!e.Exists && (e.Labels != nil || e.Attached != "" || e.Config != "")) ||
			e.ServerID != 0 || e.Status != "" || e.ServerType != "" {
			return fail("action %d: expect must be {exists:false} or name the %s's id", i, t.Kind)
		}
		if (s.Action.Op == provider.OpCreate) == e.Exists {
			if e.Exists {
				return fail("action %d: create expects %s not to exist", i, t)
			}
			return fail("action %d: %s expects %s to exist", i, s.Action.Op, t)
		}
	}
	if err := p.checkRepeats(); err != nil {
		return fail("%v", err)
	}
	return nil
}

// Encode validates p and returns its canonical bytes.
func (p *Plan) Encode() ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return canon.Marshal(p)
}

// Parse decodes canonical plan bytes strictly and validates them.
func Parse(b []byte) (*Plan, error) {
	trace.Add(trace.PlanParses)
	if len(b) > MaxSize {
		return nil, fmt.Errorf("plan: %d bytes, more than the limit of %d", len(b), MaxSize)
	}
	var p Plan
	if err := canon.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	// Round trip: a field value that encodes differently (e.g. an action
	// parameter given as its zero value) would make two encodings.
	again, err := canon.Marshal(&p)
	if err != nil {
		return nil, err
	}
	if string(again) != string(b) {
		return nil, fmt.Errorf("plan %s: has fields set to their empty values; remove them", p.ID)
	}
	return &p, nil
}

// Load reads and parses a plan file, checking that its id matches the file name.
func Load(path string) (*Plan, []byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	p, err := Parse(b)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if want := p.ID + ".json"; filepath.Base(path) != want {
		return nil, nil, fmt.Errorf("%s: plan id %s must match the file name %s", path, p.ID, want)
	}
	return p, b, nil
}

// Servers returns the lock names of every resource the plan changes,
// sorted (see Locks): for a plan of server actions, the server names, new
// names included.
func (p *Plan) Servers() []string { return p.Locks() }

// ErrDryRun means the dry run found a server in a state the action cannot
// start from: a create of an existing server, another op on a missing one, a
// rename to a taken name. Other Make errors are invalid input or a provider
// that could not be read.
var ErrDryRun = errors.New("dry run refused")

// Request is what a dry run is asked to plan.
type Request struct {
	ID        string // "" makes one with NewID
	Ledger    string
	Head      LedgerRef
	CreatedBy string
	Summary   string // "" makes one from the actions
	Actions   []provider.Action
	Now       time.Time
}

// Make is the dry run: it reads every target server from the provider,
// records what it found, checks each action against the provider's
// catalogue when prov is also a provider.Catalog (see dryrun.go), and
// returns the plan. It changes nothing. A step on a server an earlier step
// acts on is planned against the state that step leaves (Simulate).
func Make(ctx context.Context, prov provider.Provider, req Request) (*Plan, error) {
	if len(req.Actions) == 0 {
		return nil, errors.New("plan: no actions")
	}
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	p := &Plan{V: Version, ID: req.ID, Ledger: req.Ledger, CreatedAt: keys.FormatTime(now), CreatedBy: req.CreatedBy,
		Summary: req.Summary, LedgerHead: req.Head}
	if p.ID == "" {
		p.ID = NewID(req.Actions[0], now)
	}
	var sums []string
	d := newDryRun()
	cat, _ := prov.(provider.Catalog)
	if cat != nil {
		cat = plannedCatalog{cat, d}
	}
	planned := map[string]int{} // server -> index of the last step on it
	locs := map[string]string{} // server -> location
	for i, a := range req.Actions {
		if err := a.Validate(); err != nil {
			return nil, fmt.Errorf("action %d: %w", i, err)
		}
		if t := a.Target(); t.Kind != provider.KindServer {
			// Other kinds: one step per resource (resources.go).
			if d.targets[t] {
				return nil, fmt.Errorf("%w: action %d: %s appears twice (one action per %s per plan)", ErrDryRun, i, t, t.Kind)
			}
			e, exists, err := observe(ctx, prov, t)
			if err != nil {
				return nil, fmt.Errorf("dry run: read %s: %w", t, err)
			}
			if err := d.check(ctx, prov, a, exists); err != nil {
				return nil, err
			}
			p.Actions = append(p.Actions, Step{Action: a, Expect: e})
			sums = append(sums, Describe(a))
			continue
		}
		if j, again := planned[a.Server]; again {
			prev := p.Actions[j]
			if endsIdentity(prev.Action.Op) || a.Op == provider.OpCreate {
				return nil, fmt.Errorf("%w: action %d: server %s appears again after action %d (%s); a create, delete or rename ends a server's steps",
					ErrDryRun, i, a.Server, j, prev.Action.Op)
			}
			e := p.Simulate(prev.Expect, prev.Action)
			s := &provider.Server{ID: e.ServerID, Name: a.Server, Status: e.Status, ServerType: e.ServerType, Labels: e.Labels,
				Location: locs[a.Server]}
			if cat != nil {
				if err := checkAction(ctx, cat, a, s, now); err != nil {
					return nil, err
				}
			}
			if err := d.check(ctx, prov, a, true); err != nil {
				return nil, err
			}
			planned[a.Server] = len(p.Actions)
			p.Actions = append(p.Actions, Step{Action: a, Expect: e})
			sums = append(sums, Describe(a))
			continue
		}
		s, err := prov.Server(ctx, a.Server)
		switch {
		case errors.Is(err, provider.ErrNotFound):
			s = nil
		case err != nil:
			return nil, fmt.Errorf("dry run: read server %s: %w", a.Server, err)
		}
		if a.Op == provider.OpCreate && s != nil {
			return nil, fmt.Errorf("%w: server %s already exists (id %d, %s)", ErrDryRun, a.Server, s.ID, s.Status)
		}
		if a.Op != provider.OpCreate && s == nil {
			return nil, fmt.Errorf("%w: server %s does not exist", ErrDryRun, a.Server)
		}
		if a.Op == provider.OpRename {
			if other, err := prov.Server(ctx, a.NewName); err == nil {
				return nil, fmt.Errorf("%w: server name %s is taken (id %d)", ErrDryRun, a.NewName, other.ID)
			}
		}
		if cat != nil {
			if err := checkAction(ctx, cat, a, s, now); err != nil {
				return nil, err
			}
		}
		if err := d.check(ctx, prov, a, s != nil); err != nil {
			return nil, err
		}
		if s != nil {
			locs[a.Server] = s.Location
		}
		planned[a.Server] = len(p.Actions)
		p.Actions = append(p.Actions, Step{Action: a, Expect: ExpectOf(s)})
		sums = append(sums, Describe(a))
	}
	if p.Summary == "" {
		p.Summary = strings.Join(sums, "; ")
		if len([]rune(p.Summary)) > receipt.MaxSummary {
			p.Summary = string([]rune(p.Summary)[:receipt.MaxSummary-1]) + "…"
		}
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

// Describe renders an action in one line.
func Describe(a provider.Action) string {
	if a.Kind != provider.KindServer || slices.Contains(extServerOps, a.Op) {
		return describeExt(a)
	}
	switch a.Op {
	case provider.OpCreate:
		loc := a.Location
		if loc == "" {
			loc = "any location"
		}
		return fmt.Sprintf("create %s (%s, %s, %s)", a.Server, a.ServerType, a.Image, loc)
	case provider.OpResize:
		return fmt.Sprintf("resize %s to %s", a.Server, a.ServerType)
	case provider.OpRebuild:
		return fmt.Sprintf("rebuild %s from %s", a.Server, a.Image)
	case provider.OpRename:
		return fmt.Sprintf("rename %s to %s", a.Server, a.NewName)
	case provider.OpLabel:
		return fmt.Sprintf("set labels of %s to %s", a.Server, formatLabels(a.Labels))
	case provider.OpProtect:
		var parts []string
		if a.Delete != nil {
			parts = append(parts, fmt.Sprintf("delete=%t", *a.Delete))
		}
		if a.Rebuild != nil {
			parts = append(parts, fmt.Sprintf("rebuild=%t", *a.Rebuild))
		}
		return fmt.Sprintf("protect %s (%s)", a.Server, strings.Join(parts, ", "))
	}
	return fmt.Sprintf("%s %s", a.Op, a.Server)
}

func formatLabels(l map[string]string) string {
	if len(l) == 0 {
		return "{}"
	}
	ks := slices.Sorted(maps.Keys(l))
	parts := make([]string, len(ks))
	for i, k := range ks {
		parts[i] = k + "=" + l[k]
	}
	return strings.Join(parts, ",")
}
