package fields

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/keyward/keyward/engine/token"
)

// MaxDepth bounds the nesting of a JSON document the rewriter accepts.
const MaxDepth = 256

// ErrInvalidJSON wraps every reason a request body is refused as JSON.
var ErrInvalidJSON = errors.New("body is not valid JSON")

// Encrypter seals plaintext into a token appended to dst. kind says whether
// the plaintext is a string's text or a JSON value literal.
type Encrypter func(dst, plaintext []byte, deterministic bool, kind token.Kind) ([]byte, error)

// Decrypter opens the token tok, appending its plaintext to dst.
type Decrypter func(dst, tok []byte) ([]byte, token.Kind, error)

type state struct {
	rule uint16
	pos  uint8
}

// walker rewrites one request document.
type walker struct {
	r     *Rules
	in    []byte
	i     int
	out   []byte
	enc   Encrypter
	n     int
	arena []state
	tmp   []byte
}

func (w *walker) errf(format string, a ...any) error {
	return fmt.Errorf("%w: %s at byte %d", ErrInvalidJSON, fmt.Sprintf(format, a...), w.i)
}

// EncryptJSON appends to dst the document doc with every value at a
// protected path replaced by its token: a string's text becomes a "t" token,
// a number, boolean, object or array becomes a "j" token of its JSON text,
// and null stays null. It returns the new document and the number of fields
// encrypted. On any error (invalid JSON, a failed encryption) the returned
// document must not be used: nothing of it may go upstream.
func (r *Rules) EncryptJSON(dst, doc []byte, enc Encrypter) ([]byte, int, error) {
	w := &walker{r: r, in: doc, out: dst, enc: enc}
	w.ws()
	if err := w.value(r.root(), 0); err != nil {
		return dst, 0, err
	}
	w.ws()
	if w.i != len(w.in) {
		return dst, 0, w.errf("unexpected data after the document")
	}
	return w.out, w.n, nil
}

// root is the state list at the top of a document: every rule at its start.
func (r *Rules) root() []state {
	if r == nil {
		return nil
	}
	root := make([]state, len(r.rules))
	for i := range r.rules {
		root[i] = state{rule: uint16(i)}
	}
	return root
}

// Valid reports whether doc is one valid JSON document (as EncryptJSON sees it).
func Valid(doc []byte) bool {
	_, _, err := (*Rules)(nil).EncryptJSON(nil, doc, nil)
	return err == nil
}

func (w *walker) ws() {
	for w.i < len(w.in) {
		switch w.in[w.i] {
		case ' ', '\t', '\n', '\r':
			w.out = append(w.out, w.in[w.i])
			w.i++
		default:
			return
		}
	}
}

// matched reports whether a state list has a completed rule, and whether
// any completed rule is deterministic.
func (w *walker) matched(states []state) (bool, bool) {
	hit, det := false, false
	for _, s := range states {
		if int(s.pos) == len(w.r.rules[s.rule].Path.steps) {
			hit = true
			det = det || w.r.rules[s.rule].Deterministic
		}
	}
	return hit, det
}

// next is the step a state waits for, nil when its rule is complete.
func (r *Rules) next(s state) *step {
	steps := r.rules[s.rule].Path.steps
	if int(s.pos) >= len(steps) {
		return nil
	}
	return &steps[s.pos]
}

// child returns the states alive in a member (name != nil, first its
// foldFirst) or element.
func (w *walker) child(states []state, name []byte, first byte, index int) []state {
	if len(states) == 0 {
		return nil
	}
	start := len(w.arena)
	for _, s := range states {
		st := w.r.next(s)
		if st == nil {
			continue
		}
		ok := false
		switch st.kind {
		case stepName:
			// Most members differ from a protected name in their first
			// byte: looked at here, in the loop, before any call.
			ok = name != nil && (first == 0 || st.fold == "" || first == st.fold[0]) && st.nameMatches(name, w.r.m)
		case stepAnyMember:
			ok = true
		case stepAnyElem:
			ok = name == nil
		case stepIndex:
			ok = name == nil && st.index == index
		}
		if ok {
			w.arena = append(w.arena, state{rule: s.rule, pos: s.pos + 1})
		}
	}
	return w.arena[start:len(w.arena):len(w.arena)]
}

func (w *walker) value(states []state, depth int) error {
	if depth > MaxDepth {
		return w.errf("nested deeper than %d levels", MaxDepth)
	}
	if w.i >= len(w.in) {
		return w.errf("unexpected end of document")
	}
	if len(states) > 0 {
		if hit, det := w.matched(states); hit {
			return w.protect(det, depth)
		}
	}
	switch c := w.in[w.i]; {
	case c == '{':
		return w.object(states, depth)
	case c == '[':
		return w.array(states, depth)
	case c == '"':
		start := w.i
		if err := w.skipString(); err != nil {
			return err
		}
		w.out = append(w.out, w.in[start:w.i]...)
		return nil
	default:
		start := w.i
		if err := w.scalar(); err != nil {
			return err
		}
		w.out = append(w.out, w.in[start:w.i]...)
		return nil
	}
}

