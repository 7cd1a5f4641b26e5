package proxypane

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// AppStatus is what the Proxy pane shows of one application. Decode fills it
// from the Data of a "proxy" notification.
type AppStatus struct {
	Application  string            `json:"application"`
	At           time.Time         `json:"time"`
	Listen       string            `json:"listen"`
	Upstream     string            `json:"upstream"`
	Requests     uint64            `json:"requests"`
	Errors       uint64            `json:"errors"`
	ErrorsByKind map[string]uint64 `json:"errors_by_kind"`
	BytesIn      uint64            `json:"bytes_in"`
	BytesOut     uint64            `json:"bytes_out"`
	Encrypted    uint64            `json:"fields_encrypted"`
	Decrypted    uint64            `json:"fields_decrypted"`

	// Latency added by the proxy itself, and of the upstream.
	ProxyLatency    Latency `json:"proxy_latency"`
	UpstreamLatency Latency `json:"upstream_latency"`

	UpstreamUp    bool       `json:"upstream_up"`
	LastSuccess   *time.Time `json:"last_success"`
	LastFailure   *time.Time `json:"last_failure"`
	FailureReason string     `json:"failure_reason"`

	Ring          []Generation `json:"ring"`
	RingCapacity  int          `json:"ring_capacity"`
	LastKeyChange *time.Time   `json:"last_key_change"`
}

// Latency percentiles (durations in nanoseconds on the wire).
type Latency struct {
	P50 time.Duration `json:"p50"`
	P95 time.Duration `json:"p95"`
	P99 time.Duration `json:"p99"`
}

// Generation is one key generation of an application's ring.
type Generation struct {
	KeyID       string     `json:"key_id"`
	Fingerprint string     `json:"fingerprint"`
	Encrypts    bool       `json:"encrypts"`
	Activated   *time.Time `json:"activated"`
}

// Decode reads the Data of a "proxy" notification: one application's status
// or a list of them.
func Decode(raw json.RawMessage) ([]AppStatus, error) {
	if len(raw) == 0 {
		return nil, errors.New("proxy notification carries no status")
	}
	var list []AppStatus
	if raw[0] == '[' {
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, fmt.Errorf("decode proxy status list: %w", err)
		}
	} else {
		var one AppStatus
		if err := json.Unmarshal(raw, &one); err != nil {
			return nil, fmt.Errorf("decode proxy status: %w", err)
		}
		list = []AppStatus{one}
	}
	for _, s := range list {
		if s.Application == "" {
			return nil, errors.New("proxy status names no application")
		}
	}
	return list, nil
}
