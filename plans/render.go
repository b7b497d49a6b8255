package plans

// Rendering: what approvers read is what the provider receives.
//
// Text (terminals, `plan show`) and Markdown (pull requests, `plan show
// --markdown`, `plan review`) render every field of every step. They walk
// the step's values by reflection over their JSON encoding (the plan file's
// own keys), so a field added to provider.Action or Expect is rendered
// without a change here; TestRenderEveryField fails if one is not.
//
// Each action is shown as a diff from the server's state, Terraform-style:
//
//	+ key: value            the action sets it (a create sets everything)
//	~ key: old -> new       the action changes it on the existing server
//	- key: value            the action removes it (a delete removes the server)
//	  key: value            unchanged, shown for context
//
// The state is the provider's current view when the caller has it (plan
// review), else what the dry run found (the plan's expect). The labels
// vmc-git adds itself (vmc.ledger, vmc.plan) are shown as well. A long value
// (longer than LongValue bytes or with a line break, e.g. user data) is shown
// in full, in a fold with its size and SHA-256; Markdown fences it with a
// fence longer than any backtick run inside, so its text cannot end the block.

import (
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/provider"
)

// LongValue is the length above which a value is shown in a fold.
const LongValue = 80

// Field is one leaf of a rendered value: its key path in the plan's JSON
// ("labels.role", "public_net.ipv4") and its value as text.
type Field struct {
	Key   string
	Value string
	Long  bool // shown in a fold: longer than LongValue or multi-line
}

// Fields returns every leaf of v (a struct or a pointer to one) that its JSON
// encoding carries, in field order, with map entries sorted by key. Fields
// left out by omitempty are skipped; nothing else is.
func Fields(v any) []Field {
	var out []Field
	walk("", reflect.ValueOf(v), false, &out)
	return out
}

var textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()

func walk(key string, v reflect.Value, omitEmpty bool, out *[]Field) {
	leaf := func(s string) {
		*out = append(*out, Field{Key: key, Value: s, Long: len(s) > LongValue || strings.ContainsAny(s, "\r\n")})
	}
	if !v.IsValid() {
		return
	}
	if omitEmpty && v.IsZero() {
		return
	}
	if v.Type().Implements(textMarshaler) && v.Kind() != reflect.Pointer {
		b, err := v.Interface().(encoding.TextMarshaler).MarshalText()
		if err == nil {
			leaf(string(b))
			return
		}
	}
	if s, ok := v.Interface().(fmt.Stringer); ok && v.Kind() == reflect.Array {
		leaf(s.String()) // fixed-size hashes such as digest.Digest
		return
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			leaf("null")
			return
		}
		walk(key, v.Elem(), false, out)
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" && opts == "" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			k := name
			if key != "" {
				k = key + "." + name
			}
			walk(k, v.Field(i), slices.Contains(strings.Split(opts, ","), "omitempty"), out)
		}
	case reflect.Map:
		if v.Len() == 0 {
			leaf("{}")
			return
		}
		ks := v.MapKeys()
		slices.SortFunc(ks, func(a, b reflect.Value) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
		for _, mk := range ks {
			walk(key+"."+fmt.Sprint(mk), v.MapIndex(mk), false, out)
		}
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8 {
			leaf(fmt.Sprintf("%d bytes, sha256 %x", v.Len(), sha256.Sum256(v.Bytes())))
			return
		}
		parts := make([]string, v.Len())
		for i := range v.Len() {
			var sub []Field
			walk("", v.Index(i), false, &sub)
			var p []string
			for _, s := range sub {
				if s.Key != "" {
					p = append(p, s.Key+"="+s.Value)
				} else {
					p = append(p, s.Value)
				}
			}
			parts[i] = strings.Join(p, " ")
		}
		leaf("[" + strings.Join(parts, ", ") + "]")
	case reflect.String:
		leaf(v.String())
	case reflect.Bool:
		leaf(strconv.FormatBool(v.Bool()))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		leaf(strconv.FormatInt(v.Int(), 10))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		leaf(strconv.FormatUint(v.Uint(), 10))
	default:
		b, err := json.Marshal(v.Interface())
		if err != nil {
			leaf(fmt.Sprintf("%v", v.Interface()))
			return
		}
		leaf(string(b))
	}
}

