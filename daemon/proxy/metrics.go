package proxy

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyward/keyward/engine"
)

// metrics are the Prometheus series of every proxied application.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	bytesT   *prometheus.CounterVec
	fieldsT  *prometheus.CounterVec
	errorsT  *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newMetrics(m *Manager) *metrics {
	mt := newSeries()
	mt.reg = prometheus.NewRegistry()
	mt.reg.MustRegister(mt.requests, mt.bytesT, mt.fieldsT, mt.errorsT, mt.latency, ringCollector{m})
	return mt
}

// newSeries makes the series, registered nowhere.
func newSeries() *metrics {
	return &metrics{
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
}

// appMetrics are one application's series, resolved once (forApp): a
// request adds to them without hashing label values. Every series but the
// errors starts at zero, as Prometheus advises for series known in
// advance. An App outside a Manager counts into series registered nowhere.
type appMetrics struct {
	errorsT                     *prometheus.CounterVec
	app                         string
	requests, bytesIn, bytesOut prometheus.Counter
	encrypted, decrypted        prometheus.Counter
	ownLatency, upstreamLatency prometheus.Observer
}

func (m *metrics) forApp(app string) *appMetrics {
	return &appMetrics{errorsT: m.errorsT, app: app,
		requests: m.requests.WithLabelValues(app),
		bytesIn:  m.bytesT.WithLabelValues(app, "in"), bytesOut: m.bytesT.WithLabelValues(app, "out"),
		encrypted: m.fieldsT.WithLabelValues(app, "encrypt"), decrypted: m.fieldsT.WithLabelValues(app, "decrypt"),
		ownLatency: m.latency.WithLabelValues(app, "proxy"), upstreamLatency: m.latency.WithLabelValues(app, "upstream")}
}

func (m *appMetrics) observe(own, upstream time.Duration) {
	m.requests.Inc()
	m.ownLatency.Observe(own.Seconds())
	if upstream > 0 {
		m.upstreamLatency.Observe(upstream.Seconds())
	}
}

// err counts a refusal or failure; rare, so its series is looked up.
func (m *appMetrics) err(kind string) {
	m.errorsT.WithLabelValues(m.app, kind).Inc()
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
