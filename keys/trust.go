package keys

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// Role is what a trusted key may sign.
type Role string

// Roles. A key may hold several (a single operator holds all three).
const (
	RoleAdmin    Role = "admin"    // changes trust, with admin_threshold signatures
	RoleApprover Role = "approver" // signs plan approvals
	RoleApplier  Role = "applier"  // signs apply (and other machine-written) receipts
)

// ValidRole reports whether r is a known role.
func ValidRole(r Role) bool { return r == RoleAdmin || r == RoleApprover || r == RoleApplier }

// TimeLayout is the form of every time in receipts: RFC 3339, UTC, seconds.
const TimeLayout = "2006-01-02T15:04:05Z"

// KeySpec is one trusted key as genesis and keys receipts write it.
type KeySpec struct {
	KID         string `json:"kid"`
	PublicKey   string `json:"public_key"` // "ssh-ed25519 AAAA…", no comment
	Roles       []Role `json:"roles"`
	ValidAfter  string `json:"valid_after,omitempty"`  // TimeLayout; empty: from when it was added
	ValidBefore string `json:"valid_before,omitempty"` // TimeLayout; empty: open
}

// Policy holds the ledger's thresholds and its witness policy (see
// WitnessSpec: the witnesses that cosign snapshot checkpoints, and how many
// cosignatures a snapshot needs; none by default).
type Policy struct {
	ApprovalsRequired int `json:"approvals_required"` // distinct approver signatures a plan needs
	AdminThreshold    int `json:"admin_threshold"`    // distinct admin signatures a trust change needs
	// Provider pins the provider apply talks to (.vmc/config.json's
	// "provider" must agree; it changes only by an admin-signed keys
	// receipt, op "provider"). Empty in ledgers made before it was pinned:
	// then the hook keeps the main branch's value from changing instead.
	Provider string `json:"provider,omitempty"`
	// PolicyBundle pins the policy bundle apply judges plans with: the
	// bundle's blake3 (package policy, Bundle.Blake3, lower-case hex), or
	// PolicyBundleNone for a ledger that runs no policy. It changes only by
	// an admin-signed keys receipt, op policy_bundle; apply honours the
	// main branch's policy/*.rego only when their digest is the pin, and
	// verify chain refuses an apply receipt that records another bundle.
	// Empty in ledgers made before policy was pinned: apply then judges no
	// plan until an admin pins one (vmc-git policy pin).
	PolicyBundle     string        `json:"policy_bundle,omitempty"`
	WitnessThreshold int           `json:"witness_threshold,omitempty"` // distinct witness cosignatures a snapshot tag needs
	Witnesses        []WitnessSpec `json:"witnesses,omitempty"`         // in the order added
}

// MaxKeys bounds the keys a trust state holds over its life (every key
// ever trusted, ended ones included), so that trust files stay small.
const MaxKeys = 1024

// ValidProvider checks a provider name: 1-32 of a-z 0-9 -.
func ValidProvider(p string) error {
	if p == "" || len(p) > 32 || strings.Trim(p, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
		return fmt.Errorf("invalid provider %q: want 1-32 of a-z 0-9 -", p)
	}
	return nil
}

// PolicyBundleNone is the PolicyBundle pin of a ledger without policy:
// apply records policy result none, and only while the main branch holds
// no policy/*.rego.
const PolicyBundleNone = "none"

// ValidPolicyBundle checks a PolicyBundle pin: PolicyBundleNone or 64
// lower-case hex digits.
func ValidPolicyBundle(s string) error {
	if s == PolicyBundleNone {
		return nil
	}
	if len(s) != 64 || strings.Trim(s, "0123456789abcdef") != "" {
		return fmt.Errorf("invalid policy bundle pin %q: want %s or a blake3 of 64 lower-case hex digits", clip(s), PolicyBundleNone)
	}
	return nil
}

// Key states.
const (
	StatusActive  = "active"
	StatusRevoked = "revoked"
	StatusRotated = "rotated"
	StatusExpired = "expired"
)

