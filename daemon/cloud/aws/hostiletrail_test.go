package aws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/engine"
)

// TestHostileCloudTrailPaging: a CloudTrail whose LookupEvents pages never
// end, or that hands back a NextToken it gave before, fails the read with
// a reason naming it — after a bounded number of requests, applying none
// of the window (no events, no usage, the cursor not moved) — instead of
// looping forever and holding every page.
func TestHostileCloudTrailPaging(t *testing.T) {
	old := maxTrailPages
	maxTrailPages = 6 // LookupEvents is paced at 2 a second
	t.Cleanup(func() { maxTrailPages = old })
	lk := StartLocalKMS(t)
	for _, tc := range []struct {
		name  string
		token func(n int64) string
		says  string
	}{
		{"endless", func(n int64) string { return fmt.Sprintf("page-%d", n) }, "still paging after 6 pages"},
		{"repeated token", func(n int64) string { return "again" }, "same NextToken twice"},
		{"token cycle", func(n int64) string { return fmt.Sprintf("t%d", n%3) }, "same NextToken twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := calls.Add(1)
				var evs []map[string]any
				for i := range 50 {
					evs = append(evs, map[string]any{"EventId": fmt.Sprintf("e%d-%d", n, i), "EventName": "DisableKey",
						"EventTime": float64(time.Now().Add(-2 * time.Hour).Unix()), "Username": "arn:aws:iam::111122223333:user/bob",
						"Resources": []map[string]any{{"ResourceType": "AWS::KMS::Key", "ResourceName": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}}})
				}
				w.Header().Set("Content-Type", "application/x-amz-json-1.1")
				json.NewEncoder(w).Encode(map[string]any{"Events": evs, "NextToken": tc.token(n)})
			}))
			t.Cleanup(srv.Close)
			s := LocalSettings(t, lk, "aws-hostile")
			s.CloudTrail, s.CloudTrailEndpoint, s.CloudTrailLookback = true, srv.URL, engine.Duration(3*time.Hour)
			a, err := New(context.Background(), s, nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cursor := []byte(`{"trail":"` + time.Now().UTC().Add(-3*time.Hour).Truncate(time.Second).Format(time.RFC3339) + `"}`)
			page, err := a.ReadLog(ctx, cursor)
			if err == nil {
				t.Fatalf("a hostile CloudTrail was read: %d events, cursor %s", len(page.Events), page.Cursor)
			}
			if ctx.Err() != nil {
				t.Fatalf("the read ran until the test's deadline: %v", err)
			}
			if !errors.Is(err, cloud.ErrBadAnswer) || !strings.Contains(err.Error(), tc.says) || !strings.Contains(err.Error(), "read CloudTrail") {
				t.Fatalf("error %q, want a bad answer of CloudTrail saying %q", err, tc.says)
			}
			if len(page.Events) != 0 || len(page.Usage) != 0 || page.Cursor != nil {
				t.Fatalf("a failed read applied part of the window: %+v", page)
			}
			if n := calls.Load(); n > 7 {
				t.Fatalf("%d LookupEvents requests for one failed window", n)
			}
		})
	}
}
