package policy

import (
	"fmt"
	"slices"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
)

// A bundle's outcome must be a function of its bytes and the input: the
// trust state pins the bundle (its digest), and the pin only means what it
// says if the same bytes over the same input give the same verdict on every
// run and every applier. So the built-ins below are not available to a
// policy, and a file that calls one does not compile (ErrCompile, naming the
// file, line and built-in, and why):
//
//   - reaching outside the process: http.send, net.lookup_ip_addr,
//     opa.runtime (the environment), json.match_schema and
//     json.verify_schema (a schema's $ref loads absolute file:// URLs);
//   - varying between runs: time.now_ns (the clock), rand.intn and
//     uuid.rfc4122 (randomness), io.jwt.encode_sign and
//     io.jwt.encode_sign_raw (randomised signatures),
//     io.jwt.decode_verify (the clock, unless given a time), and
//     crypto.x509.parse_and_verify_certificates and its _with_options
//     form (the clock);
//   - any other built-in OPA itself marks nondeterministic (a later OPA
//     version's additions are refused without a change here).
//
// The capabilities the compiler gets leave them out as well, so a call the
// scan would miss still fails to compile ("undefined function").
const (
	whyOutside = "it reaches outside the process"
	whyClock   = "its result depends on the clock, so it varies between runs"
	whyRandom  = "its result is random, so it varies between runs"
	whyOPA     = "OPA marks it nondeterministic, so its result varies between runs"
)

var deniedBuiltins = map[string]string{
	"http.send":          whyOutside,
	"net.lookup_ip_addr": whyOutside,
	"opa.runtime":        whyOutside + " (the environment and OPA's configuration)",
	"json.match_schema":  whyOutside + " (a schema's $ref reads file:// URLs)",
	"json.verify_schema": whyOutside + " (a schema's $ref reads file:// URLs)",

	"time.now_ns":            whyClock,
	"io.jwt.decode_verify":   whyClock + " (token expiry is checked against now unless a time is given)",
	"rand.intn":              whyRandom,
	"uuid.rfc4122":           whyRandom,
	"io.jwt.encode_sign":     whyRandom + " (signatures are randomised)",
	"io.jwt.encode_sign_raw": whyRandom + " (signatures are randomised)",

	"crypto.x509.parse_and_verify_certificates":              whyClock + " (certificate validity is checked against now)",
	"crypto.x509.parse_and_verify_certificates_with_options": whyClock + " (certificate validity is checked against now by default)",
}

// deniedBuiltin says why a policy may not call b ("" if it may).
func deniedBuiltin(b *ast.Builtin) string {
	if why, ok := deniedBuiltins[b.Name]; ok {
		return why
	}
	if b.Nondeterministic {
		return whyOPA
	}
	return ""
}

// DeniedBuiltins lists the built-ins a policy may not call with the OPA
// version linked in, sorted.
func DeniedBuiltins() []string {
	var out []string
	for name := range deniedByName() {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// deniedByName maps each refused built-in of this OPA version to why.
var deniedByName = sync.OnceValue(func() map[string]string {
	m := map[string]string{}
	for _, b := range ast.CapabilitiesForThisVersion().Builtins {
		if why := deniedBuiltin(b); why != "" {
			m[b.Name] = why
		}
	}
	return m
})

// deniedCalls lists each call in m of a built-in a policy may not call
// (name: the file's path in the tree) as "file:line: name is not allowed
// in a policy: why", each once.
func deniedCalls(name string, m *ast.Module) []string {
	byName := deniedByName()
	var out []string
	check := func(op *ast.Term, loc *ast.Location) {
		if op == nil {
			return
		}
		ref, ok := op.Value.(ast.Ref)
		if !ok {
			return
		}
		if _, isVar := ref[0].Value.(ast.Var); !isVar || ref[0].Value.Compare(ast.DefaultRootDocument.Value) == 0 || ref[0].Value.Compare(ast.InputRootDocument.Value) == 0 {
			return // data.… and input.… are rules and documents, not built-ins
		}
		fn := ref.String()
		why, ok := byName[fn]
		if !ok {
			return
		}
		if op.Location != nil {
			loc = op.Location
		}
		line := 0
		if loc != nil {
			line = loc.Row
		}
		msg := fmt.Sprintf("%s:%d: %s is not allowed in a policy: %s; a pinned bundle's verdict must depend only on its bytes and the input", name, line, fn, why)
		if !slices.Contains(out, msg) {
			out = append(out, msg)
		}
	}
	ast.WalkExprs(m, func(e *ast.Expr) bool {
		if e.IsCall() {
			check(e.OperatorTerm(), e.Location)
		}
		for _, w := range e.With {
			check(w.Target, w.Location)
		}
		return false
	})
	ast.WalkTerms(m, func(t *ast.Term) bool {
		if c, ok := t.Value.(ast.Call); ok && len(c) > 0 {
			check(c[0], t.Location)
		}
		return false
	})
	return out
}
