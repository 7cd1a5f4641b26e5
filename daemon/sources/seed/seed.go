// Package seed is a key source that holds a fixed, realistic inventory: the
// keys of a fictitious company (acme) at every age and state. It stands in
// for a real KMS where none is configured (tests, and the demo before its
// embedded servers start) and never touches the network.
package seed

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/keyward/keyward/daemon/sources"
	"github.com/keyward/keyward/engine"
)

// Source serves a fixed set of keys.
type Source struct {
	name string
	keys []engine.Key
}

// New returns a seed source named name holding keys.
func New(name string, keys []engine.Key) *Source { return &Source{name: name, keys: keys} }

func (s *Source) Name() string    { return s.name }
func (s *Source) Kind() string    { return "seed" }
func (s *Source) Address() string { return "built-in" }

// Run publishes the keys once (recording discoveries for keys the inventory
// does not know yet), reports the source healthy, then waits.
func (s *Source) Run(ctx context.Context, sink sources.Sink) error {
	known, err := sink.Known(ctx, s.name)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, k := range known {
		seen[k.ID] = true
	}
	b := sources.Batch{Source: s.name, Upsert: s.keys}
	for _, k := range s.keys {
		if !seen[k.ID] {
			b.Events = append(b.Events, engine.Event{Time: *k.Created, KeyID: k.ID, Source: s.name,
				Operation: engine.OpDiscovered, Actor: s.name, Origin: engine.OriginSource,
				Details: fmt.Sprintf("%s-%d %s", k.Algorithm, k.Length, k.State)})
		}
	}
	if err := sink.Apply(ctx, b); err != nil {
		return err
	}
	if err := sink.SetHealth(ctx, s.name, engine.HealthOK, ""); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

// AcmeKeys is the demo inventory at now: acme.crm.key.0…5 (one generation
// every ~8 months, the oldest destroyed, one compromised), acme.hr.key.0…2
// (one expiring within a week, one disabled), and a few standalone keys that
// are expired or long overdue for rotation.
func AcmeKeys(source string, now time.Time) []engine.Key {
	day := 24 * time.Hour
	at := func(d time.Duration) *time.Time { t := now.Add(d).Truncate(time.Second).UTC(); return &t }
	mk := func(name string, alg string, bits int, st engine.State, created, expires time.Duration) engine.Key {
		k := engine.Key{ID: engine.KeyID(source, name, ""), Source: source, Name: name, Algorithm: alg, Length: bits,
			State: st, Created: at(-created), Activated: at(-created + time.Hour)}
		if expires != 0 {
			k.Expires = at(expires)
		}
		sum := sha256.Sum256([]byte("keyward/seed/" + name))
		k.Fingerprint = hex.EncodeToString(sum[:])
		return k
	}
	keys := []engine.Key{
		mk("acme.crm.key.0", "AES", 256, engine.StateDestroyed, 4*365*day, 0),
		mk("acme.crm.key.1", "AES", 256, engine.StateCompromised, 3*365*day, 0),
		mk("acme.crm.key.2", "AES", 256, engine.StateDeactivated, 2*365*day, 0),
		mk("acme.crm.key.3", "AES", 256, engine.StateActive, 400*day, -20*day),
		mk("acme.crm.key.4", "AES", 256, engine.StateActive, 200*day, 25*day),
		mk("acme.crm.key.5", "AES", 256, engine.StateActive, 3*day, 365*day),
		mk("acme.hr.key.0", "AES", 256, engine.StateActive, 500*day, 5*day),
		mk("acme.hr.key.1", "AES", 256, engine.StateDisabled, 90*day, 60*day),
		mk("acme.hr.key.2", "AES", 256, engine.StateActive, 12*day, 2*365*day),
		mk("acme.billing.signing", "RSA", 3072, engine.StateActive, 3*365*day, 0),
		mk("acme.backup.kek", "AES", 256, engine.StatePreActive, 2*day, 180*day),
		mk("acme.legacy.token", "AES", 128, engine.StateActive, 6*365*day, -400*day),
	}
	for i := range keys {
		switch keys[i].State {
		case engine.StateDestroyed:
			keys[i].Destroyed = at(-2 * 365 * day)
			keys[i].Deactivated = at(-3 * 365 * day)
		case engine.StateCompromised, engine.StateDeactivated:
			keys[i].Deactivated = at(-365 * day)
		case engine.StatePreActive:
			keys[i].Activated = nil
		}
		if keys[i].Name[:8] == "acme.crm" || keys[i].Name[:7] == "acme.hr" {
			keys[i].Application = keys[i].Name[5:8]
			if keys[i].Name[5:7] == "hr" {
				keys[i].Application = "hr"
			}
		}
	}
	return keys
}

// SyncNow has nothing to fetch: the seed's keys never change.
func (s *Source) SyncNow(ctx context.Context) error { return nil }
