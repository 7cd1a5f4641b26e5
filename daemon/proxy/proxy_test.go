package proxy

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/testkit"
	"github.com/keyward/keyward/engine/token"
)

func crmApp(upstream string) config.ProxyApp {
	return config.ProxyApp{Name: "crm", Upstream: upstream,
		Fields:              []string{"records[*].ssn", "records[*].card", "contact.email", "ssn", "card"},
		DeterministicFields: []string{"email"},
		FormFields:          []string{"ssn"},
		Bodies:              []config.ProxyBody{{Path: "/files/*", ContentType: "text/plain"}},
	}
}

func post(t *testing.T, u, ct, body string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return do(t, req)
}

func isToken(s string) bool { return len(s) > 0 && token.Span([]byte(s)) == len(s) }

func TestUpstreamSeesOnlyTokensClientReadsPlaintext(t *testing.T) {
	keys := newRing(t, 16, "crm")
	up := newUpstream(t, echo)
	m := startProxy(t, keys.rings, &recorder{}, crmApp(up.URL))
	base := proxyURL(m, "crm")

	doc := `{"records":[{"ssn":"123-45-6789","name":"Ann Lee","card":4111111111111111},{"ssn":"987-65-4321","name":"Bob"}],
		"contact":{"email":"ann@example.com","phone":"555-0100"},"email":"ann@example.com"}`
	resp, got := post(t, base+"/records?x=1", "application/json; charset=utf-8", doc,
		"Connection", "X-Private-Hop", "X-Private-Hop", "secret-hop", "Accept-Encoding", "gzip")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, got)
	}
	s := up.seen()[0]
	for _, secret := range []string{"123-45-6789", "987-65-4321", "ann@example.com", "4111111111111111"} {
		if bytes.Contains(s.body, []byte(secret)) {
			t.Errorf("upstream received plaintext %q", secret)
		}
		if !bytes.Contains(got, []byte(secret)) {
			t.Errorf("client did not get %q back in plaintext: %s", secret, got)
		}
	}
	for _, plain := range []string{"Ann Lee", "Bob", "555-0100"} {
		if !bytes.Contains(s.body, []byte(plain)) {
			t.Errorf("upstream lost unprotected %q", plain)
		}
	}
	var v struct {
		Records []map[string]any `json:"records"`
		Contact map[string]any   `json:"contact"`
		Email   string           `json:"email"`
	}
	if err := json.Unmarshal(s.body, &v); err != nil {
		t.Fatalf("upstream body is not JSON: %v", err)
	}
	if !isToken(v.Records[0]["ssn"].(string)) || !isToken(v.Records[0]["card"].(string)) || !isToken(v.Contact["email"].(string)) || !isToken(v.Email) {
		t.Errorf("protected fields are not tokens upstream: %s", s.body)
	}
	if !strings.HasPrefix(v.Email, "kw1st.") || !strings.HasPrefix(v.Records[0]["ssn"].(string), "kw1gt.") || !strings.HasPrefix(v.Records[0]["card"].(string), "kw1gj.") {
		t.Errorf("modes or kinds wrong: %s", s.body)
	}
	// The number comes back as a number.
	var back map[string]any
	json.Unmarshal(got, &back)
	if n, ok := back["records"].([]any)[0].(map[string]any)["card"].(float64); !ok || n != 4111111111111111 {
		t.Errorf("card came back as %#v", back["records"].([]any)[0].(map[string]any)["card"])
	}
	if s.header.Get("X-Private-Hop") != "" || s.header.Get("Accept-Encoding") != "" {
		t.Errorf("hop-by-hop or Accept-Encoding header reached the upstream: %v", s.header)
	}
	if s.header.Get("X-Forwarded-For") != "127.0.0.1" || s.header.Get("X-Forwarded-Proto") != "http" || s.header.Get("X-Forwarded-Host") == "" {
		t.Errorf("X-Forwarded-* not set: %v", s.header)
	}

	// Form body and query string.
	_, got = post(t, base+"/form?ssn=111-22-3333&q=keep", "application/x-www-form-urlencoded", "name=Ann&ssn=123-45-6789")
	s = up.seen()[1]
	if strings.Contains(s.query, "111-22") || !strings.Contains(s.query, "q=keep") || strings.Contains(string(s.body), "123-45") {
		t.Errorf("form/query plaintext upstream: %q %q", s.query, s.body)
	}
	if string(got) != "name=Ann&ssn=123-45-6789" {
		t.Errorf("form came back as %q", got)
	}

	// Whole body by path and content type.
	_, got = post(t, base+"/files/note.txt", "text/plain", "the whole secret note")
	s = up.seen()[2]
	if !isToken(string(s.body)) || string(got) != "the whole secret note" {
		t.Errorf("whole body: upstream %q, client %q", s.body, got)
	}

	// A body type nobody declared is refused rather than passed through.
	resp, got = post(t, base+"/x", "text/csv", "ssn\n123-45-6789")
	if resp.StatusCode != http.StatusUnsupportedMediaType || len(up.seen()) != 3 {
		t.Errorf("text/csv: status %d, %s", resp.StatusCode, got)
	}
}

