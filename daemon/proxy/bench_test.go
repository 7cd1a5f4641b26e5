package proxy

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/proxy/benchdata"

	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/proxy/fields"
	"github.com/keyward/keyward/engine/token"
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
	plain := httptest.NewServer(benchdata.FullDuplex(benchdata.Plain(u)))
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

// BenchmarkWork is the work keyward adds to a request that no proxy design
// can avoid, per payload, without sockets: the strict walk of the request
// (EncryptJSON with an encrypter that only copies), the walk with the real
// seals, the search of the answer for tokens (DecryptJSON of a document
// with none), and the search with the real opens. Their sum is the floor
// of keyward's CPU over a plain proxy's for one request.
func BenchmarkWork(b *testing.B) {
	keys := newRing(b, 16, "bench")
	app, err := New(config.ProxyApp{Name: "bench", Listen: "127.0.0.1:0", Upstream: "http://upstream.invalid",
		Fields: []string{"ssn", "email", "card.number", "records[*].ssn"}}, keys.rings, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	copyOnly := func(dst, pt []byte, _ bool, _ token.Kind) ([]byte, error) { return append(dst, pt...), nil }
	small, large := benchdata.Payloads()
	for _, p := range []struct {
		name string
		body []byte
	}{{"1KiB-3fields", small}, {"64KiB-50fields", large}} {
		ex := newExchange(context.Background(), time.Now())
		sealed, n, err := app.rules.EncryptJSON(nil, p.body, app.encrypter(ex))
		if err != nil || n == 0 {
			b.Fatal(n, err)
		}
		out := make([]byte, 0, 2*len(sealed))
		for _, w := range []struct {
			name string
			f    func() int
		}{
			{"walk", func() int { out, n, _ = app.rules.EncryptJSON(out[:0], p.body, copyOnly); return n }},
			{"walk+seal", func() int { out, n, _ = app.rules.EncryptJSON(out[:0], p.body, app.encrypter(ex)); return n }},
			{"search", func() int {
				var op fields.Opened
				out, op = fields.DecryptJSON(out[:0], p.body, app.decrypter(ex))
				return op.Decrypted + 1
			}},
			{"search+open", func() int {
				var op fields.Opened
				out, op = fields.DecryptJSON(out[:0], sealed, app.decrypter(ex))
				return op.Decrypted
			}},
		} {
			b.Run(p.name+"/"+w.name, func(b *testing.B) {
				b.SetBytes(int64(len(p.body)))
				for b.Loop() {
					if w.f() == 0 {
						b.Fatal("nothing done")
					}
				}
			})
		}
	}
}
