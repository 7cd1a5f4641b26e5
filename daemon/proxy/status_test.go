package proxy

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/testkit"
	"github.com/keyward/keyward/engine"
	kwstore "github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/storetest"
)

func get(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	r, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return r.StatusCode, string(b)
}

func TestStatusMetricsAndUsageInSQLite(t *testing.T) {
	testkit.AwayFromBoundary(t, time.Hour, 30*time.Second) // the usage is checked as this hour's
	keys := newRing(t, 16, "crm")
	st := &recordStore{}
	up := newUpstream(t, st.handle)
	db := storetest.New(t)
	rec := &recorder{UsageFn: db.AddUsage}
	m := startProxy(t, keys.rings, rec, crmApp(up.URL))
	base := proxyURL(m, "crm")
	for i := 0; i < 10; i++ {
		post(t, base+"/records", "application/json", fmt.Sprintf(`{"ssn":"%d","email":"e%d@x.io","name":"n"}`, i, i%2))
	}
	get(t, http.DefaultClient, base+"/records")
	firstKey, _ := m.Apps()[0].Codec().ActiveKeyID()
	keys.rotate("crm")
	post(t, base+"/records", "application/json", `{"ssn":"new"}`)

	// A request's latency is recorded just after its answer is sent.
	settled(t, func() bool { return m.Statuses()[0].ProxyLatency.Count == 12 })
	s := m.Statuses()[0]
	if s.Requests != 12 || s.FieldsEncrypt != 21 || s.FieldsDecrypt != 20 {
		t.Errorf("requests %d encrypted %d decrypted %d, want 12 21 20", s.Requests, s.FieldsEncrypt, s.FieldsDecrypt)
	}
	if s.BytesIn == 0 || s.BytesOut == 0 || s.ProxyLatency.Count != 12 || s.UpstreamLatency.Count != 12 || s.ProxyLatency.P99 < s.ProxyLatency.P50 {
		t.Errorf("bytes/latency %+v %+v %+v", s.BytesIn, s.ProxyLatency, s.UpstreamLatency)
	}
	if !s.Health.OK || s.Health.LastSuccess == nil || s.Ring.KeyID == firstKey || s.Ring.Size != 2 || len(s.Ring.Generations) != 2 {
		t.Errorf("health %+v ring %+v", s.Health, s.Ring)
	}
	var sum int64
	for _, p := range s.Series {
		sum += p.Requests
	}
	if sum != 12 {
		t.Errorf("series holds %d requests", sum)
	}
	if b, _ := json.Marshal(s); strings.Contains(string(b), "material") {
		t.Error("status mentions material")
	}

	// Prometheus on its own listener.
	code, body := get(t, http.DefaultClient, "http://"+m.MetricsAddr()+"/metrics")
	for _, want := range []string{`keyward_proxy_requests_total{app="crm"} 12`, `keyward_proxy_fields_total{app="crm",op="encrypt"} 21`,
		`keyward_proxy_latency_seconds_bucket{app="crm",part="upstream"`, `keyward_proxy_ring_generations{app="crm"} 2`, `keyward_proxy_upstream_up{app="crm"} 1`} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	// Usage per key and hour lands in SQLite.
	m.FlushUsage(context.Background())
	rows, err := db.Usage(context.Background(), kwstore.UsageQuery{Application: "crm"})
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]engine.Usage{}
	for _, r := range rows {
		byKey[r.KeyID] = r
	}
	if u := byKey[firstKey]; u.Encrypts != 20 || u.Decrypts != 20 || !u.Hour.Equal(time.Now().UTC().Truncate(time.Hour)) {
		t.Errorf("usage of first key %+v (all %+v)", u, rows)
	}
	if u := byKey[s.Ring.KeyID]; u.Encrypts != 1 {
		t.Errorf("usage of new key %+v", u)
	}
	// The rotation is the source's to record (once, naming the key): the
	// proxy's status records none of its own.
	if ev := rec.EventsWith(engine.OpRotated); len(ev) != 0 {
		t.Errorf("the proxy recorded the rotation too: %+v", ev)
	}
}

// settled waits for bookkeeping that follows a response (up to 20 s, a
// loaded machine's bound; the checks after it say what is missing).
func settled(t *testing.T, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !ok() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
}

func asAPIError(err error, ae **api.Error) bool {
	e, ok := err.(*api.Error)
	if ok {
		*ae = e
	}
	return ok
}

