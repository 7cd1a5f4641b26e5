package kmip

import (
	"crypto/tls"
	"fmt"
	"strings"
	"time"

	"github.com/keyward/keyward/daemon/pki"
	"github.com/keyward/keyward/engine"
)

// What the source says about itself for status displays, in its own
// terms; the socket API translates them (api.KMIPClient, api.RingInfo and
// api.KMIPPoll have the same fields).

// ClientInfo is how the source presents itself to its KMS: the client
// certificate in use, a key waiting for its certificate, the TLS settings.
type ClientInfo struct {
	Identity      *engine.ClientIdentity
	Pending       *engine.PendingKey
	TLSMinVersion string
	// CipherSuites are the TLS 1.2 suites offered when the config names
	// them (default: Go's own secure list).
	CipherSuites []string
	// Warning says which configured suites are weaker than the default.
	Warning string
}

// RingInfo describes one application's key ring: metadata only, never
// material.
type RingInfo struct {
	Application string
	Pattern     string
	Capacity    int
	Generations []engine.GenerationInfo
	LastChange  *time.Time
	// Rule is the ordering rule the ring follows.
	Rule string
	// NextOut is the generation the next rotation pushes out of a full
	// ring, with its recent use.
	NextOut *NextOut
}

// NextOut is the oldest generation of a full ring and how much it was
// still used to decrypt in the last Window.
type NextOut struct {
	Name        string
	KeyID       string
	Window      string // e.g. "7d"
	Decrypts    int64
	LastDecrypt *time.Time
	// Unknown is set when the usage could not be read.
	Unknown bool
}

// ClientIdentity is the identity the source presents now.
func (s *Source) ClientIdentity() *engine.ClientIdentity { return s.ident.describe() }

// Client describes the identity, a pending key and the TLS settings.
func (s *Source) Client() ClientInfo {
	c := ClientInfo{Identity: s.ident.describe(), TLSMinVersion: "1.2"}
	if s.minTLS == tls.VersionTLS13 {
		c.TLSMinVersion = "1.3"
	}
	if s.deps.DataDir != "" {
		c.Pending = pki.Pending(s.ident.spec.Installed)
	}
	for _, id := range s.suites {
		c.CipherSuites = append(c.CipherSuites, tls.CipherSuiteName(id))
	}
	if len(s.weakSuites) > 0 {
		c.Warning = fmt.Sprintf("cipher_suites offers %s, weaker than the default (CBC mode%s); move the KMS to TLS 1.3 or AES-GCM suites and remove them",
			strings.Join(s.weakSuites, ", "), rsaKex(s.weakSuites))
	}
	return c
}

// Rings describes this source's application rings: metadata only, never
// material.
func (s *Source) Rings() []RingInfo {
	var out []RingInfo
	for _, a := range s.cfg.Applications {
		r, ok := s.deps.Rings.Ring(a.Name)
		if !ok {
			continue
		}
		ri := RingInfo{Application: a.Name, Pattern: r.Pattern, Capacity: r.Capacity, Generations: r.Infos(), Rule: r.Rule}
		if g := r.NextOut(); g != nil {
			ri.NextOut = s.nextOutOf(a.Name, g.Name)
			if ri.NextOut == nil { // not polled yet (restored ring): usage unknown
				ri.NextOut = &NextOut{Name: g.Name, KeyID: g.ShortID, Window: "7d", Unknown: true}
			}
		}
		if !r.LastChange.IsZero() {
			t := r.LastChange
			ri.LastChange = &t
		}
		out = append(out, ri)
	}
	return out
}
