package sandbox

import "testing"

func TestSelector(t *testing.T) {
	labels := map[string]string{"env": "prod", "tier": "web", "example.com/team": "ops", "empty": ""}
	for _, c := range []struct {
		sel  string
		want bool
	}{
		{"", true},
		{"env", true},
		{"missing", false},
		{"!missing", true},
		{"!env", false},
		{"env=prod", true},
		{"env==prod", true},
		{"env=dev", false},
		{"env!=dev", true},
		{"env!=prod", false},
		{"missing!=x", true},
		{"env in (dev,prod)", true},
		{"env in (dev, test)", false},
		{"missing in (a)", false},
		{"env notin (dev,test)", true},
		{"env notin (prod)", false},
		{"missing notin (a)", true},
		{"env=prod,tier=web", true},
		{"env=prod, tier=db", false},
		{"env in (prod,dev),tier notin (db),!missing", true},
		{"example.com/team=ops", true},
		{"empty=", true},
		{"empty", true},
		{" env = prod ", true},
	} {
		sel, err := parseSelector(c.sel)
		if err != nil {
			t.Errorf("parse %q: %v", c.sel, err)
			continue
		}
		if got := sel.matches(labels); got != c.want {
			t.Errorf("%q matches = %v, want %v", c.sel, got, c.want)
		}
	}
	for _, bad := range []string{",", "env,", "=x", "!", "env in (a", "env in a,b)", "env within (a)", "a b", "env=a b", "env in (a b)"} {
		if _, err := parseSelector(bad); err == nil {
			t.Errorf("parse %q: accepted", bad)
		}
	}
}
