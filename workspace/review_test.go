package workspace

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReview: the plans a pull request adds are reviewed with their
// approvals; each broken rule is a violation with its own message.
func TestReview(t *testing.T) {
	w := newWorld(t, 1)
	ws := w.open()
	ctx := context.Background()
	w.plan(ws, "web-1-create", true, createAction("web-1"))
	if _, _, err := ws.ApplyPending(ctx, w.ids["alice"], w.applyReq()); err != nil {
		t.Fatal(err)
	}
	w.plan(ws, "web-9-create", true, createAction("web-9")) // merged, not applied
	w.git("checkout", "-q", "-b", "pr")

	// A good pull request: one new approved plan.
	w.plan(ws, "web-2-create", true, createAction("web-2"))
	rv, err := ws.Review(ctx, "main", "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	if !rv.OK() || len(rv.Plans) != 1 || rv.Plans[0].ID != "web-2-create" || len(rv.Plans[0].Approvals.Valid) != 1 || rv.Plans[0].NowError != "" {
		t.Fatalf("good pull request: %+v", rv)
	}

	for _, tc := range []struct {
		name string
		edit func()
		want string
	}{
		{"merged plan changed", func() {
			f := filepath.Join(w.root, "plans", "web-9-create.json")
			b, _ := os.ReadFile(f)
			os.WriteFile(f, append(b, ' '), 0o644)
		}, "a merged plan is immutable (status M)"},
		{"merged plan deleted", func() { os.Remove(filepath.Join(w.root, "plans", "web-9-create.json")) }, "a merged plan is immutable (status D)"},
		{"approval removed", func() { os.Remove(filepath.Join(w.root, "plans", "web-9-create.approvals", "bob.sig")) }, "approvals are add-only (status D)"},
		{"not a plan", func() { os.WriteFile(filepath.Join(w.root, "plans", "README.md"), []byte("hi\n"), 0o644) },
			"plans/ holds only <id>.json files and <id>.approvals/<kid>.sig approvals"},
		{"not canonical", func() { os.WriteFile(filepath.Join(w.root, "plans", "x.json"), []byte(`{ "v": 1 }`), 0o644) }, "plans/x.json"},
		{"id and file name differ", func() {
			b, _ := os.ReadFile(filepath.Join(w.root, "plans", "web-2-create.json"))
			os.WriteFile(filepath.Join(w.root, "plans", "web-3-create.json"), b, 0o644)
		}, "plan id web-2-create must match the file name (plans/web-2-create.json)"},
		{"executable plan", func() {
			os.Chmod(filepath.Join(w.root, "plans", "web-2-create.json"), 0o755)
		}, "plans/web-2-create.json: mode 100755: a plan is a regular file (mode 100644)"},
		{"approvals without their plan", func() {
			os.MkdirAll(filepath.Join(w.root, "plans", "web-7-create.approvals"), 0o755)
			os.WriteFile(filepath.Join(w.root, "plans", "web-7-create.approvals", "bob.sig"), []byte("x"), 0o644)
		}, "plans/web-7-create.approvals: approvals without the plan plans/web-7-create.json"},
		{"approval with an invalid kid", func() {
			os.WriteFile(filepath.Join(w.root, "plans", "web-2-create.approvals", "Bob.sig"), []byte("x"), 0o644)
		}, "plans/web-2-create.approvals/Bob.sig: not an approval: web-2-create.approvals/ holds only <kid>.sig files"},
		{"oversized approval", func() {
			os.WriteFile(filepath.Join(w.root, "plans", "web-2-create.approvals", "carol.sig"), make([]byte, 16<<10+1), 0o644)
		}, "plans/web-2-create.approvals/carol.sig: "},
		{"already applied", func() {
			// The applied plan's file, re-added on a branch that deleted it.
			w.git("rm", "-q", "plans/web-1-create.json")
			w.git("commit", "-q", "-m", "drop")
			w.git("branch", "-f", "base-without")
			w.git("checkout", "-q", "HEAD~1", "--", "plans/web-1-create.json")
		}, "plan web-1-create is already in the ledger: plans apply once"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w.git("checkout", "-q", "-B", "case-"+strings.ReplaceAll(tc.name, " ", "-"), "pr")
			tc.edit()
			w.git("add", "-A", "plans")
			w.git("commit", "-q", "-m", tc.name)
			base := "main"
			if tc.name == "already applied" {
				base = "base-without"
			}
			rv, err := ws.Review(ctx, base, "HEAD")
			if err != nil {
				t.Fatal(err)
			}
			if rv.OK() {
				t.Fatalf("no violation: %+v", rv)
			}
			found := false
			seen := map[string]bool{}
			for _, v := range rv.Violations {
				found = found || strings.Contains(v.File+": "+v.Message, tc.want)
				if seen[v.File+": "+v.Message] {
					t.Errorf("violation reported twice: %s: %s", v.File, v.Message)
				}
				seen[v.File+": "+v.Message] = true
			}
			if !found {
				t.Fatalf("violations %+v, want one with %q", rv.Violations, tc.want)
			}
		})
	}

	bare := &Workspace{Ledger: ws.Ledger}
	if _, err := bare.Review(ctx, "main", "HEAD"); KindOf(err) != KindUsage {
		t.Fatalf("review without a work tree: %v", err)
	}
}
