package github_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/vmc-git/vmc-git/internal/github"
)

// TestReportIssueHostileAPI: an API (or something in its place) answering
// the issue listing with too much, garbage, or an issue that names no
// issue: each a clear error, and nothing written after it.
func TestReportIssueHostileAPI(t *testing.T) {
	for _, x := range []struct {
		name, listing, want string
	}{
		{"huge", "[" + strings.Repeat(" ", github.MaxResponse) + "]", "response larger than 8388608 bytes"},
		{"not json", "[{", "github: GET repos/acme/infra/issues: decode response"},
		{"an object", `{"number":1}`, "github: GET repos/acme/infra/issues: decode response"},
		{"a string number", `[{"number":"1/comments","body":"` + marker + `","user":{"login":"` + bot + `"}}]`, "github: GET repos/acme/infra/issues: decode response"},
		{"number 0", `[{"number":0,"body":"` + marker + `","user":{"login":"` + bot + `"}}]`, "github: the issue listing of acme/infra names issue number 0"},
		{"number -3", `[{"number":-3,"body":"` + marker + `","user":{"login":"` + bot + `"}}]`, "github: the issue listing of acme/infra names issue number -3"},
	} {
		t.Run(x.name, func(t *testing.T) {
			var mu sync.Mutex
			var writes []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodGet {
					mu.Lock()
					writes = append(writes, r.Method+" "+r.URL.Path)
					mu.Unlock()
					w.WriteHeader(http.StatusCreated)
					w.Write([]byte(`{"number":1}`))
					return
				}
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(x.listing))
			}))
			defer srv.Close()
			c := client(t, srv.URL)
			for _, open := range []bool{true, false} {
				_, _, err := c.ReportIssue(context.Background(), "acme/infra", report(open, "x"))
				if err == nil || !strings.Contains(err.Error(), x.want) {
					t.Errorf("open=%v: %v, want %q", open, err, x.want)
				}
			}
			if len(writes) != 0 {
				t.Fatalf("wrote after a bad listing: %v", writes)
			}
		})
	}
}
