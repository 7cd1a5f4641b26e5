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
	return &Codec{app: app, appTag: AppTag(app), keys: keys, gens: map[string]*generation{}}
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
	// ads are the associated data of the four mode/kind headers (see adIndex).
	ads [4][]byte

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
	g := &generation{id: id, gcm: gcm, siv: siv, sivKey: key}
	tag := AppTag(app)
	for _, m := range []Mode{GCM, SIV} {
		for _, k := range []Kind{Text, JSON} {
			g.ads[adIndex(m, k)] = []byte(Prefix + string(rune(m)) + string(rune(k)) + "." + tag + "." + id + "." + app)
		}
	}
	return g, nil
}

// generation returns the cached generation rawID, loading it on a miss.
func (c *Codec) generation(rawID []byte) (*generation, error) {
	v := c.keys.Version(c.app)
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
	g, err := newGeneration(c.app, id, material)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refreshLocked(v)
	if old, ok := c.gens[id]; ok { // another caller won the race
		g.zero()
		return old, nil
	}
	c.gens[id] = g
	return g, nil
}

// active returns the generation that encrypts.
func (c *Codec) active() (*generation, error) {
	v := c.keys.Version(c.app)
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
	g, err := newGeneration(c.app, id, material)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refreshLocked(v)
	if old, ok := c.gens[id]; ok {
		g.zero()
		g = old
	} else {
		c.gens[id] = g
	}
	c.encID = id
	return g, nil
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
	start := len(dst)
	dst = append(dst, Prefix...)
	dst = append(dst, byte(mode), byte(kind), '.')
	dst = append(dst, c.appTag...)
	dst = append(dst, '.')
	dst = append(dst, g.id...)
	dst = append(dst, '.')
	ad := g.ads[adIndex(mode, kind)]
	switch mode {
	case GCM:
		// Seal into a scratch buffer laid out as nonce||ct||tag, then
		// base64 it onto dst.
		n := nonceLen + len(plaintext) + tagLen
		raw := getBuf(n)
		buf := (*raw)[:nonceLen]
		if _, err := rand.Read(buf); err != nil {
			putBuf(raw)
			return dst[:start], "", false, fmt.Errorf("random nonce: %w", err)
		}
		buf = g.gcm.Seal(buf, buf[:nonceLen], plaintext, ad)
		dst = appendB64(dst, buf)
		*raw = buf
		putBuf(raw)
	case SIV:
		var ct []byte
		if !g.withSIV(func(siv *subtle.AESSIV) { ct, err = siv.EncryptDeterministically(plaintext, ad) }) {
			return dst[:start], "", true, nil
		}
		if err != nil {
			return dst[:start], "", false, err
		}
		dst = appendB64(dst, ct)
	default:
		return dst[:start], "", false, fmt.Errorf("token mode %q is not g or s", mode)
	}
	return dst, g.id, false, nil
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
	t, err := parseRaw(tok)
	if err != nil {
		return dst, Opened{}, err
	}
	if string(t.app) != c.appTag {
		return dst, Opened{KeyID: string(t.keyID), Mode: t.mode, Kind: t.kind}, fmt.Errorf("%w (not %q)", ErrWrongApplication, c.app)
	}
	for range 3 {
		out, o, retry, err := c.appendDecrypt(dst, t)
		if !retry {
			return out, o, err
		}
	}
	return dst, Opened{}, fmt.Errorf("application %q: the key ring kept changing while decrypting; try again", c.app)
}

// appendDecrypt reports retry when the generation was dropped under it.
func (c *Codec) appendDecrypt(dst []byte, t rawToken) (out []byte, o Opened, retry bool, err error) {
	o = Opened{Mode: t.mode, Kind: t.kind}
	g, err := c.generation(t.keyID)
	if err != nil {
		o.KeyID = string(t.keyID)
		return dst, o, false, err
	}
	o.KeyID = g.id
	ad := g.ads[adIndex(t.mode, t.kind)]
	start := len(dst)
	switch t.mode {
	case GCM:
		// The nonce is the first 16 characters (12 bytes, whole base64
		// quanta). Ciphertext and tag are decoded straight onto dst and
		// opened in place, so the plaintext ends up at dst[start:] with no
		// scratch buffer and no copy; the nonce goes in dst's spare
		// capacity after them (a local array would escape through the
		// cipher.AEAD interface). A failed Open clears what it wrote.
		if len(t.payload) < b64.EncodedLen(nonceLen+tagLen) {
			return dst, o, false, fmt.Errorf("%w: payload too short", ErrMalformed)
		}
		sealed, err := decodePayload(dst, t.payload[nonceB64Len:])
		if err != nil {
			return dst, o, false, err
		}
		sealed = slices.Grow(sealed, nonceLen)
		nonce := sealed[len(sealed) : len(sealed)+nonceLen]
		if !decodeNonce(nonce, t.payload[:nonceB64Len]) {
			return dst, o, false, errNotB64
		}
		ct := sealed[start:]
		if len(ct) < tagLen {
			return dst, o, false, fmt.Errorf("%w: payload too short", ErrMalformed)
		}
		pt, err := g.gcm.Open(ct[:0], nonce, ct, ad)
		if err != nil {
			return dst, o, false, ErrTampered
		}
		dst = sealed[:start+len(pt)]
	case SIV:
		raw := getBuf(b64.DecodedLen(len(t.payload)))
		defer putBuf(raw)
		sealed, err := decodePayload((*raw)[:0], t.payload)
		if err != nil {
			return dst, o, false, err
		}
		*raw = sealed
		var pt []byte
		if !g.withSIV(func(siv *subtle.AESSIV) { pt, err = siv.DecryptDeterministically(sealed, ad) }) {
			return dst, o, true, nil
		}
		if err != nil {
			return dst, o, false, ErrTampered
		}
		dst = append(dst, pt...)
		clear(pt)
	}
	o.Plaintext = dst[start:]
	return dst, o, false, nil
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
