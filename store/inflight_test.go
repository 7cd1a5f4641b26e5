package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/engine"
)

func unansweredEvent(r InFlight) engine.Event {
	return engine.Event{Operation: engine.OpUnanswered, Actor: r.Caller, Origin: engine.OriginKeyward,
		Details: "asked by " + r.Caller + ": " + r.Method + " " + r.Path + " at " + r.Time.Format(time.RFC3339)}
}

// TestInFlightNotes: a request noted in flight and answered leaves its
// events and no note (one transaction); one never answered becomes one
// chained event at the next settle, and a second settle adds nothing.
func TestInFlightNotes(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	at := time.Date(2026, 12, 4, 23, 0, 0, 0, time.UTC)
	done := InFlight{ID: "a1", Time: at, Caller: "alice", UID: 1001, Role: "admin", Method: "POST",
		Pattern: "/v1/cloud/{source}/keys/{name}/{op}", Path: "/v1/cloud/vault/keys/k/rotate"}
	killed := done
	killed.ID, killed.Caller = "b2", "bob"
	for _, r := range []InFlight{done, killed} {
		if err := s.NoteInFlight(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.NoteInFlight(ctx, done); err == nil {
		t.Fatal("the same request id was noted twice")
	}
	if _, err := s.RecordDone(ctx, "a1", ev(engine.OpRotated)); err != nil {
		t.Fatal(err)
	}
	if n, err := s.InFlightCount(ctx); err != nil || n != 1 {
		t.Fatalf("%d notes left after one request answered (err %v), want 1", n, err)
	}
	got, err := s.SettleInFlight(ctx, unansweredEvent)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Actor != "bob" || !strings.Contains(got[0].Details, "POST /v1/cloud/vault/keys/k/rotate at 2026-12-04T23:00:00Z") {
		t.Fatalf("settled %+v, want one event of bob's request", got)
	}
	again, err := s.SettleInFlight(ctx, unansweredEvent)
	if err != nil || len(again) != 0 {
		t.Fatalf("a second settle recorded %+v (err %v)", again, err)
	}
	if n, brk := walkLive(t, s); brk != nil || n != 2 {
		t.Fatalf("chain of %d events, break %v; want 2 (the rotation, the unanswered request)", n, brk)
	}
	evs, _, err := s.Events(ctx, EventQuery{Operation: engine.OpUnanswered})
	if err != nil || len(evs) != 1 {
		t.Fatalf("%d unanswered events (err %v), want 1", len(evs), err)
	}
}

// TestRecordDoneFailsWhole: when the request's events cannot be written,
// its note stays (the next start reports the request) rather than the
// note going with nothing recorded.
func TestRecordDoneFailsWhole(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	if err := s.NoteInFlight(ctx, InFlight{ID: "c3", Time: time.Now(), Caller: "carol", Method: "POST", Path: "/v1/x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordDone(ctx, "c3", engine.Event{Operation: engine.OpRotated}); err == nil {
		t.Fatal("an event without actor or origin was recorded")
	}
	if n, err := s.InFlightCount(ctx); err != nil || n != 1 {
		t.Fatalf("%d notes after a failed record (err %v), want the note kept", n, err)
	}
}
