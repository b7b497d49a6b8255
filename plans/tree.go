package plans

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/receipt"
)

// The plans/ tree on the main branch: the one rule, used by the pre-receive
// hook (every push to main), by apply --pending and by the review check.
//
//	plans/<id>.json               a regular file (mode 100644), at most MaxSize
//	                              bytes, holding a canonical plan whose id is <id>
//	plans/<id>.approvals/         a directory (mode 40000) beside its plan
//	plans/<id>.approvals/<kid>.sig  regular files of at most MaxApprovalSize
//	                              bytes, at most MaxApprovals of them
//	plans/<id>.overrides/         a directory (mode 40000) beside its plan
//	plans/<id>.overrides/<kid>.json  regular files, at most receipt.MaxOverrides
//	                              of them: each an override file (override.go)
//	                              that ParseOverride accepts, by <kid>, for
//	                              this plan's id and exact bytes and, when
//	                              known, this ledger
//
// Each name at most once in a tree (git mktree, and a server without
// receive.fsckObjects, take a tree naming an entry twice: a second
// plans/<id>.json beside a merged one would escape the add-only rule).
// Nothing else: no other names, no executables, symlinks, gitlinks
// (submodules) or nested directories. Once merged, a plan file never changes
// or goes away, and approvals and overrides are add-only.
const (
	// ModeFile and ModeDir are the only git modes allowed under plans/.
	ModeFile = "100644"
	ModeDir  = "40000"
	// MaxApprovalSize bounds one approval file (an armored SSHSIG is ~300 bytes).
	MaxApprovalSize = 16 << 10
	// MaxApprovals bounds the approval files of one plan.
	MaxApprovals = 64
)

// TreeEntry is one entry of a git tree as the plan-tree rule sees it.
type TreeEntry struct {
	Mode string // git's octal mode, e.g. "100644", "40000", "160000"
	Name string
	ID   string // the object id, hex
}

// TreeReader reads the objects a plans/ tree names. Blob must refuse a blob
// larger than limit before reading it.
type TreeReader interface {
	Tree(id string) ([]TreeEntry, error)
	Blob(id string, limit int64) ([]byte, error)
}

// EntryError is one bad entry under plans/.
type EntryError struct {
	Path string // e.g. plans/web-1.approvals/bob.sig
	Plan string // the plan id the entry belongs to ("" if none can be told)
	Err  error
}

func (e *EntryError) Error() string { return fmt.Sprintf("%s: %v", e.Path, e.Err) }
func (e *EntryError) Unwrap() error { return e.Err }

// ErrImmutable is a change to a merged plan or approval.
var ErrImmutable = errors.New("merged plans are immutable and approvals add-only")

func find(es []TreeEntry, name string) (TreeEntry, bool) {
	for _, e := range es {
		if e.Name == name {
			return e, true
		}
	}
	return TreeEntry{}, false
}

// Kinds of plans/ entries.
const (
	EntryPlan      = "plan"      // <id>.json
	EntryApprovals = "approvals" // <id>.approvals/
	EntryOverrides = "overrides" // <id>.overrides/
)

// OverrideSigner, when the TreeReader given to CheckTreeChange implements
// it, checks the signer of each new override file f (bytes b) of plan id
// (bytes plan): the hook takes only an admin's, trusted at the ledger tip,
// for the directory is add-only and holds at most receipt.MaxOverrides
// files, and a file signed by nobody in an admin's name would keep that
// admin's real override out for good.
type OverrideSigner interface {
	CheckOverrideSigner(id string, plan []byte, f *OverrideFile, b []byte) error
}

// distinctTrees is a TreeReader refusing a tree that names an entry twice
// (and the caller's OverrideSigner, if any).
type distinctTrees struct {
	TreeReader
	sign    OverrideSigner
	approve ApprovalSigner
}

