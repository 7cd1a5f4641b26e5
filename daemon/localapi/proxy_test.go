package localapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/proxy"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/token"
)

// The socket's encrypt and decrypt routes hold their query to the API's
// rules: a misspelt boolean is refused, never read as false (a random
// token where a deterministic one was asked for would silently break
// search), and so are repeated and unknown parameters.
func TestSocketCryptQueryRules(t *testing.T) {
	h := New(Services{Proxy: crmProxy(t, false)})
	post := func(target string) (int, string) {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, target, strings.NewReader("123-45-6789"))
		h.ServeHTTP(rec, r.WithContext(api.WithCaller(r.Context(), api.Caller{User: "root", Role: api.RoleAdmin})))
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

func isToken(s string) bool { return len(s) > 0 && token.Span([]byte(s)) == len(s) }

// TestSocketEncryptDecryptRoles: users encrypt; decrypting is for admins
// unless proxy.allow_user_decrypt, and each decrypt reaches the audit hook
// with its caller; a caller without a role gets nothing.
func TestSocketEncryptDecryptRoles(t *testing.T) {
	for _, allow := range []bool{false, true} {
		m := crmProxy(t, allow)
		for _, role := range []api.Role{api.RoleAdmin, api.RoleUser, api.RoleNone} {
			var heard audited
			c := serveAs(t, New(Services{Proxy: m, Audit: heard.hook}), api.Caller{UID: 1000, User: "alice", Role: role})
			ctx := context.Background()
			tok, err := c.Encrypt(ctx, api.CryptOptions{App: "crm"}, strings.NewReader("123-45-6789"))
			if role == api.RoleNone {
				var ae *api.Error
				if !errors.As(err, &ae) || ae.Status != 403 {
					t.Fatalf("caller without a role encrypted: %v", err)
				}
				continue
			}
			if err != nil || !isToken(strings.TrimSpace(string(tok))) {
				t.Fatalf("%s encrypt: %q %v", role, tok, err)
			}
			pt, err := c.Decrypt(ctx, api.CryptOptions{App: "crm"}, strings.NewReader(string(tok)))
			if role == api.RoleUser && !allow {
				var ae *api.Error
				if !errors.As(err, &ae) || ae.Status != 403 || !strings.Contains(err.Error(), "allow_user_decrypt") {
					t.Fatalf("user decrypt: %v", err)
				}
				if len(heard.events(engine.OpDecrypted)) != 0 {
					t.Fatal("a refused decrypt was recorded as done")
				}
				continue
			}
			if err != nil || string(pt) != "123-45-6789" {
				t.Fatalf("%s decrypt (allow_user_decrypt %v): %q %v", role, allow, pt, err)
			}
			ev := heard.events(engine.OpDecrypted)
			if len(ev) != 1 || ev[0].Actor != "alice" || !strings.Contains(ev[0].Details, "opened 1 token for "+map[api.Role]string{api.RoleAdmin: "an admin", api.RoleUser: "a user"}[role]+" caller") {
				t.Fatalf("keyward decrypt reached the audit hook as %+v, want once, by alice", ev)
			}
			// A JSON record with tokens decrypts in place.
			doc := `{"ssn":"` + strings.TrimSpace(string(tok)) + `","n":1}`
			pt, err = c.Decrypt(ctx, api.CryptOptions{App: "crm"}, strings.NewReader(doc))
			if err != nil || string(pt) != `{"ssn":"123-45-6789","n":1}` {
				t.Fatalf("decrypt JSON: %s %v", pt, err)
			}
			// A token from a dropped generation fails loudly.
			_, err = c.Decrypt(ctx, api.CryptOptions{App: "crm"}, strings.NewReader("kw1gt.KtOqtqWJ.AAAAAAAA."+strings.Repeat("A", 40)))
			var ae *api.Error
			if !errors.As(err, &ae) || ae.Status != 422 || !strings.Contains(err.Error(), "unknown key generation") {
				t.Fatalf("unknown generation: %v", err)
			}
			if _, err := c.Encrypt(ctx, api.CryptOptions{App: "nope"}, strings.NewReader("x")); !errors.As(err, &ae) || ae.Status != 404 || !strings.Contains(err.Error(), `configured: crm`) {
				t.Fatalf("unknown app: %v", err)
			}
			sts, err := c.Proxy(ctx)
			if err != nil || len(sts) != 1 || sts[0].App != "crm" {
				t.Fatalf("GET /v1/proxy: %+v %v", sts, err)
			}
		}
	}
}

// TestCryptInputLimit: more than proxy.MaxCryptInput bytes is a 413 that
// says how much is taken.
func TestCryptInputLimit(t *testing.T) {
	c := serveAs(t, New(Services{Proxy: crmProxy(t, false)}), api.Caller{User: "root", Role: api.RoleAdmin})
	_, err := c.Encrypt(context.Background(), api.CryptOptions{App: "crm"}, strings.NewReader(strings.Repeat("x", proxy.MaxCryptInput+1)))
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Status != 413 || !strings.Contains(ae.Message, "4 MiB") {
		t.Fatalf("oversized input: %v", err)
	}
}
