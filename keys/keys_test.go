package keys

import (
	"bytes"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hiddeco/sshsig"
	"github.com/vmc-git/vmc-git/internal/sshagenttest"
)

// newKey writes a fresh key pair to dir/kid and loads it.
func newKey(t *testing.T, dir, kid string) (*Signer, string) {
	t.Helper()
	priv, pub, err := Generate(kid)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, kid)
	if err := WriteKeyPair(path, priv, pub); err != nil {
		t.Fatal(err)
	}
	s, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return s, path
}

// sh runs a shell command in dir with extra environment and returns its
// combined output and error.
func sh(dir string, env []string, script string) (string, error) {
	cmd := exec.Command("sh", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "HOME="+dir), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustSh(t *testing.T, dir string, env []string, script string) string {
	t.Helper()
	out, err := sh(dir, env, script)
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return out
}

// allowedSigners writes an allowed_signers file with one line per key.
func allowedSigners(t *testing.T, dir string, lines ...string) string {
	t.Helper()
	p := filepath.Join(dir, "allowed_signers")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGenerateSignVerify(t *testing.T) {
	dir := t.TempDir()
	s, path := newKey(t, dir, "alice")
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("private key mode %v, %v", fi.Mode(), err)
	}
	pubLine, _ := os.ReadFile(path + ".pub")
	pub, comment, err := ParsePublicKey(pubLine)
	if err != nil || comment != "alice" || !bytes.Equal(pub.Marshal(), s.PublicKey().Marshal()) {
		t.Fatalf("public key file: %v %q %v", pub, comment, err)
	}
	if s.Source() != path {
		t.Fatalf("Source %q", s.Source())
	}
	if err := WriteKeyPair(path, []byte("x"), []byte("y")); err == nil {
		t.Fatal("WriteKeyPair overwrote a key")
	}
	msg := []byte("receipt bytes")
	sig, err := s.Sign(NamespaceReceipt, msg)
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(s.PublicKey(), NamespaceReceipt, msg, sig); err != nil {
		t.Fatal(err)
	}
	// Ed25519 SSHSIG is deterministic: the same inputs give the same file.
	if again, _ := s.Sign(NamespaceReceipt, msg); !bytes.Equal(again, sig) {
		t.Fatal("two signatures of the same message differ")
	}
	other, _ := newKey(t, dir, "bob")
	for _, tc := range []struct {
		name string
		err  error
	}{
		{`namespace "vmc-receipt", want "git"`, Verify(s.PublicKey(), NamespaceGit, msg, sig)},
		{"made by key " + Fingerprint(s.PublicKey()) + ", want " + Fingerprint(other.PublicKey()), Verify(other.PublicKey(), NamespaceReceipt, msg, sig)},
		{"does not verify", Verify(s.PublicKey(), NamespaceReceipt, []byte("receipt bytez"), sig)},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.name) {
			t.Errorf("got %v, want %q", tc.err, tc.name)
		}
	}
	if _, _, err := Generate("Alice"); err == nil || !strings.Contains(err.Error(), "invalid key id") {
		t.Fatalf("Generate(Alice): %v", err)
	}
}