// ApprovalSigner, when the TreeReader given to CheckTreeChange implements
// it, checks each new approval file (kid, sig) of plan id (bytes plan): the
// hook takes only a valid one, for the same reason as overrides (an
// approvals directory is add-only once merged).
type ApprovalSigner interface {
	CheckApprovalSigner(id string, plan []byte, kid string, sig []byte) error
}

// checkApprovalSigners applies r's ApprovalSigner, if any, to the new
// approvals sigs (kid -> bytes) of directory entry name, beside its plan in es.
func checkApprovalSigners(r TreeReader, es []TreeEntry, name string, sigs map[string][]byte) error {
	d, ok := r.(distinctTrees)
	if !ok || d.approve == nil || len(sigs) == 0 {
		return nil
	}
	id, _, _ := PlanOfEntry(name)
	pe, ok := find(es, id+".json")
	if !ok {
		return &EntryError{Dir + "/" + name, id, fmt.Errorf("approvals without the plan %s/%s.json", Dir, id)}
	}
	pb, err := r.Blob(pe.ID, MaxSize)
	if err != nil {
		return &EntryError{Dir + "/" + pe.Name, id, err}
	}
	for _, kid := range slices.Sorted(maps.Keys(sigs)) {
		if err := d.approve.CheckApprovalSigner(id, pb, kid, sigs[kid]); err != nil {
			return &EntryError{Dir + "/" + name + "/" + kid + ApprovalExt, id, err}
		}
	}
	return nil
}

func (d distinctTrees) Tree(id string) ([]TreeEntry, error) {
	es, err := d.TreeReader.Tree(id)
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(es))
	for _, e := range es {
		if seen[e.Name] {
			return nil, fmt.Errorf("%s: named twice in a tree (a tree git fsck refuses)", e.Name)
		}
		seen[e.Name] = true
	}
	return es, nil
}

// PlanOfEntry returns the plan id a plans/ entry name belongs to, and the
// entry's kind (EntryPlan, EntryApprovals or EntryOverrides).
func PlanOfEntry(name string) (id, kind string, ok bool) {
	for _, k := range []struct{ suffix, kind string }{{".json", EntryPlan}, {ApprovalsSuffix, EntryApprovals}, {OverridesSuffix, EntryOverrides}} {
		if id, ok := strings.CutSuffix(name, k.suffix); ok && ValidID(id) == nil {
			return id, k.kind, true
		}
	}
	return "", "", false
}

// CheckTreeChange checks a change of the main branch's plans/ tree from old
// to new (tree ids; "" when absent): old entries unchanged (approvals only
// added), every new entry valid by the rule above, plans for ledgerID (if
// not ""). It returns the first problem.
func CheckTreeChange(r TreeReader, old, new, ledgerID string) error {
	sign, _ := r.(OverrideSigner)
	approve, _ := r.(ApprovalSigner)
	r = distinctTrees{r, sign, approve}
	var olds, news []TreeEntry
	var err error
	if old != "" {
		if olds, err = r.Tree(old); err != nil {
			return fmt.Errorf("%s/: %w", Dir, err)
		}
	}
	if new != "" {
		if news, err = r.Tree(new); err != nil {
			return fmt.Errorf("%s/: %w", Dir, err)
		}
	}
	for _, o := range olds {
		n, ok := find(news, o.Name)
		switch {
		case !ok:
			return &EntryError{Dir + "/" + o.Name, "", fmt.Errorf("removed: %w", ErrImmutable)}
		case o.Mode != n.Mode:
			return &EntryError{Dir + "/" + o.Name, "", fmt.Errorf("mode changed from %s to %s: %w", o.Mode, n.Mode, ErrImmutable)}
		case o.ID == n.ID:
		case o.Mode == ModeDir:
			_, kind, ok := PlanOfEntry(o.Name)
			switch {
			case ok && kind == EntryApprovals:
				if err := checkApprovalsChange(r, news, o, n); err != nil {
					return err
				}
			case ok && kind == EntryOverrides:
				if err := checkOverridesChange(r, news, o, n, ledgerID); err != nil {
					return err
				}
			default:
				return &EntryError{Dir + "/" + o.Name, "", fmt.Errorf("changed: %w", ErrImmutable)}
			}
		default:
			return &EntryError{Dir + "/" + o.Name, "", fmt.Errorf("changed after merge: %w (make a new plan)", ErrImmutable)}
		}
	}
	for _, n := range news {
		if _, ok := find(olds, n.Name); ok {
			continue
		}
		if err := CheckEntry(r, news, n, ledgerID); err != nil {
			return err
		}
	}
	return nil
}

