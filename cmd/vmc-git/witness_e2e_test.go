package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/vmc-git/vmc-git/internal/litewitness"
	"github.com/vmc-git/vmc-git/keys"
	"github.com/vmc-git/vmc-git/merkle"
	"github.com/vmc-git/vmc-git/witness"
)

// witnessedRepo makes a ledger whose trust state names two real
// litewitness witnesses with witness_threshold 2, both registered for the
// ledger's origin with the snapshot signers' keys.
func witnessedRepo(t *testing.T) (*repo, *litewitness.Server, *litewitness.Server) {
	t.Helper()
	return witnessedRepoWith(t, repoOpts{})
}

// witnessedRepoWith is witnessedRepo with the repository options o.
func witnessedRepoWith(t *testing.T, o repoOpts) (*repo, *litewitness.Server, *litewitness.Server) {
	t.Helper()
	w1 := litewitness.Start(t, "witness.test/w1")
	w2 := litewitness.Start(t, "witness.test/w2")
	r := newRepo(t, o)
	var list struct {
		Origin  string   `json:"origin"`
		LogKeys []string `json:"log_keys"`
	}
	if err := json.Unmarshal([]byte(r.must("witness", "list", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	if list.Origin != testLedgerID || len(list.LogKeys) != 2 { // alice and carol sign snapshots
		t.Fatalf("witness list: %+v", list)
	}
	for _, w := range []*litewitness.Server{w1, w2} {
		w.AddLog(testLedgerID, list.LogKeys...)
		r.must("witness", "add", "--vkey", w.VKey, "--url", w.URL, "--key", key("alice"))
	}
	r.must("witness", "threshold", "2", "--key", key("alice"))
	return r, w1, w2
}

func (r *repo) record(summary string) {
	r.t.Helper()
	r.must("record", "--summary", summary, "--key", key("alice"))
}

// size returns the number of receipts.
func (r *repo) size() uint64 {
	r.t.Helper()
	var head struct {
		Seq uint64 `json:"seq"`
	}
	out := r.must("verify", "chain", "--no-remember", "--head")
	if err := json.Unmarshal([]byte(out[strings.LastIndex(out, "{"):]), &head); err != nil {
		r.t.Fatalf("head: %v\n%s", err, out)
	}
	return head.Seq + 1
}

// TestWitnessedSnapshots: end to end with two litewitness processes and a
// quorum of 2. Snapshots are cosigned by both; the tag message is a note
// the stock sumdb/note verifier opens; the hook accepts the tags; a fresh
// clone of a server that serves a rolled-back ledger (newer tags withheld)
// is refused when it holds the newest cosigned checkpoint or asks the
// witnesses; a fork is refused by the witnesses (no tag) and by verify; a
// witness that is down holds back the snapshot, not the ledger.
func TestWitnessedSnapshots(t *testing.T) {
	t.Parallel()
	r, w1, w2 := witnessedRepo(t)
	r.hookedOrigin()

	// Snapshot 1, cosigned by both witnesses.
	r.record("one")
	out := r.must("merkle", "receipts", "--tag", "--key", key("alice"))
	for _, w := range []string{"witness.test/w1", "witness.test/w2"} {
		if !strings.Contains(out, "cosigned by "+w) {
			t.Fatalf("snapshot not cosigned by %s:\n%s", w, out)
		}
	}
	n1 := r.size()
	tag1 := merkle.TagName(n1)
	msg := tagMessage(t, r, tag1)
	// Stock note code opens the tag message with the operator's key and both
	// witness keys: four signature lines (alice as kid and as origin, w1, w2).
	var list struct {
		LogKeys []string `json:"log_keys"`
	}
	json.Unmarshal([]byte(r.must("witness", "list", "--json")), &list)
	vs := []note.Verifier{}
	for _, k := range list.LogKeys {
		v, err := note.NewVerifier(k)
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	for _, w := range []*litewitness.Server{w1, w2} {
		v, _ := witness.NewVerifier(w.Witness())
		vs = append(vs, v)
	}
	n, err := note.Open([]byte(msg), note.VerifierList(vs...))
	if err != nil || len(n.Sigs) != 3 || strings.Count(msg, "\n— ") != 4 {
		t.Fatalf("tag message does not open with stock note code (%v):\n%s", err, msg)
	}
	r.git("push", "-q", "origin", "main", "vmc/ledger", "--tags")
	r.must("verify", "chain", "--sig")

	// Snapshot 2, the newest cosigned checkpoint; its file is what a
	// verifier holds.
	r.record("two")
	r.record("three")
	newest := filepath.Join(t.TempDir(), "newest.json") // merkle-<N>.json, with the cosignatures
	r.must("merkle", "receipts", "--tag", "--key", key("alice"), "--out", newest)
	n2 := r.size()
	newestNote := filepath.Join(t.TempDir(), "newest.txt") // the tag message alone
	os.WriteFile(newestNote, []byte(tagMessage(t, r, merkle.TagName(n2))), 0o644)
	r.git("push", "-q", "origin", "vmc/ledger", "--tags")

	// An inclusion proof checked offline with the witnesses' keys.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "proof.json"), []byte(r.must("merkle", "prove", "1", "--size", strconv.FormatUint(n2, 10))), 0o644)
	os.WriteFile(filepath.Join(dir, "r.json"), []byte(r.must("show", "1", "--raw")), 0o644)
	vp := []string{"merkle", "verify-proof", filepath.Join(dir, "proof.json"), "--receipt", filepath.Join(dir, "r.json"), "--checkpoint", newest,
		"--key", key("alice") + ".pub", "--kid", "alice", "--witness", w1.VKey, "--witness", w2.VKey}
	if out := r.must(vp...); !strings.Contains(out, "cosigned by witness.test/w2") {
		t.Fatalf("verify-proof:\n%s", out)
	}
	if res := r.run(append(vp, "--witness-threshold", "3")...); res.code != exitInvalid || !strings.Contains(res.err, "witness quorum not met: 2 valid cosignatures, witness_threshold is 3") {
		t.Fatalf("verify-proof with quorum 3:\n%s", res)
	}

	// A server that serves the ledger as of snapshot 1 and withholds tag 2.
	fresh := rolledBack(t, r, tag1)
	// Without outside knowledge the old ledger looks fine: it is genuinely signed.
	fresh.must("verify", "chain", "--sig", "--no-remember")
	// With the newest cosigned checkpoint: refused, both sizes and roots named.
	res := fresh.run("verify", "chain", "--sig", "--no-remember", "--checkpoint", newest)
	if res.code != exitInvalid || !strings.Contains(res.err, "it has "+strconv.FormatUint(n1, 10)+" receipts, the checkpoint "+newest+" covers "+strconv.FormatUint(n2, 10)+" (its root ") ||
		!strings.Contains(res.err, "this ledger's root is ") {
		t.Fatalf("rolled-back ledger with --checkpoint:\n%s", res)
	}
	res = fresh.run("verify", "chain", "--sig", "--no-remember", "--checkpoint", newestNote)
	if res.code != exitInvalid || !strings.Contains(res.err, "is older than a checkpoint known to the verifier") {
		t.Fatalf("rolled-back ledger with --checkpoint (note text):\n%s", res)
	}
	// Asking the witnesses: both have cosigned n2.
	res = fresh.run("verify", "chain", "--sig", "--no-remember", "--witness-check")
	if res.code != exitInvalid || !strings.Contains(res.err, "has cosigned a checkpoint of size "+strconv.FormatUint(n2, 10)) {
		t.Fatalf("rolled-back ledger with --witness-check:\n%s", res)
	}
	// The full ledger passes both.
	out = r.must("verify", "chain", "--sig", "--checkpoint", newest, "--witness-check")
	if !strings.Contains(out, "witness witness.test/w1: at size "+strconv.FormatUint(n2, 10)+", agrees") || !strings.Contains(out, "cosigned by witness.test/w1, witness.test/w2") {
		t.Fatalf("full ledger:\n%s", out)
	}

	// A fork from snapshot 1 (the rolled-back clone writes other receipts):
	// the witnesses refuse to cosign it, so no tag is written.
	fresh.git("fetch", "-q", "origin", "vmc/ledger:vmc/ledger")
	for i := uint64(0); i < n2-n1+1; i++ {
		fresh.record("fork " + strconv.FormatUint(i, 10))
	}
	res = fresh.run("merkle", "receipts", "--tag", "--key", key("alice"))
	if res.code != exitRefused || !strings.Contains(res.err, "witness quorum not met: 0 valid cosignatures") || !strings.Contains(res.err, "witness.test/w1") {
		t.Fatalf("fork cosigned:\n%s", res)
	}
	if tags := fresh.git("tag", "-l", "vmc/merkle/*"); tags != tag1 {
		t.Fatalf("fork tagged: %q", tags)
	}
	res = fresh.run("verify", "chain", "--sig", "--no-remember", "--checkpoint", newest)
	if res.code != exitInvalid || !strings.Contains(res.err, "the ledger forks from the checkpoint "+newest+": its first "+strconv.FormatUint(n2, 10)+" receipts have root ") {
		t.Fatalf("fork with --checkpoint:\n%s", res)
	}

	// A witness that is down: the snapshot waits for the quorum, the ledger
	// keeps working, and the snapshot is made once the witness is back.
	w2.Stop()
	r.record("four")
	res = r.run("merkle", "receipts", "--tag", "--key", key("alice"))
	if res.code != exitRefused || !strings.Contains(res.err, "witness quorum not met: 1 valid cosignatures, witness_threshold is 2 (cosigned by witness.test/w1); none from witness.test/w2") {
		t.Fatalf("snapshot with a witness down:\n%s", res)
	}
	r.record("five")
	w2.Restart()
	out = r.must("merkle", "receipts", "--tag", "--key", key("alice"))
	if !strings.Contains(out, "cosigned by witness.test/w2") {
		t.Fatalf("snapshot after the witness came back:\n%s", out)
	}
	r.git("push", "-q", "origin", "vmc/ledger", "--tags")
	r.must("verify", "chain", "--sig")
}

// tagMessage returns the message of an annotated tag (without the SSHSIG).
func tagMessage(t *testing.T, r *repo, tag string) string {
	t.Helper()
	raw := r.git("cat-file", "tag", tag)
	_, body, _ := strings.Cut(raw, "\n\n")
	msg, _, _ := strings.Cut(body, "-----BEGIN SSH SIGNATURE-----")
	return msg
}

// TestWitnessPolicyChanges: adding or removing a witness and changing the
// quorum are keys receipts; an invalid witness key or URL, a duplicate and
// an impossible quorum are refused before anything is written.
func TestWitnessPolicyChanges(t *testing.T) {
	t.Parallel()
	w1 := litewitness.Start(t, "witness.test/p1")
	r := newRepo(t, repoOpts{})
	res := r.run("witness", "threshold", "1", "--key", key("alice"))
	if res.code != exitRefused || !strings.Contains(res.err, "witness_threshold 1 but only 0 witnesses") {
		t.Fatalf("threshold without witnesses:\n%s", res)
	}
	res = r.run("witness", "add", "--vkey", flipB64(w1.VKey, len(w1.VKey)-10), "--url", w1.URL, "--key", key("alice"))
	if res.code != exitUsage || !strings.Contains(res.err, "does not match the key") {
		t.Fatalf("bad vkey:\n%s", res)
	}
	res = r.run("witness", "add", "--vkey", w1.VKey, "--url", "ftp://x", "--key", key("alice"))
	if res.code != exitUsage || !strings.Contains(res.err, "want http:// or https://") {
		t.Fatalf("bad url:\n%s", res)
	}
	r.must("witness", "add", "--vkey", w1.VKey, "--url", w1.URL, "--key", key("alice"))
	res = r.run("witness", "add", "--vkey", w1.VKey, "--url", w1.URL, "--key", key("alice"))
	if res.code != exitRefused || !strings.Contains(res.err, "named twice") {
		t.Fatalf("witness added twice:\n%s", res)
	}
	r.must("witness", "threshold", "1", "--key", key("alice"))
	out := r.must("witness", "list", "--json")
	if !strings.Contains(out, `"witness_threshold": 1`) || !strings.Contains(out, w1.VKey) {
		t.Fatalf("list:\n%s", out)
	}
	// The witness is not registered for this ledger yet: the snapshot waits.
	r.record("x")
	res = r.run("merkle", "receipts", "--tag", "--key", key("alice"))
	if res.code != exitRefused || !strings.Contains(res.err, "HTTP 403") {
		t.Fatalf("snapshot with an unregistered log:\n%s", res)
	}
	// Removing a witness the quorum needs is refused; lowering it first works.
	res = r.run("witness", "remove", "witness.test/p1", "--key", key("alice"))
	if res.code != exitRefused || !strings.Contains(res.err, "witness_threshold 1 but only 0 witnesses") {
		t.Fatalf("remove below quorum:\n%s", res)
	}
	r.must("witness", "threshold", "0", "--key", key("alice"))
	r.must("witness", "remove", "witness.test/p1", "--key", key("alice"))
	r.must("verify", "chain", "--sig")
	log := r.must("log")
	for _, s := range []string{"add witness witness.test/p1", "witness_threshold 1", "remove witness witness.test/p1"} {
		if !strings.Contains(log, s) {
			t.Fatalf("log lacks %q:\n%s", s, log)
		}
	}
}

// flipB64 changes the base64 character at i into another.
func flipB64(s string, i int) string {
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

// TestWitnessForgedTags: snapshot tags signed by a trusted operator key but
// without the cosignatures the policy needs are refused by verify chain and
// by the hook, each with its own message: no cosignature, one of two, a
// cosignature by an unknown witness, one made for another root, one made
// for another origin. The cosignatures are real (made by litewitness).
func TestWitnessForgedTags(t *testing.T) {
	t.Parallel()
	r, w1, w2 := witnessedRepo(t)
	w3 := litewitness.Start(t, "witness.test/w3") // not in the trust state
	origin := r.hookedOrigin()
	r.record("one")
	r.must("merkle", "receipts", "--tag", "--key", key("alice"))
	tag1 := merkle.TagName(r.size())
	r.git("push", "-q", "origin", "main", "vmc/ledger", "--tags")
	r.record("two")
	n := r.size()

	s, err := keys.LoadFile(key("alice"))
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		LogKeys []string `json:"log_keys"`
	}
	json.Unmarshal([]byte(r.must("witness", "list", "--json")), &list)
	w3.AddLog(testLedgerID, list.LogKeys...)
	otherKey, _ := merkle.VerifierKey(otherLedgerID, s.Ed25519())
	w2.AddLog(otherLedgerID, otherKey)
	leaves := ledgerLeafHashes(t, r, n)
	cp := merkle.Checkpoint{Origin: testLedgerID, Size: n, Root: merkle.RootOf(leaves)}
	signed := signAsAlice(t, s, cp)
	// Real cosignatures of this checkpoint by w1 and the outsider w3 (w2 is
	// kept back), and by w2 of the same tree under another origin.
	line := func(w *litewitness.Server, cp merkle.Checkpoint, signed []byte, old uint64) string {
		req := witness.Request{Checkpoint: cp, Signed: signed, OldSize: old, Prove: func(o uint64) ([]merkle.Hash, error) {
			return merkle.ProveConsistency(leaves, o, cp.Size)
		}}
		_, res, err := witness.Cosign(t.Context(), &witness.Client{}, []witness.Witness{w.Witness()}, 1, req, time.Now())
		if err != nil {
			t.Fatalf("%s: %v", w.Name, res[0].Err)
		}
		return res[0].Cosignature.Line
	}
	c1 := line(w1, cp, signed, 0)
	c3 := line(w3, cp, signed, 0)
	ocp := merkle.Checkpoint{Origin: otherLedgerID, Size: n, Root: cp.Root}
	oc2 := line(w2, ocp, signAsAlice(t, s, ocp), 0)
	var oldRoot2 string // w2's cosignature of tag 1 (another root)
	for _, l := range strings.SplitAfter(tagMessage(t, r, tag1), "\n") {
		if strings.HasPrefix(l, "— witness.test/w2 ") {
			oldRoot2 = l
		}
	}
	for name, tc := range map[string]struct{ lines, want string }{
		"no cosignature":      {"", "witness quorum not met: 0 valid cosignatures, witness_threshold is 2"},
		"one of two":          {c1, "witness quorum not met: 1 valid cosignatures, witness_threshold is 2 (cosigned by witness.test/w1); none from witness.test/w2"},
		"unknown witness":     {c1 + c3, "witness quorum not met: 1 valid cosignatures"},
		"another root":        {c1 + oldRoot2, "cosignature by witness.test/w2 does not verify"},
		"another origin":      {c1 + oc2, "cosignature by witness.test/w2 does not verify"},
		"garbage cosignature": {c1 + "— witness.test/w2 AAAA\n", "checkpoint signature: malformed note"},
	} {
		t.Run(name, func(t *testing.T) {
			tag := merkle.TagName(n)
			writeTag(t, r, s, tag, string(signed)+tc.lines)
			defer r.git("update-ref", "-d", "refs/tags/"+tag)
			res := r.run("verify", "chain", "--sig", "--no-remember")
			if res.code != exitInvalid || !strings.Contains(res.err, "snapshot "+tag+": ") || !strings.Contains(res.err, tc.want) {
				t.Fatalf("verify chain: want %q:\n%s", tc.want, res)
			}
			cmd := exec.Command("git", "push", "origin", "vmc/ledger", "refs/tags/"+tag)
			cmd.Dir, cmd.Env = r.root, r.env
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), tc.want) {
				t.Fatalf("hook accepted or said something else (want %q): %v\n%s", tc.want, err, out)
			}
		})
	}
	if got := gitIn(t, origin, "tag", "-l"); strings.TrimSpace(got) != tag1 {
		t.Fatalf("origin tags: %q", got)
	}
}

func signAsAlice(t *testing.T, s *keys.Signer, cp merkle.Checkpoint) []byte {
	t.Helper()
	ks, err := merkle.NewNoteSigner("alice", s.Ed25519(), s.SignRaw)
	if err != nil {
		t.Fatal(err)
	}
	os, err := merkle.NewNoteSigner(cp.Origin, s.Ed25519(), s.SignRaw)
	if err != nil {
		t.Fatal(err)
	}
	b, err := merkle.SignCheckpoint(cp, ks, os)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeTag writes a snapshot tag object in the form vmc-git writes, with
// message msg, signed by s (SSHSIG, namespace git), on the ledger commit
// whose receipt is the tag's size - 1.
func writeTag(t *testing.T, r *repo, s *keys.Signer, tag, msg string) {
	t.Helper()
	size, _ := strconv.ParseUint(strings.TrimPrefix(tag, merkle.TagPrefix), 10, 64)
	commit := strings.TrimSpace(r.git("rev-parse", "vmc/ledger"))
	if got := r.size(); got != size {
		t.Fatalf("tag %s on a ledger of %d", tag, got)
	}
	head := fmt.Sprintf("object %s\ntype commit\ntag %s\ntagger vmc-git <alice> %d +0000\n\n%s", commit, tag, time.Now().Unix(), msg)
	sig, err := s.Sign(keys.NamespaceGit, []byte(head))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("git", "hash-object", "-t", "tag", "-w", "--stdin")
	cmd.Dir, cmd.Env = r.root, r.env
	cmd.Stdin = strings.NewReader(head + string(sig))
	id, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	r.git("update-ref", "refs/tags/"+tag, strings.TrimSpace(string(id)))
}

// ledgerLeafHashes reads the first n receipts' leaf hashes with vmc-git show.
func ledgerLeafHashes(t *testing.T, r *repo, n uint64) []merkle.Hash {
	t.Helper()
	var out []merkle.Hash
	for i := uint64(0); i < n; i++ {
		out = append(out, merkle.LeafHash([]byte(r.must("show", strconv.FormatUint(i, 10), "--raw"))))
	}
	return out
}

// TestCheckpointFiles: verify chain --checkpoint with operator-signed
// checkpoints (no witnesses): contained, from the future (rolled back),
// another root (fork), another ledger, an unknown key, not a note.
func TestCheckpointFiles(t *testing.T) {
	t.Parallel()
	r := newRepo(t, repoOpts{})
	r.record("one")
	dir := t.TempDir()
	ok := filepath.Join(dir, "ok.json")
	r.must("merkle", "receipts", "--out", ok, "--key", key("alice"))
	n := r.size()
	out := r.must("verify", "chain", "--sig", "--checkpoint", ok)
	if !strings.Contains(out, "contains checkpoint file "+ok+": size "+strconv.FormatUint(n, 10)) || !strings.Contains(out, "signed by alice") {
		t.Fatalf("contained checkpoint:\n%s", out)
	}
	alice, err := keys.LoadFile(key("alice"))
	if err != nil {
		t.Fatal(err)
	}
	mallory := filepath.Join(dir, "mallory")
	priv, pub, _ := keys.Generate("mallory")
	keys.WriteKeyPair(mallory, priv, pub)
	ms, err := keys.LoadFile(mallory)
	if err != nil {
		t.Fatal(err)
	}
	root := merkle.RootOf(ledgerLeafHashes(t, r, n))
	write := func(name string, s *keys.Signer, kid string, cp merkle.Checkpoint) string {
		ns, err := merkle.NewNoteSigner(kid, s.Ed25519(), s.SignRaw)
		if err != nil {
			t.Fatal(err)
		}
		b, err := merkle.SignCheckpoint(cp, ns)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o644)
		return p
	}
	var other merkle.Hash
	other[0] = 1
	garbage := filepath.Join(dir, "garbage.txt")
	os.WriteFile(garbage, []byte("hello\n"), 0o644)
	for name, tc := range map[string]struct {
		file, want string
		code       int
	}{
		"rolled back":    {write("future", alice, "alice", merkle.Checkpoint{Origin: testLedgerID, Size: n + 3, Root: other}), "covers " + strconv.FormatUint(n+3, 10) + " (its root " + other.String() + "; this ledger's root is " + root.String() + ")", exitInvalid},
		"fork":           {write("fork", alice, "alice", merkle.Checkpoint{Origin: testLedgerID, Size: n, Root: other}), "the ledger forks from the checkpoint", exitInvalid},
		"another ledger": {write("other", alice, "alice", merkle.Checkpoint{Origin: otherLedgerID, Size: n, Root: root}), "is for ledger example.com/other/infra", exitInvalid},
		"unknown key":    {write("mallory", ms, "alice", merkle.Checkpoint{Origin: testLedgerID, Size: n, Root: root}), "not signed by an applier or admin key of this ledger", exitInvalid},
		"not a note":     {garbage, "neither a merkle-<N>.json snapshot nor a signed checkpoint note", exitUsage},
	} {
		t.Run(name, func(t *testing.T) {
			res := r.run("verify", "chain", "--sig", "--checkpoint", tc.file)
			if res.code != tc.code || !strings.Contains(res.err, tc.want) {
				t.Fatalf("want exit %d and %q:\n%s", tc.code, tc.want, res)
			}
		})
	}
	res := r.run("verify", "chain", "--witness-check")
	if res.code != exitUsage || !strings.Contains(res.err, "names no witnesses") {
		t.Fatalf("--witness-check without witnesses:\n%s", res)
	}
}

// TestGenesisWitnesses: genesis names a witness and a quorum of 1; the
// first snapshot is cosigned.
func TestGenesisWitnesses(t *testing.T) {
	t.Parallel()
	w := litewitness.Start(t, "witness.test/g1")
	base := newRepo(t, repoOpts{})
	r := &repo{t: t, root: filepath.Join(t.TempDir(), "infra"), env: base.env}
	res := r.run("init", r.root, "--ledger", "example.com/genesis/infra", "--key", key("alice"), "--witness", w.VKey+" "+w.URL, "--witness-threshold", "2")
	if res.code == 0 || !strings.Contains(res.err, "witness_threshold 2 but only 1 witnesses") {
		t.Fatalf("genesis with an impossible quorum:\n%s", res)
	}
	r.must("init", r.root, "--ledger", "example.com/genesis/infra", "--key", key("alice"), "--witness", w.VKey+" "+w.URL, "--witness-threshold", "1")
	var list struct {
		LogKeys []string `json:"log_keys"`
	}
	json.Unmarshal([]byte(r.must("witness", "list", "--json")), &list)
	w.AddLog("example.com/genesis/infra", list.LogKeys...)
	out := r.must("merkle", "receipts", "--tag", "--key", key("alice"))
	if !strings.Contains(out, "cosigned by witness.test/g1") {
		t.Fatalf("genesis snapshot:\n%s", out)
	}
	r.must("verify", "chain", "--sig", "--witness-check")
}

// TestHangingWitness: a witness that accepts the connection and never
// answers holds back the snapshot for --witness-timeout, not longer.
func TestHangingWitness(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c) // read nothing, answer nothing
		}
	}()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	vk, _ := witness.VerifierKey("witness.test/hang", pub)
	r := newRepo(t, repoOpts{})
	r.must("witness", "add", "--vkey", vk, "--url", "http://"+l.Addr().String(), "--key", key("alice"))
	r.must("witness", "threshold", "1", "--key", key("alice"))
	res := r.run("merkle", "receipts", "--tag", "--key", key("alice"), "--witness-timeout", "700ms")
	if res.code != exitRefused || !strings.Contains(res.err, "witness witness.test/hang: no answer within 700ms") {
		t.Fatalf("hanging witness:\n%s", res)
	}
	// The message names the 700ms bound the call met; the whole run (a CLI
	// start and a snapshot, on a loaded machine) only has to end.
	if res.took > time.Minute {
		t.Fatalf("took %s", res.took)
	}
	r.record("the ledger keeps working")
}