// protect replaces the value at w.i with its token.
func (w *walker) protect(det bool, depth int) error {
	start := w.i
	switch w.in[w.i] {
	case '"':
		if err := w.skipString(); err != nil {
			return err
		}
		var err error
		w.tmp, err = unescape(w.tmp[:0], w.in[start+1:w.i-1])
		if err != nil {
			w.i = start
			return w.errf("%v", err)
		}
		return w.seal(w.tmp, det, token.Text)
	case 'n':
		if err := w.scalar(); err != nil {
			return err
		}
		if string(w.in[start:w.i]) == "null" {
			w.out = append(w.out, "null"...)
			return nil
		}
		return w.seal(w.in[start:w.i], det, token.JSON)
	default:
		// Validate the subtree without emitting it, then seal its text.
		mark := len(w.out)
		if err := w.value(nil, depth); err != nil {
			return err
		}
		w.out = w.out[:mark]
		return w.seal(w.in[start:w.i], det, token.JSON)
	}
}

func (w *walker) seal(pt []byte, det bool, kind token.Kind) error {
	w.out = append(w.out, '"')
	var err error
	w.out, err = w.enc(w.out, pt, det, kind)
	clear(w.tmp)
	if err != nil {
		return err
	}
	w.out = append(w.out, '"')
	w.n++
	return nil
}

