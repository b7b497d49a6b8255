package gitledger

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hiddeco/sshsig"

	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/receipt"
)

// The tamper tests build a small real ledger for each case, change it with
// the real git binary (cat-file, hash-object, mktree, commit-tree -S with an
// SSH key, update-ref) the way an attacker with write access to the
// repository would, and check that Verify names the broken rule with an
// error of its own. Where a case needs every other rule to hold, the forged
// objects are made exactly as vmc-git makes them and signed by the
// legitimate key, so only the rule under test can catch them.

// tamperKeys are the keys of the tamper ledgers: alice holds every role,
// bob is only an approver, carol an applier until an hour after genesis,
// and mallory is not trusted at all.
type tamperKeys struct {
	path    map[string]string // kid -> private key file
	signer  map[string]*keys.Signer
	genesis time.Time
}

func newTamperKeys(t *testing.T) *tamperKeys {
	dir := t.TempDir()
	k := &tamperKeys{path: map[string]string{}, signer: map[string]*keys.Signer{},
		genesis: time.Now().UTC().Truncate(time.Second)}
	for _, kid := range []string{"alice", "bob", "carol", "mallory"} {
		k.signer[kid], k.path[kid] = testKey(t, dir, kid)
	}
	return k
}

func (k *tamperKeys) genesisBody() receipt.Genesis {
	carol := spec(k.signer["carol"], "carol", keys.RoleApplier)
	carol.ValidBefore = keys.FormatTime(k.genesis.Add(time.Hour))
	return receipt.Genesis{Keys: []keys.KeySpec{
		spec(k.signer["alice"], "alice", keys.RoleAdmin, keys.RoleApplier, keys.RoleApprover),
		spec(k.signer["bob"], "bob", keys.RoleApprover),
		carol,
	}, Policy: keys.Policy{ApprovalsRequired: 1, AdminThreshold: 1}}
}

// tamperEnv is one case's ledger (receipts 0..4, all by alice) and the git
// tools to change it.
type tamperEnv struct {
	t     *testing.T
	dir   string
	l     *Ledger
	k     *tamperKeys
	chain []string // commit of each receipt, by seq
	opt   VerifyOptions
}

// path is where receipt seq is in x's ledger (tamper ledgers are format 1
// unless tamperFormat says otherwise).
func (x *tamperEnv) path(seq uint64) string { return receipt.PathIn(x.l.formatOrDefault(), seq) }

// leafDir is the directory of receipts 0..9, with a trailing slash.
func (x *tamperEnv) leafDir() string { return strings.TrimSuffix(x.path(0), "000000000.json") }

// tamperFormat is the ledger format newTamperLedger makes.
var tamperFormat = receipt.Format1

// newTamperLedger is newLedger with the tamper keys: a genesis by alice and
// n manual receipts, in ledger id.
func newTamperLedger(t *testing.T, k *tamperKeys, id string, n int) *tamperEnv {
	t.Helper()
	dir := t.TempDir()
	run(t, dir, "git", "init", "-q", "-b", "main")
	l, err := Open(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	l.Format = tamperFormat
	if _, err := l.Init(id, k.signer["alice"], "alice", k.genesisBody(), k.genesis); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		appendManual(t, l, k.signer["alice"], "alice", "maintenance")
	}
	x := &tamperEnv{t: t, dir: dir, l: l, k: k}
	x.chain = strings.Fields(x.git(nil, "rev-list", "--reverse", "--first-parent", x.ref()))
	if len(x.chain) != n+1 {
		t.Fatalf("%d commits, want %d", len(x.chain), n+1)
	}
	if _, err := l.Verify(VerifyOptions{Signatures: true}); err != nil {
		t.Fatalf("untampered ledger: %v", err)
	}
	return x
}

// clone copies the ledger's repository, so that each case tampers with its
// own real ledger without paying for appending it again.
func (x *tamperEnv) clone(t *testing.T) *tamperEnv {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("cp", "-a", x.dir+"/.", dir).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	l, err := Open(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	l.Format = x.l.Format
	return &tamperEnv{t: t, dir: dir, l: l, k: x.k, chain: x.chain}
}

func (x *tamperEnv) ref() string { return x.l.Ref.String() }

// git runs git in the repository and returns its trimmed stdout.
func (x *tamperEnv) git(stdin []byte, args ...string) string {
	return x.gitEnv(nil, stdin, args...)
}

func (x *tamperEnv) gitEnv(env []string, stdin []byte, args ...string) string {
	x.t.Helper()
	return strings.TrimSuffix(string(x.cmd(env, stdin, "git", args...)), "\n")
}

func (x *tamperEnv) cmd(env []string, stdin []byte, name string, args ...string) []byte {
	x.t.Helper()
	c := exec.Command(name, args...)
	c.Dir = x.dir
	c.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+x.dir)
	c.Env = append(c.Env, env...)
	c.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		x.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.Bytes())
	}
	return out
}

