package kmip

import (
	"time"
)

// The KMS connection's lifetime. A connection is opened by the first
// request of a poll (connect, which tries the addresses in order) and, unless
// keep_alive is set, closed idle_close after the poll: a KMS that times
// idle connections out logs an error for each (PyKMIP: a read-timeout
// traceback every 10 s per connection), and its log is what administrators
// are told to read. Polls closer together than idle_close share one
// connection.

// pollStarted stops a pending idle close: the poll uses the connection.
// The caller holds pollMu.
func (s *Source) pollStarted() {
	s.pollSeq++
	if s.idle != nil {
		s.idle.Stop()
		s.idle = nil
	}
}

// pollEnded arms the idle close of the connection the poll used. The
// caller holds pollMu.
func (s *Source) pollEnded() {
	if s.cfg.KeepAlive || s.client == nil {
		return
	}
	seq, c := s.pollSeq, s.client
	s.idle = time.AfterFunc(time.Duration(s.cfg.IdleClose), func() {
		s.pollMu.Lock()
		defer s.pollMu.Unlock()
		// A poll that started since owns the connection now.
		if s.pollSeq == seq && s.client == c {
			s.log.Debug("closing the idle KMS connection", "addr", s.connected, "idle", time.Duration(s.cfg.IdleClose))
			s.closeClient()
		}
	})
}
