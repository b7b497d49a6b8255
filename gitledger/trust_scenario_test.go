package gitledger

// Trust scenarios (issue 6). Each scenario builds a real ledger, first shows
// that the writer (Append, Init) refuses the bad receipt, then writes it
// anyway with forge, which is writeReceipt without its trust checks (the
// package's own tree, message and commit encoders, signed by the key that
// would sign it), and checks that Verify names the broken rule with its exact
// message.
//
// Then, for every commit of the scenario's ledger, it compares two verdicts:
//
//   - vmc-git: Verify (with signatures) of the chain ending at that commit
//     succeeds and the full chain's Report does not list it as invalidated;
//   - git: git verify-commit with gpg.format=ssh and, as allowed signers,
//     keys/allowed_signers of the last commit vmc-git accepts (the ledger's
//     trust state; a forged commit's own keys/ is not trusted).
//
// Every commit is honestly dated (created_at as Append would date it) unless
// a case says otherwise. The two agree on every commit whose fault is in who
// signed it or when (role, revocation, rotation, validity). They disagree,
// by design, on a commit signed by a trusted admin or applier whose receipt
// body breaks a rule (too few co-signatures, a kid bound twice, an approval
// by a non-approver): git sees only the commit signature. For those the
// embedded signature is checked with ssh-keygen -Y verify where a signature is
// the fault. And git, which trusts the signer's clock, accepts a commit
// backdated into an old key's validity that vmc-git (trust in seq order)
// rejects.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vmc-git/vmc-git/internal/canon"
	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/internal/gitobj"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/receipt"
	"github.com/vmc-git/vmc-git/trust"
)

// scenario is one ledger and the keys of its operators. Keys are named by
// file: alice, alice-new (alice's replacement key, comment alice), bob,
// carol, dave.
type scenario struct {
	t    *testing.T
	dir  string
	l    *Ledger
	key  map[string]*keys.Signer
	path map[string]string
}

