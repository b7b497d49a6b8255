package sandbox

import (
	"fmt"
	"slices"
	"strings"
)

// selector is a parsed label selector: every requirement must hold.
type selector []requirement

type requirement struct {
	key    string
	op     string // exists, !exists, =, !=, in, notin
	values []string
}

// parseSelector parses Hetzner's label selector syntax: comma-joined
// requirements, each one of
//
//	k   !k   k=v   k==v   k!=v   k in (a,b)   k notin (a,b)
//
// Surrounding white space is ignored. As in Kubernetes, != and notin also
// match objects that do not have the key.
func parseSelector(s string) (selector, error) {
	var sel selector
	if strings.TrimSpace(s) == "" {
		return sel, nil
	}
	for _, part := range splitTop(s) {
		r, err := parseRequirement(strings.TrimSpace(part))
		if err != nil {
			return nil, fmt.Errorf("label selector %q: %w", s, err)
		}
		sel = append(sel, r)
	}
	return sel, nil
}

// splitTop splits at commas outside parentheses.
func splitTop(s string) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
}

func parseRequirement(p string) (requirement, error) {
	if p == "" {
		return requirement{}, fmt.Errorf("empty requirement")
	}
	if strings.HasPrefix(p, "!") {
		k := strings.TrimSpace(p[1:])
		if err := checkSelectorKey(k); err != nil {
			return requirement{}, err
		}
		return requirement{key: k, op: "!exists"}, nil
	}
	for _, op := range []string{"!=", "==", "="} {
		if k, v, ok := strings.Cut(p, op); ok {
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if err := checkSelectorKey(k); err != nil {
				return requirement{}, err
			}
			if err := checkSelectorValue(v); err != nil {
				return requirement{}, err
			}
			if op == "==" {
				op = "="
			}
			return requirement{key: k, op: op, values: []string{v}}, nil
		}
	}
	if i := strings.IndexByte(p, '('); i >= 0 {
		head := strings.Fields(p[:i])
		if len(head) != 2 || (head[1] != "in" && head[1] != "notin") || !strings.HasSuffix(p, ")") {
			return requirement{}, fmt.Errorf("bad set requirement %q (want \"k in (a,b)\" or \"k notin (a,b)\")", p)
		}
		if err := checkSelectorKey(head[0]); err != nil {
			return requirement{}, err
		}
		var values []string
		for v := range strings.SplitSeq(p[i+1:len(p)-1], ",") {
			v = strings.TrimSpace(v)
			if err := checkSelectorValue(v); err != nil {
				return requirement{}, err
			}
			values = append(values, v)
		}
		return requirement{key: head[0], op: head[1], values: values}, nil
	}
	if err := checkSelectorKey(p); err != nil {
		return requirement{}, err
	}
	return requirement{key: p, op: "exists"}, nil
}

func checkSelectorKey(k string) error {
	if k == "" || strings.ContainsAny(k, " \t=!(),") {
		return fmt.Errorf("bad key %q", k)
	}
	return nil
}

func checkSelectorValue(v string) error {
	if strings.ContainsAny(v, " \t=!(),") {
		return fmt.Errorf("bad value %q", v)
	}
	return nil
}

// matches reports whether labels satisfy every requirement.
func (sel selector) matches(labels map[string]string) bool {
	for _, r := range sel {
		v, has := labels[r.key]
		var ok bool
		switch r.op {
		case "exists":
			ok = has
		case "!exists":
			ok = !has
		case "=":
			ok = has && v == r.values[0]
		case "!=":
			ok = !has || v != r.values[0]
		case "in":
			ok = has && slices.Contains(r.values, v)
		case "notin":
			ok = !has || !slices.Contains(r.values, v)
		}
		if !ok {
			return false
		}
	}
	return true
}
