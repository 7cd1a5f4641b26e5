package benchdata

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
)

// lateReads counts the reads of an outbound request body that came after
// the server closed the inbound body it streams (http.ErrBodyReadAfterClose;
// a read after the handler returned, which ReverseProxy refuses itself, is
// after the answer was copied and cuts nothing).
type lateReads struct {
	rt http.RoundTripper
	n  atomic.Int64
}

func (l *lateReads) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = countingBody{r.Body, &l.n}
	}
	return l.rt.RoundTrip(r)
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, http.ErrBodyReadAfterClose) {
		b.n.Add(1)
	}
	return n, err
}

// TestBaselineNeverReadsAClosedBody: the baseline proxy of the benchmarks
// and the load test, under concurrent POSTs of both payloads and both
// framings, never has its transport read a request body the server has
// closed, and every answer comes back whole. Served as a plain handler,
// the server closed the body when the proxy wrote the answer's headers,
// the transport's last read of it (the check that it ends at its
// Content-Length) often came after that, and the write's failure closed
// the upstream connection under the answer: BenchmarkProxy's plain side
// failed with a cut answer on a loaded machine.
func TestBaselineNeverReadsAClosedBody(t *testing.T) {
	up := httptest.NewServer(Upstream())
	defer up.Close()
	u, _ := url.Parse(up.URL)
	rp := Plain(u)
	late := &lateReads{rt: rp.Transport}
	rp.Transport = late
	plain := httptest.NewServer(FullDuplex(rp))
	defer plain.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()
	small, large := Payloads()
	var wg sync.WaitGroup
	var cut atomic.Int64
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 150; i++ {
				body := [][]byte{small, large}[(g+i)%2]
				framing := Framings[i%2]
				resp, err := client.Post(plain.URL+"/"+framing+"/records", "application/json", bytes.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || len(got) != len(body) {
					cut.Add(1)
				}
			}
		}(g)
	}
	wg.Wait()
	if n := late.n.Load(); n != 0 || cut.Load() != 0 {
		t.Fatalf("of 1200 requests, %d had their body read after the server closed it, %d answers came back cut", n, cut.Load())
	}
}