func newScenario(t *testing.T, genesisAt time.Time, p keys.Policy, specs func(x *scenario) []keys.KeySpec) *scenario {
	t.Helper()
	dir := t.TempDir()
	run(t, dir, "git", "init", "-q", "-b", "main")
	x := &scenario{t: t, dir: dir, key: map[string]*keys.Signer{}, path: map[string]string{}}
	kdir := t.TempDir()
	for _, name := range []string{"alice", "alice-new", "bob", "carol", "dave"} {
		kid, _, _ := strings.Cut(name, "-")
		priv, pub, err := keys.Generate(kid)
		if err != nil {
			t.Fatal(err)
		}
		x.path[name] = filepath.Join(kdir, name)
		if err := keys.WriteKeyPair(x.path[name], priv, pub); err != nil {
			t.Fatal(err)
		}
		if x.key[name], err = keys.LoadFile(x.path[name]); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	if x.l, err = Open(dir, ""); err != nil {
		t.Fatal(err)
	}
	if specs == nil {
		return x
	}
	g := receipt.Genesis{Keys: specs(x), Policy: p}
	if _, err := x.l.Init(testLedgerID, x.key["alice"], "alice", g, genesisAt); err != nil {
		t.Fatal(err)
	}
	return x
}

// spec is the KeySpec of key name under kid.
func (x *scenario) spec(name, kid string, roles ...keys.Role) keys.KeySpec {
	return keys.KeySpec{KID: kid, PublicKey: keys.FormatPublicKey(x.key[name].PublicKey()), Roles: roles}
}

func (x *scenario) fp(name string) string { return keys.Fingerprint(x.key[name].PublicKey()) }

func (x *scenario) tip() *Tip {
	x.t.Helper()
	tip, err := x.l.Tip()
	if err != nil {
		x.t.Fatal(err)
	}
	return tip
}

// branch returns the scenario on another ledger branch that starts at c.
func (x *scenario) branch(name string, c plumbing.Hash) *scenario {
	x.t.Helper()
	run(x.t, x.dir, "git", "update-ref", "refs/heads/"+name, c.String())
	l, err := Open(x.dir, name)
	if err != nil {
		x.t.Fatal(err)
	}
	cp := *x
	cp.l = l
	return &cp
}

// appendDraft is Append of d by key name as kid.
func (x *scenario) appendDraft(name, kid string, d Draft) (*Written, error) {
	return x.l.Append(x.key[name], kid, func(*Tip) (*Draft, error) { cp := d; return &cp, nil })
}

func (x *scenario) mustAppend(name, kid string, d Draft) *Written {
	x.t.Helper()
	w, err := x.appendDraft(name, kid, d)
	if err != nil {
		x.t.Fatal(err)
	}
	return w
}

// refused checks that the writer refuses d with exactly want.
func (x *scenario) refused(name, kid string, d Draft, want string) {
	x.t.Helper()
	before := x.tip().Commit
	_, err := x.appendDraft(name, kid, d)
	if err == nil || err.Error() != want {
		x.t.Fatalf("Append by %s: %v\nwant error %q", name, err, want)
	}
	if x.tip().Commit != before {
		x.t.Fatal("a refused Append moved the ledger branch")
	}
}

func manual(summary string) Draft {
	return Draft{Receipt: receipt.Receipt{Kind: receipt.KindManual, Summary: summary, Manual: &receipt.Manual{}}}
}

// proposal is a trust change against the current tip.
func (x *scenario) proposal(op string, kid string, key *keys.KeySpec) receipt.Proposal {
	tip := x.tip()
	return receipt.Proposal{V: receipt.Version, Ledger: tip.Head.Ledger, Base: tip.Head.Blake3, Op: op, KID: kid, Key: key}
}

// cosig is key name's co-signature of p, labelled kid.
func (x *scenario) cosig(name, kid string, p receipt.Proposal) receipt.Cosig {
	x.t.Helper()
	msg, err := canon.Marshal(p)
	if err != nil {
		x.t.Fatal(err)
	}
	sig, err := x.key[name].Sign(keys.NamespaceKeys, msg)
	if err != nil {
		x.t.Fatal(err)
	}
	return receipt.Cosig{KID: kid, Sig: string(sig)}
}

func keysDraft(summary string, p receipt.Proposal, sigs ...receipt.Cosig) Draft {
	return Draft{Receipt: receipt.Receipt{Kind: receipt.KindKeys, Summary: summary,
		Keys: &receipt.KeysChange{Proposal: p, Signatures: sigs}}}
}

// applyDraft is an apply receipt for plan id with approvals by approvers
// (kid -> key name).
func (x *scenario) applyDraft(id string, approvers map[string]string) Draft {
	x.t.Helper()
	plan, err := canon.Marshal(map[string]any{"id": id, "ledger": testLedgerID, "note": "trust scenario plan"})
	if err != nil {
		x.t.Fatal(err)
	}
	sums := digest.Of(plan)
	pc := &PlanCopy{Bytes: plan, Approvals: map[string][]byte{}}
	var kids []string
	for kid, name := range approvers {
		if pc.Approvals[kid], err = x.key[name].Sign(keys.NamespacePlan, plan); err != nil {
			x.t.Fatal(err)
		}
		kids = append(kids, kid)
	}
	slices.Sort(kids)
	return Draft{Plan: pc, Receipt: receipt.Receipt{Kind: receipt.KindApply, Summary: "apply " + id,
		Apply: &receipt.Apply{
			Plan: receipt.PlanRef{ID: id, Path: receipt.PlanPath(id), Blake3: sums.Blake3, SHA256: sums.SHA256, Approvals: kids},
			Actions: []receipt.ActionRecord{{Action: json.RawMessage(`{"op":"noop"}`),
				Result: json.RawMessage(`{"status":"succeeded"}`)}},
		}}}
}

// honestTime is created_at as writeReceipt picks it: now, never before the
// previous receipt, and past the valid-before of keys ended (not as
// compromised) before it.
func honestTime(tip *Tip) time.Time {
	created := time.Now().UTC().Truncate(time.Second)
	if tip.Empty() {
		return created
	}
	if prev, err := keys.ParseTime(tip.Head.CreatedAt); err == nil && created.Before(prev) {
		created = prev
	}
	for _, e := range tip.Trust.Keys() {
		if e.Status != keys.StatusActive && e.Reason != receipt.ReasonCompromised && created.Before(e.ValidUntil()) {
			created = e.ValidUntil()
		}
	}
	return created
}

// forge writes d on top of the tip the way writeReceipt does, signed
// (receipt and commit) by key name as kid, but without any trust check and
// without validating the receipt. keys/ holds after(before, r) for a keys
// or genesis receipt (nil: the trust state is unchanged). It returns the
// receipt written and moves the branch to its commit.
func (x *scenario) forge(name, kid string, d Draft, after func(before *keys.Trust, r *receipt.Receipt) (*keys.Trust, error)) *receipt.Receipt {
	x.t.Helper()
	tip, err := x.l.Tip()
	if errors.Is(err, ErrNoLedger) {
		tip, err = &Tip{}, nil
	}
	if err != nil {
		x.t.Fatal(err)
	}
	r := d.Receipt
	r.V, r.KID = receipt.Version, kid
	if !tip.Empty() {
		r.Ledger, r.Seq, r.PrevBlake3 = tip.Head.Ledger, tip.Head.Seq+1, tip.Head.Blake3
	}
	if r.CreatedAt == "" {
		r.CreatedAt = keys.FormatTime(honestTime(tip))
	}
	body, err := canon.Marshal(&r)
	if err != nil {
		x.t.Fatal(err)
	}
	trust := tip.Trust
	if after != nil {
		if trust, err = after(tip.Trust, &r); err != nil {
			x.t.Fatalf("forge: trust after: %v", err)
		}
	}
	s := x.key[name]
	sig, err := s.Sign(keys.NamespaceReceipt, body)
	if err != nil {
		x.t.Fatal(err)
	}
	head, err := receipt.HeadIn(x.l.formatAfter(tip), &r, digest.Of(body)).Encode()
	if err != nil {
		x.t.Fatal(err)
	}
	tree, _, err := x.l.writeTree(tip, &r, body, sig, head, trust, d.Plan, x.l.objs.Put)
	if err != nil {
		x.t.Fatal(err)
	}
	c := gitobj.CommitInfo{Tree: tree, Parent: tip.Commit, Ident: Ident + " <" + kid + ">", When: r.Time().Unix(), Message: Message(&r, digest.Of(body).Blake3)}
	csig, err := s.Sign(keys.NamespaceGit, c.Encode(false))
	if err != nil {
		x.t.Fatal(err)
	}
	c.Signature = string(csig)
	commit, err := x.l.objs.Put(plumbing.CommitObject, c.Encode(true))
	if err != nil {
		x.t.Fatal(err)
	}
	if err := x.l.casRef(tip.Commit, commit); err != nil {
		x.t.Fatal(err)
	}
	return &r
}

func applyUnsigned(before *keys.Trust, r *receipt.Receipt) (*keys.Trust, error) {
	return trust.ApplyKeysUnsigned(before, r)
}

// rejects checks that Verify fails at seq with rule and exactly msg.
func (x *scenario) rejects(seq uint64, rule, msg string) {
	x.t.Helper()
	_, err := x.l.Verify(VerifyOptions{Signatures: true})
	var ve *VerifyError
	if !errors.As(err, &ve) {
		x.t.Fatalf("Verify: %v, want a *VerifyError", err)
	}
	if ve.Seq != seq || ve.Rule != rule || ve.Error() != msg {
		x.t.Fatalf("Verify: receipt %d, rule %s: %q\nwant receipt %d, rule %s: %q", ve.Seq, ve.Rule, ve.Error(), seq, rule, msg)
	}
}

// verdict is what vmc-git and git say of one commit.
type verdict struct {
	vmc, git bool
}

func (v verdict) String() string {
	s := func(ok bool) string {
		if ok {
			return "ok"
		}
		return "bad"
	}
	return s(v.vmc) + "/" + s(v.git)
}

// gitVerify runs git verify-commit with allowed signers file as.
func (x *scenario) gitVerify(as string, c plumbing.Hash) (bool, string) {
	cmd := exec.Command("git", "-c", "gpg.format=ssh", "-c", "gpg.ssh.allowedSignersFile="+as, "verify-commit", c.String())
	cmd.Dir = x.dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+x.dir)
	out, err := cmd.CombinedOutput()
	return err == nil, strings.TrimSpace(string(out))
}

