package proxypane

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/keyward/keyward/tui/styles"
)

func TestSparkline(t *testing.T) {
	tests := []struct {
		in    []float64
		width int
		want  string
	}{
		{[]float64{0, 1, 2, 4, 8}, 5, "▁▁▂▄█"},
		{[]float64{0, 0}, 4, "  ▁▁"},
		{[]float64{1, 2, 3, 4, 5, 6}, 3, "▅▆█"}, // newest kept, scaled to the largest shown
		{nil, 3, "   "},
	}
	for _, tc := range tests {
		if got := Sparkline(tc.in, tc.width); got != tc.want {
			t.Errorf("Sparkline(%v, %d) = %q, want %q", tc.in, tc.width, got, tc.want)
		}
	}
}

func TestRatesSurviveCounterReset(t *testing.T) {
	req, errs := rates([]sample{{requests: 10}, {requests: 15, errors: 1}, {requests: 3, errors: 0}})
	if len(req) != 2 || req[0] != 5 || req[1] != 3 || errs[0] != 1 || errs[1] != 0 {
		t.Errorf("rates = %v %v", req, errs)
	}
}

func TestDecode(t *testing.T) {
	one := `{"application":"crm","requests":12,"upstream_up":true,"proxy_latency":{"p50":1500000},
	  "ring":[{"key_id":"4e5f6071","fingerprint":"sha256:4e5f","encrypts":true}],"ring_capacity":16}`
	got, err := Decode(json.RawMessage(one))
	if err != nil || len(got) != 1 || got[0].Application != "crm" || got[0].Requests != 12 ||
		got[0].ProxyLatency.P50 != 1500*time.Microsecond || !got[0].Ring[0].Encrypts {
		t.Fatalf("Decode(one) = %+v, %v", got, err)
	}
	list, err := Decode(json.RawMessage(`[` + one + `,{"application":"hr"}]`))
	if err != nil || len(list) != 2 {
		t.Fatalf("Decode(list) = %+v, %v", list, err)
	}
	for _, bad := range []string{``, `{}`, `[{"application":""}]`, `{"application":`, `"crm"`} {
		if _, err := Decode(json.RawMessage(bad)); err == nil {
			t.Errorf("Decode(%q) accepted", bad)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"application":"crm","requests":1}`))
	f.Add([]byte(`[{"application":"a"},{"application":"b","ring":[{"key_id":"x"}]}]`))
	f.Add([]byte(`{"application":"x","proxy_latency":{"p99":-1},"errors_by_kind":{"tampered":3}}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"application":"\u001b[2Jevil","failure_reason":"a\rb","last_failure":"2026-01-01T00:00:00Z"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		list, err := Decode(b)
		if err != nil {
			return
		}
		lipgloss.SetColorProfile(termenv.Ascii)
		st := styles.Default()
		for _, s := range list {
			if s.Application == "" {
				t.Fatal("decoded a status with no application")
			}
			// Whatever decodes must draw without panicking and within width.
			out := Panel(s, []sample{{requests: s.Requests}}, 60, time.Unix(0, 0), st)
			if strings.ContainsAny(out, "\x1b\x07\r") {
				t.Fatalf("daemon text reached the terminal unsanitised: %q", out)
			}
			for _, l := range strings.Split(out, "\n") {
				if lipgloss.Width(l) > 60 {
					t.Fatalf("panel line wider than 60: %q", l)
				}
			}
		}
	})
}

func TestPanel(t *testing.T) {
	defer lipgloss.SetColorProfile(lipgloss.ColorProfile())
	lipgloss.SetColorProfile(termenv.Ascii)
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	fail := now.Add(-90 * time.Second)
	act := now.Add(-30 * 24 * time.Hour)
	s := AppStatus{Application: "crm", Listen: "127.0.0.1:8443", Upstream: "https://crm.example",
		Requests: 120, Errors: 2, ErrorsByKind: map[string]uint64{"upstream_down": 2},
		ProxyLatency: Latency{P50: 300 * time.Microsecond, P95: 2 * time.Millisecond, P99: 4 * time.Millisecond},
		UpstreamUp:   false, LastFailure: &fail, FailureReason: "connection refused",
		Ring:         []Generation{{KeyID: "4e5f6071", Fingerprint: "sha256:4e5f60718293a4b5", Encrypts: true, Activated: &act}},
		RingCapacity: 16}
	h := []sample{{requests: 100}, {requests: 110}, {requests: 120, errors: 2}}
	out := Panel(s, h, 80, now, styles.Default())
	for _, want := range []string{"crm", "UPSTREAM DOWN", "127.0.0.1:8443 → https://crm.example", "▁█", "120 total",
		"p50 300µs p95 2.0ms p99 4.0ms", "upstream_down 2", "last failure 1m ago: connection refused",
		"1 of 16 generations", "▶ encrypts", "4e5f6071", "30d old"} {
		if !strings.Contains(out, want) {
			t.Errorf("panel lacks %q:\n%s", want, out)
		}
	}
}
