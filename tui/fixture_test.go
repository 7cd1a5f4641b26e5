package tui_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/report"
)

// fixture stands in for the daemon so that snapshots are deterministic: an
// in-memory inventory served with the same query semantics as GET /v1/keys
// (filters, sort, cursor paging), and an event stream the test can cut and
// restore. The end-to-end test against the real daemon lives with the daemon.
type fixture struct {
	mu sync.Mutex
	// dryRun, when set, is every dry run's answer.
	dryRun *api.DryRun
	keys   []engine.Key
	// usage is more use for the usage report, beside the rings'.
	usage   []report.UsageHour
	events  map[string][]engine.Event
	sources []api.SourceInfo
	status  api.Status

	down        atomic.Bool   // Watch fails at once, as if the socket were gone
	starting    atomic.Bool   // every call answered 503 as a daemon opening its store answers
	drop        chan struct{} // a send ends the current stream
	watches     atomic.Int32  // Watch calls so far
	keysCalls   atomic.Int32
	textCalls   atomic.Int32 // Keys calls with a text filter
	reportCalls atomic.Int32
	maxLimit    atomic.Int32 // the largest page asked for
	// laterPages, when set, holds report requests for a later page until
	// it is closed (an export under way over a slow socket).
	laterPages chan struct{}
	// deaf, with laterPages, holds them past their context's end too (a
	// daemon whose answer is already on its way).
	deaf bool
	// dropped is the hello's Dropped: why the daemon cut the previous stream.
	dropped    string
	notes      chan api.Notification
	proxy      []api.ProxyStatus
	proxyCalls int // GET /v1/proxy calls so far (under mu)
	// cloud holds what the cloud and certificate endpoints need
	// (fixture_actions_test.go).
	cloud cloudFixture
	// aws adds an AWS account (newAWSFixture).
	aws bool
	// scheds are the schedules (fixture_schedules_test.go).
	scheds []api.ScheduleInfo
	// gcp adds a Google Cloud project (newGCPFixture).
	gcp bool
}

// Proxy serves GET /v1/proxy.
func (f *fixture) Proxy(ctx context.Context) ([]api.ProxyStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.proxyCalls++
	if f.proxy == nil {
		// As a daemon without the proxy mounted answers.
		return nil, &api.Error{Status: 404, Code: api.CodeNotFound, Message: "no such endpoint GET /v1/proxy"}
	}
	return f.proxy, nil
}

var fixedNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func at(days int) *time.Time {
	t := fixedNow.Add(time.Duration(days) * 24 * time.Hour)
	return &t
}

