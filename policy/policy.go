package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"lukechampine.com/blake3"

	"github.com/vmc-git/vmc-git/internal/digest"
)

// Dir is where policies live in the main branch's tree.
const Dir = "policy"

// Ext is the extension of a policy file.
const Ext = ".rego"

// QueryRoot is the package (and prefix of packages) whose deny and warn
// rules are evaluated.
const QueryRoot = "vmc"

// Rule names evaluated in each package.
const (
	RuleDeny = "deny"
	RuleWarn = "warn"
)

// Bundle bounds.
const (
	MaxFiles      = 64
	MaxFileSize   = 256 << 10
	MaxBundleSize = 1 << 20
	MaxFindings   = 10000
)

// Default limits of one evaluation.
const (
	DefaultTimeout       = 10 * time.Second
	DefaultMaxHeapGrowth = 512 << 20
)

// Errors callers branch on.
var (
	ErrCompile = errors.New("policy does not compile")
	ErrTimeout = errors.New("policy evaluation timed out")
	ErrMemory  = errors.New("policy evaluation used too much memory")
	ErrResult  = errors.New("policy result malformed")
)

// File is one policy file: its path in the main tree (policy/<name>.rego)
// and its bytes.
type File struct {
	Name string
	Data []byte
}

// Bundle is a compiled set of policy files.
type Bundle struct {
	files    []File
	packages []ast.Ref
	query    rego.PreparedEvalQuery
}

// CheckFileName checks a policy file path: policy/<name>.rego where name is
// [a-z0-9][a-z0-9_-]* and at most 64 bytes.
func CheckFileName(name string) error {
	base, ok := strings.CutPrefix(name, Dir+"/")
	stem, ok2 := strings.CutSuffix(base, Ext)
	if !ok || !ok2 || stem == "" || len(stem) > 64 || strings.Trim(stem, "abcdefghijklmnopqrstuvwxyz0123456789_-") != "" || stem[0] == '-' || stem[0] == '_' {
		return fmt.Errorf("policy file %q: want %s/<name>%s, name of a-z 0-9 _ -", name, Dir, Ext)
	}
	return nil
}

// Compile checks the bounds and compiles files (Rego v1). An error wraps
// ErrCompile and names each file, line and problem.
func Compile(files []File) (*Bundle, error) {
	if len(files) > MaxFiles {
		return nil, fmt.Errorf("%w: %d files, at most %d", ErrCompile, len(files), MaxFiles)
	}
	files = slices.Clone(files)
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	total := 0
	caps := capabilities()
	mods := map[string]*ast.Module{}
	var problems []string
	for i, f := range files {
		if err := CheckFileName(f.Name); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCompile, err)
		}
		if i > 0 && files[i-1].Name == f.Name {
			return nil, fmt.Errorf("%w: %s given twice", ErrCompile, f.Name)
		}
		if len(f.Data) > MaxFileSize {
			return nil, fmt.Errorf("%w: %s is %d bytes, at most %d", ErrCompile, f.Name, len(f.Data), MaxFileSize)
		}
		if total += len(f.Data); total > MaxBundleSize {
			return nil, fmt.Errorf("%w: policy files exceed %d bytes in all", ErrCompile, MaxBundleSize)
		}
		m, err := ast.ParseModuleWithOpts(f.Name, string(f.Data), ast.ParserOptions{RegoVersion: ast.RegoV1, Capabilities: caps})
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		if refused := deniedCalls(f.Name, m); len(refused) > 0 {
			problems = append(problems, refused...)
			continue
		}
		mods[f.Name] = m
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrCompile, strings.Join(problems, "; "))
	}
	c := ast.NewCompiler().WithCapabilities(caps)
	if c.Compile(mods); c.Failed() {
		return nil, fmt.Errorf("%w: %v", ErrCompile, c.Errors)
	}
	b := &Bundle{files: files}
	root := ast.MustParseRef("data." + QueryRoot)
	seen := map[string]bool{}
	for _, name := range slices.Sorted(mapsKeys(mods)) {
		p := mods[name].Package.Path
		if (p.Equal(root) || p.HasPrefix(root)) && !seen[p.String()] {
			seen[p.String()] = true
			b.packages = append(b.packages, p)
		}
	}
	var q []string
	for i, p := range b.packages {
		q = append(q, fmt.Sprintf("p%d := %s", i, p))
	}
	if len(q) == 0 {
		q = []string{"true"}
	}
	pq, err := rego.New(rego.Compiler(c), rego.Query(strings.Join(q, "; ")), rego.Capabilities(caps), rego.StrictBuiltinErrors(true)).PrepareForEval(context.Background())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCompile, err)
	}
	b.query = pq
	return b, nil
}

