package localapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/keyward/keyward/daemon/api"
)

// TestBeginBeforeServe: a state-changing request is noted (Begin) only
// once the activity log is known writable, before its handler runs; when
// it cannot be noted, the handler never runs and the answer is 503 fail
// closed; a read is never noted.
func TestBeginBeforeServe(t *testing.T) {
	admin := api.Caller{UID: 0, User: "root", Role: api.RoleAdmin}
	var ran int
	var begun audited
	var heard audited
	beginErr, readyErr := error(nil), error(nil)
	serve := func(w http.ResponseWriter, r *http.Request) error {
		ran++
		if len(begun.all()) != ran && r.Method == http.MethodPost {
			t.Errorf("the handler ran before the request was noted in flight")
		}
		return WriteJSON(w, map[string]string{"ok": "yes"})
	}
	h := New(Services{Daemon: syncOnly{}, Audit: heard.hook,
		AuditReady: func(context.Context) error { return readyErr },
		Begin: func(ctx context.Context, a Action) error {
			if beginErr != nil {
				return beginErr
			}
			begun.hook(ctx, a)
			return nil
		},
		Extra: []Route{{Method: http.MethodPost, Pattern: "/v1/thing/{x}", Role: api.RoleAdmin, Serve: serve},
			{Method: http.MethodGet, Pattern: "/v1/thing/{x}", Role: api.RoleUser, Serve: serve}}})

	if rec := call(h, admin, http.MethodPost, "/v1/thing/a", ""); rec.Code != http.StatusOK || len(begun.all()) != 1 || len(heard.all()) != 1 {
		t.Fatalf("a good request: %d, noted %d times, audited %d times; want 200, 1, 1", rec.Code, len(begun.all()), len(heard.all()))
	}
	if rec := call(h, admin, http.MethodGet, "/v1/thing/a", ""); rec.Code != http.StatusOK || len(begun.all()) != 1 {
		t.Fatalf("a read was noted in flight (%d notes)", len(begun.all()))
	}

	readyErr = errors.New("the activity log is full")
	if rec := call(h, admin, http.MethodPost, "/v1/thing/b", ""); rec.Code != http.StatusServiceUnavailable || len(begun.all()) != 1 {
		t.Fatalf("with an unwritable activity log: %d, %d notes; want 503 and no new note", rec.Code, len(begun.all()))
	}
	readyErr = nil

	beginErr = errors.New("disk I/O error")
	ranBefore := ran
	rec := call(h, admin, http.MethodPost, "/v1/thing/c", "")
	e := answer(t, "unnoted", rec)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(e.Message, "fail closed") || !strings.Contains(e.Message, "disk I/O error") {
		t.Fatalf("a request that cannot be noted: %d %+v, want 503 fail closed naming the cause", rec.Code, e)
	}
	if ran != ranBefore || len(heard.all()) != 1 {
		t.Fatalf("a request that could not be noted ran (%d runs) or was audited (%d)", ran-ranBefore, len(heard.all()))
	}
}