func newFixture() *fixture {
	f := &fixture{
		events: map[string][]engine.Event{},
		drop:   make(chan struct{}),
		notes:  make(chan api.Notification, 16),
	}
	add := func(source, name, alg string, length int, state engine.State, created, expires *time.Time, fp string) {
		k := engine.Key{ID: engine.KeyID(source, name, "1"), Source: source, Name: name, Version: "1",
			Algorithm: alg, Length: length, State: state, Created: created, Activated: created,
			Expires: expires, Fingerprint: "sha256:" + fp, Updated: fixedNow, Application: "acme"}
		f.keys = append(f.keys, k)
	}
	add("kms-prod", "acme.crm.key.0", "AES", 256, engine.StateDeactivated, at(-900), at(-500), "0a1b2c3d4e5f60718293a4b5")
	add("kms-prod", "acme.crm.key.1", "AES", 256, engine.StateActive, at(-700), at(-3), "1b2c3d4e5f60718293a4b5c6")
	add("kms-prod", "acme.crm.key.2", "AES", 256, engine.StateActive, at(-400), at(5), "2c3d4e5f60718293a4b5c6d7")
	add("kms-prod", "acme.crm.key.3", "AES", 256, engine.StateActive, at(-200), at(25), "3d4e5f60718293a4b5c6d7e8")
	add("kms-prod", "acme.crm.key.4", "AES", 256, engine.StateActive, at(-30), at(80), "4e5f60718293a4b5c6d7e8f9")
	add("kms-prod", "acme.crm.key.5", "AES", 256, engine.StatePreActive, at(-1), at(700), "5f60718293a4b5c6d7e8f90a")
	add("kms-prod", "acme.hr.key.0", "AES", 128, engine.StateCompromised, at(-1200), nil, "60718293a4b5c6d7e8f90a1b")
	add("kms-prod", "acme.hr.key.1", "AES", 256, engine.StateActive, at(-500), nil, "718293a4b5c6d7e8f90a1b2c")
	add("kms-prod", "acme.hr.key.2", "AES", 256, engine.StateDisabled, at(-90), at(300), "8293a4b5c6d7e8f90a1b2c3d")
	add("vault-emu", "payments-signing", "RSA", 2048, engine.StateActive, at(-1000), nil, "93a4b5c6d7e8f90a1b2c3d4e")
	add("vault-emu", "payments-wrap", "RSA-HSM", 3072, engine.StateActive, at(-100), at(265), "a4b5c6d7e8f90a1b2c3d4e5f")
	add("vault-emu", "backup-kek", "AES", 256, engine.StateDeleted, at(-800), at(-10), "b5c6d7e8f90a1b2c3d4e5f60")
	add("demo", "legacy.batch.key", "3DES", 168, engine.StateActive, at(-2500), at(-40), "c6d7e8f90a1b2c3d4e5f6071")
	add("demo", "reporting.key.10", "AES", 256, engine.StateActive, at(-10), at(355), "d7e8f90a1b2c3d4e5f607182")
	add("demo", "reporting.key.9", "AES", 256, engine.StateActive, at(-12), at(353), "e8f90a1b2c3d4e5f60718293")
	th := engine.DefaultThresholds()
	for i := range f.keys {
		a := engine.Classify(f.keys[i], fixedNow, th)
		f.keys[i].Aging = &a
	}
	f.events["kms-prod/acme.hr.key.1/1"] = []engine.Event{
		{ID: 1, Time: *at(-500), KeyID: "kms-prod/acme.hr.key.1/1", Operation: engine.OpCreated, Actor: "kms-admin", Origin: engine.OriginSource},
		{ID: 7, Time: *at(-499), KeyID: "kms-prod/acme.hr.key.1/1", Operation: engine.OpDiscovered, Actor: "keyward", Origin: engine.OriginKeyward, Details: "first poll of kms-prod"},
		{ID: 90, Time: *at(-2), KeyID: "kms-prod/acme.hr.key.1/1", Operation: engine.OpEdited, Actor: "alice", Origin: engine.OriginKeyward, Details: "tag owner=hr-platform"},
	}
	ev := func(id int64, days int, key, op, actor string, origin engine.Origin, sev engine.Severity, details string) {
		src := key[:strings.IndexByte(key, '/')]
		f.events[key] = append(f.events[key], engine.Event{ID: id, Time: fixedNow.Add(time.Duration(days)*24*time.Hour + time.Duration(id)*time.Minute),
			KeyID: key, Source: src, Operation: op, Actor: actor, Origin: origin, Severity: sev, Details: details})
	}
	ev(80, -20, "kms-prod/acme.crm.key.4/1", engine.OpActivated, "kms-admin", engine.OriginSource, engine.SeverityInfo, "activated in the KMS")
	ev(81, -20, "kms-prod/acme.crm.key.4/1", engine.OpDiscovered, "keyward", engine.OriginKeyward, engine.SeverityInfo, "new generation for ring crm")
	ev(85, -9, "vault-emu/backup-kek/1", engine.OpDeleted, "az-ops@acme", engine.OriginSource, engine.SeverityWarn, "soft-deleted in the vault")
	ev(86, -9, "vault-emu/payments-wrap/1", engine.OpRotated, "alice", engine.OriginKeyward, engine.SeverityInfo, "rotated through keyward")
	ev(88, -3, "kms-prod/acme.crm.key.1/1", engine.OpCompromised, "kms-admin", engine.OriginSource, engine.SeverityAlert, "marked compromised in the KMS")
	ev(95, -1, "kms-prod/acme.hr.key.2/1", engine.OpDisabled, "bob", engine.OriginKeyward, engine.SeverityInfo, "disabled pending review")
	g := func(name, kid, fp string, st engine.State, enc bool, days int) api.GenerationInfo {
		return api.GenerationInfo{Name: name, KeyID: kid, Fingerprint: "sha256:" + fp, State: st, Encrypts: enc, Activated: at(days)}
	}
	f.sources = []api.SourceInfo{
		{Source: engine.Source{Name: "kms-prod", Kind: "kmip", Address: "kms.acme.internal:5696", Health: engine.HealthOK, LastSync: at(0), Keys: 9},
			Rings: []api.RingInfo{{Application: "crm", Pattern: "acme.crm.key.*", Capacity: 16, LastChange: at(-30),
				Generations: []api.GenerationInfo{
					g("acme.crm.key.4", "4e5f6071", "4e5f60718293a4b5c6d7e8f9", engine.StateActive, true, -30),
					g("acme.crm.key.3", "3d4e5f60", "3d4e5f60718293a4b5c6d7e8", engine.StateActive, false, -200),
					g("acme.crm.key.0", "0a1b2c3d", "0a1b2c3d4e5f60718293a4b5", engine.StateDeactivated, false, -900),
				}}},
			Poll: &api.KMIPPoll{Started: fixedNow.Add(-412 * time.Millisecond), Duration: 412 * time.Millisecond, Requests: 3, Locates: 1,
				AttrReads: 9, Gets: 1, Located: 9, Matched: 9, Added: 1, Wildcards: "server", Protocol: "1.4", Address: "kms.acme.internal:5696"}},
		{Source: engine.Source{Name: "vault-emu", Kind: "azure", Address: "https://acme-vault.vault.azure.net", Health: engine.HealthDegraded,
			Since: at(-1), Reason: "403 Forbidden: the client lacks the keys/list permission", LastSync: at(-2), Keys: 3}},
		{Source: engine.Source{Name: "demo", Kind: "demo", Health: engine.HealthUnknown, Keys: 3}},
	}
	srcs := make([]engine.Source, len(f.sources))
	for i, s := range f.sources {
		srcs[i] = s.Source
	}
	f.status = api.Status{Version: "0.1.0", PID: 4242, StartedAt: fixedNow, Socket: "/run/keyward/keyward.sock",
		Keys: len(f.keys), Sources: srcs, Caller: api.Caller{UID: 1000, User: "alice", Role: api.RoleAdmin},
		Audit: &api.AuditStatus{Events: 7, VerifierKey: "keyward-audit+1a2b3c4d+AQ==",
			Checkpoint: &api.AuditCheckpoint{Size: 7, Head: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
				Time: fixedNow.Add(-4 * time.Minute), VerifiedAt: fixedNow.Add(-4 * time.Minute)}}}
	return f
}

