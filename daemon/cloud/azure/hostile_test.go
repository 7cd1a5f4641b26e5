package azure

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/cloud/cloudtest"
	"github.com/keyward/keyward/daemon/demo/vault"
	"github.com/keyward/keyward/engine"
)

// front is a TLS server between the connector and the emulated vault that
// answers as a broken or hostile Azure would: every request goes to
// answer, which may pass it on to the vault (forward) and change, delay
// or drop what comes back. The vault's own URLs in its answers (nextLink)
// are rewritten to the front's, so every request of a listing passes it.
type front struct {
	URL  string
	pool *x509.CertPool
	srv  *vault.Server

	mu     sync.Mutex
	answer func(w http.ResponseWriter, r *http.Request, f *front) bool
	client *http.Client
}

// reply is what the vault answered a forwarded request.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func startFront(t *testing.T, srv *vault.Server) *front {
	t.Helper()
	f := &front{srv: srv, client: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: srv.CertPool()}}}}
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		answer := f.answer
		f.mu.Unlock()
		if answer != nil && answer(w, r, f) {
			return
		}
		f.write(w, f.forward(t, r))
	}))
	t.Cleanup(ts.Close)
	f.URL = ts.URL
	f.pool = x509.NewCertPool()
	f.pool.AddCert(ts.Certificate())
	return f
}

// set makes the front answer with a (nil: pass everything on); a returns
// false to pass a request on unchanged.
func (f *front) set(a func(w http.ResponseWriter, r *http.Request, f *front) bool) {
	f.mu.Lock()
	f.answer = a
	f.mu.Unlock()
}

