package proxy

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keyward/keyward/daemon/api"
)

// The socket's encrypt and decrypt routes hold their query to the API's
// rules: a misspelt boolean is refused, never read as false (a random
// token where a deterministic one was asked for would silently break
// search), and so are repeated and unknown parameters.
func TestSocketCryptQueryRules(t *testing.T) {
	keys := newRing(t, 16, "crm")
	up := newUpstream(t, echo)
	m := startProxy(t, keys.rings, &recorder{}, crmApp(up.URL))
	h := m.Handler(func(*http.Request) api.Role { return api.RoleAdmin })
	post := func(target string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, target, strings.NewReader("123-45-6789")))
		var e api.Error
		if rec.Code != http.StatusOK && json.Unmarshal(rec.Body.Bytes(), &e) == nil {
			return rec.Code, e.Message
		}
		return rec.Code, rec.Body.String()
	}
	for _, tc := range []struct{ target, want string }{
		{"/v1/encrypt?app=crm&deterministic=yes", `"deterministic" must be true or false, got "yes"`},
		{"/v1/encrypt?app=crm&deterministic=1", "must be true or false"},
		{"/v1/encrypt?app=crm&deterministic=true&deterministic=false", `"deterministic" is given 2 times`},
		{"/v1/encrypt?app=crm&app=other", `"app" is given 2 times`},
		{"/v1/encrypt?app=crm&determinstic=true", `unknown query parameter "determinstic"`},
		{"/v1/decrypt?app=crm&deterministic=true", `unknown query parameter "deterministic"`},
		{"/v1/encrypt?app=", `query parameter "app" is empty`},
	} {
		code, body := post(tc.target)
		if code != http.StatusBadRequest || !strings.Contains(body, tc.want) {
			t.Errorf("POST %s: %d %s, want 400 with %s", tc.target, code, body, tc.want)
		}
	}
	// The documented spelling gives the same token twice.
	_, a := post("/v1/encrypt?app=crm&deterministic=true")
	code, b := post("/v1/encrypt?app=crm&deterministic=true")
	if code != http.StatusOK || a != b {
		t.Fatalf("deterministic=true: %d, tokens %q and %q", code, a, b)
	}
}