// Change is one line of an action's diff.
type Change struct {
	Sign  byte   // '+', '~', '-' or ' '
	Key   string // the plan's JSON key path, or a server attribute
	Old   string // for '~' with a known old value
	Value string
	Long  bool
	Note  string // e.g. "added by vmc-git"
}

// State is what a diff compares an action with: a server as the provider
// shows it now, or as the dry run found it.
type State struct {
	Exists bool
	Server *provider.Server // nil: only the fields below are known
	Expect Expect
}

// StateFromExpect is the state the dry run recorded.
func StateFromExpect(e Expect) State { return State{Exists: e.Exists, Expect: e} }

// StateFromServer is the provider's current view (s nil: absent).
func StateFromServer(s *provider.Server) State {
	return State{Exists: s != nil, Server: s, Expect: ExpectOf(s)}
}

func (s State) image() string {
	if s.Server != nil {
		return s.Server.Image
	}
	return "(not recorded)"
}

func (s State) protection(which string) string {
	if s.Server == nil {
		return "(not recorded)"
	}
	if which == "delete" {
		return strconv.FormatBool(s.Server.Protection.Delete)
	}
	return strconv.FormatBool(s.Server.Protection.Rebuild)
}

// Diff lists what the action of p's step i does, compared with cur: every
// field of the action, and the labels vmc-git adds (see the provider
// package's label semantics).
func (p *Plan) Diff(i int, cur State) []Change {
	a := p.Actions[i].Action
	var out []Change
	add := func(c Change) { out = append(out, c) }
	extra := map[string]string{provider.LabelLedger: provider.LabelValue(p.Ledger), provider.LabelPlan: p.ID}
	fields := Fields(a)
	for _, f := range fields {
		if f.Key == "op" || target(a, f.Key) {
			continue
		}
		c := Change{Sign: '+', Key: f.Key, Value: f.Value, Long: f.Long}
		if a.Op != provider.OpCreate && cur.Exists {
			switch {
			case a.Op == provider.OpResize && f.Key == "server_type",
				a.Op == provider.OpRebuild && f.Key == "image":
				c.Sign, c.Old = '~', cur.Expect.ServerType
				if f.Key == "image" {
					c.Old = cur.image()
				}
			case a.Op == provider.OpRename && f.Key == "new_name":
				c.Sign, c.Key, c.Old = '~', "name", a.Server
			case a.Op == provider.OpProtect && (f.Key == "delete" || f.Key == "rebuild"):
				c.Sign, c.Key, c.Old = '~', "protection."+f.Key, cur.protection(f.Key)
			case a.Op == provider.OpLabel && strings.HasPrefix(f.Key, "labels."):
				old, had := cur.Expect.Labels[strings.TrimPrefix(f.Key, "labels.")]
				switch {
				case !had:
				case old == f.Value:
					c.Sign = ' '
				default:
					c.Sign, c.Old = '~', old
				}
			}
		}
		add(c)
	}
	// Any other field a step carries besides its action and expectation.
	for _, f := range Fields(p.Actions[i]) {
		if !strings.HasPrefix(f.Key, "action.") && f.Key != "action" && !strings.HasPrefix(f.Key, "expect.") && f.Key != "expect" {
			add(Change{Sign: '+', Key: f.Key, Value: f.Value, Long: f.Long})
		}
	}
	switch a.Op {
	case provider.OpCreate:
		for _, k := range slices.Sorted(maps.Keys(extra)) {
			add(Change{Sign: '+', Key: "labels." + k, Value: extra[k], Note: "added by vmc-git"})
		}
	case provider.OpLabel:
		for _, k := range slices.Sorted(maps.Keys(cur.Expect.Labels)) {
			if _, set := a.Labels[k]; set || extra[k] != "" {
				continue
			}
			add(Change{Sign: '-', Key: "labels." + k, Value: cur.Expect.Labels[k]})
		}
		for _, k := range slices.Sorted(maps.Keys(extra)) {
			c := Change{Sign: '+', Key: "labels." + k, Value: extra[k], Note: "added by vmc-git"}
			if old, had := cur.Expect.Labels[k]; had {
				c.Sign, c.Old = '~', old
				if old == extra[k] {
					c.Sign, c.Old = ' ', ""
				}
			}
			add(c)
		}
	case provider.OpDelete:
		add(Change{Sign: '-', Key: a.Target().Kind.String(), Value: describeState(cur)})
	case provider.OpPoweroff, provider.OpShutdown:
		add(Change{Sign: '~', Key: "status", Old: curStatus(cur), Value: "off"})
	case provider.OpPoweron:
		add(Change{Sign: '~', Key: "status", Old: curStatus(cur), Value: "running"})
	case provider.OpReboot, provider.OpReset:
		add(Change{Sign: '~', Key: "status", Old: curStatus(cur), Value: "running", Note: string(a.Op)})
	case provider.OpRebuild:
		add(Change{Sign: '-', Key: "disk", Value: "every file on the server (rebuild wipes the disk)"})
	}
	return out
}

