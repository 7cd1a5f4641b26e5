package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// The status area of the socket API (daemon/localapi/status.go): the
// daemon's status, its sources, sync on demand and the event stream.

// Status returns the daemon's status.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	var s Status
	return &s, c.Do(ctx, http.MethodGet, "/status", nil, nil, &s)
}

// Sources returns the configured sources with their health.
func (c *Client) Sources(ctx context.Context) ([]SourceInfo, error) {
	var s struct {
		Sources []SourceInfo `json:"sources"`
	}
	return s.Sources, c.Do(ctx, http.MethodGet, "/sources", nil, nil, &s)
}

// Watch streams notifications from GET /v1/events until ctx ends or the
// connection drops, calling fn for each. It returns the error that ended it.
func (c *Client) Watch(ctx context.Context, fn func(Notification)) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url("/events", nil), nil)
	if err != nil {
		return err
	}
	resp, err := c.stream.Do(req)
	if err != nil {
		return c.unreachable(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return decodeError(resp)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var n Notification
		if err := json.Unmarshal(sc.Bytes(), &n); err != nil {
			return fmt.Errorf("event stream: %w", err)
		}
		fn(n)
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil {
		return c.unreachable(err)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return c.unreachable(io.ErrUnexpectedEOF)
}

// Sync asks the daemon to sync source now ("" = every source that can)
// and waits for it.
func (c *Client) Sync(ctx context.Context, source string) (*SyncResult, error) {
	q := url.Values{}
	if source != "" {
		q.Set("source", source)
	}
	return call[SyncResult](ctx, c, http.MethodPost, "/sync", q, nil)
}
