package cloud

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
)

// Calls counts a connector's requests to its cloud by API name, for tests
// and benchmarks. Its zero value is ready; it is safe for concurrent use.
type Calls struct {
	mu sync.Mutex
	n  map[string]int
}

// Count counts one request of api.
func (c *Calls) Count(api string) {
	c.mu.Lock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[api]++
	c.mu.Unlock()
}

// Counts is a copy of the counts so far.
func (c *Calls) Counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		return map[string]int{}
	}
	return maps.Clone(c.n)
}

// Deleted keeps the keys pending deletion that a connector's last listing
// found, so that ListDeleted right after ListKeys (as a sync calls them)
// serves them without listing again. Its zero value is ready; it is safe
// for concurrent use.
type Deleted struct {
	mu   sync.Mutex
	keys []KeyVersion
	at   time.Time
}

// Found records the keys pending deletion of a listing finished at now.
func (d *Deleted) Found(keys []KeyVersion, now time.Time) {
	d.mu.Lock()
	d.keys, d.at = keys, now
	d.mu.Unlock()
}

// Serve is a connector's ListDeleted: it calls page once with the keys
// pending deletion of the listing finished in the minute before now(), or
// else of a new listing made with listKeys (the connector's ListKeys,
// which calls Found); a listing's keys are served once.
func (d *Deleted) Serve(ctx context.Context, now func() time.Time, listKeys func(context.Context, func([]KeyVersion) error) error, page func([]KeyVersion) error) error {
	d.mu.Lock()
	fresh := !d.at.IsZero() && now().Sub(d.at) < time.Minute
	d.mu.Unlock()
	if !fresh {
		if err := listKeys(ctx, func([]KeyVersion) error { return nil }); err != nil {
			return err
		}
	}
	d.mu.Lock()
	keys := slices.Clone(d.keys)
	d.at = time.Time{}
	d.mu.Unlock()
	if len(keys) == 0 {
		return nil
	}
	return page(keys)
}

// Pass is one listing of a connector's keys (its ListKeys) under way:
// whether it describes every key again, the keys it saw, and the keys
// pending deletion it found, set aside from the live keys it pages.
type Pass struct {
	// Full: the listing describes every key again instead of trusting
	// what the connector remembers (Refresh.Next).
	Full    bool
	seen    map[string]bool
	deleted []KeyVersion
}

// Begin counts a listing and starts it.
func (r *Refresh) Begin() *Pass { return &Pass{Full: r.Next(), seen: map[string]bool{}} }

// See records that the listing saw the key id, and reports false when it
// had already (a listing started again from the top lists keys twice).
func (p *Pass) See(id string) (first bool) {
	if p.seen[id] {
		return false
	}
	p.seen[id] = true
	return true
}

// Add appends kv to live, the page being built, or sets it aside when it
// is pending deletion.
func (p *Pass) Add(live []KeyVersion, kv KeyVersion) []KeyVersion {
	if kv.Deleted != nil {
		p.deleted = append(p.deleted, kv)
		return live
	}
	return append(live, kv)
}

// EndPass finishes the listing p at now: what the connector remembers of
// the keys p did not see (cache, guarded by mu) is dropped, they are gone
// from the cloud, and the keys pending deletion p found are what d serves
// to ListDeleted next.
func EndPass[D any](p *Pass, mu *sync.Mutex, cache map[string]D, d *Deleted, now time.Time) {
	mu.Lock()
	maps.DeleteFunc(cache, func(id string, _ D) bool { return !p.seen[id] })
	mu.Unlock()
	d.Found(p.deleted, now)
}

// Refresh counts a connector's listings and says which of them describe
// every key again instead of trusting what it remembers: every Every-th
// (none when Every is 0). It is safe for concurrent use.
type Refresh struct {
	Every int

	mu       sync.Mutex
	listings int
}

// Next counts a listing and reports whether it is a full refresh.
func (r *Refresh) Next() (full bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.listings++
	return r.Every > 0 && r.listings%r.Every == 0
}

// MaxEmptyPages is how many empty pages in a row that each name a next
// page a listing may give (clouds do answer such pages now and then).
const MaxEmptyPages = 100

// PageGuard bounds one paged listing of a cloud's API, whose pages say
// where the next one starts (a marker, token or link): a listing that
// names a next page it already gave (a paging loop), that is still paging
// after its most pages, or that gives MaxEmptyPages empty pages in a row
// fails as a bad answer instead of paging for ever, and nothing of it is
// applied (a sync writes only what every listing gave).
type PageGuard struct {
	op, cloud   string
	most        int
	seen        map[string]bool
	pages       int
	emptyInARow int
}

// NewPageGuard guards the listing op (as errors name it) of cloud ("the
// vault", "AWS KMS") that may take up to most pages.
func NewPageGuard(cloud, op string, most int) *PageGuard {
	return &PageGuard{op: op, cloud: cloud, most: most, seen: map[string]bool{}}
}

// Page checks the page just read: how many entries it held and where the
// next one starts ("" when it is the last).
func (g *PageGuard) Page(entries int, next string) error {
	g.pages++
	bad := func(reason string) error {
		return &Error{Kind: ErrBadAnswer, Op: g.op, Reason: g.cloud + " " + reason + "; nothing of this listing is applied"}
	}
	if next == "" {
		return nil
	}
	if g.seen[next] {
		return bad("named a next page it had already given (a paging loop)")
	}
	g.seen[next] = true
	if g.pages >= g.most {
		return bad(fmt.Sprintf("is still paging after %d pages", g.most))
	}
	if entries > 0 {
		g.emptyInARow = 0
	} else if g.emptyInARow++; g.emptyInARow == MaxEmptyPages {
		return bad(fmt.Sprintf("gave %d empty pages in a row, each naming another", MaxEmptyPages))
	}
	return nil
}
