package archtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/vmc-git/vmc-git"

// pkg is a package of the import graph, with project-relative paths
// ("gitledger", "internal/canon").
type pkg struct {
	Path        string
	Imports     []string // non-test files
	TestImports []string // _test.go files, both packages
}

// leafPackages are the packages the leaf rule is about.
var leafPackages = []string{"merkle", "internal/canon", "internal/digest", "provider"}

// bothAllowed may import both provider and gitledger.
var bothAllowed = []string{"workspace", "apply"}

// check returns one line per broken rule.
func check(pkgs []pkg) []string {
	var bad []string
	byPath := map[string]pkg{}
	for _, p := range pkgs {
		byPath[p.Path] = p
	}
	isLeaf := func(path string) bool {
		p, ok := byPath[path]
		return ok && strings.HasPrefix(path, "internal/") && len(p.Imports) == 0
	}
	for _, p := range pkgs {
		for _, imp := range append(slices.Clone(p.Imports), p.TestImports...) {
			if imp == "cmd" || strings.HasPrefix(imp, "cmd/") {
				bad = append(bad, fmt.Sprintf("%s imports %s: nothing imports a command", p.Path, imp))
			}
		}
		if slices.Contains(leafPackages, p.Path) {
			for _, imp := range p.Imports {
				if !isLeaf(imp) {
					bad = append(bad, fmt.Sprintf("%s imports %s: it may import only internal leaf packages", p.Path, imp))
				}
			}
		}
		if (p.Path == "hooks" || p.Path == "anchor") && slices.Contains(p.Imports, "provider") {
			bad = append(bad, fmt.Sprintf("%s imports provider: the hook and anchors never talk to the cloud", p.Path))
		}
		if slices.Contains(p.Imports, "provider") && slices.Contains(p.Imports, "gitledger") &&
			!slices.Contains(bothAllowed, p.Path) && !strings.HasPrefix(p.Path, "bench/") {
			bad = append(bad, fmt.Sprintf("%s imports both provider and gitledger: only %s do", p.Path, strings.Join(bothAllowed, " and ")))
		}
	}
	return bad
}

// graph lists the module's packages with go list.
func graph(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "-test=false", module+"/...")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("go list: %v\n%s", err, errb.String())
	}
	rel := func(ps []string) []string {
		var r []string
		for _, p := range ps {
			if p == module {
				r = append(r, ".")
			} else if s, ok := strings.CutPrefix(p, module+"/"); ok {
				r = append(r, s)
			}
		}
		return r
	}
	var pkgs []pkg
	dec := json.NewDecoder(&out)
	for {
		var p struct {
			ImportPath                         string
			Imports, TestImports, XTestImports []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		path, _ := strings.CutPrefix(p.ImportPath, module+"/")
		pkgs = append(pkgs, pkg{Path: path, Imports: rel(p.Imports), TestImports: rel(append(p.TestImports, p.XTestImports...))})
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

// TestImportRules checks the rules of the package doc on the real graph.
func TestImportRules(t *testing.T) {
	for _, line := range check(graph(t)) {
		t.Error(line)
	}
}

// TestImportRulesRefuse: each rule, broken on purpose in a small graph,
// is reported with its own message; the real graph's shape passes.
func TestImportRulesRefuse(t *testing.T) {
	good := []pkg{
		{Path: "internal/fsutil"}, {Path: "internal/lock"}, {Path: "internal/canon"}, {Path: "internal/digest"},
		{Path: "merkle", Imports: []string{"internal/fsutil"}},
		{Path: "provider", Imports: []string{"internal/lock"}},
		{Path: "gitledger", Imports: []string{"internal/canon"}},
		{Path: "hooks", Imports: []string{"gitledger", "plans"}},
		{Path: "apply", Imports: []string{"gitledger", "provider"}},
		{Path: "workspace", Imports: []string{"gitledger", "provider", "apply"}},
		{Path: "bench/apply", Imports: []string{"gitledger", "provider"}},
		{Path: "cmd/vmc-git", Imports: []string{"workspace", "provider"}},
	}
	if bad := check(good); len(bad) > 0 {
		t.Fatalf("a good graph is refused: %v", bad)
	}
	for _, tc := range []struct {
		name string
		add  pkg
		want string
	}{
		{"cmd imported", pkg{Path: "mcp", Imports: []string{"cmd/vmc-git"}}, "mcp imports cmd/vmc-git: nothing imports a command"},
		{"cmd imported by a test", pkg{Path: "mcp", TestImports: []string{"cmd/vmc-git"}}, "mcp imports cmd/vmc-git: nothing imports a command"},
		{"merkle imports a package", pkg{Path: "merkle", Imports: []string{"receipt"}}, "merkle imports receipt: it may import only internal leaf packages"},
		{"provider imports a non-leaf", pkg{Path: "provider", Imports: []string{"internal/config"}}, "provider imports internal/config: it may import only internal leaf packages"},
		{"canon imports a package", pkg{Path: "internal/canon", Imports: []string{"keys"}}, "internal/canon imports keys: it may import only internal leaf packages"},
		{"hooks imports provider", pkg{Path: "hooks", Imports: []string{"provider"}}, "hooks imports provider: the hook and anchors never talk to the cloud"},
		{"anchor imports provider", pkg{Path: "anchor", Imports: []string{"provider"}}, "anchor imports provider: the hook and anchors never talk to the cloud"},
		{"cmd imports both", pkg{Path: "cmd/vmc-git", Imports: []string{"provider", "gitledger"}}, "cmd/vmc-git imports both provider and gitledger: only workspace and apply do"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := slices.Clone(good)
			g = append(g, pkg{Path: "internal/config", Imports: []string{"internal/canon"}})
			replaced := false
			for i := range g {
				if g[i].Path == tc.add.Path {
					g[i], replaced = tc.add, true
				}
			}
			if !replaced {
				g = append(g, tc.add)
			}
			bad := check(g)
			if len(bad) != 1 || bad[0] != tc.want {
				t.Fatalf("got %q, want [%q]", bad, tc.want)
			}
		})
	}
}
