package keys

import (
	"strings"
	"testing"
	"time"
)

// TestPolicyBundlePin: a trust state's policy bundle pin is empty (a ledger
// made before pins), none, or a lower-case blake3; anything else is refused
// at genesis with its message.
func TestPolicyBundlePin(t *testing.T) {
	_, pub, err := Generate("alice")
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := ParsePublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	specs := []KeySpec{{KID: "alice", PublicKey: FormatPublicKey(p), Roles: []Role{RoleAdmin, RoleApprover}}}
	hex := strings.Repeat("0f", 32)
	for pin, want := range map[string]string{
		"": "", PolicyBundleNone: "", hex: "",
		"None":                   `invalid policy bundle pin "None"`,
		strings.ToUpper(hex):     "invalid policy bundle pin",
		hex + "00":               "invalid policy bundle pin",
		"../../policy/evil.rego": "invalid policy bundle pin",
	} {
		_, err := NewTrust(specs, Policy{ApprovalsRequired: 1, AdminThreshold: 1, PolicyBundle: pin}, time.Now())
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("pin %q: %v, want %q", pin, err, want)
		}
	}
}
