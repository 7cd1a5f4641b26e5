package daemon

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/keyward/keyward/daemon/testkit"
)

// FuzzSocketRequest sends malformed requests to a real daemon over its
// socket: every answer is either a success or a JSON error with a code and
// a message, never a 5xx, never a crash, and the inventory is unchanged.
func FuzzSocketRequest(f *testing.F) {
	for _, s := range []struct{ method, target, body string }{
		{"GET", "/v1/keys?limit=abc", ""},
		{"GET", "/v1/keys?cursor=%ff%fe&sort=-", ""},
		{"GET", "/v1/keys/acme-kms/..%2f..%2fetc", ""},
		{"GET", "/v1/reports/aging?from=+99999999d", ""},
		{"GET", "/v1/activity?from=yesterday", ""},
		{"POST", "/v1/sync?source=%00", "{"},
		{"GET", "/v1/reports/activity?comparison=maybe&limit=0", ""},
		{"DELETE", "/v1/keys", ""},
		{"POST", "/v1/sync?source=", ""},
		{"GET", "/v1/keys?limit=1&limit=2", ""},
		{"GET", "/v1//status", ""},
		{"GET", "/v1/reports/activity?from=0001-01-01&to=9999-12-31", ""},
		{"PUT", "/v1/status", "null"},
	} {
		f.Add(s.method, s.target, s.body)
	}
	r := start(f, nil)
	c := testkit.UnixClient(r.socket)
	c.Transport.(*http.Transport).MaxIdleConnsPerHost = 4
	f.Fuzz(func(t *testing.T, method, target, body string) {
		if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \r\n") {
			return
		}
		if p, _, _ := strings.Cut(target, "?"); p == "/v1/events" && method == "GET" {
			return // a stream: it answers until the client leaves
		}
		switch method {
		case "GET", "POST", "PUT", "DELETE", "PATCH":
		default:
			return
		}
		req, err := http.NewRequest(method, "http://keyward"+target, strings.NewReader(body))
		if err != nil {
			return
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, target, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %s: %s %s", method, target, resp.Status, b)
		}
		if resp.StatusCode >= 400 {
			var e struct{ Code, Message string }
			if json.Unmarshal(b, &e) != nil || e.Code == "" || e.Message == "" {
				t.Fatalf("%s %s: %s with a body that is not a JSON error: %q", method, target, resp.Status, b)
			}
		}
	})
}
