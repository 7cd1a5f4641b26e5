package proxy

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyward/keyward/engine"
)

// metrics are the Prometheus series of every proxied application. A nil
// *metrics records nothing.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	bytesT   *prometheus.CounterVec
	fieldsT  *prometheus.CounterVec
	errorsT  *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newMetrics(m *Manager) *metrics {
	reg := prometheus.NewRegistry()
	mt := &metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "keyward", Subsystem: "proxy", Name: "requests_total",
			Help: "Requests received by the encryption proxy."}, []string{"app"}),
		bytesT: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "keyward", Subsystem: "proxy", Name: "body_bytes_total",
			Help: "Body bytes from clients (in) and to clients (out)."}, []string{"app", "direction"}),
		fieldsT: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "keyward", Subsystem: "proxy", Name: "fields_total",
			Help: "Fields encrypted on the way up and tokens decrypted on the way back."}, []string{"app", "op"}),
		errorsT: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "keyward", Subsystem: "proxy", Name: "errors_total",
			Help: "Refused requests, upstream failures and tokens left undecrypted, by kind."}, []string{"app", "kind"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "keyward", Subsystem: "proxy", Name: "latency_seconds",
			Help:    "Time added by the proxy (part=proxy) and taken by the upstream (part=upstream) per request.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"app", "part"}),
	}
	reg.MustRegister(mt.requests, mt.bytesT, mt.fieldsT, mt.errorsT, mt.latency, ringCollector{m})
	return mt
}

func (m *metrics) observe(app string, own, upstream time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(app).Inc()
	m.latency.WithLabelValues(app, "proxy").Observe(own.Seconds())
	if upstream > 0 {
		m.latency.WithLabelValues(app, "upstream").Observe(upstream.Seconds())
	}
}

func (m *metrics) bytes(app, dir string, n int64) {
	if m == nil || n == 0 {
		return
	}
	m.bytesT.WithLabelValues(app, dir).Add(float64(n))
}

func (m *metrics) fields(app, op string, n int) {
	if m == nil || n == 0 {
		return
	}
	m.fieldsT.WithLabelValues(app, op).Add(float64(n))
}

func (m *metrics) err(app, kind string) {
	if m == nil {
		return
	}
	m.errorsT.WithLabelValues(app, kind).Inc()
}

// ringCollector reports, at scrape time, upstream health and ring size.
type ringCollector struct{ m *Manager }

var (
	upDesc   = prometheus.NewDesc("keyward_proxy_upstream_up", "1 when the upstream answered the last request, else 0.", []string{"app"}, nil)
	ringDesc = prometheus.NewDesc("keyward_proxy_ring_generations", "Key generations in the application's ring.", []string{"app"}, nil)
	encDesc  = prometheus.NewDesc("keyward_proxy_can_encrypt", "1 when a generation is active for encryption, else 0.", []string{"app"}, nil)
)

func (c ringCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- upDesc
	ch <- ringDesc
	ch <- encDesc
}

func (c ringCollector) Collect(ch chan<- prometheus.Metric) {
	for _, a := range c.m.apps {
		a.mu.Lock()
		h := a.health
		a.mu.Unlock()
		r := a.ring()
		if h.State != engine.UpstreamUnknown { // no sample before the upstream is tried
			ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, b2f(h.OK), a.cfg.Name)
		}
		ch <- prometheus.MustNewConstMetric(ringDesc, prometheus.GaugeValue, float64(r.Size), a.cfg.Name)
		ch <- prometheus.MustNewConstMetric(encDesc, prometheus.GaugeValue, b2f(r.KeyID != ""), a.cfg.Name)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
