// Package generate fills a keyward database with a large, realistic,
// reproducible inventory — keys of every age and state across several
// sources, and their activity — for scale tests and benchmarks
// (keyward dev seed).
package generate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand"
	"time"

	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/store"
)

// Options size the generated data.
type Options struct {
	Keys   int
	Events int
	Now    time.Time
	Seed   int64
	// Progress, when set, is called after each batch with rows written.
	Progress func(keys, events int)
}

var sourceNames = []struct{ name, kind string }{
	{"kms-prod", "kmip"}, {"kms-dr", "kmip"}, {"azure-weu", "azure"}, {"azure-neu", "azure"}, {"azure-gov", "azure"},
}

var operations = []string{engine.OpCreated, engine.OpDiscovered, engine.OpSynced, engine.OpRotated, engine.OpEdited,
	engine.OpEnabled, engine.OpDisabled, engine.OpDeleted, engine.OpRecovered, engine.OpBackedUp}

// Run writes the data into s in batches of 20,000 rows.
func Run(ctx context.Context, s *store.Store, o Options) error {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	rng := rand.New(rand.NewSource(o.Seed + 1))
	for _, src := range sourceNames {
		if err := s.EnsureSource(ctx, src.name, src.kind, "generated"); err != nil {
			return err
		}
	}
	day := 24 * time.Hour
	const batch = 20000
	states := []engine.State{engine.StateActive, engine.StateActive, engine.StateActive, engine.StateActive, engine.StateDisabled,
		engine.StateDeactivated, engine.StateDeleted, engine.StateDestroyed, engine.StatePreActive, engine.StateCompromised}
	ids := make([]string, 0, min(o.Keys, 1<<20))
	var keys []engine.Key
	for i := 0; i < o.Keys; i++ {
		src := sourceNames[i%len(sourceNames)].name
		name := fmt.Sprintf("app%04d.key.%d", (i/len(sourceNames))/8, (i/len(sourceNames))%8)
		ver := ""
		if src[:5] == "azure" {
			ver = fmt.Sprintf("%032x", rng.Uint64())
		}
		created := o.Now.Add(-time.Duration(rng.Int63n(int64(6 * 365 * day))))
		k := engine.Key{ID: engine.KeyID(src, name, ver), Source: src, Name: name, Version: ver, Algorithm: "AES", Length: 256,
			State: states[rng.Intn(len(states))], Created: &created}
		sum := sha256.Sum256([]byte(k.ID))
		k.Fingerprint = hex.EncodeToString(sum[:])
		if rng.Intn(3) > 0 {
			e := created.Add(time.Duration(rng.Int63n(int64(4 * 365 * day))))
			k.Expires = &e
		}
		switch k.State {
		case engine.StateDeactivated, engine.StateCompromised, engine.StateDestroyed:
			d := created.Add(time.Duration(rng.Int63n(int64(o.Now.Sub(created)) + 1)))
			k.Deactivated = &d
			if k.State == engine.StateDestroyed {
				k.Destroyed = &d
			}
		case engine.StateDeleted:
			d := o.Now.Add(-time.Duration(rng.Int63n(int64(90 * day))))
			p := d.Add(90 * day)
			k.Deleted, k.PurgeAt = &d, &p
		}
		if i%20 == 0 {
			k.Application = fmt.Sprintf("app%04d", i%500)
		}
		keys = append(keys, k)
		if len(ids) < cap(ids) {
			ids = append(ids, k.ID)
		}
		if len(keys) == batch {
			if err := s.BulkLoad(ctx, keys, nil); err != nil {
				return err
			}
			keys = keys[:0]
			if o.Progress != nil {
				o.Progress(i+1, 0)
			}
		}
	}
	if err := s.BulkLoad(ctx, keys, nil); err != nil {
		return err
	}
	// Events arrive in time order, as a daemon records them.
	var events []engine.Event
	span := int64(3 * 365 * day)
	for i := 0; i < o.Events; i++ {
		t := o.Now.Add(-time.Duration(span - (span/int64(max(o.Events, 1)))*int64(i)))
		e := engine.Event{Time: t, Operation: operations[rng.Intn(len(operations))], Severity: engine.SeverityInfo}
		if len(ids) > 0 {
			e.KeyID = ids[rng.Intn(len(ids))]
			e.Source = e.KeyID[:len(e.KeyID)-len(e.KeyID)+indexSlash(e.KeyID)]
		}
		if rng.Intn(3) == 0 {
			e.Actor, e.Origin = "cloud", engine.OriginSource
		} else {
			e.Actor, e.Origin = []string{"alice", "bob", "keyward"}[rng.Intn(3)], engine.OriginKeyward
		}
		events = append(events, e)
		if len(events) == batch {
			if err := s.BulkLoad(ctx, nil, events); err != nil {
				return err
			}
			events = events[:0]
			if o.Progress != nil {
				o.Progress(o.Keys, i+1)
			}
		}
	}
	return s.BulkLoad(ctx, nil, events)
}

func indexSlash(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return i
		}
	}
	return len(s)
}