// file returns the content of path in commit c.
func (x *tamperEnv) file(c, path string) []byte {
	return x.cmd(nil, nil, "git", "cat-file", "blob", c+":"+path)
}

// blob writes content as a blob and returns its id.
func (x *tamperEnv) blob(content []byte) string {
	return x.git(content, "hash-object", "-w", "--stdin")
}

// edit returns tree with path set to the blob id (or removed if id is ""),
// rewriting the trees on the path with git ls-tree and git mktree.
func (x *tamperEnv) edit(tree, path, id string) string {
	name, rest, sub := strings.Cut(path, "/")
	var lines []string
	found := false
	for _, line := range strings.Split(x.git(nil, "ls-tree", tree), "\n") {
		if line == "" {
			continue
		}
		meta, n, _ := strings.Cut(line, "\t")
		if n != name {
			lines = append(lines, line)
			continue
		}
		found = true
		f := strings.Fields(meta)
		switch {
		case sub:
			lines = append(lines, "040000 tree "+x.edit(f[2], rest, id)+"\t"+name)
		case id != "":
			lines = append(lines, "100644 blob "+id+"\t"+name)
		}
	}
	if !found && id != "" {
		if sub {
			lines = append(lines, "040000 tree "+x.edit(x.git(nil, "mktree"), rest, id)+"\t"+name)
		} else {
			lines = append(lines, "100644 blob "+id+"\t"+name)
		}
	}
	in := strings.Join(lines, "\n")
	if in != "" {
		in += "\n"
	}
	return x.git([]byte(in), "mktree")
}

// editFiles applies edits (path -> content, nil removes) to commit c's tree.
func (x *tamperEnv) editFiles(tree string, edits map[string][]byte) string {
	for path, content := range edits {
		id := ""
		if content != nil {
			id = x.blob(content)
		}
		tree = x.edit(tree, path, id)
	}
	return tree
}

// commitParts is what git commit-tree needs to (re)create a ledger commit.
type commitParts struct {
	tree    string
	parents []string // nil: the previous commit of the rechain
	kid     string   // author and committer e-mail
	date    string   // "@<unix> +0000"
	msg     string
	signer  string // kid whose key signs the commit; "" means the kid; "-" leaves it unsigned
}

// parts reads commit c back into commitParts.
func (x *tamperEnv) parts(c string) commitParts {
	raw := x.git(nil, "cat-file", "commit", c)
	head, msg, _ := strings.Cut(raw, "\n\n")
	p := commitParts{msg: msg + "\n"}
	for _, line := range strings.Split(head, "\n") {
		k, v, _ := strings.Cut(line, " ")
		switch k {
		case "tree":
			p.tree = v
		case "author":
			m := regexp.MustCompile(`^vmc-git <([^>]+)> (\d+) \+0000$`).FindStringSubmatch(v)
			if m == nil {
				x.t.Fatalf("commit %s: author %q", c, v)
			}
			p.kid, p.date = m[1], "@"+m[2]+" +0000"
		}
	}
	return p
}

// commit writes p with git commit-tree, signed with the signer's SSH key
// through git's own gpg.format=ssh support.
func (x *tamperEnv) commit(p commitParts, parent string) string {
	x.t.Helper()
	args := []string{"-c", "gpg.format=ssh"}
	signer := p.signer
	if signer == "" {
		signer = p.kid
	}
	if signer != "-" {
		args = append(args, "-c", "user.signingkey="+x.k.path[signer])
	}
	args = append(args, "commit-tree", p.tree)
	parents := p.parents
	if parents == nil && parent != "" {
		parents = []string{parent}
	}
	for _, pa := range parents {
		args = append(args, "-p", pa)
	}
	if signer != "-" {
		args = append(args, "-S")
	}
	env := []string{"GIT_AUTHOR_NAME=" + Ident, "GIT_AUTHOR_EMAIL=" + p.kid, "GIT_AUTHOR_DATE=" + p.date,
		"GIT_COMMITTER_NAME=" + Ident, "GIT_COMMITTER_EMAIL=" + p.kid, "GIT_COMMITTER_DATE=" + p.date}
	return x.gitEnv(env, []byte(p.msg), args...) // the message, verbatim, on stdin
}

// rechain writes ps one on top of the other, starting on base, and moves the
// ledger branch to the last one with git update-ref.
func (x *tamperEnv) rechain(base string, ps ...commitParts) string {
	x.t.Helper()
	c := base
	for _, p := range ps {
		c = x.commit(p, c)
	}
	x.setTip(c)
	return c
}

func (x *tamperEnv) setTip(c string) { x.git(nil, "update-ref", x.ref(), c) }

