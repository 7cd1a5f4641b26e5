package daemon

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ovh/kmip-go"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/engine"
)

// TestRotateAppFinishesTheRotationALostAnswerLeftHalfDone: keyward
// rotate-app on a ring whose last rotation's Create the KMS carried out
// but whose answer was lost (acme.crm.key.3 made, never activated). The
// next rotate-app polls first and sees key.3, Pre-Active, as the newest
// generation: it must finish that rotation — activate key.3 — not create
// key.4 next to an orphan nobody activates. The answer and the one
// rotation event say so, the KMS got one Create in all, and the ring and
// the proxy encrypt with key.3.
func TestRotateAppFinishesTheRotationALostAnswerLeftHalfDone(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	srv := crmKMS(ctx, t)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer up.Close()
	r := start(t, func(cfg *config.Config) { crmProxy(cfg, srv, "127.0.0.1:0", up.URL, 10*time.Millisecond) })
	c := api.NewClient(r.socket)
	before := encrypting(ctx, t, c)
	srv.ResetCounts()

	made := srv.LoseNextCreateAnswer()
	if _, err := c.RotateApp(ctx, "kms", "crm"); err == nil {
		t.Fatal("the rotation whose Create answer was lost worked")
	}
	uid := <-made
	srv.RewriteAnswers(nil)

	rot, err := c.RotateApp(ctx, "kms", "crm") // the administrator's retry, polling first
	if err != nil {
		t.Fatalf("the rotate-app after the lost answer: %v", err)
	}
	if rot.Generation != "acme.crm.key.3" || rot.UID != uid || rot.Previous != "acme.crm.key.2" ||
		!strings.Contains(rot.Note, "finished the rotation a lost answer left half done") || !strings.Contains(rot.Note, uid) {
		t.Fatalf("rotation %+v; want acme.crm.key.3 (%s) finished after acme.crm.key.2", rot, uid)
	}
	if n := srv.Counts()[kmip.OperationCreate]; n != 1 {
		t.Fatalf("the KMS got %d Creates for one rotation, want 1", n)
	}
	if _, err := c.Sync(ctx, "kms"); err != nil {
		t.Fatal(err)
	}
	keys, err := c.Keys(ctx, api.KeyQuery{Source: "kms", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]engine.State{}
	for _, k := range keys.Keys {
		states[k.Name] = k.State
	}
	if len(states) != 3 || states["acme.crm.key.3"] != engine.StateActive {
		t.Fatalf("keys on the KMS after the rotation: %v; want key.1–3, key.3 Active, no Pre-Active orphan", states)
	}
	var after string
	for after = encrypting(ctx, t, c); after == before; after = encrypting(ctx, t, c) {
		time.Sleep(20 * time.Millisecond)
	}
	info := sourceNamed(ctx, t, c, "kms")
	if info == nil || len(info.Rings) != 1 || info.Rings[0].Generations[0].Name != "acme.crm.key.3" ||
		!info.Rings[0].Generations[0].Encrypts || info.Rings[0].Generations[0].KeyID != after {
		t.Fatalf("the crm ring after the rotation: %+v; the proxy encrypts with %s", info, after)
	}
	rep, err := c.ActivityReport(ctx, api.ReportQuery{Operation: engine.OpRotated, Source: "kms", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var byKeyward []engine.Event
	for _, ev := range rep.Events {
		if strings.Contains(ev.KeyID, "acme.crm.key.4") || strings.Contains(ev.Details, "acme.crm.key.4") {
			t.Errorf("an event of a fourth generation: %+v", ev)
		}
		if ev.Origin == engine.OriginKeyward {
			byKeyward = append(byKeyward, ev)
		}
	}
	if len(byKeyward) != 1 || byKeyward[0].KeyID != engine.KeyID("kms", "acme.crm.key.3", "") ||
		!strings.Contains(byKeyward[0].Details, "finished the rotation a lost answer left half done") {
		t.Fatalf("rotation events by keyward: %+v; want one, of acme.crm.key.3, saying it finished the rotation", byKeyward)
	}
}

// TestRotateAppRefusesAPreActiveKeyItWouldNotHaveMade: the newest crm
// generation on the KMS is a Pre-Active key keyward would not have made
// (a lost Create's key.3, renamed acme.crm.key.5 by someone: a gap in the
// scheme). rotate-app leaves it alone, creates nothing, and answers a 409
// naming the key and what keyward would make.
func TestRotateAppRefusesAPreActiveKeyItWouldNotHaveMade(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	srv := crmKMS(ctx, t)
	cfg := testConfig(t)
	cfg.KMIP = []config.KMIPSource{srv.SourceConfig("kms", time.Hour)}
	r := run(t, cfg, Options{})
	c := api.NewClient(r.socket)
	waitKeys(t, c, 2)
	made := srv.LoseNextCreateAnswer()
	if _, err := c.RotateApp(ctx, "kms", "crm"); err == nil {
		t.Fatal("the rotation whose Create answer was lost worked")
	}
	uid := <-made
	srv.RewriteAnswers(nil)
	if err := srv.Rename(uid, "acme.crm.key.5"); err != nil {
		t.Fatal(err)
	}
	srv.ResetCounts()
	_, err := c.RotateApp(ctx, "kms", "crm")
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusConflict {
		t.Fatalf("rotate-app over a Pre-Active key keyward did not make: %v; want a 409", err)
	}
	for _, want := range []string{"acme.crm.key.5", uid, "Pre-Active", "after acme.crm.key.2 keyward makes acme.crm.key.3"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("refusal %q does not say %q", err, want)
		}
	}
	counts := srv.Counts()
	if counts[kmip.OperationCreate] != 0 || counts[kmip.OperationActivate] != 0 {
		t.Fatalf("the refused rotation sent Creates or Activates: %v", counts)
	}
}