// sshVerify runs ssh-keygen -Y verify on an embedded signature.
func (x *scenario) sshVerify(as, kid, ns string, msg, sig []byte) (bool, string) {
	dir := x.t.TempDir()
	os.WriteFile(filepath.Join(dir, "m"), msg, 0o644)
	os.WriteFile(filepath.Join(dir, "m.sig"), sig, 0o644)
	cmd := exec.Command("sh", "-c", "ssh-keygen -Y verify -f "+as+" -I "+kid+" -n "+ns+" -s m.sig < m")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return err == nil, strings.TrimSpace(string(out))
}

// verdicts compares vmc-git and git on every commit of the branch, and
// returns the allowed signers file used.
func (x *scenario) verdicts(want string) string {
	x.t.Helper()
	ref, err := x.l.repo.Storer.Reference(x.l.Ref)
	if err != nil {
		x.t.Fatal(err)
	}
	chain, err := x.l.Chain(ref.Hash())
	if err != nil {
		x.t.Fatal(err)
	}
	invalid := map[uint64]bool{}
	if rep, err := x.l.Verify(VerifyOptions{Signatures: true}); err == nil {
		for _, iv := range rep.Invalidated {
			invalid[iv.Seq] = true
		}
	}
	probe := "vmc/probe-" + strings.ReplaceAll(x.l.Ref.Short(), "/", "-")
	vs := make([]verdict, len(chain))
	lastGood := -1
	for i, c := range chain {
		pl := x.branch(probe, c).l
		_, err := pl.Verify(VerifyOptions{Signatures: true})
		vs[i].vmc = err == nil && !invalid[uint64(i)]
		if err == nil && lastGood == i-1 {
			lastGood = i
		}
	}
	if lastGood < 0 {
		x.t.Fatal("no commit verifies")
	}
	as := filepath.Join(x.t.TempDir(), "allowed_signers")
	if err := os.WriteFile(as, []byte(run(x.t, x.dir, "git", "show", chain[lastGood].String()+":keys/allowed_signers")), 0o644); err != nil {
		x.t.Fatal(err)
	}
	var got []string
	for i, c := range chain {
		var out string
		vs[i].git, out = x.gitVerify(as, c)
		got = append(got, vs[i].String())
		x.t.Logf("receipt %d: vmc-git/git %s; git: %s", i, vs[i], strings.ReplaceAll(out, "\n", " | "))
	}
	if g := strings.Join(got, " "); g != want {
		b, _ := os.ReadFile(as)
		x.t.Fatalf("verdicts (vmc-git/git per receipt)\n have %s\n want %s\nallowed_signers:\n%s", g, want, b)
	}
	return as
}

