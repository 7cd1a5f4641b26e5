package api

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/keyward/keyward/engine"
)

// checkKeyJSON: AppendKeyJSON gives what encoding/json's Encoder gives.
func checkKeyJSON(t *testing.T, k engine.Key) {
	t.Helper()
	var want bytes.Buffer
	werr := json.NewEncoder(&want).Encode(k)
	got, gerr := AppendKeyJSON([]byte("x"), k)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%+v: encoding/json error %v, AppendKeyJSON error %v", k, werr, gerr)
	}
	if werr == nil && string(got[1:])+"\n" != want.String() {
		t.Fatalf("%+v:\n got %s\nwant %s", k, got[1:], want.String())
	}
	if string(got[:1]) != "x" {
		t.Fatalf("dst's first byte lost: %q", got)
	}
	// The export's way: a Class instead of k.Aging, which is ignored.
	now, th := time.Date(2026, 12, 4, 16, 0, 0, 0, time.UTC), engine.DefaultThresholds()
	aged := k
	a := engine.Classify(k, now, th)
	aged.Aging = &a
	want.Reset()
	werr = json.NewEncoder(&want).Encode(aged)
	c := engine.NewClassifier(now, th).Classify(&k)
	got, gerr = AppendKeyJSONClass([]byte("x"), &k, &c)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%+v: encoding/json error %v, AppendKeyJSONClass error %v", aged, werr, gerr)
	}
	if werr == nil && string(got[1:])+"\n" != want.String() {
		t.Fatalf("%+v classified:\n got %s\nwant %s", k, got[1:], want.String())
	}
}

// TestAppendKeyJSONClassDoesNotAllocate: the export writes every key of
// the inventory through one reused Key, so a plain key with tags and
// every date costs no allocation.
func TestAppendKeyJSONClassDoesNotAllocate(t *testing.T) {
	at := time.Date(2026, 12, 4, 16, 0, 0, 123000000, time.UTC)
	exp := at.Add(20 * 24 * time.Hour)
	k := engine.Key{ID: "kms/a/3", Source: "kms", Name: "a", Version: "3", Algorithm: "AES", Length: 256, State: engine.StateActive,
		Application: "crm", Fingerprint: "ab12", Created: &at, Activated: &at, Expires: &exp, Deactivated: &at, Destroyed: &at,
		Deleted: &at, PurgeAt: &at, RotateAfter: engine.Duration(90 * 24 * time.Hour), Rotated: &at,
		Tags: map[string]string{"z": "1", "a": "2", "m": "3"}, LinkedTo: "aws/k", Updated: at}
	cl := engine.NewClassifier(at, engine.DefaultThresholds())
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(100, func() {
		c := cl.Classify(&k)
		buf, _ = AppendKeyJSONClass(buf[:0], &k, &c)
	}); n != 0 {
		t.Fatalf("%v allocations per key: %s", n, buf)
	}
}

func TestAppendKeyJSONIsEncodingJSON(t *testing.T) {
	at := time.Date(2026, 12, 4, 16, 0, 0, 0, time.UTC)
	nano := at.Add(123456789)
	due := at.Add(48 * time.Hour)
	for _, k := range []engine.Key{
		{},
		{ID: "kms/a", Source: "kms", Name: "a", Algorithm: "AES", State: engine.StateActive, Updated: at},
		{ID: "kms/a/3", Source: "kms", Name: "a", Version: "3", Algorithm: "AES", Length: 256, State: engine.StateDeactivated,
			Application: "crm", Fingerprint: "ab12", Created: &at, Activated: &nano, Expires: &due, Deactivated: &at, Destroyed: &at,
			Deleted: &at, PurgeAt: &at, RotateAfter: engine.Duration(90 * 24 * time.Hour), Rotated: &nano, Tags: map[string]string{"z": "1", "a": "<&>", "é": "\u2028"},
			LinkedTo: "aws/k", Updated: nano, Aging: &engine.Aging{Bucket: engine.BucketExpired, Reason: "expired 2 days ago", Due: &due}},
		{ID: "a\"b\\c\n\t<script>&", Name: "\xff\xfe invalid", Algorithm: "AES\u2029", RotateAfter: engine.Duration(36 * time.Hour), Updated: at.In(time.FixedZone("", 5*3600+1800)),
			Aging: &engine.Aging{Bucket: "healthy"}},
		{ID: "year", Updated: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{ID: "bc", Created: func() *time.Time { t := time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC); return &t }()},
		{ID: "zone", Updated: at.In(time.FixedZone("", 24*3600+60))},
		{ID: "zone seconds", Updated: at.In(time.FixedZone("", 3600+17))},
	} {
		checkKeyJSON(t, k)
	}
}

// FuzzAppendKeyJSON: every key encodes as encoding/json encodes it.
func FuzzAppendKeyJSON(f *testing.F) {
	f.Add("kms/a", "a", "AES", "active", "crm", "k", "v", int64(1764864000123), 256, int64(0), 0)
	f.Add("<a>", "\xff", "\u2028", "", "", "", "", int64(-62135596800000), 0, int64(3600e9), 3600)
	f.Fuzz(func(t *testing.T, id, name, alg, state, app, tagK, tagV string, ms int64, length int, rotate int64, zone int) {
		at := time.UnixMilli(ms).In(time.FixedZone("", zone%(30*3600)))
		k := engine.Key{ID: id, Source: app, Name: name, Algorithm: alg, State: engine.State(state), Application: app,
			Length: length, RotateAfter: engine.Duration(rotate), Updated: at, LinkedTo: tagV}
		if ms%2 == 0 {
			k.Created, k.Expires, k.Rotated = &at, &at, &at
			k.Tags = map[string]string{tagK: tagV, tagV: tagK}
			k.Aging = &engine.Aging{Bucket: engine.Bucket(tagK), Reason: name, Due: &at}
		}
		checkKeyJSON(t, k)
	})
}