// selfSigned writes a certificate and key for 127.0.0.1 into dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "keyward proxy test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(k)
	certFile, keyFile = filepath.Join(dir, "proxy.crt"), filepath.Join(dir, "proxy.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600)
	c, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(c)
	return certFile, keyFile, pool
}

func TestTLSListenerAndHTTPSUpstreamWithCA(t *testing.T) {
	keys := newRing(t, 16, "crm")
	var mu sync.Mutex
	var upBody string
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		upBody = string(b)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	}))
	defer up.Close()
	dir := t.TempDir()
	caFile := filepath.Join(dir, "upstream-ca.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: up.Certificate().Raw}), 0o600)
	certFile, keyFile, pool := selfSigned(t, dir)

	app := crmApp(up.URL)
	app.UpstreamCA = caFile
	app.TLSCert, app.TLSKey = certFile, keyFile
	m := startProxy(t, keys.rings, &recorder{}, app)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	r, err := client.Post("https://"+m.Addr("crm")+"/records", "application/json", strings.NewReader(`{"ssn":"123-45-6789"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if r.StatusCode != 200 || string(b) != `{"ssn":"123-45-6789"}` || strings.Contains(upBody, "123-45") || !strings.Contains(upBody, "kw1gt.") {
		t.Fatalf("TLS round trip: %d %s, upstream saw %s", r.StatusCode, b, upBody)
	}
	if !m.Statuses()[0].TLS {
		t.Error("status does not say TLS")
	}

	// Without the CA bundle the upstream's certificate is refused.
	app2 := crmApp(up.URL)
	app2.Name = "crm"
	m2 := startProxy(t, keys.rings, &recorder{}, app2)
	code, body := get(t, http.DefaultClient, proxyURL(m2, "crm")+"/x")
	if code != http.StatusBadGateway || !strings.Contains(body, "certificate") {
		t.Fatalf("unverified upstream: %d %s", code, body)
	}
}

// TestConcurrentTrafficWithRotations is meant for -race: clients, key
// rotations, status snapshots, metric scrapes and usage flushes at once.
func TestConcurrentTrafficWithRotations(t *testing.T) {
	keys := newRing(t, 4, "crm")
	st := &recordStore{}
	up := newUpstream(t, st.handle)
	rec := &recorder{}
	m := startProxy(t, keys.rings, rec, crmApp(up.URL))
	base := proxyURL(m, "crm")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var failures sync.Map
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 30; i++ {
				body := fmt.Sprintf(`{"records":[{"ssn":"%d-%d","card":"4111"}],"email":"w%d@x.io","contact":{"email":"c@x.io"}}`, w, i, w)
				resp, err := http.Post(base+"/records", "application/json", strings.NewReader(body))
				if err != nil {
					failures.Store(err.Error(), true)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failures.Store(fmt.Sprint("status ", resp.StatusCode), true)
				}
				r, err := http.Get(base + "/records")
				if err == nil {
					io.Copy(io.Discard, r.Body)
					r.Body.Close()
				}
			}
		}()
	}
	var bg sync.WaitGroup
	bg.Add(1)
	go func() {
		defer bg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			keys.rotate("crm")
			m.Statuses()
			http.Get("http://" + m.MetricsAddr() + "/metrics")
			m.FlushUsage(context.Background())
			time.Sleep(2 * time.Millisecond)
		}
	}()
	wg.Wait()
	close(stop)
	bg.Wait()
	failures.Range(func(k, _ any) bool { t.Error(k); return true })
	m.FlushUsage(context.Background())
	var enc int64
	for _, u := range rec.UsageRows() {
		enc += u.Encrypts
	}
	if enc != 6*30*4 {
		t.Errorf("usage counted %d encryptions, want %d", enc, 6*30*4)
	}
	settled(t, func() bool {
		return m.Statuses()[0].ProxyLatency.Count >= 6*30*2 || m.Statuses()[0].ProxyLatency.Count == 2048
	})
	if s := m.Statuses()[0]; s.Requests != 6*30*2 || s.FieldsEncrypt != 6*30*4 {
		t.Errorf("status %d requests %d encrypted", s.Requests, s.FieldsEncrypt)
	}
}

// TestUpstreamUnknownUntilTried: after a start the upstream's health is
// "unknown" (no metric sample, nothing counted as down) until a request
// tries it; an upstream that is not even listening is only then "down".
func TestUpstreamUnknownUntilTried(t *testing.T) {
	deadURL := "http://" + testkit.FreeAddr(t)
	keys := newRing(t, 16, "crm")
	m := startProxy(t, keys.rings, &recorder{}, crmApp(deadURL))
	h := m.Statuses()[0].Health
	if h.State != api.UpstreamUnknown || h.Down() || h.LastFailure != nil {
		t.Fatalf("health before any request: %+v, want state unknown and not down", h)
	}
	if _, body := get(t, http.DefaultClient, "http://"+m.MetricsAddr()+"/metrics"); strings.Contains(body, "keyward_proxy_upstream_up") {
		t.Errorf("an upstream not tried yet has an up sample:\n%s", body)
	}
	post(t, proxyURL(m, "crm")+"/records", "application/json", `{"ssn":"1"}`)
	h = m.Statuses()[0].Health
	if h.State != api.UpstreamDown || !h.Down() || h.LastFailure == nil {
		t.Fatalf("health after a request to a dead upstream: %+v, want down", h)
	}
	if _, body := get(t, http.DefaultClient, "http://"+m.MetricsAddr()+"/metrics"); !strings.Contains(body, `keyward_proxy_upstream_up{app="crm"} 0`) {
		t.Errorf("metrics lack the down sample:\n%s", body)
	}
}

// TestFullRingSaysWhichLeavesNext: a full ring's status says which
// generation leaves next; the moves of the encrypting generation (to a
// newer one, or back to an older one) are the source's to record, and the
// proxy's status records none of them.
func TestFullRingSaysWhichLeavesNext(t *testing.T) {
	keys := newRing(t, 2, "crm")
	keys.rotate("crm")
	up := newUpstream(t, echo)
	rec := &recorder{}
	m := startProxy(t, keys.rings, rec, crmApp(up.URL))
	first := m.Statuses()[0].Ring.KeyID
	keys.rotate("crm")
	s := m.Statuses()[0]
	if s.Ring.LeavesNext != first {
		t.Errorf("leaves next %q, want %q", s.Ring.LeavesNext, first)
	}
	keys.mu.Lock()
	keys.cands["crm"][len(keys.cands["crm"])-1].State = engine.StateDeactivated
	keys.applyLocked("crm")
	keys.mu.Unlock()
	if s := m.Statuses()[0]; s.Ring.KeyID == "" || s.Ring.KeyID == m.Statuses()[0].Ring.Generations[0].KeyID {
		t.Fatalf("an older generation should encrypt now: %+v", s.Ring)
	}
	if ev := rec.EventsWith(engine.OpRotated); len(ev) != 0 {
		t.Fatalf("the proxy recorded rotations: %+v", ev)
	}
}

// The usage flushed to the store says when in its hour a key was last
// used, not only the hour: the usage report's "last use" is that time.
func TestUsageCarriesTheLastUse(t *testing.T) {
	testkit.AwayFromBoundary(t, time.Hour, 30*time.Second) // one usage row: one key, one hour
	keys := newRing(t, 16, "crm")
	up := newUpstream(t, echo)
	rec := &recorder{}
	m := startProxy(t, keys.rings, rec, crmApp(up.URL))
	before := time.Now().Truncate(time.Millisecond)
	if resp, b := post(t, proxyURL(m, "crm")+"/records", "application/json", `{"ssn":"123-45-6789"}`); resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	time.Sleep(5 * time.Millisecond)
	last := time.Now()
	if resp, b := post(t, proxyURL(m, "crm")+"/records", "application/json", `{"ssn":"987-65-4321"}`); resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	after := time.Now()
	m.FlushUsage(context.Background())
	rows := rec.UsageRows()
	if len(rows) != 1 {
		t.Fatalf("usage rows %+v, want one (one key, one hour)", rows)
	}
	u := rows[0]
	if u.Encrypts != 2 || u.Decrypts != 2 {
		t.Errorf("counts %d/%d, want 2 encrypts (requests) and 2 decrypts (echoed responses)", u.Encrypts, u.Decrypts)
	}
	if u.Last.Before(last.Truncate(time.Millisecond)) || u.Last.After(after) || u.Last.Before(before) {
		t.Errorf("last use %s, want the second request's time (between %s and %s), hour %s", u.Last, last, after, u.Hour)
	}
}
