package main

// End-to-end tests of trust changes and key handling (issue 6): the
// co-signature flow (propose, cosign, apply) under a 2-of-2 admin threshold,
// keys list --at/--json and its sumdb/note verifier keys, and signing through
// a real ssh-agent. They use TestMain's binary and keys (e2e_test.go).

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/vmc-git/vmc-git/internal/canon"
	"github.com/vmc-git/vmc-git/internal/sshagenttest"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/receipt"
)

// initRepo is newRepo with the given init flags (after DIR and --ledger).
func initRepo(t *testing.T, extraEnv []string, initArgs ...string) *repo {
	t.Helper()
	dir := t.TempDir()
	r := &repo{t: t, root: filepath.Join(dir, "infra"), env: append(isolatedEnv(dir, "SSH_AUTH_SOCK"), "VMC_SANDBOX_ACTION_MS=20")}
	r.env = append(r.env, extraEnv...)
	r.must(append([]string{"init", r.root, "--ledger", testLedgerID, "--provider", "sandbox", "--no-policy"}, initArgs...)...)
	r.git("config", "user.name", "Test")
	r.git("config", "user.email", "test@example.com")
	return r
}

// keygen makes a key pair with vmc-git keygen and returns the private key path.
func keygen(t *testing.T, dir, kid string) string {
	t.Helper()
	p := filepath.Join(dir, kid)
	if out, err := exec.Command(vmcBin, "keygen", "--kid", kid, "--out", p).CombinedOutput(); err != nil {
		t.Fatalf("keygen %s: %v\n%s", kid, err, out)
	}
	return p
}

// keyRow is one key of keys list --json.
type keyRow struct {
	KID         string      `json:"kid"`
	Roles       []keys.Role `json:"roles"`
	Fingerprint string      `json:"fingerprint"`
	PublicKey   string      `json:"public_key"`
	ValidAfter  string      `json:"valid_after"`
	ValidBefore string      `json:"valid_before"`
	Status      string      `json:"status"`
	Reason      string      `json:"reason"`
	AddedSeq    uint64      `json:"added_seq"`
	NoteKey     string      `json:"note_verifier_key"`
}

func (r *repo) keysList(args ...string) map[string]keyRow {
	r.t.Helper()
	var out struct {
		Policy keys.Policy `json:"policy"`
		Keys   []keyRow    `json:"keys"`
	}
	if err := json.Unmarshal([]byte(r.must(append([]string{"keys", "list", "--json"}, args...)...)), &out); err != nil {
		r.t.Fatal(err)
	}
	m := map[string]keyRow{}
	for _, k := range out.Keys {
		m[k.KID+"/"+k.Fingerprint] = k
		m[k.KID] = k // the last binding of kid
	}
	return m
}

// allowedSigners writes the tip's keys/allowed_signers to a file.
func (r *repo) allowedSigners() string {
	r.t.Helper()
	as := filepath.Join(r.t.TempDir(), "allowed_signers")
	if err := os.WriteFile(as, []byte(r.must("keys", "export-allowed-signers")), 0o644); err != nil {
		r.t.Fatal(err)
	}
	if got := r.git("show", "refs/heads/vmc/ledger:keys/allowed_signers"); got+"\n" != r.must("keys", "export-allowed-signers") {
		r.t.Fatalf("export-allowed-signers differs from keys/allowed_signers:\n%s", got)
	}
	return as
}

// verifyCommits runs git verify-commit on every ledger commit with as and
// checks each is a good signature by the kid of its author.
func (r *repo) verifyCommits(as string) {
	r.t.Helper()
	for _, c := range strings.Fields(r.git("rev-list", "refs/heads/vmc/ledger")) {
		out := r.git("-c", "gpg.format=ssh", "-c", "gpg.ssh.allowedSignersFile="+as, "verify-commit", "-v", c)
		kid := r.git("log", "-1", "--format=%ae", c)
		if !strings.Contains(out, `Good "git" signature for `+kid+` `) {
			r.t.Fatalf("git verify-commit %s: %s", c, out)
		}
	}
}

// sshVerify runs ssh-keygen -Y verify of sig over msg.
func sshVerify(t *testing.T, as, kid, ns string, msg, sig []byte) {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "m"), msg, 0o644)
	os.WriteFile(filepath.Join(dir, "m.sig"), sig, 0o644)
	cmd := exec.Command("sh", "-c", "ssh-keygen -Y verify -f "+as+" -I "+kid+" -n "+ns+" -s m.sig < m")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), `Good "`+ns+`" signature for `+kid) {
		t.Fatalf("ssh-keygen -Y verify (%s, %s): %v\n%s", kid, ns, err, out)
	}
}

