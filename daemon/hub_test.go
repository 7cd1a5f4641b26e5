package daemon

import (
	"testing"

	"github.com/keyward/keyward/daemon/api"
)

// TestHubSequence: a hello carries the sequence number of the latest
// notification, and every notification published after the subscription
// comes on its stream with the next numbers, none skipped.
func TestHubSequence(t *testing.T) {
	h := newHub()
	h.publish(api.Notification{Type: api.NoteKeys})
	h.publish(api.Notification{Type: api.NoteSources})
	ch, hello, cancel, err := h.subscribe(1, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	if hello.Type != api.NoteHello || hello.Seq != 2 {
		t.Fatalf("hello = %+v, want a hello at seq 2", hello)
	}
	h.publish(api.Notification{Type: api.NoteKeys})
	h.publish(api.Notification{Type: api.NoteActivity})
	for want := uint64(3); want <= 4; want++ {
		if n := <-ch; n.Seq != want {
			t.Fatalf("notification %+v, want seq %d", n, want)
		}
	}
}
