// Package canon implements RFC 8785, the JSON Canonicalization Scheme (JCS),
// with a strict parser in front of it.
//
// Every vmc-git file that is hashed or signed (receipts, HEAD.json, plans,
// anchor statements) is stored in canonical form, byte for byte, so that one
// value has exactly one encoding and one hash. A file that is not already
// canonical is rejected rather than repaired: accepting a second encoding of
// the same value would let an attacker change a file's hash without changing
// its meaning (malleability).
//
// The parser is stricter than encoding/json. It rejects, each with its own
// error: duplicate object keys, invalid UTF-8, lone UTF-16 surrogates in
// escapes, numbers that overflow or underflow an IEEE-754 double, NaN and
// Infinity, trailing data, and nesting deeper than MaxDepth.
//
// Canonical form (RFC 8785 section 3.2):
//   - no insignificant whitespace;
//   - object members sorted by the UTF-16 code units of their names;
//   - strings escape only '"', '\\' and control characters below U+0020
//     (\b \t \n \f \r in short form, others as \u00xx, lower-case hex);
//   - numbers in ECMAScript Number.prototype.toString form (shortest
//     round-trip digits; 1e+21 and above, below 1e-6 in exponent form).
//
// Example: {"b": 2.50, "a": "\u00e9"} canonicalizes to {"a":"é","b":2.5}.
//
// # Resource limits
//
// Input is hostile (anyone who can push to a ledger repository can put a
// file there), so what parsing costs is bounded by the input's size:
//   - Check (and so Unmarshal) streams: it validates a canonical text in one
//     pass with memory proportional to the nesting depth (at most MaxDepth)
//     and the longest string, never building a tree;
//   - DecodeStrict streams the strictness checks too, keeping one key set per
//     open object for the duplicate check;
//   - Canonicalize builds a tree, of at most one node per two input bytes.
//
// Callers bound the input before calling (each file format in vmc-git names
// its own maximum size); this package bounds depth and never allocates more
// than a small multiple of the input.
package canon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth bounds the nesting of arrays and objects the parser accepts.
const MaxDepth = 64

// ErrNotCanonical is returned by Check and Unmarshal for input that parses
// but is not byte for byte in canonical form.
var ErrNotCanonical = errors.New("not in canonical JSON form (RFC 8785)")

// SyntaxError reports where the input stops being acceptable JSON.
type SyntaxError struct {
	Offset int    // byte offset of the problem
	Msg    string // what is wrong there
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("json: %s at byte %d", e.Msg, e.Offset)
}

// Canonicalize parses b strictly and returns its RFC 8785 canonical form.
func Canonicalize(b []byte) ([]byte, error) {
	p := parser{in: b}
	p.skipWS()
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.skipWS()
	if p.pos != len(p.in) {
		return nil, p.errf("trailing data after JSON value")
	}
	var out bytes.Buffer
	out.Grow(len(b))
	writeValue(&out, v)
	return out.Bytes(), nil
}

// Check reports whether b is a strictly valid JSON text already in canonical
// form. It returns a *SyntaxError for bad JSON and an error wrapping
// ErrNotCanonical, with the offset of the first non-canonical byte,
// otherwise. It streams: no tree is built (see Resource limits).
func Check(b []byte) error {
	return validate(b, true)
}

// validate checks b in one pass: strict JSON and, with canonical, canonical
// form too (which makes object keys strictly increasing, so no duplicate
// check is needed).
func validate(b []byte, canonical bool) error {
	v := validator{parser: parser{in: b}, canonical: canonical}
	if err := v.ws(); err != nil {
		return err
	}
	if err := v.value(0); err != nil {
		return err
	}
	if !canonical {
		v.skipWS()
	}
	if v.pos != len(v.in) {
		if canonical && isWS(v.in[v.pos]) {
			return v.notCanonical(v.pos, "whitespace")
		}
		return v.errf("trailing data after JSON value")
	}
	return nil
}

