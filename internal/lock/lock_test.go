package lock

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestExclusive: contenders never hold one lock at the same time. A lock
// file seen between its creation and its content once looked damaged, hence
// stale, and was broken by a second contender.
func TestExclusive(t *testing.T) {
	dir := t.TempDir()
	var holders, maxHolders, wins atomic.Int32
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := New(dir)
			for i := 0; i < 60; i++ {
				a, err := l.Acquire("web-1", "t", "p", false)
				var he *HeldError
				if errors.As(err, &he) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				if a.Broke != nil {
					t.Errorf("broke a live lock: %+v", a.Broke)
				}
				n := holders.Add(1)
				if n > maxHolders.Load() {
					maxHolders.Store(n)
				}
				wins.Add(1)
				holders.Add(-1)
				if err := l.Release("web-1", false); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if maxHolders.Load() > 1 || wins.Load() == 0 {
		t.Fatalf("max holders %d, wins %d", maxHolders.Load(), wins.Load())
	}
}

func TestStaleAndForce(t *testing.T) {
	dir := t.TempDir()
	l := New(dir)
	now := time.Now()
	l.Now = func() time.Time { return now }
	if _, err := l.Acquire("web-1", "alice", "p1", false); err != nil {
		t.Fatal(err)
	}
	other := New(dir)
	other.PID = l.PID + 1
	other.Host = "elsewhere" // another machine: only the lock's age can make it stale
	other.Now = l.Now
	// Held by a live process: refused, then broken with force.
	if _, err := other.Acquire("web-1", "bob", "p2", false); !errors.As(err, new(*HeldError)) {
		t.Fatalf("live lock: %v", err)
	}
	a, err := other.Acquire("web-1", "bob", "p2", true)
	if err != nil || a.Broke == nil || a.Stale || a.Broke.Holder != "alice" {
		t.Fatalf("force: %+v %v", a, err)
	}
	// Too old: stale, taken over without force.
	now = now.Add(MaxAge + time.Minute)
	a, err = l.Acquire("web-1", "alice", "p3", false)
	if err != nil || a.Broke == nil || !a.Stale {
		t.Fatalf("old lock: %+v %v", a, err)
	}
	// A damaged lock file counts by its age.
	p := filepath.Join(dir, "web-2.lock")
	os.WriteFile(p, []byte("{"), 0o644)
	now = time.Now()
	if _, err := l.Acquire("web-2", "alice", "p4", false); !errors.As(err, new(*HeldError)) {
		t.Fatalf("fresh damaged lock: %v", err)
	}
	os.Chtimes(p, now.Add(-2*MaxAge), now.Add(-2*MaxAge))
	if a, err := l.Acquire("web-2", "alice", "p4", false); err != nil || !a.Stale {
		t.Fatalf("old damaged lock: %+v %v", a, err)
	}
	// Names that are not file names.
	for _, bad := range []string{"", ".", "..", "a/b", "../x", "a\x00b"} {
		if _, err := l.Acquire(bad, "alice", "p", false); err == nil {
			t.Errorf("Acquire(%q) accepted", bad)
		}
	}
	ls, err := l.List()
	if err != nil || len(ls) != 2 {
		t.Fatalf("List: %+v %v", ls, err)
	}
}

// TestLiveHolderKeepsOldLock: on the same host a live process keeps its lock
// however long it has held it; only a dead one's lock is stale.
func TestLiveHolderKeepsOldLock(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	l := New(dir)
	l.Now = func() time.Time { return now }
	if _, err := l.Acquire("web-1", "alice", "p1", false); err != nil {
		t.Fatal(err)
	}
	now = now.Add(3 * MaxAge)
	other := New(dir)
	other.PID = os.Getppid() // alive (the test's parent), not ours
	other.Now = l.Now
	if _, err := other.Acquire("web-1", "bob", "p2", false); !errors.As(err, new(*HeldError)) {
		t.Fatalf("a live holder's old lock was taken: %v", err)
	}
	dead := Info{Host: l.Host, PID: 1 << 22, Time: now} // no such pid
	if !l.Stale(dead) {
		t.Fatal("a dead holder's lock is not stale")
	}
}
