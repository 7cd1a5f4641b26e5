package proxy

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/keyward/keyward/daemon/proxy/benchdata"

	"github.com/keyward/keyward/daemon/config"
)

// BenchmarkProxy compares a round trip through the keyward proxy (encrypt
// the protected fields, the upstream echoes them, decrypt on the way back)
// with one through a plain httputil.ReverseProxy with a BufferPool, over
// loopback TCP, in the same run, against an upstream answering with a
// Content-Length and one answering chunked. Report keyward/plain of ns/op.
func BenchmarkProxy(b *testing.B) {
	up := httptest.NewServer(benchdata.Upstream())
	defer up.Close()
	u, _ := url.Parse(up.URL)
	plain := httptest.NewServer(benchdata.Plain(u))
	defer plain.Close()
	keys := newRing(b, 16, "bench")
	m := startProxy(b, keys.rings, nil, config.ProxyApp{Name: "bench", Upstream: up.URL,
		Fields: []string{"ssn", "email", "card.number", "records[*].ssn"}})
	small, large := benchdata.Payloads()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	for _, p := range []struct {
		name string
		body []byte
	}{{"1KiB-3fields", small}, {"64KiB-50fields", large}} {
		for _, target := range []struct{ name, url string }{{"plain", plain.URL}, {"keyward", proxyURL(m, "bench")}} {
			for _, framing := range benchdata.Framings {
				b.Run(p.name+"/"+framing+"/"+target.name, func(b *testing.B) {
					b.SetBytes(int64(len(p.body)))
					b.SetParallelism(4)
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							resp, err := client.Post(target.url+"/"+framing+"/records", "application/json", bytes.NewReader(p.body))
							if err != nil {
								b.Error(err)
								return
							}
							got, _ := io.ReadAll(resp.Body)
							resp.Body.Close()
							if resp.StatusCode != 200 || len(got) != len(p.body) {
								b.Errorf("status %d, %d bytes back", resp.StatusCode, len(got))
								return
							}
						}
					})
				})
			}
		}
	}
}

// echoTransport answers every request with its own body, in memory: the
// upstream of BenchmarkHandler, so only the proxies' own work is measured.
type echoTransport struct{}

func (echoTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	return &http.Response{StatusCode: 200, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Request: r,
		Header: http.Header{"Content-Type": {"application/json"}}, ContentLength: int64(len(body)),
		Body: io.NopCloser(bytes.NewReader(body))}, nil
}

// BenchmarkHandler is the proxies' own cost per request without sockets:
// the keyward App and a plain httputil.ReverseProxy, each with an in-memory
// echoing upstream, served into a ResponseRecorder. keyward/plain of ns/op
// is the overhead of protecting the fields.
func BenchmarkHandler(b *testing.B) {
	u, _ := url.Parse("http://upstream.invalid")
	plain := benchdata.Plain(u)
	plain.Transport = echoTransport{}
	keys := newRing(b, 16, "bench")
	app, err := New(config.ProxyApp{Name: "bench", Listen: "127.0.0.1:0", Upstream: u.String(),
		Fields: []string{"ssn", "email", "card.number", "records[*].ssn"}}, keys.rings, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	app.rp.Transport = timedTransport{echoTransport{}}
	small, large := benchdata.Payloads()
	for _, p := range []struct {
		name string
		body []byte
	}{{"1KiB-3fields", small}, {"64KiB-50fields", large}} {
		for _, h := range []struct {
			name string
			h    http.Handler
		}{{"plain", plain}, {"keyward", app}} {
			b.Run(p.name+"/"+h.name, func(b *testing.B) {
				b.SetBytes(int64(len(p.body)))
				b.ReportAllocs()
				for b.Loop() {
					req := httptest.NewRequest("POST", "http://proxy/records", bytes.NewReader(p.body))
					req.Header.Set("Content-Type", "application/json")
					w := httptest.NewRecorder()
					h.h.ServeHTTP(w, req)
					if w.Code != 200 || w.Body.Len() != len(p.body) {
						b.Fatalf("status %d, %d bytes: %.200s", w.Code, w.Body.Len(), w.Body.Bytes())
					}
				}
			})
		}
	}
}
