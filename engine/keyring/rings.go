package keyring

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keyward/keyward/engine"
)

// DefaultCapacity is how many generations a ring keeps unless configured.
const DefaultCapacity = 16

// KeySize is the only material length a ring accepts (AES-256).
const KeySize = 32

// Fingerprint is the one-way, domain-separated identity of key material: the
// hex SHA-256 of a fixed label and the material. It never reveals the key.
func Fingerprint(material []byte) string {
	h := sha256.New()
	h.Write([]byte("keyward/key-fingerprint/v1\x00"))
	h.Write(material)
	return hex.EncodeToString(h.Sum(nil))
}

// ShortID is the 8-character, base64url id the proxy writes into ciphertext
// tokens: the first 48 bits of the fingerprint. It is stable across restarts
// because it depends on the material only.
func ShortID(fingerprint string) string {
	b, err := hex.DecodeString(fingerprint)
	if err != nil || len(b) < 6 {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(b[:6])
}

// Candidate is what a KMS says about one key of an application on a poll.
type Candidate struct {
	UID       string
	Name      string
	State     engine.State
	Activated *time.Time
	Created   *time.Time
	// Material is the key, only for candidates the ring asked for (Wanted).
	// Apply takes ownership: the slice is kept or zeroed, never left behind.
	Material []byte
}

// Generation is the metadata of one generation held in a ring.
type Generation struct {
	UID         string
	Name        string
	State       engine.State
	Fingerprint string
	ShortID     string
	Activated   *time.Time
	Created     *time.Time
	Encrypts    bool
	// Restored is set when the material came from the wrapped copy in the
	// database rather than from the KMS on this run.
	Restored bool
}

type generation struct {
	Generation
	material []byte
}

// Ring is one application's generations, newest first.
type Ring struct {
	App        string
	Pattern    string
	Capacity   int
	Gens       []Generation
	Version    uint64
	LastChange time.Time
}

type ring struct {
	pattern    string
	capacity   int
	gens       []*generation // newest first
	version    uint64
	lastChange time.Time
}

// Rings holds every application's ring. It is safe for concurrent use and
// implements KeySource for the encryption proxy.
type Rings struct {
	mu    sync.RWMutex
	rings map[string]*ring
	now   func() time.Time
}

var _ KeySource = (*Rings)(nil)

// NewRings returns an empty collection.
func NewRings() *Rings {
	return &Rings{rings: map[string]*ring{}, now: time.Now}
}

// SetClock replaces the clock used for LastChange (tests).
func (r *Rings) SetClock(now func() time.Time) { r.now = now }

// Configure declares app's ring with its key-name pattern and capacity
// (DefaultCapacity when capacity < 1). Existing generations are kept; a
// smaller capacity drops (and zeroes) the oldest.
func (r *Rings) Configure(app, pattern string, capacity int) {
	if capacity < 1 {
		capacity = DefaultCapacity
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rg := r.rings[app]
	if rg == nil {
		rg = &ring{}
		r.rings[app] = rg
	}
	rg.pattern, rg.capacity = pattern, capacity
	for len(rg.gens) > capacity {
		last := rg.gens[len(rg.gens)-1]
		clear(last.material)
		rg.gens = rg.gens[:len(rg.gens)-1]
		rg.version++
	}
}

// Apps lists the configured applications, sorted.
func (r *Rings) Apps() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.rings))
	for a := range r.rings {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

// EncryptionKey implements KeySource.
func (r *Rings) EncryptionKey(app string) (string, []byte, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	rg := r.rings[app]
	if rg == nil {
		return "", nil, fmt.Errorf("%w %q", ErrUnknownApplication, app)
	}
	for _, g := range rg.gens {
		if g.State.CanEncrypt() {
			return g.ShortID, slices.Clone(g.material), nil
		}
	}
	return "", nil, fmt.Errorf("application %q: %w", app, ErrNoActiveKey)
}

// DecryptionKey implements KeySource.
func (r *Rings) DecryptionKey(app, id string) ([]byte, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	rg := r.rings[app]
	if rg == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownApplication, app)
	}
	for _, g := range rg.gens {
		if g.ShortID == id && g.State.CanDecrypt() {
			return slices.Clone(g.material), nil
		}
	}
	return nil, fmt.Errorf("application %q, key id %q: %w", app, id, ErrUnknownGeneration)
}

// Version implements KeySource.
func (r *Rings) Version(app string) uint64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if rg := r.rings[app]; rg != nil {
		return rg.version
	}
	return 0
}

