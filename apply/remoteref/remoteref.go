// Package remoteref is the format of the refs an applier publishes on the
// shared git remote, and the rules for reading them: every byte under
// refs/vmc/ may come from someone who can push but holds no key, so each
// ref is bounded, parsed strictly and signed by an applier.
//
// # Refs
//
//	refs/vmc/locks/<server>   a Lock: which applier holds the server, for which plan
//	refs/vmc/intents/<plan>   an Intent: an applier is about to call the provider for plan
//
// Nothing else lives under refs/vmc/ (the pre-receive hook refuses it). Each
// ref points at a blob of canonical JSON (at most MaxLockSize or
// MaxIntentSize bytes) with a "sig" member: an armored SSHSIG by the key
// "kid" names, in namespace NamespaceLock or NamespaceIntent, over the
// canonical JSON of the same object without "sig" (for an intent, without
// "journal" as well). The key must hold the applier role in the ledger's
// trust state at its head.
//
// Example lock (one line in the blob):
//
//	{"holder":"ci","host":"runner-7","kid":"ci","ledger":"github.com/acme/infra",
//	 "nonce":"9f2c…","pid":4242,"plan":"web-1-create","server":"web-1",
//	 "sig":"-----BEGIN SSH SIGNATURE-----\n…","time":"2026-12-01T09:00:00.123Z","v":1}
//
// An intent signs the plan id, the plan's BLAKE3, the ledger head the
// applier saw and when; "journal" carries the applier's journal (package
// apply), which a recovering run trusts for nothing but the plan bytes (that
// must hash to plan_blake3 and equal the plan merged on main) and the
// approvals (checked again).
//
// # Times
//
// A lock or intent dated more than MaxSkew after the reader's clock is
// refused by the hook and treated as stale by apply; a lock pushed (created
// or refreshed) must be newer than the one it replaces and dated within
// LockFresh of the hook's clock, so an old signed lock cannot be replayed.
package remoteref

import (
	"errors"
	"fmt"
	"time"

	"github.com/vmc-git/vmc-git/internal/canon"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/keys"
)

// Ref names and limits.
const (
	Namespace    = "refs/vmc/"
	LockPrefix   = Namespace + "locks/"
	IntentPrefix = Namespace + "intents/"

	MaxLockSize   = 4 << 10
	MaxIntentSize = 2 << 20 // the journal holds the plan bytes and its approvals

	NamespaceLock   = "vmc-lock"
	NamespaceIntent = "vmc-intent"

	// Version is the format version of locks and intents.
	Version = 1
	// MaxSkew is how far ahead of the reader's clock a time may be.
	MaxSkew = 5 * time.Minute
	// LockFresh bounds the age of a lock when it is pushed.
	LockFresh = 15 * time.Minute
	// DefaultStale is when a lock no heartbeat refreshed is a dead run's.
	DefaultStale = 10 * time.Minute
)

// Signer signs in a namespace (keys.Signer).
type Signer interface {
	Sign(ns string, msg []byte) ([]byte, error)
}

// Lock is the content of refs/vmc/locks/<server>.
type Lock struct {
	V      int       `json:"v"`
	Ledger string    `json:"ledger"`
	Server string    `json:"server"`
	Plan   string    `json:"plan"`
	Holder string    `json:"holder"`
	Host   string    `json:"host"`
	PID    int       `json:"pid"`
	Time   time.Time `json:"time"`
	Nonce  string    `json:"nonce"`
	KID    string    `json:"kid"`
	Sig    string    `json:"sig,omitempty"`
}

func (l *Lock) message() ([]byte, error) {
	c := *l
	c.Sig = ""
	return canon.Marshal(&c)
}

// Encode signs l with s and returns the blob.
func (l Lock) Encode(s Signer) ([]byte, error) {
	l.V, l.Sig, l.Time = Version, "", l.Time.UTC()
	if err := l.validate(); err != nil {
		return nil, err
	}
	msg, err := l.message()
	if err != nil {
		return nil, err
	}
	sig, err := s.Sign(NamespaceLock, msg)
	if err != nil {
		return nil, err
	}
	l.Sig = string(sig)
	return canon.Marshal(&l)
}

func (l *Lock) validate() error {
	switch {
	case l.V != Version:
		return fmt.Errorf("lock: version %d, want %d", l.V, Version)
	case l.Server == "" || len(l.Server) > 64:
		return errors.New("lock: no server, or a name longer than 64")
	case len(l.Plan) > 128 || len(l.Holder) > 128 || len(l.Host) > 255 || len(l.Nonce) > 64 || len(l.Ledger) > 255:
		return errors.New("lock: a field is too long")
	case l.Time.IsZero():
		return errors.New("lock: no time")
	}
	return keys.ValidKID(l.KID)
}

// ParseLock decodes a lock blob strictly (size, canonical form, fields).
func ParseLock(b []byte) (*Lock, error) {
	if len(b) > MaxLockSize {
		return nil, fmt.Errorf("lock: %d bytes, more than the limit of %d", len(b), MaxLockSize)
	}
	var l Lock
	if err := canon.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if err := l.validate(); err != nil {
		return nil, err
	}
	if l.Sig == "" {
		return nil, errors.New("lock: unsigned")
	}
	return &l, nil
}

