package tui_test

import (
	"context"
	"strings"
	"testing"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/tui"
)

// RotateApp answers as the daemon: the ring's next generation.
func (f *fixture) RotateApp(ctx context.Context, source, app string) (*api.AppRotation, error) {
	f.record("rotate-app %s/%s", source, app)
	return &api.AppRotation{Source: source, Application: app, Previous: "acme.crm.key.4", Generation: "acme.crm.key.5", UID: "uid-5"}, nil
}

// x on a ring's generation in the Sources pane rotates its KMIP
// application, after a confirmation (esc sends nothing); the answer is
// flashed and the pane reloads.
func TestSourcesRotateApp(t *testing.T) {
	f := newFixture()
	tm := start(t, f, 80, 24)
	openPane(t, tm, "5", "acme.crm.key.4")
	press(tm, "j", "j", "j", "x")
	waitFor(t, tm, "Rotate application crm of kms-prod now?", "next generation")
	press(tm, "esc")
	waitFor(t, tm, "SOURCE")
	f.wantCalls(t)
	press(tm, "x")
	waitFor(t, tm, "Rotate application crm of kms-prod now?")
	press(tm, "enter")
	waitFor(t, tm, "rotated crm: acme.crm.key.5 (after acme.crm.key.4)")
	f.wantCalls(t, "rotate-app kms-prod/crm")
}

// The confirmation at 80×24.
func TestSourcesRotateAppGolden(t *testing.T) {
	tm := start(t, newFixture(), 80, 24)
	openPane(t, tm, "5", "acme.crm.key.4")
	press(tm, "j", "j", "j", "x")
	waitFor(t, tm, "Rotate application crm of kms-prod now?")
	golden(t, tm, 80, 24)
}

// Read-only, x sends nothing and says why.
func TestSourcesRotateAppReadOnly(t *testing.T) {
	f := newFixture()
	tm := startWith(t, f, 80, 24, tui.Options{ReadOnly: true})
	openPane(t, tm, "5", "acme.crm.key.4")
	press(tm, "j", "j", "j", "x")
	waitFor(t, tm, "read-only: no rotation (admin only)")
	if view := finalView(t, tm); strings.Contains(view, "Rotate application") {
		t.Errorf("read-only asked to rotate:\n%s", view)
	}
	f.wantCalls(t)
}