// Ring returns a metadata snapshot of app's ring (never material).
func (r *Rings) Ring(app string) (Ring, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	rg := r.rings[app]
	if rg == nil {
		return Ring{}, false
	}
	out := Ring{App: app, Pattern: rg.pattern, Capacity: rg.capacity, Version: rg.version, LastChange: rg.lastChange}
	enc := true
	for _, g := range rg.gens {
		m := g.Generation
		m.Encrypts = enc && g.State.CanEncrypt()
		if m.Encrypts {
			enc = false
		}
		out.Gens = append(out.Gens, m)
	}
	return out, true
}

// Holds reports whether app's ring holds the material of the object uid.
func (r *Rings) Holds(app, uid string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if rg := r.rings[app]; rg != nil {
		for _, g := range rg.gens {
			if g.UID == uid {
				return true
			}
		}
	}
	return false
}

// eligible reports whether a key in state s may sit in a ring.
func eligible(s engine.State) bool { return s.CanDecrypt() }

// Order sorts candidates newest first by the ring ordering rule (see the
// package documentation) and returns the rule used: "version",
// "activation-date" or "initial-date".
func Order(cands []Candidate) string {
	rule := "version"
	prefix := ""
	for i, c := range cands {
		p, _, ok := engine.SplitVersion(c.Name)
		if !ok || (i > 0 && p != prefix) {
			rule = ""
			break
		}
		prefix = p
	}
	if rule == "" {
		rule = "activation-date"
		for _, c := range cands {
			if c.Activated == nil {
				rule = "initial-date"
				break
			}
		}
	}
	slices.SortStableFunc(cands, func(a, b Candidate) int {
		var c int
		switch rule {
		case "version":
			_, na, _ := engine.SplitVersion(a.Name)
			_, nb, _ := engine.SplitVersion(b.Name)
			c = nb - na
		case "activation-date":
			c = b.Activated.Compare(*a.Activated)
		default:
			switch {
			case a.Created == nil && b.Created == nil:
			case a.Created == nil:
				c = 1
			case b.Created == nil:
				c = -1
			default:
				c = b.Created.Compare(*a.Created)
			}
		}
		if c == 0 {
			c = strings.Compare(b.Name, a.Name)
		}
		if c == 0 {
			c = strings.Compare(b.UID, a.UID)
		}
		return c
	})
	return rule
}

// Wanted returns the unique identifiers whose material app's ring needs
// after this poll: eligible candidates among the newest Capacity that the
// ring does not hold yet. Only these need a Get.
func (r *Rings) Wanted(app string, cands []Candidate) []string {
	r.mu.RLock()
	rg := r.rings[app]
	r.mu.RUnlock()
	if rg == nil {
		return nil
	}
	top := r.top(rg, cands)
	var out []string
	for _, c := range top {
		if !r.Holds(app, c.UID) {
			out = append(out, c.UID)
		}
	}
	return out
}

func (r *Rings) top(rg *ring, cands []Candidate) []Candidate {
	el := make([]Candidate, 0, len(cands))
	for _, c := range cands {
		if eligible(c.State) {
			el = append(el, c)
		}
	}
	Order(el)
	r.mu.RLock()
	capacity := rg.capacity
	r.mu.RUnlock()
	if len(el) > capacity {
		el = el[:capacity]
	}
	return el
}

// Dropped is a generation that left a ring, and why.
type Dropped struct {
	Generation
	// Reason is "compromised", "destroyed", "gone" (no longer in the KMS),
	// "pushed-out" (beyond the ring's capacity) or "not-eligible".
	Reason string
}

// Diff is what one Apply changed in a ring.
type Diff struct {
	Added   []Generation
	Dropped []Dropped
	// StateChanged lists generations still in the ring whose state moved
	// (e.g. Active to Deactivated), with the previous state in From.
	StateChanged []StateChange
	// Rejected are candidates whose material the ring refused, with why.
	Rejected []Rejected
	// EncryptorChanged is set when the generation that encrypts moved.
	EncryptorChanged bool
}

// StateChange is a generation whose state moved while in the ring.
type StateChange struct {
	Generation
	From engine.State
}

// Rejected is a candidate whose material could not join the ring.
type Rejected struct {
	UID, Name string
	Reason    string
}

// Changed reports whether the ring moved at all.
func (d Diff) Changed() bool {
	return len(d.Added) > 0 || len(d.Dropped) > 0 || len(d.StateChanged) > 0 || d.EncryptorChanged
}

