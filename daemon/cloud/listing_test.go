package cloud

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestDeletedServedOnceThenListed: the keys pending deletion of a listing
// just made are served without listing again, once; a second call, or one
// after a minute, lists again.
func TestDeletedServedOnceThenListed(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	var d Deleted
	lists := 0
	list := func(_ context.Context, page func([]KeyVersion) error) error {
		lists++
		d.Found([]KeyVersion{{Name: "relisted"}}, clock())
		return page([]KeyVersion{{Name: "live"}})
	}
	serve := func() []string {
		var got []string
		if err := d.Serve(context.Background(), clock, list, func(ks []KeyVersion) error {
			for _, k := range ks {
				got = append(got, k.Name)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	d.Found([]KeyVersion{{Name: "a"}, {Name: "b"}}, now)
	if got := serve(); len(got) != 2 || got[0] != "a" || lists != 0 {
		t.Fatalf("right after the listing: %v, %d listings", got, lists)
	}
	if got := serve(); len(got) != 1 || got[0] != "relisted" || lists != 1 {
		t.Fatalf("served twice: %v, %d listings", got, lists)
	}
	d.Found([]KeyVersion{{Name: "old"}}, now)
	now = now.Add(time.Minute)
	if got := serve(); len(got) != 1 || got[0] != "relisted" || lists != 2 {
		t.Fatalf("a minute later: %v, %d listings", got, lists)
	}
	d.Found(nil, now)
	if err := d.Serve(context.Background(), clock, list, func([]KeyVersion) error { t.Fatal("page called with no keys"); return nil }); err != nil {
		t.Fatal(err)
	}
}

// TestRefreshEvery: every Every-th listing is a full refresh, none when
// Every is 0.
func TestRefreshEvery(t *testing.T) {
	for _, c := range []struct {
		every int
		want  string
	}{{0, "......."}, {1, "FFFFFFF"}, {3, "..F..F."}} {
		r := Refresh{Every: c.every}
		got := ""
		for range len(c.want) {
			if r.Next() {
				got += "F"
			} else {
				got += "."
			}
		}
		if got != c.want {
			t.Errorf("every %d: listings %s, want %s", c.every, got, c.want)
		}
	}
}

// TestViewSourceNeverRefetchesAll: a source over a connector that keeps
// its own view never refetches every key; a plain one does, every 96th
// sync.
func TestViewSourceNeverRefetchesAll(t *testing.T) {
	if s := NewViewSource("v", backupConn{}, time.Hour, nil); s.FullEvery != 0 {
		t.Errorf("view source: full refetch every %d syncs", s.FullEvery)
	}
	if s := NewSyncSource("s", backupConn{}, time.Hour, nil); s.FullEvery != 96 {
		t.Errorf("sync source: full refetch every %d syncs, want 96", s.FullEvery)
	}
}

func TestCallsCount(t *testing.T) {
	var c Calls
	if n := c.Counts(); len(n) != 0 {
		t.Fatalf("zero value counts %v", n)
	}
	c.Count("ListKeys")
	c.Count("ListKeys")
	c.Count("DescribeKey")
	got := c.Counts()
	got["ListKeys"] = 99 // a copy
	if n := c.Counts(); n["ListKeys"] != 2 || n["DescribeKey"] != 1 {
		t.Fatalf("counts %v", n)
	}
}

func TestClassify(t *testing.T) {
	if Classify("rotate k", nil, func(*Error) { t.Fatal("described nil") }) != nil {
		t.Fatal("nil is not nil")
	}
	done := &Error{Kind: ErrNotFound, Op: "describe k"}
	if got := Classify("rotate k", fmt.Errorf("wrapped: %w", done), func(*Error) { t.Fatal("described a classified error") }); !errors.Is(got, ErrNotFound) || !strings.HasPrefix(got.Error(), "wrapped: ") {
		t.Fatalf("classified error changed: %v", got)
	}
	cause := errors.New("HTTP 429")
	got := Classify("rotate k", cause, func(e *Error) {
		if e.Err != cause || e.Op != "rotate k" {
			t.Fatalf("describe got %+v", e)
		}
		e.Kind, e.Reason = ErrThrottled, Says("quota exceeded", "AWS", "Rate exceeded")
	})
	if !errors.Is(got, ErrThrottled) || !errors.Is(got, cause) || got.Error() != "rotate k: throttled by the vault: quota exceeded; AWS says: Rate exceeded" {
		t.Fatalf("classified: %v", got)
	}
	if Says("quota exceeded", "AWS", "") != "quota exceeded" {
		t.Fatal("Says with nothing said")
	}
}

// TestPassForgetsUnlistedAndKeepsDeleted: a listing pages its live keys,
// sets the ones pending deletion aside for ListDeleted, lists a key once
// however often it comes by, says which listings are full, and at its end
// the connector forgets the keys it did not see.
func TestPassForgetsUnlistedAndKeepsDeleted(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	gone := now.Add(-time.Hour)
	r := Refresh{Every: 2}
	var mu sync.Mutex
	cache := map[string]int{"a": 1, "b": 2, "old": 3}
	var d Deleted
	p := r.Begin()
	var live []KeyVersion
	for _, kv := range []KeyVersion{{Name: "a"}, {Name: "b", Deleted: &gone}, {Name: "a"}, {Name: "new"}} {
		if p.See(kv.Name) {
			live = p.Add(live, kv)
		}
	}
	EndPass(p, &mu, cache, &d, now)
	if p.Full || len(live) != 2 || live[0].Name != "a" || live[1].Name != "new" {
		t.Errorf("first listing: full %v, live %+v", p.Full, live)
	}
	if _, ok := cache["old"]; ok || len(cache) != 2 {
		t.Errorf("after the listing the cache holds %v, want a and b", cache)
	}
	var deleted []string
	if err := d.Serve(context.Background(), func() time.Time { return now }, func(context.Context, func([]KeyVersion) error) error {
		t.Fatal("listed again right after a listing")
		return nil
	}, func(ks []KeyVersion) error {
		for _, k := range ks {
			deleted = append(deleted, k.Name)
		}
		return nil
	}); err != nil || len(deleted) != 1 || deleted[0] != "b" {
		t.Errorf("ListDeleted after the listing: %v, %v", deleted, err)
	}
	if p := r.Begin(); !p.Full {
		t.Error("the second listing with Every 2 is not full")
	}
}

// A page guard lets a listing of any length and shape through once, and
// stops one that loops, runs on past its most pages, or gives empty pages
// without end.
func TestPageGuard(t *testing.T) {
	g := NewPageGuard("the vault", "list keys", 4)
	for i, next := range []string{"b", "", "c"} { // an empty page between two full ones
		if err := g.Page(i, next); err != nil {
			t.Fatalf("page %d: %v", i, err)
		}
	}
	if err := g.Page(3, "b"); !errors.Is(err, ErrBadAnswer) || !strings.Contains(err.Error(), "the vault named a next page it had already given") {
		t.Errorf("a marker given again: %v", err)
	}
	g = NewPageGuard("AWS KMS", "list keys", 3)
	_ = g.Page(1, "a")
	_ = g.Page(1, "b")
	if err := g.Page(1, "c"); !errors.Is(err, ErrBadAnswer) || !strings.Contains(err.Error(), "still paging after 3 pages") {
		t.Errorf("past the most pages: %v", err)
	}
	g = NewPageGuard("AWS KMS", "list keys", 1000)
	var err error
	for i := 0; err == nil && i < 1000; i++ {
		err = g.Page(0, fmt.Sprint(i))
		if err != nil && i != MaxEmptyPages-1 {
			t.Fatalf("empty page %d: %v", i, err)
		}
	}
	if !errors.Is(err, ErrBadAnswer) || !strings.Contains(err.Error(), "empty pages in a row") {
		t.Errorf("endless empty pages: %v", err)
	}
}
