package policy

import (
	"context"
	"errors"
	"testing"
	"time"
)

// FuzzCompile: any policy text either fails to compile with ErrCompile or
// evaluates (within a short limit) to findings or an error, never a panic.
func FuzzCompile(f *testing.F) {
	for _, d := range Defaults() {
		f.Add(d.Data)
	}
	f.Add([]byte("package vmc.x\n\ndeny contains {\"reason\": \"r\", \"rule\": 1}\n"))
	doc := observedDoc([]Server{good("web-1"), good("x")})
	f.Fuzz(func(t *testing.T, src []byte) {
		b, err := Compile([]File{{Name: "policy/f.rego", Data: src}})
		if err != nil {
			if !errors.Is(err, ErrCompile) {
				t.Fatalf("compile error without ErrCompile: %v", err)
			}
			return
		}
		res, err := b.Eval(context.Background(), doc, Limits{Timeout: 200 * time.Millisecond, MaxHeapGrowth: 256 << 20})
		if err == nil && (res.Deny == nil || res.Warn == nil) {
			t.Fatal("nil finding lists")
		}
	})
}
