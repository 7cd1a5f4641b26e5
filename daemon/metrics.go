package daemon

import (
	"context"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/engine"
)

// daemonMetrics are the daemon's own Prometheus series, served at
// GET /v1/metrics on the socket and, with metrics_listen, over TCP (the
// proxy's stay at proxy.metrics_listen). The same client library as the
// proxy; everything but the event counter is read at scrape time.
type daemonMetrics struct {
	reg    *prometheus.Registry
	events *prometheus.CounterVec
}

func (d *Daemon) newMetrics() *daemonMetrics {
	m := &daemonMetrics{reg: prometheus.NewRegistry(),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "keyward", Name: "events_written_total",
			Help: "Activity events recorded in the audit chain since the daemon started, by origin."}, []string{"origin"})}
	m.reg.MustRegister(m.events, daemonCollector{d}, prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

func (m *daemonMetrics) written(e engine.Event) {
	if m != nil {
		m.events.WithLabelValues(string(e.Origin)).Inc()
	}
}

func (m *daemonMetrics) handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

type daemonCollector struct{ d *Daemon }

var (
	sourceUpDesc   = prometheus.NewDesc("keyward_source_up", "1 when the source's last poll or sync worked (health ok), else 0.", []string{"source", "kind"}, nil)
	sourceSyncDesc = prometheus.NewDesc("keyward_source_last_sync_timestamp_seconds", "When the source last polled or synced successfully (Unix time).", []string{"source"}, nil)
	sourceDurDesc  = prometheus.NewDesc("keyward_source_sync_duration_seconds", "How long the source's latest KMIP poll or cloud sync took.", []string{"source"}, nil)
	chainDesc      = prometheus.NewDesc("keyward_audit_chain_length", "Events in the audit chain (the last event's sequence number).", nil, nil)
	cpAgeDesc      = prometheus.NewDesc("keyward_audit_last_checkpoint_age_seconds", "Age of the last checkpoint the daemon verified and signed.", nil, nil)
	chainOKDesc    = prometheus.NewDesc("keyward_audit_chain_ok", "0 when the latest check of the chain found an event that does not match, else 1.", nil, nil)
	dbSizeDesc     = prometheus.NewDesc("keyward_database_size_bytes", "Size of the SQLite database file and of its write-ahead log.", []string{"file"}, nil)
	connsDesc      = prometheus.NewDesc("keyward_socket_connections", "Open connections to the socket API.", nil, nil)
	streamsDesc    = prometheus.NewDesc("keyward_event_streams", "Open /v1/events streams.", nil, nil)
)

func (daemonCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{sourceUpDesc, sourceSyncDesc, sourceDurDesc, chainDesc, cpAgeDesc, chainOKDesc, dbSizeDesc, connsDesc, streamsDesc} {
		ch <- d
	}
}

func (c daemonCollector) Collect(ch chan<- prometheus.Metric) {
	d := c.d
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
	}
	if srcs, err := d.st.Sources(ctx); err == nil {
		for _, s := range srcs {
			up := 0.0
			if s.Health == engine.HealthOK {
				up = 1
			}
			gauge(sourceUpDesc, up, s.Name, s.Kind)
			if s.LastSync != nil {
				gauge(sourceSyncDesc, float64(s.LastSync.UnixMilli())/1000, s.Name)
			}
		}
	}
	for _, s := range d.srcs {
		var took time.Duration
		if ls, ok := s.(interface{ LastSync() cloud.SyncStats }); ok {
			took = ls.LastSync().Duration
		} else if fill := d.details[s.Name()]; fill != nil {
			var si api.SourceInfo
			fill(&si)
			if si.Poll != nil {
				took = si.Poll.Duration
			}
		}
		if took > 0 {
			gauge(sourceDurDesc, took.Seconds(), s.Name())
		}
	}
	if h, err := d.st.AuditHead(ctx); err == nil {
		gauge(chainDesc, float64(h.Seq))
	}
	last := d.audit.Last()
	if !last.VerifiedAt.IsZero() {
		gauge(cpAgeDesc, d.now().Sub(last.Time).Seconds())
	}
	ok := 1.0
	if last.Err != "" {
		ok = 0
	}
	gauge(chainOKDesc, ok)
	for _, f := range []struct{ label, path string }{{"db", d.st.Path()}, {"wal", d.st.Path() + "-wal"}} {
		var size int64
		if fi, err := os.Stat(f.path); err == nil {
			size = fi.Size()
		}
		gauge(dbSizeDesc, float64(size), f.label)
	}
	if d.peers != nil {
		gauge(connsDesc, float64(d.peers.openConns()))
	}
	gauge(streamsDesc, float64(d.hub.streams()))
}