// tail returns the parts of the commits of receipts from..4.
func (x *tamperEnv) tail(from int) []commitParts {
	var ps []commitParts
	for _, c := range x.chain[from:] {
		ps = append(ps, x.parts(c))
	}
	return ps
}

// replaceAt rewrites the commit of receipt seq with change and re-creates
// the later commits on top of it, all signed by their legitimate key.
func (x *tamperEnv) replaceAt(seq int, change func(p *commitParts)) {
	ps := x.tail(seq)
	change(&ps[0])
	base := ""
	if seq > 0 {
		base = x.chain[seq-1]
	}
	x.rechain(base, ps...)
}

// editAt changes files in the commit of receipt seq (and re-chains).
func (x *tamperEnv) editAt(seq int, edits map[string][]byte) {
	x.replaceAt(seq, func(p *commitParts) { p.tree = x.editFiles(p.tree, edits) })
}

// receiptAt returns the bytes and parsed form of receipt seq.
func (x *tamperEnv) receiptAt(seq int) ([]byte, *receipt.Receipt) {
	b := x.file(x.chain[seq], x.path(uint64(seq)))
	r, err := receipt.Parse(b)
	if err != nil {
		x.t.Fatal(err)
	}
	return b, r
}

// sshSign signs msg with kid's key in namespace ns using ssh-keygen itself.
func (x *tamperEnv) sshSign(kid, ns string, msg []byte) []byte {
	return x.cmd(nil, msg, "ssh-keygen", "-q", "-Y", "sign", "-f", x.k.path[kid], "-n", ns)
}

// forge makes the commit vmc-git would write for receipt bytes body on top
// of base, everything (receipt .sig, HEAD.json, message, commit signature)
// made by signer, plus extra edits, and moves the branch to it. body need
// not be valid: HEAD.json and the message are derived from what encoding/json
// reads out of it.
func (x *tamperEnv) forge(base string, body []byte, signer string, extra map[string][]byte) string {
	x.t.Helper()
	var r receipt.Receipt
	if err := json.Unmarshal(body, &r); err != nil {
		x.t.Fatalf("forge: %v", err)
	}
	head, err := receipt.HeadIn(x.l.formatOrDefault(), &r, digest.Of(body)).Encode()
	if err != nil {
		x.t.Fatal(err)
	}
	edits := map[string][]byte{
		x.path(r.Seq):                     body,
		x.path(r.Seq) + receipt.SigSuffix: x.sshSign(signer, keys.NamespaceReceipt, body),
		HeadFile:                          head,
	}
	for k, v := range extra {
		edits[k] = v
	}
	p := commitParts{tree: x.editFiles(x.parts(base).tree, edits), kid: r.KID, signer: signer,
		date: fmt.Sprintf("@%d +0000", r.Time().Unix()), msg: Message(&r, digest.Of(body).Blake3)}
	return x.rechain(base, p)
}

// forgeTip replaces receipt 4 with a forged one made from the real receipt 4
// by change, re-encoded canonically.
func (x *tamperEnv) forgeTip(signer string, change func(r *receipt.Receipt)) {
	_, r := x.receiptAt(4)
	change(r)
	b, err := r.Encode()
	if err != nil {
		x.t.Fatal(err)
	}
	x.forge(x.chain[3], b, signer, nil)
}

// flip changes the byte at i of b to another byte of the same class (hex
// digit, letter, base64 character) so the flip keeps b well-formed and only
// its meaning changes.
func flip(b []byte, i int) []byte {
	out := bytes.Clone(b)
	if out[i] == 'a' {
		out[i] = 'b'
	} else {
		out[i] = 'a'
	}
	return out
}

type tamperCase struct {
	name    string
	rule    string
	seq     uint64
	msg     string // text only this case's error has
	sigOnly bool   // needs the cryptographic check (Signatures: true) to be seen
	tamper  func(x *tamperEnv)
}

