package provider_test

import (
	"context"
	"errors"
	"testing"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/vmc-git/vmc-git/provider"
	"github.com/vmc-git/vmc-git/provider/sandbox"
)

// TestCatalog reads the sandbox's catalogue through hcloud-go: server types
// with per-location offers and prices, images per architecture with their
// deprecation, locations; unknown names are ErrNotFound.
func TestCatalog(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	ctx := context.Background()
	st, err := e.p.ServerType(ctx, "cx22")
	if err != nil {
		t.Fatal(err)
	}
	if st.Architecture != "x86" || st.Disk != 40 || st.Cores != 2 || len(st.Locations) != 3 || st.Offer("fsn1") == nil || st.Offer("ash") != nil {
		t.Fatalf("cx22: %+v", st)
	}
	if len(st.Prices) != 3 || st.Prices[0].Location != "fsn1" || st.Prices[0].Monthly != "3.7900" || st.Prices[0].Hourly == "" {
		t.Fatalf("cx22 prices: %+v", st.Prices)
	}
	old, err := e.p.ServerType(ctx, "cx11")
	if err != nil || old.Deprecation == nil || old.Offer("fsn1") == nil || old.Offer("fsn1").Available {
		t.Fatalf("cx11 (retired): %+v, %v", old, err)
	}
	ims, err := e.p.Images(ctx, "ubuntu-24.04")
	if err != nil || len(ims) != 2 || ims[0].Architecture == ims[1].Architecture {
		t.Fatalf("ubuntu-24.04: %+v, %v", ims, err)
	}
	ims, err = e.p.Images(ctx, "ubuntu-20.04")
	if err != nil || len(ims) != 1 || ims[0].Deprecation == nil {
		t.Fatalf("ubuntu-20.04 (deprecated): %+v, %v", ims, err)
	}
	// Hetzner lists deprecated images only when asked to.
	all, err := e.hc.Image.AllWithOpts(ctx, hcloud.ImageListOpts{Name: "ubuntu-20.04"})
	if err != nil || len(all) != 0 {
		t.Fatalf("deprecated image listed without include_deprecated: %d, %v", len(all), err)
	}
	if l, err := e.p.Location(ctx, "hel1"); err != nil || l.NetworkZone != "eu-central" {
		t.Fatalf("hel1: %+v, %v", l, err)
	}
	for what, err := range map[string]error{
		"type":     func() error { _, err := e.p.ServerType(ctx, "cx999"); return err }(),
		"image":    func() error { _, err := e.p.Images(ctx, "plan9"); return err }(),
		"location": func() error { _, err := e.p.Location(ctx, "mars1"); return err }(),
	} {
		if !errors.Is(err, provider.ErrNotFound) {
			t.Errorf("unknown %s: %v, want ErrNotFound", what, err)
		}
	}
	if ok, err := e.p.Exists(ctx, provider.RefSSHKey, "nobody"); ok || err != nil {
		t.Errorf("Exists(ssh key nobody) = %v, %v", ok, err)
	}
}