func (x *scenario) file(c plumbing.Hash, path string) []byte {
	x.t.Helper()
	return []byte(run(x.t, x.dir, "git", "show", c.String()+":"+path))
}

var (
	oneAdmin = keys.Policy{ApprovalsRequired: 1, AdminThreshold: 1}
	twoAdmin = keys.Policy{ApprovalsRequired: 1, AdminThreshold: 2}
)

func now() time.Time { return time.Now().UTC().Truncate(time.Second) }

// TestScenarioLoneAdmin: one admin alone tries to add a key under 2-of-2.
func TestScenarioLoneAdmin(t *testing.T) {
	t.Parallel()
	x := newScenario(t, now(), twoAdmin, func(x *scenario) []keys.KeySpec {
		return []keys.KeySpec{x.spec("alice", "alice", keys.RoleAdmin, keys.RoleApplier),
			x.spec("bob", "bob", keys.RoleAdmin), x.spec("carol", "carol", keys.RoleApprover)}
	})
	dave := x.spec("dave", "dave", keys.RoleApplier)
	p := x.proposal(receipt.KeysTrust, "", &dave)
	lone := keysDraft("trust dave as applier", p, x.cosig("alice", "alice", p))
	const msg = "1 admin signatures (alice), admin_threshold is 2"
	x.refused("alice", "alice", lone, msg)
	genesis := x.tip().Commit
	x.forge("alice", "alice", lone, applyUnsigned)
	x.forge("dave", "dave", manual("dave signs as if trusted"), nil)
	x.rejects(1, RuleKeys, "receipt 1: "+msg)
	// git checks who signed the keys commit (alice, an admin), not how many
	// admins co-signed its receipt; dave is not in the trusted allowed_signers.
	x.verdicts("ok/ok bad/ok bad/bad")

	// Control: with bob's co-signature the same change is written and verifies.
	y := x.branch("vmc/control", genesis)
	y.mustAppend("alice", "alice", keysDraft("trust dave as applier", p, x.cosig("alice", "alice", p), x.cosig("bob", "bob", p)))
	y.mustAppend("dave", "dave", manual("dave, trusted by two admins"))
	y.verdicts("ok/ok ok/ok ok/ok")
}

