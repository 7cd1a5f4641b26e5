package daemon

import (
	"context"
	"log/slog"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/sources"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/store"
)

// sink is what sources write through: the store, then a notification, so
// data flows one way (source → store → API → front ends).
type sink struct {
	st  *store.Store
	hub *hub
	log *slog.Logger
	now func() time.Time
	// written is told of every event recorded (metrics).
	written func(engine.Event)
}

var _ sources.Sink = (*sink)(nil)
var _ sources.Memory = (*sink)(nil)

func (s *sink) Apply(ctx context.Context, b sources.Batch) error {
	recorded, err := s.st.Apply(ctx, b)
	if err != nil {
		return err
	}
	if len(b.Upsert) > 0 || len(b.Remove) > 0 {
		s.hub.publish(api.Notification{Type: api.NoteKeys, Time: s.now(), Source: b.Source})
	}
	s.publishEvents(recorded)
	return nil
}

func (s *sink) publishEvents(events []engine.Event) {
	for i := range events {
		e := events[i]
		if s.written != nil {
			s.written(e)
		}
		s.hub.publish(api.Notification{Type: api.NoteActivity, Time: e.Time, Source: e.Source, Event: &e})
	}
}

func (s *sink) SetHealth(ctx context.Context, source string, h engine.Health, reason string) error {
	changed, recorded, err := s.st.SetHealth(ctx, source, h, reason, func(prev engine.Health) *engine.Event {
		return engine.HealthEvent(source, prev, h, reason)
	})
	if err != nil {
		return err
	}
	if changed {
		if h == engine.HealthDegraded {
			s.log.Warn("source degraded", "source", source, "reason", reason)
		} else {
			s.log.Info("source health", "source", source, "health", h)
		}
	}
	// Every report is news for the Sources pane: a changed health, or a
	// poll that succeeded (its last sync time and poll details moved).
	if changed || h == engine.HealthOK {
		s.hub.publish(api.Notification{Type: api.NoteSources, Time: s.now(), Source: source})
	}
	s.publishEvents(recorded)
	return nil
}

// Synced implements sources.SyncRecorder.
func (s *sink) Synced(ctx context.Context, source string) error {
	if err := s.st.MarkSynced(ctx, source); err != nil {
		return err
	}
	s.hub.publish(api.Notification{Type: api.NoteSources, Time: s.now(), Source: source})
	return nil
}

// Recall implements sources.Memory.
func (s *sink) Recall(ctx context.Context, source string) ([]byte, error) {
	return s.st.SourceMemory(ctx, source)
}

// Remember implements sources.Memory.
func (s *sink) Remember(ctx context.Context, source string, blob []byte) error {
	return s.st.SetSourceMemory(ctx, source, blob)
}

func (s *sink) Known(ctx context.Context, source string) ([]engine.Key, error) {
	return s.st.SourceKeys(ctx, source)
}

// recordDone writes a socket request's events and removes its in-flight
// note in one transaction, and publishes them.
func (s *sink) recordDone(ctx context.Context, id string, events ...engine.Event) error {
	recorded, err := s.st.RecordDone(ctx, id, events...)
	if err != nil {
		return err
	}
	s.publishEvents(recorded)
	return nil
}

// record writes events done through keyward (API calls) and publishes them.
func (s *sink) record(ctx context.Context, events ...engine.Event) error {
	recorded, err := s.st.Record(ctx, events...)
	if err != nil {
		return err
	}
	s.publishEvents(recorded)
	return nil
}
