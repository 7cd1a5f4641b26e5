package kmip

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"

	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/demo/kms"
	"github.com/keyward/keyward/daemon/sources"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/keyring"
)

// discardSink measures the poller and the KMS, not SQLite.
type discardSink struct{}

func (discardSink) Apply(context.Context, sources.Batch) error { return nil }
func (discardSink) SetHealth(context.Context, string, engine.Health, string) error {
	return nil
}
func (discardSink) Known(context.Context, string) ([]engine.Key, error) { return nil, nil }

// benchApps returns n/16 applications of 16 generations each, named like
// the seed's scheme (acme.appNNNN.key.N).
func benchApps(n int) ([]kms.App, []config.Application) {
	var ka []kms.App
	var ca []config.Application
	for i := 0; i < n/16; i++ {
		name := fmt.Sprintf("app%04d", i)
		prefix := "acme." + name + ".key."
		ka = append(ka, kms.App{Name: name, Prefix: prefix, Generations: 16})
		ca = append(ca, config.Application{Name: name, Pattern: prefix + "*", Generations: 16})
	}
	return ka, ca
}

func benchSource(b *testing.B, bk *backend, apps []config.Application, batch, page int) *Source {
	cfg := sourceConfig(bk, apps...)
	cfg.BatchSize, cfg.LocatePageSize = batch, page
	cfg.Timeout = engine.Duration(5 * time.Minute)
	src, err := New(cfg, Deps{Logger: quietLogger(), Rings: keyring.NewRings()})
	if err != nil {
		b.Fatal(err)
	}
	return src
}

func benchPoll(b *testing.B, src *Source) PollStats {
	if err := src.Poll(context.Background(), discardSink{}); err != nil {
		b.Fatal(err)
	}
	return src.LastPoll()
}

// benchUnchanged times polls after a first one, with nothing changed in
// the KMS: no Get, and no full refresh; Locate pages of page keys.
func benchUnchanged(b *testing.B, bk *backend, apps []config.Application, page int) {
	src := benchSource(b, bk, apps, 50, page)
	defer src.Close()
	benchPoll(b, src)
	var st PollStats
	for b.Loop() {
		st = benchPoll(b, src)
	}
	if st.Gets != 0 || st.Full {
		b.Fatalf("unchanged poll: %+v", st)
	}
	b.ReportMetric(float64(st.Requests), "requests/poll")
	b.ReportMetric(float64(st.AttrReads), "attribute-reads/poll")
}

// runPollBenches runs the poll benchmarks against one KMS (server names it
// in the benchmark names) holding 16 generations of each of capps (n keys):
// a first poll batched (50 operations per request, Locate pages of 1,000),
// the same with Locate pages of 10,000, and one request per key; then a
// poll where nothing changed.
func runPollBenches(b *testing.B, server string, bk *backend, capps []config.Application, n int) {
	for _, mode := range []struct {
		name        string
		batch, page int
	}{{"batched", 50, 1000}, {"batched-pages-of-10000", 50, 10000}, {"one-per-key", 1, 1000}} {
		b.Run(fmt.Sprintf("%s/%d/%s", server, n, mode.name), func(b *testing.B) {
			var st PollStats
			for b.Loop() {
				src := benchSource(b, bk, capps, mode.batch, mode.page)
				st = benchPoll(b, src)
				src.Close()
			}
			if st.Gets != 16*(n/16) {
				b.Fatalf("fetched %d of %d keys", st.Gets, n)
			}
			b.ReportMetric(float64(st.Requests), "requests/poll")
		})
	}
	b.Run(fmt.Sprintf("%s/%d/unchanged", server, n), func(b *testing.B) { benchUnchanged(b, bk, capps, 1000) })
}

// BenchmarkFirstPoll times a first poll (Locate, attributes, Get of every
// key into the rings) against the embedded KMS, batched (50 operations per
// request, the default) and one request per key; and the cost of a poll
// where nothing changed.
func BenchmarkFirstPoll(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		kapps, capps := benchApps(n)
		ctx, cancel := context.WithCancel(context.Background())
		s, err := kms.Start(ctx, kms.Options{Dir: b.TempDir(), Apps: kapps})
		if err != nil {
			b.Fatal(err)
		}
		bk := &backend{addr: s.Addr(), caFile: s.CAFile, certFile: s.CertFile, keyFile: s.KeyFile}
		runPollBenches(b, "embedded", bk, capps, n)
		cancel()
		s.Stop()
	}
}

// BenchmarkFirstPollPyKMIP is the same against PyKMIP: 1,000 keys (about a
// minute), or KEYWARD_BENCH_PYKMIP_KEYS (10,000: about 7 minutes with -benchtime
// 1x, one of them seeding). PyKMIP does not expand wildcards, so keyward lists
// every symmetric key once per poll and filters names.
func BenchmarkFirstPollPyKMIP(b *testing.B) {
	bk := pykmipBackend(b)
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("KEYWARD_BENCH_PYKMIP_KEYS")); err == nil && v > 0 {
		n = v
	}
	_, capps := benchApps(n)
	var names []string
	for _, a := range capps {
		for g := 1; g <= 16; g++ {
			names = append(names, fmt.Sprintf("%s%d", a.Pattern[:len(a.Pattern)-1], g))
		}
	}
	seedPyKMIP(b, bk, names)
	runPollBenches(b, "pykmip", bk, capps, n)
}