// TestScenarioApproverSignsApply: an approver signs an apply receipt.
func TestScenarioApproverSignsApply(t *testing.T) {
	t.Parallel()
	x := newScenario(t, now(), oneAdmin, func(x *scenario) []keys.KeySpec {
		return []keys.KeySpec{x.spec("alice", "alice", keys.RoleAdmin),
			x.spec("bob", "bob", keys.RoleApprover), x.spec("carol", "carol", keys.RoleApplier)}
	})
	x.mustAppend("carol", "carol", x.applyDraft("p0", map[string]string{"bob": "bob"}))
	d := x.applyDraft("p1", map[string]string{"bob": "bob"})
	x.refused("bob", "bob", d, "cannot sign a apply receipt: key bob has roles [approver], needs applier")
	x.forge("bob", "bob", d, nil)
	x.rejects(2, RuleTrust, "receipt 2: apply receipt: key bob has roles [approver], needs applier")
	as := x.verdicts("ok/ok ok/ok bad/bad")
	// bob's approval of p0 (namespace vmc-plan) is good for ssh-keygen too.
	c1 := x.tip().Commit
	if ok, out := x.sshVerify(as, "bob", keys.NamespacePlan, x.file(c1, "plans/p1.json"), x.file(c1, "plans/p1.approvals/bob.sig")); !ok {
		t.Fatalf("ssh-keygen rejects bob's approval: %s", out)
	}
}

// TestScenarioRevokedKey: a revoked key signs after revocation; and a key
// revoked as compromised from a time invalidates what it signed since.
func TestScenarioRevokedKey(t *testing.T) {
	t.Parallel()
	specs := func(x *scenario) []keys.KeySpec {
		return []keys.KeySpec{x.spec("alice", "alice", keys.RoleAdmin, keys.RoleApplier, keys.RoleApprover),
			x.spec("carol", "carol", keys.RoleApplier)}
	}
	t.Run("retired", func(t *testing.T) {
		t.Parallel()
		x := newScenario(t, now(), oneAdmin, specs)
		x.mustAppend("carol", "carol", manual("carol, trusted"))
		p := x.proposal(receipt.KeysRevoke, "carol", nil)
		p.Reason = receipt.ReasonRetired
		x.mustAppend("alice", "alice", keysDraft("revoke carol (retired)", p, x.cosig("alice", "alice", p)))
		x.refused("carol", "carol", manual("carol, revoked"), "cannot sign a manual receipt: key carol was revoked at receipt 2")
		x.forge("carol", "carol", manual("carol, revoked"), nil)
		x.rejects(3, RuleTrust, "receipt 3: manual receipt: key carol was revoked at receipt 2")
		x.verdicts("ok/ok ok/ok ok/ok bad/bad")
	})
	t.Run("compromised", func(t *testing.T) {
		t.Parallel()
		t0 := now().Add(-time.Hour)
		x := newScenario(t, t0, oneAdmin, specs)
		for i, m := range []int{10, 20} {
			d := manual(fmt.Sprintf("carol %d", i+1))
			d.Receipt.CreatedAt = keys.FormatTime(t0.Add(time.Duration(m) * time.Minute))
			x.mustAppend("carol", "carol", d)
		}
		from := keys.FormatTime(t0.Add(20 * time.Minute))
		p := x.proposal(receipt.KeysRevoke, "carol", nil)
		p.Reason, p.At = receipt.ReasonCompromised, from
		x.mustAppend("alice", "alice", keysDraft("revoke carol (compromised)", p, x.cosig("alice", "alice", p)))
		rep, err := x.l.Verify(VerifyOptions{Signatures: true})
		if err != nil {
			t.Fatal(err)
		}
		want := []Invalidated{{Seq: 2, KID: "carol", RevokedBy: 3, Compromise: from}}
		if !slices.Equal(rep.Invalidated, want) {
			t.Fatalf("invalidated %+v, want %+v", rep.Invalidated, want)
		}
		// Receipt 2 verified when written, and is reported invalidated; git,
		// with carol's valid-before just before the compromise, rejects it.
		x.verdicts("ok/ok ok/ok bad/bad ok/ok")
	})
}