// forward sends r to the vault and returns its answer, the vault's URLs
// in it made the front's.
func (f *front) forward(t *testing.T, r *http.Request) reply {
	body, _ := io.ReadAll(r.Body)
	req, err := http.NewRequestWithContext(r.Context(), r.Method, f.srv.URL+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		t.Error(err)
		return reply{status: http.StatusBadGateway}
	}
	req.Header = r.Header.Clone()
	resp, err := f.client.Do(req)
	if err != nil {
		return reply{status: http.StatusBadGateway, body: []byte(err.Error())}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	b = bytes.ReplaceAll(b, []byte(f.srv.URL), []byte(f.URL))
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

func (f *front) write(w http.ResponseWriter, rp reply) {
	for k, vs := range rp.header {
		if k != "Content-Length" {
			w.Header()[k] = vs
		}
	}
	w.WriteHeader(rp.status)
	_, _ = w.Write(rp.body)
}

// connectFront points e's connector at the front, with the SDK's
// retries as configured in production (New's default).
func (e *env) connectFront(f *front, opts ...Option) {
	e.t.Helper()
	dir := e.t.TempDir()
	_, tokenFile, err := e.srv.WriteFiles(dir)
	if err != nil {
		e.t.Fatal(err)
	}
	cfg := Settings{Name: e.name, VaultURL: f.URL, Credential: CredEmulator, TokenFile: tokenFile}
	e.cred = &fakeCredential{token: e.srv.Token}
	e.conn, err = New(cfg, append([]Option{WithRootCAs(f.pool), WithCredential(e.cred), WithTimeout(30 * time.Second)}, opts...)...)
	if err != nil {
		e.t.Fatal(err)
	}
	e.src = cloud.NewSyncSource(e.name, e.conn, time.Hour, nil)
	e.sink = cloudtest.Attach(e.t, e.st, e.src)
}

// isListPage reports whether r asks for a page of the key listing after
// the first, and which ($skiptoken).
func isListPage(r *http.Request) (skip string, ok bool) {
	if r.Method != http.MethodGet || r.URL.Path != "/keys" {
		return "", false
	}
	return r.URL.Query().Get("$skiptoken"), true
}

func newHostile(t *testing.T, keys int) (*env, *front) {
	t.Helper()
	e := newEnv(t, vault.Options{PageSize: 5}, false)
	for i := range keys {
		e.addKey(vault.KeySpec{Name: "k" + string(rune('a'+i/26)) + string(rune('a'+i%26))})
	}
	f := startFront(t, e.srv)
	e.connectFront(f)
	return e, f
}

// activeKeys counts the inventory's keys by state.
func (e *env) states() map[engine.State]int {
	out := map[engine.State]int{}
	for _, rows := range byName(e.rows()) {
		out[rows[0].State]++
	}
	return out
}

// A nextLink that leads back to an earlier page (a vault, gateway or
// proxy that loses its place) must not page forever: the sync fails as a
// bad answer that says so, within a bounded number of requests, and the
// inventory stays as the last good sync left it.
func TestListingThatLoopsBackFails(t *testing.T) {
	e, f := newHostile(t, 12) // pages of 5: skiptoken 5, 10
	e.mustSync()
	f.set(func(w http.ResponseWriter, r *http.Request, f *front) bool {
		skip, ok := isListPage(r)
		if !ok || skip != "10" {
			return false
		}
		// The last page names the second page as the next one.
		rp := f.forward(t, r)
		q := url.Values{"api-version": {vault.APIVersion}, "$skiptoken": {"5"}}
		var page map[string]any
		if err := json.Unmarshal(rp.body, &page); err != nil {
			t.Error(err)
		}
		page["nextLink"] = f.URL + "/keys?" + q.Encode()
		rp.body, _ = json.Marshal(page)
		f.write(w, rp)
		return true
	})
	ctx, cancel := context.WithTimeout(e.ctx, 60*time.Second)
	defer cancel()
	reqs := e.srv.Requests()
	err := e.src.SyncNow(ctx)
	if !isKind(err, cloud.ErrBadAnswer) || !strings.Contains(err.Error(), "next page") {
		t.Fatalf("sync over a listing that loops back: %v, want a bad answer naming the paging loop", err)
	}
	if n := e.srv.Requests() - reqs; n > 20 {
		t.Errorf("the looping listing cost %d requests", n)
	}
	if s := e.states(); s[engine.StateActive] != 12 || len(s) != 1 {
		t.Errorf("inventory after the failed sync: %v, want 12 active keys", s)
	}
}

// Key Vault may answer a page with no keys and a nextLink (its own docs
// say so): the listing goes on. A vault that does so without end fails
// the sync as a bad answer after a bounded number of empty pages, with
// nothing applied.
func TestEmptyPagesWithANextLink(t *testing.T) {
	e, f := newHostile(t, 7)
	e.mustSync()
	empty := func(next string) []byte {
		return []byte(`{"value":[],"nextLink":"` + f.URL + `/keys?` + url.Values{"api-version": {vault.APIVersion}, "$skiptoken": {next}}.Encode() + `"}`)
	}
	// One empty page in front of the real ones.
	f.set(func(w http.ResponseWriter, r *http.Request, f *front) bool {
		skip, ok := isListPage(r)
		if !ok || skip != "" {
			return false
		}
		f.write(w, reply{status: 200, header: http.Header{"Content-Type": {"application/json"}}, body: empty("0")})
		return true
	})
	if s := e.mustSync(); s.Keys != 7 {
		t.Errorf("sync behind an empty first page listed %d keys, want 7", s.Keys)
	}
	// Empty pages for ever, each naming a new next one.
	var mu sync.Mutex
	n := 0
	f.set(func(w http.ResponseWriter, r *http.Request, f *front) bool {
		if _, ok := isListPage(r); !ok {
			return false
		}
		mu.Lock()
		n++
		next := "e" + strings.Repeat("x", n%7) + string(rune('a'+n%26)) + time.Now().Format("150405.000000000")
		mu.Unlock()
		f.write(w, reply{status: 200, header: http.Header{"Content-Type": {"application/json"}}, body: empty(next)})
		return true
	})
	ctx, cancel := context.WithTimeout(e.ctx, 60*time.Second)
	defer cancel()
	err := e.src.SyncNow(ctx)
	if !isKind(err, cloud.ErrBadAnswer) || !strings.Contains(err.Error(), "empty pages") {
		t.Fatalf("sync over endless empty pages: %v, want a bad answer", err)
	}
	if n > 200 {
		t.Errorf("endless empty pages cost %d requests", n)
	}
	if s := e.states(); s[engine.StateActive] != 7 || len(s) != 1 {
		t.Errorf("inventory after the failed sync: %v, want 7 active keys", s)
	}
}

// A rotation whose answer is lost after the vault made the new version (a
// 500 from a gateway, a dropped connection) is not sent again blindly: the
// SDK's retries would make a second version. The connector reads the key,
// finds the version it made and answers with it; a rotate that did not
// reach the vault is sent again and succeeds.
func TestRotateAnswerLostIsNotRotatedTwice(t *testing.T) {
	// "unsent": a 503 from a gateway that never passed the rotate on.
	for _, lose := range []string{"500", "drop", "unsent"} {
		t.Run(lose, func(t *testing.T) {
			e, f := newHostile(t, 1)
			e.mustSync()
			m := cloud.NewManager(e.st, newKEK(t), e.src)
			loseAnswers(t, f, func(r *http.Request) bool {
				return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/rotate")
			}, lose)
			outside := len(e.events(engine.OriginSource))
			res, err := m.Rotate(e.ctx, alice, "vault1", "kaa")
			if err != nil {
				t.Fatalf("rotate whose answer was lost: %v", err)
			}
			vs, err := e.conn.Versions(e.ctx, "kaa")
			if err != nil {
				t.Fatal(err)
			}
			if len(vs) != 2 {
				t.Errorf("the vault holds %d versions after one rotate, want 2", len(vs))
			}
			if res.Event.Operation != engine.OpRotated {
				t.Errorf("rotate recorded %q", res.Event.Operation)
			}
			if found := strings.Contains(res.Recovered, "keyward found the version it made"); found != (lose != "unsent") {
				t.Errorf("the administrator is told %q (the vault did the first rotate: %v)", res.Recovered, lose != "unsent")
			}
			if n := countOps(e.events(engine.OriginKeyward), engine.OpRotated); n != 1 {
				t.Errorf("%d rotation events recorded, want 1", n)
			}
			e.mustSync()
			if n := len(e.events(engine.OriginSource)) - outside; n != 0 {
				t.Errorf("the sync after the rotate found %d changes made outside keyward", n)
			}
		})
	}
}

func countOps(evs []engine.Event, op string) int {
	n := 0
	for _, ev := range evs {
		if ev.Operation == op {
			n++
		}
	}
	return n
}

// expiring hands out the emulator's token already expired, so the SDK asks
// for a new one before every request, and fails from its failAt-th token
// on, as an identity whose secret expires in the middle of a sync does.
type expiring struct {
	mu     sync.Mutex
	token  string
	n      int
	failAt int
}

func (x *expiring) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.n++
	if x.failAt > 0 && x.n >= x.failAt {
		return azcore.AccessToken{}, errors.New("AADSTS7000222: The provided client secret keys for app '00000000-0000-0000-0000-000000000000' are expired.")
	}
	return azcore.AccessToken{Token: x.token, ExpiresOn: time.Now()}, nil // expired at once: fetched again before each request
}

// Answers a vault may send that keyward does not expect: a key whose
// version list is empty, keys named with unicode, slashes or 1 KiB of
// text, a token refused in the middle of a sync (the secret expired), a
// vault clock 10 minutes ahead. Each sync either keeps what it can show
// as the vault said it, or fails naming the key or the reason, with the
// inventory as the last good sync left it; none panics.
func TestSurprisingAnswers(t *testing.T) {
	e, f := newHostile(t, 12)
	e.mustSync()
	good := e.states()

	// A key whose version list is empty, read because it changed.
	e.addKey(vault.KeySpec{Name: "kzz"})
	f.set(func(w http.ResponseWriter, r *http.Request, f *front) bool {
		if r.URL.Path != "/keys/kzz/versions" {
			return false
		}
		f.write(w, reply{status: 200, header: http.Header{"Content-Type": {"application/json"}}, body: []byte(`{"value":[]}`)})
		return true
	})
	if err := e.sync(); !isKind(err, cloud.ErrBadAnswer) || !strings.Contains(err.Error(), "kzz") || !strings.Contains(err.Error(), "no versions") {
		t.Errorf("a key listed with no versions: %v, want a bad answer naming kzz", err)
	}
	if s := e.states(); fmt.Sprint(s) != fmt.Sprint(good) {
		t.Errorf("inventory after the failed sync: %v, want %v", s, good)
	}

	// Names no Key Vault allows, in the listing.
	long := strings.Repeat("ключ-", 205) // 1 KiB of UTF-8
	for _, name := range []string{"ключ-é", "a%2Fb", long} {
		t.Run("name "+name[:min(len(name), 12)], func(t *testing.T) {
			f.set(func(w http.ResponseWriter, r *http.Request, f *front) bool {
				if _, ok := isListPage(r); !ok {
					return false
				}
				rp := f.forward(t, r)
				var page map[string]any
				if err := json.Unmarshal(rp.body, &page); err != nil {
					t.Error(err)
				}
				if r.URL.Query().Get("$skiptoken") == "" {
					page["value"] = append(page["value"].([]any), map[string]any{"kid": f.URL + "/keys/" + name, "attributes": map[string]any{"enabled": true, "created": 1700000000, "updated": 1700000000}})
				}
				rp.body, _ = json.Marshal(page)
				f.write(w, rp)
				return true
			})
			err := e.sync()
			t.Logf("sync over a key named %q: %v", name[:min(len(name), 12)], err)
			var ce *cloud.Error
			if err != nil && !errors.As(err, &ce) {
				t.Errorf("sync over a key named %q: %v, want a cloud error", name, err)
			}
			if err != nil && len(err.Error()) > 2000 {
				t.Errorf("error of %d bytes", len(err.Error()))
			}
			s := e.states()
			if s[engine.StateActive] < 12 || s[engine.StatePurged] > 0 || s[engine.StateDeleted] > 0 {
				t.Errorf("inventory after a key named %q: %v", name, s)
			}
		})
	}
	f.set(nil)
	e.mustSync()
	good = e.states()

	// The secret expires in the middle of a sync: tokens fail after the
	// first pages were read.
	cred := &expiring{token: e.srv.Token}
	e.connectFront(f, WithCredential(cred))
	cred.mu.Lock()
	cred.failAt = 3
	cred.mu.Unlock()
	err := e.sync()
	if !isKind(err, cloud.ErrCredential) || !strings.Contains(err.Error(), "AADSTS7000222") {
		t.Errorf("token refused mid-sync: %v", err)
	}
	if s := e.states(); fmt.Sprint(s) != fmt.Sprint(good) {
		t.Errorf("inventory after the failed sync: %v, want %v", s, good)
	}
	cred.mu.Lock()
	cred.failAt = 0
	cred.mu.Unlock()
	if s := e.mustSync(); s.Events != 0 {
		t.Errorf("the sync after the secret was renewed recorded %d events", s.Events)
	}
}

// A vault whose clock runs 10 minutes ahead or behind keyward's: its
// dates are taken as stated (a key created in our future stays active
// and is shown so), a change made after a sync is found by the next one,
// also after a restart, and an unchanged vault gives no events.
func TestVaultClockOff(t *testing.T) {
	for _, off := range []time.Duration{10 * time.Minute, -10 * time.Minute} {
		t.Run(off.String(), func(t *testing.T) {
			e := newEnv(t, vault.Options{Now: func() time.Time { return time.Now().Add(off) }}, false)
			e.addKey(vault.KeySpec{Name: "acme-k", Created: time.Now().Add(off)})
			e.mustSync()
			k := byName(e.rows())["acme-k"][0]
			if k.State != engine.StateActive || k.Created == nil || k.Created.Sub(time.Now().Add(off)).Abs() > time.Minute {
				t.Errorf("key created by a clock %s off: %s, created %v", off, k.State, k.Created)
			}
			if s := e.mustSync(); s.Events != 0 {
				t.Errorf("unchanged vault: %d events", s.Events)
			}
			edit := func(owner string) {
				t.Helper()
				if _, err := e.conn.Update(e.ctx, "acme-k", "", cloud.Update{Tags: map[string]string{"owner": owner}}); err != nil {
					t.Fatal(err)
				}
			}
			edit("crm")
			if s := e.mustSync(); s.Events != 1 {
				t.Errorf("a tag edited in the vault: %d events, want 1", s.Events)
			}
			// A restart, then a change.
			e.connect(t.TempDir(), false, "")
			edit("billing")
			if s := e.mustSync(); s.Events != 1 || byName(e.rows())["acme-k"][0].Tags["owner"] != "billing" {
				t.Errorf("a tag edited before a restart: %d events, owner %q", s.Events, byName(e.rows())["acme-k"][0].Tags["owner"])
			}
			if s := e.mustSync(); s.Events != 0 {
				t.Errorf("unchanged vault after the restart: %d events", s.Events)
			}
		})
	}
}

// A vault that throttles (429, with or without Retry-After) or fails a
// page with a 5xx: a 5xx is retried by the SDK and the sync completes as
// if nothing happened; a throttled sync fails as throttled, carries the
// vault's Retry-After for the run loop (none when it gave none), and
// writes nothing.
func TestThrottledAndServerErrors(t *testing.T) {
	e, f := newHostile(t, 12)
	e.mustSync()
	good := e.states()
	failed := 0
	f.set(func(w http.ResponseWriter, r *http.Request, f *front) bool {
		if skip, ok := isListPage(r); !ok || skip != "5" || failed > 0 {
			return false
		}
		failed++
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"error":{"code":"ServiceUnavailable","message":"The service is temporarily unavailable."}}`)
		return true
	})
	if s := e.mustSync(); s.Keys != 12 || s.Events != 0 || s.Duplicates != 0 || failed != 1 {
		t.Errorf("sync over a 503 then the page: %+v (%d failed)", s, failed)
	}
	for _, c := range []struct {
		header string
		want   time.Duration
	}{{"7", 7 * time.Second}, {"", 0}} {
		f.set(func(w http.ResponseWriter, r *http.Request, f *front) bool {
			if _, ok := isListPage(r); !ok {
				return false
			}
			if c.header != "" {
				w.Header().Set("Retry-After", c.header)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, `{"error":{"code":"Throttled","message":"Request was not processed because too many requests were received."}}`)
			return true
		})
		err := e.sync()
		if !isKind(err, cloud.ErrThrottled) || cloud.RetryAfter(err) != c.want {
			t.Errorf("throttled with Retry-After %q: %v (retry after %s), want throttled, %s", c.header, err, cloud.RetryAfter(err), c.want)
		}
		if s := e.states(); fmt.Sprint(s) != fmt.Sprint(good) {
			t.Errorf("inventory after the throttled sync: %v, want %v", s, good)
		}
	}
}