// seedPyKMIP creates an Active AES-256 key of each name in PyKMIP, 50
// operations per request, and returns their identifiers.
func seedPyKMIP(b testing.TB, bk *backend, names []string) []string {
	c := bk.adminClient(b)
	var pls []kmip.OperationPayload
	for _, n := range names {
		pl, _ := c.Create().AES(256, kmip.CryptographicUsageEncrypt|kmip.CryptographicUsageDecrypt).WithName(n).Build()
		pls = append(pls, pl)
	}
	var uids []string
	for i := 0; i < len(pls); i += 50 {
		res, err := c.Batch(context.Background(), pls[i:min(i+50, len(pls))]...)
		if err != nil {
			b.Fatal(err)
		}
		out, err := res.Unwrap()
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range out {
			uids = append(uids, p.(*payloads.CreateResponsePayload).UniqueIdentifier)
		}
	}
	for i := 0; i < len(uids); i += 50 {
		var act []kmip.OperationPayload
		for _, u := range uids[i:min(i+50, len(uids))] {
			act = append(act, &payloads.ActivateRequestPayload{UniqueIdentifier: u})
		}
		if _, err := c.Batch(context.Background(), act...); err != nil {
			b.Fatal(err)
		}
	}
	bk.closeAdmin() // an idle admin connection would time out in PyKMIP's log
	return uids
}

// oneAppObjects is the scenario: objects objects in the KMS, 1,000
// of them (acme.crm.key.1 … .1000) the generations of the one application
// (a ring of 16), the rest (billing.key.N) of no application.
func oneAppObjects(objects int) []string {
	var names []string
	for i := 1; i <= 1000; i++ {
		names = append(names, fmt.Sprintf("acme.crm.key.%d", i))
	}
	for i := 1; i <= objects-1000; i++ {
		names = append(names, fmt.Sprintf("billing.key.%d", i))
	}
	return names
}

// runOneAppBenches times, against one KMS holding oneAppObjects: keyward's
// first poll (a new source: nothing known, wildcards not learned) and a poll
// where nothing changed.
func runOneAppBenches(b *testing.B, server string, bk *backend, objects int) {
	apps := []config.Application{{Name: "crm", Pattern: "acme.crm.key.*", Generations: 16}}
	b.Run(fmt.Sprintf("%s/%d/first-poll", server, objects), func(b *testing.B) {
		var st PollStats
		for b.Loop() {
			src := benchSource(b, bk, apps, 50, 1000)
			st = benchPoll(b, src)
			src.Close()
		}
		if st.Gets != 16 || st.Matched != 1000 {
			b.Fatalf("first poll: %+v", st)
		}
		b.ReportMetric(float64(st.Requests), "requests/poll")
		b.ReportMetric(float64(st.AttrReads), "attribute-reads/poll")
	})
	b.Run(fmt.Sprintf("%s/%d/unchanged", server, objects), func(b *testing.B) { benchUnchanged(b, bk, apps, 1000) })
	b.Run(fmt.Sprintf("%s/%d/unchanged-pages-of-10000", server, objects), func(b *testing.B) { benchUnchanged(b, bk, apps, 10000) })
}

// BenchmarkNaiveVsKeyward is the comparison, in one run against one
// PyKMIP: bench/pykmip_naive_poll.py (a plain PyKMIP client that locates
// every object and Gets each, one request per operation) against keyward's
// first poll and a poll where nothing changed, over 1,027 objects of which
// 1,000 belong to the application (KEYWARD_BENCH_PYKMIP_OBJECTS for
// another count, at least 1,000); then the same scenario against the
// embedded KMS.
func BenchmarkNaiveVsKeyward(b *testing.B) {
	objects := 1027
	if v, err := strconv.Atoi(os.Getenv("KEYWARD_BENCH_PYKMIP_OBJECTS")); err == nil && v >= 1000 {
		objects = v
	}
	bk := pykmipBackend(b)
	seedPyKMIP(b, bk, oneAppObjects(objects))
	host, port, _ := strings.Cut(bk.addr, ":")
	b.Run(fmt.Sprintf("pykmip/%d/naive-script", objects), func(b *testing.B) {
		var out []byte
		for b.Loop() {
			var err error
			out, err = exec.Command("/usr/bin/python3", "bench/pykmip_naive_poll.py", host, port, bk.caFile, bk.certFile, bk.keyFile).CombinedOutput()
			if err != nil {
				b.Fatalf("naive script: %v\n%s", err, out)
			}
		}
		var res struct {
			Located int     `json:"located"`
			Seconds float64 `json:"seconds"`
		}
		if err := json.Unmarshal(out, &res); err != nil || res.Located != objects {
			b.Fatalf("naive script said %s (%v)", out, err)
		}
		// The script's own timing leaves out Python's start-up.
		b.ReportMetric(res.Seconds, "script-s/op")
	})
	runOneAppBenches(b, "pykmip", bk, objects)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := kms.Start(ctx, kms.Options{Dir: b.TempDir(), Apps: []kms.App{
		{Name: "crm", Prefix: "acme.crm.key.", Generations: 1000}, {Name: "billing", Prefix: "billing.key.", Generations: objects - 1000}}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Stop()
	runOneAppBenches(b, "embedded", &backend{addr: s.Addr(), caFile: s.CAFile, certFile: s.CertFile, keyFile: s.KeyFile}, objects)
}
