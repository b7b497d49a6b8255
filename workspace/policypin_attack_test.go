package workspace

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/apply"
	"github.com/vmc-git/vmc-git/policy"
	"github.com/vmc-git/vmc-git/receipt"
)

// gitIn runs the real git in the repository with stdin.
func (w *world) gitIn(stdin string, args ...string) string {
	w.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = w.root
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.Output()
	if err != nil {
		w.t.Fatalf("git %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out))
}

// rawTree writes a tree git mktree refuses (a name with a slash), entry
// by entry as given, with hash-object --literally.
func (w *world) rawTree(entries ...[3]string) string {
	w.t.Helper()
	var b []byte
	for _, e := range entries {
		oid, err := hex.DecodeString(e[2])
		if err != nil {
			w.t.Fatal(err)
		}
		b = append(append(b, e[0]+" "+e[1]+"\x00"...), oid...)
	}
	return w.gitIn(string(b), "hash-object", "-w", "--literally", "-t", "tree", "--stdin")
}

func (w *world) blob(data string) string { return w.gitIn(data, "hash-object", "-w", "--stdin") }

// mktree writes a tree of raw entries "<mode> <type> <oid>\t<name>", as
// given: duplicates, odd modes and names included (git mktree checks none).
func (w *world) mktree(entries ...string) string {
	return w.gitIn(strings.Join(entries, "\x00")+"\x00", "mktree", "-z", "--missing")
}

// commitRoot moves main to a commit whose root is main's without its
// policy entry, plus the raw root entries given (a pusher's hand-made
// tree).
func (w *world) commitRoot(msg string, entries ...string) {
	w.t.Helper()
	var root []string
	for _, e := range strings.Split(w.gitIn("", "ls-tree", "-z", "refs/heads/main"), "\x00") {
		if _, name, ok := strings.Cut(e, "\t"); ok && name != policy.Dir {
			root = append(root, e)
		}
	}
	tree := w.mktree(append(root, entries...)...)
	c := w.gitIn(msg, "commit-tree", tree, "-p", "refs/heads/main")
	w.gitIn("", "update-ref", "refs/heads/main", c)
}

// pinnedSrc is the pinned policy of the attacks: it warns, and it denies
// everything should anything supply data.vmc.ext.deny_all (a file OPA
// might load beside it).
const pinnedSrc = "package vmc.p\n\nwarn contains \"pinned\" if true\n\ndeny contains \"data supplied\" if data.vmc.ext.deny_all\n"

const denyAllSrc = "package vmc.evil\n\ndeny contains \"evil\" if true\n"

// TestPolicyPinTreeTricks: a pusher of main hand-makes policy/ trees
// (git mktree) where the digest and the compiler might see different
// bytes. Each is either not judged (a refused *PolicyPinError or an
// invalid error: the plan stays pending) or judged with exactly the
// pinned bytes (pass, the pin's blake3): sub-directories, non-.rego files
// (data.json, yaml, .manifest: OPA loads nothing but the bundle), .REGO,
// symlinks, submodules, a tree named x.rego, executable modes, duplicate
// entries, two policy trees, policy/ a blob, upper-case, non-UTF-8 and
// path-trick names, too many files, a file too large, many other files.
func TestPolicyPinTreeTricks(t *testing.T) {
	w := newWorld(t, 1)
	ws := w.open()
	ctx := context.Background()
	w.plan(ws, "web-1-create", true, createAction("web-1"))
	w.commitPolicy("p.rego", []byte(pinnedSrc))
	w.pinPolicy(ws)
	tip, err := ws.Ledger.Tip()
	if err != nil {
		t.Fatal(err)
	}
	pin := tip.Trust.PolicyBundle
	if v, err := ws.PlanPolicy(ctx, "", "web-1-create"); err != nil || v.Policy.Result != receipt.PolicyPass || v.Policy.Blake3.String() != pin {
		t.Fatalf("the pinned policy: %+v %v", v, err)
	}

	pb, eb := w.blob(pinnedSrc), w.blob(denyAllSrc)
	data := w.blob(`{"vmc":{"ext":{"deny_all":true}}}`)
	pinned := "100644 blob " + pb + "\tp.rego"
	evil := func(name string) string { return "100644 blob " + eb + "\t" + name }
	dir := func(entries ...string) string { return "040000 tree " + w.mktree(entries...) + "\t" + policy.Dir }
	var many []string
	for i := range policy.MaxFiles {
		many = append(many, evil(fmt.Sprintf("e%02d.rego", i)))
	}
	var junk []string
	for i := range 5000 {
		junk = append(junk, "100644 blob "+eb+"\t"+fmt.Sprintf("j%04d.txt", i))
	}
	const judged, notJudged, either = "judged with the pin", "not judged", "either"
	for _, c := range []struct {
		name string
		want string
		root []string
	}{
		{"a sub-directory with a deny-all", judged, []string{dir(pinned, "040000 tree "+w.mktree(evil("evil.rego"))+"\tsub")}},
		{"a deny-all .REGO", judged, []string{dir(pinned, evil("evil.REGO"), evil("evil.rego.txt"), evil("evil.rego~"))}},
		{"data.json, data.yaml, .manifest", judged, []string{dir(pinned, "100644 blob "+data+"\tdata.json",
			"100644 blob "+w.blob("vmc:\n  ext:\n    deny_all: true\n")+"\tdata.yaml", "100644 blob "+w.blob(`{"roots":["vmc"]}`)+"\t.manifest")}},
		{"vmc/ext/data.json", judged, []string{dir(pinned, "040000 tree "+w.mktree("040000 tree "+w.mktree("100644 blob "+w.blob(`{"deny_all":true}`)+"\tdata.json")+"\text")+"\tvmc")}},
		{"executable pinned file", judged, []string{dir("100755 blob " + pb + "\tp.rego")}},
		{"many other files", judged, []string{dir(append([]string{pinned}, junk...)...)}},
		{"a deny-all executable file", notJudged, []string{dir(pinned, "100755 blob "+eb+"\tevil.rego")}},
		{"a symlink .rego", notJudged, []string{dir(pinned, "120000 blob "+w.blob("p.rego")+"\tevil.rego")}},
		{"a symlink to outside", notJudged, []string{dir(pinned, "120000 blob "+w.blob("/etc/passwd")+"\tevil.rego")}},
		{"policy a symlink", notJudged, []string{"120000 blob " + w.blob("elsewhere") + "\tpolicy"}},
		{"a submodule .rego", notJudged, []string{dir(pinned, "160000 commit "+strings.Repeat("1", 40)+"\tevil.rego")}},
		{"policy a submodule", notJudged, []string{"160000 commit " + strings.Repeat("1", 40) + "\tpolicy"}},
		{"a tree named x.rego", notJudged, []string{dir(pinned, "040000 tree "+w.mktree(evil("evil.rego"))+"\tx.rego")}},
		{"the pinned entry twice", notJudged, []string{dir(pinned, pinned)}},
		{"pinned then deny-all under one name", notJudged, []string{dir(pinned, evil("p.rego"))}},
		{"deny-all then pinned under one name", notJudged, []string{dir(evil("p.rego"), pinned)}},
		{"two policy trees, pinned first", either, []string{dir(pinned), dir(evil("evil.rego"))}},
		{"two policy trees, deny-all first", either, []string{dir(evil("evil.rego")), dir(pinned)}},
		{"policy a blob", notJudged, []string{"100644 blob " + eb + "\tpolicy"}},
		{"an upper-case name", notJudged, []string{dir(pinned, evil("Evil.rego"))}},
		{"a non-UTF-8 name", notJudged, []string{dir(pinned, evil("\xff\xfe.rego"))}},
		{"an empty stem", notJudged, []string{dir(pinned, evil(".rego"))}},
		{"a dotted name", notJudged, []string{dir(pinned, evil("p.rego.rego"))}},
		{"a path-trick name", notJudged, []string{"040000 tree " + w.rawTree([3]string{"100644", "../evil.rego", eb}, [3]string{"100644", "p.rego", pb}) + "\tpolicy"}},
		{"a slash in a name", notJudged, []string{"040000 tree " + w.rawTree([3]string{"100644", "p.rego", pb}, [3]string{"100644", "sub/evil.rego", eb}) + "\tpolicy"}},
		{"a newline name", notJudged, []string{dir(pinned, evil("p.rego\n12\nx.rego"))}},
		{"too many files", notJudged, []string{dir(append([]string{pinned}, many...)...)}},
		{"a file too large", notJudged, []string{dir(pinned, "100644 blob "+w.blob("package vmc.big\n#"+strings.Repeat("x", policy.MaxFileSize))+"\tbig.rego")}},
		{"no policy", notJudged, nil},
	} {
		w.commitRoot(c.name, c.root...)
		v, err := ws.PlanPolicy(ctx, "", "web-1-create")
		var pe *PolicyPinError
		isJudged := err == nil && v.Policy.Result == receipt.PolicyPass && v.Policy.Blake3 != nil && v.Policy.Blake3.String() == pin
		isPending := v == nil && (errors.As(err, &pe) && KindOf(err) == KindRefused || KindOf(err) == KindInvalid)
		switch {
		case !isJudged && !isPending:
			t.Errorf("%s: %+v %v: neither pending nor judged with the pinned bytes", c.name, v, err)
		case c.want == judged && !isJudged:
			t.Errorf("%s: %v, want judged with the pin", c.name, err)
		case c.want == notJudged && !isPending:
			t.Errorf("%s: judged, want pending", c.name)
		}
		// plan status and apply read the same: policy status agrees.
		st, err := ws.PolicyPin("")
		if err == nil && st.Match != isJudged {
			t.Errorf("%s: policy status says match %v", c.name, st.Match)
		}
	}
}

// TestPolicyPinMainMoves: apply's gate reads main's policy once and
// compiles the bytes it hashed: main moving to a deny-all between the
// digest and the compile, or between two plans of a run, changes nothing
// (the second plan is judged with the pinned bundle, not retired).
func TestPolicyPinMainMoves(t *testing.T) {
	w := newWorld(t, 1)
	ws := w.open()
	ctx := context.Background()
	m1 := w.plan(ws, "web-1-create", true, createAction("web-1"))
	m2 := w.plan(ws, "web-2-create", true, createAction("web-2"))
	w.commitPolicy("p.rego", []byte(pinnedSrc))
	w.pinPolicy(ws)
	tip, err := ws.Ledger.Tip()
	if err != nil {
		t.Fatal(err)
	}
	pin := tip.Trust.PolicyBundle
	deny := func() {
		t.Helper()
		w.commitRoot("deny all", "040000 tree "+w.mktree("100644 blob "+w.blob(denyAllSrc)+"\tp.rego")+"\tpolicy")
	}

	// Between the digest and the compile.
	at, err := ws.readPolicyAt(ws.MainRef())
	if err != nil || at.bundle != pin {
		t.Fatalf("read: %+v %v", at, err)
	}
	deny()
	b, err := at.forPin(pin)
	if err != nil || b.Blake3().String() != pin {
		t.Fatalf("compiled after main moved: %v", err)
	}
	w.git("reset", "-q", "--hard", "HEAD@{1}")

	// Between two plans of one run.
	gate := ws.policyGate(ws.MainRef(), "")
	for i, m := range []*MadePlan{m1, m2} {
		pol, err := gate(ctx, m.Plan, apply.Input{Bytes: m.Bytes, Plan: m.Plan}, tip)
		if err != nil || pol.Result != receipt.PolicyPass || pol.Blake3.String() != pin {
			t.Fatalf("plan %d: %+v %v", i, pol, err)
		}
		deny()
	}
	// A new run reads the deny-all and judges nothing with it.
	if _, err := ws.policyGate(ws.MainRef(), "")(ctx, m2.Plan, apply.Input{Bytes: m2.Bytes, Plan: m2.Plan}, tip); !errors.As(err, new(*PolicyPinError)) {
		t.Fatalf("a new run: %v", err)
	}
}
