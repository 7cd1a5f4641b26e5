package vault

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func start(t *testing.T, o Options) (*Server, *http.Client) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s, err := Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.CertPool()}}, Timeout: 10 * time.Second}
	t.Cleanup(c.CloseIdleConnections)
	return s, c
}

func get(t *testing.T, c *http.Client, s *Server, u string, auth bool) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if auth {
		req.Header.Set("Authorization", "Bearer "+s.Token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp, body
}

// Without a token the vault answers the challenge the SDK expects, naming
// the tenant; a wrong token is refused.
func TestChallenge(t *testing.T) {
	s, c := start(t, Options{Tenant: "72f988bf-86f1-41af-91ab-2d7cd011db47"})
	resp, _ := get(t, c, s, s.URL+"/keys?api-version="+APIVersion, false)
	want := `Bearer authorization="https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47", resource="https://vault.azure.net"`
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != want {
		t.Errorf("%d %q, want 401 %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), want)
	}
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/keys?api-version="+APIVersion, nil)
	req.Header.Set("Authorization", "Bearer nope")
	r2, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong token: %d, want 401", r2.StatusCode)
	}
}

// Listings page with absolute nextLinks that carry api-version, and two
// listings walked at once do not disturb each other.
func TestPagingIsIndependent(t *testing.T) {
	s, c := start(t, Options{PageSize: 3})
	if err := s.SeedBulk("acme-p", 10, 1); err != nil {
		t.Fatal(err)
	}
	walk := func(next string) (string, []string) {
		resp, body := get(t, c, s, next, true)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %v", next, resp.StatusCode, body)
		}
		var names []string
		for _, v := range body["value"].([]any) {
			names = append(names, strings.TrimPrefix(v.(map[string]any)["kid"].(string), s.URL+"/keys/"))
		}
		n, _ := body["nextLink"].(string)
		return n, names
	}
	a, b := s.URL+"/keys?api-version="+APIVersion, s.URL+"/keys?api-version="+APIVersion
	var la, lb []string
	for a != "" || b != "" {
		if a != "" {
			u, _ := url.Parse(a)
			if !strings.HasPrefix(a, "https://127.0.0.1:") || u.Query().Get("api-version") != APIVersion {
				t.Fatalf("nextLink %q is not absolute with api-version", a)
			}
			var names []string
			a, names = walk(a)
			la = append(la, names...)
		}
		if b != "" {
			var names []string
			b, names = walk(b)
			lb = append(lb, names...)
		}
	}
	if len(la) != 10 || strings.Join(la, ",") != strings.Join(lb, ",") {
		t.Errorf("interleaved listings saw %v and %v, want the same 10 keys", la, lb)
	}
}

func TestSeedDemo(t *testing.T) {
	s, _ := start(t, Options{})
	n, err := s.SeedDemo(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	live, deleted := s.KeyCount()
	if live+deleted != n || deleted != 2 {
		t.Errorf("%d live + %d deleted keys, want %d with 2 soft-deleted", live, deleted, n)
	}
}

func TestRoute(t *testing.T) {
	cases := []struct{ method, path, op string }{
		{"POST", "/keys/a/create", "Client.CreateKey"}, {"PUT", "/keys/a", "Client.ImportKey"}, {"GET", "/keys/a/", "Client.GetKey"},
		{"GET", "/keys/a/v1", "Client.GetKey"}, {"PATCH", "/keys/a/v1", "Client.UpdateKey"}, {"PATCH", "/keys/a/", "Client.UpdateKey"},
		{"DELETE", "/keys/a", "Client.DeleteKey"}, {"POST", "/keys/a/backup", "Client.BackupKey"}, {"POST", "/keys/restore", "Client.RestoreKey"},
		{"POST", "/keys/a/rotate", "Client.RotateKey"}, {"GET", "/keys/a/rotationpolicy", "Client.GetKeyRotationPolicy"},
		{"PUT", "/keys/a/rotationpolicy", "Client.UpdateKeyRotationPolicy"}, {"GET", "/deletedkeys/a", "Client.GetDeletedKey"},
		{"DELETE", "/deletedkeys/a", "Client.PurgeDeletedKey"}, {"POST", "/deletedkeys/a/recover", "Client.RecoverDeletedKey"},
		{"GET", "/secrets/a", ""}, {"POST", "/keys/a/b/c", ""},
	}
	for _, c := range cases {
		if op, _, _ := route(c.method, c.path); op != c.op {
			t.Errorf("route(%s %s) = %q, want %q", c.method, c.path, op, c.op)
		}
	}
}

func FuzzRoute(f *testing.F) {
	for _, p := range []string{"/keys", "/keys/a/create", "/deletedkeys/a/recover", "/keys/a/b/c/d", "//", "/keys//versions"} {
		f.Add("GET", p)
		f.Add("POST", p)
	}
	f.Fuzz(func(t *testing.T, method, path string) {
		op, list, name := route(method, path)
		if (op != "" || list == listVersions) && strings.Contains(name, "/") {
			t.Fatalf("route(%q, %q) name %q holds a slash", method, path, name)
		}
	})
}

// Backup blobs from anywhere: refused with a reason or restored, never a
// panic; a blob from another geography is refused.
func FuzzRestoreBlob(f *testing.F) {
	s := &Server{opts: Options{Geography: "europe"}, st: newState(time.Now)}
	k := &key{name: "acme-f", versions: []*version{{id: "v1", kty: "EC", curve: "P-256", size: 256, enabled: true, created: time.Unix(1700000000, 0)}}}
	blob, err := s.backup(k)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(blob)
	f.Add([]byte("KWVAULTBK1"))
	f.Add([]byte{})
	other := &Server{opts: Options{Geography: "us"}, st: newState(time.Now)}
	if _, err := other.restore(blob); err == nil || !strings.Contains(err.Error(), "geography") {
		f.Fatalf("restore in another geography: %v", err)
	}
	if got, err := s.restore(blob); err != nil || got.name != "acme-f" || len(got.versions) != 1 {
		f.Fatalf("restore: %v %v", got, err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := s.restore(b)
		if err == nil && (k.name == "" || len(k.versions) == 0) {
			t.Fatalf("restored an empty key from %x", b)
		}
		_ = fmt.Sprint(err)
	})
}

// TestCancelledRequestDoesNotPanic: a client that gives up mid-request (a
// sync cancelled at shutdown, the demo quitting) must not crash the vault.
// azkeys' fake transport closes its result channel when the request's
// context ends and its worker may then send on it ("send on closed
// channel", seen killing the demo test binary); the emulator hands the
// fake a context that is never cancelled.
func TestCancelledRequestDoesNotPanic(t *testing.T) {
	s, _ := start(t, Options{})
	for range 200 {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		req := httptest.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/keys/absent?api-version="+APIVersion, nil)
		req.Header.Set("Authorization", "Bearer "+s.Token)
		s.ServeHTTP(httptest.NewRecorder(), req)
	}
	time.Sleep(50 * time.Millisecond) // let a stray worker send, if any
}
