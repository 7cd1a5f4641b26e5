package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// ProxyStatus is one proxied application's live status: GET /v1/proxy lists
// them, and each change is sent on /v1/events as a Notification of type
// "proxy" whose Data is one ProxyStatus.
type ProxyStatus struct {
	App      string    `json:"app"`
	Listen   string    `json:"listen"`
	Upstream string    `json:"upstream"`
	TLS      bool      `json:"tls"`
	Since    time.Time `json:"since"`
	Time     time.Time `json:"time"` // when this status was taken

	Requests      int64 `json:"requests"`
	BytesIn       int64 `json:"bytes_in"`  // from clients (request bodies)
	BytesOut      int64 `json:"bytes_out"` // to clients (response bodies)
	FieldsEncrypt int64 `json:"fields_encrypted"`
	FieldsDecrypt int64 `json:"fields_decrypted"`
	// Errors counts by kind: refused-no-key, refused-invalid-json,
	// refused-invalid-form, refused-too-large, refused-encoded,
	// refused-content-type, refused-upgrade, refused-framing,
	// refused-charset, refused-protected-name, refused-encrypt-failed
	// (requests not forwarded); upstream-error, upstream-timeout;
	// unknown-generation, tampered, wrong-application, malformed-token
	// (tokens left undecrypted); response-too-large, response-encoded
	// (responses passed on without decryption).
	Errors map[string]int64 `json:"errors,omitempty"`

	// Proxy is the time the proxy itself added; Upstream the time the
	// upstream took to answer (recent requests).
	ProxyLatency    Percentiles `json:"proxy_latency"`
	UpstreamLatency Percentiles `json:"upstream_latency"`

	Health UpstreamHealth `json:"health"`
	Ring   ProxyRing      `json:"ring"`
	// Series is per-second activity over the last minutes, oldest first,
	// for sparklines.
	Series []ProxySample `json:"series,omitempty"`
}

// Percentiles of a latency distribution, in milliseconds.
type Percentiles struct {
	P50   float64 `json:"p50_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	Count int     `json:"samples"`
}

// UpstreamHealth is what the proxy last saw of its upstream.
type UpstreamHealth struct {
	// State is UpstreamUnknown until the first request after a start
	// reaches (or fails to reach) the upstream, then UpstreamUp or
	// UpstreamDown. OK is true only when State is UpstreamUp.
	State       string     `json:"state"`
	OK          bool       `json:"ok"`
	LastSuccess *time.Time `json:"last_success,omitempty"`
	LastFailure *time.Time `json:"last_failure,omitempty"`
	Reason      string     `json:"reason,omitempty"`
}

// Upstream states (UpstreamHealth.State).
const (
	UpstreamUnknown = "unknown"
	UpstreamUp      = "up"
	UpstreamDown    = "down"
)

// Down says whether the upstream failed at its last try; an upstream not
// tried since the start is not down.
// (A status without State, from an older daemon, is down when not OK.)
func (h UpstreamHealth) Down() bool { return !h.OK && h.State != UpstreamUnknown }

// ProxyRing is the key ring as the proxy uses it: metadata, never material.
type ProxyRing struct {
	// KeyID is the short id of the generation that encrypts ("" when none:
	// requests with protected fields are refused).
	KeyID       string `json:"key_id"`
	Fingerprint string `json:"fingerprint,omitempty"`
	Size        int    `json:"size"`
	Capacity    int    `json:"capacity,omitempty"`
	// Generations newest first, when the ring can describe itself.
	Generations []GenerationInfo `json:"generations,omitempty"`
	LastChange  *time.Time       `json:"last_change,omitempty"`
	Reason      string           `json:"reason,omitempty"` // why nothing encrypts
	// LeavesNext is the short id of the generation the next rotation
	// pushes out of the full ring ("" while it has room).
	LeavesNext string `json:"leaves_next,omitempty"`
}

// ProxySample is one second of an application's traffic.
type ProxySample struct {
	Time     time.Time `json:"t"`
	Requests int64     `json:"requests"`
	Errors   int64     `json:"errors"`
}

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
