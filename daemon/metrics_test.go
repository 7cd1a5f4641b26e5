package daemon

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/testkit"
)

func scrape(t *testing.T, body []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("the metrics do not parse as Prometheus text: %v\n%s", err, body)
	}
	return fams
}

func value(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.Label {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		}
	}
	return 0, false
}

// TestDaemonMetrics: a real daemon's metrics, read on the socket and on
// metrics_listen with Prometheus's own text parser, report its sources, the
// audit chain and its last checkpoint, the database, socket connections and
// event streams.
func TestDaemonMetrics(t *testing.T) {
	addr := testkit.FreeAddr(t)
	r := start(t, func(cfg *config.Config) { cfg.MetricsListen = addr })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := api.NewClient(r.socket)
	got := make(chan api.Notification, 64)
	go c.Watch(ctx, func(n api.Notification) { got <- n })
	<-got // hello: the stream is open

	var fams map[string]*dto.MetricFamily
	for ctx.Err() == nil {
		body, err := c.DoRaw(ctx, http.MethodGet, "/metrics", nil, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		fams = scrape(t, body)
		up, _ := value(fams, "keyward_source_up", "source", "acme-kms")
		_, cp := value(fams, "keyward_audit_last_checkpoint_age_seconds")
		if up == 1 && cp {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	checks := []struct {
		name   string
		labels []string
		min    float64
	}{
		{"keyward_source_up", []string{"source", "acme-kms", "kind", "seed"}, 1},
		{"keyward_source_last_sync_timestamp_seconds", []string{"source", "acme-kms"}, float64(time.Now().Add(-time.Hour).Unix())},
		{"keyward_audit_chain_length", nil, 1},
		{"keyward_audit_chain_ok", nil, 1},
		{"keyward_audit_last_checkpoint_age_seconds", nil, 0},
		{"keyward_events_written_total", []string{"origin", "system"}, 1},
		{"keyward_database_size_bytes", []string{"file", "db"}, 4096},
		{"keyward_socket_connections", nil, 2}, // the stream's and this request's
		{"keyward_event_streams", nil, 1},
	}
	for _, ck := range checks {
		v, ok := value(fams, ck.name, ck.labels...)
		if !ok || v < ck.min {
			t.Errorf("%s%v = %v (present %v), want at least %v", ck.name, ck.labels, v, ok, ck.min)
		}
	}
	// The README's table of the daemon's metrics is the set it serves.
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| (`keyward_[^|]*)\\|").FindAllStringSubmatch(testkit.README(t), -1) {
		for _, name := range regexp.MustCompile("`(keyward_[a-z_]+)").FindAllStringSubmatch(m[1], -1) {
			documented[name[1]] = true
		}
	}
	for name := range fams {
		if strings.HasPrefix(name, "keyward_") && !documented[name] {
			t.Errorf("the daemon serves %s, which the README's metrics table does not list", name)
		}
	}
	// The seed source of this daemon reports no poll duration: that series
	// appears once a KMIP or cloud source has polled.
	delete(documented, "keyward_source_sync_duration_seconds")
	for name := range documented {
		if _, ok := fams[name]; !ok {
			t.Errorf("the README's metrics table lists %s, which the daemon does not serve", name)
		}
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if _, ok := value(scrape(t, body), "keyward_audit_chain_length"); !ok {
		t.Fatalf("metrics_listen serves no chain length:\n%s", body)
	}
}