// target reports whether key names the action's target (shown in the
// step's title): "server" for a server action, "kind" and "name" for
// another kind, whose "server" is a parameter.
func target(a provider.Action, key string) bool {
	if a.Kind == provider.KindServer {
		return key == "server"
	}
	return key == "kind" || key == "name"
}

func curStatus(s State) string {
	if !s.Exists {
		return "(absent)"
	}
	return s.Expect.Status
}

func describeState(s State) string {
	if !s.Exists {
		return "absent"
	}
	d := describeExpect(s.Expect)
	if s.Server != nil {
		d += fmt.Sprintf(", image %s, %s", orDash(s.Server.Image), orDash(s.Server.Location))
		if s.Server.IPv4 != "" {
			d += ", " + s.Server.IPv4
		}
	}
	return d
}

// line renders a change on one line; long values are folded elsewhere.
func (c Change) line() string {
	v := c.Value
	if c.Long {
		v = longSummary(c.Value) + " (in full below)"
	} else {
		v = oneLine(v)
	}
	s := string(c.Sign) + " " + c.Key + ": "
	if c.Sign == '~' && c.Old != "" {
		s += oneLine(c.Old) + " -> "
	}
	s += v
	if c.Note != "" {
		s += "  (" + c.Note + ")"
	}
	return s
}

// longSummary is a long value's size and SHA-256.
func longSummary(v string) string {
	sum := sha256.Sum256([]byte(v))
	return fmt.Sprintf("%d bytes, sha256 %s", len(v), hex.EncodeToString(sum[:]))
}

