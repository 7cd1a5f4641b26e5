package cloud

import (
	"context"
	"fmt"

	"github.com/keyward/keyward/daemon/sources"
	"github.com/keyward/keyward/engine"
)

// LogReader is implemented by a connector whose cloud keeps its own
// record of what happened to its keys (AWS: each key's rotation history
// and CloudTrail): after each sync the source reads what was added since
// the last read, page by page, and records each page with the cursor to
// continue from in one transaction, so a crash neither loses nor repeats
// anything.
type LogReader interface {
	// ReadLog returns one page of the log from cursor on (nil: the first
	// read; the connector decides how far back it goes) and the cursor
	// after it. More says another page is ready now.
	ReadLog(ctx context.Context, cursor []byte) (LogPage, error)
}

// LogPage is one page of a cloud's log: activity and use of keys named by
// their connector name and version.
type LogPage struct {
	Events []LogEvent
	Usage  []LogUse
	// Cursor is where the next read starts (kept across restarts; never
	// key material).
	Cursor []byte
	More   bool
}

// LogEvent is an activity event of one key (Event.KeyID and Source are
// filled in by the source).
type LogEvent struct {
	Key, Version string
	Event        engine.Event
}

// LogUse is one key's use by one service or principal in one hour.
type LogUse struct {
	Key, Version string
	Usage        engine.Usage
}

// maxLogPages bounds the pages one sync reads; the rest waits for the
// next sync (the cursor says where).
const maxLogPages = 50

// readLog records what the connector's log holds since the last read.
func (s *SyncSource) readLog(ctx context.Context, lr LogReader) error {
	if !s.logLoaded {
		if mem, ok := s.sink.(sources.Memory); ok {
			b, err := mem.Recall(ctx, s.name)
			if err != nil {
				return fmt.Errorf("read where the log of %s was read to: %w", s.name, err)
			}
			s.logCursor = b
		}
		s.logLoaded = true
	}
	for range maxLogPages {
		page, err := lr.ReadLog(ctx, s.logCursor)
		if err != nil {
			return err
		}
		b := sources.Batch{Source: s.name, Memory: page.Cursor}
		for _, e := range page.Events {
			ev := e.Event
			ev.Source, ev.KeyID = s.name, engine.KeyID(s.name, e.Key, e.Version)
			b.Events = append(b.Events, ev)
		}
		for _, u := range page.Usage {
			use := u.Usage
			use.KeyID = engine.KeyID(s.name, u.Key, u.Version)
			b.Usage = append(b.Usage, use)
		}
		if _, ok := s.sink.(sources.Memory); !ok {
			b.Memory = nil // a sink that keeps nothing: the cursor lives in memory only
		}
		if len(b.Events) > 0 || len(b.Usage) > 0 || b.Memory != nil {
			if err := s.sink.Apply(ctx, b); err != nil {
				return fmt.Errorf("record the log of %s: %w", s.name, err)
			}
		}
		s.logCursor = page.Cursor
		if !page.More {
			return nil
		}
	}
	return nil
}
