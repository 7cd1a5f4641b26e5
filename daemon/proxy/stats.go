package proxy

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/engine"
)

// Error kinds counted per application (engine.ProxyStatus.Errors).
const (
	ErrKindNoKey          = "refused-no-key"
	ErrKindInvalidJSON    = "refused-invalid-json"
	ErrKindInvalidForm    = "refused-invalid-form"
	ErrKindAmbiguousName  = "refused-ambiguous-name"
	ErrKindPatch          = "refused-json-patch"
	ErrKindTooLarge       = "refused-too-large"
	ErrKindEncoded        = "refused-encoded"
	ErrKindContentType    = "refused-content-type"
	ErrKindUpgrade        = "refused-upgrade"
	ErrKindFraming        = "refused-framing"
	ErrKindCharset        = "refused-charset"
	ErrKindExposed        = "refused-protected-name"
	ErrKindEncrypt        = "refused-encrypt-failed"
	ErrKindUpstream       = "upstream-error"
	ErrKindTimeout        = "upstream-timeout"
	ErrKindClientTimeout  = "client-timeout"
	ErrKindUnknownGen     = "unknown-generation"
	ErrKindTampered       = "tampered"
	ErrKindWrongApp       = "wrong-application"
	ErrKindMalformedToken = "malformed-token"
	ErrKindRespTooLarge   = "response-too-large"
	ErrKindRespEncoded    = "response-encoded"
)

var errorKinds = []string{ErrKindNoKey, ErrKindInvalidJSON, ErrKindInvalidForm, ErrKindTooLarge, ErrKindEncoded,
	ErrKindContentType, ErrKindUpgrade, ErrKindFraming, ErrKindCharset, ErrKindExposed, ErrKindEncrypt, ErrKindUpstream, ErrKindTimeout, ErrKindUnknownGen, ErrKindTampered,
	ErrKindWrongApp, ErrKindMalformedToken, ErrKindRespTooLarge, ErrKindRespEncoded, ErrKindAmbiguousName, ErrKindPatch, ErrKindClientTimeout}

// stats are an application's counters: atomics on the request path, read
// whole for a status or a scrape.
type stats struct {
	requests, bytesIn, bytesOut atomic.Int64
	encrypted, decrypted        atomic.Int64
	errors                      map[string]*atomic.Int64

	proxyLat, upstreamLat reservoir
	series                series
}

func newStats() *stats {
	s := &stats{errors: map[string]*atomic.Int64{}}
	for _, k := range errorKinds {
		s.errors[k] = new(atomic.Int64)
	}
	return s
}

func (s *stats) fail(kind string) {
	s.errors[kind].Add(1)
	s.series.add(time.Now(), 0, 1)
}

func (s *stats) errorCounts() map[string]int64 {
	out := map[string]int64{}
	for k, v := range s.errors {
		if n := v.Load(); n > 0 {
			out[k] = n
		}
	}
	return out
}

// reservoir keeps the most recent latency samples for percentiles.
type reservoir struct {
	mu   sync.Mutex
	buf  [2048]time.Duration
	n    int // samples written (wraps the buffer)
	full bool
}

func (r *reservoir) add(d time.Duration) {
	r.mu.Lock()
	r.buf[r.n] = d
	r.n++
	if r.n == len(r.buf) {
		r.n, r.full = 0, true
	}
	r.mu.Unlock()
}

func (r *reservoir) percentiles() engine.Percentiles {
	r.mu.Lock()
	var s []time.Duration
	if r.full {
		s = slices.Clone(r.buf[:])
	} else {
		s = slices.Clone(r.buf[:r.n])
	}
	r.mu.Unlock()
	if len(s) == 0 {
		return engine.Percentiles{}
	}
	slices.Sort(s)
	at := func(q float64) float64 {
		i := int(q*float64(len(s))+0.5) - 1
		i = max(0, min(i, len(s)-1))
		return float64(s[i].Microseconds()) / 1000
	}
	return engine.Percentiles{P50: at(0.50), P95: at(0.95), P99: at(0.99), Count: len(s)}
}

// series counts requests and errors per second over the last seriesLen
// seconds, for sparklines.
const seriesLen = 300

type series struct {
	sec  [seriesLen]atomic.Int64 // unix second the slot holds
	req  [seriesLen]atomic.Int64
	errs [seriesLen]atomic.Int64
	mu   sync.Mutex // only to reset a slot that moves to a new second
}

func (s *series) slot(now time.Time) int {
	sec := now.Unix()
	i := int(sec % seriesLen)
	if s.sec[i].Load() != sec {
		s.mu.Lock()
		if s.sec[i].Load() != sec {
			s.req[i].Store(0)
			s.errs[i].Store(0)
			s.sec[i].Store(sec)
		}
		s.mu.Unlock()
	}
	return i
}

func (s *series) add(now time.Time, req, errs int64) {
	i := s.slot(now)
	if req != 0 {
		s.req[i].Add(req)
	}
	if errs != 0 {
		s.errs[i].Add(errs)
	}
}

// last returns the last n seconds, oldest first, ending at now.
func (s *series) last(now time.Time, n int) []engine.ProxySample {
	out := make([]engine.ProxySample, 0, n)
	end := now.Unix()
	for sec := end - int64(n) + 1; sec <= end; sec++ {
		i := int(sec % seriesLen)
		p := engine.ProxySample{Time: time.Unix(sec, 0).UTC()}
		if s.sec[i].Load() == sec {
			p.Requests, p.Errors = s.req[i].Load(), s.errs[i].Load()
		}
		out = append(out, p)
	}
	return out
}

// usage counts encryptions and decryptions per key generation and hour,
// until the manager flushes them to the store.
type usageKey struct {
	hour  int64 // unix seconds of the hour's start
	keyID string
}

type usageCount struct {
	enc, dec atomic.Int64
	last     atomic.Int64 // unix milliseconds of the latest use
}

// use counts one use at at (unix milliseconds).
func (c *usageCount) use(n *atomic.Int64, at int64) {
	n.Add(1)
	for {
		prev := c.last.Load()
		if at <= prev || c.last.CompareAndSwap(prev, at) {
			return
		}
	}
}

type usage struct {
	m sync.Map // usageKey → *usageCount
}

func (u *usage) counter(hour int64, keyID string) *usageCount {
	k := usageKey{hour, keyID}
	if c, ok := u.m.Load(k); ok {
		return c.(*usageCount)
	}
	c, _ := u.m.LoadOrStore(k, new(usageCount))
	return c.(*usageCount)
}

// drain takes every non-zero count, leaving zeros (and forgetting past hours).
func (u *usage) drain(app string, now time.Time) []usageRow {
	var out []usageRow
	cur := now.Truncate(time.Hour).Unix()
	u.m.Range(func(k, v any) bool {
		key, c := k.(usageKey), v.(*usageCount)
		e, d := c.enc.Swap(0), c.dec.Swap(0)
		if e != 0 || d != 0 {
			out = append(out, usageRow{app: app, hour: key.hour, keyID: key.keyID, enc: e, dec: d, last: c.last.Load()})
		}
		if key.hour < cur {
			u.m.Delete(k)
			// A count racing with the delete lands in c after the swap:
			// take it too rather than lose it.
			if e, d := c.enc.Swap(0), c.dec.Swap(0); e != 0 || d != 0 {
				out = append(out, usageRow{app: app, hour: key.hour, keyID: key.keyID, enc: e, dec: d, last: c.last.Load()})
			}
		}
		return true
	})
	return out
}

type usageRow struct {
	app      string
	hour     int64
	keyID    string
	enc, dec int64
	last     int64 // unix milliseconds; 0: not known
}
