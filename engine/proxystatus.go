package engine

import "time"

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
	// client-timeout (a client stalled mid-body or stopped reading);
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

// GenerationInfo is one generation in a ring.
type GenerationInfo struct {
	Name        string     `json:"name"`
	Fingerprint string     `json:"fingerprint"`
	KeyID       string     `json:"key_id"` // short id used in ciphertext tokens
	State       State      `json:"state"`
	Encrypts    bool       `json:"encrypts"`
	Activated   *time.Time `json:"activated,omitempty"`
	Created     *time.Time `json:"created,omitempty"`
}
