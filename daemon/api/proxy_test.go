package api

import (
	"testing"
	"time"
)

func TestProxyNotificationRoundTrip(t *testing.T) {
	st := ProxyStatus{App: "crm", Time: time.Unix(1700000000, 0).UTC(), Requests: 7, Errors: map[string]int64{"tampered": 1},
		Ring: ProxyRing{KeyID: "AbCdEfGh", Size: 3}}
	n := ProxyNotification(st)
	if n.Type != NoteProxy || n.Source != "crm" {
		t.Fatalf("notification %+v", n)
	}
	got, err := n.ProxyStatus()
	if err != nil || got.Requests != 7 || got.Errors["tampered"] != 1 || got.Ring.KeyID != "AbCdEfGh" || !got.Time.Equal(st.Time) {
		t.Fatalf("decoded %+v %v", got, err)
	}
	if _, err := (Notification{Type: NoteKeys}).ProxyStatus(); err == nil {
		t.Fatal("a keys notification decoded as proxy status")
	}
}
