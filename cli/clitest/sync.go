package clitest

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/keyward/keyward/cli"
	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
)

// RefusedSync runs "keyward sync --source source" while the cloud refuses
// it: the command must fail with stderr naming says, the source must then
// be degraded with a reason naming reason (GET /v1/sources), and its
// inventory must stay as it was.
func RefusedSync(t testing.TB, sock, source, says, reason string) {
	t.Helper()
	ids := func() []string {
		var out []string
		for _, k := range Keys(t, sock, source) {
			out = append(out, k.ID)
		}
		slices.Sort(out)
		return out
	}
	before := ids()
	if code, _, errs := Run(sock, "sync", "--source", source); code == cli.ExitOK || !strings.Contains(errs, says) {
		t.Errorf("a refused sync of %s: exit %d %q, want a failure naming %q", source, code, errs, says)
	}
	srcs, err := api.NewClient(sock).Sources(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(srcs, func(s api.SourceInfo) bool { return s.Name == source })
	switch {
	case i < 0:
		t.Errorf("no source %s after a refused sync", source)
	case srcs[i].Health == engine.HealthOK || !strings.Contains(srcs[i].Reason, reason):
		t.Errorf("the source after a refused sync: %s %q, want it degraded naming %q", srcs[i].Health, srcs[i].Reason, reason)
	}
	if after := ids(); !slices.Equal(after, before) {
		t.Errorf("keys of %s after a failed sync: %v, want the %d known %v", source, after, len(before), before)
	}
}

// SourceEvents is what the source saw change in its cloud (the activity of
// origin "source", GET /v1/reports/activity): each event by "OPERATION KEY"
// (the key ID without the source, "edited k/1"), and those names sorted.
func SourceEvents(t testing.TB, sock, source string) (ops []string, events map[string]engine.Event) {
	t.Helper()
	rep, err := api.NewClient(sock).ActivityReport(context.Background(), api.ReportQuery{Source: source, Origin: "source", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	events = map[string]engine.Event{}
	for _, ev := range rep.Events {
		k := ev.Operation + " " + strings.TrimPrefix(ev.KeyID, source+"/")
		ops = append(ops, k)
		events[k] = ev
	}
	slices.Sort(ops)
	return ops, events
}

// KeysBy is Keys by the name key gives each ("k.Name", or name and
// version where a key has several).
func KeysBy(t testing.TB, sock, source string, key func(engine.Key) string) map[string]engine.Key {
	t.Helper()
	out := map[string]engine.Key{}
	for _, k := range Keys(t, sock, source) {
		out[key(k)] = k
	}
	return out
}