// TestScenarioBeforeValidAfter: a key signs before its valid-after.
func TestScenarioBeforeValidAfter(t *testing.T) {
	t.Parallel()
	x := newScenario(t, now(), oneAdmin, func(x *scenario) []keys.KeySpec {
		return []keys.KeySpec{x.spec("alice", "alice", keys.RoleAdmin, keys.RoleApplier, keys.RoleApprover)}
	})
	va := keys.FormatTime(now().Add(time.Hour))
	dave := x.spec("dave", "dave", keys.RoleApplier)
	dave.ValidAfter = va
	p := x.proposal(receipt.KeysTrust, "", &dave)
	x.mustAppend("alice", "alice", keysDraft("trust dave from "+va, p, x.cosig("alice", "alice", p)))
	_, err := x.appendDraft("dave", "dave", manual("dave, too early"))
	if want := "cannot sign a manual receipt: key dave is not valid before " + va + " (signed at "; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("Append by dave: %v, want %q…", err, want)
	}
	r := x.forge("dave", "dave", manual("dave, too early"), nil)
	x.rejects(2, RuleTrust, fmt.Sprintf("receipt 2: manual receipt: key dave is not valid before %s (signed at %s)", va, r.CreatedAt))
	x.verdicts("ok/ok ok/ok bad/bad")
}

// TestScenarioApplierApprovesOwnPlan: the applier key approves the plan it
// applies.
func TestScenarioApplierApprovesOwnPlan(t *testing.T) {
	t.Parallel()
	x := newScenario(t, now(), oneAdmin, func(x *scenario) []keys.KeySpec {
		return []keys.KeySpec{x.spec("alice", "alice", keys.RoleAdmin),
			x.spec("bob", "bob", keys.RoleApprover), x.spec("carol", "carol", keys.RoleApplier)}
	})
	x.forge("carol", "carol", x.applyDraft("p1", map[string]string{"carol": "carol"}), nil)
	x.rejects(1, RulePlan, "receipt 1: plan p1: approval: key carol has roles [applier], needs approver")
	// git sees carol, a trusted applier, sign the commit; ssh-keygen refuses
	// carol's approval: her key may not sign in namespace vmc-plan.
	as := x.verdicts("ok/ok bad/ok")
	c := x.tip().Commit
	if ok, out := x.sshVerify(as, "carol", keys.NamespacePlan, x.file(c, "plans/p1.json"), x.file(c, "plans/p1.approvals/carol.sig")); ok {
		t.Fatalf("ssh-keygen accepts an approval by an applier key: %s", out)
	}
}

