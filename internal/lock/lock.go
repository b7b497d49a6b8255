// Package lock implements vmc-git's per-server lock files (DESIGN section 5).
//
// A lock is the file <dir>/<server>.lock, created with O_EXCL, holding JSON
// {holder, pid, host, plan, time}. Dir defaults to
// $XDG_CACHE_HOME/vm-cloud/locks (~/.cache/vm-cloud/locks). A lock is stale
// when its process is gone (same host, pid not alive) or it is older than
// MaxAge; a stale lock is taken over. Force breaks a live lock; the caller
// records that in its receipt. Across machines, locks are refs on the remote
// (refs/vmc/locks/<server>, package apply/remoteref); CheckServerName is
// the rule for the server names both use.
package lock

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// MaxAge is how long a lock may be held before it is considered stale.
const MaxAge = time.Hour

// Info is a lock file's content.
type Info struct {
	Server string    `json:"server"`
	Holder string    `json:"holder"`
	PID    int       `json:"pid"`
	Host   string    `json:"host"`
	Plan   string    `json:"plan"`
	Time   time.Time `json:"time"`
}

// HeldError says a live lock is held by someone else.
type HeldError struct{ Info Info }

func (e *HeldError) Error() string {
	return fmt.Sprintf("server %s is locked by %s (pid %d on %s, plan %s, since %s)",
		e.Info.Server, e.Info.Holder, e.Info.PID, e.Info.Host, e.Info.Plan, e.Info.Time.UTC().Format(time.RFC3339))
}

// DefaultDir returns $XDG_CACHE_HOME/vm-cloud/locks or ~/.cache/vm-cloud/locks.
func DefaultDir() string {
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, _ := os.UserHomeDir()
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "vm-cloud", "locks")
}

// Locks is a lock directory.
type Locks struct {
	Dir  string
	Host string
	PID  int
	Now  func() time.Time
}

// New returns the lock directory dir ("" for DefaultDir).
func New(dir string) *Locks {
	if dir == "" {
		dir = DefaultDir()
	}
	host, _ := os.Hostname()
	return &Locks{Dir: dir, Host: host, PID: os.Getpid(), Now: time.Now}
}

func (l *Locks) path(server string) (string, error) {
	if server == "" || strings.ContainsAny(server, "/\\\x00") || server == "." || server == ".." || len(server) > 63 {
		return "", fmt.Errorf("lock: bad server name %q", server)
	}
	return filepath.Join(l.Dir, server+FileSuffix), nil
}

// Stale reports whether a lock's holder is gone or the lock is too old.
func (l *Locks) Stale(i Info) bool {
	if i.Host == l.Host && i.PID > 0 {
		// On this host the process table decides: a live holder keeps its
		// lock however long it runs.
		err := syscall.Kill(i.PID, 0)
		return errors.Is(err, syscall.ESRCH)
	}
	return l.Now().Sub(i.Time) > MaxAge
}

// Acquired describes a lock taken.
type Acquired struct {
	Info
	Broke *Info // the lock that was broken with force or taken over as stale
	Stale bool  // Broke was stale (no force needed)
}

// Acquire takes the lock on server for plan. A stale lock is taken over; a
// live one is broken only with force, else *HeldError.
func (l *Locks) Acquire(server, holder, plan string, force bool) (*Acquired, error) {
	p, err := l.path(server)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(l.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	me := Info{Server: server, Holder: holder, PID: l.PID, Host: l.Host, Plan: plan, Time: l.Now().UTC()}
	// A lock released between our create and our read costs a quick retry
	// (at most 64), not one of the five attempts at breaking a lock. held is
	// the last such lock: when every try saw one, the server was held each
	// time we looked, and saying so is the truth.
	var held *Info
	for breaks, quick := 0, 0; breaks < 5 && quick < 64; breaks++ {
		err := writeExcl(p, me)
		if err == nil {
			return &Acquired{Info: me}, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("lock %s: %w", server, err)
		}
		seen, _ := os.ReadFile(p) // the exact lock judged below
		cur, rerr := read(p)
		if rerr != nil {
			if errors.Is(rerr, os.ErrNotExist) {
				var i Info
				if json.Unmarshal(seen, &i) == nil {
					held = &i
				}
				breaks--
				quick++
				continue // released meanwhile
			}
			// Lock files appear with their content (writeExcl), so this one
			// is damaged. Its age decides whether it is stale.
			cur = Info{Server: server, Holder: "unknown (unreadable lock file)"}
			if fi, err := os.Stat(p); err == nil {
				cur.Time = fi.ModTime()
			}
		}
		stale := l.Stale(cur)
		if !stale && !force {
			return nil, &HeldError{cur}
		}
		// Move the old lock aside; only one contender's rename succeeds.
		aside := p + ".broken." + strconv.Itoa(l.PID) + "." + strconv.FormatInt(l.Now().UnixNano(), 36)
		if err := os.Rename(p, aside); err != nil {
			continue
		}
		// Another contender may have replaced the stale lock with its own
		// between our read and the rename: then put that one back and retry.
		if moved, err := os.ReadFile(aside); err != nil || !bytes.Equal(moved, seen) {
			os.Link(aside, p)
			os.Remove(aside)
			continue
		}
		os.Remove(aside)
		if err := writeExcl(p, me); err != nil {
			continue
		}
		return &Acquired{Info: me, Broke: &cur, Stale: stale}, nil
	}
	if held != nil && !force {
		return nil, &HeldError{*held}
	}
	return nil, fmt.Errorf("lock %s: contended, try again", server)
}

// AcquireWait is Acquire that waits up to wait for a live lock to go away.
func (l *Locks) AcquireWait(server, holder, plan string, force bool, wait time.Duration) (*Acquired, error) {
	deadline := l.Now().Add(wait)
	for {
		a, err := l.Acquire(server, holder, plan, force)
		var he *HeldError
		if err == nil || !errors.As(err, &he) || !l.Now().Before(deadline) {
			return a, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Release removes the lock on server if this process holds it; with force it
// removes anyone's lock.
func (l *Locks) Release(server string, force bool) error {
	p, err := l.path(server)
	if err != nil {
		return err
	}
	cur, err := read(p)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("server %s is not locked", server)
	}
	if err == nil && !force && (cur.PID != l.PID || cur.Host != l.Host) && !l.Stale(cur) {
		return &HeldError{cur}
	}
	return os.Remove(p)
}

// List returns every lock in the directory, sorted by server.
func (l *Locks) List() ([]Info, error) {
	ents, err := os.ReadDir(l.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Info
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), FileSuffix) {
			continue
		}
		i, err := read(filepath.Join(l.Dir, e.Name()))
		if err != nil {
			continue
		}
		out = append(out, i)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Server < out[b].Server })
	return out, nil
}

// writeExcl creates the lock file p with i as its content, failing with an
// error wrapping os.ErrExist if p exists. The content is written to a
// temporary file first and hard-linked to p (link never replaces a file), so
// no reader ever sees a lock file without its content: a half-written lock
// would look damaged and be taken for stale.
func writeExcl(p string, i Info) error {
	b, _ := json.Marshal(i)
	f, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Link(tmp, p)
}

func read(p string) (Info, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return Info{}, err
	}
	var i Info
	if err := json.Unmarshal(b, &i); err != nil {
		return Info{}, fmt.Errorf("lock file %s: %w", p, err)
	}
	return i, nil
}
