package azure

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/cloud/cloudtest"
	"github.com/keyward/keyward/daemon/demo/vault"
	"github.com/keyward/keyward/daemon/localapi"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/storetest"
)

// fakeCredential stands in for Entra ID, which cannot run here: it hands
// out the emulator's token, or fails as an identity provider would.
type fakeCredential struct {
	mu    sync.Mutex
	token string
	err   error
}

func (f *fakeCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return azcore.AccessToken{}, f.err
	}
	return azcore.AccessToken{Token: f.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func (f *fakeCredential) fail(err error) { f.mu.Lock(); f.err = err; f.mu.Unlock() }

type env struct {
	t     testing.TB
	ctx   context.Context
	srv   *vault.Server
	conn  *Vault
	src   *cloud.SyncSource
	sink  *cloudtest.StoreSink
	st    *store.Store
	cred  *fakeCredential
	name  string
	vopts vault.Options
}

// newEnv starts an emulated vault and a sync source over a real store.
// With cred nil, the connector uses the configured "emulator" credential
// (token file), as the demo does.
func newEnv(t testing.TB, vo vault.Options, withFakeCred bool) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	srv, err := vault.Start(ctx, vo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	dir := t.TempDir()
	st := storetest.Open(t, filepath.Join(dir, "keyward.db"))
	e := &env{t: t, ctx: ctx, srv: srv, st: st, name: "vault1", vopts: vo}
	e.connect(dir, withFakeCred, "")
	return e
}

// addKey puts a key into the emulated vault, behind keyward's back.
func (e *env) addKey(spec vault.KeySpec) {
	e.t.Helper()
	if err := e.srv.AddKey(spec); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) connect(dir string, withFakeCred bool, geography string) {
	e.t.Helper()
	caFile, tokenFile, err := e.srv.WriteFiles(dir)
	if err != nil {
		e.t.Fatal(err)
	}
	cfg := Settings{Name: e.name, VaultURL: e.srv.URL, Credential: CredEmulator, TokenFile: tokenFile, CAFile: caFile, Geography: geography}
	opts := []Option{WithTimeout(30 * time.Second), WithRetries(-1)} // the default; a loaded CI machine can take seconds per page
	if withFakeCred {
		e.cred = &fakeCredential{token: e.srv.Token}
		opts = append(opts, WithCredential(e.cred))
	}
	e.conn, err = New(cfg, opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	e.src = cloud.NewSyncSource(e.name, e.conn, time.Hour, nil)
	e.sink = cloudtest.Attach(e.t, e.st, e.src)
}

func (e *env) sync() error {
	e.t.Helper()
	return e.src.SyncNow(e.ctx)
}

func (e *env) mustSync() cloud.SyncStats {
	e.t.Helper()
	if err := e.sync(); err != nil {
		e.t.Fatalf("sync: %v", err)
	}
	return e.src.LastSync()
}

func (e *env) rows() map[string]engine.Key {
	e.t.Helper()
	ks, err := e.st.SourceKeys(e.ctx, e.name)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]engine.Key{}
	for _, k := range ks {
		out[k.ID] = k
	}
	return out
}

func (e *env) events(origin engine.Origin) []engine.Event {
	e.t.Helper()
	var all []engine.Event
	cursor := ""
	for {
		evs, next, err := e.st.Events(e.ctx, store.EventQuery{Source: e.name, Origin: origin, Limit: 100, Cursor: cursor})
		if err != nil {
			e.t.Fatal(err)
		}
		all = append(all, evs...)
		if next == "" {
			return all
		}
		cursor = next
	}
}

// byName groups rows by key name.
func byName(rows map[string]engine.Key) map[string][]engine.Key {
	out := map[string][]engine.Key{}
	for _, k := range rows {
		out[k.Name] = append(out[k.Name], k)
	}
	return out
}

func isKind(err, kind error) bool { return errors.Is(err, kind) }

func (v *Vault) cfgForTest() Settings { return v.cfg }

// cloudAPI is the socket API over m, every request from caller() (the
// daemon attaches the caller from the socket's peer credentials).
func cloudAPI(m *cloud.Manager, caller func() api.Caller) http.Handler {
	h := localapi.New(localapi.Services{Cloud: m})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(api.WithCaller(r.Context(), caller())))
	})
}
