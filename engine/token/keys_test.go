package token

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"slices"
	"sync"

	"github.com/keyward/keyward/engine/keyring"
)

// memRing stands in for the KMIP ring (engine/keyring's real rings are
// built on a KMS poll; here only the KeySource contract matters): per
// application, generations in order, the newest encrypts, at most capacity
// are kept. It records every copy of material it hands out so tests can
// check the codec zeroes them.
type memRing struct {
	mu       sync.Mutex
	capacity int
	apps     map[string]*memApp
	handed   [][]byte
}

type memApp struct {
	version  uint64
	gens     []memGen // oldest first
	noActive bool
}

type memGen struct {
	id  string
	key []byte
}

func newMemRing(capacity int) *memRing {
	return &memRing{capacity: capacity, apps: map[string]*memApp{}}
}

// crmCodec is a codec for crm over a new memRing of 16 generations with
// one made: the ring, the codec and that generation's id.
func crmCodec() (*memRing, *Codec, string) {
	ring := newMemRing(16)
	id := ring.rotate("crm")
	return ring, NewCodec("crm", ring), id
}

// rotate adds a fresh random generation to app and returns its short id.
func (r *memRing) rotate(app string) string {
	k := make([]byte, 32)
	rand.Read(k)
	return r.add(app, k)
}

func (r *memRing) add(app string, k []byte) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	a := r.apps[app]
	if a == nil {
		a = &memApp{}
		r.apps[app] = a
	}
	sum := sha256.Sum256(append([]byte("fp\x00"), k...))
	id := base64.RawURLEncoding.EncodeToString(sum[:6])
	a.gens = append(a.gens, memGen{id: id, key: slices.Clone(k)})
	for len(a.gens) > r.capacity {
		clear(a.gens[0].key)
		a.gens = a.gens[1:]
	}
	a.version++
	return id
}

func (r *memRing) setNoActive(app string, v bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.apps[app].noActive = v
	r.apps[app].version++
}

func (r *memRing) copyOf(k []byte) []byte {
	c := slices.Clone(k)
	r.handed = append(r.handed, c)
	return c
}

func (r *memRing) EncryptionKey(app string) (string, []byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a := r.apps[app]
	if a == nil {
		return "", nil, keyring.ErrUnknownApplication
	}
	if a.noActive || len(a.gens) == 0 {
		return "", nil, keyring.ErrNoActiveKey
	}
	g := a.gens[len(a.gens)-1]
	return g.id, r.copyOf(g.key), nil
}

func (r *memRing) DecryptionKey(app, id string) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a := r.apps[app]
	if a == nil {
		return nil, keyring.ErrUnknownApplication
	}
	for _, g := range a.gens {
		if g.id == id {
			return r.copyOf(g.key), nil
		}
	}
	return nil, keyring.ErrUnknownGeneration
}

func (r *memRing) Version(app string) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if a := r.apps[app]; a != nil {
		return a.version
	}
	return 0
}

// allHandedZeroed reports whether every copy handed out was zeroed.
func (r *memRing) allHandedZeroed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.handed {
		for _, b := range c {
			if b != 0 {
				return false
			}
		}
	}
	return len(r.handed) > 0
}