// errStarting is what api.Client returns for the daemon's answer while it
// opens its store (daemon TestSocketAnswersWhileStarting).
var errStarting = &api.Error{Status: 503, Code: api.CodeUnavailable, Message: "the keyward daemon is starting: it has been opening its database for 4s (after an upgrade a migration, or after new [aging] thresholds a rebuild of the aging counts, takes seconds to a minute at a million keys); retry in a few seconds"}

// unavailable is what the daemon's socket answers while f is starting or
// down (nil when it serves).
func (f *fixture) unavailable() error {
	if f.starting.Load() {
		return errStarting
	}
	if f.down.Load() {
		return fmt.Errorf("%w at /run/keyward/keyward.sock: dial unix: connection refused", api.ErrUnreachable)
	}
	return nil
}

func (f *fixture) Status(ctx context.Context) (*api.Status, error) {
	if err := f.unavailable(); err != nil {
		return nil, err
	}
	s := f.status
	return &s, nil
}

// Keys serves one page: filter, sort, then a cursor that is the offset of the
// next row (the daemon's cursor is opaque; the TUI only passes it back).
func (f *fixture) Keys(ctx context.Context, q api.KeyQuery) (*api.KeysPage, error) {
	f.keysCalls.Add(1)
	if q.Text != "" {
		f.textCalls.Add(1)
	}
	if int32(q.Limit) > f.maxLimit.Load() {
		f.maxLimit.Store(int32(q.Limit))
	}
	if err := f.unavailable(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	flt := engine.Filter{Source: q.Source, State: engine.State(q.State), Aging: engine.Bucket(q.Aging), Text: q.Text}
	keys := engine.FilterKeys(f.keys, flt)
	field, desc := q.Sort, false
	if len(field) > 0 && field[0] == '-' {
		field, desc = field[1:], true
	}
	if field != "" || desc {
		engine.SortKeys(keys, engine.SortField(field), desc)
	}
	pg, next, err := page(keys, q.Cursor, q.Limit)
	if err != nil {
		return nil, err
	}
	out := &api.KeysPage{Keys: slices.Clone(pg), Total: len(keys), NextCursor: next}
	if q.Cursor != "" {
		out.Total = -1 // as the daemon: counted on the first page only
	}
	return out, nil
}

func (f *fixture) Key(ctx context.Context, id string) (*api.KeyDetail, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range f.keys {
		if k.ID == id {
			d := &api.KeyDetail{Key: k, Activity: f.events[id]}
			if k.Version != "" {
				// As the daemon: every version, newest first.
				d.Versions = f.versions(k.Source, k.Name)
				sort.SliceStable(d.Versions, func(i, j int) bool {
					a, b := d.Versions[i], d.Versions[j]
					if ca, cb := created(a), created(b); !ca.Equal(cb) {
						return ca.After(cb)
					}
					return a.ID > b.ID
				})
				d.VersionsTotal = len(d.Versions)
			}
			return d, nil
		}
	}
	return nil, &api.Error{Status: 404, Code: api.CodeNotFound, Message: "no key " + id}
}

func created(k engine.Key) time.Time {
	if k.Created == nil {
		return time.Time{}
	}
	return *k.Created
}

func (f *fixture) Sources(ctx context.Context) ([]api.SourceInfo, error) {
	if err := f.unavailable(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sources, nil
}

// Watch says hello, then relays f.notes until the test drops the stream.
func (f *fixture) Watch(ctx context.Context, fn func(api.Notification)) error {
	f.watches.Add(1)
	if err := f.unavailable(); err != nil {
		return err
	}
	s := f.status
	fn(api.Notification{Type: api.NoteHello, Time: fixedNow, Status: &s, Dropped: f.dropped})
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-f.drop:
			return fmt.Errorf("%w at /run/keyward/keyward.sock: %v", api.ErrUnreachable, errors.New("unexpected EOF"))
		case n := <-f.notes:
			fn(n)
		}
	}
}

