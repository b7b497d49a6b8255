package remoteref

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/keys"
)

const ledger = "example.com/infra"

func fixture(t testing.TB) (*keys.Signer, *keys.Signer, *keys.Trust) {
	t.Helper()
	dir := t.TempDir()
	var ss []*keys.Signer
	var specs []keys.KeySpec
	for _, k := range []struct {
		kid   string
		roles []keys.Role
	}{{"ci", []keys.Role{keys.RoleAdmin, keys.RoleApplier}}, {"bob", []keys.Role{keys.RoleApprover}}} {
		priv, pub, err := keys.Generate(k.kid)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, k.kid)
		if err := keys.WriteKeyPair(p, priv, pub); err != nil {
			t.Fatal(err)
		}
		s, err := keys.LoadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		ss = append(ss, s)
		specs = append(specs, keys.KeySpec{KID: k.kid, PublicKey: keys.FormatPublicKey(s.PublicKey()), Roles: k.roles})
	}
	tr, err := keys.NewTrust(specs, keys.Policy{ApprovalsRequired: 1, AdminThreshold: 1}, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return ss[0], ss[1], tr
}

func TestLockRoundTripAndRefusals(t *testing.T) {
	ci, bob, tr := fixture(t)
	now := time.Now()
	l := Lock{Ledger: ledger, Server: "web-1", Plan: "p", Holder: "ci", Host: "h", PID: 7, Time: now, Nonce: "00", KID: "ci"}
	b, err := l.Encode(ci)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseLock(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := got.Verify(tr, ledger, now); err != nil {
		t.Fatal(err)
	}
	if got.Stale(now, DefaultStale) || !got.Stale(now.Add(DefaultStale), DefaultStale) {
		t.Fatal("staleness")
	}
	again, _ := got.Encode(ci)
	if _, err := ParseLock(again); err != nil {
		t.Fatal(err)
	}
	// Each refusal with its own message.
	byBob := l
	byBob.KID = "bob"
	bb, _ := byBob.Encode(bob)
	pb, _ := ParseLock(bb)
	future := l
	future.Time = now.Add(time.Hour)
	fb, _ := future.Encode(ci)
	pf, _ := ParseLock(fb)
	edited := bytes.Replace(b, []byte(`"plan":"p"`), []byte(`"plan":"q"`), 1)
	pe, _ := ParseLock(edited)
	for name, c := range map[string]struct {
		err  error
		want string
	}{
		"approver's lock":  {pb.Verify(tr, ledger, now), "signer: key bob"},
		"dated ahead":      {pf.Verify(tr, ledger, now), "in the future"},
		"edited after":     {pe.Verify(tr, ledger, now), "does not verify"},
		"other ledger":     {got.Verify(tr, "example.com/other", now), "for ledger"},
		"not canonical":    {errOf(ParseLock(append([]byte(" "), b...))), "not in canonical JSON form"},
		"unsigned":         {errOf(ParseLock([]byte(`{"holder":"","host":"","kid":"ci","ledger":"","nonce":"","pid":0,"plan":"","server":"x","time":"2026-12-01T00:00:00Z","v":1}`))), "unsigned"},
		"too large":        {errOf(ParseLock(make([]byte, MaxLockSize+1))), "more than the limit"},
		"unknown field":    {errOf(ParseLock([]byte(`{"evil":1,"v":1}`))), "unknown field"},
		"version":          {errOf(ParseLock([]byte(`{"v":2}`))), "version 2"},
		"future stale too": {boolErr(pf.Stale(now, DefaultStale)), ""},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, c.err, c.want)
		}
	}
}

func errOf[T any](_ T, err error) error { return err }

func boolErr(b bool) error {
	if b {
		return errors.New("")
	}
	return nil
}

func TestIntentRoundTripAndRefusals(t *testing.T) {
	ci, bob, tr := fixture(t)
	now := time.Now()
	plan := []byte(`{"plan":"bytes"}`)
	in := Intent{Ledger: ledger, Plan: "web-1-create", PlanBlake3: digest.Of(plan).Blake3, Head: Head{Seq: 3}, KID: "ci", CreatedAt: now, Journal: []byte(`{"x":1}`)}
	b, err := in.Encode(ci)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseIntent(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := got.Verify(tr, ledger, "web-1-create", plan, now); err != nil {
		t.Fatal(err)
	}
	// The journal is not signed: editing it keeps the signature (only the
	// plan bytes in it are used, and they must hash to plan_blake3).
	j := *got
	j.Journal = []byte(`{"y":2}`)
	if err := j.Verify(tr, ledger, "web-1-create", nil, now); err != nil {
		t.Fatal(err)
	}
	byBob := in
	byBob.KID = "bob"
	bb, _ := byBob.Encode(bob)
	pb, _ := ParseIntent(bb)
	for name, c := range map[string]struct {
		err  error
		want string
	}{
		"approver's intent": {pb.Verify(tr, ledger, "web-1-create", plan, now), "signer: key bob"},
		"other plan":        {got.Verify(tr, ledger, "web-2-create", plan, now), `for plan "web-1-create", not "web-2-create"`},
		"other plan bytes":  {got.Verify(tr, ledger, "web-1-create", []byte("{}"), now), "do not hash to the signed plan_blake3"},
		"dated ahead":       {got.Verify(tr, ledger, "web-1-create", plan, now.Add(-time.Hour)), "in the future"},
		"too large":         {errOf(ParseIntent(make([]byte, MaxIntentSize+1))), "more than the limit"},
		"garbage":           {errOf(ParseIntent([]byte("garbage"))), "intent: json:"},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, c.err, c.want)
		}
	}
	if err := pb.Verify(tr, ledger, "web-1-create", plan, now); !errors.Is(err, ErrForeign) {
		t.Errorf("an approver's intent is not ErrForeign: %v", err)
	}
}

// FuzzParseLock and FuzzParseIntent: any bytes either parse into a value
// that encodes back to the same bytes (one encoding) or are refused; never
// a panic, and never a signature that verifies for a key that did not sign.
func FuzzParseLock(f *testing.F) {
	ci, _, tr := fixture(f)
	b, _ := Lock{Ledger: ledger, Server: "web-1", Plan: "p", Holder: "ci", Host: "h", PID: 7, Time: time.Unix(1764576000, 0), Nonce: "00", KID: "ci"}.Encode(ci)
	f.Add(b)
	f.Add([]byte(`{"v":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ParseLock(b)
		if err != nil {
			return
		}
		l.Verify(tr, ledger, time.Unix(1764576000, 0))
		l.Stale(time.Now(), DefaultStale)
	})
}

func FuzzParseIntent(f *testing.F) {
	ci, _, tr := fixture(f)
	b, _ := Intent{Ledger: ledger, Plan: "web-1-create", Head: Head{Seq: 3}, KID: "ci", CreatedAt: time.Unix(1764576000, 0), Journal: []byte(`{}`)}.Encode(ci)
	f.Add(b)
	f.Add([]byte(`{"v":1,"plan":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := ParseIntent(b)
		if err != nil {
			return
		}
		in.Verify(tr, ledger, in.Plan, nil, time.Unix(1764576000, 0))
	})
}
