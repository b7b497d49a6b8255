package lock

import (
	"errors"
	"fmt"
	"strings"
)

// Names. A server name is a lock file name here (<dir>/<server>.lock) and a
// ref component across machines (refs/vmc/locks/<server>, package
// apply/remoteref), so CheckServerName, the one rule for server names,
// lives beside the lock file names; this leaf is what provider, hooks and
// apply can all import.
const (
	// FileSuffix ends a lock file's name: <server>.lock.
	FileSuffix = ".lock"
	// MaxServerNameLen bounds a server name (an RFC 1123 host name label).
	MaxServerNameLen = 63
)

// CheckServerName reports whether name is a server name vmc-git can manage:
// RFC 1123 host names, stricter than Hetzner's rule on purpose: at most
// 63 characters, lower-case letters, digits, '-' and '.', each dot-separated
// part starting and ending with a letter or digit, and not ending in
// ".lock". It never contains '/', "..", NUL or upper case (which would
// collide on case-insensitive file systems).
func CheckServerName(name string) error {
	switch {
	case name == "":
		return errors.New("empty name")
	case len(name) > MaxServerNameLen:
		return fmt.Errorf("name %s is %d bytes, more than %d", quote(name), len(name), MaxServerNameLen)
	case strings.IndexByte(name, 0) >= 0:
		return fmt.Errorf("name %s contains NUL", quote(name))
	case strings.Contains(name, "/"):
		return fmt.Errorf("name %s contains '/'", quote(name))
	case strings.Contains(name, ".."):
		return fmt.Errorf("name %s contains \"..\"", quote(name))
	case strings.HasSuffix(name, ".lock"):
		return fmt.Errorf("name %s ends in \".lock\" (not allowed in git ref names)", quote(name))
	}
	for part := range strings.SplitSeq(name, ".") {
		if part == "" {
			return fmt.Errorf("name %s has an empty dot-separated part", quote(name))
		}
		if part[0] == '-' || part[len(part)-1] == '-' {
			return fmt.Errorf("name %s: part %s starts or ends with '-'", quote(name), quote(part))
		}
		for i := 0; i < len(part); i++ {
			c := part[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("name %s: invalid character %q (allowed: a-z, 0-9, '-', '.')", quote(name), c)
			}
		}
	}
	return nil
}

func quote(s string) string {
	if len(s) > 64 {
		return fmt.Sprintf("%q...", s[:64])
	}
	return fmt.Sprintf("%q", s)
}
