package cloud

import (
	"testing"
	"time"
)

// TestLastRotated: a key ages from its last rotation, the same way for
// every kind: the date the cloud gives (AWS's newest rotation, Google's
// primary version), else the newest version's creation (Azure's current
// version); a key of one version was never rotated (nil: its creation).
func TestLastRotated(t *testing.T) {
	d := func(days int) time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, days) }
	p := func(days int) *time.Time { x := d(days); return &x }
	cases := []struct {
		name string
		vers []KeyVersion
		want *time.Time
	}{
		{"one version: never rotated", []KeyVersion{{Version: "1", Created: d(0)}}, nil},
		{"current version is the newest (Azure)", []KeyVersion{{Version: "a", Created: d(0)}, {Version: "c", Created: d(300)}, {Version: "b", Created: d(100)}}, p(300)},
		{"the cloud says (Google's primary, not the newest)", []KeyVersion{{Version: "1", Created: d(0), Rotated: p(50)}, {Version: "2", Created: d(90), Rotated: p(50)}}, p(50)},
		{"the cloud says, one version (AWS)", []KeyVersion{{Version: "current", Created: d(0), Rotated: p(200)}}, p(200)},
	}
	for _, c := range cases {
		got := lastRotated(c.vers)
		if (got == nil) != (c.want == nil) || got != nil && !got.Equal(*c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
