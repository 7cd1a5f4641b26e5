// Package token is keyward's ciphertext token: a compact, versioned,
// text-safe string that names the application and the key generation that
// made it, sealed with AES-256-GCM (random nonce) or, for fields that must stay
// equality-searchable, deterministic AES-SIV (RFC 5297).
//
// # Format (version 1)
//
//	token   = "kw1" mode kind "." app "." kid "." payload
//	mode    = "g"   AES-256-GCM, random 96-bit nonce (default)
//	        | "s"   AES-SIV (RFC 5297, tink-go), deterministic
//	kind    = "t"   the plaintext is text or bytes (a JSON string, a form
//	                value, a whole body, stdin of keyward encrypt)
//	        | "j"   the plaintext is a JSON value literal (number, boolean,
//	                object, array) restored as such on decryption
//	app     = 8 base64url characters: the first 6 bytes of
//	          SHA-256("keyward/token/v1/app" 0x00 application-name)
//	kid     = 1 to 32 characters of [A-Za-z0-9_-]: the short id the key ring
//	          derives from the generation's fingerprint (opaque here)
//	payload = base64url without padding (RFC 4648 §5) of
//	          mode g: nonce (12 bytes) || ciphertext || GCM tag (16 bytes)
//	          mode s: synthetic IV (16 bytes) || ciphertext
//
// The associated data of both modes is the token header up to and including
// the dot before the payload, followed by the full application name, so a
// token cannot be moved to another application, generation, mode or kind
// without failing authentication. The alphabet ([A-Za-z0-9_.-]) needs no
// escaping in JSON strings, URLs or form values.
//
// Keys: mode g uses the generation's 32-byte material as the AES-256 key;
// mode s uses a 64-byte key derived from it with HKDF-SHA-256 (salt
// "keyward/token/v1", info "aes-siv" 0x00 application-name), so the two modes
// never share a key.
//
// Deterministic trade-off: equal plaintexts of one application and generation
// give equal tokens, which lets the cloud application search and join on the
// field, and also lets anyone who sees the tokens learn which records share a
// value (and count how often each value occurs). Use it only for fields that
// must be searchable, never for low-entropy values whose frequency is telling.
//
// Decryption tells apart, with distinct errors: not a token (ErrMalformed),
// a token of another application (ErrWrongApplication), a generation the
// ring does not hold (ErrUnknownGeneration), and a token that fails
// authentication (ErrTampered).
package token

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"

	asmb64 "github.com/segmentio/asm/base64"
)

// Prefix starts every version-1 token.
const Prefix = "kw1"

// Mode is how a token was sealed.
type Mode byte

const (
	// GCM is AES-256-GCM with a random nonce: equal plaintexts give
	// different tokens.
	GCM Mode = 'g'
	// SIV is deterministic AES-SIV: equal plaintexts give equal tokens.
	SIV Mode = 's'
)

// Kind says how to restore the plaintext.
type Kind byte

const (
	// Text plaintext is bytes or a string.
	Text Kind = 't'
	// JSON plaintext is a JSON value literal (number, bool, object, array).
	JSON Kind = 'j'
)

const (
	appTagLen   = 8 // base64url characters of the application tag
	maxKeyIDLen = 32
	nonceLen    = 12
	tagLen      = 16
	sivLen      = 16
	// nonceB64Len is the text of a GCM nonce: 12 bytes are four whole
	// base64 quanta, so a payload splits there without re-aligning.
	nonceB64Len = nonceLen / 3 * 4
	// headerMax is the longest header: "kw1gt." + 8 + "." + 32 + "."
	headerMax = 6 + appTagLen + 1 + maxKeyIDLen + 1
)

// Sentinel errors callers branch on.
var (
	// ErrMalformed: the text is not a keyward token (or is truncated).
	ErrMalformed = errors.New("not a keyward token")
	// ErrWrongApplication: the token was made for another application.
	ErrWrongApplication = errors.New("token belongs to another application")
	// ErrUnknownGeneration: the key generation named by the token is not in
	// the ring (dropped, or never seen).
	ErrUnknownGeneration = errors.New("token names an unknown key generation")
	// ErrTampered: the token failed authentication: altered, truncated in
	// its payload, or forged.
	ErrTampered = errors.New("token failed authentication (tampered or corrupted)")
	// ErrNoActiveKey: nothing can be encrypted for the application.
	ErrNoActiveKey = errors.New("no active key generation to encrypt with")
)

// b64 is RFC 4648 §5 base64url without padding. segmentio/asm's encoder
// and decoder (AVX2 on amd64, the standard library's algorithm elsewhere)
// produce and accept exactly what encoding/base64.RawURLEncoding does
// (checked by TestBase64MatchesStdlib and FuzzBase64); they are ten times
// faster, which is most of a large token's cost.
var b64 = asmb64.RawURLEncoding

// stdB64 is the reference the fast codec is checked against.
var stdB64 = base64.RawURLEncoding

// Token is a parsed token. Its slices alias the parsed text.
type Token struct {
	Mode  Mode
	Kind  Kind
	App   string // application tag (8 base64url characters)
	KeyID string
	// Header is the text up to and including the dot before the payload.
	Header []byte
	// Payload is the base64url text of the sealed bytes.
	Payload []byte
}