// TestWitnessPolicyTwoAdmins: under admin_threshold 2 a witness change is a
// proposal co-signed by two admins; one admin alone writes nothing.
func TestWitnessPolicyTwoAdmins(t *testing.T) {
	t.Parallel()
	kd := t.TempDir()
	dave := keygen(t, kd, "dave")
	r := initRepo(t, nil, "--key", key("alice"), "--roles", "admin,applier", "--admin-threshold", "2",
		"--operator", "dave:admin:"+dave+".pub", "--operator", "bob:approver:"+key("bob")+".pub")
	head0 := r.ledgerHead()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	vk, _ := witness.VerifierKey("witness.test/two", pub)
	res := r.run("witness", "add", "--vkey", vk, "--url", "https://witness.test/two", "--key", key("alice"))
	checkError(t, res, exitRefused, "trust changes need 2 admin signatures")
	ch := filepath.Join(t.TempDir(), "change.json")
	if out := r.must("witness", "add", "--vkey", vk, "--url", "https://witness.test/two", "-o", ch); !strings.Contains(out, "needs 2 admin signatures") {
		t.Fatalf("propose: %s", out)
	}
	r.must("keys", "cosign", ch, "--key", key("alice"))
	res = r.run("keys", "apply", ch, "--key", key("alice"))
	checkError(t, res, exitRefused, "trust change refused: 1 admin signatures (alice), admin_threshold is 2")
	if r.ledgerHead() != head0 {
		t.Fatal("a refused witness change moved the ledger")
	}
	r.must("keys", "cosign", ch, "--key", dave)
	if out := r.must("keys", "apply", ch, "--key", dave); !strings.Contains(out, "receipt 1 (keys)") {
		t.Fatalf("apply: %s", out)
	}
	if out := r.must("witness", "list", "--json"); !strings.Contains(out, vk) {
		t.Fatalf("list: %s", out)
	}
	r.must("verify", "chain", "--sig")
}

