package keyring

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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

// Info is the generation for status displays (no material, no UID).
func (g Generation) Info() engine.GenerationInfo {
	return engine.GenerationInfo{Name: g.Name, Fingerprint: g.Fingerprint, KeyID: g.ShortID, State: g.State, Encrypts: g.Encrypts,
		Activated: g.Activated, Created: g.Created}
}

// Infos are the ring's generations for status displays, newest first
// (empty, not nil, for an empty ring).
func (r Ring) Infos() []engine.GenerationInfo {
	out := make([]engine.GenerationInfo, len(r.Gens))
	for i, g := range r.Gens {
		out[i] = g.Info()
	}
	return out
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
	// Rule is the ordering rule of the last poll ("" before one).
	Rule string
}

type ring struct {
	pattern  string
	capacity int
	gens     []*generation // newest first
	// version moves (under Rings.mu) whenever the ring changes; it is
	// read without the lock through VersionCounter.
	version    atomic.Uint64
	lastChange time.Time
	rule       string
}

// Rings holds every application's ring. It is safe for concurrent use and
// implements KeySource for the encryption proxy.
type Rings struct {
	mu    sync.RWMutex
	rings map[string]*ring
	now   func() time.Time
	// onChange is told the application whose ring a commit changed.
	onChange atomic.Pointer[func(app string)]
}

var (
	_ KeySource      = (*Rings)(nil)
	_ VersionCounter = (*Rings)(nil)
)

// NewRings returns an empty collection.
func NewRings() *Rings {
	return &Rings{rings: map[string]*ring{}, now: time.Now}
}

// SetClock replaces the clock used for LastChange (tests).
func (r *Rings) SetClock(now func() time.Time) { r.now = now }

// OnChange has fn told, after each commit that changed a ring (a
// generation added or dropped, a state moved, another encrypts), which
// application's ring it was: the daemon announces ring changes on its
// event stream this way instead of front ends polling Version. fn runs
// after the ring is unlocked, on the committing goroutine.
func (r *Rings) OnChange(fn func(app string)) { r.onChange.Store(&fn) }

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
		rg.version.Add(1)
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
		return rg.version.Load()
	}
	return 0
}

// VersionCounter implements keyring.VersionCounter: the counter behind
// Version(app), or nil while app has no ring. A ring, once configured, is
// never replaced, so the counter stays valid.
func (r *Rings) VersionCounter(app string) *atomic.Uint64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if rg := r.rings[app]; rg != nil {
		return &rg.version
	}
	return nil
}

