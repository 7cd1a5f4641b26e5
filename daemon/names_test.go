package daemon

import (
	"net/http"
	"strings"
	"testing"
)

// A filter naming a source the daemon never had is a 404 naming it and
// the sources there are, on every route that filters by source — it was
// an empty answer, which reads as "no keys" or "nothing happened". A
// source it has (or a schedule's health row) answers as before.
func TestFilterByAnUnknownSourceIsNotFound(t *testing.T) {
	r := start(t, nil)
	if code, _, b := send(t, r.socket, http.MethodPost, "/v1/schedules", `{"name":"nightly","kind":"sync","every":"daily 02:00"}`); code != http.StatusCreated {
		t.Fatalf("create a schedule: %d %s", code, b)
	}
	routes := []string{"/v1/keys", "/v1/export/keys", "/v1/activity", "/v1/reports/aging", "/v1/reports/aging/summary",
		"/v1/reports/activity", "/v1/reports/usage"}
	for _, route := range routes {
		code, _, b := send(t, r.socket, http.MethodGet, route+"?source=acme-kmz", "")
		if code != http.StatusNotFound || !strings.Contains(string(b), `no source named \"acme-kmz\" (sources: acme-kms)`) {
			t.Errorf("%s?source=acme-kmz: %d %s", route, code, b)
		}
		for _, good := range []string{"acme-kms", "schedule:nightly"} {
			if code, _, b := send(t, r.socket, http.MethodGet, route+"?source="+good, ""); code != http.StatusOK {
				t.Errorf("%s?source=%s: %d %s", route, good, code, b)
			}
		}
	}
}

// A report about a key id the inventory does not hold is a 404 naming it
// (the aging and activity reports), as GET /v1/keys/{id} is; a key it holds
// answers, even with nothing in the range.
func TestReportOfAnUnknownKeyIsNotFound(t *testing.T) {
	r := start(t, nil)
	for _, route := range []string{"/v1/reports/aging", "/v1/reports/activity", "/v1/activity"} {
		code, _, b := send(t, r.socket, http.MethodGet, route+"?key=acme-kms/acme.crm.key.55", "")
		if code != http.StatusNotFound || !strings.Contains(string(b), `no key with id \"acme-kms/acme.crm.key.55\"`) {
			t.Errorf("%s?key=acme-kms/acme.crm.key.55: %d %s", route, code, b)
		}
		if code, _, b := send(t, r.socket, http.MethodGet, route+"?key=acme-kms/acme.crm.key.5&from=2020-01-01&to=2020-01-02", ""); code != http.StatusOK {
			t.Errorf("%s of a key held, nothing in the range: %d %s", route, code, b)
		}
	}
}

// A usage report about an application no key belongs to, or a key id the
// inventory does not hold, is a 404 naming it; an application of the seed
// inventory answers.
func TestUsageOfAnUnknownAppIsNotFound(t *testing.T) {
	r := start(t, nil)
	code, _, b := send(t, r.socket, http.MethodGet, "/v1/reports/usage?app=crn", "")
	if code != http.StatusNotFound || !strings.Contains(string(b), `no key of the inventory belongs to application \"crn\"`) {
		t.Errorf("usage of app crn: %d %s", code, b)
	}
	code, _, b = send(t, r.socket, http.MethodGet, "/v1/reports/usage?key=acme-kms/acme.crm.key.55", "")
	if code != http.StatusNotFound || !strings.Contains(string(b), `no key with id \"acme-kms/acme.crm.key.55\"`) {
		t.Errorf("usage of key acme.crm.key.55: %d %s", code, b)
	}
	if code, _, b := send(t, r.socket, http.MethodGet, "/v1/reports/usage?app=crm", ""); code != http.StatusOK {
		t.Errorf("usage of app crm: %d %s", code, b)
	}
}

// An origin that is none of the four is a 400 listing them (an empty log
// before); each of them answers.
func TestActivityByAnUnknownOriginIsRefused(t *testing.T) {
	r := start(t, nil)
	for _, route := range []string{"/v1/activity", "/v1/reports/activity"} {
		code, _, b := send(t, r.socket, http.MethodGet, route+"?origin=sytem", "")
		if code != http.StatusBadRequest || !strings.Contains(string(b), `origin: \"sytem\" is not one of keyward, source, proxy, system`) {
			t.Errorf("%s?origin=sytem: %d %s", route, code, b)
		}
		for _, o := range []string{"keyward", "source", "proxy", "system"} {
			if code, _, b := send(t, r.socket, http.MethodGet, route+"?origin="+o, ""); code != http.StatusOK {
				t.Errorf("%s?origin=%s: %d %s", route, o, code, b)
			}
		}
	}
}