var tamperCases = []tamperCase{
	{
		name: "receipt byte flipped", rule: RuleHead, seq: 2,
		msg: "receipts/000/000/000000002.json was changed: its blake3 is",
		tamper: func(x *tamperEnv) {
			b, _ := x.receiptAt(2)
			i := bytes.Index(b, []byte(`"summary":"maintenance"`)) + len(`"summary":"m`)
			x.editAt(2, map[string][]byte{x.path(2): flip(b, i)})
		},
	},
	{
		name: "receipt truncated", rule: RuleCanonical, seq: 4,
		msg: "receipts/000/000/000000004.json: json: unexpected end of input",
		tamper: func(x *tamperEnv) {
			b, _ := x.receiptAt(4)
			x.editAt(4, map[string][]byte{x.path(4): b[:len(b)-1]})
		},
	},
	{
		name: "receipt re-serialized non-canonically", rule: RuleCanonical, seq: 4,
		msg: "receipts/000/000/000000004.json: not in canonical JSON form (RFC 8785): first difference at byte 1",
		tamper: func(x *tamperEnv) {
			b, _ := x.receiptAt(4)
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, b, "", "  "); err != nil {
				x.t.Fatal(err)
			}
			x.forge(x.chain[3], pretty.Bytes(), "alice", nil)
		},
	},
	{
		name: "receipt with an unknown field", rule: RuleCanonical, seq: 4,
		msg: `unknown field "x"`,
		tamper: func(x *tamperEnv) {
			b, _ := x.receiptAt(4)
			b = append(b[:len(b)-1], `,"x":1}`...) // "x" sorts last: still canonical
			x.forge(x.chain[3], b, "alice", nil)
		},
	},
	{
		name: "receipt with a member name in another case", rule: RuleCanonical, seq: 4,
		msg: `receipt: json: unknown field "kiD" (field names are case-sensitive)`,
		tamper: func(x *tamperEnv) {
			// Canonical JSON, but encoding/json matches names without case:
			// another reader could take "kiD" for the signer.
			b, _ := x.receiptAt(4)
			b = bytes.Replace(b, []byte(`"kid":"alice"`), []byte(`"kiD":"mallory","kid":"alice"`), 1)
			x.forge(x.chain[3], b, "alice", nil)
		},
	},
	{
		name: "receipt invalid for its kind", rule: RuleCanonical, seq: 4,
		msg: "receipts/000/000/000000004.json: receipt 4: kind manual without its manual body",
		tamper: func(x *tamperEnv) {
			b, _ := x.receiptAt(4)
			b = bytes.Replace(b, []byte(`"manual":{},`), nil, 1)
			x.forge(x.chain[3], b, "alice", nil)
		},
	},
	{
		name: "receipt .sig byte flipped", rule: RuleSignature, seq: 4, sigOnly: true,
		msg: "receipt signature: signature: does not verify",
		tamper: func(x *tamperEnv) {
			p := x.path(4) + receipt.SigSuffix
			sig := x.file(x.chain[4], p)
			end := bytes.Index(sig, []byte("\n-----END"))
			x.editAt(4, map[string][]byte{p: flip(sig, end-12)}) // inside the Ed25519 signature
		},
	},
	{
		// Accepted by a lax parser (the appended bytes land in
		// ssh.Signature.Rest and re-marshal), refused by OpenSSH.
		name: "receipt .sig with bytes appended inside the signature blob", rule: RuleSignature, seq: 4,
		msg: "receipt signature receipts/000/000/000000004.json.sig: signature: 3 bytes after the signature inside the signature blob",
		tamper: func(x *tamperEnv) {
			p := x.path(4) + receipt.SigSuffix
			blk, _ := pem.Decode(x.file(x.chain[4], p))
			sig, err := sshsig.ParseSignature(blk.Bytes)
			if err != nil {
				x.t.Fatal(err)
			}
			sig.Signature.Rest = []byte{1, 2, 3}
			x.editAt(4, map[string][]byte{p: keys.Armor(sig)})
		},
	},
	{
		name: "receipt .sig truncated", rule: RuleSignature, seq: 4,
		msg: "receipt signature receipts/000/000/000000004.json.sig: signature: not an armored SSH signature",
		tamper: func(x *tamperEnv) {
			p := x.path(4) + receipt.SigSuffix
			sig := x.file(x.chain[4], p)
			x.editAt(4, map[string][]byte{p: sig[:len(sig)-10]})
		},
	},
	{
		name: "receipt .sig missing", rule: RuleTree, seq: 4,
		msg: "commit adds [000000004.json] to receipts/000/000/, want exactly 000000004.json and 000000004.json.sig",
		tamper: func(x *tamperEnv) {
			x.editAt(4, map[string][]byte{x.path(4) + receipt.SigSuffix: nil})
		},
	},
	{
		name: "receipt .sig by the right key in another namespace", rule: RuleSignature, seq: 4, sigOnly: true,
		msg: `receipt signature: signature: namespace "git", want "vmc-receipt"`,
		tamper: func(x *tamperEnv) {
			b, _ := x.receiptAt(4)
			x.editAt(4, map[string][]byte{x.path(4) + receipt.SigSuffix: x.sshSign("alice", keys.NamespaceGit, b)})
		},
	},
	{
		name: "receipt .sig by an untrusted key", rule: RuleTrust, seq: 4,
		msg: "receipt signature by SHA256:",
		tamper: func(x *tamperEnv) {
			b, _ := x.receiptAt(4)
			x.editAt(4, map[string][]byte{x.path(4) + receipt.SigSuffix: x.sshSign("mallory", keys.NamespaceReceipt, b)})
		},
	},
	{
		name: "HEAD.json byte flipped", rule: RuleHead, seq: 4,
		msg: "HEAD.json does not match the receipt",
		tamper: func(x *tamperEnv) {
			h := x.file(x.chain[4], HeadFile)
			x.editAt(4, map[string][]byte{HeadFile: flip(h, bytes.Index(h, []byte(`"blake3":"`))+12)})
		},
	},
	{
		// 16 MiB of [0,0,…] compresses to a 17 KB push; parsed, it once
		// cost the hook 1.3 GB. The size limit refuses it unread.
		name: "HEAD.json a 16 MiB memory bomb", rule: RuleHead, seq: 4,
		msg: "16777216 bytes, more than the limit of 4096",
		tamper: func(x *tamperEnv) {
			bomb := append(append([]byte("["), bytes.Repeat([]byte("0,"), (16<<20-4)/2)...), "0] "...)
			x.editAt(4, map[string][]byte{HeadFile: bomb})
		},
	},
	{
		name: "receipt a 2 MiB memory bomb", rule: RuleTree, seq: 4,
		msg: "2097152 bytes, more than the limit of 1048576",
		tamper: func(x *tamperEnv) {
			bomb := append(append([]byte("["), bytes.Repeat([]byte("0,"), (2<<20-4)/2)...), "0] "...)
			x.editAt(4, map[string][]byte{x.path(4): bomb})
		},
	},
	{
		name: "HEAD.json missing", rule: RuleHead, seq: 4,
		msg: "no file HEAD.json",
		tamper: func(x *tamperEnv) {
			x.editAt(4, map[string][]byte{HeadFile: nil})
		},
	},
	{
		name: "trailer Vmc-Blake3 flipped", rule: RuleMessage, seq: 4,
		msg: "commit message Vmc-Blake3 ",
		tamper: func(x *tamperEnv) {
			x.replaceAt(4, func(p *commitParts) {
				i := strings.Index(p.msg, TrailerBlake3+": ") + len(TrailerBlake3) + 3
				p.msg = string(flip([]byte(p.msg), i))
			})
		},
	},
	{
		name: "trailer Vmc-Seq changed", rule: RuleMessage, seq: 4,
		msg: "commit message: Vmc-Seq: Vmc-Seq 3 differs from the subject's 4",
		tamper: func(x *tamperEnv) {
			x.replaceAt(4, func(p *commitParts) { p.msg = strings.Replace(p.msg, TrailerSeq+": 4", TrailerSeq+": 3", 1) })
		},
	},
	{
		name: "trailer Vmc-Kid changed", rule: RuleMessage, seq: 4,
		msg: "commit message does not match the receipt",
		tamper: func(x *tamperEnv) {
			x.replaceAt(4, func(p *commitParts) { p.msg = strings.Replace(p.msg, TrailerKid+": alice", TrailerKid+": bob", 1) })
		},
	},
	{
		name: "commit time differs from the receipt", rule: RuleCommit, seq: 4,
		msg: "is not the commit vmc-git writes for this receipt",
		tamper: func(x *tamperEnv) {
			x.replaceAt(4, func(p *commitParts) {
				n, _ := strconv.ParseInt(strings.Fields(strings.TrimPrefix(p.date, "@"))[0], 10, 64)
				p.date = fmt.Sprintf("@%d +0000", n+1)
			})
		},
	},
	{
		name: "commit unsigned", rule: RuleSignature, seq: 4,
		msg: "commit signature: unsigned",
		tamper: func(x *tamperEnv) {
			x.replaceAt(4, func(p *commitParts) { p.signer = "-" })
		},
	},
	{
		name: "commit signature byte flipped", rule: RuleSignature, seq: 4, sigOnly: true,
		msg: "commit signature: signature: does not verify",
		tamper: func(x *tamperEnv) {
			raw := x.cmd(nil, nil, "git", "cat-file", "commit", x.chain[4])
			end := bytes.Index(raw, []byte("\n -----END"))
			x.setTip(x.git(flip(raw, end-12), "hash-object", "-t", "commit", "-w", "--stdin"))
			x.stockGitRejects()
		},
	},
	{
		name: "commit signed by an untrusted key over correct content", rule: RuleTrust, seq: 4,
		msg: "commit signature by SHA256:",
		tamper: func(x *tamperEnv) {
			x.replaceAt(4, func(p *commitParts) { p.signer = "mallory" })
			x.stockGitRejects()
		},
	},
	{
		name: "receipt and commit by an untrusted key", rule: RuleTrust, seq: 4,
		msg: "manual receipt: key mallory is not trusted",
		tamper: func(x *tamperEnv) {
			x.forgeTip("mallory", func(r *receipt.Receipt) { r.KID = "mallory" })
		},
	},
	{
		name: "valid receipt by a key without the role", rule: RuleTrust, seq: 4,
		msg: "manual receipt: key bob has roles [approver], needs admin or applier",
		tamper: func(x *tamperEnv) {
			x.forgeTip("bob", func(r *receipt.Receipt) { r.KID = "bob" })
		},
	},
	{
		name: "valid receipt by a key after its valid-before", rule: RuleTrust, seq: 4,
		msg: "manual receipt: key carol is not valid after",
		tamper: func(x *tamperEnv) {
			x.forgeTip("carol", func(r *receipt.Receipt) {
				r.KID, r.CreatedAt = "carol", keys.FormatTime(x.k.genesis.Add(2*time.Hour))
			})
		},
	},
	{
		name: "created_at goes backwards", rule: RuleTime, seq: 4,
		msg: "is before receipt 3's",
		tamper: func(x *tamperEnv) {
			x.forgeTip("alice", func(r *receipt.Receipt) { r.CreatedAt = keys.FormatTime(r.Time().Add(-time.Hour)) })
		},
	},
	{
		name: "receipt from another ledger replayed", rule: RuleLedger, seq: 4,
		msg: `ledger "github.com/acme/other", want "github.com/acme/infra" (receipt from another ledger)`,
		tamper: func(x *tamperEnv) {
			other := newTamperLedger(x.t, x.k, "github.com/acme/other", 4)
			b, _ := other.receiptAt(4) // validly signed by alice, for the other ledger
			x.forge(x.chain[3], b, "alice", nil)
		},
	},
	{
		name: "receipt replayed from earlier in the ledger", rule: RulePrev, seq: 4,
		msg: "prev_blake3 mismatch",
		tamper: func(x *tamperEnv) {
			// Receipt 4 of the same ledger re-made with receipt 2's prev_blake3:
			// as if an old receipt's content were replayed at the tip.
			_, r2 := x.receiptAt(2)
			x.forgeTip("alice", func(r *receipt.Receipt) { r.PrevBlake3 = r2.PrevBlake3 })
		},
	},
	{
		name: "commit deleted", rule: RuleSeq, seq: 2,
		msg: "HEAD.json says seq 3, want 2: receipt 2 is missing (commit deleted)",
		tamper: func(x *tamperEnv) {
			x.rechain(x.chain[1], x.tail(3)...)
		},
	},
	{
		name: "commits reordered", rule: RuleSeq, seq: 2,
		msg: "HEAD.json says seq 3, want 2: receipt 2 comes later in the chain (commits reordered)",
		tamper: func(x *tamperEnv) {
			ps := x.tail(2)
			ps[0], ps[1] = ps[1], ps[0]
			x.rechain(x.chain[1], ps...)
		},
	},
	{
		name: "commit duplicated", rule: RuleSeq, seq: 3,
		msg: "repeats receipt 2 (duplicated commit)",
		tamper: func(x *tamperEnv) {
			x.rechain(x.chain[2], x.tail(2)...)
		},
	},
	{
		name: "commit inserted", rule: RuleSeq, seq: 3,
		msg: "HEAD.json says seq 2, want 3: a second, different receipt 2",
		tamper: func(x *tamperEnv) {
			x.setTip(x.chain[1])
			w := appendManual(x.t, x.l, x.k.signer["alice"], "alice", "inserted")
			x.rechain(w.Commit.String(), x.tail(2)...)
		},
	},
	{
		name: "commit changes a second file (an older receipt)", rule: RuleTree, seq: 4,
		msg: "commit changes or removes older receipts in receipts/000/000/",
		tamper: func(x *tamperEnv) {
			b, _ := x.receiptAt(1)
			x.editAt(4, map[string][]byte{x.path(1): bytes.Replace(b, []byte("maintenance"), []byte("nothing"), 1)})
		},
	},
	{
		name: "commit adds a file at the root", rule: RuleTree, seq: 4,
		msg: "commit adds README.md, which a ledger tree does not have",
		tamper: func(x *tamperEnv) {
			x.editAt(4, map[string][]byte{"README.md": []byte("hello\n")})
		},
	},
	{
		name: "non-receipt file beside the receipts", rule: RuleTree, seq: 4,
		msg: "commit adds [000000004.json 000000004.json.sig notes.txt] to receipts/000/000/",
		tamper: func(x *tamperEnv) {
			x.editAt(4, map[string][]byte{x.leafDir() + "notes.txt": []byte("hello\n")})
		},
	},
	{
		name: "non-receipt file under receipts/", rule: RuleTree, seq: 4,
		msg: "commit adds unexpected entries under receipts/",
		tamper: func(x *tamperEnv) {
			x.editAt(4, map[string][]byte{"receipts/README": []byte("hello\n")})
		},
	},
	{
		name: "directory smuggled in under the name HEAD.json", rule: RuleTree, seq: 4,
		msg: `tree: duplicate entry "HEAD.json"`,
		tamper: func(x *tamperEnv) {
			// git mktree accepts a file and a directory of the same name
			// (they sort apart: "HEAD.json" < "HEAD.json/"); git fsck calls
			// it duplicateEntries. A lookup by name sees only the file.
			x.replaceAt(4, func(p *commitParts) {
				smuggled := x.editFiles(x.git(nil, "mktree"), map[string][]byte{"payload": []byte("anything\n")})
				root := x.git(nil, "ls-tree", p.tree) + "\n040000 tree " + smuggled + "\t" + HeadFile + "\n"
				p.tree = x.git([]byte(root), "mktree")
			})
		},
	},
	{
		name: "plans/ changed by a manual receipt", rule: RuleTree, seq: 4,
		msg: "a manual receipt changes plans/ (only apply receipts add plans)",
		tamper: func(x *tamperEnv) {
			x.editAt(4, map[string][]byte{"plans/p1.json": []byte("{}")})
		},
	},
	{
		name: "keys/allowed_signers edited", rule: RuleTree, seq: 4,
		msg: "a manual receipt changes keys/ (only keys receipts change trust)",
		tamper: func(x *tamperEnv) {
			as := x.file(x.chain[4], "keys/allowed_signers")
			mallory := "mallory " + keys.FormatPublicKey(x.k.signer["mallory"].PublicKey()) + "\n"
			x.editAt(4, map[string][]byte{"keys/allowed_signers": append(as, mallory...)})
		},
	},
	{
		name: "keys/allowed_signers edited at genesis", rule: RuleKeys, seq: 0,
		msg: "keys/ does not hold the trust state derived from the ledger",
		tamper: func(x *tamperEnv) {
			as := x.file(x.chain[0], "keys/allowed_signers")
			mallory := "mallory " + keys.FormatPublicKey(x.k.signer["mallory"].PublicKey()) + "\n"
			x.editAt(0, map[string][]byte{"keys/allowed_signers": append(as, mallory...)})
		},
	},
	{
		name: "merge commit", rule: RuleParent, seq: 4,
		msg: "is a merge commit (2 parents)",
		tamper: func(x *tamperEnv) {
			side := x.gitEnv([]string{"GIT_AUTHOR_NAME=m", "GIT_AUTHOR_EMAIL=m@x", "GIT_COMMITTER_NAME=m", "GIT_COMMITTER_EMAIL=m@x"},
				nil, "commit-tree", x.git(nil, "mktree"), "-m", "side")
			x.replaceAt(4, func(p *commitParts) { p.parents = []string{x.chain[3], side} })
		},
	},
	{
		name: "genesis differs from the pin", rule: RuleGenesis, seq: 0,
		msg: "differs from the pinned",
		tamper: func(x *tamperEnv) {
			_, r0 := x.receiptAt(0)
			b0, _ := r0.Encode()
			pin := digest.Of(b0).Blake3
			x.opt.Genesis = &pin
			// A new ledger of the same id, same key, made a minute later.
			x.git(nil, "update-ref", "-d", x.ref())
			if _, err := x.l.Init(testLedgerID, x.k.signer["alice"], "alice", x.k.genesisBody(), x.k.genesis.Add(time.Minute)); err != nil {
				x.t.Fatal(err)
			}
		},
	},
	{
		name: "branch rolled back", rule: RuleFork, seq: 4,
		msg: "it has 4 receipts, fewer than the verified 5",
		tamper: func(x *tamperEnv) {
			x.remember()
			x.setTip(x.chain[3])
		},
	},
	{
		name: "history rewritten from seq 3 with the legitimate key", rule: RuleFork, seq: 3,
		msg: "; chains fork at receipt 3",
		tamper: func(x *tamperEnv) {
			x.remember()
			x.setTip(x.chain[2])
			for i := 0; i < 3; i++ {
				appendManual(x.t, x.l, x.k.signer["alice"], "alice", "rewritten")
			}
			// The new chain is self-consistent: only the memory refuses it.
			if _, err := x.l.Verify(VerifyOptions{Signatures: true}); err != nil {
				x.t.Fatalf("rewritten chain without memory: %v", err)
			}
		},
	},
}

