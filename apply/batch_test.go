package apply

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/plans"
	"github.com/vmc-git/vmc-git/provider"
)

func pendingOf(ins ...Input) func() ([]PendingPlan, error) {
	return func() ([]PendingPlan, error) {
		var out []PendingPlan
		for i, in := range ins {
			p, err := plans.Parse(in.Bytes)
			if err != nil {
				return nil, err
			}
			out = append(out, PendingPlan{ID: p.ID, Input: in, Added: int64(i + 1)})
		}
		return out, nil
	}
}

// TestBatchVerifiesForeignCommits: in a batch, a receipt the run appended
// itself is not verified again before the next plan, but a commit anyone
// else put on the branch meanwhile is: a forged commit after the first
// plan's receipt stops the later plans with ErrLedgerInvalid, and no
// provider call is made for them.
func TestBatchVerifiesForeignCommits(t *testing.T) {
	f := newResFixture(t)
	ctx := context.Background()
	p1 := f.plan(t, provider.Action{Op: provider.OpCreate, Server: "web-1", ServerType: "cx22", Image: "debian-12"})
	p2 := f.plan(t, provider.Action{Op: provider.OpCreate, Server: "web-2", ServerType: "cx22", Image: "debian-12"})
	p3 := f.plan(t, provider.Action{Op: provider.OpCreate, Server: "web-3", ServerType: "cx22", Image: "debian-12"})
	repo := f.l.GitDir
	forged := false
	ap := f.applier(func(step string) {
		if step != StepAfterCommit || forged {
			return
		}
		forged = true
		// Another writer's commit: the ledger's tree again, unsigned.
		tip := runGit(t, repo, "rev-parse", f.l.Ref.String())
		c := runGit(t, repo, "commit-tree", tip+"^{tree}", "-p", tip, "-m", "not a receipt")
		runGit(t, repo, "update-ref", f.l.Ref.String(), c, tip)
	})
	outs, errs, err := ap.ApplyPending(ctx, pendingOf(p1, p2, p3))
	if err == nil && len(errs) == 0 {
		t.Fatal("the batch went on after a forged commit")
	}
	if len(outs) != 1 || outs[0].Plan != "p1" {
		t.Fatalf("outcomes %+v: want p1 only", outs)
	}
	if len(errs) != 2 {
		t.Fatalf("errors %v (run: %v): want one per later plan", errs, err)
	}
	for _, e := range errs {
		if !errors.Is(e, ErrLedgerInvalid) {
			t.Fatalf("later plan: %v, want ErrLedgerInvalid", e)
		}
	}
	ss, err := f.prov.Servers(ctx, "")
	if err != nil || len(ss) != 1 || ss[0].Name != "web-1" {
		t.Fatalf("servers %v %v: want web-1 only", ss, err)
	}
}

// TestBatchOwnReceipts: the run's own receipts feed its freshness index
// (a plan made before an earlier plan of the batch changed its server is
// refused as stale, from the receipt in hand), and at the end of the run
// they are verified and remembered, so the next verification starts at
// the tip.
func TestBatchOwnReceipts(t *testing.T) {
	f := newResFixture(t)
	ctx := context.Background()
	f.apply(t, f.plan(t, provider.Action{Op: provider.OpCreate, Server: "web-1", ServerType: "cx22", Image: "debian-12"}))
	label := func(v string) provider.Action {
		return provider.Action{Op: provider.OpLabel, Server: "web-1", Labels: map[string]string{"role": v}}
	}
	a, b := f.plan(t, label("a")), f.plan(t, label("b")) // both against the same head
	c := f.plan(t, provider.Action{Op: provider.OpCreate, Server: "web-2", ServerType: "cx22", Image: "debian-12"})
	outs, errs, err := f.applier(nil).ApplyPending(ctx, pendingOf(a, b, c))
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 2 || outs[0].Plan != "p2" || outs[1].Plan != "p4" {
		t.Fatalf("outcomes %+v: want p2 and p4", outs)
	}
	var re *RefusedError
	if len(errs) != 1 || !errors.As(errs[0], &re) || re.Plan != "p3" || !strings.Contains(re.Reason, "(plan p2) changed server web-1 after this plan was made") {
		t.Fatalf("errors %v: want p3 refused as stale, changed by p2", errs)
	}
	s, err := f.prov.Server(ctx, "web-1")
	if err != nil || s.Labels["role"] != "a" {
		t.Fatalf("web-1 %+v %v: want role=a", s, err)
	}
	v, err := f.l.LoadVerified()
	if err != nil || v == nil {
		t.Fatalf("verified head %v %v", v, err)
	}
	tip, err := f.l.Tip()
	if err != nil {
		t.Fatal(err)
	}
	if v.Commit != tip.Commit.String() || v.Seq != tip.Head.Seq {
		t.Fatalf("remembered verified head %d %s, tip %d %s: the run's receipts were not verified at its end", v.Seq, v.Commit, tip.Head.Seq, tip.Commit)
	}
}