func isWS(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

type validator struct {
	parser
	canonical bool
	scratch   bytes.Buffer
}

func (v *validator) notCanonical(at int, what string) error {
	return fmt.Errorf("%w: first difference at byte %d (%s)", ErrNotCanonical, at, what)
}

// ws skips whitespace; in canonical mode whitespace is itself the error
// (the strict syntax error takes precedence when the text is bad anyway).
func (v *validator) ws() error {
	if v.pos < len(v.in) && isWS(v.in[v.pos]) {
		if v.canonical {
			return v.notCanonical(v.pos, "whitespace")
		}
		v.skipWS()
	}
	return nil
}

func (v *validator) value(depth int) error {
	if v.pos >= len(v.in) {
		return v.errf("unexpected end of input")
	}
	switch c := v.in[v.pos]; {
	case c == '{' || c == '[':
		if depth >= MaxDepth {
			return v.errf("nesting deeper than %d", MaxDepth)
		}
		if c == '{' {
			return v.object(depth + 1)
		}
		return v.array(depth + 1)
	case c == '"':
		_, err := v.str()
		return err
	case c == '-' || (c >= '0' && c <= '9'):
		start := v.pos
		if v.simpleInt() {
			return nil
		}
		n, err := v.number()
		if err != nil {
			return err
		}
		if v.canonical {
			if f := FormatNumber(n.num); f != string(v.in[start:v.pos]) {
				return v.notCanonical(start+firstDiff(f, v.in[start:v.pos]), "number form")
			}
		}
		return nil
	case c == 't':
		_, err := v.literal("true", kTrue)
		return err
	case c == 'f':
		_, err := v.literal("false", kFalse)
		return err
	case c == 'n':
		_, err := v.literal("null", kNull)
		return err
	default:
		return v.errf("unexpected character %q", c)
	}
}

// simpleInt consumes a short integer that is canonical as written (no
// leading zero, no fraction or exponent, at most 15 digits, not -0): the
// common case, checked without converting it.
func (v *validator) simpleInt() bool {
	in, i := v.in, v.pos
	if i < len(in) && in[i] == '-' {
		i++
	}
	d := i
	for i < len(in) && in[i] >= '0' && in[i] <= '9' {
		i++
	}
	n := i - d
	switch {
	case n == 0 || n > 15 || (in[d] == '0' && (n > 1 || d > v.pos)):
		return false
	case i < len(in) && (in[i] == '.' || in[i] == 'e' || in[i] == 'E'):
		return false
	}
	v.pos = i
	return true
}

func firstDiff(a string, b []byte) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}

// str parses a string and, in canonical mode, requires its canonical escaping.
func (v *validator) str() (string, error) {
	start := v.pos
	s, err := v.string()
	if err != nil || !v.canonical {
		return s, err
	}
	v.scratch.Reset()
	writeString(&v.scratch, s)
	if got := v.in[start:v.pos]; !bytes.Equal(v.scratch.Bytes(), got) {
		return s, v.notCanonical(start+firstDiff(v.scratch.String(), got), "string escaping")
	}
	return s, nil
}

func (v *validator) object(depth int) error {
	v.pos++ // '{'
	var seen map[string]bool
	if !v.canonical {
		seen = map[string]bool{}
	}
	prev, first := "", true
	if err := v.ws(); err != nil {
		return err
	}
	if v.pos < len(v.in) && v.in[v.pos] == '}' {
		v.pos++
		return nil
	}
	for {
		if err := v.ws(); err != nil {
			return err
		}
		if v.pos >= len(v.in) || v.in[v.pos] != '"' {
			return v.errf("expected string for object key")
		}
		keyAt := v.pos
		k, err := v.str()
		if err != nil {
			return err
		}
		if v.canonical {
			if !first && !lessUTF16(prev, k) {
				if prev == k {
					return &SyntaxError{Offset: keyAt, Msg: fmt.Sprintf("duplicate object key %q", k)}
				}
				return v.notCanonical(keyAt, "object keys out of order")
			}
			prev, first = k, false
		} else {
			if seen[k] {
				return &SyntaxError{Offset: keyAt, Msg: fmt.Sprintf("duplicate object key %q", k)}
			}
			seen[k] = true
		}
		if err := v.ws(); err != nil {
			return err
		}
		if v.pos >= len(v.in) || v.in[v.pos] != ':' {
			return v.errf("expected ':' after object key")
		}
		v.pos++
		if err := v.ws(); err != nil {
			return err
		}
		if err := v.value(depth); err != nil {
			return err
		}
		if err := v.ws(); err != nil {
			return err
		}
		if v.pos >= len(v.in) {
			return v.errf("unexpected end of input in object")
		}
		switch v.in[v.pos] {
		case ',':
			v.pos++
		case '}':
			v.pos++
			return nil
		default:
			return v.errf("expected ',' or '}' in object")
		}
	}
}