// stockGitRejects checks that git verify-commit, with the ledger's own
// allowed_signers, also refuses the tip commit while accepting its parent.
func (x *tamperEnv) stockGitRejects() {
	x.t.Helper()
	as := filepath.Join(x.t.TempDir(), "allowed_signers")
	if err := os.WriteFile(as, x.file(x.chain[3], "keys/allowed_signers"), 0o644); err != nil {
		x.t.Fatal(err)
	}
	verify := func(c string) ([]byte, error) {
		cmd := exec.Command("git", "-c", "gpg.format=ssh", "-c", "gpg.ssh.allowedSignersFile="+as, "verify-commit", c)
		cmd.Dir = x.dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+x.dir)
		return cmd.CombinedOutput()
	}
	if out, err := verify(x.chain[3]); err != nil {
		x.t.Fatalf("git verify-commit of an untouched commit: %v\n%s", err, out)
	}
	if out, err := verify(x.ref()); err == nil {
		x.t.Fatalf("git verify-commit accepts the tampered commit:\n%s", out)
	}
}

// remember verifies the untampered ledger so .git/vmc/ records its head.
func (x *tamperEnv) remember() {
	x.t.Helper()
	x.opt.Remember = true
	if _, err := x.l.Verify(VerifyOptions{Remember: true, Signatures: true}); err != nil {
		x.t.Fatal(err)
	}
	if v, err := x.l.LoadVerified(); err != nil || v == nil || v.Seq != 4 || v.Commit != x.chain[4] {
		x.t.Fatalf("remembered head %+v, %v", v, err)
	}
}

