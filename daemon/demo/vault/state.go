package vault

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"fmt"
	"maps"
	"sort"
	"sync"
	"time"
)

// version is one key version held by the emulator.
type version struct {
	id        string
	kty       string // RSA, EC, oct (the HSM suffix is dropped)
	curve     string
	size      int
	priv      crypto.PrivateKey // generated lazily for bulk seeds
	sym       []byte
	enabled   bool
	created   time.Time
	updated   time.Time
	notBefore *time.Time
	expires   *time.Time
	tags      map[string]string
}

// key is one key name: its versions, oldest first, and soft-delete state.
type key struct {
	name     string
	versions []*version
	policy   *policy
	deleted  *time.Time
	purgeAt  *time.Time
}

type policy struct {
	rotateAfter  string // ISO 8601 durations as Azure stores them
	rotateBefore string
	notifyBefore string
	expiryTime   string
	created      time.Time
	updated      time.Time
}

func (k *key) current() *version { return k.versions[len(k.versions)-1] }

func (k *key) version(id string) *version {
	if id == "" {
		return k.current()
	}
	for _, v := range k.versions {
		if v.id == id {
			return v
		}
	}
	return nil
}

// state is the whole emulated vault.
type state struct {
	mu   sync.Mutex
	keys map[string]*key // live and soft-deleted
	now  func() time.Time
	// retention is the soft-delete retention period.
	retention time.Duration
	// gen moves whenever a key appears, disappears or changes between
	// live and deleted; the sorted name lists are cached per gen.
	gen      uint64
	cacheGen uint64
	cache    [2][]string
}

func newState(now func() time.Time) *state {
	return &state{keys: map[string]*key{}, now: now, retention: 90 * 24 * time.Hour}
}

func (s *state) clock() time.Time { return s.now().UTC().Truncate(time.Second) }

// sortedNames returns live (deleted=false) or soft-deleted key names in order.
func (s *state) sortedNames(deleted bool) []string {
	i := 0
	if deleted {
		i = 1
	}
	if s.cacheGen != s.gen+1 {
		s.cache = [2][]string{nil, nil}
		s.cacheGen = s.gen + 1
	}
	if s.cache[i] == nil {
		s.cache[i] = s.sortNames(deleted)
	}
	return s.cache[i]
}

func (s *state) sortNames(deleted bool) []string {
	names := []string{}
	for n, k := range s.keys {
		if (k.deleted != nil) == deleted {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

func newVersionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ensureMaterial generates a bulk-seeded version's key on first use.
func (v *version) ensureMaterial() error {
	if v.priv != nil || v.sym != nil {
		return nil
	}
	switch v.kty {
	case "RSA":
		k, err := rsa.GenerateKey(rand.Reader, v.size)
		if err != nil {
			return err
		}
		v.priv = k
	case "EC":
		c, err := curve(v.curve)
		if err != nil {
			return err
		}
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			return err
		}
		v.priv = k
	default:
		return fmt.Errorf("cannot generate a %s key", v.kty)
	}
	return nil
}

// curves are the EC curves the vault serves, by their JWK names.
var curves = map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}

func curve(name string) (elliptic.Curve, error) {
	if c, ok := curves[name]; ok {
		return c, nil
	}
	return nil, fmt.Errorf("unsupported curve %q", name)
}

// curveSize is a curve's size in bits, 0 for a curve the vault does not
// serve.
func curveSize(name string) int {
	if c, ok := curves[name]; ok {
		return c.Params().BitSize
	}
	return 0
}

func cloneVersion(v *version) *version {
	c := *v
	c.tags = maps.Clone(v.tags)
	return &c
}
