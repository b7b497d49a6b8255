package drift

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/vmc-git/vmc-git/internal/digest"
	"github.com/vmc-git/vmc-git/provider"
	"github.com/vmc-git/vmc-git/receipt"
)

type view []*receipt.Receipt

func (v view) TipSeq() uint64 { return uint64(len(v)) }
func (v view) ReceiptAt(seq uint64) (*receipt.Receipt, digest.Digest, error) {
	if seq == 0 || seq > uint64(len(v)) {
		return nil, digest.Digest{}, errors.New("no such receipt")
	}
	return v[seq-1], digest.Digest{}, nil
}

func srv(id int64, name, typ string) *provider.Server {
	return &provider.Server{ID: id, Name: name, Status: "running", ServerType: typ, Labels: map[string]string{"role": "x"}}
}

func applied(steps ...any) *receipt.Receipt {
	ap := &receipt.Apply{}
	for i := 0; i < len(steps); i += 2 {
		a, _ := json.Marshal(steps[i])
		r, _ := json.Marshal(steps[i+1])
		ap.Actions = append(ap.Actions, receipt.ActionRecord{Action: a, Result: r})
	}
	return &receipt.Receipt{Kind: receipt.KindApply, Apply: ap}
}

func TestExpectedAndCompare(t *testing.T) {
	ok := provider.StatusSucceeded
	led := view{
		applied(provider.Action{Op: provider.OpCreate, Server: "a-1"}, provider.Result{Status: ok, Observed: srv(1, "a-1", "cx22")},
			provider.Action{Op: provider.OpCreate, Server: "b-1"}, provider.Result{Status: ok, Observed: srv(2, "b-1", "cx22")}),
		{Kind: receipt.KindManual},
		applied(provider.Action{Op: provider.OpRename, Server: "b-1", NewName: "c-1"}, provider.Result{Status: ok, Observed: srv(2, "c-1", "cx22")}),
		applied(provider.Action{Op: provider.OpCreate, Server: "d-1"}, provider.Result{Status: ok, Observed: srv(4, "d-1", "cx22")},
			provider.Action{Op: provider.OpDelete, Server: "d-1"}, provider.Result{Status: ok}),
		// A failed resize the applier could not read back: no change.
		applied(provider.Action{Op: provider.OpResize, Server: "a-1", ServerType: "cx32"}, provider.Result{Status: provider.StatusUnknown}),
	}
	exp, err := Expected(led)
	if err != nil {
		t.Fatal(err)
	}
	if len(exp) != 2 || exp["a-1"].ServerType != "cx22" || exp["c-1"].ID != 2 {
		t.Fatalf("expected %+v", exp)
	}
	if fs := Compare(exp, []provider.Server{*srv(1, "a-1", "cx22"), *srv(2, "c-1", "cx22")}); len(fs) != 0 {
		t.Errorf("no drift expected: %+v", fs)
	}
	a := srv(9, "a-1", "cx22") // recreated by hand under the same name
	a.Protection.Delete = true
	a.Image = "debian-12"
	c := srv(2, "c-1", "cx22")
	c.Labels = nil
	fs := Compare(exp, []provider.Server{*a, *c, *srv(7, "z-1", "cx22")})
	var got []string
	for _, f := range fs {
		got = append(got, fmt.Sprintf("%s %s %s %s->%s", f.Kind, f.Resource, f.Field, f.Expected, f.Actual))
	}
	want := "changed server/a-1 id 1->9|changed server/a-1 image ->debian-12|changed server/a-1 protection.delete false->true|" +
		"changed server/c-1 labels role=x->|unmanaged server/z-1  ->id 7, cx22"
	if strings.Join(got, "|") != want {
		t.Errorf("findings\n%s\nwant\n%s", strings.Join(got, "|"), want)
	}
	if fs := Compare(exp, nil); len(fs) != 2 || fs[0].Kind != Missing || fs[1].Resource != "server/c-1" {
		t.Errorf("all missing: %+v", fs)
	}
	bad := view{{Kind: receipt.KindApply, Apply: &receipt.Apply{Actions: []receipt.ActionRecord{{Action: []byte(`{`), Result: []byte(`{}`)}}}}}
	if _, err := Expected(bad); err == nil || !strings.Contains(err.Error(), "receipt 1 action 0") {
		t.Errorf("bad receipt: %v", err)
	}
}