// TestWitnessChangePush: a witness policy change takes --push like every
// other ledger writer: the keys receipt lands on a hooked origin, and a
// change made while another clone pushed first is written again on top.
func TestWitnessChangePush(t *testing.T) {
	t.Parallel()
	w1 := litewitness.Start(t, "witness.test/push1")
	r := newRepo(t, repoOpts{})
	origin := r.hookedOrigin()
	r.git("push", "-q", "origin", "main", "vmc/ledger")
	// Someone else's receipt lands on the origin first.
	other := machine(t, r, origin)
	other.must("record", "--summary", "meanwhile", "--key", key("alice"), "--push")
	out := r.must("witness", "add", "--vkey", w1.VKey, "--url", w1.URL, "--key", key("alice"), "--push")
	if !strings.Contains(out, "keys") {
		t.Fatalf("witness add --push:\n%s", out)
	}
	tip := strings.TrimSpace(gitIn(t, origin, "rev-parse", "refs/heads/vmc/ledger"))
	if local := strings.TrimSpace(r.git("rev-parse", "refs/heads/vmc/ledger")); local != tip {
		t.Fatalf("origin's ledger is at %s, the clone's at %s: the change was not pushed", tip, local)
	}
	msg := gitIn(t, origin, "log", "-1", "--format=%s", "refs/heads/vmc/ledger")
	if !strings.Contains(msg, " keys ") || !strings.HasPrefix(msg, "vmc: 2 ") {
		t.Fatalf("origin's newest receipt: %q, want receipt 2, a keys receipt on top of the other clone's", msg)
	}
}