var (
	hexRE         = regexp.MustCompile(`\b[0-9a-f]{40}([0-9a-f]{24})?\b`)
	fingerprintRE = regexp.MustCompile(`SHA256:[A-Za-z0-9+/]{43}`)
)

// shape is an error message without its object ids, digests and key
// fingerprints, so that messages compare by what they say.
func shape(s string) string {
	return fingerprintRE.ReplaceAllString(hexRE.ReplaceAllString(s, "<id>"), "<key>")
}

func TestTamper(t *testing.T) { runTamper(t, func(tc tamperCase) string { return tc.msg }) }

// TestTamperFormat2 runs every tamper case on a format-2 ledger: the same
// rules and messages, with the format-2 paths.
func TestTamperFormat2(t *testing.T) {
	tamperFormat = receipt.Format2
	t.Cleanup(func() { tamperFormat = receipt.Format1 })
	runTamper(t, func(tc tamperCase) string {
		if m, ok := format2Messages[tc.msg]; ok {
			return m
		}
		return strings.ReplaceAll(tc.msg, "receipts/000/000/", "receipts/000/00/00/0/")
	})
}

// format2Messages are the errors format 2 words differently.
var format2Messages = map[string]string{
	"commit adds unexpected entries under receipts/": "commit changes receipts/ beyond receipts/000/",
}