// Entry is a key in the trust state, with its history.
type Entry struct {
	KeySpec
	Pub       ssh.PublicKey
	AddedSeq  uint64
	EndedSeq  uint64 // seq of the receipt that revoked or rotated it; 0 while active
	Status    string // StatusActive, StatusRevoked or StatusRotated
	Reason    string // for revoked keys: compromised or retired
	notBefore time.Time
	notAfter  time.Time // zero: open
}

// Trust is the trust state after some receipt: every key ever trusted, by
// kid (current binding) and in the order added (for allowed_signers).
//
// It is built from the genesis receipt with NewTrust and then changed only by
// keys receipts, replayed in seq order. A Trust value is not safe for
// concurrent mutation; Clone it to keep a snapshot.
type Trust struct {
	Policy
	current map[string]*Entry
	all     []*Entry
	changed uint64 // seq of the keys receipt that made this state; 0 at genesis
}

// NewTrust validates genesis keys and policy and returns the trust state at
// seq 0. createdAt is the genesis time: keys without valid_after start there.
func NewTrust(specs []KeySpec, p Policy, createdAt time.Time) (*Trust, error) {
	if len(specs) == 0 {
		return nil, fmt.Errorf("genesis: no keys")
	}
	t := &Trust{Policy: p, current: map[string]*Entry{}}
	for _, s := range specs {
		if err := t.Add(s, 0, createdAt); err != nil {
			return nil, fmt.Errorf("genesis: %w", err)
		}
	}
	if err := t.CheckPolicy(); err != nil {
		return nil, fmt.Errorf("genesis: %w", err)
	}
	return t, nil
}

// CheckPolicy checks the thresholds can be met by the active keys.
func (t *Trust) CheckPolicy() error {
	if t.Provider != "" {
		if err := ValidProvider(t.Provider); err != nil {
			return err
		}
	}
	if t.PolicyBundle != "" {
		if err := ValidPolicyBundle(t.PolicyBundle); err != nil {
			return err
		}
	}
	admins, approvers := len(t.withRole(RoleAdmin)), len(t.withRole(RoleApprover))
	switch {
	case t.AdminThreshold < 1:
		return fmt.Errorf("admin_threshold %d: want at least 1", t.AdminThreshold)
	case t.AdminThreshold > admins:
		return fmt.Errorf("admin_threshold %d but only %d admin keys", t.AdminThreshold, admins)
	case t.ApprovalsRequired < 1:
		return fmt.Errorf("approvals_required %d: want at least 1", t.ApprovalsRequired)
	case t.ApprovalsRequired > approvers:
		return fmt.Errorf("approvals_required %d but only %d approver keys", t.ApprovalsRequired, approvers)
	}
	return t.checkWitnessPolicy()
}

func (t *Trust) withRole(r Role) []*Entry {
	var out []*Entry
	for _, e := range t.current {
		if e.Status == StatusActive && slices.Contains(e.Roles, r) {
			out = append(out, e)
		}
	}
	return out
}

