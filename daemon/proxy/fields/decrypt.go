package fields

import (
	"bytes"
	"net/url"
	"strings"

	"github.com/keyward/keyward/engine/token"
)

// Opened counts what a decryption pass did.
type Opened struct {
	// Decrypted is the number of tokens replaced by their plaintext.
	Decrypted int
	// Failed lists, per token left as it was, why it could not be opened.
	Failed []error
}

// DecryptJSON appends doc to dst with every keyward token inside a JSON
// string replaced by its plaintext, wherever it sits. A string that is
// exactly one "j" token becomes the JSON value it holds; text tokens are
// re-escaped as string content. A token that cannot be opened is left as it
// is. The document is scanned lexically (it comes from the upstream and is
// not validated): malformed input is copied through unchanged.
func DecryptJSON(dst, doc []byte, dec Decrypter) ([]byte, Opened) {
	var op Opened
	if bytes.Index(doc, []byte(token.Prefix)) < 0 {
		return append(dst, doc...), op
	}
	var tmp, pt []byte
	last := 0
	for i := 0; i < len(doc); {
		q := bytes.IndexByte(doc[i:], '"')
		if q < 0 {
			break
		}
		start := i + q
		end, ok := stringEnd(doc, start)
		if !ok {
			break
		}
		raw := doc[start+1 : end]
		i = end + 1
		if bytes.Index(raw, []byte(token.Prefix)) < 0 {
			continue
		}
		// Whole-string token: cheapest and the only place a JSON-kind
		// token can turn back into a non-string value.
		if token.Span(raw) == len(raw) {
			var kind token.Kind
			var err error
			pt, kind, err = dec(pt[:0], raw)
			if err != nil {
				op.Failed = append(op.Failed, err)
				continue
			}
			op.Decrypted++
			dst = append(dst, doc[last:start]...)
			if kind == token.JSON && Valid(pt) {
				dst = append(dst, pt...)
			} else {
				dst = append(dst, '"')
				dst = escape(dst, pt)
				dst = append(dst, '"')
			}
			clear(pt)
			last = end + 1
			continue
		}
		// Tokens embedded in text: unescape, replace, re-escape.
		var err error
		tmp, err = unescape(tmp[:0], raw)
		if err != nil {
			continue
		}
		var out []byte
		out, n := replaceTokens(nil, tmp, dec, &op)
		if n == 0 {
			continue
		}
		dst = append(dst, doc[last:start]...)
		dst = append(dst, '"')
		dst = escape(dst, out)
		dst = append(dst, '"')
		clear(out)
		last = end + 1
	}
	clear(tmp)
	return append(dst, doc[last:]...), op
}

// stringEnd returns the index of the quote closing the string at start.
func stringEnd(doc []byte, start int) (int, bool) {
	for j := start + 1; j < len(doc); j++ {
		switch doc[j] {
		case '\\':
			j++
		case '"':
			return j, true
		}
	}
	return 0, false
}

// replaceTokens appends text with every token replaced by its plaintext and
// reports how many it replaced.
func replaceTokens(dst, text []byte, dec Decrypter, op *Opened) ([]byte, int) {
	n := 0
	for {
		i, l := token.Index(text)
		if i < 0 {
			return append(dst, text...), n
		}
		dst = append(dst, text[:i]...)
		var err error
		mark := len(dst)
		dst, _, err = dec(dst, text[i:i+l])
		if err != nil {
			dst = append(dst[:mark], text[i:i+l]...)
			op.Failed = append(op.Failed, err)
		} else {
			op.Decrypted++
			n++
		}
		text = text[i+l:]
	}
}

// DecryptText appends text with every token in it replaced by its plaintext
// (for whole bodies and keyward decrypt of plain text).
func DecryptText(dst, text []byte, dec Decrypter) ([]byte, Opened) {
	var op Opened
	dst, _ = replaceTokens(dst, text, dec, &op)
	return dst, op
}

// FormRules names the protected fields of form bodies (and query strings).
type FormRules map[string]bool // name → deterministic

// EncryptForm appends the form body (application/x-www-form-urlencoded or a
// raw query) with the value of every protected field replaced by its token;
// other pairs are copied byte for byte. It returns the count encrypted.
func (f FormRules) EncryptForm(dst, body []byte, enc Encrypter) ([]byte, int, error) {
	n := 0
	s := string(body)
	first := true
	for s != "" {
		var pair string
		pair, s, _ = strings.Cut(s, "&")
		if !first {
			dst = append(dst, '&')
		}
		first = false
		k, v, hasEq := strings.Cut(pair, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			return dst, 0, &FormError{Field: k, Err: err}
		}
		det, ok := f[name]
		if !ok || !hasEq {
			dst = append(dst, pair...)
			continue
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			return dst, 0, &FormError{Field: name, Err: err}
		}
		dst = append(dst, k...)
		dst = append(dst, '=')
		pt := []byte(val)
		dst, err = enc(dst, pt, det, token.Text)
		clear(pt)
		if err != nil {
			return dst, 0, err
		}
		n++
	}
	return dst, n, nil
}

// FormError is a form body that cannot be parsed.
type FormError struct {
	Field string
	Err   error
}

func (e *FormError) Error() string { return "form field " + e.Field + ": " + e.Err.Error() }
func (e *FormError) Unwrap() error { return e.Err }

// DecryptForm appends the form body with every token inside a value
// replaced by its plaintext (re-escaped); other bytes are copied unchanged.
func DecryptForm(dst, body []byte, dec Decrypter) ([]byte, Opened) {
	var op Opened
	if bytes.Index(body, []byte(token.Prefix)) < 0 {
		return append(dst, body...), op
	}
	s := string(body)
	first := true
	for s != "" {
		var pair string
		pair, s, _ = strings.Cut(s, "&")
		if !first {
			dst = append(dst, '&')
		}
		first = false
		k, v, hasEq := strings.Cut(pair, "=")
		if !hasEq || !strings.Contains(v, token.Prefix) {
			dst = append(dst, pair...)
			continue
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			dst = append(dst, pair...)
			continue
		}
		out, n := replaceTokens(nil, []byte(val), dec, &op)
		dst = append(dst, k...)
		dst = append(dst, '=')
		if n == 0 {
			dst = append(dst, v...)
		} else {
			dst = append(dst, url.QueryEscape(string(out))...)
		}
		clear(out)
	}
	return dst, op
}
