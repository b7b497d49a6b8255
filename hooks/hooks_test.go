package hooks

import (
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

const (
	a = "1111111111111111111111111111111111111111"
	b = "2222222222222222222222222222222222222222"
	z = "0000000000000000000000000000000000000000"
)

func TestParseUpdates(t *testing.T) {
	ups, err := ParseUpdates(strings.NewReader(a + " " + b + " refs/heads/vmc/ledger\n\n" + z + " " + a + " refs/tags/vmc/merkle/5\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ups) != 2 || ups[0].Old != plumbing.NewHash(a) || ups[0].New != plumbing.NewHash(b) || !ups[1].Old.IsZero() || ups[1].Ref != "refs/tags/vmc/merkle/5" {
		t.Fatalf("%+v", ups)
	}
	// pre-push lines: <local ref> <local id> <remote ref> <remote id>
	pp, err := ParsePrePush(strings.NewReader("refs/heads/x " + b + " refs/heads/vmc/ledger " + a + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(pp) != 1 || pp[0].Old != plumbing.NewHash(a) || pp[0].New != plumbing.NewHash(b) || pp[0].Ref != "refs/heads/vmc/ledger" {
		t.Fatalf("%+v", pp)
	}
	for name, in := range map[string]string{
		"two fields":  a + " " + b,
		"four fields": a + " " + b + " r x",
		"short id":    a[:39] + " " + b + " r",
		"upper hex":   strings.ToUpper("abcdef"+a[6:]) + " " + b + " r",
		"not hex":     "g" + a[1:] + " " + b + " r",
	} {
		if _, err := ParseUpdates(strings.NewReader(in)); err == nil {
			t.Errorf("%s: accepted %q", name, in)
		}
	}
	if _, err := ParsePrePush(strings.NewReader(a + " " + b + " r")); err == nil {
		t.Error("pre-push: three fields accepted")
	}
}

func TestSnapshotTagSize(t *testing.T) {
	for in, want := range map[string]uint64{"1": 1, "120": 120, "100000": 100000} {
		if n, err := parseSize(in); err != nil || n != want {
			t.Errorf("%s: %d %v", in, n, err)
		}
	}
	for _, in := range []string{"", "0120", "-1", "1e3", "12a", " 1"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestLockRefs(t *testing.T) {
	ok := []Update{
		{Old: plumbing.ZeroHash, New: plumbing.NewHash(a), Ref: LockRefPrefix + "web-1"},
		{Old: plumbing.NewHash(a), New: plumbing.ZeroHash, Ref: LockRefPrefix + "web-1"},
		{Old: plumbing.NewHash(a), New: plumbing.NewHash(b), Ref: LockRefPrefix + "web-1"}, // heartbeat
	}
	for _, u := range ok {
		if err := checkLock(u); err != nil {
			t.Errorf("%+v: %v", u, err)
		}
	}
	bad := map[string]Update{
		"bad name":    {New: plumbing.NewHash(a), Ref: LockRefPrefix + "Web_1"},
		"path trick":  {New: plumbing.NewHash(a), Ref: LockRefPrefix + "a/../b"},
		"lock suffix": {New: plumbing.NewHash(a), Ref: LockRefPrefix + "web.lock"},
	}
	for name, u := range bad {
		if err := checkLock(u); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestRefusalLine(t *testing.T) {
	r := Refusal{Ref: "refs/heads/vmc/ledger", Err: errString("receipt 3: boom")}
	if got, want := r.String(), "vmc-git: refused refs/heads/vmc/ledger: receipt 3: boom"; got != want {
		t.Fatalf("%q want %q", got, want)
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func TestIntentRefs(t *testing.T) {
	ok := []Update{
		{New: plumbing.NewHash(a), Ref: IntentRefPrefix + "web-1-create"},
		{Old: plumbing.NewHash(a), Ref: IntentRefPrefix + "web-1-create"},
	}
	for _, u := range ok {
		if err := checkIntent(u); err != nil {
			t.Errorf("%+v: %v", u, err)
		}
	}
	for name, u := range map[string]Update{
		"overwrite":  {Old: plumbing.NewHash(a), New: plumbing.NewHash(b), Ref: IntentRefPrefix + "p1"},
		"bad id":     {New: plumbing.NewHash(a), Ref: IntentRefPrefix + "P1"},
		"path trick": {New: plumbing.NewHash(a), Ref: IntentRefPrefix + "a/../b"},
	} {
		if err := checkIntent(u); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