func runTamper(t *testing.T, msgOf func(tamperCase) string) {
	k := newTamperKeys(t)
	base := newTamperLedger(t, k, testLedgerID, 4)
	var (
		mu     sync.Mutex
		shapes = map[string]string{}
	)
	for _, tc := range tamperCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			x := base.clone(t)
			tc.tamper(x)
			var msgs []string
			for _, sigs := range []bool{false, true} {
				opt := x.opt
				opt.Signatures = sigs
				_, err := x.l.Verify(opt)
				if tc.sigOnly && !sigs {
					// A structural verification cannot see a bad signature
					// over the right bytes: that is what --sig is for.
					if err != nil {
						t.Fatalf("Signatures=false: %v (a structural check catches it: drop sigOnly)", err)
					}
					continue
				}
				var ve *VerifyError
				if !errors.As(err, &ve) {
					t.Fatalf("Signatures=%v: got %v, want a *VerifyError", sigs, err)
				}
				if msg := msgOf(tc); ve.Rule != tc.rule || ve.Seq != tc.seq || !strings.Contains(err.Error(), msg) {
					t.Fatalf("Signatures=%v: got rule %s at receipt %d: %v\nwant rule %s at receipt %d with %q",
						sigs, ve.Rule, ve.Seq, err, tc.rule, tc.seq, msg)
				}
				msgs = append(msgs, shape(err.Error()))
			}
			if len(msgs) == 2 && msgs[0] != msgs[1] {
				t.Errorf("error differs with Signatures:\n false: %s\n  true: %s", msgs[0], msgs[1])
			}
			mu.Lock()
			defer mu.Unlock()
			if other, dup := shapes[msgs[0]]; dup {
				t.Errorf("same error as case %q: %s", other, msgs[0])
			}
			shapes[msgs[0]] = tc.name
			t.Logf("%s", msgs[0])
		})
	}
}

// TestTamperMessagesDistinct checks the cases themselves: each names a text
// no other case's error could match by accident.
func TestTamperMessagesDistinct(t *testing.T) {
	seen := map[string]string{}
	for _, tc := range tamperCases {
		if other, ok := seen[tc.rule+"|"+tc.msg]; ok {
			t.Errorf("cases %q and %q expect the same error", other, tc.name)
		}
		seen[tc.rule+"|"+tc.msg] = tc.name
		for _, o := range tamperCases {
			if o.name != tc.name && o.rule == tc.rule && strings.Contains(o.msg, tc.msg) {
				t.Errorf("case %q's text %q also matches case %q", tc.name, tc.msg, o.name)
			}
		}
	}
}