// TestSSHKeygenInterop: ssh-keygen -Y verify accepts this package's
// signatures, this package accepts ssh-keygen -Y sign's, and both write the
// same bytes.
func TestSSHKeygenInterop(t *testing.T) {
	dir := t.TempDir()
	s, path := newKey(t, dir, "alice")
	as := allowedSigners(t, dir, "alice "+FormatPublicKey(s.PublicKey()))
	msg := []byte("{\"seq\":1}")
	os.WriteFile(filepath.Join(dir, "m"), msg, 0o644)

	sig, err := s.Sign(NamespaceReceipt, msg)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "go.sig"), sig, 0o644)
	out := mustSh(t, dir, nil, "ssh-keygen -Y verify -f "+as+" -I alice -n vmc-receipt -s go.sig < m")
	if !strings.Contains(out, `Good "vmc-receipt" signature for alice`) {
		t.Fatalf("ssh-keygen -Y verify: %s", out)
	}
	if out, err := sh(dir, nil, "ssh-keygen -Y verify -f "+as+" -I alice -n git -s go.sig < m"); err == nil {
		t.Fatalf("ssh-keygen accepted the signature in another namespace: %s", out)
	}

	mustSh(t, dir, nil, "ssh-keygen -q -Y sign -f "+path+" -n vmc-receipt m")
	kg, _ := os.ReadFile(filepath.Join(dir, "m.sig"))
	if err := Verify(s.PublicKey(), NamespaceReceipt, msg, kg); err != nil {
		t.Fatalf("ssh-keygen -Y sign signature: %v", err)
	}
	if !bytes.Equal(kg, sig) {
		t.Fatalf("ssh-keygen wrote\n%s\nthis package wrote\n%s", kg, sig)
	}
	// ssh-keygen -l prints the same fingerprint.
	if out := mustSh(t, dir, nil, "ssh-keygen -l -f "+path+".pub"); !strings.Contains(out, Fingerprint(s.PublicKey())) {
		t.Fatalf("ssh-keygen -l: %s, Fingerprint: %s", out, Fingerprint(s.PublicKey()))
	}
	// A sha256 SSHSIG is valid OpenSSH but not the form vmc-git writes.
	mustSh(t, dir, nil, "cp m m2 && ssh-keygen -q -Y sign -f "+path+" -n vmc-receipt -O hashalg=sha256 m2")
	kg256, _ := os.ReadFile(filepath.Join(dir, "m2.sig"))
	if err := Verify(s.PublicKey(), NamespaceReceipt, msg, kg256); err == nil || !strings.Contains(err.Error(), "hash sha256, want sha512") {
		t.Fatalf("sha256 signature: %v", err)
	}
}

func TestParseSignatureRejects(t *testing.T) {
	s, _ := newKey(t, t.TempDir(), "alice")
	sig, err := s.Sign(NamespaceReceipt, []byte("m"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseSignature(sig); err != nil {
		t.Fatal(err)
	}
	parsed, _ := sshsig.Unarmor(sig)
	pem64 := pem.EncodeToMemory(&pem.Block{Type: sshsig.PEMType, Bytes: parsed.Marshal()}) // 64 columns
	lines := strings.Split(string(sig), "\n")
	for _, tc := range []struct{ name, in, err string }{
		{"extra newline", string(sig) + "\n", "trailing data after the armored block"},
		{"trailing data", string(sig) + "x", "trailing data after the armored block"},
		{"second signature", string(sig) + string(sig), "trailing data after the armored block"},
		{"no final newline", strings.TrimSuffix(string(sig), "\n"), "not in canonical armored form"},
		{"line width 64", string(pem64), "not in canonical armored form"},
		{"lines joined", lines[0] + "\n" + strings.Join(lines[1:len(lines)-2], "") + "\n" + lines[len(lines)-2] + "\n", "not in canonical armored form"},
		{"CRLF", strings.ReplaceAll(string(sig), "\n", "\r\n"), "not in canonical armored form"},
		{"leading blank line", "\n" + string(sig), "not in canonical armored form"},
		{"PEM header", strings.Replace(string(sig), "-----\n", "-----\nComment: x\n\n", 1), "is not an SSH SIGNATURE"},
		{"PEM type", strings.ReplaceAll(string(sig), "SSH SIGNATURE", "SSH SIGNATUR"), `PEM block "SSH SIGNATUR"`},
		{"not armored", "U1NIU0lH", "not an armored SSH signature"},
		{"empty", "", "not an armored SSH signature"},
		{"bad blob", "-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----\n", "signature: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSignature([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("ParseSignature = %v, want an error with %q", err, tc.err)
			}
		})
	}
}

