package aws

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
)

// pacedClient spaces an account's requests (retries included) at most
// rate per second, so keyward's syncs stay under the account's KMS
// request quota, which every other workload in the account and region
// shares.
type pacedClient struct {
	inner    config.HTTPClient
	interval time.Duration

	mu   sync.Mutex
	next time.Time
}

func newPacedClient(inner config.HTTPClient, perSecond int) *pacedClient {
	return &pacedClient{inner: inner, interval: time.Second / time.Duration(perSecond)}
}

// Do waits for the request's turn (or its context's end), then sends it.
func (p *pacedClient) Do(r *http.Request) (*http.Response, error) {
	p.mu.Lock()
	now := time.Now()
	if p.next.Before(now) {
		p.next = now
	}
	at := p.next
	p.next = p.next.Add(p.interval)
	p.mu.Unlock()
	if err := sleepUntil(r.Context(), at); err != nil {
		return nil, err
	}
	return p.inner.Do(r)
}

func sleepUntil(ctx context.Context, at time.Time) error {
	d := time.Until(at)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
