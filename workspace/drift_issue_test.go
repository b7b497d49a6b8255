package workspace

import (
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/drift"
)

// TestDriftMarkdown: table cells are escaped (a value cannot break the
// table or inject HTML), long reports are cut with a count, a clean report
// says so.
func TestDriftMarkdown(t *testing.T) {
	rep := &DriftReport{LedgerSeq: 7, Expected: 2, Actual: 3, Drift: true, Findings: []drift.Finding{
		{Resource: "firewall/fw", Kind: drift.Changed, Field: "rules", Expected: "in tcp 22 (a|b)", Actual: "<script>x</script>\n`x`"},
	}}
	md := DriftMarkdown(rep, "https://github.com/acme/infra/actions/runs/9")
	for _, want := range []string{"## Drift: 1 finding(s)", "Ledger receipt 7: 2 resources expected, 3 at the provider.",
		"[Workflow run](https://github.com/acme/infra/actions/runs/9)", `| changed | ` + "`firewall/fw`" + ` | rules | in tcp 22 (a\|b) | &lt;script&gt;x&lt;/script&gt; 'x' |`} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "<script>") {
		t.Error("HTML passed through")
	}
	for i := 0; i < driftIssueRows+5; i++ {
		rep.Findings = append(rep.Findings, drift.Finding{Resource: "server/x", Kind: drift.Missing})
	}
	if md := DriftMarkdown(rep, ""); !strings.Contains(md, "… and 6 more") || strings.Contains(md, "Workflow run") {
		t.Errorf("long report:\n%s", md[len(md)-300:])
	}
	big := strings.Repeat("é", 300)
	rep.Findings = nil
	for i := 0; i < 100; i++ {
		rep.Findings = append(rep.Findings, drift.Finding{Resource: "server/" + big, Kind: drift.Changed, Field: big, Expected: big, Actual: big})
	}
	if md := DriftMarkdown(rep, ""); len(md) > 62000 || !strings.Contains(md, "more: run `vmc-git drift` for all") {
		t.Errorf("large report: %d bytes", len(md))
	}
	if md := DriftMarkdown(&DriftReport{LedgerSeq: 8}, ""); !strings.Contains(md, "## No drift") || strings.Contains(md, "| finding |") {
		t.Errorf("clean report:\n%s", md)
	}
}
