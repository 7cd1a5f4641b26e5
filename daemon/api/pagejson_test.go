package api

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/keyward/keyward/engine"
)

// TestWriteKeysPageIsWriteJSON: a keys page written by WriteKeysPage is
// byte for byte what WriteJSON writes for it, whatever its keys, cursor
// and total_as_of hold (the socket's answer did not change).
func TestWriteKeysPageIsWriteJSON(t *testing.T) {
	at := time.Date(2026, 12, 4, 16, 0, 0, 123000000, time.UTC)
	due := at.Add(48 * time.Hour)
	keys := []engine.Key{
		{ID: "kms/a", Source: "kms", Name: "a", Algorithm: "AES", State: engine.StateActive, Updated: at,
			Aging: &engine.Aging{Bucket: engine.BucketHealthy, Reason: "no expiry set"}},
		{ID: "a\"b<script>&", Name: "\xff é \u2028", Tags: map[string]string{"z": "1", "a": "<&>"}, Created: &at, Expires: &due,
			Updated: at.In(time.FixedZone("", 5*3600+1800)), Aging: &engine.Aging{Bucket: engine.BucketExpired, Reason: "expired 2d ago", Due: &due}},
	}
	odd := at.In(time.FixedZone("", -3*3600))
	for _, p := range []KeysPage{
		{},
		{Keys: []engine.Key{}, Total: 0},
		{Keys: keys, Total: 1234567, NextCursor: "eyJ2IjoiYSIsImlkIjoia21zL2EifQ"},
		{Keys: keys[:1], Total: -1, NextCursor: "<\"&\u2028>", TotalAsOf: &odd},
		{Keys: []engine.Key{{ID: "year", Updated: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}}}, // encoding/json refuses it
	} {
		want, got := httptest.NewRecorder(), httptest.NewRecorder()
		WriteJSON(want, 200, p)
		WriteKeysPage(got, 200, p)
		if got.Body.String() != want.Body.String() || got.Code != want.Code || got.Header().Get("Content-Type") != want.Header().Get("Content-Type") {
			t.Fatalf("%+v:\n got %d %q\nwant %d %q", p, got.Code, got.Body, want.Code, want.Body)
		}
	}
}

// FuzzWriteKeysPage: any page, as WriteJSON writes it.
func FuzzWriteKeysPage(f *testing.F) {
	f.Add("kms/a", "a", "abc", int64(1764864000123), 3, 0)
	f.Add("<a>", "\xff", "\u2028\"", int64(-62135596800000), -1, 3600)
	f.Fuzz(func(t *testing.T, id, name, cursor string, ms int64, total, zone int) {
		at := time.UnixMilli(ms).In(time.FixedZone("", zone%(30*3600)))
		p := KeysPage{Keys: []engine.Key{{ID: id, Name: name, Updated: at}, {ID: name, Created: &at}}, Total: total, NextCursor: cursor}
		if ms%2 == 0 {
			p.TotalAsOf = &at
		}
		want, got := httptest.NewRecorder(), httptest.NewRecorder()
		WriteJSON(want, 200, p)
		WriteKeysPage(got, 200, p)
		if got.Body.String() != want.Body.String() {
			t.Fatalf("%+v:\n got %q\nwant %q", p, got.Body, want.Body)
		}
	})
}