func notification(typ, source string) api.Notification {
	return api.Notification{Type: typ, Time: fixedNow, Source: source}
}

// page cuts items by an offset cursor (the daemon's cursors are opaque).
func page[T any](items []T, cursor string, limit int) ([]T, string, error) {
	start := 0
	if cursor != "" {
		n, err := strconv.Atoi(cursor)
		if err != nil || n < 0 || n > len(items) {
			return nil, "", &api.Error{Status: 400, Code: api.CodeBadRequest, Message: "bad cursor"}
		}
		start = n
	}
	if limit <= 0 {
		limit = 100
	}
	end := min(len(items), start+limit)
	next := ""
	if end < len(items) {
		next = strconv.Itoa(end)
	}
	return items[start:end], next, nil
}

// reportRange counts a report request and reads its range as the daemon
// does (report.ParseRange from fixedNow, def when neither bound is given),
// a bad range answered as the daemon's 400.
func (f *fixture) reportRange(q api.ReportQuery, def report.Range) (report.Range, error) {
	f.reportCalls.Add(1)
	rg, err := report.ParseRange(q.From, q.To, fixedNow, def)
	if err != nil {
		return rg, &api.Error{Status: 400, Code: api.CodeBadRequest, Message: err.Error()}
	}
	return rg, nil
}