// Add trusts a new key from receipt seq made at time at.
func (t *Trust) Add(s KeySpec, seq uint64, at time.Time) error {
	if err := ValidKID(s.KID); err != nil {
		return err
	}
	if len(t.all) >= MaxKeys {
		return fmt.Errorf("trust state: more than %d keys (ever trusted)", MaxKeys)
	}
	if e, ok := t.current[s.KID]; ok && e.Status == StatusActive {
		return fmt.Errorf("key id %s is already bound to key %s", s.KID, Fingerprint(e.Pub))
	}
	pub, _, err := ParsePublicKey([]byte(s.PublicKey))
	if err != nil {
		return fmt.Errorf("key %s: %w", s.KID, err)
	}
	if FormatPublicKey(pub) != s.PublicKey {
		return fmt.Errorf("key %s: public_key must be %q exactly (no comment, one space)", s.KID, FormatPublicKey(pub))
	}
	for _, e := range t.current {
		if e.Status == StatusActive && bytes.Equal(e.Pub.Marshal(), pub.Marshal()) {
			return fmt.Errorf("key %s: the same public key is already trusted as %s", s.KID, e.KID)
		}
	}
	if len(s.Roles) == 0 {
		return fmt.Errorf("key %s: no roles", s.KID)
	}
	for i, r := range s.Roles {
		if !ValidRole(r) {
			return fmt.Errorf("key %s: unknown role %q (want admin, approver or applier)", s.KID, r)
		}
		if i > 0 && s.Roles[i-1] >= r {
			return fmt.Errorf("key %s: roles must be sorted and unique", s.KID)
		}
	}
	e := &Entry{KeySpec: s, Pub: pub, AddedSeq: seq, Status: StatusActive, notBefore: at}
	if s.ValidAfter != "" {
		if e.notBefore, err = ParseTime(s.ValidAfter); err != nil {
			return fmt.Errorf("key %s: valid_after: %w", s.KID, err)
		}
	}
	if s.ValidBefore != "" {
		if e.notAfter, err = ParseTime(s.ValidBefore); err != nil {
			return fmt.Errorf("key %s: valid_before: %w", s.KID, err)
		}
		// allowed_signers writes valid-before as end-1s (OpenSSH's bound is
		// inclusive) and needs it after valid-after: keep 2 s at least.
		if e.notAfter.Sub(e.notBefore) < 2*time.Second {
			return fmt.Errorf("key %s: valid_before must be at least 2 s after valid_after", s.KID)
		}
	}
	t.current[s.KID] = e
	t.all = append(t.all, e)
	return nil
}

// End marks kid as no longer trusted from receipt seq on, with status
// StatusRevoked or StatusRotated: it may sign before at, not at or after
// (its allowed_signers line gets valid-before one second before at, as
// OpenSSH's bound is inclusive), so that stock git rejects later signatures.
func (t *Trust) End(kid string, status, reason string, seq uint64, at time.Time) error {
	e, ok := t.current[kid]
	if !ok || e.Status != StatusActive {
		return fmt.Errorf("key %s is not trusted", kid)
	}
	e.Status, e.Reason, e.EndedSeq = status, reason, seq
	if e.notAfter.IsZero() || at.Before(e.notAfter) {
		e.notAfter = at
	}
	return nil
}

// Key returns the current binding of kid, or nil.
func (t *Trust) Key(kid string) *Entry { return t.current[kid] }

// Keys returns every key ever trusted, oldest first.
func (t *Trust) Keys() []*Entry { return slices.Clone(t.all) }

// RoleError says a key is not allowed to sign what it signed.
type RoleError struct {
	KID    string
	Reason string
}

func (e *RoleError) Error() string { return fmt.Sprintf("key %s %s", e.KID, e.Reason) }

// Authorize checks that kid is bound to pub, is active, holds one of roles
// and is valid at time at (a signed object's own claimed time: checked for
// agreement with allowed_signers, but trust follows seq order).
func (t *Trust) Authorize(kid string, pub ssh.PublicKey, at time.Time, roles ...Role) (*Entry, error) {
	e, ok := t.current[kid]
	switch {
	case !ok:
		return nil, &RoleError{kid, "is not trusted"}
	case e.Status != StatusActive:
		return nil, &RoleError{kid, fmt.Sprintf("was %s at receipt %d", e.Status, e.EndedSeq)}
	case pub != nil && !bytes.Equal(e.Pub.Marshal(), pub.Marshal()):
		return nil, &RoleError{kid, fmt.Sprintf("is bound to %s, but the signature is by %s", Fingerprint(e.Pub), Fingerprint(pub))}
	case !slices.ContainsFunc(roles, func(r Role) bool { return slices.Contains(e.Roles, r) }):
		return nil, &RoleError{kid, fmt.Sprintf("has roles %v, needs %s", e.Roles, joinRoles(roles))}
	case at.Before(e.notBefore):
		return nil, &RoleError{kid, fmt.Sprintf("is not valid before %s (signed at %s)", e.notBefore.Format(TimeLayout), at.Format(TimeLayout))}
	case !e.notAfter.IsZero() && !at.Before(e.notAfter):
		return nil, &RoleError{kid, fmt.Sprintf("is not valid after %s (signed at %s)", e.notAfter.Format(TimeLayout), at.Format(TimeLayout))}
	}
	return e, nil
}

