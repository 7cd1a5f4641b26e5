package api

import (
	"context"
	"io"
	"net/http"
	"net/url"
)

// The inventory area of the socket API (daemon/localapi/keys.go).

// Keys returns one page of the inventory.
func (c *Client) Keys(ctx context.Context, kq KeyQuery) (*KeysPage, error) {
	q := query("source", kq.Source, "state", kq.State, "aging", kq.Aging, "q", kq.Text, "sort", kq.Sort,
		"cursor", kq.Cursor, "limit", positive(kq.Limit))
	var p KeysPage
	return &p, c.Do(ctx, http.MethodGet, "/keys", q, nil, &p)
}

// ExportKeys streams every key matching kq (Cursor and Limit aside), at
// most limit of them when limit > 0, as format "ndjson" (one Key per
// line) or "csv". The caller reads and closes the answer; a read error
// (io.ErrUnexpectedEOF) means the daemon cut the export short. Unlike
// Do, no overall timeout applies: the daemon bounds each page instead.
func (c *Client) ExportKeys(ctx context.Context, kq KeyQuery, format string, limit int) (io.ReadCloser, error) {
	q := query("source", kq.Source, "state", kq.State, "aging", kq.Aging, "q", kq.Text, "sort", kq.Sort,
		"format", format, "limit", positive(limit))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url("/export/keys", q), nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.stream.Do(req)
	if err != nil {
		return nil, c.unreachable(err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, decodeError(resp)
	}
	return resp.Body, nil
}

// Key returns one key and its recent activity.
func (c *Client) Key(ctx context.Context, id string) (*KeyDetail, error) {
	var d KeyDetail
	return &d, c.Do(ctx, http.MethodGet, "/keys/"+url.PathEscape(id), nil, nil, &d)
}
