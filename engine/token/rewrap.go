package token

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/keyward/keyward/engine"
)

// RewrapStats counts what Rewrap did.
type RewrapStats struct {
	// Rewrapped tokens were re-encrypted under the newest generation;
	// Current ones were already under it and are returned unchanged.
	Rewrapped, Current int
	// From counts rewrapped tokens by the generation (key id) they were
	// under.
	From map[string]int
	// To is the generation every token is now under.
	To string
}

// RewrapError is a token Rewrap could not open, named by its position in
// the input (never by its content).
type RewrapError struct {
	Index        int // 1-based, among the tokens of the input
	Line, Column int // 1-based; the column counts bytes
	Err          error
}

func (e *RewrapError) Error() string {
	return fmt.Sprintf("token %d (line %d, column %d): %v", e.Index, e.Line, e.Column, e.Err)
}

func (e *RewrapError) Unwrap() error { return e.Err }

// maxRewrapErrors bounds how many positions a failed Rewrap names.
const maxRewrapErrors = 10

// Rewrap appends text to dst with every token of the codec's application
// that is under an older generation re-encrypted under the newest Active
// one, keeping each token's mode (a deterministic token stays
// deterministic) and kind; everything else in text is copied as it is.
// The plaintext never leaves this function. A token it cannot open (another
// application's, an unknown generation, altered) fails the whole call: dst
// is returned as it was, and the error names each position (the first ten).
func (c *Codec) Rewrap(dst, text []byte) ([]byte, RewrapStats, error) {
	st := RewrapStats{From: map[string]int{}}
	active, err := c.ActiveKeyID()
	if err != nil {
		return dst, st, err
	}
	st.To = active
	start := len(dst)
	var errs []error
	failed := 0
	var scratch []byte
	defer func() { clear(scratch[:cap(scratch)]) }()
	line, lineStart, scanned := 1, 0, 0 // position bookkeeping, for errors only
	off, idx := 0, 0
	for {
		i, n := Index(text[off:])
		if i < 0 {
			dst = append(dst, text[off:]...)
			break
		}
		at := off + i
		dst = append(dst, text[off:at]...)
		tok := text[at : at+n]
		off = at + n
		idx++
		var o Opened
		scratch, o, err = c.AppendDecrypt(scratch[:0], tok)
		if err == nil && o.KeyID != active {
			var id string
			dst, id, err = c.AppendEncrypt(dst, o.Plaintext, o.Mode, o.Kind)
			if err == nil {
				st.Rewrapped++
				st.From[o.KeyID]++
				st.To = id
			}
		} else if err == nil {
			dst = append(dst, tok...)
			st.Current++
		}
		clear(scratch)
		if err != nil {
			failed++
			if len(errs) < maxRewrapErrors {
				line += bytes.Count(text[scanned:at], []byte{'\n'})
				if nl := bytes.LastIndexByte(text[:at], '\n'); nl >= 0 {
					lineStart = nl + 1
				}
				scanned = at
				errs = append(errs, &RewrapError{Index: idx, Line: line, Column: at - lineStart + 1, Err: err})
			}
		}
	}
	if failed > 0 {
		clear(dst[start:])
		if failed > len(errs) {
			errs = append(errs, fmt.Errorf("and %d more", failed-len(errs)))
		}
		return dst[:start], st, fmt.Errorf("%d of %s could not be rewrapped, nothing was written: %w", failed, engine.Plural(idx, "token"), errors.Join(errs...))
	}
	return dst, st, nil
}
