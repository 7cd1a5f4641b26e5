package token

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/tink-crypto/tink-go/v2/daead/subtle"

	"github.com/keyward/keyward/engine/keyring"
)

// Codec seals and opens the tokens of one application with key material from
// a keyring.KeySource. It caches one cipher per generation and drops the
// whole cache (zeroing the derived keys it holds) whenever the source's
// Version for the application moves. It is safe for concurrent use.
type Codec struct {
	app    string
	appTag string
	keys   keyring.KeySource
	// vc is keys when it can be read without a lock, and counter the
	// counter it gave for app (nil until it has one): see ringVersion.
	vc      keyring.VersionCounter
	counter atomic.Pointer[atomic.Uint64]

	mu      sync.RWMutex
	version uint64
	loaded  bool
	encID   string // active generation's id, "" when not known yet
	gens    map[string]*generation

	// lastEnc and lastDec are the generations used last, with the ring
	// version they were current at: a token of the generation used just
	// before (most of them) skips the lock and the map.
	lastEnc, lastDec atomic.Pointer[genAt]
}

// genAt is a cached generation and the ring version it belongs to.
type genAt struct {
	v uint64
	g *generation
}

// NewCodec returns a codec for app.
func NewCodec(app string, keys keyring.KeySource) *Codec {
	c := &Codec{app: app, appTag: AppTag(app), keys: keys, gens: map[string]*generation{}}
	c.vc, _ = keys.(keyring.VersionCounter)
	return c
}

// ringVersion is keys.Version(app): once per token, so read from the source's
// counter without a lock or a map when the source has one.
func (c *Codec) ringVersion() uint64 {
	if p := c.counter.Load(); p != nil {
		return p.Load()
	}
	if c.vc != nil {
		if p := c.vc.VersionCounter(c.app); p != nil {
			c.counter.Store(p)
			return p.Load()
		}
	}
	return c.keys.Version(c.app)
}

// App is the application the codec serves.
func (c *Codec) App() string { return c.app }

// refreshLocked drops every cached generation when the ring has moved. Call
// with c.mu held for writing.
func (c *Codec) refreshLocked(v uint64) {
	if c.loaded && v == c.version {
		return
	}
	c.lastEnc.Store(nil)
	c.lastDec.Store(nil)
	for id, g := range c.gens {
		g.zero()
		delete(c.gens, id)
	}
	c.version, c.loaded, c.encID = v, true, ""
}

// generation holds the ciphers of one key generation. The material itself
// is zeroed as soon as the ciphers are built; the derived AES-SIV key (which
// tink's AESSIV references) is zeroed when the generation is dropped. The
// AES key schedules inside crypto/aes cannot be reached to zero them: they
// go with the garbage collector once the cache lets go of them.
type generation struct {
	id  string
	gcm cipher.AEAD
	// ads are the associated data of the four mode/kind headers (see
	// adIndex): the header of a token, then the application's name.
	ads [4][]byte
	// hdrLen is the length of a header in ads.
	hdrLen int

	// mu guards sivKey against being zeroed while a deterministic
	// operation runs; dropped says it was.
	mu      sync.RWMutex
	dropped bool
	// gone is dropped, readable without mu: the last-used shortcut of
	// Codec skips a generation that was dropped.
	gone   atomic.Bool
	siv    *subtle.AESSIV
	sivKey []byte
}

func (g *generation) zero() {
	g.mu.Lock()
	g.dropped = true
	g.gone.Store(true)
	clear(g.sivKey)
	g.mu.Unlock()
}

// withSIV runs fn with the deterministic cipher unless the generation was
// dropped meanwhile (then it reports false and the caller fetches again).
func (g *generation) withSIV(fn func(*subtle.AESSIV)) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.dropped {
		return false
	}
	fn(g.siv)
	return true
}

func adIndex(m Mode, k Kind) int {
	i := 0
	if m == SIV {
		i = 2
	}
	if k == JSON {
		i++
	}
	return i
}

