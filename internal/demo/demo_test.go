package demo

import (
	"bytes"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// The whole script runs in cmd/vmc-git's TestDemo (through the binary);
// these test the pieces that need no team.

func TestShowMakesPathsPastable(t *testing.T) {
	d := &demo{dir: "/tmp/x"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"keygen", "--out", "/tmp/x/keys/alice"}, "keygen --out keys/alice"},
		{[]string{"-C", "alice", "approve", "--key", "/tmp/x/keys/bob"}, "-C alice approve --key ../keys/bob"},
		{[]string{"-C", "bob", "commit", "-m", "approve web-1"}, "-C bob commit -m 'approve web-1'"},
		{[]string{"commit", "-m", "it's"}, `commit -m 'it'\''s'`},
	} {
		if got := d.show(c.args); got != c.want {
			t.Errorf("show(%q) = %q, want %q", c.args, got, c.want)
		}
	}
}

func TestIndent(t *testing.T) {
	if got := indent("a\nb\n\n"); got != "    a\n    b\n" {
		t.Errorf("indent = %q", got)
	}
	if got := indent("\n"); got != "" {
		t.Errorf("indent of nothing = %q", got)
	}
}

func TestAsSetsIdentity(t *testing.T) {
	got := strings.Join(as("bob", "commit"), " ")
	if want := "-C bob -c user.name=bob -c user.email=bob@example.com commit"; got != want {
		t.Errorf("as = %q, want %q", got, want)
	}
}

// A step that fails stops the demo with the step, the command line and its
// output; nothing after it runs.
func TestRunStopsAtAFailedStep(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	var calls int
	var out bytes.Buffer
	err := Run(Options{Dir: dir, Out: &out, VMC: func(args []string, stdout, stderr io.Writer) int {
		calls++
		io.WriteString(stderr, "vmc-git: error: no key for you\n")
		return 4
	}})
	if err == nil {
		t.Fatal("a failing step did not fail the demo")
	}
	want := `demo step "make alice's operator key" failed (exit 4): vmc-git keygen --kid alice --out ` + filepath.Join(dir, "keys", "alice")
	if !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "no key for you") {
		t.Errorf("error = %q, want it to start with %q and carry the step's output", err, want)
	}
	if calls != 1 {
		t.Errorf("%d steps ran after the first failed", calls-1)
	}
	if strings.Contains(out.String(), "•") {
		t.Errorf("a failed step was printed as done:\n%s", out.String())
	}
}
