package azure

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/demo/vault"
	"github.com/keyward/keyward/daemon/kek"
	"github.com/keyward/keyward/daemon/testkit"
	"github.com/keyward/keyward/engine"
)

// Run syncs at once, reports health, and returns nil when its context ends.
func TestRunSyncsAndStops(t *testing.T) {
	e := newEnv(t, vault.Options{}, false)
	e.addKey(vault.KeySpec{Name: "acme-run"})
	src, err := NewSource(e.conn.cfgForTest(), nil, WithCredential(StaticToken(e.srv.Token)), WithRootCAs(e.srv.CertPool()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, e.sink) }()
	testkit.Eventually(t, 10*time.Second, "Run to sync the vault's key", func() bool {
		h, _ := e.sink.Health()
		return h == engine.HealthOK && len(e.rows()) == 1
	}, nil)
	cancel()
	if err := testkit.Await(t, 10*time.Second, "Run to return on cancellation", done); err != nil {
		t.Errorf("Run returned %v on cancellation, want nil", err)
	}
}

// The handler turns failures into the socket API's error codes with the
// reason.
func TestHandlerErrors(t *testing.T) {
	e := newEnv(t, vault.Options{}, false)
	e.mustSync()
	m := cloud.NewManager(nil, nil, e.src)
	h := cloudAPI(m, func() api.Caller { return aliceAdmin })
	cases := []struct {
		path, body string
		status     int
		code, msg  string
	}{
		{"/v1/cloud/nowhere/keys/acme/rotate", "", 404, api.CodeNotFound, `no cloud source named "nowhere"`},
		{"/v1/cloud/vault1/keys/acme-missing/rotate", "", 404, api.CodeNotFound, "KeyNotFound"},
		{"/v1/cloud/vault1/keys/acme/explode", "", 404, api.CodeNotFound, "unknown operation explode"},
		{"/v1/cloud/vault1/keys", `{"name":"acme","type":"EC","curve":"P-999"}`, 400, api.CodeBadRequest, "curve"},
		{"/v1/cloud/vault1/keys", `{"name":`, 400, api.CodeBadRequest, "request body"},
		{"/v1/cloud/vault1/keys", `{"name":"acme","color":"red"}`, 400, api.CodeBadRequest, "unknown field"},
		{"/v1/cloud/vault1/keys/acme/backup", "", 409, api.CodeConflict, "kek_file"},
		{"/v1/cloud/vault1/nothing", "", 404, api.CodeNotFound, "no such endpoint POST /v1/cloud/vault1/nothing"},
	}
	for _, c := range cases {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, c.path, bytes.NewBufferString(c.body)))
		var ae api.Error
		_ = json.Unmarshal(rec.Body.Bytes(), &ae)
		if rec.Code != c.status || ae.Code != c.code || !strings.Contains(ae.Message, c.msg) {
			t.Errorf("POST %s: %d %s, want %d %s mentioning %q", c.path, rec.Code, rec.Body, c.status, c.code, c.msg)
		}
	}
	e.srv.SetFault(vault.Fault{Kind: vault.FaultThrottle, RetryAfter: 3 * time.Second})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/cloud/vault1/keys/acme/rotate", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "throttled") {
		t.Errorf("throttled rotate: %d %s", rec.Code, rec.Body)
	}
}

// When the vault acts but then fails to answer the read-back, the
// operation is still recorded once (not reported as an error that would
// invite a second rotation), and the next sync brings the new version
// without reporting it as a cloud-side change.
func TestOperationRecordedWhenReadBackFails(t *testing.T) {
	e := newEnv(t, vault.Options{}, false)
	e.addKey(vault.KeySpec{Name: "acme-flaky", Created: time.Now().Add(-time.Hour)})
	e.mustSync()
	m := cloud.NewManager(nil, nil, e.src)
	// Two good requests: the rotate reads the current version, then rotates.
	e.srv.SetFault(vault.Fault{Kind: vault.FaultGarbage, After: 2})
	res, err := m.Rotate(e.ctx, alice, "vault1", "acme-flaky")
	if err != nil {
		t.Fatalf("rotate: %v", err)
	}
	if res.Event == nil || !strings.Contains(res.Event.Details, "refreshed at the next sync") {
		t.Errorf("event %+v should say the inventory follows at the next sync", res.Event)
	}
	e.srv.ClearFault()
	if len(e.srv.Versions("acme-flaky")) != 2 {
		t.Fatal("the rotation did not happen")
	}
	e.mustSync()
	if got := len(byName(e.rows())["acme-flaky"]); got != 2 {
		t.Errorf("%d versions in the inventory after the next sync, want 2", got)
	}
	kw := 0
	for _, ev := range e.events(engine.OriginKeyward) {
		if ev.Operation == engine.OpRotated {
			kw++
		}
	}
	if kw != 1 {
		t.Errorf("%d keyward rotation events, want 1", kw)
	}
	for _, ev := range e.events(engine.OriginSource) {
		if ev.Operation != engine.OpDiscovered {
			t.Errorf("the keyward rotation was reported again as a cloud change: %+v", ev)
		}
	}
}

// The registry builds the [[azure]] source from a configuration (this
// package registered the kind), and the manager over it backs up.
func TestRegisteredFromConfig(t *testing.T) {
	e := newEnv(t, vault.Options{}, false)
	e.addKey(vault.KeySpec{Name: "acme-wire", Versions: 2})
	dir := t.TempDir()
	caFile, tokenFile, err := e.srv.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	sec := EmulatorSettings("vault1", e.srv.URL, caFile, tokenFile, e.srv.Geography())
	cfg := config.Default()
	cfg.DataDir = filepath.Join(dir, "data") // the KEK must not sit inside it
	cfg.AddSource("azure", &sec)
	cfg.Keys.KEKFile = filepath.Join(dir, "kek")
	if err := kek.Generate(cfg.Keys.KEKFile); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	srcs, err := cloud.Sources(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(srcs) != 1 || srcs[0].Kind() != "azure" || srcs[0].Name() != "vault1" {
		t.Fatalf("sources %+v", srcs)
	}
	srcs[0].Attach(e.sink)
	if err := srcs[0].SyncNow(e.ctx); err != nil {
		t.Fatal(err)
	}
	m := cloud.NewManager(nil, nil, srcs...)
	if _, err := m.Backup(e.ctx, alice, "vault1", "acme-wire"); !errors.Is(err, cloud.ErrUnsupported) {
		t.Errorf("backup without a store: %v", err)
	}
	m.SetBackups(e.st, newKEK(t))
	b, err := m.Backup(e.ctx, alice, "vault1", "acme-wire")
	if err != nil || b.Versions != 2 || b.Geography != "public/europe" {
		t.Errorf("backup with a store: %+v %v", b, err)
	}
}
