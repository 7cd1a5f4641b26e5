package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/keyward/keyward/engine"
)

// The proxy's status types are the domain's (engine/proxystatus.go); the
// wire carries them as they are.
type (
	ProxyStatus    = engine.ProxyStatus
	Percentiles    = engine.Percentiles
	UpstreamHealth = engine.UpstreamHealth
	ProxyRing      = engine.ProxyRing
	ProxySample    = engine.ProxySample
)

// Upstream states (UpstreamHealth.State).
const (
	UpstreamUnknown = engine.UpstreamUnknown
	UpstreamUp      = engine.UpstreamUp
	UpstreamDown    = engine.UpstreamDown
)

// ProxyStatuses is GET /v1/proxy.
type ProxyStatuses struct {
	Apps []ProxyStatus `json:"apps"`
}

// Proxy returns the status of every proxied application.
func (c *Client) Proxy(ctx context.Context) ([]ProxyStatus, error) {
	var s ProxyStatuses
	return s.Apps, c.Do(ctx, http.MethodGet, "/proxy", nil, nil, &s)
}

// CryptOptions are the query parameters of POST /v1/encrypt and /v1/decrypt.
type CryptOptions struct {
	App string
	// Deterministic asks for an AES-SIV token (encrypt only).
	Deterministic bool
}

func (o CryptOptions) query() url.Values {
	q := url.Values{"app": {o.App}}
	if o.Deterministic {
		q.Set("deterministic", "true")
	}
	return q
}

// Encrypt sends plaintext to POST /v1/encrypt?app=A and returns one token
// made with the application's newest generation.
func (c *Client) Encrypt(ctx context.Context, o CryptOptions, plaintext io.Reader) ([]byte, error) {
	return c.DoRaw(ctx, http.MethodPost, "/encrypt", o.query(), "application/octet-stream", plaintext)
}

// Decrypt sends text to POST /v1/decrypt?app=A: a single token comes back
// as its plaintext; any other text (a JSON document, a form, a log line)
// comes back with every token in it decrypted. Tokens that cannot be opened
// make it fail, naming the reason, so a check of what the cloud holds
// never passes silently.
func (c *Client) Decrypt(ctx context.Context, o CryptOptions, text io.Reader) ([]byte, error) {
	return c.DoRaw(ctx, http.MethodPost, "/decrypt", o.query(), "application/octet-stream", text)
}

// Rewrap sends text to POST /v1/rewrap?app=A (admin): it comes back with
// every token under an older generation of the application re-encrypted
// under the newest one; the plaintext never leaves the daemon. A token it
// cannot open fails the call, naming the token's position.
func (c *Client) Rewrap(ctx context.Context, o CryptOptions, text io.Reader) ([]byte, error) {
	return c.DoRaw(ctx, http.MethodPost, "/rewrap", o.query(), "application/octet-stream", text)
}

// ProxyNotification wraps one application's status for /v1/events.
func ProxyNotification(st ProxyStatus) Notification {
	b, _ := json.Marshal(st)
	return Notification{Type: NoteProxy, Time: st.Time, Source: st.App, Data: b}
}

// ProxyStatus decodes the status carried by a "proxy" notification.
func (n Notification) ProxyStatus() (*ProxyStatus, error) {
	if n.Type != NoteProxy {
		return nil, fmt.Errorf("notification is %q, not %q", n.Type, NoteProxy)
	}
	var st ProxyStatus
	if err := json.Unmarshal(n.Data, &st); err != nil {
		return nil, fmt.Errorf("proxy notification: %w", err)
	}
	return &st, nil
}
