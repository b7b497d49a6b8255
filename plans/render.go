package plans

import (
	"fmt"
	"strings"

	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/provider"
)

// Text renders a plan for a terminal.
func (p *Plan) Text(b []byte) string {
	var s strings.Builder
	sum := digest.Of(b)
	fmt.Fprintf(&s, "plan %s\n  %s\n  ledger %s at receipt %d\n  made %s by %s\n  blake3 %s\n", p.ID, p.Summary, p.Ledger, p.LedgerHead.Seq, p.CreatedAt, orDash(p.CreatedBy), sum.Blake3)
	for i, st := range p.Actions {
		fmt.Fprintf(&s, "  %d. %s\n     expects: %s\n", i+1, Describe(st.Action), describeExpect(st.Expect))
	}
	return s.String()
}

// Markdown renders a plan for a pull request comment. now, if not nil, is
// the provider's current view of each server (by name), shown beside the
// expectation.
func (p *Plan) Markdown(b []byte, now map[string]*provider.Server, approvals *ApprovalStatus, staleness []string) string {
	var s strings.Builder
	sum := digest.Of(b)
	fmt.Fprintf(&s, "### Plan `%s`\n\n%s\n\n", p.ID, mdEscape(p.Summary))
	fmt.Fprintf(&s, "- ledger `%s` at receipt %d (`%s`)\n- made %s by %s\n- blake3 `%s`\n\n", p.Ledger, p.LedgerHead.Seq, p.LedgerHead.Blake3.String()[:16], p.CreatedAt, mdEscape(orDash(p.CreatedBy)), sum.Blake3)
	s.WriteString("| # | action | expects | now |\n|---|---|---|---|\n")
	for i, st := range p.Actions {
		cur := "(not checked)"
		if now != nil && st.Action.Kind == provider.KindServer {
			cur = describeExpect(ExpectOf(now[st.Action.Server]))
		}
		fmt.Fprintf(&s, "| %d | %s | %s | %s |\n", i+1, mdEscape(Describe(st.Action)), mdEscape(describeExpect(st.Expect)), mdEscape(cur))
	}
	if approvals != nil {
		fmt.Fprintf(&s, "\n**Approvals:** %d of %d", len(approvals.Valid), approvals.Required)
		if len(approvals.Valid) > 0 {
			fmt.Fprintf(&s, " (%s)", strings.Join(approvals.Valid, ", "))
		}
		if approvals.Missing > 0 {
			fmt.Fprintf(&s, ", **%d missing**", approvals.Missing)
		}
		for k, why := range approvals.Invalid {
			fmt.Fprintf(&s, "\n- invalid approval `%s`: %s", k, mdEscape(why))
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

func describeExpect(e Expect) string {
	if !e.Exists {
		return "absent"
	}
	if e.ID != 0 {
		s := fmt.Sprintf("id %d, labels %s, config %s", e.ID, formatLabels(e.Labels), e.Config)
		if e.Attached != "" {
			s += ", attached to server " + e.Attached
		}
		return s
	}
	return fmt.Sprintf("id %d, %s, %s, labels %s", e.ServerID, e.Status, e.ServerType, formatLabels(e.Labels))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func mdEscape(s string) string {
	r := strings.NewReplacer("|", "\\|", "<", "&lt;", ">", "&gt;", "\n", " ", "`", "'")
	return r.Replace(s)
}