func (w *walker) object(states []state, depth int) error {
	w.take('{')
	w.ws()
	if w.take('}') {
		return nil
	}
	for {
		if w.i >= len(w.in) || w.in[w.i] != '"' {
			return w.errf("expected a member name")
		}
		start := w.i
		if err := w.skipString(); err != nil {
			return err
		}
		raw := w.in[start+1 : w.i-1]
		w.out = append(w.out, w.in[start:w.i]...)
		var name []byte
		if len(states) > 0 {
			if bytes.IndexByte(raw, '\\') >= 0 {
				var err error
				if name, err = unescape(nil, raw); err != nil {
					return w.errf("%v", err)
				}
			} else {
				name = raw
			}
		}
		w.ws()
		if !w.take(':') {
			return w.errf("expected ':' after a member name")
		}
		w.ws()
		mark := len(w.arena)
		if err := w.value(w.child(states, nonNil(name), foldFirst(name), 0), depth+1); err != nil {
			return err
		}
		w.arena = w.arena[:mark]
		if w.comma() {
			w.ws()
			continue
		}
		if w.take('}') {
			return nil
		}
		return w.unended('}')
	}
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func (w *walker) array(states []state, depth int) error {
	w.take('[')
	w.ws()
	if w.take(']') {
		return nil
	}
	for idx := 0; ; idx++ {
		mark := len(w.arena)
		if err := w.value(w.child(states, nil, 0, idx), depth+1); err != nil {
			return err
		}
		w.arena = w.arena[:mark]
		if w.comma() {
			w.ws()
			continue
		}
		if w.take(']') {
			return nil
		}
		return w.unended(']')
	}
}

// The loops of object and array share what surrounds a member or an
// element through small methods the compiler inlines (comma, take): a
// call per member that also walked the value, and one per object to open
// it (6a3e26c), cost 2–4 % of the walk.

// comma copies the space after a member or an element and the comma
// that follows it, if one does (the loop copies the space after it).
func (w *walker) comma() bool {
	w.ws()
	return w.take(',')
}

// take copies c and moves past it if it is at w.i.
func (w *walker) take(c byte) bool {
	if w.i < len(w.in) && w.in[w.i] == c {
		w.out = append(w.out, c)
		w.i++
		return true
	}
	return false
}

// unended says why an object or array (close ends it) neither goes on
// nor ends at w.i.
func (w *walker) unended(close byte) error {
	what := "array"
	if close == '}' {
		what = "object"
	}
	if w.i >= len(w.in) {
		return w.errf("unterminated %s", what)
	}
	return w.errf("expected ',' or '%c' in an %s", close, what)
}

// skipString moves past the string starting at w.i, validating escapes,
// control characters and UTF-8. Runs without escapes are found with
// bytes.IndexByte and checked eight bytes at a time.
func (w *walker) skipString() error {
	start := w.i
	w.i++
	for {
		q := bytes.IndexByte(w.in[w.i:], '"')
		if q < 0 {
			w.i = start
			return w.errf("unterminated string")
		}
		seg := w.in[w.i : w.i+q]
		bs := bytes.IndexByte(seg, '\\')
		if bs < 0 {
			if !plainText(seg) {
				w.i = start
				return w.errf("control character or invalid UTF-8 in a string")
			}
			w.i += q + 1
			return nil
		}
		if !plainText(seg[:bs]) {
			w.i = start
			return w.errf("control character or invalid UTF-8 in a string")
		}
		w.i += bs
		if w.i+1 >= len(w.in) {
			return w.errf("unterminated string")
		}
		switch w.in[w.i+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			w.i += 2
		case 'u':
			if w.i+6 > len(w.in) || !isHex4(w.in[w.i+2:w.i+6]) {
				return w.errf("bad \\u escape")
			}
			w.i += 6
		default:
			return w.errf("invalid escape sequence in a string")
		}
	}
}

// plainText reports whether b has no control character and is valid UTF-8.
// ASCII runs are checked 32 bytes at a time (then 8): a byte below 0x20 in
// a word whose bytes are all below 0x80 shows as a high bit of
// (x - 0x20...) &^ x.
func plainText(b []byte) bool {
	const hi, lo = 0x8080808080808080, 0x2020202020202020
	i := 0
	for ; i+32 <= len(b); i += 32 {
		w := (*[32]byte)(b[i : i+32]) // one bounds check for four words
		x0 := binary.LittleEndian.Uint64(w[0:])
		x1 := binary.LittleEndian.Uint64(w[8:])
		x2 := binary.LittleEndian.Uint64(w[16:])
		x3 := binary.LittleEndian.Uint64(w[24:])
		if (x0|x1|x2|x3)&hi != 0 {
			break // non-ASCII: the 8-byte loop finds where
		}
		if ((x0-lo)&^x0|(x1-lo)&^x1|(x2-lo)&^x2|(x3-lo)&^x3)&hi != 0 {
			return false
		}
	}
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		if x&hi != 0 {
			break // non-ASCII: the slow path below
		}
		if (x-lo)&^x&hi != 0 {
			return false
		}
	}
	ascii := true
	for _, c := range b[i:] {
		if c < 0x20 {
			return false
		}
		ascii = ascii && c < 0x80
	}
	return ascii || utf8.Valid(b[i:])
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// scalar moves past a number, true, false or null.
func (w *walker) scalar() error {
	for _, lit := range []string{"true", "false", "null"} {
		if bytes.HasPrefix(w.in[w.i:], []byte(lit)) {
			w.i += len(lit)
			return nil
		}
	}
	start := w.i
	if w.i < len(w.in) && w.in[w.i] == '-' {
		w.i++
	}
	digits := func() int {
		n := 0
		for w.i < len(w.in) && w.in[w.i] >= '0' && w.in[w.i] <= '9' {
			w.i++
			n++
		}
		return n
	}
	if w.i < len(w.in) && w.in[w.i] == '0' {
		w.i++
	} else if digits() == 0 {
		w.i = start
		return w.errf("unexpected character") // never quoted: it may be a protected value's
	}
	if w.i < len(w.in) && w.in[w.i] == '.' {
		w.i++
		if digits() == 0 {
			return w.errf("digit expected after '.'")
		}
	}
	if w.i < len(w.in) && (w.in[w.i] == 'e' || w.in[w.i] == 'E') {
		w.i++
		if w.i < len(w.in) && (w.in[w.i] == '+' || w.in[w.i] == '-') {
			w.i++
		}
		if digits() == 0 {
			return w.errf("digit expected in exponent")
		}
	}
	return nil
}

// unescape appends the text of a JSON string's raw content (without quotes).
func unescape(dst, raw []byte) ([]byte, error) {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			j := bytes.IndexByte(raw[i:], '\\')
			if j < 0 {
				return append(dst, raw[i:]...), nil
			}
			dst = append(dst, raw[i:i+j]...)
			i += j
			continue
		}
		if i+1 >= len(raw) {
			return dst, errors.New("unterminated escape")
		}
		switch raw[i+1] {
		case '"', '\\', '/':
			dst = append(dst, raw[i+1])
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			if i+6 > len(raw) || !isHex4(raw[i+2:i+6]) {
				return dst, errors.New("bad \\u escape")
			}
			r := rune(hex4(raw[i+2 : i+6]))
			i += 6
			if utf16.IsSurrogate(r) {
				if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' && isHex4(raw[i+2:i+6]) {
					if d := utf16.DecodeRune(r, rune(hex4(raw[i+2:i+6]))); d != utf8.RuneError {
						dst = utf8.AppendRune(dst, d)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default:
			return dst, errors.New("invalid escape sequence")
		}
		i += 2
	}
	return dst, nil
}

func hex4(b []byte) int {
	n := 0
	for _, c := range b {
		n <<= 4
		switch {
		case c >= '0' && c <= '9':
			n |= int(c - '0')
		case c >= 'a' && c <= 'f':
			n |= int(c-'a') + 10
		default:
			n |= int(c-'A') + 10
		}
	}
	return n
}

const hexDigits = "0123456789abcdef"

// escape appends s as the content of a JSON string (without quotes).
func escape(dst, s []byte) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	return append(dst, s[start:]...)
}
