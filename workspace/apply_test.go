package workspace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/apply"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/provider"
)

// Environment of the crashing child process (TestMain runs it instead of
// the tests): it applies the pending plans of the repository and dies at
// the fault step, as a killed CI runner would.
const (
	envChildRepo  = "VMC_WS_TEST_CHILD_REPO"
	envChildKey   = "VMC_WS_TEST_CHILD_KEY"
	envChildLocks = "VMC_WS_TEST_CHILD_LOCKS"
	envChildFault = "VMC_WS_TEST_CHILD_FAULT"
	childExit     = 99
)

func TestMain(m *testing.M) {
	if repo := os.Getenv(envChildRepo); repo != "" {
		os.Exit(crashChild(repo))
	}
	os.Exit(m.Run())
}

func crashChild(repo string) int {
	ws, err := Open(repo, "", nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	s, err := keys.Load(os.Getenv(envChildKey))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	want := os.Getenv(envChildFault)
	req := ApplyRequest{LockDir: os.Getenv(envChildLocks), Fault: func(step string) {
		if step == want {
			os.Exit(childExit) // no deferred clean-up: a crash
		}
	}}
	_, errs, err := ws.ApplyPending(context.Background(), Identity{Signer: s, KID: "alice"}, req)
	fmt.Fprintln(os.Stderr, "child finished without crashing:", errs, err)
	return 1
}

// crash runs ApplyPending in a child process that exits at step.
func (w *world) crash(step string) {
	w.t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChildRepo+"="+w.root, envChildKey+"="+filepath.Join(w.keys, "alice"),
		envChildLocks+"="+w.locks, envChildFault+"="+step)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != childExit {
		w.t.Fatalf("crash child at %s: %v\n%s", step, err, out)
	}
}

// TestCrashRecovery: a run that dies at each step of an apply leaves an
// intent journal; the next ApplyPending finishes the plan with exactly one
// provider action and one receipt (recovered unless the receipt was already
// written), and the ledger verifies.
func TestCrashRecovery(t *testing.T) {
	for _, step := range []string{apply.StepBeforeProvider, apply.StepAfterProvider, apply.StepBeforeCommit, apply.StepAfterCommit} {
		t.Run(step, func(t *testing.T) {
			w := newWorld(t, 1)
			ws := w.open()
			w.plan(ws, "web-1-create", true, createAction("web-1"))
			before, err := ws.Ledger.Tip()
			if err != nil {
				t.Fatal(err)
			}
			ws.Close() // the child takes the sandbox
			w.crash(step)
			if _, err := os.Stat(filepath.Join(ws.Ledger.GitDir, "vmc", "intents", "web-1-create.json")); err != nil {
				t.Fatalf("no intent journal after a crash at %s: %v", step, err)
			}

			ws = w.open()
			mid, err := ws.Ledger.Tip()
			if err != nil {
				t.Fatal(err)
			}
			if moved := mid.Head.Seq != before.Head.Seq; moved != (step == apply.StepAfterCommit) {
				t.Fatalf("crash at %s: ledger moved = %v", step, moved)
			}
			outs, errs, err := ws.ApplyPending(context.Background(), w.ids["alice"], w.applyReq())
			if err != nil || len(errs) > 0 {
				t.Fatalf("recovery: %v %v", err, errs)
			}
			wantRecovered := step != apply.StepAfterCommit
			if wantRecovered {
				if len(outs) != 1 || !outs[0].Recovered || outs[0].Status != provider.StatusSucceeded {
					t.Fatalf("recovery outcomes: %+v", outs)
				}
			}
			outs, errs, err = ws.ApplyPending(context.Background(), w.ids["alice"], w.applyReq())
			if err != nil || len(errs) > 0 || len(outs) > 0 {
				t.Fatalf("third run: %+v %v %v", outs, errs, err)
			}
			if applied, err := ws.Applied("web-1-create"); err != nil || !applied {
				t.Fatalf("applied = %v, %v", applied, err)
			}
			rep, err := ws.Verify(VerifyOptions{Signatures: true})
			if err != nil || rep.Receipts != 2 {
				t.Fatalf("verify: %+v %v", rep, err)
			}
			prov, err := ws.Provider()
			if err != nil {
				t.Fatal(err)
			}
			ss, err := prov.Servers(context.Background(), "")
			if err != nil || len(ss) != 1 || ss[0].Labels[provider.LabelPlan] != "web-1-create" {
				t.Fatalf("servers %+v, %v", ss, err)
			}
		})
	}
}

// TestApplyRefusals: the errors a plan's apply reports, each with its own
// message, and a replay.
func TestApplyRefusals(t *testing.T) {
	w := newWorld(t, 1)
	ws := w.open()
	ctx := context.Background()

	// Not approved: the approval is removed.
	m, err := ws.MakePlan(ctx, PlanRequest{ID: "web-2-create", Actions: []provider.Action{createAction("web-2")}})
	if err != nil {
		t.Fatal(err)
	}
	_, perr, err := ws.ApplyPlan(ctx, w.ids["alice"], w.applyReq(), m.Path)
	if err != nil || !errors.Is(perr, apply.ErrNotApproved) {
		t.Fatalf("unapproved: %v, %v", perr, err)
	}

	// Approved and applied once; the replay is refused.
	w.plan(ws, "web-1-create", true, createAction("web-1"))
	file := filepath.Join(w.root, "plans", "web-1-create.json")
	o, perr, err := ws.ApplyPlan(ctx, w.ids["alice"], w.applyReq(), file)
	if err != nil || perr != nil || o.Status != provider.StatusSucceeded {
		t.Fatalf("apply: %+v %v %v", o, perr, err)
	}
	if _, perr, _ := ws.ApplyPlan(ctx, w.ids["alice"], w.applyReq(), file); !errors.Is(perr, apply.ErrAlreadyApplied) {
		t.Fatalf("replay: %v", perr)
	}

	// Not a plan file: invalid, before any apply.
	bad := filepath.Join(t.TempDir(), "x.json")
	os.WriteFile(bad, []byte(`{"v":1}`), 0o644)
	if _, _, err := ws.ApplyPlan(ctx, w.ids["alice"], w.applyReq(), bad); KindOf(err) != KindInvalid {
		t.Fatalf("bad plan file: %v (kind %v)", err, KindOf(err))
	}

	// Push without a remote's config: usage.
	noCfg := &Workspace{Ledger: ws.Ledger, prov: ws.prov, closeProv: func() {}}
	if _, _, err := noCfg.ApplyPlan(ctx, w.ids["alice"], ApplyRequest{Push: true}, file); KindOf(err) != KindUsage ||
		!strings.Contains(err.Error(), "apply --push needs a ledger repository with a work tree") {
		t.Fatalf("push without config: %v", err)
	}
}