// newGeneration builds the ciphers of one generation and zeroes material.
func newGeneration(app, id string, material []byte) (*generation, error) {
	defer clear(material)
	if len(material) != 32 {
		return nil, fmt.Errorf("key generation %s has %d bytes of material, want 32 (AES-256)", id, len(material))
	}
	block, err := aes.NewCipher(material)
	if err != nil {
		return nil, fmt.Errorf("key generation %s: %w", id, err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("key generation %s: %w", id, err)
	}
	key, err := hkdf.Key(sha256.New, material, []byte("keyward/token/v1"), "aes-siv\x00"+app, subtle.AESSIVKeySize)
	if err != nil {
		return nil, fmt.Errorf("key generation %s: derive deterministic key: %w", id, err)
	}
	siv, err := subtle.NewAESSIV(key)
	if err != nil {
		clear(key)
		return nil, fmt.Errorf("key generation %s: %w", id, err)
	}
	g := &generation{id: id, gcm: gcm, siv: siv, sivKey: key, hdrLen: 6 + appTagLen + 1 + len(id) + 1}
	tag := AppTag(app)
	for _, m := range []Mode{GCM, SIV} {
		for _, k := range []Kind{Text, JSON} {
			g.ads[adIndex(m, k)] = []byte(Prefix + string(rune(m)) + string(rune(k)) + "." + tag + "." + id + "." + app)
		}
	}
	return g, nil
}

// header is the header of a token of mode m and kind k sealed by g.
func (g *generation) header(m Mode, k Kind) []byte { return g.ads[adIndex(m, k)][:g.hdrLen] }

// generation returns the cached generation rawID, loading it on a miss.
func (c *Codec) generation(rawID []byte) (*generation, error) {
	v := c.ringVersion()
	if r := c.lastDec.Load(); r != nil && r.v == v && r.g.id == string(rawID) && !r.g.gone.Load() {
		return r.g, nil
	}
	g, err := c.loadGeneration(v, rawID)
	if err == nil {
		c.lastDec.Store(&genAt{v, g})
	}
	return g, err
}

// loadGeneration is generation without the last-used shortcut.
func (c *Codec) loadGeneration(v uint64, rawID []byte) (*generation, error) {
	c.mu.RLock()
	if c.loaded && c.version == v {
		if g, ok := c.gens[string(rawID)]; ok {
			c.mu.RUnlock()
			return g, nil
		}
	}
	c.mu.RUnlock()
	id := string(rawID)
	material, err := c.keys.DecryptionKey(c.app, id)
	if err != nil {
		clear(material)
		if errors.Is(err, keyring.ErrUnknownGeneration) || errors.Is(err, keyring.ErrUnknownApplication) {
			return nil, fmt.Errorf("%w %q in application %q", ErrUnknownGeneration, id, c.app)
		}
		return nil, fmt.Errorf("key generation %q of application %q: %w", id, c.app, err)
	}
	return c.keep(v, id, material, false)
}

// keep makes generation id from material and caches it under the ring
// version v; when another caller cached id first, theirs is kept and
// this one zeroed. With encrypting, id also becomes the encrypting
// generation.
func (c *Codec) keep(v uint64, id string, material []byte, encrypting bool) (*generation, error) {
	g, err := newGeneration(c.app, id, material)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refreshLocked(v)
	if old, ok := c.gens[id]; ok { // another caller won the race
		g.zero()
		g = old
	} else {
		c.gens[id] = g
	}
	if encrypting {
		c.encID = id
	}
	return g, nil
}

// active returns the generation that encrypts.
func (c *Codec) active() (*generation, error) {
	v := c.ringVersion()
	if r := c.lastEnc.Load(); r != nil && r.v == v && !r.g.gone.Load() {
		return r.g, nil
	}
	g, err := c.loadActive(v)
	if err == nil {
		c.lastEnc.Store(&genAt{v, g})
	}
	return g, err
}

// loadActive is active without the last-used shortcut.
func (c *Codec) loadActive(v uint64) (*generation, error) {
	c.mu.RLock()
	if c.loaded && c.version == v && c.encID != "" {
		g := c.gens[c.encID]
		c.mu.RUnlock()
		if g != nil {
			return g, nil
		}
	} else {
		c.mu.RUnlock()
	}
	id, material, err := c.keys.EncryptionKey(c.app)
	if err != nil {
		clear(material)
		if errors.Is(err, keyring.ErrNoActiveKey) || errors.Is(err, keyring.ErrUnknownApplication) {
			return nil, fmt.Errorf("%w for application %q: %w", ErrNoActiveKey, c.app, err)
		}
		return nil, fmt.Errorf("application %q: %w", c.app, err)
	}
	if !ValidKeyID(id) {
		clear(material)
		return nil, fmt.Errorf("application %q: the ring's key id %q cannot go in a token (want 1-32 of A-Z a-z 0-9 - _)", c.app, id)
	}
	return c.keep(v, id, material, true)
}

// ActiveKeyID returns the id of the generation that encrypts now.
func (c *Codec) ActiveKeyID() (string, error) {
	g, err := c.active()
	if err != nil {
		return "", err
	}
	return g.id, nil
}

// AppendEncrypt seals plaintext with the active generation and appends the
// token to dst. It returns the extended slice and the generation's id.
func (c *Codec) AppendEncrypt(dst, plaintext []byte, mode Mode, kind Kind) ([]byte, string, error) {
	if kind != Text && kind != JSON {
		return dst, "", fmt.Errorf("token kind %q is not t or j", kind)
	}
	for range 3 {
		out, id, retry, err := c.appendEncrypt(dst, plaintext, mode, kind)
		if !retry {
			return out, id, err
		}
	}
	return dst, "", fmt.Errorf("application %q: the key ring kept changing while encrypting; try again", c.app)
}

// appendEncrypt reports retry when the generation was dropped under it.
func (c *Codec) appendEncrypt(dst, plaintext []byte, mode Mode, kind Kind) (out []byte, id string, retry bool, err error) {
	g, err := c.active()
	if err != nil {
		return dst, "", false, err
	}
	if mode != GCM && mode != SIV {
		return dst, "", false, fmt.Errorf("token mode %q is not g or s", mode)
	}
	ad := g.ads[adIndex(mode, kind)]
	switch mode {
	case GCM:
		// The sealed bytes (nonce || ciphertext || tag) go at the end of
		// the room their text takes on dst, and are encoded forward onto
		// it (encodeSealed): no scratch buffer, except for a long payload
		// without the VBMI kernels. A plaintext that lies in dst's spare
		// room gets a new array for dst, so it is read whole before
		// anything is written over it.
		n := nonceLen + len(plaintext) + tagLen
		tl := b64.EncodedLen(n)
		if overlaps(dst[len(dst):cap(dst)], plaintext) {
			dst = dst[:len(dst):len(dst)]
		}
		dst = slices.Grow(dst, g.hdrLen+tl)
		dst = append(dst, ad[:g.hdrLen]...)
		text := dst[len(dst) : len(dst)+tl]
		sealed, scratch := text[tl-n:], (*[]byte)(nil)
		if !sealedInPlace(n) {
			scratch = getBuf(n)
			sealed = (*scratch)[:n]
		}
		rand.Read(sealed[:nonceLen]) // never fails: it crashes the program instead
		g.gcm.Seal(sealed[nonceLen:nonceLen], sealed[:nonceLen], plaintext, ad)
		encodeSealed(text, sealed)
		if scratch != nil {
			putBuf(scratch)
		}
		dst = dst[:len(dst)+tl]
	case SIV:
		var ct []byte
		if !g.withSIV(func(siv *subtle.AESSIV) { ct, err = siv.EncryptDeterministically(plaintext, ad) }) {
			return dst, "", true, nil
		}
		if err != nil {
			return dst, "", false, err
		}
		dst = append(dst, ad[:g.hdrLen]...)
		dst = appendB64(dst, ct)
	}
	return dst, g.id, false, nil
}

// overlaps reports whether a and b share memory.
func overlaps(a, b []byte) bool {
	return len(a) > 0 && len(b) > 0 &&
		uintptr(unsafe.Pointer(&a[0])) <= uintptr(unsafe.Pointer(&b[len(b)-1])) &&
		uintptr(unsafe.Pointer(&b[0])) <= uintptr(unsafe.Pointer(&a[len(a)-1]))
}

// Encrypt returns the token of plaintext as a string.
func (c *Codec) Encrypt(plaintext []byte, mode Mode, kind Kind) (string, string, error) {
	b, id, err := c.AppendEncrypt(make([]byte, 0, EncodedLen(len(plaintext))), plaintext, mode, kind)
	return string(b), id, err
}

// EncodedLen bounds the length of a token of n plaintext bytes.
func EncodedLen(n int) int { return headerMax + b64.EncodedLen(nonceLen+n+tagLen) }

// Opened is a decrypted token.
type Opened struct {
	Plaintext []byte
	KeyID     string
	Mode      Mode
	Kind      Kind
}

// AppendDecrypt opens the token tok and appends its plaintext to dst.
func (c *Codec) AppendDecrypt(dst, tok []byte) ([]byte, Opened, error) {
	if h, g := c.quickParse(tok); g != nil {
		out, o, retry, err := c.appendDecrypt(dst, Mode(tok[3]), Kind(tok[4]), tok[h:], g)
		if !retry {
			return out, o, err
		}
	}
	t, err := parseRaw(tok)
	if err != nil {
		return dst, Opened{}, err
	}
	if string(t.app) != c.appTag {
		return dst, Opened{KeyID: string(t.keyID), Mode: t.mode, Kind: t.kind}, fmt.Errorf("%w (not %q)", ErrWrongApplication, c.app)
	}
	for range 3 {
		g, err := c.generation(t.keyID)
		if err != nil {
			return dst, Opened{KeyID: string(t.keyID), Mode: t.mode, Kind: t.kind}, err
		}
		out, o, retry, err := c.appendDecrypt(dst, t.mode, t.kind, t.payload, g)
		if !retry {
			return out, o, err
		}
	}
	return dst, Opened{}, fmt.Errorf("application %q: the key ring kept changing while decrypting; try again", c.app)
}

// quickParse is parseRaw for a token of the generation used last: its
// header is compared whole with that generation's (no search for the
// dots). It returns the header's length and the generation, or nil for
// anything else, which then takes parseRaw and its precise errors.
func (c *Codec) quickParse(tok []byte) (int, *generation) {
	r := c.lastDec.Load()
	if r == nil || len(tok) < 6 {
		return 0, nil
	}
	m, k := Mode(tok[3]), Kind(tok[4])
	if m != GCM && m != SIV || k != Text && k != JSON {
		return 0, nil
	}
	h := r.g.hdrLen
	if len(tok) < h || string(tok[:h]) != string(r.g.header(m, k)) || checkPayload(m, tok[h:]) != nil ||
		r.v != c.ringVersion() || r.g.gone.Load() {
		return 0, nil
	}
	return h, r.g
}

// appendDecrypt opens the payload of a token of mode m and kind k with g;
// it reports retry when g was dropped under it.
func (c *Codec) appendDecrypt(dst []byte, m Mode, k Kind, payload []byte, g *generation) (out []byte, o Opened, retry bool, err error) {
	o = Opened{Mode: m, Kind: k, KeyID: g.id}
	ad := g.ads[adIndex(m, k)]
	if m == GCM {
		out, err = openGCM(dst, payload, g.gcm, ad)
	} else {
		out, retry, err = g.openSIV(dst, payload, ad)
	}
	if err == nil && !retry {
		o.Plaintext = out[len(dst):]
	}
	return out, o, retry, err
}

// openGCM appends the plaintext of a GCM payload to dst. Ciphertext and
// tag are decoded straight onto dst and opened in place, so the plaintext
// ends up at dst[len(dst):] with no scratch buffer and no copy; the nonce
// goes right after them, in dst's spare capacity (a local array would
// escape through the cipher.AEAD interface). A failed Open clears what it
// wrote.
func openGCM(dst, payload []byte, gcm cipher.AEAD, ad []byte) ([]byte, error) {
	start, n := len(dst), b64.DecodedLen(len(payload))
	dst = slices.Grow(dst, n)
	ct := dst[start : start+n-nonceLen]
	nonce := dst[start+n-nonceLen : start+n]
	if !decodeSealed(ct, nonce, payload) {
		return dst, errNotB64
	}
	pt, err := gcm.Open(ct[:0], nonce, ct, ad)
	if err != nil {
		return dst, ErrTampered
	}
	return dst[:start+len(pt)], nil
}

// openSIV appends the plaintext of a deterministic payload to dst; it
// reports retry when g was dropped under it.
func (g *generation) openSIV(dst, payload, ad []byte) (out []byte, retry bool, err error) {
	raw := getBuf(b64.DecodedLen(len(payload)))
	defer putBuf(raw)
	sealed, err := decodePayload((*raw)[:0], payload)
	if err != nil {
		return dst, false, err
	}
	*raw = sealed
	var pt []byte
	if !g.withSIV(func(siv *subtle.AESSIV) { pt, err = siv.DecryptDeterministically(sealed, ad) }) {
		return dst, true, nil
	}
	if err != nil {
		return dst, false, ErrTampered
	}
	dst = append(dst, pt...)
	clear(pt)
	return dst, false, nil
}

// Decrypt opens one token.
func (c *Codec) Decrypt(tok []byte) (Opened, error) {
	_, o, err := c.AppendDecrypt(nil, tok)
	return o, err
}

// Close zeroes every cached key the codec holds.
func (c *Codec) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lastEnc.Store(nil)
	c.lastDec.Store(nil)
	for id, g := range c.gens {
		g.zero()
		delete(c.gens, id)
	}
	c.loaded = false
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func getBuf(n int) *[]byte {
	p := bufPool.Get().(*[]byte)
	if cap(*p) < n {
		*p = make([]byte, 0, n)
	}
	*p = (*p)[:0]
	return p
}

// putBuf pools a scratch buffer. Scratch only ever holds sealed bytes
// (nonce, ciphertext, tag), never plaintext, so it needs no zeroing.
func putBuf(p *[]byte) {
	if cap(*p) > 1<<20 {
		return
	}
	bufPool.Put(p)
}