func mapsKeys(m map[string]*ast.Module) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func capabilities() *ast.Capabilities {
	c := ast.CapabilitiesForThisVersion()
	c.Builtins = slices.DeleteFunc(slices.Clone(c.Builtins), func(b *ast.Builtin) bool { return deniedBuiltin(b) != "" })
	c.AllowNet = []string{}
	return c
}

// Files returns the bundle's files, sorted by name.
func (b *Bundle) Files() []File { return slices.Clone(b.files) }

// Names returns the bundle's file names, sorted.
func (b *Bundle) Names() []string {
	out := make([]string, len(b.files))
	for i, f := range b.files {
		out[i] = f.Name
	}
	return out
}

// Blake3 is the bundle's digest (see the package doc).
func (b *Bundle) Blake3() digest.Digest { return Digest(b.files) }

// Digest is the digest of a bundle of files (see the package doc), without
// compiling them: what a ledger's trust state pins (package keys,
// Policy.PolicyBundle), so a pin is checked before a bundle is compiled or
// run. Files are taken in byte order of their names.
func Digest(files []File) digest.Digest {
	files = slices.Clone(files)
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	h := blake3.New(32, nil)
	for _, f := range files {
		h.Write([]byte(f.Name + "\n" + strconv.Itoa(len(f.Data)) + "\n"))
		h.Write(f.Data)
	}
	var d digest.Digest
	copy(d[:], h.Sum(nil))
	return d
}

// Limits bound one evaluation; zero fields take the defaults.
type Limits struct {
	Timeout       time.Duration
	MaxHeapGrowth uint64
}

// Finding is one deny or warn result.
type Finding struct {
	Resource string `json:"resource,omitempty"`
	Rule     string `json:"rule"`
	Reason   string `json:"reason"`
}

// Result is the outcome of one evaluation.
type Result struct {
	Deny []Finding `json:"deny"`
	Warn []Finding `json:"warn"`
}

// Pass reports whether no deny rule fired.
func (r *Result) Pass() bool { return len(r.Deny) == 0 }

// Eval evaluates the bundle over doc within lim.
func (b *Bundle) Eval(ctx context.Context, doc *Document, lim Limits) (*Result, error) {
	raw, err := doc.Encode()
	if err != nil {
		return nil, err
	}
	var input any
	if err := json.Unmarshal(raw, &input); err != nil {
		return nil, err
	}
	return b.evalValue(ctx, input, lim)
}