// Apply makes app's ring reflect one poll: cands are all the keys the KMS
// holds for app (with Material for those Wanted returned). Every material
// slice passed in is either kept by the ring or zeroed before Apply returns.
func (r *Rings) Apply(app string, cands []Candidate) (Diff, error) {
	defer func() {
		for _, c := range cands {
			if c.Material != nil {
				clear(c.Material)
			}
		}
	}()
	r.mu.Lock()
	defer r.mu.Unlock()
	rg := r.rings[app]
	if rg == nil {
		return Diff{}, fmt.Errorf("%w %q", ErrUnknownApplication, app)
	}
	var diff Diff
	held := map[string]*generation{}
	for _, g := range rg.gens {
		held[g.UID] = g
	}
	byUID := map[string]Candidate{}
	for _, c := range cands {
		byUID[c.UID] = c
	}
	oldEnc := encryptor(rg.gens)

	// Rank every eligible candidate; the top Capacity that have material
	// (held, or provided now) form the new ring.
	el := make([]Candidate, 0, len(cands))
	for _, c := range cands {
		if eligible(c.State) {
			el = append(el, c)
		}
	}
	Order(el)
	var next []*generation
	inNext := map[string]bool{}
	seenFP := map[string]string{}
	for _, c := range el {
		if len(next) == rg.capacity {
			break
		}
		if g, ok := held[c.UID]; ok {
			if g.State != c.State {
				diff.StateChanged = append(diff.StateChanged, StateChange{Generation: g.Generation, From: g.State})
				g.State = c.State
				diff.StateChanged[len(diff.StateChanged)-1].State = c.State
			}
			g.Name, g.Activated, g.Created = c.Name, c.Activated, c.Created
			if prev, dup := seenFP[g.Fingerprint]; dup {
				diff.Rejected = append(diff.Rejected, Rejected{UID: c.UID, Name: c.Name, Reason: "same key material as " + prev})
				continue
			}
			seenFP[g.Fingerprint] = c.Name
			next = append(next, g)
			inNext[c.UID] = true
			continue
		}
		if c.Material == nil {
			continue // not fetched (the KMS refused a Get); try next poll
		}
		if len(c.Material) != KeySize {
			diff.Rejected = append(diff.Rejected, Rejected{UID: c.UID, Name: c.Name,
				Reason: fmt.Sprintf("key is %d bits; the proxy needs a 256-bit AES key", 8*len(c.Material))})
			continue
		}
		fp := Fingerprint(c.Material)
		if prev, dup := seenFP[fp]; dup {
			diff.Rejected = append(diff.Rejected, Rejected{UID: c.UID, Name: c.Name, Reason: "same key material as " + prev})
			continue
		}
		sid := ShortID(fp)
		if clash := shortIDClash(next, held, sid, fp); clash != "" {
			diff.Rejected = append(diff.Rejected, Rejected{UID: c.UID, Name: c.Name, Reason: "short id collides with " + clash})
			continue
		}
		seenFP[fp] = c.Name
		g := &generation{Generation: Generation{UID: c.UID, Name: c.Name, State: c.State, Fingerprint: fp, ShortID: sid,
			Activated: c.Activated, Created: c.Created}, material: slices.Clone(c.Material)}
		next = append(next, g)
		inNext[c.UID] = true
		diff.Added = append(diff.Added, g.Generation)
	}
	for _, g := range rg.gens {
		if inNext[g.UID] {
			continue
		}
		reason := "pushed-out"
		c, ok := byUID[g.UID]
		switch {
		case !ok:
			reason = "gone"
		case c.State == engine.StateCompromised:
			reason = "compromised"
		case c.State == engine.StateDestroyed:
			reason = "destroyed"
		case !eligible(c.State):
			reason = "not-eligible"
		}
		meta := g.Generation
		if ok {
			meta.State = c.State
		}
		diff.Dropped = append(diff.Dropped, Dropped{Generation: meta, Reason: reason})
		clear(g.material)
		g.material = nil
	}
	rg.gens = next
	if newEnc := encryptor(next); newEnc != oldEnc {
		diff.EncryptorChanged = true
	}
	if diff.Changed() {
		rg.version++
		rg.lastChange = r.now()
	}
	return diff, nil
}

func shortIDClash(next []*generation, held map[string]*generation, sid, fp string) string {
	for _, g := range next {
		if g.ShortID == sid && g.Fingerprint != fp {
			return g.Name
		}
	}
	return ""
}

func encryptor(gens []*generation) string {
	for _, g := range gens {
		if g.State.CanEncrypt() {
			return g.UID
		}
	}
	return ""
}

// Close zeroes every ring's material and empties the collection.
func (r *Rings) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rg := range r.rings {
		for _, g := range rg.gens {
			clear(g.material)
			g.material = nil
		}
		rg.gens = nil
		rg.version++
	}
}