// TestScenarioRotation: an admin rotates a key; old receipts still verify,
// new ones with the old key fail, also when backdated into its validity.
func TestScenarioRotation(t *testing.T) {
	t.Parallel()
	all := []keys.Role{keys.RoleAdmin, keys.RoleApplier, keys.RoleApprover}
	x := newScenario(t, now(), oneAdmin, func(x *scenario) []keys.KeySpec {
		return []keys.KeySpec{x.spec("alice", "alice", all...)}
	})
	x.mustAppend("alice", "alice", manual("alice, old key"))
	next := x.spec("alice-new", "alice", all...)
	p := x.proposal(receipt.KeysRotate, "alice", &next)
	rot := x.mustAppend("alice", "alice", keysDraft("rotate alice", p, x.cosig("alice", "alice", p)))
	x.mustAppend("alice-new", "alice", manual("alice, new key"))
	x.refused("alice", "alice", manual("alice, old key again"),
		fmt.Sprintf("cannot sign a manual receipt: key alice is bound to %s, but the signature is by %s", x.fp("alice-new"), x.fp("alice")))
	x.forge("alice", "alice", manual("alice, old key again"), nil)
	bad := fmt.Sprintf("commit signature by %s, but alice is bound to %s", x.fp("alice"), x.fp("alice-new"))
	x.rejects(4, RuleTrust, "receipt 4: "+bad)
	x.verdicts("ok/ok ok/ok ok/ok ok/ok bad/bad")

	// Backdated: the old key signs right after the rotation, with the
	// rotation receipt's own time, inside the old key's allowed_signers
	// window. git, which trusts the commit's date, accepts it; vmc-git does
	// not, since at receipt 2 alice is already bound to the new key.
	y := x.branch("vmc/backdated", rot.Commit)
	d := manual("alice, old key, backdated")
	d.Receipt.CreatedAt = rot.Receipt.CreatedAt
	y.forge("alice", "alice", d, nil)
	y.rejects(3, RuleTrust, "receipt 3: "+bad)
	y.verdicts("ok/ok ok/ok ok/ok bad/ok")
}

// TestScenarioKIDBoundTwice: the same kid bound to two keys (and the same
// key to two kids).
func TestScenarioKIDBoundTwice(t *testing.T) {
	t.Parallel()
	x := newScenario(t, now(), oneAdmin, func(x *scenario) []keys.KeySpec {
		return []keys.KeySpec{x.spec("alice", "alice", keys.RoleAdmin, keys.RoleApprover), x.spec("carol", "carol", keys.RoleApplier)}
	})
	genesis := x.tip().Commit
	second := x.spec("dave", "carol", keys.RoleApplier)
	p := x.proposal(receipt.KeysTrust, "", &second)
	d := keysDraft("trust a second key as carol", p, x.cosig("alice", "alice", p))
	msg := "key id carol is already bound to key " + x.fp("carol")
	x.refused("alice", "alice", d, msg)
	x.forge("alice", "alice", d, nil) // no trust state can hold it: keys/ unchanged
	x.forge("dave", "carol", manual("dave's key signing as carol"), nil)
	x.rejects(1, RuleKeys, "receipt 1: "+msg)
	x.verdicts("ok/ok bad/ok bad/bad")

	t.Run("one key, two kids", func(t *testing.T) {
		y := x.branch("vmc/twokids", genesis)
		y.t = t
		again := y.spec("carol", "dave", keys.RoleApplier)
		p := y.proposal(receipt.KeysTrust, "", &again)
		d := keysDraft("trust carol's key again as dave", p, y.cosig("alice", "alice", p))
		msg := "key dave: the same public key is already trusted as carol"
		y.refused("alice", "alice", d, msg)
		y.forge("alice", "alice", d, nil)
		y.rejects(1, RuleKeys, "receipt 1: "+msg)
	})
	t.Run("genesis", func(t *testing.T) {
		z := newScenario(t, now(), oneAdmin, nil)
		g := receipt.Genesis{Keys: []keys.KeySpec{z.spec("alice", "alice", keys.RoleAdmin, keys.RoleApplier, keys.RoleApprover),
			z.spec("dave", "alice", keys.RoleAdmin)}, Policy: oneAdmin}
		msg := "receipt 0: genesis: key id alice is already bound to key " + z.fp("alice")
		if _, err := z.l.Init(testLedgerID, z.key["alice"], "alice", g, now()); err == nil || err.Error() != msg {
			t.Fatalf("Init: %v, want %q", err, msg)
		}
		z.forge("alice", "alice", Draft{Receipt: receipt.Receipt{Ledger: testLedgerID, Kind: receipt.KindGenesis,
			Summary: "genesis of " + testLedgerID, Genesis: &g}}, func(_ *keys.Trust, r *receipt.Receipt) (*keys.Trust, error) {
			return keys.NewTrust(g.Keys[:1], g.Policy, r.Time())
		})
		z.rejects(0, RuleCanonical, "receipt 0: "+receipt.PathIn(receipt.DefaultFormat, 0)+": "+msg)
	})
}