func TestFailClosed(t *testing.T) {
	keys := newRing(t, 16, "crm", "empty")
	up := newUpstream(t, echo)
	rec := &recorder{}
	small := crmApp(up.URL)
	small.MaxBodyBytes = 1024
	empty := crmApp(up.URL)
	empty.Name = "empty"
	m := startProxy(t, keys.rings, rec, small, empty)
	keys.deactivateAll("empty")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(`{"ssn":"123-45-6789"}`))
	zw.Close()

	cases := []struct {
		name, app, ct, body string
		hdr                 []string
		status              int
		kind                string
	}{
		{"invalid JSON", "crm", "application/json", `{"ssn":"123-45-6789",}`, nil, 400, ErrKindInvalidJSON},
		{"truncated JSON", "crm", "application/json", `{"ssn":"123-45-6789"`, nil, 400, ErrKindInvalidJSON},
		{"oversized", "crm", "application/json", `{"ssn":"123-45-6789","pad":"` + strings.Repeat("x", 2000) + `"}`, nil, 413, ErrKindTooLarge},
		{"gzip", "crm", "application/json", gz.String(), []string{"Content-Encoding", "gzip"}, 415, ErrKindEncoded},
		{"bad form", "crm", "application/x-www-form-urlencoded", "ssn=%zz123-45-6789", nil, 400, ErrKindInvalidForm},
		{"no active key", "empty", "application/json", `{"ssn":"123-45-6789"}`, nil, 503, ErrKindNoKey},
		{"websocket", "crm", "", "", []string{"Connection", "Upgrade", "Upgrade", "websocket"}, 501, ErrKindUpgrade},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := post(t, proxyURL(m, c.app)+"/records", c.ct, c.body, c.hdr...)
			if resp.StatusCode != c.status || resp.Header.Get("X-Keyward-Refused") != c.kind {
				t.Fatalf("status %d %q, want %d %q: %s", resp.StatusCode, resp.Header.Get("X-Keyward-Refused"), c.status, c.kind, body)
			}
			var e struct{ Error, Message string }
			if json.Unmarshal(body, &e) != nil || e.Error != c.kind || !strings.Contains(e.Message, "keyward proxy") {
				t.Fatalf("refusal body %s", body)
			}
			if bytes.Contains(body, []byte("123-45-6789")) {
				t.Fatal("refusal echoes the protected value")
			}
		})
	}
	// Chunked oversized body (no Content-Length) is cut at the limit.
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte(`{"ssn":"123-45-6789","pad":"`))
		for i := 0; i < 10; i++ {
			pw.Write(bytes.Repeat([]byte("y"), 500))
		}
		pw.Write([]byte(`"}`))
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", proxyURL(m, "crm")+"/records", pr)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Errorf("chunked oversized: %d", resp.StatusCode)
	}
	if n := len(up.seen()); n != 0 {
		t.Fatalf("upstream received %d requests; refused requests must never reach it", n)
	}
	for _, ev := range rec.Events() {
		if strings.Contains(ev.Details, "123-45") || strings.Contains(ev.Details, "zz") {
			t.Errorf("event quotes the protected value: %s", ev.Details)
		}
	}
	// One event per kind: repeats within 10 s are folded into the next.
	if ev := rec.EventsWith("request-refused"); len(ev) != 6 {
		t.Errorf("%d refusal events, want one per kind (6): %+v", len(ev), ev)
	} else if !strings.Contains(ev[0].Details, "proxy crm") || ev[0].Origin != "proxy" {
		t.Errorf("event %+v", ev[0])
	}
	st := m.Statuses()[0]
	if st.Errors[ErrKindInvalidJSON] != 2 || st.Errors[ErrKindTooLarge] != 2 || st.Errors[ErrKindEncoded] != 1 {
		t.Errorf("error counts %v", st.Errors)
	}
	if s := m.Statuses()[1]; s.Ring.KeyID != "" || s.Ring.Reason == "" {
		t.Errorf("empty ring status %+v", s.Ring)
	}
}