// Ring returns a metadata snapshot of app's ring (never material).
func (r *Rings) Ring(app string) (Ring, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	rg := r.rings[app]
	if rg == nil {
		return Ring{}, false
	}
	out := Ring{App: app, Pattern: rg.pattern, Capacity: rg.capacity, Version: rg.version.Load(), LastChange: rg.lastChange, Rule: rg.rule}
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

// NextOut is the generation the next rotation pushes out: the oldest, once
// the ring is full; nil while there is room.
func (r Ring) NextOut() *Generation {
	if r.Capacity < 1 || len(r.Gens) < r.Capacity {
		return nil
	}
	g := r.Gens[len(r.Gens)-1]
	return &g
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

func eligibleCand(c Candidate) bool { return eligible(c.State) }

// Wanted returns the unique identifiers whose material app's ring needs
// after this poll: eligible candidates among the newest Capacity that the
// ring does not hold yet. Only these need a Get; candidates the ordering
// rule leaves out are never fetched.
func (r *Rings) Wanted(app string, cands []Candidate) []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	rg := r.rings[app]
	if rg == nil {
		return nil
	}
	holds := rg.holds
	top := arrange(cands, holds, eligibleCand).ranked
	if len(top) > rg.capacity {
		top = top[:rg.capacity]
	}
	var out []string
	for _, c := range top {
		if !holds(c.UID) {
			out = append(out, c.UID)
		}
	}
	return out
}

func (rg *ring) holds(uid string) bool {
	for _, g := range rg.gens {
		if g.UID == uid {
			return true
		}
	}
	return false
}

// Reasons a generation leaves a ring (Dropped.Reason).
const (
	DropCompromised = "compromised"
	DropDestroyed   = "destroyed"
	DropGone        = "gone"         // no longer in the KMS
	DropPushedOut   = "pushed-out"   // beyond the ring's capacity
	DropNotEligible = "not-eligible" // e.g. back to Pre-Active
	DropLeftOut     = "left-out"     // the ordering rule now leaves it out
)

// Dropped is a generation that left a ring, and why.
type Dropped struct {
	Generation
	// Reason is one of the Drop* constants.
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
	// LeftOut are eligible candidates the ordering rule keeps out.
	LeftOut []LeftOut
	// Rule is the ordering rule the ring follows after this poll.
	Rule string
	// EncryptorChanged is set when the generation that encrypts moved;
	// Encryptor says from which, to which and why.
	EncryptorChanged bool
	Encryptor        EncryptorChange
}

// EncryptorChange is a move of the generation that encrypts.
type EncryptorChange struct {
	// From and To are nil when nothing encrypted before / encrypts now.
	From, To *Generation
	// Routine is set for a rotation to a newer generation by the ring's
	// rule (and for the first encrypting generation); anything else, an
	// older generation taking over, or nothing encrypting, is not.
	Routine bool
	// Why says in words what made it move.
	Why string
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

// ErrRingMoved: the ring changed between Prepare and Commit.
var ErrRingMoved = errors.New("the ring changed while a change was being prepared; poll again")

// Change is a prepared, not yet visible, new state of one ring: Seal it,
// store the wrapped copy, then Commit; or Discard it. Until Commit the
// proxy keeps encrypting with the generation it had, so a generation never
// encrypts before its wrapped copy is stored.
type Change struct {
	Diff Diff
	app  string
	base uint64
	next []*generation
	// fresh are generations this change adds: their material is owned
	// by the change until Commit.
	fresh []*generation
	done  bool
}

// Seal encodes the prepared ring, material included, for wrapping (the
// format of Rings.Seal). The caller zeroes the result after wrapping it.
func (ch *Change) Seal() []byte { return sealGens(ch.next) }

// Empty reports whether the prepared ring holds no generation.
func (ch *Change) Empty() bool { return len(ch.next) == 0 }

// Discard drops a prepared change, zeroing the material it fetched.
func (ch *Change) Discard() {
	if ch == nil || ch.done {
		return
	}
	ch.done = true
	for _, g := range ch.fresh {
		clear(g.material)
		g.material = nil
	}
}

// Apply makes app's ring reflect one poll at once (Prepare then Commit).
func (r *Rings) Apply(app string, cands []Candidate) (Diff, error) {
	ch, err := r.Prepare(app, cands)
	if err != nil {
		return Diff{}, err
	}
	return ch.Diff, r.Commit(ch)
}

// Prepare computes what app's ring becomes after one poll without changing
// it: cands are all the keys the KMS holds for app (with Material for those
// Wanted returned). Every material slice passed in is either taken over by
// the change or zeroed before Prepare returns.
func (r *Rings) Prepare(app string, cands []Candidate) (*Change, error) {
	defer func() {
		for _, c := range cands {
			if c.Material != nil {
				clear(c.Material)
			}
		}
	}()
	r.mu.RLock()
	defer r.mu.RUnlock()
	rg := r.rings[app]
	if rg == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownApplication, app)
	}
	ch := &Change{app: app, base: rg.version.Load()}
	diff := &ch.Diff
	held := map[string]*generation{}
	for _, g := range rg.gens {
		held[g.UID] = g
	}
	byUID := map[string]Candidate{}
	for _, c := range cands {
		byUID[c.UID] = c
	}
	// Rank every eligible candidate; the top Capacity that have material
	// (held, or provided now) form the new ring.
	arr := arrange(cands, rg.holds, eligibleCand)
	diff.Rule, diff.LeftOut = arr.rule, arr.leftOut
	leftOut := map[string]bool{}
	for _, l := range arr.leftOut {
		leftOut[l.UID] = true
	}
	inNext := map[string]bool{}
	seenFP := map[string]string{}
	for _, c := range arr.ranked {
		if len(ch.next) == rg.capacity {
			break
		}
		if old, ok := held[c.UID]; ok {
			g := &generation{Generation: old.Generation, material: old.material}
			if g.State != c.State {
				g.State = c.State
				diff.StateChanged = append(diff.StateChanged, StateChange{Generation: g.Generation, From: old.State})
			}
			g.Name, g.Activated, g.Created = c.Name, c.Activated, c.Created
			if prev, dup := seenFP[g.Fingerprint]; dup {
				diff.Rejected = append(diff.Rejected, Rejected{UID: c.UID, Name: c.Name, Reason: "same key material as " + prev})
				continue
			}
			seenFP[g.Fingerprint] = c.Name
			ch.next = append(ch.next, g)
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
		if clash := shortIDClash(ch.next, sid, fp); clash != "" {
			diff.Rejected = append(diff.Rejected, Rejected{UID: c.UID, Name: c.Name, Reason: "short id collides with " + clash})
			continue
		}
		seenFP[fp] = c.Name
		g := &generation{Generation: Generation{UID: c.UID, Name: c.Name, State: c.State, Fingerprint: fp, ShortID: sid,
			Activated: c.Activated, Created: c.Created}, material: slices.Clone(c.Material)}
		ch.next = append(ch.next, g)
		ch.fresh = append(ch.fresh, g)
		inNext[c.UID] = true
		diff.Added = append(diff.Added, g.Generation)
	}
	dropped := map[string]string{}
	for _, g := range rg.gens {
		if inNext[g.UID] {
			continue
		}
		reason := DropPushedOut
		c, ok := byUID[g.UID]
		switch {
		case !ok:
			reason = DropGone
		case c.State == engine.StateCompromised:
			reason = DropCompromised
		case c.State == engine.StateDestroyed:
			reason = DropDestroyed
		case !eligible(c.State):
			reason = DropNotEligible
		case leftOut[g.UID]:
			reason = DropLeftOut
		}
		meta := g.Generation
		if ok {
			meta.State = c.State
		}
		dropped[g.UID] = reason
		diff.Dropped = append(diff.Dropped, Dropped{Generation: meta, Reason: reason})
	}
	oldEnc, newEnc := encryptor(rg.gens), encryptor(ch.next)
	if uid(oldEnc) != uid(newEnc) {
		diff.EncryptorChanged = true
		diff.Encryptor = encryptorChange(arr.rule, oldEnc, newEnc, byUID, dropped, leftOut)
	}
	return ch, nil
}

func uid(g *generation) string {
	if g == nil {
		return ""
	}
	return g.UID
}

// encryptorChange says why the encrypting generation moved from old to
// now, and whether that was a routine rotation.
func encryptorChange(rule string, old, now *generation, byUID map[string]Candidate, dropped map[string]string, leftOut map[string]bool) EncryptorChange {
	var ec EncryptorChange
	if old != nil {
		m := old.Generation
		ec.From = &m
	}
	if now != nil {
		m := now.Generation
		ec.To = &m
	}
	switch {
	case old == nil:
		ec.Routine, ec.Why = true, "the first Active generation of the ring"
		return ec
	case now == nil:
		ec.Why = "no Active generation is left in the ring"
	case newer(rule, now.Generation, old.Generation):
		ec.Routine, ec.Why = true, "a newer generation"
	}
	if ec.Routine {
		return ec
	}
	fate := ""
	switch dropped[old.UID] {
	case DropCompromised:
		fate = "was compromised in the KMS"
	case DropDestroyed:
		fate = "was destroyed in the KMS"
	case DropGone:
		fate = "is no longer in the KMS"
	case DropNotEligible:
		fate = "is no longer usable (state " + string(byUID[old.UID].State) + ")"
	case DropLeftOut:
		fate = "is now left out by the ring's rule"
	case DropPushedOut:
		fate = "was pushed out of the ring"
	default:
		if c, ok := byUID[old.UID]; ok && !c.State.CanEncrypt() {
			fate = "was " + strings.ToLower(string(c.State)) + " in the KMS"
		} else if leftOut[old.UID] {
			fate = "is now left out by the ring's rule"
		} else {
			fate = "now ranks older by the ring's rule (" + rule + ")"
		}
	}
	why := old.Name + " " + fate
	if now != nil {
		why += "; an older generation takes over"
	}
	if ec.Why != "" {
		why += "; " + ec.Why
	}
	ec.Why = why
	return ec
}

// Newer reports whether generation a ranks newer than b by the ordering
// rule (one of the Rule* constants); under the version rule, names of
// different prefixes or without a number are never newer.
func Newer(rule string, a, b Generation) bool { return newer(rule, a, b) }

func newer(rule string, a, b Generation) bool {
	ca := Candidate{UID: a.UID, Name: a.Name, Activated: a.Activated, Created: a.Created}
	cb := Candidate{UID: b.UID, Name: b.Name, Activated: b.Activated, Created: b.Created}
	if rule == RuleVersion {
		ga, oka := parseGen(a.Name)
		gb, okb := parseGen(b.Name)
		if !oka || !okb || ga.prefix != gb.prefix {
			return false
		}
		return compareDigits(ga.digits, gb.digits) > 0
	}
	return compareByDate(rule, ca, cb) < 0
}

// Commit makes a prepared change the ring the proxy uses: generations it
// drops are zeroed. It fails with ErrRingMoved (and discards the change)
// when the ring changed since Prepare.
func (r *Rings) Commit(ch *Change) error {
	if ch == nil || ch.done {
		return errors.New("keyring: change already committed or discarded")
	}
	changed := false
	defer func() { // after the unlock below
		if fn := r.onChange.Load(); changed && fn != nil {
			(*fn)(ch.app)
		}
	}()
	r.mu.Lock()
	defer r.mu.Unlock()
	rg := r.rings[ch.app]
	if rg == nil || rg.version.Load() != ch.base {
		ch.Discard()
		if rg == nil {
			return fmt.Errorf("%w %q", ErrUnknownApplication, ch.app)
		}
		return fmt.Errorf("application %q: %w", ch.app, ErrRingMoved)
	}
	ch.done = true
	keep := map[string]bool{}
	for _, g := range ch.next {
		keep[g.UID] = true
	}
	for _, g := range rg.gens {
		if !keep[g.UID] {
			clear(g.material)
			g.material = nil
		}
	}
	rg.gens, rg.rule = ch.next, ch.Diff.Rule
	if ch.Diff.Changed() {
		rg.version.Add(1)
		rg.lastChange = r.now()
		changed = true
	}
	return nil
}

func shortIDClash(next []*generation, sid, fp string) string {
	for _, g := range next {
		if g.ShortID == sid && g.Fingerprint != fp {
			return g.Name
		}
	}
	return ""
}

func encryptor(gens []*generation) *generation {
	for _, g := range gens {
		if g.State.CanEncrypt() {
			return g
		}
	}
	return nil
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
		rg.version.Add(1)
	}
}
