package proxypane

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/tui/common"
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

func TestSeries(t *testing.T) {
	// Counters between statuses when there is no series; a counter that went
	// down (daemon restart) counts from zero.
	req, errs := series(api.ProxyStatus{}, []sample{{requests: 10}, {requests: 15, errors: 1}, {requests: 3, errors: 0}})
	if len(req) != 2 || req[0] != 5 || req[1] != 3 || errs[0] != 1 || errs[1] != 0 {
		t.Errorf("series from counters = %v %v", req, errs)
	}
	// The status's own per-second series wins.
	s := api.ProxyStatus{Series: []api.ProxySample{{Requests: 4}, {Requests: 9, Errors: 2}}}
	req, errs = series(s, []sample{{requests: 10}, {requests: 15}})
	if len(req) != 2 || req[1] != 9 || errs[1] != 2 {
		t.Errorf("series from the status = %v %v", req, errs)
	}
}

func TestDecode(t *testing.T) {
	one := `{"app":"crm","requests":12,"health":{"ok":true},"proxy_latency":{"p50_ms":1.5},
	  "ring":{"key_id":"4e5f6071","size":1,"capacity":16,"generations":[{"key_id":"4e5f6071","fingerprint":"sha256:4e5f","encrypts":true}]}}`
	got, err := Decode(json.RawMessage(one))
	if err != nil || len(got) != 1 || got[0].App != "crm" || got[0].Requests != 12 ||
		got[0].ProxyLatency.P50 != 1.5 || !got[0].Ring.Generations[0].Encrypts {
		t.Fatalf("Decode(one) = %+v, %v", got, err)
	}
	list, err := Decode(json.RawMessage(`[` + one + `,{"app":"hr"}]`))
	if err != nil || len(list) != 2 {
		t.Fatalf("Decode(list) = %+v, %v", list, err)
	}
	for _, bad := range []string{``, `{}`, `[{"app":""}]`, `{"app":`, `"crm"`, `{"app":"x","requests":"many"}`} {
		if _, err := Decode(json.RawMessage(bad)); err == nil {
			t.Errorf("Decode(%q) accepted", bad)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"app":"crm","requests":1}`))
	f.Add([]byte(`[{"app":"a"},{"app":"b","ring":{"generations":[{"key_id":"x"}]}}]`))
	f.Add([]byte(`{"app":"x","proxy_latency":{"p99_ms":-1},"errors":{"tampered":3},"series":[{"requests":-5}]}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"app":"\u001b[2Jevil","health":{"reason":"a\rb","last_failure":"2026-01-01T00:00:00Z"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		list, err := Decode(b)
		if err != nil {
			return
		}
		lipgloss.SetColorProfile(termenv.Ascii)
		st := styles.Default()
		for _, s := range list {
			if s.App == "" {
				t.Fatal("decoded a status with no application")
			}
			// Whatever decodes must draw without panicking, within width,
			// and without passing control characters to the terminal.
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
	old := now.Add(-200 * 24 * time.Hour)
	s := api.ProxyStatus{App: "crm", Listen: "127.0.0.1:8443", Upstream: "https://crm.example", TLS: true,
		Requests: 120, Errors: map[string]int64{"upstream-error": 2},
		ProxyLatency: api.Percentiles{P50: 0.3, P95: 2, P99: 4},
		Health:       api.UpstreamHealth{OK: false, LastFailure: &fail, Reason: "connection refused"},
		Ring: api.ProxyRing{KeyID: "4e5f6071", Size: 2, Capacity: 16, Generations: []api.GenerationInfo{
			{Name: "acme.crm.key.4", KeyID: "4e5f6071", Fingerprint: "sha256:4e5f60718293a4b5", Encrypts: true, Activated: &act},
			{Name: "acme.crm.key.3", KeyID: "3d4e5f60", Fingerprint: "sha256:3d4e5f60718293a4", Activated: &old},
		}},
		Series: []api.ProxySample{{Requests: 1}, {Requests: 8}, {Requests: 8, Errors: 2}}}
	out := Panel(s, nil, 100, now, styles.Default())
	for _, want := range []string{"crm", "UPSTREAM DOWN", "https://127.0.0.1:8443 → https://crm.example", "▁██ 120 total",
		"▁▁█ 2 total", "p50 300µs p95 2.0ms p99 4.0ms", "upstream-error 2", "last failure 1m ago: connection refused",
		"2 of 16 generations", "▶ encrypts  4e5f6071 4e5f60718293 30d old acme.crm.key.4", "decrypts  3d4e5f60", "200d old"} {
		if !strings.Contains(out, want) {
			t.Errorf("panel lacks %q:\n%s", want, out)
		}
	}
	// A full ring marks the generation the next rotation pushes out.
	s.Ring.Capacity, s.Ring.LeavesNext = 2, "3d4e5f60"
	if out := Panel(s, nil, 100, now, styles.Default()); !strings.Contains(out, "◀ out next  3d4e5f60") || strings.Contains(out, "decrypts  3d4e5f60") {
		t.Errorf("panel does not mark what leaves next:\n%s", out)
	}
	// A ring with nothing to encrypt with is an alarm, with the reason.
	s.Ring = api.ProxyRing{Reason: "no active generation in kms-prod"}
	if out := Panel(s, nil, 100, now, styles.Default()); !strings.Contains(out, "nothing encrypts") ||
		!strings.Contains(out, "kms-prod)") {
		t.Errorf("panel does not say nothing encrypts:\n%s", out)
	}
}

func TestListingErrors(t *testing.T) {
	defer lipgloss.SetColorProfile(lipgloss.ColorProfile())
	lipgloss.SetColorProfile(termenv.Ascii)
	ctx := &common.Context{Styles: styles.Default(), Keys: common.DefaultKeyMap(), Now: time.Now}
	m := New(ctx)
	m.SetSize(100, 20)
	// A daemon without the proxy mounted: not an error worth showing.
	m.Update(listMsg{err: &api.Error{Status: 404, Code: api.CodeNotFound, Message: "no such endpoint"}})
	if v := m.View(); strings.Contains(v, "cannot read") || !strings.Contains(v, "No proxied application") {
		t.Errorf("404 listing:\n%s", v)
	}
	// Anything else is shown, so the administrator knows the pane is stale.
	m.Update(listMsg{err: api.ErrUnreachable})
	if v := m.View(); !strings.Contains(v, "cannot read proxy status: keyward daemon not reachable") {
		t.Errorf("failed listing:\n%s", v)
	}
}

// TestPanelUpstreamNotTried: an upstream no request has tried since the
// start is neither ok nor down.
func TestPanelUpstreamNotTried(t *testing.T) {
	defer lipgloss.SetColorProfile(lipgloss.ColorProfile())
	lipgloss.SetColorProfile(termenv.Ascii)
	s := api.ProxyStatus{App: "crm", Upstream: "https://crm.example", Health: api.UpstreamHealth{State: api.UpstreamUnknown}}
	out := Panel(s, nil, 100, time.Now(), styles.Default())
	if !strings.Contains(out, "upstream not tried yet") || strings.Contains(out, "DOWN") {
		t.Errorf("panel of an untried upstream:\n%s", out)
	}
}