// recordStore is a tiny record store upstream: POST /records stores the body,
// GET /records/{id} returns it, GET /records lists all as {"records":[...]}.
type recordStore struct {
	mu   sync.Mutex
	recs []json.RawMessage
}

func (s *recordStore) handle(w http.ResponseWriter, r *http.Request, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == "POST":
		s.recs = append(s.recs, append(json.RawMessage(nil), body...))
		fmt.Fprintf(w, `{"id":%d}`, len(s.recs)-1)
	case r.URL.Path == "/records":
		b, _ := json.Marshal(map[string]any{"records": s.recs})
		w.Write(b)
	default:
		var id int
		fmt.Sscanf(strings.TrimPrefix(r.URL.Path, "/records/"), "%d", &id)
		if id < 0 || id >= len(s.recs) {
			http.NotFound(w, r)
			return
		}
		w.Write(s.recs[id])
	}
}

func TestRotationMidTrafficAndRingOverflow(t *testing.T) {
	keys := newRing(t, 3, "crm")
	st := &recordStore{}
	up := newUpstream(t, st.handle)
	m := startProxy(t, keys.rings, &recorder{}, crmApp(up.URL))
	base := proxyURL(m, "crm")

	var wg sync.WaitGroup
	errs := make(chan string, 1000)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				ssn := fmt.Sprintf("%03d-%02d-%04d", w, i, w*100+i)
				resp, b := post(t, base+"/records", "application/json", `{"ssn":"`+ssn+`"}`)
				if resp.StatusCode != 200 {
					errs <- fmt.Sprintf("create %s: %d %s", ssn, resp.StatusCode, b)
					return
				}
				var id struct{ ID int }
				json.Unmarshal(b, &id)
				r, err := http.Get(fmt.Sprintf("%s/records/%d", base, id.ID))
				if err != nil {
					errs <- err.Error()
					return
				}
				g, _ := io.ReadAll(r.Body)
				r.Body.Close()
				if !strings.Contains(string(g), ssn) {
					errs <- fmt.Sprintf("read back %s: %s", ssn, g)
				}
			}
		}()
	}
	// One rotation in the middle of the traffic.
	time.Sleep(5 * time.Millisecond)
	keys.rotate("crm")
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	ids := map[string]bool{}
	for _, r := range st.recs {
		var v map[string]string
		json.Unmarshal(r, &v)
		tk, err := token.Parse([]byte(v["ssn"]))
		if err != nil {
			t.Fatalf("stored ssn %q is not a token", v["ssn"])
		}
		ids[tk.KeyID] = true
	}
	if len(st.recs) != 100 {
		t.Fatalf("%d records stored, want 100", len(st.recs))
	}
	t.Logf("records made with %d generations", len(ids))

	// The list of all records, old generation included, reads in plaintext.
	list := func() string {
		r, err := http.Get(base + "/records")
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return string(b)
	}
	if l := list(); strings.Contains(l, "kw1") || !strings.Contains(l, "000-00-0000") {
		t.Fatalf("list after rotation still has tokens or lost records")
	}
	// Push the first generation out of a 3-generation ring.
	first := st.recs[0]
	keys.rotate("crm")
	keys.rotate("crm")
	keys.rotate("crm")
	before := m.Statuses()[0].Errors[ErrKindUnknownGen]
	r, _ := http.Get(base + "/records/0")
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 200 || !bytes.Equal(b, first) {
		t.Fatalf("a record of a dropped generation must come back as stored (token): %d %s", r.StatusCode, b)
	}
	if after := m.Statuses()[0].Errors[ErrKindUnknownGen]; after != before+1 {
		t.Fatalf("unknown-generation count %d → %d, want +1", before, after)
	}
	if s := m.Statuses()[0]; s.Ring.Size != 3 || s.Ring.Capacity != 3 || s.Ring.Fingerprint == "" || s.Ring.LastChange == nil {
		t.Fatalf("ring status %+v", s.Ring)
	}
}

func TestTamperedAndForeignTokensLeftAsIs(t *testing.T) {
	keys := newRing(t, 16, "crm", "hr")
	var answer []byte
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(answer)
	})
	m := startProxy(t, keys.rings, &recorder{}, crmApp(up.URL))
	crm, hr := token.NewCodec("crm", keys.rings), token.NewCodec("hr", keys.rings)
	good, _, _ := crm.Encrypt([]byte("123-45-6789"), token.GCM, token.Text)
	foreign, _, _ := hr.Encrypt([]byte("999-99-9999"), token.GCM, token.Text)
	tampered := good[:len(good)-3] + "AAA"
	if tampered == good {
		tampered = good[:len(good)-3] + "BBB"
	}
	answer = []byte(`{"a":"` + good + `","b":"` + foreign + `","c":"` + tampered + `"}`)
	r, err := http.Get(proxyURL(m, "crm") + "/x")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	var v map[string]string
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("client got a broken document: %s", b)
	}
	if v["a"] != "123-45-6789" || v["b"] != foreign || v["c"] != tampered {
		t.Fatalf("got %v", v)
	}
	e := m.Statuses()[0].Errors
	if e[ErrKindWrongApp] != 1 || e[ErrKindTampered] != 1 {
		t.Fatalf("errors %v", e)
	}
}

