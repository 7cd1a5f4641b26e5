package cloud

import (
	"context"
	"testing"
)

// TestResolvePendingSkipsUploadsUnderWay: a listing while an upload is
// between sealing its pending copy and keeping the backup must not take
// that copy for a crash's (settling it twice, or calling it interrupted).
func TestResolvePendingSkipsUploadsUnderWay(t *testing.T) {
	ctx := context.Background()
	m, _, _ := indexFixture(t, 0)
	id, err := m.holdPending(ctx, Caller{User: "alice"}, "vault", backupConn{}, ImportRequest{Name: "k", Symmetric: make([]byte, 32)})
	if err != nil || id == "" {
		t.Fatalf("hold: %q %v", id, err)
	}
	left, err := m.ResolvePending(ctx)
	if err != nil || len(left) != 0 {
		t.Fatalf("an upload under way was settled or listed: %+v %v", left, err)
	}
	m.settled(id)
	left, err = m.ResolvePending(ctx)
	if err != nil || len(left) != 1 || left[0].Pending == "" || left[0].ID != id {
		t.Fatalf("after the upload stopped: %+v %v", left, err)
	}
}
