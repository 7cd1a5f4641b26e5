package daemon

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/report"
)

// do sends one request on the socket and returns the status and the error
// message (or the raw body of a success).
func do(t *testing.T, socket, method, target string) (int, string) {
	t.Helper()
	c := api.NewClient(socket)
	b, err := c.DoRaw(context.Background(), method, strings.TrimPrefix(target, "/v1"), nil, "", nil)
	if err != nil {
		var ae *api.Error
		if !asAPIErr(err, &ae) {
			t.Fatalf("%s %s: %v", method, target, err)
		}
		return ae.Status, ae.Message
	}
	return http.StatusOK, string(b)
}

func asAPIErr(err error, ae **api.Error) bool {
	e, ok := err.(*api.Error)
	*ae = e
	return ok
}

func TestQueryParameterRules(t *testing.T) {
	r := start(t, nil)
	synced := func() int {
		ev, err := api.NewClient(r.socket).ActivityReport(context.Background(), api.ReportQuery{Operation: engine.OpSynced})
		if err != nil {
			t.Fatal(err)
		}
		return len(ev.Events)
	}
	before := synced()
	for _, tc := range []struct{ method, target, want string }{
		{"POST", "/v1/sync?source=", `query parameter "source" is empty`},
		{"POST", "/v1/sync?source", `query parameter "source" is empty`},
		{"POST", "/v1/sync?source=acme-kms&source=other", `"source" is given 2 times`},
		{"POST", "/v1/sync?sources=acme-kms", `unknown query parameter "sources"`},
		{"GET", "/v1/status?verbose=true", "takes no query parameters"},
		{"GET", "/v1/events?since=1", "takes no query parameters"},
		{"GET", "/v1/keys?state=active&state=destroyed", `"state" is given 2 times`},
		{"GET", "/v1/keys?limit=0", `"limit" must be a whole number from 1 to 5000`},
		{"GET", "/v1/keys?limit=99999", `from 1 to 5000`},
		{"GET", "/v1/keys?source=acme-kms;limit=3", "not well-formed"},
		{"GET", "/v1/keys/acme-kms/acme.crm.key.5?x=1", "takes no query parameters"},
		{"GET", "/v1/reports/activity?comparison=yes", `"comparison" must be true or false, got "yes"`},
		{"GET", "/v1/reports/activity?comparison=1", `must be true or false`},
		{"GET", "/v1/activity?key=", `query parameter "key" is empty`},
		{"GET", "/v1/reports/usage?app=", `query parameter "app" is empty`},
		{"GET", "/v1/reports/aging/summary?source=&source=", `"source" is given 2 times`},
	} {
		wantRefused(t, r.socket, tc.method, tc.want, tc.target)
	}
	if n := synced(); n != before {
		t.Fatalf("refused sync requests synced anyway: %d sync events, %d before", n, before)
	}
	// The documented spellings work.
	for _, target := range []string{"/v1/reports/activity?comparison=false", "/v1/keys?limit=5000&source=acme-kms"} {
		if status, msg := do(t, r.socket, "GET", target); status != http.StatusOK {
			t.Errorf("GET %s: %d %s", target, status, msg)
		}
	}
}

func TestReportRangeIsBounded(t *testing.T) {
	r := start(t, nil)
	wantRefused(t, r.socket, "GET", "longer than the maximum of 3660 days",
		"/v1/reports/activity?from=0001-01-01",
		"/v1/reports/activity?from=-36500d&to=%2B36500d",
		"/v1/reports/usage?from=-36500d",
		"/v1/reports/aging?to=%2B36500d")
	// The longest range allowed has a per-day series of bounded size.
	status, body := do(t, r.socket, "GET", "/v1/reports/activity?from=-3659d")
	if status != http.StatusOK || len(body) > 1<<20 {
		t.Fatalf("ten-year activity report: %d, %d bytes", status, len(body))
	}
	if n := strings.Count(body, `"day"`); n == 0 || n > report.MaxRangeDays+1 {
		t.Fatalf("per_day has %d entries", n)
	}
	// The activity log itself is paged, not ranged: all time stays allowed.
	if status, msg := do(t, r.socket, "GET", "/v1/activity?to=now&limit=5"); status != http.StatusOK {
		t.Fatalf("activity log up to now: %d %s", status, msg)
	}
}

// A NUL byte in a query value is refused, naming the parameter: SQLite
// reads a bound text only up to its NUL, so q=%00 used to filter by the
// empty text and answer every key (the export too), and three characters
// or more with a NUL reached the search index as a broken string and
// answered 500 "SQL logic error: unterminated string".
func TestQueryNULRefused(t *testing.T) {
	r := start(t, nil)
	wantRefused(t, r.socket, "GET", "NUL",
		"/v1/keys?q=%00",
		"/v1/keys?q=crm%00zz",
		"/v1/export/keys?q=%00",
		"/v1/keys?source=acme-kms%00",
		"/v1/reports/aging?key=acme-kms%00")
	// Text around the NUL is still a search that works without it.
	if status, msg := do(t, r.socket, "GET", "/v1/keys?q=crm"); status != http.StatusOK || !strings.Contains(msg, "acme.crm.key") {
		t.Errorf("GET /v1/keys?q=crm: %d %.200q", status, msg)
	}
}

// wantRefused sends method to each target on socket and fails unless each
// answers 400 with want in its message.
func wantRefused(t *testing.T, socket, method, want string, targets ...string) {
	t.Helper()
	for _, target := range targets {
		status, msg := do(t, socket, method, target)
		if status != http.StatusBadRequest || !strings.Contains(msg, want) {
			t.Errorf("%s %s: %d %.200q, want 400 with %q", method, target, status, msg, want)
		}
	}
}

// A keys cursor is a place in one order: given with another sort (or the
// other direction) it is refused, naming the sort it was made for. It was
// taken as a place in the new order — a state compared with names — and
// answered a plausible page of the wrong keys.
func TestKeysCursorKeepsItsSort(t *testing.T) {
	r := start(t, nil)
	c := api.NewClient(r.socket)
	ctx := context.Background()
	first, err := c.Keys(ctx, api.KeyQuery{Sort: "state", Limit: 3})
	if err != nil || first.NextCursor == "" {
		t.Fatalf("first page by state: %+v %v", first, err)
	}
	for _, sort := range []string{"name", "", "-state", "created"} {
		_, err := c.Keys(ctx, api.KeyQuery{Sort: sort, Limit: 3, Cursor: first.NextCursor})
		var ae *api.Error
		if !asAPIErr(err, &ae) || ae.Status != http.StatusBadRequest || !strings.Contains(ae.Message, "sort=state") {
			t.Errorf("a sort=state cursor with sort=%q: %v, want 400 naming sort=state", sort, err)
		}
	}
	// With its own sort it goes on, and the pages hold every key once.
	seen := map[string]bool{}
	q := api.KeyQuery{Sort: "state", Limit: 3}
	for page := 0; page < 100; page++ {
		p, err := c.Keys(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range p.Keys {
			if seen[k.ID] {
				t.Fatalf("%s twice", k.ID)
			}
			seen[k.ID] = true
		}
		if p.NextCursor == "" {
			break
		}
		q.Cursor = p.NextCursor
	}
	all, err := c.Keys(ctx, api.KeyQuery{Limit: 5000})
	if err != nil || len(seen) != len(all.Keys) {
		t.Errorf("paged by state: %d keys, all: %d (%v)", len(seen), len(all.Keys), err)
	}
}