func joinRoles(rs []Role) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, " or ")
}

// Clone returns an independent copy.
func (t *Trust) Clone() *Trust {
	c := &Trust{Policy: t.Policy, current: map[string]*Entry{}, changed: t.changed}
	m := map[*Entry]*Entry{}
	for _, e := range t.all {
		cp := *e
		cp.Roles = slices.Clone(e.Roles)
		m[e] = &cp
		c.all = append(c.all, &cp)
	}
	for k, e := range t.current {
		c.current[k] = m[e]
	}
	return c
}

// namespacesFor lists the SSHSIG namespaces a key with roles may sign in.
func namespacesFor(roles []Role) []string {
	set := map[string]bool{}
	for _, r := range roles {
		switch r {
		case RoleAdmin:
			set[NamespaceGit], set[NamespaceReceipt], set[NamespaceKeys], set[NamespaceAnchor] = true, true, true, true
		case RoleApplier:
			set[NamespaceGit], set[NamespaceReceipt], set[NamespaceAnchor] = true, true, true
		case RoleApprover:
			set[NamespacePlan] = true
		}
	}
	out := make([]string, 0, len(set))
	for ns := range set {
		out = append(out, ns)
	}
	sort.Strings(out)
	return out
}

// sshTime is OpenSSH's allowed_signers timestamp form, in UTC.
const sshTime = "20060102150405Z"

// AllowedSigners renders the trust state in OpenSSH allowed_signers syntax,
// one line per key ever trusted (oldest first), with namespaces= from its
// roles and valid-after=/valid-before= from its validity, so that stock git
// and ssh-keygen accept exactly the signatures made while a key was trusted.
//
// OpenSSH treats both bounds as inclusive (a signature made at valid-before
// is accepted), while a key's end here is exclusive (Authorize rejects a
// signature made at ValidUntil). So valid-before is ValidUntil minus one
// second: the last second in which the key may sign.
func (t *Trust) AllowedSigners() []byte {
	var b bytes.Buffer
	b.WriteString("# vmc-git trust state: generated, do not edit\n")
	for _, e := range t.all {
		fmt.Fprintf(&b, "%s namespaces=%q,valid-after=%q", e.KID, strings.Join(namespacesFor(e.Roles), ","), e.notBefore.UTC().Format(sshTime))
		if !e.notAfter.IsZero() {
			fmt.Fprintf(&b, ",valid-before=%q", e.notAfter.Add(-time.Second).UTC().Format(sshTime))
		}
		fmt.Fprintf(&b, " %s\n", e.PublicKey)
	}
	return b.Bytes()
}

// FormatTime renders t in TimeLayout.
func FormatTime(t time.Time) string { return t.UTC().Truncate(time.Second).Format(TimeLayout) }

// ParseTime parses TimeLayout strictly (it must re-format to the same text).
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(TimeLayout, s)
	if err != nil || t.Format(TimeLayout) != s {
		return time.Time{}, fmt.Errorf("time %q: want RFC 3339 UTC like 2026-01-02T15:04:05Z", clip(s))
	}
	return t, nil
}

// trustFile is the JSON form of a trust state (keys/trust.json in the ledger
// tree): canonical, derived, and re-derived by every verifier.
type trustFile struct {
	V       int          `json:"v"`
	Policy  Policy       `json:"policy"`
	Keys    []trustEntry `json:"keys"`
	Changed uint64       `json:"changed_seq,omitempty"` // Trust.Changed
}