// oneLine quotes control characters so a value stays on its line.
func oneLine(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

func stepTitle(i int, a provider.Action) string {
	return fmt.Sprintf("%d. %s %s", i+1, provider.OpName(a.Kind, a.Op), a.Target().Name)
}

// Text renders a plan for a terminal.
func (p *Plan) Text(b []byte) string {
	var s strings.Builder
	sum := digest.Of(b)
	fmt.Fprintf(&s, "plan %s (format v%d)\n  %s\n  ledger %s at receipt %d (blake3 %s)\n  made %s by %s\n  blake3 %s\n  sha256 %s\n",
		p.ID, p.V, oneLine(p.Summary), p.Ledger, p.LedgerHead.Seq, p.LedgerHead.Blake3, p.CreatedAt, orDash(p.CreatedBy), sum.Blake3, sum.SHA256)
	for i, st := range p.Actions {
		fmt.Fprintf(&s, "  %s\n", stepTitle(i, st.Action))
		changes := p.Diff(i, StateFromExpect(st.Expect))
		for _, c := range changes {
			fmt.Fprintf(&s, "     %s\n", c.line())
		}
		fmt.Fprintf(&s, "     expects: %s\n", describeExpect(st.Expect))
		for _, c := range changes {
			if !c.Long {
				continue
			}
			fmt.Fprintf(&s, "     %s (%s), in full:\n", c.Key, longSummary(c.Value))
			for l := range strings.SplitSeq(strings.TrimSuffix(c.Value, "\n"), "\n") {
				fmt.Fprintf(&s, "       | %s\n", oneLine(l))
			}
		}
	}
	return s.String()
}

// Markdown renders a plan for a pull request comment. now, if not nil, is
// the provider's current view of each server (by name; a nil entry: absent),
// which the diffs are made against; without it they are made against what
// the dry run found.
func (p *Plan) Markdown(b []byte, now map[string]*provider.Server, approvals *ApprovalStatus, staleness []string) string {
	var s strings.Builder
	sum := digest.Of(b)
	fmt.Fprintf(&s, "### Plan `%s`\n\n%s\n\n", mdCode(p.ID), mdEscape(p.Summary))
	fmt.Fprintf(&s, "- format v%d, ledger `%s` at receipt %d (`%s`)\n- made `%s` by `%s`\n- blake3 `%s`\n- sha256 `%s`\n\n",
		p.V, mdCode(p.Ledger), p.LedgerHead.Seq, p.LedgerHead.Blake3, mdCode(p.CreatedAt), mdCode(orDash(p.CreatedBy)), sum.Blake3, sum.SHA256)
	first := p.firstSteps()
	for i, st := range p.Actions {
		cur, against := StateFromExpect(st.Expect), "what the dry run found"
		switch {
		case !first[i]:
			against = "the state the steps before it leave"
		case now != nil && st.Action.Kind != provider.KindServer:
			// Other kinds: the staleness check compares them with the provider.
		case now != nil:
			cur, against = StateFromServer(now[st.Action.Server]), "the provider now"
		}
		fmt.Fprintf(&s, "#### %d. %s `%s`\n\n", i+1, mdEscape(provider.OpName(st.Action.Kind, st.Action.Op)), mdCode(st.Action.Target().Name))
		changes := p.Diff(i, cur)
		var lines []string
		for _, c := range changes {
			lines = append(lines, c.line())
		}
		s.WriteString(fence("diff", strings.Join(lines, "\n")+"\n"))
		for _, c := range changes {
			if !c.Long {
				continue
			}
			fmt.Fprintf(&s, "\n<details><summary><code>%s</code>: %s</summary>\n\n", htmlEscape(c.Key), htmlEscape(longSummary(c.Value)))
			s.WriteString(fence("", c.Value))
			s.WriteString("\n</details>\n")
		}
		fmt.Fprintf(&s, "\nCompared with %s. Expects: `%s`", against, mdCode(describeExpect(st.Expect)))
		if now != nil && first[i] && st.Action.Kind == provider.KindServer {
			fmt.Fprintf(&s, "; now: `%s`", mdCode(describeState(cur)))
		}
		s.WriteString(".\n\n")
	}
	if approvals != nil {
		fmt.Fprintf(&s, "**Approvals:** %d of %d", len(approvals.Valid), approvals.Required)
		if len(approvals.Valid) > 0 {
			fmt.Fprintf(&s, " (%s)", mdEscape(strings.Join(approvals.Valid, ", ")))
		}
		if approvals.Missing > 0 {
			fmt.Fprintf(&s, ", **%d missing**", approvals.Missing)
		}
		for _, k := range slices.Sorted(maps.Keys(approvals.Invalid)) {
			fmt.Fprintf(&s, "\n- invalid approval `%s`: %s", mdCode(k), mdEscape(approvals.Invalid[k]))
		}
		s.WriteString("\n")
	}
	if len(staleness) > 0 {
		s.WriteString("\n**Stale — apply would refuse it:**\n")
		for _, d := range staleness {
			fmt.Fprintf(&s, "- %s\n", mdEscape(d))
		}
	}
	return s.String()
}

// fence puts text in a fenced code block whose fence is longer than any run
// of backticks in text (CommonMark), so the text cannot close it.
func fence(lang, text string) string {
	n, run := 3, 0
	for _, r := range text {
		if r == '`' {
			run++
			n = max(n, run+1)
		} else {
			run = 0
		}
	}
	f := strings.Repeat("`", n)
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	return f + lang + "\n" + text + f + "\n"
}

// describeExpect renders every field of an expectation.
func describeExpect(e Expect) string {
	if !e.Exists {
		return "absent"
	}
	var parts []string
	for _, f := range Fields(e) {
		parts = append(parts, f.Key+" "+oneLine(f.Value))
	}
	return strings.Join(parts, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func mdEscape(s string) string {
	r := strings.NewReplacer("|", "\\|", "<", "&lt;", ">", "&gt;", "\n", " ", "\r", " ", "`", "'", "*", "\\*", "_", "\\_", "[", "\\[", "]", "\\]", "&", "&amp;")
	return r.Replace(s)
}

// mdCode makes s safe inside a one-backtick code span.
func mdCode(s string) string {
	return strings.NewReplacer("`", "'", "\n", " ", "\r", " ", "|", "\\|").Replace(s)
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