func TestValidKID(t *testing.T) {
	for kid, ok := range map[string]bool{
		"alice": true, "ci": true, "a": true, "0": true, "ops@acme.example": true, "a.b_c-d": true,
		strings.Repeat("a", 64): true, strings.Repeat("a", 65): false,
		"": false, "Alice": false, "-alice": false, ".alice": false, "_a": false, "@a": false,
		"al ice": false, "alice\n": false, "al/ice": false, "al*ice": false, "élise": false, "alice,bob": false,
	} {
		err := ValidKID(kid)
		if (err == nil) != ok {
			t.Errorf("ValidKID(%q) = %v, want ok=%v", kid, err, ok)
		}
		if err != nil && !strings.Contains(err.Error(), "invalid key id") {
			t.Errorf("ValidKID(%q): %v", kid, err)
		}
	}
}

// keyMaterial returns the base64 lines of a private key file, which must
// never appear in an error.
func keyMaterial(t *testing.T, path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if len(line) > 16 && !strings.HasPrefix(line, "-----") {
			out = append(out, line[:16])
		}
	}
	return out
}

func checkNoKeyMaterial(t *testing.T, err error, path string) {
	t.Helper()
	for _, m := range keyMaterial(t, path) {
		if strings.Contains(err.Error(), m) {
			t.Fatalf("error %q contains key material", err)
		}
	}
}

func TestLoadFileErrors(t *testing.T) {
	dir := t.TempDir()
	enc := filepath.Join(dir, "enc")
	mustSh(t, dir, nil, "ssh-keygen -q -t ed25519 -N 'correct horse' -C enc -f "+enc)
	_, err := LoadFile(enc)
	if err == nil || !strings.Contains(err.Error(), "is encrypted: load it into ssh-agent (ssh-add) and pass the .pub file") {
		t.Fatalf("encrypted key: %v", err)
	}
	checkNoKeyMaterial(t, err, enc)

	rsa := filepath.Join(dir, "rsa")
	mustSh(t, dir, nil, "ssh-keygen -q -t rsa -b 2048 -N '' -f "+rsa)
	if _, err := LoadFile(rsa); err == nil || !strings.Contains(err.Error(), "not an Ed25519 key") {
		t.Fatalf("RSA key: %v", err)
	} else {
		checkNoKeyMaterial(t, err, rsa)
	}
	if _, err := LoadFile(rsa + ".pub"); err == nil || !strings.Contains(err.Error(), "vmc-git uses Ed25519 keys only") {
		t.Fatalf("RSA public key: %v", err)
	}

	// A damaged key file: the parser's message could quote it; ours does not.
	_, good := newKey(t, dir, "alice")
	b, _ := os.ReadFile(good)
	lines := strings.Split(string(b), "\n")
	lines = append(lines[:2], lines[3:]...) // a line of the key lost
	bad := filepath.Join(dir, "damaged")
	os.WriteFile(bad, []byte(strings.Join(lines, "\n")), 0o600)
	_, err = LoadFile(bad)
	if err == nil || !strings.Contains(err.Error(), "not an OpenSSH private key") {
		t.Fatalf("damaged key: %v", err)
	}
	checkNoKeyMaterial(t, err, bad)

	if _, err := LoadFile(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "signing key: open") {
		t.Fatalf("missing key: %v", err)
	}
}

func TestLoadFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	s, path := newKey(t, dir, "alice")
	pemText, _ := os.ReadFile(path)

	t.Setenv(EnvKeyPath, "")
	t.Setenv(EnvKeyPEM, "")
	if _, err := Load(""); !errors.Is(err, ErrNoKey) {
		t.Fatalf("no key: %v", err)
	}
	t.Setenv(EnvKeyPEM, string(pemText))
	got, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.PublicKey().Marshal(), s.PublicKey().Marshal()) || got.Source() != EnvKeyPEM {
		t.Fatalf("from %s: %s", got.Source(), Fingerprint(got.PublicKey()))
	}
	sig, err := got.Sign(NamespaceGit, []byte("x"))
	if err != nil || Verify(s.PublicKey(), NamespaceGit, []byte("x"), sig) != nil {
		t.Fatalf("sign with the key from the environment: %v", err)
	}
	// A path, given or in VMC_SIGNING_KEY, wins over the PEM.
	_, other := newKey(t, dir, "bob")
	t.Setenv(EnvKeyPath, other)
	if got, err := Load(""); err != nil || got.Source() != other {
		t.Fatalf("VMC_SIGNING_KEY: %v %v", got, err)
	}
	if got, err := Load(path); err != nil || got.Source() != path {
		t.Fatalf("--key: %v %v", got, err)
	}
	// A broken PEM in the environment: the message names the variable, not the content.
	t.Setenv(EnvKeyPath, "")
	t.Setenv(EnvKeyPEM, strings.Replace(string(pemText), "b3BlbnNzaC1rZXktdjE", "b3BlbnNzaC1rZXktdjX", 1))
	_, err = Load("")
	if err == nil || !strings.Contains(err.Error(), "signing key VMC_SIGNING_KEY_PEM: not an OpenSSH private key") {
		t.Fatalf("broken PEM: %v", err)
	}
	checkNoKeyMaterial(t, err, path)
}

