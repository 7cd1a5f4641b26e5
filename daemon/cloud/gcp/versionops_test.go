package gcp_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/keyward/keyward/cli"
	"github.com/keyward/keyward/cli/clitest"
	"github.com/keyward/keyward/daemon"
	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/cloud/gcp"
	"github.com/keyward/keyward/daemon/daemontest"
	"github.com/keyward/keyward/engine"
)

// TestVersionActionsOverSocket: a Google source announces every version
// action (GET /v1/cloud/sources), GET /v1/keys/{id} lists a key's versions
// newest first, and make-primary over the socket makes the named version
// the primary in the fake (labels untouched), recorded on that version;
// make-primary without a version, or with a confirmation, is refused
// before Google is asked.
func TestVersionActionsOverSocket(t *testing.T) {
	ctx := context.Background()
	_, addr := gcp.ServeFake(t)
	dir := t.TempDir()
	sock := daemontest.Start(t, daemontest.Config(t, dir, gcp.ProdSection(addr)), daemon.Options{})
	c := api.NewClient(sock)
	clouds, err := c.CloudSources(ctx)
	if err != nil || len(clouds) != 1 {
		t.Fatalf("cloud sources %+v, %v", clouds, err)
	}
	if clouds[0].PrimaryTag != gcp.TagPrimary {
		t.Errorf("gcp-prod announces primary tag %q, want %q", clouds[0].PrimaryTag, gcp.TagPrimary)
	}
	for _, cp := range engine.VersionCapabilities {
		if !slices.Contains(clouds[0].Capabilities, cp) {
			t.Errorf("gcp-prod does not announce %s: %v", cp, clouds[0].Capabilities)
		}
	}
	const name = "europe-west1/payments/card-kek"
	if _, err := c.CreateCloudKey(ctx, "gcp-prod", api.CreateKeyRequest{Name: "card-kek", Type: "oct", Tags: map[string]string{"team": "payments"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CloudKeyOp(ctx, "gcp-prod", name, "rotate", ""); err != nil {
		t.Fatal(err)
	}
	d, err := c.Key(ctx, "gcp-prod/"+name+"/1")
	if err != nil {
		t.Fatal(err)
	}
	if d.VersionsTotal != 2 || len(d.Versions) != 2 || d.Versions[0].Version != "2" || d.Versions[1].Version != "1" ||
		d.Versions[0].Tags[gcp.TagPrimary] != "true" || d.Versions[0].Aging == nil {
		t.Fatalf("versions of %s: %d %+v", name, d.VersionsTotal, d.Versions)
	}
	res, err := c.CloudVersionOp(ctx, "gcp-prod", name, "make-primary", "1", "")
	if err != nil {
		t.Fatal(err)
	}
	if res.Event == nil || res.Event.KeyID != "gcp-prod/"+name+"/1" || !strings.Contains(res.Event.Details, "version 1 made primary") {
		t.Errorf("event %+v", res.Event)
	}
	d, err = c.Key(ctx, "gcp-prod/"+name+"/2")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range d.Versions {
		if want := map[string]string{"1": "true", "2": ""}[v.Version]; v.Tags[gcp.TagPrimary] != want || v.Tags["team"] != "payments" {
			t.Errorf("version %s after make-primary 1: primary %q, tags %v", v.Version, v.Tags[gcp.TagPrimary], v.Tags)
		}
	}
	// The CLI's make-primary: the version back to 2; without --version
	// a usage error, nothing sent.
	kw := clitest.Runner(t, sock)
	if out := kw("key", "make-primary", "gcp-prod", name, "--version", "2"); !strings.Contains(out, "2") {
		t.Errorf("make-primary:\n%s", out)
	}
	if v := daemontest.Versions(t, c, "gcp-prod/"+name+"/1"); v["2"].Tags[gcp.TagPrimary] != "true" || v["1"].Tags[gcp.TagPrimary] != "" {
		t.Errorf("after keyward key make-primary --version 2: %v", v)
	}
	if code, _, errs := clitest.Run(sock, "key", "make-primary", "gcp-prod", name); code != cli.ExitUsage || !strings.Contains(errs, "--version N") {
		t.Errorf("make-primary without --version: exit %d, %q", code, errs)
	}
	for _, bad := range []struct{ version, confirm, want string }{
		{"", "", "name the version"},
		{"1", name, "needs no confirmation"},
	} {
		_, err := c.CloudVersionOp(ctx, "gcp-prod", name, "make-primary", bad.version, bad.confirm)
		var ae *api.Error
		if !errors.As(err, &ae) || ae.Code != api.CodeBadRequest || !strings.Contains(ae.Message, bad.want) {
			t.Errorf("make-primary version %q confirm %q: %v, want a bad request saying %q", bad.version, bad.confirm, err, bad.want)
		}
	}
}