type trustEntry struct {
	KeySpec
	AddedSeq uint64 `json:"added_seq"`
	EndedSeq uint64 `json:"ended_seq,omitempty"`
	Status   string `json:"status"`
	Reason   string `json:"reason,omitempty"`
	From     string `json:"from"`
	Until    string `json:"until,omitempty"`
}

// Changed is the seq of the keys receipt that made this trust state (0 at
// genesis), written to keys/trust.json as changed_seq. It makes every trust
// change a new state even when it undoes the one before (pin B, then pin
// the old bundle again), so a co-signed proposal, which names the digest of
// the state it was made for, can never apply twice.
func (t *Trust) Changed() uint64 { return t.changed }

// MarkChanged records that the keys receipt seq made this trust state.
func (t *Trust) MarkChanged(seq uint64) { t.changed = seq }

// MarshalJSON renders the full trust state, oldest key first.
func (t *Trust) MarshalJSON() ([]byte, error) {
	f := trustFile{V: 1, Policy: t.Policy, Keys: []trustEntry{}, Changed: t.changed}
	for _, e := range t.all {
		te := trustEntry{KeySpec: e.KeySpec, AddedSeq: e.AddedSeq, EndedSeq: e.EndedSeq, Status: e.Status, Reason: e.Reason, From: FormatTime(e.notBefore)}
		if !e.notAfter.IsZero() {
			te.Until = FormatTime(e.notAfter)
		}
		f.Keys = append(f.Keys, te)
	}
	return json.Marshal(f)
}

// UnmarshalJSON restores a trust state written by MarshalJSON.
func (t *Trust) UnmarshalJSON(b []byte) error {
	var f trustFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return fmt.Errorf("trust state: %w", err)
	}
	if f.V != 1 {
		return fmt.Errorf("trust state: version %d", f.V)
	}
	nt := Trust{Policy: f.Policy, current: map[string]*Entry{}, changed: f.Changed}
	for _, te := range f.Keys {
		pub, _, err := ParsePublicKey([]byte(te.PublicKey))
		if err != nil {
			return fmt.Errorf("trust state: key %s: %w", te.KID, err)
		}
		e := &Entry{KeySpec: te.KeySpec, Pub: pub, AddedSeq: te.AddedSeq, EndedSeq: te.EndedSeq, Status: te.Status, Reason: te.Reason}
		if e.notBefore, err = ParseTime(te.From); err != nil {
			return fmt.Errorf("trust state: key %s: %w", te.KID, err)
		}
		if te.Until != "" {
			if e.notAfter, err = ParseTime(te.Until); err != nil {
				return fmt.Errorf("trust state: key %s: %w", te.KID, err)
			}
		}
		nt.all = append(nt.all, e)
		nt.current[e.KID] = e
	}
	*t = nt
	return nil
}

// ValidFrom and ValidUntil give a key's effective validity window
// (ValidUntil is zero while open).
func (e *Entry) ValidFrom() time.Time  { return e.notBefore }
func (e *Entry) ValidUntil() time.Time { return e.notAfter }

// CheckApproval is the rule for one plan approval: kid is trusted as
// approver at time at, sig is its SSHSIG (namespace vmc-plan) over plan, and
// its key has not approved already (seen maps key fingerprints to the kid
// that used them; CheckApproval adds to it).
func (t *Trust) CheckApproval(kid string, plan, sig []byte, at time.Time, seen map[string]string) error {
	e, err := t.Authorize(kid, nil, at, RoleApprover)
	if err != nil {
		return fmt.Errorf("approval: %w", err)
	}
	if err := Verify(e.Pub, NamespacePlan, plan, sig); err != nil {
		return fmt.Errorf("approval by %s: %w", kid, err)
	}
	fp := Fingerprint(e.Pub)
	if other, dup := seen[fp]; dup {
		return fmt.Errorf("approvals by %s and %s are the same key", other, kid)
	}
	seen[fp] = kid
	return nil
}