// TestKeysThreshold: a 2-of-2 trust change through propose, cosign and
// apply; a lone admin and a stale proposal are refused; keys list --at and
// --json; the note verifier key checks a merkle checkpoint.
func TestKeysThreshold(t *testing.T) {
	t.Parallel()
	kd := t.TempDir()
	dave, erin := keygen(t, kd, "dave"), keygen(t, kd, "erin")
	r := initRepo(t, nil, "--key", key("alice"), "--roles", "admin,applier", "--admin-threshold", "2",
		"--operator", "dave:admin:"+dave+".pub", "--operator", "bob:approver:"+key("bob")+".pub")
	head0 := r.ledgerHead()

	// The one-step command refuses under a threshold of 2.
	res := r.run("keys", "trust", erin+".pub", "--kid", "erin", "--role", "approver", "--key", key("alice"))
	checkError(t, res, exitRefused, "trust changes need 2 admin signatures", "vmc-git: hint: vmc-git keys propose trust")

	ch := filepath.Join(t.TempDir(), "change.json")
	if out := r.must("keys", "propose", "trust", erin+".pub", "--kid", "erin", "--role", "approver", "-o", ch); !strings.Contains(out, "needs 2 admin signatures") {
		t.Fatalf("propose: %s", out)
	}
	if out := r.must("keys", "cosign", ch, "--key", key("alice")); !strings.Contains(out, "co-signed as alice: 1 of 2 admin signatures") {
		t.Fatalf("cosign: %s", out)
	}
	// A lone admin cannot apply it.
	res = r.run("keys", "apply", ch, "--key", key("alice"))
	checkError(t, res, exitRefused, "vmc-git: error: trust change refused: 1 admin signatures (alice), admin_threshold is 2",
		"vmc-git: hint: each admin runs vmc-git keys cosign FILE until 2 admins have signed")
	if r.ledgerHead() != head0 {
		t.Fatal("a refused apply moved the ledger")
	}
	// An approver's signature would not count.
	res = r.run("keys", "cosign", ch, "--key", key("bob"))
	checkError(t, res, exitRefused, "your signature would not count: key bob has roles [approver], needs admin")
	r.must("keys", "cosign", ch, "--key", dave)
	var change receipt.KeysChange
	b, _ := os.ReadFile(ch)
	if err := json.Unmarshal(b, &change); err != nil || len(change.Signatures) != 2 || change.Signatures[0].KID != "alice" || change.Signatures[1].KID != "dave" {
		t.Fatalf("proposal file: %v %s", err, b)
	}
	if out := r.must("keys", "apply", ch, "--key", dave); !strings.Contains(out, "receipt 1 (keys)") {
		t.Fatalf("apply: %s", out)
	}
	r.verify(2)

	// A stale proposal: signed against the trust state at receipt 1, and
	// another trust change landed (a receipt of another kind would not
	// matter: proposals are based on the trust state).
	ch2 := filepath.Join(t.TempDir(), "change2.json")
	r.must("keys", "propose", "revoke", "erin", "--reason", "retired", "-o", ch2)
	r.must("keys", "cosign", ch2, "--key", key("alice"))
	r.must("keys", "cosign", ch2, "--key", dave)
	ch3 := filepath.Join(t.TempDir(), "change3.json")
	var pj struct {
		File      string          `json:"file"`
		Threshold int             `json:"threshold"`
		Proposal  json.RawMessage `json:"proposal"`
	}
	if out := r.must("keys", "propose", "policy", "--approvals-required", "2", "-o", ch3, "--json"); json.Unmarshal([]byte(out), &pj) != nil ||
		pj.File != ch3 || pj.Threshold != 2 || len(pj.Proposal) == 0 {
		t.Fatalf("keys propose --json: %+v\n%s", pj, out)
	}
	var cj struct {
		File       string `json:"file"`
		KID        string `json:"kid"`
		Signatures int    `json:"signatures"`
		Threshold  int    `json:"threshold"`
	}
	if out := r.must("keys", "cosign", ch3, "--key", key("alice"), "--json"); json.Unmarshal([]byte(out), &cj) != nil ||
		cj.File != ch3 || cj.KID != "alice" || cj.Signatures != 1 || cj.Threshold != 2 {
		t.Fatalf("keys cosign --json: %+v\n%s", cj, out)
	}
	r.must("keys", "cosign", ch3, "--key", dave)
	r.must("keys", "apply", ch3, "--key", key("alice"))
	res = r.run("keys", "apply", ch2, "--key", key("alice"))
	checkError(t, res, exitRefused, "the proposal was made against trust state", "the trust state has changed since (receipt 2)",
		"vmc-git: hint: another trust change landed: propose the change again and collect the signatures again")
	res = r.run("keys", "cosign", ch2, "--key", key("alice"))
	checkError(t, res, exitRefused, "the proposal was made against ledger", "propose the change again")
	r.verify(3)

	// keys list: now and at receipt 0.
	now := r.keysList()
	if e := now["erin"]; e.Status != keys.StatusActive || !slices.Equal(e.Roles, []keys.Role{keys.RoleApprover}) || e.AddedSeq != 1 ||
		!strings.HasPrefix(e.Fingerprint, "SHA256:") || e.ValidAfter == "" || e.ValidBefore != "" || !strings.HasPrefix(e.NoteKey, "erin+") {
		t.Fatalf("keys list: erin %+v", e)
	}
	at0 := r.keysList("--at", "0")
	if _, ok := at0["erin"]; ok || len(at0) != 6 { // alice, dave, bob: by kid and by kid/fingerprint
		t.Fatalf("keys list --at 0: %v", at0)
	}
	text := r.must("keys", "list", "--at", "1")
	for _, want := range []string{"approvals_required 1, admin_threshold 2", "erin", "approver", now["erin"].Fingerprint, "active"} {
		if !strings.Contains(text, want) {
			t.Fatalf("keys list --at 1 does not say %q:\n%s", want, text)
		}
	}
	checkError(t, r.run("keys", "list", "--at", "9"), exitNotFound)

	// The note verifier key from keys list checks a checkpoint made by
	// merkle receipts, with golang.org/x/mod/sumdb/note itself.
	snap := filepath.Join(t.TempDir(), "merkle.json")
	r.must("merkle", "receipts", "--key", key("alice"), "--out", snap)
	var m struct {
		Checkpoint string `json:"checkpoint"`
		LeafCount  uint64 `json:"leaf_count"`
	}
	b, _ = os.ReadFile(snap)
	if err := json.Unmarshal(b, &m); err != nil || m.LeafCount != 3 {
		t.Fatalf("snapshot: %v %s", err, b)
	}
	v, err := note.NewVerifier(now["alice"].NoteKey)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open([]byte(m.Checkpoint), note.VerifierList(v))
	if err != nil {
		t.Fatalf("checkpoint with alice's verifier key: %v", err)
	}
	if !strings.HasPrefix(n.Text, testLedgerID+"\n3\n") || len(n.Sigs) != 1 || n.Sigs[0].Name != "alice" {
		t.Fatalf("checkpoint note: %+v", n)
	}
	other, _ := note.NewVerifier(now["dave"].NoteKey)
	if _, err := note.Open([]byte(m.Checkpoint), note.VerifierList(other)); err == nil {
		t.Fatal("dave's verifier key accepts alice's checkpoint")
	}
	r.verifyCommits(r.allowedSigners())
}

