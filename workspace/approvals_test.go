package workspace

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/apply"
)

// TestPendingBadApprovalEntry: a stray file in a merged plan's approvals
// directory (main without a server hook takes anything) breaks the one
// approvals reader's rule. The plan is reported with the rule's message on
// every run and never recorded as refused: whoever can push to main must
// not be able to retire a good plan that way. Once the file is gone, the
// plan applies.
func TestPendingBadApprovalEntry(t *testing.T) {
	w := newWorld(t, 1)
	ws := w.open()
	w.plan(ws, "web-1-create", false, createAction("web-1"))
	stray := filepath.Join(w.root, "plans", "web-1-create.approvals", "notes.txt")
	if err := os.WriteFile(stray, []byte("hi"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := CommitFiles(w.root, "alice", "plan web-1 with a stray file", "plans"); err != nil {
		t.Fatal(err)
	}
	const want = "plan web-1-create: plans/web-1-create.approvals/notes.txt: not an approval: web-1-create.approvals/ holds only <kid>.sig files"
	for run := range 2 {
		outs, errs, err := ws.ApplyPending(context.Background(), w.ids["alice"], w.applyReq())
		if err != nil || len(outs) != 0 || len(errs) != 1 || errs[0].Error() != want {
			t.Fatalf("run %d: %d outcomes, %v, %v; want the error %q", run, len(outs), errs, err, want)
		}
		var re *apply.RefusedError
		if errors.As(errs[0], &re) {
			t.Fatalf("run %d: recorded as refused: %v", run, re)
		}
		if applied, err := ws.Applied("web-1-create"); err != nil || applied {
			t.Fatalf("run %d: in the ledger: %v %v", run, applied, err)
		}
	}
	if err := os.Remove(stray); err != nil {
		t.Fatal(err)
	}
	if err := CommitFiles(w.root, "alice", "remove the stray file", "plans"); err != nil {
		t.Fatal(err)
	}
	outs, errs, err := ws.ApplyPending(context.Background(), w.ids["alice"], w.applyReq())
	if err != nil || len(errs) != 0 || len(outs) != 1 || !strings.HasPrefix(outs[0].Status, "succeeded") {
		t.Fatalf("after the fix: %d outcomes, %v, %v", len(outs), errs, err)
	}
}
