// Package saas is the demo's cloud application: a small JSON record store
// (create, list, search, get) that keeps exactly what it is sent, so the
// demo can show that behind the keyward proxy it holds only tokens; and a
// gentle traffic driver that keeps the Proxy pane alive.
package saas

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/keyward/keyward/daemon/config"
)

// MaxRecords is how many records the store keeps (oldest dropped first).
const MaxRecords = 5000

// Server is a running demo SaaS application.
type Server struct {
	ln  net.Listener
	srv *http.Server

	mu      sync.Mutex
	next    int
	order   []string
	records map[string]json.RawMessage
}

// ProxyApp is the proxy configuration the demo uses for this application:
// ssn and the card number encrypted with random nonces, email
// deterministically so that GET /records?email=... still finds records.
func ProxyApp(name, listen, upstream string) config.ProxyApp {
	return config.ProxyApp{Name: name, Listen: listen, Upstream: upstream,
		Fields:              []string{"ssn", "card.number", "records[*].ssn", "records[*].card.number"},
		DeterministicFields: []string{"email", "records[*].email"},
	}
}

// Start serves the application on addr (host:port, port 0 for any) until
// ctx ends or Close is called.
func Start(ctx context.Context, addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("demo saas: listen on %s: %w", addr, err)
	}
	s := &Server{ln: ln, records: map[string]json.RawMessage{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /records", s.create)
	mux.HandleFunc("GET /records", s.list)
	mux.HandleFunc("GET /records/{id}", s.get)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go s.srv.Serve(ln)
	go func() {
		<-ctx.Done()
		s.Close()
	}()
	return s, nil
}

// URL is the application's base URL, e.g. http://127.0.0.1:8081.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// Close stops the application.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}

// Records returns the stored records, oldest first, exactly as held.
func (s *Server) Records() []json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]json.RawMessage, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.records[id])
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	var rec map[string]json.RawMessage
	if err := json.Unmarshal(b, &rec); err != nil || rec == nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "a record is a JSON object"})
		return
	}
	s.mu.Lock()
	s.next++
	id := fmt.Sprintf("r%06d", s.next)
	rec["id"], _ = json.Marshal(id)
	rec["created"], _ = json.Marshal(time.Now().UTC().Format(time.RFC3339))
	raw, _ := json.Marshal(rec)
	s.records[id] = raw
	s.order = append(s.order, id)
	if len(s.order) > MaxRecords {
		delete(s.records, s.order[0])
		s.order = s.order[1:]
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	w.Write(raw)
}

// list returns the newest records (?limit=N, default 20), optionally only
// those whose email equals ?email= (which works on deterministic tokens).
func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	limit := 20
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "limit is 1..1000"})
			return
		}
		limit = n
	}
	email := r.URL.Query().Get("email")
	s.mu.Lock()
	out := []json.RawMessage{}
	for i := len(s.order) - 1; i >= 0 && len(out) < limit; i-- {
		raw := s.records[s.order[i]]
		if email != "" {
			var v struct {
				Email string `json:"email"`
			}
			if json.Unmarshal(raw, &v) != nil || v.Email != email {
				continue
			}
		}
		out = append(out, raw)
	}
	total := len(s.order)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"records": out, "total": total})
}

func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	raw, ok := s.records[r.PathValue("id")]
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no record " + r.PathValue("id")})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(raw)
}
