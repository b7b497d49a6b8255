package plans_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmc-git/vmc-git/plans"
)

// TestLoadApprovalsRule: approvals on disk are read by the one approvals
// reader, with the rule (and messages) of the main branch's plans/ tree.
func TestLoadApprovalsRule(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(ad string)
		want  string // "" : read fine
	}{
		{"two approvals", func(ad string) {
			os.WriteFile(filepath.Join(ad, "bob.sig"), []byte("b"), 0o644)
			os.WriteFile(filepath.Join(ad, "carol.sig"), []byte("c"), 0o644)
		}, ""},
		{"another name", func(ad string) { os.WriteFile(filepath.Join(ad, "notes.txt"), nil, 0o644) },
			"/p.approvals/notes.txt: not an approval: p.approvals/ holds only <kid>.sig files"},
		{"an invalid kid", func(ad string) { os.WriteFile(filepath.Join(ad, "Bad Kid.sig"), nil, 0o644) },
			"/p.approvals/Bad Kid.sig: not an approval: p.approvals/ holds only <kid>.sig files"},
		{"a directory", func(ad string) { os.Mkdir(filepath.Join(ad, "bob.sig"), 0o755) },
			"/p.approvals/bob.sig: mode 40000: an approval is a regular file (mode 100644)"},
		{"a symlink", func(ad string) { os.Symlink("/etc/passwd", filepath.Join(ad, "bob.sig")) },
			"/p.approvals/bob.sig: mode 120000: an approval is a regular file (mode 100644)"},
		{"an executable", func(ad string) { os.WriteFile(filepath.Join(ad, "bob.sig"), nil, 0o755) },
			"/p.approvals/bob.sig: mode 100755: an approval is a regular file (mode 100644)"},
		{"too large", func(ad string) {
			os.WriteFile(filepath.Join(ad, "bob.sig"), bytes.Repeat([]byte("s"), plans.MaxApprovalSize+1), 0o644)
		}, fmt.Sprintf("/p.approvals/bob.sig: %d bytes, more than the limit of %d", plans.MaxApprovalSize+1, plans.MaxApprovalSize)},
		{"too many", func(ad string) {
			for i := range plans.MaxApprovals + 1 {
				os.WriteFile(filepath.Join(ad, fmt.Sprintf("k%02d.sig", i)), nil, 0o644)
			}
		}, fmt.Sprintf("/p.approvals: %d approvals, more than %d", plans.MaxApprovals+1, plans.MaxApprovals)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ad := filepath.Join(dir, "p"+plans.ApprovalsSuffix)
			if err := os.Mkdir(ad, 0o755); err != nil {
				t.Fatal(err)
			}
			tc.setup(ad)
			got, err := plans.LoadApprovals(dir, "p")
			if tc.want == "" {
				if err != nil || string(got["bob"]) != "b" || string(got["carol"]) != "c" || len(got) != 2 {
					t.Fatalf("LoadApprovals: %q %v", got, err)
				}
				return
			}
			var ee *plans.EntryError
			if !errors.As(err, &ee) || err.Error() != dir+tc.want || ee.Plan != "p" {
				t.Fatalf("LoadApprovals: %v, want %q (an *EntryError of plan p)", err, dir+tc.want)
			}
		})
	}
	// Not a directory.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "p"+plans.ApprovalsSuffix), nil, 0o644)
	if _, err := plans.LoadApprovals(dir, "p"); err == nil || err.Error() != dir+"/p.approvals: mode 100644: an approvals entry is a directory (mode 40000)" {
		t.Fatalf("approvals that are a file: %v", err)
	}
}