func (v *validator) array(depth int) error {
	v.pos++ // '['
	if err := v.ws(); err != nil {
		return err
	}
	if v.pos < len(v.in) && v.in[v.pos] == ']' {
		v.pos++
		return nil
	}
	for {
		if err := v.ws(); err != nil {
			return err
		}
		if err := v.value(depth); err != nil {
			return err
		}
		if err := v.ws(); err != nil {
			return err
		}
		if v.pos >= len(v.in) {
			return v.errf("unexpected end of input in array")
		}
		switch v.in[v.pos] {
		case ',':
			v.pos++
		case ']':
			v.pos++
			return nil
		default:
			return v.errf("expected ',' or ']' in array")
		}
	}
}

// Marshal encodes v with encoding/json and returns the canonical form.
func Marshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return Canonicalize(b)
}

// Unmarshal requires b to be canonical (see Check) and decodes it into v,
// rejecting object members that v has no field for.
func Unmarshal(b []byte, v any) error {
	if err := Check(b); err != nil {
		return err
	}
	return DecodeStrict(b, v)
}

// DecodeStrict decodes valid JSON b into v, rejecting unknown fields,
// member names that match a field only case-insensitively, and trailing
// data, without requiring canonical form. Use it for inputs that
// are not hashed (configuration, flags given as JSON).
func DecodeStrict(b []byte, v any) error {
	if err := validate(b, false); err != nil { // duplicate keys, bad UTF-8 ...
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if strings.HasPrefix(err.Error(), "json: ") {
			return err
		}
		return fmt.Errorf("json: %w", err)
	}
	return checkFieldNames(b, v)
}

// value kinds of the parsed tree
type kind uint8

const (
	kNull kind = iota
	kTrue
	kFalse
	kNumber
	kString
	kArray
	kObject
)

type member struct {
	key string
	val *node
}

type node struct {
	kind    kind
	num     float64
	str     string
	items   []*node
	members []member
}

type parser struct {
	in  []byte
	pos int
}