func TestSlowAndDownUpstream(t *testing.T) {
	keys := newRing(t, 16, "crm")
	release := make(chan struct{})
	slow := newUpstream(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	rec := &recorder{}
	slowApp := crmApp(slow.URL)
	slowApp.Timeout = 300 * 1e6
	downApp := crmApp("http://" + testkit.FreeAddr(t))
	downApp.Name = "down"
	m := startProxy(t, keys.rings, rec, slowApp, downApp)

	r, err := http.Get(proxyURL(m, "crm") + "/records")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != http.StatusGatewayTimeout || !strings.Contains(string(b), "did not answer within 300ms") {
		t.Fatalf("slow upstream: %d %s", r.StatusCode, b)
	}
	r, err = http.Get(proxyURL(m, "down") + "/records")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != http.StatusBadGateway || !strings.Contains(string(b), "connection refused") {
		t.Fatalf("down upstream: %d %s", r.StatusCode, b)
	}
	st := m.Statuses()
	if st[0].Errors[ErrKindTimeout] != 1 || st[0].Health.OK || st[0].Health.LastFailure == nil {
		t.Errorf("slow status %+v %+v", st[0].Errors, st[0].Health)
	}
	if st[1].Errors[ErrKindUpstream] != 1 || !strings.Contains(st[1].Health.Reason, "refused") {
		t.Errorf("down status %+v %+v", st[1].Errors, st[1].Health)
	}
	if len(rec.EventsWith("source-outage")) != 2 {
		t.Errorf("outage events: %+v", rec.Events())
	}
}

func TestStreamsBodiesThatNeedNoRewrite(t *testing.T) {
	keys := newRing(t, 16, "crm")
	next := make(chan struct{})
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		select { // the second event only after the client saw the first
		case <-next:
		case <-time.After(5 * time.Second):
		}
		fmt.Fprintf(w, "data: second\n\n")
	})
	app := crmApp(up.URL)
	app.PassContentTypes = []string{"application/octet-stream"}
	m := startProxy(t, keys.rings, &recorder{}, app)
	got := make(chan string, 1)
	var r *http.Response
	go func() {
		var err error
		r, err = http.Get(proxyURL(m, "crm") + "/events")
		if err != nil {
			got <- err.Error()
			return
		}
		buf := make([]byte, 64)
		n, _ := r.Body.Read(buf)
		got <- string(buf[:n])
	}()
	select {
	case first := <-got:
		if !strings.HasPrefix(first, "data: first") {
			t.Fatalf("first read %q", first)
		}
	case <-time.After(4 * time.Second):
		t.Fatal("the first event did not arrive before the upstream finished: the proxy buffers streams")
	}
	close(next)
	io.Copy(io.Discard, r.Body)
	r.Body.Close()
	// A large pass-through upload goes through untouched.
	big := bytes.Repeat([]byte("z"), 10<<20)
	resp, _ := post(t, proxyURL(m, "crm")+"/blob", "application/octet-stream", string(big))
	if resp.StatusCode != 200 {
		t.Fatalf("pass-through upload: %d", resp.StatusCode)
	}
	if got := m.Statuses()[0].BytesIn; got != int64(len(big)) {
		t.Fatalf("bytes in %d", got)
	}
}

func TestPlainHTTPOnlyOnLoopback(t *testing.T) {
	keys := newRing(t, 16, "crm")
	for _, listen := range []string{"0.0.0.0:8480", "192.0.2.1:8480", ":8480"} {
		app := crmApp("http://127.0.0.1:1")
		app.Listen = listen
		if _, err := New(app, keys.rings, nil, nil); err == nil || !strings.Contains(err.Error(), "non-loopback") {
			t.Errorf("listen %s without TLS: %v", listen, err)
		}
	}
	app := crmApp("http://127.0.0.1:1")
	app.Listen = "[::1]:8480"
	if _, err := New(app, keys.rings, nil, nil); err != nil {
		t.Errorf("loopback: %v", err)
	}
}
