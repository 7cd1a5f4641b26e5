package daemon

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/keyward/keyward/daemon/api"
)

// TestUnrecordableChangeIsRefused: when the activity log cannot be written
// (here its chain head is damaged in the database file), a state-changing
// request is refused with 503 and nothing is done; once the log can be
// written again, the same request works. Neither leaves a note of a
// request in flight: the refused one was never noted, the answered one's
// note went with its events.
func TestUnrecordableChangeIsRefused(t *testing.T) {
	r := start(t, nil)
	ctx := context.Background()
	c := api.NewClient(r.socket)
	db, err := sql.Open("sqlite", "file:"+r.cfg.DatabasePath()+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var good []byte
	if err := db.QueryRow(`SELECT hash FROM audit_head`).Scan(&good); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE audit_head SET hash = x'00'`); err != nil {
		t.Fatal(err)
	}
	_, err = c.Sync(ctx, "")
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable || !strings.Contains(ae.Message, "fail closed") {
		t.Fatalf("sync with an unwritable activity log: %v", err)
	}
	var synced int
	db.QueryRow(`SELECT count(*) FROM events WHERE operation = 'synced'`).Scan(&synced)
	if synced != 0 {
		t.Fatalf("%d synced events: the refused request ran", synced)
	}
	noted := func() int {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM requests_in_flight`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := noted(); n != 0 {
		t.Fatalf("the refused request left %d notes in flight", n)
	}
	if _, err := db.Exec(`UPDATE audit_head SET hash = ?`, good); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Sync(ctx, ""); err != nil {
		t.Fatalf("sync once the log is writable: %v", err)
	}
	if n := noted(); n != 0 {
		t.Fatalf("an answered request left %d notes in flight", n)
	}
}