func (p *parser) errf(format string, args ...any) error {
	return &SyntaxError{Offset: p.pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) skipWS() {
	for p.pos < len(p.in) {
		switch p.in[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) value(depth int) (*node, error) {
	if p.pos >= len(p.in) {
		return nil, p.errf("unexpected end of input")
	}
	switch c := p.in[p.pos]; {
	case c == '{':
		if depth >= MaxDepth {
			return nil, p.errf("nesting deeper than %d", MaxDepth)
		}
		return p.object(depth + 1)
	case c == '[':
		if depth >= MaxDepth {
			return nil, p.errf("nesting deeper than %d", MaxDepth)
		}
		return p.array(depth + 1)
	case c == '"':
		s, err := p.string()
		if err != nil {
			return nil, err
		}
		return &node{kind: kString, str: s}, nil
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == 't':
		return p.literal("true", kTrue)
	case c == 'f':
		return p.literal("false", kFalse)
	case c == 'n':
		return p.literal("null", kNull)
	default:
		return nil, p.errf("unexpected character %q", c)
	}
}

func (p *parser) literal(word string, k kind) (*node, error) {
	if !bytes.HasPrefix(p.in[p.pos:], []byte(word)) {
		return nil, p.errf("invalid literal")
	}
	p.pos += len(word)
	return &node{kind: k}, nil
}

func (p *parser) object(depth int) (*node, error) {
	p.pos++ // '{'
	n := &node{kind: kObject}
	seen := map[string]bool{}
	p.skipWS()
	if p.pos < len(p.in) && p.in[p.pos] == '}' {
		p.pos++
		return n, nil
	}
	for {
		p.skipWS()
		if p.pos >= len(p.in) || p.in[p.pos] != '"' {
			return nil, p.errf("expected string for object key")
		}
		keyAt := p.pos
		k, err := p.string()
		if err != nil {
			return nil, err
		}
		if seen[k] {
			return nil, &SyntaxError{Offset: keyAt, Msg: fmt.Sprintf("duplicate object key %q", k)}
		}
		seen[k] = true
		p.skipWS()
		if p.pos >= len(p.in) || p.in[p.pos] != ':' {
			return nil, p.errf("expected ':' after object key")
		}
		p.pos++
		p.skipWS()
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		n.members = append(n.members, member{k, v})
		p.skipWS()
		if p.pos >= len(p.in) {
			return nil, p.errf("unexpected end of input in object")
		}
		switch p.in[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			return n, nil
		default:
			return nil, p.errf("expected ',' or '}' in object")
		}
	}
}

func (p *parser) array(depth int) (*node, error) {
	p.pos++ // '['
	n := &node{kind: kArray, items: []*node{}}
	p.skipWS()
	if p.pos < len(p.in) && p.in[p.pos] == ']' {
		p.pos++
		return n, nil
	}
	for {
		p.skipWS()
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		n.items = append(n.items, v)
		p.skipWS()
		if p.pos >= len(p.in) {
			return nil, p.errf("unexpected end of input in array")
		}
		switch p.in[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return n, nil
		default:
			return nil, p.errf("expected ',' or ']' in array")
		}
	}
}

func (p *parser) number() (*node, error) {
	start := p.pos
	in := p.in
	i := p.pos
	if i < len(in) && in[i] == '-' {
		i++
	}
	switch {
	case i < len(in) && in[i] == '0':
		i++
	case i < len(in) && in[i] >= '1' && in[i] <= '9':
		for i < len(in) && in[i] >= '0' && in[i] <= '9' {
			i++
		}
	default:
		p.pos = i
		return nil, p.errf("invalid number")
	}
	if i < len(in) && in[i] == '.' {
		i++
		d := i
		for i < len(in) && in[i] >= '0' && in[i] <= '9' {
			i++
		}
		if i == d {
			p.pos = i
			return nil, p.errf("invalid number: no digits after '.'")
		}
	}
	if i < len(in) && (in[i] == 'e' || in[i] == 'E') {
		i++
		if i < len(in) && (in[i] == '+' || in[i] == '-') {
			i++
		}
		d := i
		for i < len(in) && in[i] >= '0' && in[i] <= '9' {
			i++
		}
		if i == d {
			p.pos = i
			return nil, p.errf("invalid number: no digits in exponent")
		}
	}
	text := string(in[start:i])
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(f, 0) {
		p.pos = start
		return nil, p.errf("number %s outside the IEEE-754 double range", text)
	}
	if f == 0 && !zeroLiteral(text) {
		p.pos = start
		return nil, p.errf("number %s underflows an IEEE-754 double", text)
	}
	p.pos = i
	return &node{kind: kNumber, num: f}, nil
}

// zeroLiteral reports whether a JSON number literal denotes zero exactly.
func zeroLiteral(s string) bool {
	mant, _, _ := strings.Cut(strings.ToLower(s), "e")
	return strings.Trim(mant, "-0.") == ""
}

func (p *parser) string() (string, error) {
	p.pos++ // opening quote
	var sb strings.Builder
	in := p.in
	for {
		if p.pos >= len(in) {
			return "", p.errf("unterminated string")
		}
		c := in[p.pos]
		switch {
		case c == '"':
			p.pos++
			return sb.String(), nil
		case c == '\\':
			r, err := p.escape()
			if err != nil {
				return "", err
			}
			sb.WriteRune(r)
		case c < 0x20:
			return "", p.errf("control character 0x%02x in string", c)
		case c < utf8.RuneSelf:
			sb.WriteByte(c)
			p.pos++
		default:
			r, size := utf8.DecodeRune(in[p.pos:])
			if r == utf8.RuneError && size <= 1 {
				return "", p.errf("invalid UTF-8 in string")
			}
			sb.Write(in[p.pos : p.pos+size])
			p.pos += size
		}
	}
}

// escape decodes one backslash escape, joining surrogate pairs.
func (p *parser) escape() (rune, error) {
	in := p.in
	if p.pos+1 >= len(in) {
		return 0, p.errf("unterminated escape")
	}
	c := in[p.pos+1]
	p.pos += 2
	switch c {
	case '"', '\\', '/':
		return rune(c), nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
		r, err := p.hex4()
		if err != nil {
			return 0, err
		}
		switch {
		case utf16.IsSurrogate(r) && r < 0xdc00: // high surrogate: needs a low one
			if p.pos+1 < len(in) && in[p.pos] == '\\' && in[p.pos+1] == 'u' {
				p.pos += 2
				r2, err := p.hex4()
				if err != nil {
					return 0, err
				}
				if j := utf16.DecodeRune(r, r2); j != utf8.RuneError {
					return j, nil
				}
			}
			return 0, p.errf("lone UTF-16 surrogate \\u%04x", r)
		case utf16.IsSurrogate(r):
			return 0, p.errf("lone UTF-16 surrogate \\u%04x", r)
		}
		return r, nil
	default:
		p.pos -= 2
		return 0, p.errf("invalid escape \\%c", c)
	}
}

func (p *parser) hex4() (rune, error) {
	if p.pos+4 > len(p.in) {
		return 0, p.errf("short \\u escape")
	}
	v, err := strconv.ParseUint(string(p.in[p.pos:p.pos+4]), 16, 32)
	if err != nil {
		return 0, p.errf("invalid \\u escape")
	}
	p.pos += 4
	return rune(v), nil
}

func writeValue(out *bytes.Buffer, n *node) {
	switch n.kind {
	case kNull:
		out.WriteString("null")
	case kTrue:
		out.WriteString("true")
	case kFalse:
		out.WriteString("false")
	case kNumber:
		out.WriteString(FormatNumber(n.num))
	case kString:
		writeString(out, n.str)
	case kArray:
		out.WriteByte('[')
		for i, it := range n.items {
			if i > 0 {
				out.WriteByte(',')
			}
			writeValue(out, it)
		}
		out.WriteByte(']')
	case kObject:
		ms := n.members
		sort.Slice(ms, func(i, j int) bool { return lessUTF16(ms[i].key, ms[j].key) })
		out.WriteByte('{')
		for i, m := range ms {
			if i > 0 {
				out.WriteByte(',')
			}
			writeString(out, m.key)
			out.WriteByte(':')
			writeValue(out, m.val)
		}
		out.WriteByte('}')
	}
}

// lessUTF16 orders strings by their UTF-16 code units, as RFC 8785 requires.
func lessUTF16(a, b string) bool {
	ua, ub := utf16.Encode([]rune(a)), utf16.Encode([]rune(b))
	for i := 0; i < len(ua) && i < len(ub); i++ {
		if ua[i] != ub[i] {
			return ua[i] < ub[i]
		}
	}
	return len(ua) < len(ub)
}

const hexDigits = "0123456789abcdef"

func writeString(out *bytes.Buffer, s string) {
	out.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			out.WriteString(`\"`)
		case '\\':
			out.WriteString(`\\`)
		case '\b':
			out.WriteString(`\b`)
		case '\f':
			out.WriteString(`\f`)
		case '\n':
			out.WriteString(`\n`)
		case '\r':
			out.WriteString(`\r`)
		case '\t':
			out.WriteString(`\t`)
		default:
			if c < 0x20 {
				out.WriteString(`\u00`)
				out.WriteByte(hexDigits[c>>4])
				out.WriteByte(hexDigits[c&0xf])
			} else {
				out.WriteByte(c)
			}
		}
	}
	out.WriteByte('"')
}

// FormatNumber renders a finite double as ECMAScript's Number.prototype.toString
// does (ECMA-262 section 7.1.12.1), the number form RFC 8785 requires.
// It panics on NaN or Infinity, which the parser never produces.
func FormatNumber(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		panic("canon: non-finite number")
	}
	if f == 0 {
		return "0" // also -0
	}
	sign := ""
	if f < 0 {
		sign = "-"
		f = -f
	}
	// Shortest round-trip digits: "d.ddddde±XX".
	e := strconv.FormatFloat(f, 'e', -1, 64)
	mant, exp, _ := strings.Cut(e, "e")
	digits := strings.Replace(mant, ".", "", 1)
	x, _ := strconv.Atoi(exp)
	k := len(digits)
	n := x + 1 // value = 0.digits × 10^n
	var s string
	switch {
	case k <= n && n <= 21:
		s = digits + strings.Repeat("0", n-k)
	case 0 < n && n <= 21:
		s = digits[:n] + "." + digits[n:]
	case -6 < n && n <= 0:
		s = "0." + strings.Repeat("0", -n) + digits
	default:
		es := "+"
		if n-1 < 0 {
			es = "-"
		}
		ax := n - 1
		if ax < 0 {
			ax = -ax
		}
		if k == 1 {
			s = digits + "e" + es + strconv.Itoa(ax)
		} else {
			s = digits[:1] + "." + digits[1:] + "e" + es + strconv.Itoa(ax)
		}
	}
	return sign + s
}