// AgingReport serves GET /v1/reports/aging from the same pure report
// functions the daemon uses.
func (f *fixture) AgingReport(ctx context.Context, q api.ReportQuery) (*api.AgingReport, error) {
	rg, err := f.reportRange(q, report.DefaultAgingRange(fixedNow))
	if err != nil {
		return nil, err
	}
	if f.laterPages != nil && q.Cursor != "" {
		done := ctx.Done()
		if f.deaf {
			done = nil
		}
		select {
		case <-f.laterPages:
		case <-done:
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	keys := engine.FilterKeys(f.keys, engine.Filter{Source: q.Source})
	f.mu.Unlock()
	th := engine.DefaultThresholds()
	entries, next, err := page(report.Aging(keys, rg, fixedNow, th), q.Cursor, q.Limit)
	if err != nil {
		return nil, err
	}
	out := &api.AgingReport{Range: rg, Entries: entries, NextCursor: next}
	if q.Cursor == "" {
		s := report.SummarizeKeys(keys, fixedNow, th)
		out.Summary = &s
	}
	return out, nil
}

// ActivityReport serves GET /v1/reports/activity, newest first.
func (f *fixture) ActivityReport(ctx context.Context, q api.ReportQuery) (*api.ActivityReport, error) {
	rg, err := f.reportRange(q, report.DefaultActivityRange(fixedNow))
	if err != nil {
		return nil, err
	}
	flt := report.ActivityFilter{Source: q.Source, KeyID: q.Key, Operation: q.Operation, Actor: q.Actor,
		Origin: engine.Origin(q.Origin), Range: rg}
	f.mu.Lock()
	var events []engine.Event
	for _, evs := range f.events {
		for _, e := range evs {
			if flt.Match(e) && (!q.Comparison || e.Origin == engine.OriginSource) {
				events = append(events, e)
			}
		}
	}
	f.mu.Unlock()
	sort.Slice(events, func(i, j int) bool { return events[i].ID > events[j].ID })
	pg, next, err := page(events, q.Cursor, q.Limit)
	if err != nil {
		return nil, err
	}
	out := &api.ActivityReport{Range: rg, Events: pg, NextCursor: next}
	if q.Cursor == "" {
		perDay := map[time.Time]int{}
		for _, e := range events {
			perDay[e.Time.UTC().Truncate(24*time.Hour)]++
		}
		out.PerDay = report.Days(perDay, rg)
	}
	return out, nil
}

// UsageReport serves GET /v1/reports/usage: proxy counts per key, app and hour.
func (f *fixture) UsageReport(ctx context.Context, q api.ReportQuery) (*report.Usage, error) {
	rg, err := f.reportRange(q, report.DefaultActivityRange(fixedNow))
	if err != nil {
		return nil, err
	}
	h := func(hoursAgo int, app, key string, enc, dec int64) report.UsageHour {
		return report.UsageHour{Hour: fixedNow.Add(-time.Duration(hoursAgo) * time.Hour).Truncate(time.Hour), App: app, KeyID: key, Encrypts: enc, Decrypts: dec}
	}
	hours := []report.UsageHour{
		h(3, "crm", "kms-prod/acme.crm.key.4/1", 1200, 5400), h(2, "crm", "kms-prod/acme.crm.key.4/1", 800, 3900),
		h(30, "crm", "kms-prod/acme.crm.key.3/1", 0, 210), h(5, "hr", "kms-prod/acme.hr.key.1/1", 95, 400),
	}
	hours = append(hours, f.usage...)
	var candidates []engine.Key
	f.mu.Lock()
	for _, k := range f.keys {
		if k.Source == "kms-prod" && (k.State == engine.StateActive || k.State == engine.StateDisabled) {
			candidates = append(candidates, k)
		}
	}
	f.mu.Unlock()
	u := report.BuildUsage(hours, candidates, rg)
	return &u, nil
}