// AppTag returns the 8-character tag that names app in its tokens.
func AppTag(app string) string {
	h := sha256.New()
	h.Write([]byte("keyward/token/v1/app\x00"))
	h.Write([]byte(app))
	var sum [sha256.Size]byte
	return stdB64.EncodeToString(h.Sum(sum[:0])[:6])
}

// ValidKeyID reports whether id can appear in a token.
func ValidKeyID(id string) bool {
	if len(id) == 0 || len(id) > maxKeyIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !isB64(id[i]) {
			return false
		}
	}
	return true
}

var b64Alphabet = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") {
		t[c] = true
	}
	return t
}()

func isB64(c byte) bool { return b64Alphabet[c] }

// Parse splits a token into its parts without decrypting it. It checks the
// structure and the payload's length and alphabet, not its authenticity.
func Parse(s []byte) (Token, error) {
	t, err := parseHeader(s)
	if err != nil {
		return t, err
	}
	for _, c := range t.Payload {
		if !b64Alphabet[c] {
			return Token{}, fmt.Errorf("%w: payload is not base64url", ErrMalformed)
		}
	}
	return t, nil
}

// rawToken is a parsed token whose parts alias the text (no allocation).
type rawToken struct {
	mode                        Mode
	kind                        Kind
	app, keyID, header, payload []byte
}

// parseHeader is Parse without the scan of the payload's alphabet (the
// decoder checks it as it goes).
func parseHeader(s []byte) (Token, error) {
	r, err := parseRaw(s)
	if err != nil {
		return Token{Mode: r.mode, Kind: r.kind}, err
	}
	return Token{Mode: r.mode, Kind: r.kind, App: string(r.app), KeyID: string(r.keyID), Header: r.header, Payload: r.payload}, nil
}

func parseRaw(s []byte) (rawToken, error) {
	var t rawToken
	if len(s) < 6 || string(s[:3]) != Prefix {
		return t, ErrMalformed
	}
	t.mode, t.kind = Mode(s[3]), Kind(s[4])
	if t.mode != GCM && t.mode != SIV {
		return t, fmt.Errorf("%w: unknown mode %q", ErrMalformed, s[3])
	}
	if t.kind != Text && t.kind != JSON {
		return t, fmt.Errorf("%w: unknown kind %q", ErrMalformed, s[4])
	}
	if s[5] != '.' || len(s) < 6+appTagLen+1 {
		return t, ErrMalformed
	}
	app := s[6 : 6+appTagLen]
	for _, c := range app {
		if !isB64(c) {
			return t, ErrMalformed
		}
	}
	if s[6+appTagLen] != '.' {
		return t, ErrMalformed
	}
	rest := s[6+appTagLen+1:]
	dot := -1
	for i := 0; i < len(rest) && i <= maxKeyIDLen; i++ {
		if rest[i] == '.' {
			dot = i
			break
		}
		if !isB64(rest[i]) {
			return t, ErrMalformed
		}
	}
	if dot < 1 {
		return t, fmt.Errorf("%w: missing or oversized key id", ErrMalformed)
	}
	hdrLen := 6 + appTagLen + 1 + dot + 1
	payload := s[hdrLen:]
	if err := checkPayload(t.mode, payload); err != nil {
		return t, err
	}
	t.app = app
	t.keyID = rest[:dot]
	t.header = s[:hdrLen]
	t.payload = payload
	return t, nil
}

var (
	errShortPayload  = fmt.Errorf("%w: payload too short", ErrMalformed)
	errPayloadLength = fmt.Errorf("%w: payload length", ErrMalformed)
)

// checkPayload checks the length of a token's payload of mode m.
func checkPayload(m Mode, payload []byte) error {
	min := nonceLen + tagLen
	if m == SIV {
		min = sivLen
	}
	if b64.EncodedLen(min) > len(payload) {
		return errShortPayload
	}
	if len(payload)%4 == 1 { // impossible length for unpadded base64
		return errPayloadLength
	}
	return nil
}

// Span returns the length of the token that starts at s[0], or 0 when s does
// not start with something shaped like a token. It is how scanners find
// tokens embedded in larger text: a token runs until the first byte outside
// its alphabet.
func Span(s []byte) int {
	if len(s) < 6 || s[0] != 'k' || s[1] != 'w' || s[2] != '1' {
		return 0
	}
	n := 6
	dots := 1
	for n < len(s) {
		c := s[n]
		if c == '.' {
			dots++
			if dots > 3 {
				break
			}
		} else if !isB64(c) {
			break
		}
		n++
	}
	if dots != 3 {
		return 0
	}
	// The loop above checked the alphabet.
	if _, err := parseRaw(s[:n]); err != nil {
		return 0
	}
	return n
}

// Index returns the offset of the first well-formed token in s and its
// length, or -1, 0. A token must not be glued to a preceding alphabet byte.
func Index(s []byte) (int, int) {
	off := 0
	for {
		i := indexKW1(s[off:])
		if i < 0 {
			return -1, 0
		}
		at := off + i
		if at == 0 || !(isB64(s[at-1]) || s[at-1] == '.') {
			if n := Span(s[at:]); n > 0 {
				return at, n
			}
		}
		off = at + 1
	}
}

var kw1 = []byte(Prefix)

func indexKW1(s []byte) int { return bytes.Index(s, kw1) }
