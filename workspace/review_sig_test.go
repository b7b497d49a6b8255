package workspace

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vmc-git/vmc-git/hooks"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/plans"
)

// TestReviewForgedSignatures: plan review checks the signature of every
// approval and override file a pull request adds with the hook's own
// functions (hooks.CheckApprovalSigner, hooks.CheckOverrideSigner). Each
// forged or untrusted file is a violation by name with the hook's message;
// the hook, run on the same push of main, refuses the same file with the
// same words; a pull request with all of them names each one.
func TestReviewForgedSignatures(t *testing.T) {
	w := newWorld(t, 1)
	ws := w.open()
	ctx := context.Background()
	w.plan(ws, "web-9-create", true, createAction("web-9")) // merged, approved by bob
	mallory := w.key("mallory")                             // trusted by nobody
	pb, err := os.ReadFile(filepath.Join(w.root, plans.Path("web-9-create")))
	if err != nil {
		t.Fatal(err)
	}
	approval := func(s *keys.Signer) []byte {
		sig, err := s.Sign(keys.NamespacePlan, pb)
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	override := func(s *keys.Signer, kid string) []byte {
		b, err := plans.SignOverride(s, kid, pb, []string{"ssh-from-anywhere"}, "")
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := []struct {
		name, file string
		b          []byte
		want       string // the hook's words
	}{
		{"approval in alice's name by another key", plans.ApprovalPath("web-9-create", "alice"), approval(mallory.Signer),
			"approval by alice: signature: made by key SHA256:"},
		{"approval by an untrusted key", plans.ApprovalPath("web-9-create", "mallory"), approval(mallory.Signer), "only a valid approval is taken"},
		{"override in alice's name by another key", plans.OverridePath("web-9-create", "alice"), override(mallory.Signer, "alice"),
			"override by alice: signature: made by key SHA256:"},
		{"override by an approver", plans.OverridePath("web-9-create", "bob"), override(w.ids["bob"].Signer, "bob"),
			"override: key bob has roles [approver], needs admin"},
	}
	write := func(file string, b []byte) {
		p := filepath.Join(w.root, filepath.FromSlash(file))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	hook := func() []hooks.Refusal {
		head := plumbing.NewHash(strings.TrimSpace(w.git("rev-parse", "HEAD")))
		main := plumbing.NewHash(strings.TrimSpace(w.git("rev-parse", "main")))
		rs, _ := CheckPush(filepath.Join(w.root, ".git"), "", []hooks.Update{{Old: main, New: head, Ref: "refs/heads/main"}}, nil, hooks.Branches{Main: "main"})
		return rs
	}
	var all []string
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w.git("checkout", "-q", "-B", "forged-"+string(rune('a'+i)), "main")
			write(tc.file, tc.b)
			w.git("add", "-A", "plans")
			w.git("commit", "-q", "-m", tc.name)
			rv, err := ws.Review(ctx, "main", "HEAD")
			if err != nil {
				t.Fatal(err)
			}
			if len(rv.Violations) != 1 || rv.Violations[0].File != tc.file || !strings.Contains(rv.Violations[0].Message, tc.want) {
				t.Fatalf("review: violations %+v, want one for %s with %q", rv.Violations, tc.file, tc.want)
			}
			rs := hook()
			if len(rs) != 1 || rs[0].Ref != "refs/heads/main" || rs[0].Err.Error() != tc.file+": "+rv.Violations[0].Message {
				t.Fatalf("the hook refuses %+v, review says %s: %s", rs, tc.file, rv.Violations[0].Message)
			}
		})
		all = append(all, tc.file)
	}

	// All at once, and beside a new plan (its approvals checked too): each
	// file by name, though the hook stops at the first.
	w.git("checkout", "-q", "-B", "forged-all", "main")
	w.plan(ws, "web-2-create", false, createAction("web-2"))
	b2, err := os.ReadFile(filepath.Join(w.root, plans.Path("web-2-create")))
	if err != nil {
		t.Fatal(err)
	}
	sig2, err := mallory.Signer.Sign(keys.NamespacePlan, b2)
	if err != nil {
		t.Fatal(err)
	}
	write(plans.ApprovalPath("web-2-create", "alice"), sig2)
	all = append(all, plans.ApprovalPath("web-2-create", "alice"))
	for _, tc := range cases {
		write(tc.file, tc.b)
	}
	w.git("add", "-A", "plans")
	w.git("commit", "-q", "-m", "all forged")
	rv, err := ws.Review(ctx, "main", "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range rv.Violations {
		got = append(got, v.File)
	}
	slices.Sort(got)
	slices.Sort(all)
	if !slices.Equal(got, all) {
		t.Fatalf("review names %q, want each forged file %q", got, all)
	}
	if len(rv.Plans) != 1 || len(rv.Plans[0].Approvals.Valid) != 1 {
		t.Fatalf("the new plan's review: %+v", rv.Plans)
	}
	if rs := hook(); len(rs) != 1 {
		t.Fatalf("the hook on all of them: %+v", rs)
	}

	// alice's own override and approval (trusted, valid) pass both.
	w.git("checkout", "-q", "-B", "genuine", "main")
	write(plans.OverridePath("web-9-create", "alice"), override(w.ids["alice"].Signer, "alice"))
	write(plans.ApprovalPath("web-9-create", "alice"), approval(w.ids["alice"].Signer))
	w.git("add", "-A", "plans")
	w.git("commit", "-q", "-m", "genuine")
	if rv, err := ws.Review(ctx, "main", "HEAD"); err != nil || !rv.OK() {
		t.Fatalf("genuine override and approval: %+v, %v", rv, err)
	}
	if rs := hook(); len(rs) != 0 {
		t.Fatalf("the hook refuses the genuine files: %+v", rs)
	}
}
