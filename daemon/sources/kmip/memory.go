package kmip

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/keyward/keyward/daemon/sources"
)

// memory is what the source learned of its KMS and keeps across restarts
// through a sink that is a sources.Memory: never key material. Without it a
// restart would probe wildcards again (status saying "learning…" for a whole
// poll interval). The first poll after a start still reads every object's
// Name and State (a full refresh): what changed while the daemon was down
// is seen before any key joins a ring.
type memory struct {
	// Wildcards: "server" (the KMS expands wildcards in Locate) or
	// "client" (names are matched here).
	Wildcards string `json:"wildcards,omitempty"`
}

// recall restores what an earlier run learned. A sink without memory, or
// nothing stored, leaves the source to learn it.
func (s *Source) recall(ctx context.Context, sink sources.Sink) error {
	mem, ok := sink.(sources.Memory)
	if !ok {
		return nil
	}
	b, err := mem.Recall(ctx, s.cfg.Name)
	if err != nil || len(b) == 0 {
		return err
	}
	var m memory
	if err := json.Unmarshal(b, &m); err != nil {
		s.log.Warn("what an earlier run learned of the KMS cannot be read; learning it again", "err", err)
		return nil
	}
	s.remembered = b
	if s.cfg.Locate == "auto" {
		s.wildcards = map[string]int{"server": 1, "client": -1}[m.Wildcards]
	}
	return nil
}

// remember stores what this source knows now, when it changed.
func (s *Source) remember(ctx context.Context, sink sources.Sink) {
	mem, ok := sink.(sources.Memory)
	if !ok {
		return
	}
	m := memory{}
	if s.cfg.Locate == "auto" {
		m.Wildcards = map[int]string{1: "server", -1: "client"}[s.wildcards]
	}
	b, err := json.Marshal(m)
	if err != nil || bytes.Equal(b, s.remembered) {
		return
	}
	if err := mem.Remember(ctx, s.cfg.Name, b); err != nil {
		s.log.Warn("cannot store what was learned of the KMS; a restart learns it again", "err", err)
		return
	}
	s.remembered = b
}