func checkApprovalsChange(r TreeReader, es []TreeEntry, o, n TreeEntry) error {
	id, _, _ := PlanOfEntry(o.Name)
	oa, err := r.Tree(o.ID)
	if err != nil {
		return &EntryError{Dir + "/" + o.Name, id, err}
	}
	na, err := r.Tree(n.ID)
	if err != nil {
		return &EntryError{Dir + "/" + n.Name, id, err}
	}
	if len(na) > MaxApprovals {
		return &EntryError{Dir + "/" + n.Name, id, fmt.Errorf("%d approvals, more than %d", len(na), MaxApprovals)}
	}
	for _, x := range oa {
		if y, ok := find(na, x.Name); !ok || y.ID != x.ID || y.Mode != x.Mode {
			return &EntryError{Dir + "/" + o.Name + "/" + x.Name, id, fmt.Errorf("changed or removed: %w", ErrImmutable)}
		}
	}
	added := map[string][]byte{}
	for _, y := range na {
		if _, ok := find(oa, y.Name); !ok {
			sig, err := readApproval(r, n.Name, y)
			if err != nil {
				return &EntryError{Dir + "/" + n.Name + "/" + y.Name, id, err}
			}
			added[strings.TrimSuffix(y.Name, ApprovalExt)] = sig
		}
	}
	return checkApprovalSigners(r, es, n.Name, added)
}

// checkOverridesChange checks an overrides directory changed from o to n:
// add-only, the new files valid.
func checkOverridesChange(r TreeReader, es []TreeEntry, o, n TreeEntry, ledgerID string) error {
	id, _, _ := PlanOfEntry(o.Name)
	oa, err := r.Tree(o.ID)
	if err != nil {
		return &EntryError{Dir + "/" + o.Name, id, err}
	}
	na, err := r.Tree(n.ID)
	if err != nil {
		return &EntryError{Dir + "/" + n.Name, id, err}
	}
	for _, x := range oa {
		if y, ok := find(na, x.Name); !ok || y.ID != x.ID || y.Mode != x.Mode {
			return &EntryError{Dir + "/" + o.Name + "/" + x.Name, id, fmt.Errorf("changed or removed: %w", ErrImmutable)}
		}
	}
	return checkOverrides(r, es, n, na, oa, ledgerID)
}

