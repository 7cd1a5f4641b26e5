package report

import (
	"slices"
	"sort"
	"time"

	"github.com/keyward/keyward/engine"
)

// UsageRow is the use one application made of one key generation in a range.
type UsageRow struct {
	App      string    `json:"app"`
	KeyID    string    `json:"key_id"`
	Encrypts int64     `json:"encrypts"`
	Decrypts int64     `json:"decrypts"`
	First    time.Time `json:"first"`
	Last     time.Time `json:"last"`
}

// UsageHour is the raw material: counts for one key, app and hour.
type UsageHour struct {
	Hour     time.Time
	App      string
	KeyID    string
	Encrypts int64
	Decrypts int64
	// Last is the latest use in the hour; zero when not known, and then
	// the hour's start stands for it.
	Last time.Time
}

// Usage is the Service/Usage report.
type Usage struct {
	Range Range      `json:"range"`
	Rows  []UsageRow `json:"rows"`
	Apps  []AppUsage `json:"apps"`
	// Unused are keys that could be used (active, disabled or deactivated
	// keys of a proxied application) with no use in the range: candidates
	// for retirement.
	Unused []engine.Key `json:"unused"`
	// UnusedTotal counts every unused candidate; Unused may hold fewer
	// (the API's limit).
	UnusedTotal int `json:"unused_total"`
}

// AppUsage totals one application.
type AppUsage struct {
	App      string `json:"app"`
	Keys     int    `json:"keys"`
	Encrypts int64  `json:"encrypts"`
	Decrypts int64  `json:"decrypts"`
}

// UnusedStates are the states of keys that could be used, so are listed
// as unused when they were not.
var UnusedStates = []engine.State{engine.StateActive, engine.StateDisabled, engine.StateDeactivated}

// BuildUsage aggregates hourly counts in r per (app, key), totals each app,
// and lists candidate keys with no use. Rows are ordered by total use,
// busiest first.
func BuildUsage(hours []UsageHour, candidates []engine.Key, r Range) Usage {
	type k struct{ app, key string }
	agg := map[k]*UsageRow{}
	for _, h := range hours {
		if !r.Contains(h.Hour) {
			continue
		}
		last := h.Hour
		if h.Last.After(last) {
			last = h.Last
		}
		row := agg[k{h.App, h.KeyID}]
		if row == nil {
			row = &UsageRow{App: h.App, KeyID: h.KeyID, First: h.Hour, Last: last}
			agg[k{h.App, h.KeyID}] = row
		}
		row.Encrypts += h.Encrypts
		row.Decrypts += h.Decrypts
		if h.Hour.Before(row.First) {
			row.First = h.Hour
		}
		if last.After(row.Last) {
			row.Last = last
		}
	}
	u := Usage{Range: r, Rows: []UsageRow{}, Apps: []AppUsage{}, Unused: []engine.Key{}}
	used := map[string]bool{}
	apps := map[string]*AppUsage{}
	for _, row := range agg {
		u.Rows = append(u.Rows, *row)
		used[row.KeyID] = true
		a := apps[row.App]
		if a == nil {
			a = &AppUsage{App: row.App}
			apps[row.App] = a
		}
		a.Keys++
		a.Encrypts += row.Encrypts
		a.Decrypts += row.Decrypts
	}
	sort.Slice(u.Rows, func(i, j int) bool {
		ti, tj := u.Rows[i].Encrypts+u.Rows[i].Decrypts, u.Rows[j].Encrypts+u.Rows[j].Decrypts
		if ti != tj {
			return ti > tj
		}
		if u.Rows[i].App != u.Rows[j].App {
			return u.Rows[i].App < u.Rows[j].App
		}
		return u.Rows[i].KeyID < u.Rows[j].KeyID
	})
	for _, a := range apps {
		u.Apps = append(u.Apps, *a)
	}
	sort.Slice(u.Apps, func(i, j int) bool { return u.Apps[i].App < u.Apps[j].App })
	for _, c := range candidates {
		if used[c.ID] {
			continue
		}
		if slices.Contains(UnusedStates, c.State) {
			u.Unused = append(u.Unused, c)
		}
	}
	sort.Slice(u.Unused, func(i, j int) bool { return u.Unused[i].ID < u.Unused[j].ID })
	u.UnusedTotal = len(u.Unused)
	return u
}
