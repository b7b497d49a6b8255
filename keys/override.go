package keys

import (
	"fmt"
	"time"
)

// CheckOverride is the rule for one policy override: kid is trusted as
// admin at time at, sig is its SSHSIG (namespace NamespaceOverride) over
// statement, and its key has not overridden already (seen maps key
// fingerprints to the kid that used them; CheckOverride adds to it).
func (t *Trust) CheckOverride(kid string, statement, sig []byte, at time.Time, seen map[string]string) error {
	e, err := t.Authorize(kid, nil, at, RoleAdmin)
	if err != nil {
		return fmt.Errorf("override: %w", err)
	}
	if err := Verify(e.Pub, NamespaceOverride, statement, sig); err != nil {
		return fmt.Errorf("override by %s: %w", kid, err)
	}
	fp := Fingerprint(e.Pub)
	if other, dup := seen[fp]; dup {
		return fmt.Errorf("overrides by %s and %s are the same key", other, kid)
	}
	seen[fp] = kid
	return nil
}
