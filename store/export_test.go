package store

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"reflect"
	"testing"
	"time"

	"github.com/keyward/keyward/engine"
)

// randomKeys are n keys with every field set or left empty at random: nil
// and set times, unicode and HTML-looking names, tags plain, escaped and
// non-ASCII.
func randomKeys(rng *rand.Rand, source string, n int) []engine.Key {
	names := []string{"acme.crm.key.%d", "clé-%d-日本", "<b>&%d</b>", "tab\t%d", "quote\"%d\\", "app%d.key.10"}
	tagSets := []map[string]string{nil, {}, {"env": "prod"}, {"owner": "Zoë", "cost-centre": "42"},
		{"a\"b": "c\\d", "nl": "x\ny", "html": "<&>"}, {"aws:aliases": "alias/a,alias/b", "z": "", "m": "\u2028"}}
	at := func() *time.Time {
		if rng.Intn(3) == 0 {
			return nil
		}
		t := now.Add(time.Duration(rng.Int63n(int64(4*365*24*time.Hour))) - 2*365*24*time.Hour).Truncate(time.Millisecond).UTC()
		return &t
	}
	var keys []engine.Key
	for i := 0; i < n; i++ {
		name := fmt.Sprintf(names[rng.Intn(len(names))], i)
		version := []string{"", "1", "2"}[rng.Intn(3)]
		k := engine.Key{ID: engine.KeyID(source, name, version), Source: source, Name: name, Version: version,
			Algorithm: []string{"AES", "RSA", ""}[rng.Intn(3)], Length: []int{0, 128, 256}[rng.Intn(3)],
			State:       engine.States[rng.Intn(len(engine.States))],
			Application: []string{"", "crm", "billing"}[rng.Intn(3)], Fingerprint: []string{"", "ab12cd"}[rng.Intn(2)],
			Created: at(), Activated: at(), Expires: at(), Deactivated: at(), Destroyed: at(), Deleted: at(), PurgeAt: at(),
			RotateAfter: engine.Duration(time.Duration(rng.Intn(3)) * 45 * 24 * time.Hour), Rotated: at(),
			Tags: tagSets[rng.Intn(len(tagSets))], LinkedTo: []string{"", "aws/k"}[rng.Intn(2)]}
		keys = append(keys, k)
	}
	return keys
}

// TestEachKeyReadsWhatKeysReads: the export's read gives, page by page,
// the keys and cursors Keys gives, for every sort and filter.
func TestEachKeyReadsWhatKeysReads(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	rng := rand.New(rand.NewSource(18))
	for _, src := range []string{"kms", "az"} {
		if err := s.EnsureSource(ctx, src, "kmip", "127.0.0.1:5696"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Apply(ctx, Change{Source: src, Upsert: randomKeys(rng, src, 150)}); err != nil {
			t.Fatal(err)
		}
	}
	th := engine.DefaultThresholds()
	for _, q := range []KeyQuery{
		{}, {Sort: "-name"}, {Sort: "created"}, {Sort: "-expires"}, {Sort: "source"}, {Sort: "state"},
		{Source: "az"}, {State: engine.StateActive}, {Source: "kms", State: engine.StateDeleted},
		{Aging: engine.BucketExpired}, {Aging: engine.BucketHealthy}, {Text: "clé"}, {Text: "ab12"},
	} {
		q.Limit, q.Now, q.Thresholds, q.SkipCount = 7, now, th, true
		t.Run(fmt.Sprintf("%+v", q), func(t *testing.T) {
			n := 0
			for page := 0; ; page++ {
				want, err := s.Keys(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				var got []engine.Key
				next, err := s.EachKey(ctx, q, func(k *engine.Key) error {
					c := *k // k is reused: keep a deep copy
					for _, p := range []**time.Time{&c.Created, &c.Activated, &c.Expires, &c.Deactivated, &c.Destroyed, &c.Deleted, &c.PurgeAt, &c.Rotated} {
						if *p != nil {
							*p = tp(**p)
						}
					}
					if c.Tags != nil {
						c.Tags = map[string]string{}
						for n, v := range k.Tags {
							c.Tags[n] = v
						}
					}
					got = append(got, c)
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, want.Keys) {
					t.Fatalf("page %d:\n got %+v\nwant %+v", page, got, want.Keys)
				}
				if next != want.NextCursor {
					t.Fatalf("page %d: next %q, Keys says %q", page, next, want.NextCursor)
				}
				n += len(got)
				if next == "" {
					break
				}
				q.Cursor = next
			}
			if q.Source == "" && q.State == "" && q.Aging == "" && q.Text == "" && n != 300 {
				t.Fatalf("%d keys read, want 300", n)
			}
		})
	}
	stop := fmt.Errorf("stop")
	if _, err := s.EachKey(ctx, KeyQuery{Limit: 5}, func(*engine.Key) error { return stop }); err != stop {
		t.Fatalf("fn's error: got %v", err)
	}
}

// FuzzParsePlainTags: the export's tag reader agrees with encoding/json
// whenever it reads the tags itself.
func FuzzParsePlainTags(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":"b"}`, `{"a":"b","c":"d"}`, `{"a":"b",}`, `{"a":1}`, `{"a":"\n"}`, `{ "a":"b"}`,
		`{"a":"b","a":"c"}`, `{"é":"x"}`, `{"a":"b"}}`, `{"a""b"}`, `{"`, `{"a":"b"`, `null`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := map[string]string{"stale": "x"}
		clear(got)
		if !parsePlainTags(s, got) {
			return
		}
		var want map[string]string
		if err := json.Unmarshal([]byte(s), &want); err != nil {
			t.Fatalf("%q read as %v, but encoding/json says %v", s, got, err)
		}
		if len(want) != len(got) || (len(want) > 0 && !reflect.DeepEqual(got, want)) {
			t.Fatalf("%q read as %v, encoding/json reads %v", s, got, want)
		}
	})
}