// TestScenarioOneKeyTwoSignatures: a 2-of-2 threshold met by two signatures
// from one key.
func TestScenarioOneKeyTwoSignatures(t *testing.T) {
	t.Parallel()
	x := newScenario(t, now(), twoAdmin, func(x *scenario) []keys.KeySpec {
		return []keys.KeySpec{x.spec("alice", "alice", keys.RoleAdmin, keys.RoleApplier),
			x.spec("bob", "bob", keys.RoleAdmin), x.spec("carol", "carol", keys.RoleApprover)}
	})
	genesis := x.tip().Commit
	dave := x.spec("dave", "dave", keys.RoleApplier)
	p := x.proposal(receipt.KeysTrust, "", &dave)
	asBob := x.cosig("alice", "bob", p) // alice's key, labelled bob
	d := keysDraft("trust dave as applier", p, x.cosig("alice", "alice", p), asBob)
	msg := fmt.Sprintf("co-signature by bob: signature: made by key %s, want %s", x.fp("alice"), x.fp("bob"))
	x.refused("alice", "alice", d, msg)
	x.forge("alice", "alice", d, applyUnsigned)
	x.forge("dave", "dave", manual("dave signs as if trusted"), nil)
	x.rejects(1, RuleKeys, "receipt 1: "+msg)
	as := x.verdicts("ok/ok bad/ok bad/bad")
	// ssh-keygen, like vmc-git, refuses the co-signature labelled bob.
	pm, _ := canon.Marshal(p)
	if ok, out := x.sshVerify(as, "bob", keys.NamespaceKeys, pm, []byte(asBob.Sig)); ok {
		t.Fatalf("ssh-keygen accepts alice's key as bob: %s", out)
	}
	if ok, out := x.sshVerify(as, "alice", keys.NamespaceKeys, pm, []byte(x.cosig("alice", "alice", p).Sig)); !ok {
		t.Fatalf("ssh-keygen rejects alice's co-signature: %s", out)
	}

	t.Run("same kid twice", func(t *testing.T) {
		y := x.branch("vmc/samekid", genesis)
		y.t = t
		d := keysDraft("trust dave as applier", p, y.cosig("alice", "alice", p), y.cosig("alice", "alice", p))
		msg := "receipt 1: keys: signatures must be sorted by kid, one per kid"
		y.refused("alice", "alice", d, msg)
		y.forge("alice", "alice", d, applyUnsigned)
		y.rejects(1, RuleCanonical, "receipt 1: "+receipt.PathIn(receipt.DefaultFormat, 1)+": "+msg)
	})
	t.Run("two kids, one key", func(t *testing.T) {
		// No keys receipt can bind one key to two active kids (see
		// TestScenarioKIDBoundTwice); CheckCosigs still refuses to count a
		// key twice in a trust state that did.
		tr := x.tip().Trust
		b, err := tr.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var f map[string]any
		json.Unmarshal(b, &f)
		ks := f["keys"].([]any)
		twin := map[string]any{}
		for k, v := range ks[0].(map[string]any) {
			twin[k] = v
		}
		twin["kid"] = "alice2"
		f["keys"] = append(ks, twin)
		b, _ = json.Marshal(f)
		var tw keys.Trust
		if err := tw.UnmarshalJSON(b); err != nil {
			t.Fatal(err)
		}
		pm, _ := canon.Marshal(p)
		sigs := []receipt.Cosig{x.cosig("alice", "alice", p), x.cosig("alice", "alice2", p)}
		err = trust.CheckCosigs(&tw, pm, sigs, now())
		if want := "co-signatures by alice and alice2 are the same key"; err == nil || err.Error() != want {
			t.Fatalf("CheckCosigs: %v, want %q", err, want)
		}
	})
}