// startAgent starts a real ssh-agent on a socket of its own and returns
// SSH_AUTH_SOCK; the agent is killed when the test ends.
func startAgent(t *testing.T) string {
	t.Helper()
	return sshagenttest.Start(t, []string{"PATH=" + os.Getenv("PATH")})
}

// TestSSHAgentSigning: with only .pub files and SSH_AUTH_SOCK, every
// signature (ledger commits, receipts, keys co-signatures, plan approvals,
// the snapshot tag and its checkpoint) is made by the agent, and stock git
// and ssh-keygen verify them.
func TestSSHAgentSigning(t *testing.T) {
	t.Parallel()
	sock := startAgent(t)
	// Copies of the private keys go into the agent and are then deleted:
	// nothing but the agent can sign.
	priv, pubs := t.TempDir(), t.TempDir()
	for _, kid := range []string{"alice", "bob"} {
		b, err := os.ReadFile(key(kid))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(priv, kid), b, 0o600)
		b, _ = os.ReadFile(key(kid) + ".pub")
		os.WriteFile(filepath.Join(pubs, kid+".pub"), b, 0o644)
		add := exec.Command("ssh-add", filepath.Join(priv, kid))
		add.Env = []string{"PATH=" + os.Getenv("PATH"), "SSH_AUTH_SOCK=" + sock}
		if out, err := add.CombinedOutput(); err != nil {
			t.Fatalf("ssh-add: %v\n%s", err, out)
		}
	}
	os.RemoveAll(priv)
	pub := func(kid string) string { return filepath.Join(pubs, kid+".pub") }
	erin := keygen(t, t.TempDir(), "erin")

	r := initRepo(t, []string{"SSH_AUTH_SOCK=" + sock}, "--key", pub("alice"), "--roles", "admin,applier",
		"--operator", "bob:approver:"+pub("bob"), "--operator", "carol:applier:"+key("carol")+".pub")
	r.must("record", "--summary", "signed by ssh-agent", "--key", pub("alice"))
	r.plan("web-1-create", "create", "web-1", "--type", "cx22", "--image", "ubuntu-24.04", "--location", "fsn1")
	r.must("approve", r.planFile("web-1-create"), "--key", pub("bob"))
	r.commit("plan web-1-create")
	r.must("apply", "--plan", r.planFile("web-1-create"), "--key", pub("alice"))
	r.must("keys", "trust", erin+".pub", "--kid", "erin", "--role", "approver", "--key", pub("alice"))
	snap := filepath.Join(t.TempDir(), "merkle.json")
	r.must("merkle", "receipts", "--tag", "--key", pub("alice"), "--out", snap)
	r.verify(4)

	as := r.allowedSigners()
	r.verifyCommits(as)
	out := r.git("-c", "gpg.format=ssh", "-c", "gpg.ssh.allowedSignersFile="+as, "tag", "-v", "vmc/merkle/4")
	if !strings.Contains(out, `Good "git" signature for alice`) {
		t.Fatalf("git tag -v: %s", out)
	}
	for seq := uint64(0); seq < 4; seq++ {
		p := receipt.PathIn(receipt.DefaultFormat, seq)
		body := []byte(r.git("show", "refs/heads/vmc/ledger:"+p))
		sshVerify(t, as, "alice", keys.NamespaceReceipt, body, []byte(r.git("show", "refs/heads/vmc/ledger:"+p+receipt.SigSuffix)+"\n"))
		if seq == 3 {
			rc, err := receipt.Parse(body)
			if err != nil || rc.Keys == nil || len(rc.Keys.Signatures) != 1 {
				t.Fatalf("receipt 3: %v", err)
			}
			pm, _ := canon.Marshal(rc.Keys.Proposal)
			sshVerify(t, as, "alice", keys.NamespaceKeys, pm, []byte(rc.Keys.Signatures[0].Sig))
		}
	}
	plan, _ := os.ReadFile(r.planFile("web-1-create"))
	approval, _ := os.ReadFile(filepath.Join(r.root, "plans", "web-1-create.approvals", "bob.sig"))
	sshVerify(t, as, "bob", keys.NamespacePlan, plan, approval)
	var m struct {
		Checkpoint string `json:"checkpoint"`
	}
	b, _ := os.ReadFile(snap)
	json.Unmarshal(b, &m)
	v, _ := note.NewVerifier(r.keysList()["alice"].NoteKey)
	if _, err := note.Open([]byte(m.Checkpoint), note.VerifierList(v)); err != nil {
		t.Fatalf("checkpoint signed through the agent: %v", err)
	}

	// Rotation through the agent: keys list shows both bindings of carol;
	// --at 3 shows the trust before it; old commits still verify with git.
	oldCarol := r.keysList()["carol"]
	carol2 := keygen(t, t.TempDir(), "carol")
	r.must("keys", "rotate", "carol", "--new-key", carol2+".pub", "--key", pub("alice"))
	r.verify(5)
	after := r.keysList()
	was, cur := after["carol/"+oldCarol.Fingerprint], after["carol"]
	if was.Status != keys.StatusRotated || was.ValidBefore == "" || cur.Status != keys.StatusActive || cur.Fingerprint == oldCarol.Fingerprint ||
		cur.AddedSeq != 4 || !slices.Equal(cur.Roles, oldCarol.Roles) {
		t.Fatalf("keys list after rotation: old %+v, new %+v", was, cur)
	}
	if before := r.keysList("--at", "3"); before["carol"].Status != keys.StatusActive || before["carol"].Fingerprint != oldCarol.Fingerprint {
		t.Fatalf("keys list --at 3: %+v", before["carol"])
	}
	r.verifyCommits(r.allowedSigners())

	// Without the agent, the .pub alone cannot sign.
	res := r.runEnv([]string{"SSH_AUTH_SOCK="}, "record", "--summary", "no agent", "--key", pub("alice"))
	checkError(t, res, exitUsage, "is a public key: set SSH_AUTH_SOCK to an ssh-agent that holds its private half")
	res = r.run("record", "--summary", "not in the agent", "--key", erin+".pub")
	checkError(t, res, exitUsage, "ssh-agent does not hold the key of")
}