// Verify checks that an applier trusted in t signed the lock for ledger, and
// that it is not dated beyond now plus MaxSkew.
func (l *Lock) Verify(t *keys.Trust, ledger string, now time.Time) error {
	if l.Ledger != ledger {
		return fmt.Errorf("lock: for ledger %q, not %q", l.Ledger, ledger)
	}
	if l.Time.After(now.Add(MaxSkew)) {
		return fmt.Errorf("lock: dated %s, in the future", l.Time.UTC().Format(time.RFC3339))
	}
	msg, err := l.message()
	if err != nil {
		return err
	}
	return verifyBy(t, l.KID, NamespaceLock, msg, l.Sig, now)
}

// Stale reports whether a lock is a dead run's: older than maxAge, or dated
// beyond now plus MaxSkew (a clock that far ahead is no live holder's).
func (l *Lock) Stale(now time.Time, maxAge time.Duration) bool {
	return now.Sub(l.Time) >= maxAge || l.Time.After(now.Add(MaxSkew))
}

func verifyBy(t *keys.Trust, kid, ns string, msg []byte, sig string, now time.Time) error {
	e, err := t.Authorize(kid, nil, now, keys.RoleApplier)
	if err != nil {
		return fmt.Errorf("signer: %w", err)
	}
	if err := keys.Verify(e.Pub, ns, msg, []byte(sig)); err != nil {
		return fmt.Errorf("signed by %s: %w", kid, err)
	}
	return nil
}

// Head names the ledger head an intent was written against.
type Head struct {
	Seq    uint64        `json:"seq"`
	Blake3 digest.Digest `json:"blake3"`
}

// Intent is the content of refs/vmc/intents/<plan>.
type Intent struct {
	V          int           `json:"v"`
	Ledger     string        `json:"ledger"`
	Plan       string        `json:"plan"`
	PlanBlake3 digest.Digest `json:"plan_blake3"`
	Head       Head          `json:"head"`
	KID        string        `json:"kid"`
	CreatedAt  time.Time     `json:"created_at"`
	Journal    []byte        `json:"journal,omitempty"` // not signed; see the package doc
	Sig        string        `json:"sig,omitempty"`
}

func (in *Intent) message() ([]byte, error) {
	c := *in
	c.Sig, c.Journal = "", nil
	return canon.Marshal(&c)
}

func (in *Intent) validate() error {
	switch {
	case in.V != Version:
		return fmt.Errorf("intent: version %d, want %d", in.V, Version)
	case in.Plan == "" || len(in.Plan) > 128 || len(in.Ledger) > 255:
		return errors.New("intent: no plan, or a field too long")
	case in.CreatedAt.IsZero():
		return errors.New("intent: no time")
	}
	return keys.ValidKID(in.KID)
}

// Encode signs in with s and returns the blob.
func (in Intent) Encode(s Signer) ([]byte, error) {
	in.V, in.Sig, in.CreatedAt = Version, "", in.CreatedAt.UTC()
	if err := in.validate(); err != nil {
		return nil, err
	}
	msg, err := in.message()
	if err != nil {
		return nil, err
	}
	sig, err := s.Sign(NamespaceIntent, msg)
	if err != nil {
		return nil, err
	}
	in.Sig = string(sig)
	b, err := canon.Marshal(&in)
	if err != nil {
		return nil, err
	}
	if len(b) > MaxIntentSize {
		return nil, fmt.Errorf("intent: %d bytes, more than the limit of %d", len(b), MaxIntentSize)
	}
	return b, nil
}

// ParseIntent decodes an intent blob strictly (size, canonical form, fields).
func ParseIntent(b []byte) (*Intent, error) {
	if len(b) > MaxIntentSize {
		return nil, fmt.Errorf("intent: %d bytes, more than the limit of %d", len(b), MaxIntentSize)
	}
	var in Intent
	if err := canon.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("intent: %w", err)
	}
	if err := in.validate(); err != nil {
		return nil, err
	}
	if in.Sig == "" {
		return nil, errors.New("intent: unsigned")
	}
	return &in, nil
}

// ErrForeign marks an intent or lock no trusted applier wrote.
var ErrForeign = errors.New("not written by an applier trusted at the ledger head")

// Verify checks that an applier trusted in t signed the intent for ledger
// and plan, that it is not dated beyond now plus MaxSkew, and that the
// journal's plan bytes hash to plan_blake3 (planBytes; nil skips this).
func (in *Intent) Verify(t *keys.Trust, ledger, plan string, planBytes []byte, now time.Time) error {
	switch {
	case in.Ledger != ledger:
		return fmt.Errorf("intent: for ledger %q, not %q: %w", in.Ledger, ledger, ErrForeign)
	case in.Plan != plan:
		return fmt.Errorf("intent: for plan %q, not %q: %w", in.Plan, plan, ErrForeign)
	case in.CreatedAt.After(now.Add(MaxSkew)):
		return fmt.Errorf("intent: dated %s, in the future", in.CreatedAt.UTC().Format(time.RFC3339))
	case planBytes != nil && digest.Of(planBytes).Blake3 != in.PlanBlake3:
		return fmt.Errorf("intent: its plan bytes do not hash to the signed plan_blake3: %w", ErrForeign)
	}
	msg, err := in.message()
	if err != nil {
		return err
	}
	if err := verifyBy(t, in.KID, NamespaceIntent, msg, in.Sig, now); err != nil {
		return fmt.Errorf("intent: %w: %w", ErrForeign, err)
	}
	return nil
}