// TestAllowedSignersWithSSHKeygen: ssh-keygen accepts AllowedSigners output,
// honours valid-before (past: rejected, future: accepted) and namespaces=.
func TestAllowedSignersWithSSHKeygen(t *testing.T) {
	dir := t.TempDir()
	old, oldPath := newKey(t, dir, "old")
	cur, curPath := newKey(t, dir, "cur")
	appr, apprPath := newKey(t, dir, "appr")
	now := time.Now().UTC().Truncate(time.Second)
	specs := []KeySpec{
		{KID: "appr", PublicKey: FormatPublicKey(appr.PublicKey()), Roles: []Role{RoleApprover}},
		{KID: "cur", PublicKey: FormatPublicKey(cur.PublicKey()), Roles: []Role{RoleAdmin, RoleApplier},
			ValidAfter: FormatTime(now.Add(-time.Hour)), ValidBefore: FormatTime(now.Add(24 * time.Hour))},
		{KID: "old", PublicKey: FormatPublicKey(old.PublicKey()), Roles: []Role{RoleAdmin},
			ValidAfter: "2020-01-01T00:00:00Z", ValidBefore: "2021-01-01T00:00:00Z"},
	}
	tr, err := NewTrust(specs, Policy{ApprovalsRequired: 1, AdminThreshold: 1}, now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	as := filepath.Join(dir, "allowed_signers")
	os.WriteFile(as, tr.AllowedSigners(), 0o644)
	t.Logf("allowed_signers:\n%s", tr.AllowedSigners())
	os.WriteFile(filepath.Join(dir, "m"), []byte("msg"), 0o644)
	verify := func(kid, keyPath, ns string) (string, error) {
		mustSh(t, dir, nil, "rm -f m.sig && ssh-keygen -q -Y sign -f "+keyPath+" -n "+ns+" m")
		return sh(dir, nil, "ssh-keygen -Y verify -f "+as+" -I "+kid+" -n "+ns+" -s m.sig < m")
	}
	if out, err := verify("cur", curPath, NamespaceReceipt); err != nil || !strings.Contains(out, `Good "vmc-receipt" signature for cur`) {
		t.Fatalf("valid-before in the future: %v\n%s", err, out)
	}
	if out, err := verify("old", oldPath, NamespaceReceipt); err == nil {
		t.Fatalf("valid-before in the past: ssh-keygen accepted it\n%s", out)
	}
	if out, err := verify("appr", apprPath, NamespaceReceipt); err == nil {
		t.Fatalf("approver key signing a receipt: ssh-keygen accepted it\n%s", out)
	}
	if out, err := verify("appr", apprPath, NamespacePlan); err != nil {
		t.Fatalf("approver key signing a plan: %v\n%s", err, out)
	}
	// git's own use: ssh-keygen -Y find-principals resolves the signer.
	mustSh(t, dir, nil, "rm -f m.sig && ssh-keygen -q -Y sign -f "+curPath+" -n git m")
	if out := mustSh(t, dir, nil, "ssh-keygen -Y find-principals -f "+as+" -s m.sig"); strings.TrimSpace(out) != "cur" {
		t.Fatalf("find-principals: %q", out)
	}
}

// TestSSHAgent: a public key file is used through a real ssh-agent.
func TestSSHAgent(t *testing.T) {
	dir := t.TempDir()
	file, path := newKey(t, dir, "alice")
	sock := sshagenttest.Start(t, append(os.Environ(), "HOME="+dir))
	env := []string{EnvAgent + "=" + sock}

	t.Setenv(EnvAgent, "")
	if _, err := LoadFile(path + ".pub"); err == nil || !strings.Contains(err.Error(), "set SSH_AUTH_SOCK") {
		t.Fatalf("without an agent: %v", err)
	}
	t.Setenv(EnvAgent, sock)
	if _, err := LoadFile(path + ".pub"); err == nil || !strings.Contains(err.Error(), "ssh-agent does not hold the key") || !strings.Contains(err.Error(), "ssh-add it first") {
		t.Fatalf("key not in the agent: %v", err)
	}
	mustSh(t, dir, env, "ssh-add -q "+path)
	s, err := LoadFile(path + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.Source(), "ssh-agent (SHA256:") {
		t.Fatalf("Source %q", s.Source())
	}
	msg := []byte("signed in the agent")
	sig, err := s.Sign(NamespaceReceipt, msg)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := file.Sign(NamespaceReceipt, msg); !bytes.Equal(sig, want) {
		t.Fatal("agent and file signatures differ")
	}
	as := allowedSigners(t, dir, "alice "+FormatPublicKey(s.PublicKey()))
	os.WriteFile(filepath.Join(dir, "m"), msg, 0o644)
	os.WriteFile(filepath.Join(dir, "m.sig"), sig, 0o644)
	if out := mustSh(t, dir, nil, "ssh-keygen -Y verify -f "+as+" -I alice -n vmc-receipt -s m.sig < m"); !strings.Contains(out, "Good") {
		t.Fatal(out)
	}
}

// MalleatedSignature returns sig (armored) with extra appended inside the
// signature field of the SSHSIG blob: the same signature to a lax parser.
func malleatedSignature(t *testing.T, armored []byte, extra []byte) []byte {
	t.Helper()
	blk, _ := pem.Decode(armored)
	sig, err := sshsig.ParseSignature(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	sig.Signature.Rest = append(sig.Signature.Rest, extra...)
	return Armor(sig)
}

// TestSignatureMalleability: bytes appended inside the signature blob are
// refused, by this package as by ssh-keygen -Y verify: one signature has
// exactly one encoding.
func TestSignatureMalleability(t *testing.T) {
	dir := t.TempDir()
	s, _ := newKey(t, dir, "alice")
	msg := []byte("a receipt\n")
	sig, err := s.Sign(NamespaceReceipt, msg)
	if err != nil {
		t.Fatal(err)
	}
	bad := malleatedSignature(t, sig, []byte{0, 0, 0, 0})
	if bytes.Equal(bad, sig) {
		t.Fatal("the malleated signature is the same")
	}
	_, err = ParseSignature(bad)
	if err == nil || !strings.Contains(err.Error(), "4 bytes after the signature inside the signature blob") {
		t.Fatalf("ParseSignature: %v", err)
	}
	if err := Verify(s.PublicKey(), NamespaceReceipt, msg, bad); err == nil {
		t.Fatal("Verify accepted the malleated signature")
	}
	if err := Verify(s.PublicKey(), NamespaceReceipt, msg, sig); err != nil {
		t.Fatal(err)
	}
	as := allowedSigners(t, dir, "alice "+FormatPublicKey(s.PublicKey()))
	os.WriteFile(filepath.Join(dir, "m"), msg, 0o644)
	os.WriteFile(filepath.Join(dir, "bad.sig"), bad, 0o644)
	if out, err := sh(dir, nil, "ssh-keygen -Y verify -f "+as+" -I alice -n vmc-receipt -s bad.sig < m"); err == nil {
		t.Fatalf("ssh-keygen accepted the malleated signature (the two must agree):\n%s", out)
	}
}
