package main

import (
	"strings"

	"github.com/vmc-git/vmc-git/workspace"
)

// serveSummary is "key=value" for each serving config key, with "(kept)"
// after a value the repository had already set.
func serveSummary(ss []workspace.ServeSetting) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = s.Key + "=" + s.Value
		if !s.Set {
			parts[i] += " (kept)"
		}
	}
	return strings.Join(parts, ", ")
}
