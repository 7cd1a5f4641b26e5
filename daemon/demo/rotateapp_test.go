package demo

import (
	"context"
	"errors"
	"net/http"
	"os/user"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/api"
)

// TestRotateAppNow: an administrator rotates a KMIP application directly
// (POST /v1/kmip/{source}/apps/{app}/rotate), not only through a schedule:
// the embedded KMS gets the ring's next generation, created and activated,
// the proxy encrypts with it, the rotation is recorded with the caller as
// actor, and an unknown application or source is a 404 that rotates
// nothing.
func TestRotateAppNow(t *testing.T) {
	ctx := context.Background()
	c := startDemo(t, Options{Poll: time.Second, Rotate: time.Hour, Rate: 2})
	waitFor(t, "the crm ring", func() bool { return newest(t, c, "crm") != "" })
	before := newest(t, c, "crm")

	rot, err := c.RotateApp(ctx, "acme-kms", "crm")
	if err != nil {
		t.Fatal(err)
	}
	if rot.Previous != before || rot.Generation == "" || rot.Generation == before || rot.Application != "crm" || rot.Note != "" {
		t.Fatalf("rotation %+v after %s", rot, before)
	}
	waitFor(t, "the proxy to encrypt with "+rot.Generation, func() bool {
		kid := ringKeyID(t, c, "crm", rot.Generation)
		ps, err := c.Proxy(ctx)
		return err == nil && kid != "" && len(ps) == 1 && ps[0].Ring.KeyID == kid
	})
	me, _ := user.Current()
	ev, err := c.ActivityReport(ctx, api.ReportQuery{Operation: "rotated", Source: "acme-kms"})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range ev.Events {
		if e.KeyID == "acme-kms/"+rot.Generation && e.Actor == me.Username {
			found = true
		}
	}
	if !found {
		t.Fatalf("no rotated event of %s by %s: %+v", rot.Generation, me.Username, ev.Events)
	}

	for _, bad := range [][2]string{{"acme-kms", "nosuchapp"}, {"nosuchsource", "crm"}} {
		_, err := c.RotateApp(ctx, bad[0], bad[1])
		var ae *api.Error
		if !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
			t.Errorf("rotate %s/%s: %v, want a 404", bad[0], bad[1], err)
		}
	}
	if got := newest(t, c, "crm"); got != rot.Generation {
		t.Errorf("newest crm generation %s after the refused rotations, want %s", got, rot.Generation)
	}
}
