package tui_test

import (
	"strings"
	"testing"

	"github.com/keyward/keyward/tui/common"
)

const longErr = "sync of kms-prod refused: the KMS at kms.acme.internal:5696 rejected the client certificate (unknown authority); install the certificate its CA signed with: keyward cert install kms-prod"

// A status message longer than the status line is kept whole: it takes the
// help line's row too while it shows.
func TestStatusMessageWhole(t *testing.T) {
	tm := startLoaded(t, newFixture(), 80, 24)
	tm.Send(common.FlashMsg{Text: longErr, Err: true})
	waitFor(t, tm, "keyward cert install kms-prod")
	view := golden(t, tm, 80, 24)
	flat := strings.Join(strings.Fields(view), " ")
	if !strings.Contains(flat, "unknown authority); install the certificate its CA signed with: keyward cert install kms-prod") {
		t.Errorf("the message is not whole:\n%s", view)
	}
}

// A message too long even for two lines says where it is whole: the log,
// which L opens, newest first, each message wrapped whole; esc closes it.
func TestMessageLog(t *testing.T) {
	tm := startLoaded(t, newFixture(), 80, 24)
	tm.Send(common.FlashMsg{Text: "synced kms-prod"})
	waitFor(t, tm, "✔ synced kms-prod")
	huge := strings.Repeat("the vault answered 503 Service Unavailable; ", 8) + "END-OF-MESSAGE"
	tm.Send(common.FlashMsg{Text: huge, Err: true})
	waitFor(t, tm, "(L: whole message)")
	press(tm, "L")
	waitFor(t, tm, "Messages — newest first", "END-OF-MESSAGE", "synced kms-prod")
	view := golden(t, tm, 80, 24)
	if strings.Index(view, "END-OF-MESSAGE") > strings.Index(view, "synced kms-prod") {
		t.Errorf("the log is not newest first:\n%s", view)
	}
}

func TestMessageLogCloses(t *testing.T) {
	tm := startLoaded(t, newFixture(), 80, 24)
	press(tm, "L")
	waitFor(t, tm, "no messages yet")
	press(tm, "esc", "j")
	view := finalView(t, tm)
	if strings.Contains(view, "Messages") || selectedRow(t, view) != 1 {
		t.Errorf("esc did not close the log, or j did not reach the keys:\n%s", view)
	}
}