func (b *Bundle) evalValue(ctx context.Context, input any, lim Limits) (*Result, error) {
	if lim.Timeout <= 0 {
		lim.Timeout = DefaultTimeout
	}
	if lim.MaxHeapGrowth == 0 {
		lim.MaxHeapGrowth = DefaultMaxHeapGrowth
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ctx, stop := context.WithTimeoutCause(ctx, lim.Timeout, fmt.Errorf("%w after %s", ErrTimeout, lim.Timeout))
	defer stop()
	done := make(chan struct{})
	defer close(done)
	go watchHeap(done, cancel, lim.MaxHeapGrowth)

	rs, err := b.query.Eval(ctx, rego.EvalInput(input))
	if cause := context.Cause(ctx); cause != nil && (errors.Is(cause, ErrTimeout) || errors.Is(cause, ErrMemory)) {
		return nil, cause
	}
	if err != nil {
		return nil, fmt.Errorf("policy evaluation: %w", err)
	}
	res := &Result{Deny: []Finding{}, Warn: []Finding{}}
	if len(rs) == 0 {
		return res, nil
	}
	for i, p := range b.packages {
		v, _ := rs[0].Bindings[fmt.Sprintf("p%d", i)].(map[string]any)
		pkg := strings.TrimPrefix(p.String(), "data.")
		for _, rule := range []string{RuleDeny, RuleWarn} {
			fs, err := findings(pkg, rule, v[rule])
			if err != nil {
				return nil, err
			}
			if rule == RuleDeny {
				res.Deny = append(res.Deny, fs...)
			} else {
				res.Warn = append(res.Warn, fs...)
			}
			if len(res.Deny)+len(res.Warn) > MaxFindings {
				return nil, fmt.Errorf("%w: more than %d findings", ErrResult, MaxFindings)
			}
		}
	}
	sortFindings(res.Deny)
	sortFindings(res.Warn)
	return res, nil
}

func sortFindings(fs []Finding) {
	slices.SortFunc(fs, func(a, b Finding) int {
		if c := strings.Compare(a.Resource, b.Resource); c != 0 {
			return c
		}
		if c := strings.Compare(a.Rule, b.Rule); c != 0 {
			return c
		}
		return strings.Compare(a.Reason, b.Reason)
	})
}

// maxText bounds a finding's strings.
const maxText = 1024

func findings(pkg, rule string, v any) ([]Finding, error) {
	if v == nil {
		return nil, nil
	}
	set, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%w: %s.%s is not a set", ErrResult, pkg, rule)
	}
	out := make([]Finding, 0, len(set))
	for i, e := range set {
		f := Finding{Rule: pkg}
		switch e := e.(type) {
		case string:
			f.Reason = e
		case map[string]any:
			for k, val := range e {
				s, ok := val.(string)
				if !ok {
					return nil, fmt.Errorf("%w: %s.%s element %d: %s is not a string", ErrResult, pkg, rule, i, k)
				}
				switch k {
				case "resource":
					f.Resource = s
				case "rule":
					f.Rule = s
				case "reason":
					f.Reason = s
				default:
					return nil, fmt.Errorf("%w: %s.%s element %d: unknown field %q (want resource, rule, reason)", ErrResult, pkg, rule, i, k)
				}
			}
		default:
			return nil, fmt.Errorf("%w: %s.%s element %d is neither a string nor an object", ErrResult, pkg, rule, i)
		}
		if f.Reason == "" {
			return nil, fmt.Errorf("%w: %s.%s element %d has no reason", ErrResult, pkg, rule, i)
		}
		if len(f.Reason) > maxText || len(f.Rule) > maxText || len(f.Resource) > maxText {
			return nil, fmt.Errorf("%w: %s.%s element %d is longer than %d bytes", ErrResult, pkg, rule, i, maxText)
		}
		out = append(out, f)
	}
	return out, nil
}

const heapMetric = "/memory/classes/heap/objects:bytes"

// watchHeap cancels with ErrMemory when the heap grows by more than max
// over its size at the start, until done is closed.
func watchHeap(done <-chan struct{}, cancel context.CancelCauseFunc, max uint64) {
	s := []metrics.Sample{{Name: heapMetric}}
	metrics.Read(s)
	base := s[0].Value.Uint64()
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			metrics.Read(s)
			if now := s[0].Value.Uint64(); now > base && now-base > max {
				cancel(fmt.Errorf("%w: heap grew by %d MiB, at most %d MiB", ErrMemory, (now-base)>>20, max>>20))
				return
			}
		}
	}
}

// Defaults returns the default policy set (see the package doc), as the
// files init writes.
func Defaults() []File {
	es, err := defaultFS.ReadDir(defaultDir)
	if err != nil {
		panic(err)
	}
	var out []File
	for _, e := range es {
		b, err := defaultFS.ReadFile(path.Join(defaultDir, e.Name()))
		if err != nil {
			panic(err)
		}
		out = append(out, File{Name: Dir + "/" + e.Name(), Data: b})
	}
	return out
}

// Introduced returns the findings of after that before has not, for the
// same resource and rule (the reason's text may differ), in after's order:
// what a change of state adds, as apply judges a plan.
func Introduced(before, after []Finding) []Finding {
	had := map[[2]string]bool{}
	for _, f := range before {
		had[[2]string{f.Resource, f.Rule}] = true
	}
	out := []Finding{}
	for _, f := range after {
		if !had[[2]string{f.Resource, f.Rule}] {
			out = append(out, f)
		}
	}
	return out
}
