package gitledger

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vmc-git/vmc-git/internal/gitobj"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/plans"
)

// TestVerifyApprovalEntries: the approvals copied beside an applied plan
// are read by the one approvals reader (plans.ReadApprovals): every entry
// that breaks its rule is refused with the rule's own message, as the hook
// and apply --pending refuse it on the main branch.
func TestVerifyApprovalEntries(t *testing.T) {
	t.Parallel()
	specs := func(x *scenario) []keys.KeySpec {
		return []keys.KeySpec{x.spec("alice", "alice", keys.RoleAdmin, keys.RoleApplier), x.spec("bob", "bob", keys.RoleApprover)}
	}
	big := bytes.Repeat([]byte("s"), plans.MaxApprovalSize+1)
	many := map[string][]byte{}
	for i := range plans.MaxApprovals + 1 {
		many[fmt.Sprintf("k%02d", i)] = []byte("sig")
	}
	for _, tc := range []struct {
		name string
		sigs map[string][]byte
		msg  string
	}{
		{"an invalid kid", map[string][]byte{"Bob": []byte("sig")},
			"receipt 1: plans/p1.approvals/Bob.sig: not an approval: p1.approvals/ holds only <kid>.sig files"},
		{"an approval too large", map[string][]byte{"bob": big},
			fmt.Sprintf("receipt 1: plans/p1.approvals/bob.sig: blob object %s: %d bytes, more than the limit of %d",
				gitobj.HashObject(plumbing.BlobObject, big), plans.MaxApprovalSize+1, plans.MaxApprovalSize)},
		{"too many approvals", many,
			fmt.Sprintf("receipt 1: plans/p1.approvals: %d approvals, more than %d", plans.MaxApprovals+1, plans.MaxApprovals)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := newScenario(t, now(), oneAdmin, specs)
			d := x.applyDraft("p1", map[string]string{"bob": "bob"})
			d.Plan.Approvals = tc.sigs
			x.forge("alice", "alice", d, nil)
			x.rejects(1, RuleTree, tc.msg)
		})
	}
	// Control: the same receipt with bob's approval verifies.
	x := newScenario(t, now(), oneAdmin, specs)
	x.mustAppend("alice", "alice", x.applyDraft("p1", map[string]string{"bob": "bob"}))
	x.verdicts("ok/ok ok/ok")
}