// checkOverrides checks the files of overrides directory e (entries os;
// those also in old were checked before): at most receipt.MaxOverrides,
// each <kid>.json, a regular file that ParseOverride accepts, by kid, for
// the plan beside it (its id and blake3) and ledgerID (if not "").
func checkOverrides(r TreeReader, es []TreeEntry, e TreeEntry, os, old []TreeEntry, ledgerID string) error {
	path := Dir + "/" + e.Name
	id, _, _ := PlanOfEntry(e.Name)
	if len(os) > receipt.MaxOverrides {
		return &EntryError{path, id, fmt.Errorf("%d overrides, more than %d", len(os), receipt.MaxOverrides)}
	}
	pe, ok := find(es, id+".json")
	if !ok {
		return &EntryError{path, id, fmt.Errorf("overrides without the plan %s/%s.json", Dir, id)}
	}
	var sum digest.Digest
	var pb []byte
	for _, x := range os {
		if _, ok := find(old, x.Name); ok {
			continue
		}
		fail := func(err error) error { return &EntryError{path + "/" + x.Name, id, err} }
		kid, ok := strings.CutSuffix(x.Name, ".json")
		switch {
		case !ok || keys.ValidKID(kid) != nil:
			return fail(fmt.Errorf("not an override: %s/ holds only <kid>.json files", e.Name))
		case x.Mode != ModeFile:
			return fail(fmt.Errorf("mode %s: an override is a regular file (mode %s)", x.Mode, ModeFile))
		}
		b, err := r.Blob(x.ID, MaxOverrideSize)
		if err != nil {
			return fail(err)
		}
		f, err := ParseOverride(b)
		if err != nil {
			return fail(err)
		}
		if sum.IsZero() {
			if pb, err = r.Blob(pe.ID, MaxSize); err != nil {
				return fail(err)
			}
			sum = digest.Blake3(pb)
		}
		switch {
		case f.KID != kid:
			return fail(fmt.Errorf("the file of %s names kid %s", kid, f.KID))
		case f.Plan != id || f.PlanBlake3 != sum:
			return fail(fmt.Errorf("an override for plan %s (blake3 %s), not for %s/%s.json (blake3 %s)", f.Plan, f.PlanBlake3, Dir, id, sum))
		case ledgerID != "" && f.Ledger != ledgerID:
			return fail(fmt.Errorf("an override for ledger %s, this repository is %s", f.Ledger, ledgerID))
		}
		if d, ok := r.(distinctTrees); ok && d.sign != nil {
			if err := d.sign.CheckOverrideSigner(id, pb, f, b); err != nil {
				return fail(err)
			}
		}
	}
	return nil
}

// CheckEntry checks one entry of a plans/ tree (es is the whole tree, for
// the approvals directory's plan): the rule in the file comment.
func CheckEntry(r TreeReader, es []TreeEntry, e TreeEntry, ledgerID string) error {
	path := Dir + "/" + e.Name
	id, kind, ok := PlanOfEntry(e.Name)
	if !ok {
		return &EntryError{path, "", fmt.Errorf("%s/ holds only <id>.json files and <id>%s/ directories, and <id>%s/ directories of policy overrides", Dir, ApprovalsSuffix, OverridesSuffix)}
	}
	fail := func(format string, a ...any) error { return &EntryError{path, id, fmt.Errorf(format, a...)} }
	if kind == EntryOverrides {
		if e.Mode != ModeDir {
			return fail("mode %s: an overrides entry is a directory (mode %s)", e.Mode, ModeDir)
		}
		os, err := r.Tree(e.ID)
		if err != nil {
			return fail("%v", err)
		}
		return checkOverrides(r, es, e, os, nil, ledgerID)
	}
	if kind == EntryApprovals {
		// ReadApprovals refuses a non-directory first.
		if _, ok := find(es, id+".json"); !ok && e.Mode == ModeDir {
			return fail("approvals without the plan %s/%s.json", Dir, id)
		}
		sigs, err := ReadApprovals(r, Dir, e)
		if err != nil {
			return err
		}
		return checkApprovalSigners(r, es, e.Name, sigs)
	}
	if e.Mode != ModeFile {
		return fail("mode %s: a plan is a regular file (mode %s)", e.Mode, ModeFile)
	}
	b, err := r.Blob(e.ID, MaxSize)
	if err != nil {
		return fail("%v", err)
	}
	if _, err := CheckPlan(id, b, ledgerID); err != nil {
		return fail("%v", err)
	}
	return nil
}

// CheckPlan is the rule for a plan file's content: canonical plan bytes b
// that parse, whose id is id (the file name's), for ledgerID (if not "").
// CheckEntry applies it to plans/<id>.json; apply --pending to the bytes it
// has read, keeping the parsed plan.
func CheckPlan(id string, b []byte, ledgerID string) (*Plan, error) {
	p, err := Parse(b)
	if err != nil {
		return nil, err
	}
	if p.ID != id {
		return nil, fmt.Errorf("plan id %s does not match the file name", p.ID)
	}
	if ledgerID != "" && p.Ledger != ledgerID {
		return nil, fmt.Errorf("plan for ledger %s, this repository is %s", p.Ledger, ledgerID)
	}
	return p, nil
}
